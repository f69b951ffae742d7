// Copyright (c) Lightning authors. MIT License.
//
// SnapshotList: the sequence numbers of a database's live snapshots, so that
// flushes and compactions keep every version some snapshot can still see
// (DBImpl::smallest_snapshot()).
//
// Ordering: take() reads the database's last sequence and registers it under
// one lock, and oldest() reads the last sequence under the same lock. So a
// compaction that computed its drop limit before a snapshot was registered
// used a limit at or below the snapshot's sequence: every version it drops is
// hidden by a newer one at or below the limit, which the snapshot sees
// instead. Hence a snapshot is safe from the moment take() returns.
//
// Lifetime: each SnapshotImpl shares ownership of its list, so snapshots may
// outlive the database; their release then only updates the orphaned list.
// Thread-safety: all methods may be called concurrently.
#ifndef LIGHTNING_DB_SNAPSHOT_H_
#define LIGHTNING_DB_SNAPSHOT_H_

#include <atomic>
#include <map>
#include <memory>

#include "db/dbformat.h"
#include "lightning/snapshot.h"
#include "port/mutex.h"

namespace lightning {

class SnapshotList : public std::enable_shared_from_this<SnapshotList> {
 public:
  // last_sequence is the database's published sequence; it must outlive
  // every call of take() and oldest() (not the list itself).
  explicit SnapshotList(const std::atomic<SequenceNumber>* last_sequence) : last_sequence_(last_sequence) {}

  // A snapshot of the current last sequence, registered until released.
  std::shared_ptr<const Snapshot> take();
  // The sequence of the oldest live snapshot, or the last sequence if there
  // is none (or it is older).
  SequenceNumber oldest() const;
  size_t count() const;
  // Whether snapshot was taken from this list (false for a snapshot of
  // another database).
  bool owns(const Snapshot* snapshot) const;

 private:
  friend class SnapshotImpl;
  void release(SequenceNumber sequence);

  const std::atomic<SequenceNumber>* const last_sequence_;
  mutable port::Mutex mu_;
  std::map<SequenceNumber, size_t> live_ GUARDED_BY(mu_);  // sequence -> snapshots at it
};

}  // namespace lightning

#endif  // LIGHTNING_DB_SNAPSHOT_H_
