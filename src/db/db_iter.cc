// Copyright (c) Lightning authors. MIT License.
#include "db/db_iter.h"

#include <cassert>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "btree/btree.h"
#include "db/table_cache.h"
#include "db/version.h"
#include "lightning/comparator.h"
#include "memtable/memtable.h"
#include "util/coding.h"
#include "util/concatenating_iterator.h"
#include "util/iterator.h"
#include "util/merging_iterator.h"
#include "util/no_throw.h"
#include "util/small_bytes.h"

namespace lightning {

Iterator::~Iterator() = default;

namespace {

// A byte buffer that keeps its capacity, so that assigning a key or value
// of about the same size as the last one is a memcpy (no allocation, none of
// std::string's general replace path), and that holds up to kInline bytes
// without any allocation (an iterator made for one seek allocates nothing
// for its keys). A heap buffer more than 1 MiB larger than what it holds is
// released, so one huge value does not pin memory.
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;  // data_ may point into inline_
  Buffer& operator=(const Buffer&) = delete;

  void assign(const Slice& s) {
    copy_with_room(s, s.size());
    size_ = s.size();
  }
  // Sets the buffer to user followed by tag (fixed64): an internal key.
  void assign_internal_key(const Slice& user, uint64_t tag) {
    copy_with_room(user, user.size() + 8);
    EncodeFixed64(data_ + user.size(), tag);
    size_ = user.size() + 8;
  }
  void clear() {
    if (heap_.size() > kKeepLimit) {
      std::string().swap(heap_);
      data_ = inline_;
    }
    size_ = 0;
  }
  Slice slice() const { return Slice(data_, size_); }

 private:
  static constexpr size_t kInline = 64;
  static constexpr size_t kKeepLimit = size_t{1} << 20;

  // Copies src to the start of a storage of at least n bytes and points
  // data_ at it. src may lie in this buffer (slice()): it is read before
  // any storage it could be in is replaced.
  void copy_with_room(const Slice& src, size_t n) {
    if (n <= kInline) {
      MoveSmallBytes(inline_, src.data(), src.size());
      data_ = inline_;
    } else if (heap_.size() < n || heap_.size() > n + kKeepLimit) {
      std::string fresh(n, '\0');
      if (!src.empty()) std::memcpy(&fresh[0], src.data(), src.size());
      heap_.swap(fresh);
      data_ = &heap_[0];
    } else {
      if (!src.empty()) std::memmove(&heap_[0], src.data(), src.size());
      data_ = &heap_[0];
    }
  }

  char inline_[kInline];
  std::string heap_;
  char* data_ = inline_;  // inline_ or heap_'s bytes
  size_t size_ = 0;
};

class DBIter final : public Iterator {
 public:
  DBIter(const Comparator* ucmp, DBIterSources pins, std::unique_ptr<InternalIterator> iter)
      : ucmp_(ucmp),
        bytewise_(ucmp == BytewiseComparator()),
        sequence_(pins.sequence),
        pins_(std::move(pins)),
        iter_(std::move(iter)) {}

  bool valid() const override { return valid_; }

  // Both directions set key_ and value_ when they make the iterator valid:
  // forward they point into iter_'s entry, reverse into the saved copies.
  Slice key() const override {
    assert(valid_);
    return key_;
  }

  Slice value() const override {
    assert(valid_);
    return value_;
  }

  Status status() const override {
    if (!status_.ok()) return status_;
    return iter_->status();
  }

  void seek_to_first() override {
    guarded([&] {
      restart(kForward);
      iter_->seek_to_first();
      find_next_user_entry(false);
    });
  }

  void seek_to_last() override {
    guarded([&] {
      restart(kReverse);
      iter_->seek_to_last();
      find_prev_user_entry();
    });
  }

  void seek(const Slice& target) override {
    guarded([&] {
      restart(kForward);
      // The first entry of target visible at sequence_ (entries of target
      // newer than the snapshot sort before it).
      seek_key_.assign_internal_key(target, PackSequenceAndType(sequence_, kValueTypeForSeek));
      iter_->seek(seek_key_.slice());
      find_next_user_entry(false);
    });
  }

