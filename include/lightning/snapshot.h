// Copyright (c) Lightning authors. MIT License.
//
// Snapshot: a fixed point in a database's history. Reads given a snapshot
// (ReadOptions::snapshot) see exactly the writes committed before it was
// taken, however much is written, flushed or compacted afterwards.
//
// Obtain one from Database::snapshot(). It is released when the last
// shared_ptr to it goes away; until then compaction keeps every version of
// every key that the snapshot can see, so a long-lived snapshot holds disk
// space (each overwritten or deleted key keeps its older version). Releasing
// the oldest snapshot lets later compactions drop those versions.
//
// Lifetime: a Snapshot may outlive its Database (it then only refers to
// nothing). Using it in a read of another Database is InvalidArgument.
// Thread-safety: immutable; may be shared by any number of threads.
#ifndef LIGHTNING_SNAPSHOT_H_
#define LIGHTNING_SNAPSHOT_H_

#include <cstdint>

#include "lightning/export.h"

namespace lightning {

class LIGHTNING_EXPORT Snapshot {
 public:
  virtual ~Snapshot();
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  // The sequence number of the last write the snapshot sees (0: none).
  // Sequence numbers grow by one per key written; a write batch of n
  // operations takes n consecutive numbers.
  virtual uint64_t sequence() const = 0;

 protected:
  Snapshot() = default;
};

}  // namespace lightning

#endif  // LIGHTNING_SNAPSHOT_H_
