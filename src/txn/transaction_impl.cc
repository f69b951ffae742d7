// Copyright (c) Lightning authors. MIT License.
#include "txn/transaction_impl.h"

#include <utility>

#include "db/db_impl.h"
#include "db/scan_options.h"
#include "db/write_batch_internal.h"
#include "lightning/write_batch.h"

namespace lightning {

Transaction::~Transaction() = default;

Result<std::string> Transaction::get(const Slice& key) {
  std::string value;
  Status s = get(key, &value);
  if (!s.ok()) return s;
  return value;
}

Scan Transaction::scan(std::optional<Slice> start, std::optional<Slice> end, size_t limit) {
  return new_scan(RangeScanOptions(start, end, limit, /*reverse=*/false));
}

Scan Transaction::scan_reverse(std::optional<Slice> start, std::optional<Slice> end, size_t limit) {
  return new_scan(RangeScanOptions(start, end, limit, /*reverse=*/true));
}

Scan Transaction::scan_prefix(const Slice& prefix, size_t limit) {
  return new_scan(PrefixScanOptions(prefix, limit));
}

namespace {

Status FinishedError() { return Status::Closed("the transaction is finished (committed or aborted)"); }

}  // namespace

TransactionImpl::TransactionImpl(DBImpl* db, const TransactionOptions& options,
                                 std::shared_ptr<const Snapshot> snapshot)
    : db_(db),
      options_(options),
      ucmp_(db->user_comparator()),
      snapshot_(std::move(snapshot)),
      writes_(WriteSetLess{ucmp_}),
      read_keys_(WriteSetLess{ucmp_}) {}

TransactionImpl::~TransactionImpl() {
  if (!finished_) finish();
}

void TransactionImpl::finish() {
  finished_ = true;
  writes_.clear();
  read_keys_.clear();
  read_ranges_.clear();
  snapshot_.reset();
  db_->transaction_finished();
}

Status TransactionImpl::get(const Slice& key, std::string* value) {
  if (finished_) return FinishedError();
  if (value == nullptr) return Status::InvalidArgument("get: value must not be null");
  auto w = writes_.find(key.ToString());
  if (w != writes_.end()) {
    if (!w->second) return Status::NotFound(Slice());
    *value = *w->second;
    return Status::OK();
  }
  ReadOptions ro;
  ro.snapshot = snapshot_.get();
  Status s = db_->get(key, value, ro);
  if (serializable() && (s.ok() || s.IsNotFound())) read_keys_.insert(key.ToString());
  return s;
}

Status TransactionImpl::put(const Slice& key, const Slice& value) { return write(key, value.ToString()); }

Status TransactionImpl::remove(const Slice& key) { return write(key, std::nullopt); }

Status TransactionImpl::write(const Slice& key, std::optional<std::string> value) {
  if (finished_) return FinishedError();
  if (db_->closed()) return Status::Closed("the database is closed");
  Status s = value ? CheckKeyValue(key, *value) : CheckKey(key);
  if (!s.ok()) return s;
  // The batch at commit holds each key once: its size is bounded by the
  // write set's bytes (plus a few bytes of framing per entry).
  const size_t add = key.size() + (value ? value->size() : 0) + 16;
  auto it = writes_.find(key.ToString());
  const size_t old = it == writes_.end() ? 0 : it->first.size() + (it->second ? it->second->size() : 0) + 16;
  if (write_bytes_ - old + add > kMaxBatchSize) {
    return Status::InvalidArgument("transaction too large: its writes would exceed kMaxBatchSize");
  }
  write_bytes_ = write_bytes_ - old + add;
  if (it == writes_.end()) {
    writes_.emplace(key.ToString(), std::move(value));
  } else {
    it->second = std::move(value);
  }
  return Status::OK();
}

void TransactionImpl::on_range_read(const std::optional<std::string>& lo, const std::optional<std::string>& hi) {
  if (!serializable() || finished_) return;
  // An iterator reports each move; consecutive moves chain (one starts where
  // the last ended), so extend the last range instead of adding one per key.
  if (!read_ranges_.empty()) {
    ReadRange& last = read_ranges_.back();
    if (last.hi && lo && ucmp_->compare(*last.hi, *lo) == 0) {
      last.hi = hi;
      return;
    }
    if (last.lo && hi && ucmp_->compare(*last.lo, *hi) == 0) {
      last.lo = lo;
      return;
    }
  }
  read_ranges_.push_back(ReadRange{lo, hi});
}

std::unique_ptr<Iterator> TransactionImpl::new_iterator() {
  if (finished_) return NewErrorIterator(FinishedError());
  ReadOptions ro;
  ro.snapshot = snapshot_.get();
  return NewWriteSetIterator(ucmp_, db_->new_iterator(ro), &writes_,
                             serializable() ? static_cast<ReadRangeObserver*>(this) : nullptr);
}

Scan TransactionImpl::new_scan(const ScanOptions& scan_options) { return Scan(new_iterator(), ucmp_, scan_options); }

Status TransactionImpl::commit() {
  if (finished_) return FinishedError();
  if (db_->closed()) {
    finish();
    return Status::Closed("the database is closed");
  }
  if (writes_.empty()) {
    // Only reads, all of one snapshot: serializable as of that snapshot.
    finish();
    return Status::OK();
  }
  Status s;
  {
    WriteBatch batch;
    ConflictCheck check;
    check.snapshot = snapshot_->sequence();
    for (const auto& [key, value] : writes_) {
      s = value ? batch.put(key, *value) : batch.remove(key);
      if (!s.ok()) break;
      check.keys.push_back(key);
    }
    if (s.ok() && serializable()) {
      for (const auto& key : read_keys_) {
        if (writes_.count(key) == 0) check.keys.push_back(key);
      }
      check.ranges = std::move(read_ranges_);
    }
    if (s.ok()) s = db_->commit_transaction(batch, check, options_.write_options);
  }
  finish();
  return s;
}

Status TransactionImpl::abort() {
  if (finished_) return FinishedError();
  finish();
  return Status::OK();
}

}  // namespace lightning