  void seek_for_prev(const Slice& target) override {
    guarded([&] {
      restart(kReverse);
      // Sequence 0 and the lowest type make the largest internal key of
      // target: the internal iterator lands on target's oldest entry (or the
      // last entry of a smaller key), and find_prev_user_entry() walks back
      // over target's versions.
      seek_key_.assign_internal_key(target, PackSequenceAndType(0, kTypeDeletion));
      iter_->seek_for_prev(seek_key_.slice());
      find_prev_user_entry();
    });
  }

  void next() override {
    assert(valid_);
    guarded([&] {
      if (direction_ == kReverse) {
        // iter_ is just before the entries of key() (saved_key_), or
        // exhausted at the front: step into them, and skip them below.
        direction_ = kForward;
        saved_value_.clear();
        if (iter_->valid()) {
          iter_->next();
        } else {
          iter_->seek_to_first();
        }
        find_next_user_entry(true);
      } else {
        // iter_ is at key()'s visible entry: skip the rest of that key.
        saved_key_.assign(key_);
        Slice internal_key, value;
        if (iter_->next_entry(&internal_key, &value)) {
          scan_forward(internal_key, value, true);
        } else {
          invalidate();  // the end, or an error: status() reports iter_'s
        }
      }
    });
  }

  void prev() override {
    assert(valid_);
    guarded([&] {
      if (direction_ == kForward) {
        // iter_ is at key()'s visible entry: move it before every entry of
        // key() (newer, invisible versions included), then use the reverse
        // scan.
        saved_key_.assign(key_);
        Slice internal_key, value;
        for (;;) {
          if (!iter_->prev_entry(&internal_key, &value)) {
            // The front, or an error (status() reports it).
            invalidate();
            return;
          }
          ParsedInternalKey ikey;
          if (!parse(internal_key, &ikey)) return;
          if (user_compare(ikey.user_key, saved_key_.slice()) < 0) break;
        }
        direction_ = kReverse;
      }
      find_prev_user_entry();
    });
  }

 private:
  enum Direction { kForward, kReverse };

  // Runs a positioning step; an exception (out of memory) ends the
  // iteration with an error instead of escaping the public API.
  template <typename Fn>
  void guarded(Fn&& fn) {
    Status s = NoThrow([&] {
      fn();
      return Status::OK();
    });
    if (!s.ok()) fail(s);
  }

  // The user comparator, without the virtual call for the bytewise one.
  int user_compare(const Slice& a, const Slice& b) const {
    return bytewise_ ? CompareSmallBytes(a.data(), a.size(), b.data(), b.size()) : ucmp_->compare(a, b);
  }

  void restart(Direction direction) {
    status_ = Status::OK();
    direction_ = direction;
    valid_ = false;
    saved_key_.clear();
    saved_value_.clear();
    has_pinned_value_ = false;
  }

  void invalidate() {
    valid_ = false;
    saved_key_.clear();
    saved_value_.clear();
    has_pinned_value_ = false;
  }

  void fail(const Status& s) {
    if (status_.ok()) status_ = s;
    invalidate();
  }

  // Parses internal_key (iter_'s current key); a malformed one stops the
  // iteration with Corruption (it must not be shown, and what it hides is
  // unknown).
  bool parse(const Slice& internal_key, ParsedInternalKey* ikey) {
    if (ParseInternalKey(internal_key, ikey)) return true;
    fail(Status::Corruption("database iterator: malformed internal key"));
    return false;
  }

  // Forward: from iter_'s position, finds the first entry visible at
  // sequence_ that is a value, belongs to a key not hidden by a newer
  // tombstone, and (when skipping) has a user key above saved_key_.
  void find_next_user_entry(bool skipping) {
    if (iter_->valid()) {
      scan_forward(iter_->key(), iter_->value(), skipping);
    } else {
      invalidate();  // the end, or an error: status() reports iter_'s
    }
  }

