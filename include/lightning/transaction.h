// Copyright (c) Lightning authors. MIT License.
//
// Transaction: optimistic, multi-version transactions. Obtain one from
// Database::begin_transaction(). It reads the database as of its start (a
// snapshot) with its own writes on top, buffers its writes in memory, and
// at commit() is validated against everything committed since it started:
// if it conflicts, commit() returns Conflict and nothing is applied (retry
// the whole transaction); otherwise its writes are applied atomically, as one
// write batch (one log record: all or nothing, also across a crash).
// Readers never block writers and writers never block readers; nothing is
// locked before commit.
//
// Isolation levels (TransactionOptions::isolation):
//  - kSnapshot: every read sees the snapshot; commit fails if another commit
//    since the snapshot wrote a key this transaction writes (first committer
//    wins). Lost updates and dirty, non-repeatable or phantom reads cannot
//    happen. Write skew can: two transactions that each read what the other
//    writes, and write disjoint keys, may both commit.
//  - kSerializable: additionally, commit fails if another commit since the
//    snapshot wrote a key this transaction read (get, get found or not) or a
//    key inside a range it scanned (iterators and scans record the ranges they
//    covered, so an insert into a scanned range, a phantom, is a conflict).
//    The committed transactions are then equivalent to some serial order:
//    write skew is rejected too. Validation is conservative: a range is
//    recorded from where a scan started to where it stopped, so unrelated
//    writes in between can also cause a Conflict.
// Conflicts are checked against all writes, transactional or not (a plain
// put() after the snapshot of a key the transaction writes is a conflict).
//
// Durability: commit() is as durable as TransactionOptions::write_options
// say (consistency level or sync), like Database::write.
//
// Lifetime: a transaction that is destroyed without commit() or abort() is
// aborted. Once committed or aborted (or after a failed commit) every method
// returns Closed ("the transaction is finished"). It must be destroyed before
// its Database; after the Database is closed its methods return Closed.
// While active it counts against Options::max_active_transactions and holds
// a snapshot (compaction keeps the versions it can see).
// Thread-safety: one thread at a time per Transaction; any number of
// transactions may run concurrently.
#ifndef LIGHTNING_TRANSACTION_H_
#define LIGHTNING_TRANSACTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "lightning/export.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/scan.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

enum class IsolationLevel {
  kSnapshot,
  kSerializable,
};

struct TransactionOptions {
  IsolationLevel isolation = IsolationLevel::kSnapshot;
  // How durable commit() is (WriteOptions::consistency / sync).
  WriteOptions write_options;
};

class LIGHTNING_EXPORT Transaction {
 public:
  virtual ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Reads key: the transaction's own write if it made one, else the value
  // at its snapshot. NotFound if absent (or removed by the transaction).
  virtual Status get(const Slice& key, std::string* value) = 0;
  Result<std::string> get(const Slice& key);

  // Buffers a write; nothing is visible to others before commit().
  // InvalidArgument for an empty or oversized key or an oversized value, or
  // when the transaction's writes would exceed kMaxBatchSize.
  virtual Status put(const Slice& key, const Slice& value) = 0;
  virtual Status remove(const Slice& key) = 0;

  // An iterator over the snapshot with the transaction's writes merged on
  // top (iterator.h). After a put() or remove() by the transaction, re-seek
  // an iterator to see the change. The iterator must be destroyed before the
  // transaction. After the transaction finished: !valid(), status Closed.
  virtual std::unique_ptr<Iterator> new_iterator() = 0;

  // Scans (scan.h) over the same merged view.
  virtual Scan new_scan(const ScanOptions& scan_options) = 0;
  Scan scan(std::optional<Slice> start, std::optional<Slice> end, size_t limit = 0);
  Scan scan_reverse(std::optional<Slice> start, std::optional<Slice> end, size_t limit = 0);
  Scan scan_prefix(const Slice& prefix, size_t limit = 0);

  // Validates and applies the writes atomically. OK: committed (durable as
  // the write options say). Conflict: another commit since the snapshot
  // conflicts (see the isolation levels); nothing was applied. Any other
  // error (IOError, Closed...): nothing was applied. Either way the
  // transaction is finished. A transaction without writes commits without
  // validation: everything it read is one snapshot, a consistent state.
  virtual Status commit() = 0;

  // Discards the writes and finishes the transaction. Closed if it was
  // already finished.
  virtual Status abort() = 0;

  // The sequence number of the snapshot the transaction reads.
  virtual uint64_t snapshot_sequence() const = 0;

 protected:
  Transaction() = default;
};

}  // namespace lightning

#endif  // LIGHTNING_TRANSACTION_H_
