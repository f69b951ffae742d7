// Copyright (c) Lightning authors. MIT License.
#include "util/merging_iterator.h"

#include <cassert>
#include <cstddef>
#include <utility>

namespace lightning {
namespace {

class MergingIterator final : public InlineEntryIterator<MergingIterator> {
 public:
  MergingIterator(const Comparator* cmp, std::vector<std::unique_ptr<InternalIterator>> children)
      : cmp_(cmp), children_(std::move(children)) {
    heap_.reserve(children_.size());
    keys_.resize(children_.size());
    values_.resize(children_.size());
  }

  // fail() empties the heap, so an error is never valid().
  bool valid() const override { return !heap_.empty(); }
  Slice key() const override {
    assert(valid());
    return keys_[heap_[0]];
  }
  Slice value() const override {
    assert(valid());
    return values_[heap_[0]];
  }
  bool value_pinned() const override {
    assert(valid());
    return children_[heap_[0]]->value_pinned();
  }

  Status status() const override {
    if (!status_.ok()) return status_;
    for (const auto& child : children_) {
      if (!child->status().ok()) return child->status();
    }
    return Status::OK();
  }

  void seek_to_first() override {
    restart(kForward);
    for (size_t i = 0; i < children_.size(); i++) {
      children_[i]->seek_to_first();
      if (!admit(i)) return;
    }
    make_heap();
  }

  void seek_to_last() override {
    restart(kReverse);
    for (size_t i = 0; i < children_.size(); i++) {
      children_[i]->seek_to_last();
      if (!admit(i)) return;
    }
    make_heap();
  }

  void seek(const Slice& target) override {
    restart(kForward);
    for (size_t i = 0; i < children_.size(); i++) {
      children_[i]->seek(target);
      if (!admit(i)) return;
    }
    make_heap();
  }

  void seek_for_prev(const Slice& target) override {
    restart(kReverse);
    for (size_t i = 0; i < children_.size(); i++) {
      children_[i]->seek_for_prev(target);
      if (!admit(i)) return;
    }
    make_heap();
  }

  void next() override {
    assert(valid());
    if (direction_ != kForward) {
      switch_direction(kForward);
      if (!valid()) return;
    }
    step_top([](InternalIterator* it, Slice* key, Slice* value) { return it->next_entry(key, value); });
  }

  void prev() override {
    assert(valid());
    if (direction_ != kReverse) {
      switch_direction(kReverse);
      if (!valid()) return;
    }
    step_top([](InternalIterator* it, Slice* key, Slice* value) { return it->prev_entry(key, value); });
  }

 private:
  friend class InlineEntryIterator<MergingIterator>;  // next_entry()/prev_entry() call entry()
  enum Direction { kForward, kReverse };

  void restart(Direction direction) {
    status_ = Status::OK();
    direction_ = direction;
    heap_.clear();
  }

  bool entry(Slice* key, Slice* value) const {
    if (heap_.empty()) return false;
    *key = keys_[heap_[0]];
    *value = values_[heap_[0]];
    return true;
  }

  void fail(const Status& s) {
    if (status_.ok()) status_ = s;
    heap_.clear();
  }

  // Puts child i, just positioned, into the heap if it is valid. Returns false
  // (after fail()) if it stopped on an error: its remaining entries are
  // unknown, so no merged answer may be given without them.
  bool admit(size_t i) {
    InternalIterator* child = children_[i].get();
    if (child->valid()) {
      keys_[i] = child->key();
      values_[i] = child->value();
      heap_.push_back(i);
      return true;
    }
    if (!child->status().ok()) {
      fail(child->status());
      return false;
    }
    return true;
  }

  // Moves the current child one step in the current direction (step returns
  // whether it is still valid, and its entry) and restores
  // the heap: one sift-down, or dropping the child once it is exhausted.
  template <typename Step>
  void step_top(Step step) {
    const size_t top = heap_[0];
    InternalIterator* child = children_[top].get();
    if (step(child, &keys_[top], &values_[top])) {
      sift_down(0);
    } else if (!child->status().ok()) {
      fail(child->status());
    } else {
      heap_[0] = heap_.back();
      heap_.pop_back();
      if (!heap_.empty()) sift_down(0);
    }
  }

  // Only the current child is positioned relative to key(); every other child
  // sits at its next entry in the old direction, possibly exhausted. Each is
  // moved to the first entry that follows key() in the merged (key, index)
  // order in the new direction, as LevelDB's MergingIterator does.
  void switch_direction(Direction direction) {
    const size_t current = heap_[0];
    // Stays valid: the current child is not moved below.
    const Slice target = children_[current]->key();
    direction_ = direction;
    heap_.clear();
    for (size_t i = 0; i < children_.size(); i++) {
      if (i == current) continue;
      InternalIterator* child = children_[i].get();
      if (direction == kForward) {
        child->seek(target);
        // (target, i) precedes (target, current) when i < current: already
        // yielded going forward.
        if (i < current) {
          while (child->valid() && cmp_->compare(child->key(), target) == 0) child->next();
        }
      } else {
        child->seek_for_prev(target);
        // (target, i) follows (target, current) when i > current.
        if (i > current) {
          while (child->valid() && cmp_->compare(child->key(), target) == 0) child->prev();
        }
      }
      if (!admit(i)) return;
    }
    heap_.push_back(current);
    make_heap();
  }

  // True if child a's entry comes before child b's in the current direction.
  bool before(size_t a, size_t b) const {
    int r = cmp_->compare(keys_[a], keys_[b]);
    if (r == 0) r = a < b ? -1 : 1;
    return direction_ == kForward ? r < 0 : r > 0;
  }

  void sift_down(size_t pos) {
    const size_t n = heap_.size();
    const size_t item = heap_[pos];
    for (;;) {
      size_t child = 2 * pos + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) child++;
      if (!before(heap_[child], item)) break;
      heap_[pos] = heap_[child];
      pos = child;
    }
    heap_[pos] = item;
  }

  void make_heap() {
    for (size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
  }

  const Comparator* const cmp_;
  const std::vector<std::unique_ptr<InternalIterator>> children_;
  // Indexes of the valid children; heap_[0] is the current one. Empty when
  // the merged iterator is not valid.
  std::vector<size_t> heap_;
  // keys_[i] and values_[i]: child i's key() and value() while it is in
  // heap_ (read once per step instead of per comparison).
  std::vector<Slice> keys_;
  std::vector<Slice> values_;
  Direction direction_ = kForward;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewMergingIterator(const Comparator* cmp,
                                                     std::vector<std::unique_ptr<InternalIterator>> children) {
  assert(cmp != nullptr);
  for ([[maybe_unused]] const auto& child : children) assert(child != nullptr);
  if (children.empty()) return NewEmptyIterator();
  if (children.size() == 1) return std::move(children[0]);
  return std::make_unique<MergingIterator>(cmp, std::move(children));
}

}  // namespace lightning
