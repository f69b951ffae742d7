// Copyright (c) Lightning authors. MIT License.
//
// VectorIterator: an InternalIterator over a sorted in-memory vector, for
// feeding merges and checking cursors in tests. It can be told to fail (as a
// damaged block would) when it lands on a given entry.
#ifndef LIGHTNING_TESTS_UTIL_VECTOR_ITERATOR_H_
#define LIGHTNING_TESTS_UTIL_VECTOR_ITERATOR_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/options.h"
#include "util/iterator.h"

namespace lightning::test {

struct Entry {
  std::string key;
  std::string value;
};

// A sorted in-memory source. Landing on entry fail_at makes it !valid() with
// Corruption instead, as a block with a bad checksum would; any seek*()
// starts afresh. live, if given, counts the instances alive.
class VectorIterator final : public InternalIterator {
 public:
  static constexpr size_t kNone = SIZE_MAX;

  VectorIterator(const Comparator* cmp, std::vector<Entry> entries, size_t fail_at = kNone, int* live = nullptr)
      : cmp_(cmp), entries_(std::move(entries)), fail_at_(fail_at), live_(live) {
    if (live_ != nullptr) ++*live_;
  }
  ~VectorIterator() override {
    if (live_ != nullptr) --*live_;
  }

  bool valid() const override { return status_.ok() && pos_ < entries_.size(); }
  void seek_to_first() override { land(0); }
  void seek_to_last() override { land(entries_.empty() ? kNone : entries_.size() - 1); }
  void seek(const Slice& target) override { land(lower_bound(target)); }
  void seek_for_prev(const Slice& target) override {
    const size_t ub = upper_bound(target);
    land(ub == 0 ? kNone : ub - 1);
  }
  void next() override {
    ASSERT_TRUE(valid());
    land(pos_ + 1);
  }
  void prev() override {
    ASSERT_TRUE(valid());
    land(pos_ == 0 ? kNone : pos_ - 1);
  }
  Slice key() const override {
    if (!valid()) {
      ADD_FAILURE() << "key() of an invalid iterator";
      return Slice();
    }
    return entries_[pos_].key;
  }
  Slice value() const override {
    if (!valid()) {
      ADD_FAILURE() << "value() of an invalid iterator";
      return Slice();
    }
    return entries_[pos_].value;
  }
  Status status() const override { return status_; }

 private:
  void land(size_t pos) {
    pos_ = pos;
    status_ = pos < entries_.size() && pos == fail_at_
                  ? Status::Corruption("injected damage", "entry " + std::to_string(pos))
                  : Status::OK();
  }
  size_t lower_bound(const Slice& target) const {
    return static_cast<size_t>(
        std::lower_bound(entries_.begin(), entries_.end(), target,
                         [this](const Entry& e, const Slice& t) { return cmp_->compare(e.key, t) < 0; }) -
        entries_.begin());
  }
  size_t upper_bound(const Slice& target) const {
    return static_cast<size_t>(
        std::upper_bound(entries_.begin(), entries_.end(), target,
                         [this](const Slice& t, const Entry& e) { return cmp_->compare(t, e.key) < 0; }) -
        entries_.begin());
  }

  const Comparator* const cmp_;
  const std::vector<Entry> entries_;
  const size_t fail_at_;
  int* const live_;
  size_t pos_ = kNone;
  Status status_;
};

// A B+Tree test configuration: page size, leaf codec, and the Env (POSIX:
// reads through mmap; memory: pread).
struct TreeParam {
  uint32_t page_size;
  CompressionType compression;
  bool posix;
};

// "4k_lz4_posix", for test names.
inline std::string TreeParamName(const testing::TestParamInfo<TreeParam>& info) {
  const char* codec[] = {"none", "zstd", "lz4", "snappy"};
  return std::to_string(info.param.page_size / 1024) + "k_" + codec[static_cast<int>(info.param.compression)] +
         (info.param.posix ? "_posix" : "_mem");
}

// Applies entries keyed by internal key to a user-key model: the newest
// version of each user key wins; a tombstone deletes. False if a key does
// not parse (the model is then unchanged).
inline bool ApplyNewestVersions(const std::vector<Entry>& entries, std::map<std::string, std::string>* model) {
  std::map<std::string, std::pair<SequenceNumber, const Entry*>> newest;
  for (const Entry& e : entries) {
    ParsedInternalKey k;
    if (!ParseInternalKey(e.key, &k)) return false;
    auto& slot = newest[k.user_key.ToString()];
    if (slot.second == nullptr || k.sequence > slot.first) slot = {k.sequence, &e};
  }
  for (const auto& [user, v] : newest) {
    ParsedInternalKey k;
    ParseInternalKey(v.second->key, &k);
    if (k.type == kTypeDeletion) {
      model->erase(user);
    } else {
      (*model)[user] = v.second->value;
    }
  }
  return true;
}

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_VECTOR_ITERATOR_H_
