// Copyright (c) Lightning authors. MIT License.
#include "txn/write_set_iterator.h"

#include <cassert>
#include <exception>
#include <iterator>
#include <new>
#include <string>
#include <utility>

#include "util/no_throw.h"

namespace lightning {

ReadRangeObserver::~ReadRangeObserver() = default;

namespace {

class WriteSetIterator final : public Iterator {
 public:
  WriteSetIterator(const Comparator* cmp, std::unique_ptr<Iterator> base, const WriteSet* writes,
                   ReadRangeObserver* observer)
      : cmp_(cmp), base_(std::move(base)), writes_(writes), observer_(observer) {}

  bool valid() const override { return valid_; }

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
    return base_->status();
  }

  void seek_to_first() override {
    guarded([&] {
      restart();
      base_->seek_to_first();
      find_next(writes_->begin());
      report(kForward, nullptr);
    });
  }

  void seek_to_last() override {
    guarded([&] {
      restart();
      base_->seek_to_last();
      find_prev(writes_->rbegin());
      report(kReverse, nullptr);
    });
  }

  void seek(const Slice& target) override {
    guarded([&] {
      // Copy target first: it may point into key_ (seek(key())), which the
      // search below overwrites.
      from_.assign(target.data(), target.size());
      restart();
      base_->seek(from_);
      find_next(writes_->lower_bound(from_));
      report(kForward, &from_);
    });
  }

  void seek_for_prev(const Slice& target) override {
    guarded([&] {
      from_.assign(target.data(), target.size());
      restart();
      base_->seek_for_prev(from_);
      // Write-set entries <= target, last first.
      find_prev(std::make_reverse_iterator(writes_->upper_bound(from_)));
      report(kReverse, &from_);
    });
  }

  void next() override {
    assert(valid_);
    if (!valid_) return;  // a caller's bug; do not read a stale position
    guarded([&] {
      // from_ = the current key (the buffers swap so neither reallocates in
      // a steady walk).
      from_.swap(key_);
      if (direction_ == kReverse) {
        // The base is at the last base key <= from_, or before its front
        // (not at an error: that would have made this iterator !valid()).
        // One step puts it at the first key > from_.
        if (base_->valid()) {
          base_->next();
        } else {
          base_->seek_to_first();
        }
      }
      // Forward, the base is at the first key >= from_: step over from_ if it
      // is there (shown, overridden or removed, it has been dealt with). The
      // loop also keeps a reverse switch correct whatever the base did.
      while (base_->valid() && cmp_->compare(base_->key(), from_) <= 0) base_->next();
      // The write set is searched afresh: it may have changed since the last
      // call (see the header).
      find_next(writes_->upper_bound(from_));
      report(kForward, &from_);
    });
  }

  void prev() override {
    assert(valid_);
    if (!valid_) return;
    guarded([&] {
      from_.swap(key_);
      if (direction_ == kForward) {
        // The base is at the first base key >= from_, or at its end: one step
        // back puts it at the last key < from_.
        if (base_->valid()) {
          base_->prev();
        } else {
          base_->seek_to_last();
        }
      }
      while (base_->valid() && cmp_->compare(base_->key(), from_) >= 0) base_->prev();
      // Write-set entries < from_, last first.
      find_prev(std::make_reverse_iterator(writes_->lower_bound(from_)));
      report(kReverse, &from_);
    });
  }

 private:
  enum Direction { kForward, kReverse };

  // Runs a call; an exception (out of memory, or thrown by the observer)
  // ends the iteration with an error instead of escaping the public API.
  template <typename Fn>
  void guarded(Fn&& fn) {
    Status s = NoThrow([&] {
      fn();
      return Status::OK();
    });
    if (!s.ok()) fail(s);
  }

  void restart() {
    status_ = Status::OK();
    valid_ = false;
  }

  void invalidate() {
    valid_ = false;
    value_ = Slice();
  }

  void fail(const Status& s) {
    if (status_.ok()) status_ = s;
    invalidate();
  }