  // find_next_user_entry() from iter_'s current entry, internal_key and
  // value: each further entry is read with one call (next_entry()).
  LIGHTNING_ALWAYS_INLINE void scan_forward(Slice internal_key, Slice value, bool skipping) {
    assert(direction_ == kForward);
    do {
      ParsedInternalKey ikey;
      if (!parse(internal_key, &ikey)) return;
      if (ikey.sequence <= sequence_) {
        if (skipping && user_compare(ikey.user_key, saved_key_.slice()) <= 0) {
          // An older version of a key already shown or deleted.
        } else if (ikey.type == kTypeDeletion) {
          // key's newest visible version: hide it and its older versions.
          saved_key_.assign(ikey.user_key);
          skipping = true;
        } else {
          valid_ = true;
          key_ = ikey.user_key;
          value_ = value;
          return;
        }
      }
    } while (iter_->next_entry(&internal_key, &value));
    // The end, or an error: status() reports iter_'s.
    invalidate();
  }

  // Reverse: walks iter_ backwards from its position, keeping in saved_key_
  // / saved_value_ the newest visible version of the key being passed, until
  // it reaches an older key with that version being a value: iter_ then sits
  // just before the entries of the key found.
  LIGHTNING_ALWAYS_INLINE void find_prev_user_entry() {
    direction_ = kReverse;
    ValueType value_type = kTypeDeletion;  // of the newest visible version of saved_key_
    Slice internal_key, value;
    bool positioned = iter_->valid();
    if (positioned) {
      internal_key = iter_->key();
      value = iter_->value();
    }
    while (positioned) {
      ParsedInternalKey ikey;
      if (!parse(internal_key, &ikey)) return;
      if (ikey.sequence <= sequence_) {
        if (value_type != kTypeDeletion && user_compare(ikey.user_key, saved_key_.slice()) < 0) {
          break;  // saved_key_ is complete: every version of it was passed
        }
        value_type = ikey.type;
        if (value_type == kTypeDeletion) {
          saved_key_.clear();
          saved_value_.clear();
          has_pinned_value_ = false;
        } else {
          saved_key_.assign(ikey.user_key);
          // A value that stays put (in a mapped tree page) is kept by
          // reference: no copy per reverse step.
          if (iter_->value_pinned()) {
            pinned_value_ = value;
            has_pinned_value_ = true;
          } else {
            saved_value_.assign(value);
            has_pinned_value_ = false;
          }
        }
      }
      positioned = iter_->prev_entry(&internal_key, &value);
    }
    if (!iter_->valid() && !iter_->status().ok()) {
      // Stopped by an error: newer versions of saved_key_ may be unseen.
      invalidate();
      return;
    }
    if (value_type == kTypeDeletion) {
      invalidate();  // the front: nothing visible before the start position
      direction_ = kForward;
    } else {
      valid_ = true;
      key_ = saved_key_.slice();
      value_ = has_pinned_value_ ? pinned_value_ : saved_value_.slice();
    }
  }

  const Comparator* const ucmp_;
  const bool bytewise_;  // ucmp_ is BytewiseComparator()
  const SequenceNumber sequence_;
  // Declared before iter_ so that they outlive it: the children read the
  // memtables and the Version's tables and tree.
  const DBIterSources pins_;
  const std::unique_ptr<InternalIterator> iter_;

  Direction direction_ = kForward;
  bool valid_ = false;
  Status status_;       // an error of the DBIter itself (or an exception)
  Slice key_, value_;   // key() and value() while valid_
  Buffer saved_key_;    // reverse: key(); forward: the key being skipped
  Buffer saved_value_;  // reverse: value(), unless pinned_value_ holds it
  // Reverse: value() when the internal iterator pinned it (value_pinned()).
  Slice pinned_value_;
  bool has_pinned_value_ = false;
  Buffer seek_key_;       // the internal key a seek looks for
};

class ErrorIterator final : public Iterator {
 public:
  explicit ErrorIterator(Status s) : status_(std::move(s)) {}
  bool valid() const override { return false; }
  void seek_to_first() override {}
  void seek_to_last() override {}
  void seek(const Slice&) override {}
  void seek_for_prev(const Slice&) override {}
  void next() override { assert(false); }
  void prev() override { assert(false); }
  Slice key() const override { return Slice(); }
  Slice value() const override { return Slice(); }
  Status status() const override { return status_; }

