// Copyright (c) Lightning authors. MIT License.
#include "txn/conflict_check.h"

#include <memory>
#include <utility>

#include "lightning/write_batch.h"
#include "util/iterator.h"

namespace lightning {

namespace {

Status ConflictOn(const char* what, const Slice& key) {
  return Status::Conflict(std::string("a write committed after this transaction began changed ") + what + " '" +
                          key.ToString() + "'; retry the transaction");
}

bool InRange(const Comparator* ucmp, const ReadRange& r, const Slice& key) {
  return (!r.lo || ucmp->compare(key, *r.lo) >= 0) && (!r.hi || ucmp->compare(key, *r.hi) <= 0);
}

}  // namespace

Status CheckConflicts(const ConflictCheck& check, const InternalKeyComparator& icmp, TableCache* tables,
                      const DBIterSources& sources) {
  if (check.keys.empty() && check.ranges.empty()) return Status::OK();
  const bool memtables_suffice = sources.memtables_first_sequence <= check.snapshot + 1;
  std::unique_ptr<InternalIterator> it = NewInternalIterator(&icmp, tables, sources, !memtables_suffice);
  const Comparator* ucmp = icmp.user_comparator();
  std::string target;
  // Points: the first entry of a key is its newest version.
  for (const std::string& key : check.keys) {
    target.clear();
    AppendInternalKey(&target, ParsedInternalKey{key, kMaxSequenceNumber, kValueTypeForSeek});
    it->seek(target);
    if (!it->valid()) {
      if (!it->status().ok()) return it->status();
      continue;
    }
    ParsedInternalKey ikey;
    if (!ParseInternalKey(it->key(), &ikey)) return Status::Corruption("conflict check: malformed internal key");
    if (ikey.sequence > check.snapshot && ucmp->compare(ikey.user_key, key) == 0) {
      return ConflictOn("a key this transaction wrote or read", key);
    }
  }
  // Ranges: any entry inside newer than the snapshot. Old versions are
  // walked too; ranges are what a transaction scanned, so the cost is of
  // the order of the scan's.
  for (const ReadRange& r : check.ranges) {
    if (r.lo) {
      target.clear();
      AppendInternalKey(&target, ParsedInternalKey{*r.lo, kMaxSequenceNumber, kValueTypeForSeek});
      it->seek(target);
    } else {
      it->seek_to_first();
    }
    for (; it->valid(); it->next()) {
      ParsedInternalKey ikey;
      if (!ParseInternalKey(it->key(), &ikey)) return Status::Corruption("conflict check: malformed internal key");
      if (r.hi && ucmp->compare(ikey.user_key, *r.hi) > 0) break;
      if (ikey.sequence > check.snapshot) {
        return ConflictOn("a key inside a range this transaction scanned", ikey.user_key);
      }
    }
    if (!it->status().ok()) return it->status();
  }
  return Status::OK();
}

Status GroupConflicts(const ConflictCheck& check, const Comparator* ucmp, const UserKeySet& written) {
  if (written.empty()) return Status::OK();
  for (const std::string& key : check.keys) {
    if (written.count(key) != 0) return ConflictOn("a key this transaction wrote or read", key);
  }
  for (const ReadRange& r : check.ranges) {
    auto it = r.lo ? written.lower_bound(*r.lo) : written.begin();
    if (it != written.end() && InRange(ucmp, r, *it)) {
      return ConflictOn("a key inside a range this transaction scanned", *it);
    }
  }
  return Status::OK();
}

Status AddBatchKeys(const WriteBatch& batch, UserKeySet* written) {
  class Collector final : public WriteBatch::Handler {
   public:
    explicit Collector(UserKeySet* keys) : keys_(keys) {}
    void put(const Slice& key, const Slice&) override { keys_->insert(key.ToString()); }
    void remove(const Slice& key) override { keys_->insert(key.ToString()); }

   private:
    UserKeySet* keys_;
  };
  Collector collector(written);
  return batch.iterate(&collector);
}

}  // namespace lightning
