// Copyright (c) Lightning authors. MIT License.
//
// TransactionImpl: the optimistic transaction of include/lightning/
// transaction.h. It holds a snapshot, buffers its writes in a WriteSet
// (ordered by the user comparator; the last write of a key wins), records
// what it read when serializable, and at commit hands the database one
// WriteBatch plus a ConflictCheck (txn/conflict_check.h) that the write
// leader runs just before numbering the batch.
//
// Read tracking (serializable): get() records its key whether found or not
// (a later insert of a key read as absent is a conflict); iterators and
// scans report the ranges they covered through ReadRangeObserver. Keys the
// transaction itself wrote are read from the write set and need no check
// beyond the write-write one.
//
// Thread-safety: one thread at a time (the public contract).
#ifndef LIGHTNING_TXN_TRANSACTION_IMPL_H_
#define LIGHTNING_TXN_TRANSACTION_IMPL_H_

#include <memory>
#include <string>
#include <vector>

#include "lightning/snapshot.h"
#include "lightning/transaction.h"
#include "txn/conflict_check.h"
#include "txn/write_set_iterator.h"

namespace lightning {

class DBImpl;

class TransactionImpl final : public Transaction, private ReadRangeObserver {
 public:
  // db must outlive the transaction; snapshot is the transaction's.
  TransactionImpl(DBImpl* db, const TransactionOptions& options, std::shared_ptr<const Snapshot> snapshot);
  ~TransactionImpl() override;

  using Transaction::get;
  Status get(const Slice& key, std::string* value) override;
  Status put(const Slice& key, const Slice& value) override;
  Status remove(const Slice& key) override;
  std::unique_ptr<Iterator> new_iterator() override;
  Scan new_scan(const ScanOptions& scan_options) override;
  Status commit() override;
  Status abort() override;
  uint64_t snapshot_sequence() const override { return snapshot_->sequence(); }

 private:
  void on_range_read(const std::optional<std::string>& lo, const std::optional<std::string>& hi) override;
  Status write(const Slice& key, std::optional<std::string> value);
  // Ends the transaction: releases its snapshot and its active slot.
  void finish();
  bool serializable() const { return options_.isolation == IsolationLevel::kSerializable; }

  DBImpl* const db_;
  const TransactionOptions options_;
  const Comparator* const ucmp_;
  std::shared_ptr<const Snapshot> snapshot_;
  WriteSet writes_;
  size_t write_bytes_ = 0;
  UserKeySet read_keys_;                // serializable: keys read with get()
  std::vector<ReadRange> read_ranges_;  // serializable: ranges iterators covered
  bool finished_ = false;
};

}  // namespace lightning

#endif  // LIGHTNING_TXN_TRANSACTION_IMPL_H_