  // Forward merge from the base's position and d (the first write-set entry
  // not yet passed): lands on the smaller of the two heads, the write set
  // winning a tie, and skips removals together with the base key they hide.
  void find_next(WriteSet::const_iterator d) {
    direction_ = kForward;
    for (;;) {
      const bool base_valid = base_->valid();
      if (!base_valid && !base_->status().ok()) {
        // What the base holds from here on is unknown, so even write-set
        // entries before the damage are not shown: the user must not mistake
        // a partial view for a complete one. status() reports the error.
        invalidate();
        return;
      }
      if (d == writes_->end()) {
        if (base_valid) {
          show_base();
        } else {
          invalidate();  // both exhausted
        }
        return;
      }
      const int c = base_valid ? cmp_->compare(d->first, base_->key()) : -1;
      if (c > 0) {
        show_base();
        return;
      }
      if (d->second.has_value()) {
        // A put: on a tie the base stays at the overridden key; the next move
        // steps over it.
        show_write(*d);
        return;
      }
      // A removal: hides the base key it matches (if any) and is not shown.
      if (c == 0) base_->next();
      ++d;
    }
  }

  // The mirror image of find_next(): d walks the write set backwards.
  void find_prev(WriteSet::const_reverse_iterator d) {
    direction_ = kReverse;
    for (;;) {
      const bool base_valid = base_->valid();
      if (!base_valid && !base_->status().ok()) {
        invalidate();
        return;
      }
      if (d == writes_->rend()) {
        if (base_valid) {
          show_base();
        } else {
          invalidate();
        }
        return;
      }
      const int c = base_valid ? cmp_->compare(d->first, base_->key()) : +1;
      if (c < 0) {
        show_base();
        return;
      }
      if (d->second.has_value()) {
        show_write(*d);
        return;
      }
      if (c == 0) base_->prev();
      ++d;
    }
  }

  void show_base() {
    const Slice k = base_->key();
    key_.assign(k.data(), k.size());
    // Points into the base, which moves only when this iterator does.
    value_ = base_->value();
    valid_ = true;
  }

  void show_write(const WriteSet::value_type& entry) {
    key_ = entry.first;
    // A copy: the transaction may overwrite or erase the entry before the
    // next move, and value() must stay valid until then.
    const std::string& v = *entry.second;
    // Do not keep a huge buffer for a small value.
    if (saved_value_.capacity() > v.size() + (1u << 20)) std::string().swap(saved_value_);
    saved_value_ = v;
    value_ = saved_value_;
    valid_ = true;
  }

  // Tells the observer which base interval the move just made depended on:
  // from its start (from, or unbounded when null) to the key it landed on,
  // or to the unbounded end in its direction when it found nothing or
  // stopped on an error (conservative: the user may take either for the
  // end). Called after the position is settled and before the call returns.
  void report(Direction direction, const std::string* from) {
    if (observer_ == nullptr) return;
    std::optional<std::string> start;
    if (from != nullptr) start = *from;
    std::optional<std::string> reached;
    if (valid_) reached = key_;
    if (direction == kForward) {
      observer_->on_range_read(start, reached);
    } else {
      observer_->on_range_read(reached, start);
    }
  }

  const Comparator* const cmp_;
  const std::unique_ptr<Iterator> base_;
  const WriteSet* const writes_;
  ReadRangeObserver* const observer_;

  Direction direction_ = kForward;
  bool valid_ = false;
  Status status_;            // an error of this iterator itself (an exception)
  std::string key_;          // key(): the position
  Slice value_;              // value(): into the base, or saved_value_
  std::string saved_value_;  // value() of a write-set entry
  std::string from_;         // during a move: where it started (seek target or old key)
};

}  // namespace

std::unique_ptr<Iterator> NewWriteSetIterator(const Comparator* cmp, std::unique_ptr<Iterator> base,
                                              const WriteSet* writes, ReadRangeObserver* observer) {
  assert(cmp != nullptr && base != nullptr && writes != nullptr);
  return std::make_unique<WriteSetIterator>(cmp, std::move(base), writes, observer);
}

}  // namespace lightning