 private:
  const Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewInternalIterator(const InternalKeyComparator* icmp, TableCache* tables,
                                                      const DBIterSources& sources, bool include_tables) {
  // Everything in the tree alone (the state after a full compaction): its
  // iterator is the stream, without building a list of children.
  if (include_tables && !sources.version->tree()->empty() && (sources.mem == nullptr || sources.mem->empty())) {
    bool tree_only = true;
    for (const auto& imm : sources.imms) tree_only = tree_only && imm->empty();
    for (int level = 0; level < kNumLevels; level++) tree_only = tree_only && sources.version->num_files(level) == 0;
    if (tree_only) return btree::NewTreeIterator(sources.version->tree());
  }
  std::vector<std::unique_ptr<InternalIterator>> children;
  // Newest source first (the merging iterator's tie order; internal keys do
  // not repeat across sources, so this only makes the order deterministic).
  //
  // Empty sources are left out: every merged step would pay for them, and
  // with a single source left (e.g. everything compacted into the tree) the
  // DBIter reads it directly, without a merging iterator. An empty memtable
  // has nothing at or below the snapshot: a write is inserted into the
  // memtable before its sequence is published (under the database mutex the
  // snapshot was taken under), so what the memtable receives later has a
  // sequence above sources.sequence and would be skipped anyway. (The write
  // leader's conflict checks see every numbered write in the same way.)
  if (sources.mem != nullptr && !sources.mem->empty()) children.push_back(sources.mem->new_iterator());
  for (const auto& imm : sources.imms) {
    if (!imm->empty()) children.push_back(imm->new_iterator());
  }
  if (include_tables) {
    const Version& version = *sources.version;
    // Each level's opener keeps its own copy of the prefix (the caller may
    // move sources once the children are built).
    auto open_table = [tables, prefix = sources.prefix, skips = sources.prefix_skips](const FileMetaData& f) {
      return prefix.empty() ? tables->new_iterator(f) : tables->new_prefix_iterator(f, prefix, skips);
    };
    for (const auto& f : version.files(0)) children.push_back(open_table(*f));
    for (int level = 1; level < kNumLevels; level++) {
      // Points into the Version, which the caller keeps alive for longer
      // than the children.
      const FileList* files = &version.files(level);
      if (files->empty()) continue;
      std::vector<FileRange> ranges;
      ranges.reserve(files->size());
      for (const auto& f : *files) ranges.push_back(FileRange{f->smallest, f->largest});
      children.push_back(NewConcatenatingIterator(
          icmp, std::move(ranges), [open_table, files](size_t i) { return open_table(*(*files)[i]); }));
    }
    if (!version.tree()->empty()) children.push_back(btree::NewTreeIterator(version.tree()));
  }
  return NewMergingIterator(icmp, std::move(children));
}

std::unique_ptr<Iterator> NewDBIterator(const InternalKeyComparator* icmp, TableCache* tables,
                                        DBIterSources sources) {
  auto merged = NewInternalIterator(icmp, tables, sources, /*include_tables=*/true);
  // Moving sources keeps the Version (and its file lists) at the same address.
  return std::make_unique<DBIter>(icmp->user_comparator(), std::move(sources), std::move(merged));
}

std::unique_ptr<Iterator> NewDBIterator(const Comparator* user_cmp, SequenceNumber sequence,
                                        std::unique_ptr<InternalIterator> internal) {
  DBIterSources none;
  none.sequence = sequence;
  return std::make_unique<DBIter>(user_cmp, std::move(none), std::move(internal));
}

std::unique_ptr<Iterator> NewErrorIterator(Status s) { return std::make_unique<ErrorIterator>(std::move(s)); }

}  // namespace lightning
