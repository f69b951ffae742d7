// Copyright (c) Lightning authors. MIT License.
//
// SkipList<Key, Comparator>: the ordered index under the memtable. Sorted,
// insert-only (entries live until the list is destroyed), nodes in an Arena.
//
// Comparator is a copyable functor: int operator()(const Key& a, const Key& b)
// returning <0, 0, >0. Key must be trivially destructible and cheap to copy
// (the memtable uses const char* into the arena); node destructors never run.
//
// Thread-safety:
//   * insert() needs external synchronisation: one writer at a time.
//   * contains() and Iterator need none: any number of readers may run
//     concurrently with each other and with the writer. A reader sees every
//     key whose insert() finished before the reader's read began (given the
//     usual happens-before from however the reader learned of it), and may or
//     may not see keys inserted concurrently.
// Why that is safe: a node is fully built (key and its own links) before a
// release store links it in; readers follow links with acquire loads, so a
// node reachable through a link is always fully initialised. Nodes are never
// unlinked or freed while the list lives, so a reader never holds a dangling
// node. The list height is a relaxed atomic: a reader that sees a new height
// before the corresponding head links just finds nullptr there and descends.
// Lifetime: the Arena must outlive the list; iterators must not outlive it.
#ifndef LIGHTNING_MEMTABLE_SKIPLIST_H_
#define LIGHTNING_MEMTABLE_SKIPLIST_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>

#include "memtable/arena.h"

namespace lightning {

template <typename Key, class Comparator>
class SkipList {
 private:
  struct Node;

 public:
  static constexpr int kMaxHeight = 12;
  // Each level holds about 1/kBranching of the nodes of the level below.
  static constexpr unsigned kBranching = 4;

  // cmp is copied. arena must outlive the list.
  SkipList(Comparator cmp, Arena* arena);
  SkipList(const SkipList&) = delete;
  SkipList& operator=(const SkipList&) = delete;

  // REQUIRES: external synchronisation with other insert() calls; nothing
  // comparing equal to key is in the list.
  void insert(const Key& key);

  // True if an entry comparing equal to key is in the list.
  bool contains(const Key& key) const;

  // A cursor over the list. Initially invalid. Thread-safety: one thread per
  // Iterator; distinct Iterators may run concurrently with each other and the
  // writer (see above). An Iterator positioned on a node stays valid while
  // keys are inserted around it.
  class Iterator {
   public:
    explicit Iterator(const SkipList* list) : list_(list), node_(nullptr) {}

    bool valid() const { return node_ != nullptr; }
    // REQUIRES: valid()
    const Key& key() const {
      assert(valid());
      return node_->key;
    }
    // REQUIRES: valid()
    void next() {
      assert(valid());
      node_ = node_->next(0);
    }
    // REQUIRES: valid(). No back links exist (they could not be published
    // atomically together with the forward ones), so this searches from the
    // head: O(log n).
    void prev() {
      assert(valid());
      node_ = list_->as_position(list_->find_less_than(node_->key));
    }
    // First entry >= target.
    void seek(const Key& target) { node_ = list_->find_greater_or_equal(target, nullptr); }
    // Last entry <= target.
    void seek_for_prev(const Key& target) { node_ = list_->as_position(list_->find_last_less_or_equal(target)); }
    void seek_to_first() { node_ = list_->head_->next(0); }
    void seek_to_last() { node_ = list_->as_position(list_->find_last()); }

   private:
    const SkipList* list_;
    Node* node_;
  };

 private:
  int max_height() const { return max_height_.load(std::memory_order_relaxed); }
  // Maps the head sentinel (returned by the find_* helpers when no node
  // qualifies) to "no position".
  Node* as_position(Node* n) const { return n == head_ ? nullptr : n; }

  Node* new_node(const Key& key, int height);
  int random_height();
  bool key_is_after_node(const Key& key, const Node* n) const { return n != nullptr && compare_(n->key, key) < 0; }

  // First node >= key, or nullptr. If prev is non-null, fills prev[level]
  // with the last node < key at every level below max_height().
  Node* find_greater_or_equal(const Key& key, Node** prev) const;
  // Last node < key, or head_.
  Node* find_less_than(const Key& key) const;
  // Last node <= key, or head_. Searched directly rather than as seek() then
  // step back, which under a concurrent insert could land past key.
  Node* find_last_less_or_equal(const Key& key) const;
  // Last node, or head_.
  Node* find_last() const;

  const Comparator compare_;
  Arena* const arena_;
  Node* const head_;
  std::atomic<int> max_height_;
  uint64_t rng_state_;  // writer-only: touched by insert() alone
  // Writer-only, like rng_state_: the last inserted node and, per level, the
  // last node at or before it (head_ above every node's height). When the
  // next key falls right after last_ (sequential fills, a sorted batch) this
  // is already that key's predecessor array and insert() skips the search.
  Node* last_ = nullptr;
  Node* splice_[kMaxHeight];
  bool try_splice_ = false;  // the previous key landed right after its predecessor
};

// A node is the key followed in the same allocation by `height` atomic
// links; next(i) is the successor at level i. Keeping the links out of the
// struct avoids the out-of-bounds "flexible array" idiom.
template <typename Key, class Comparator>
struct alignas(Key) alignas(std::atomic<void*>) SkipList<Key, Comparator>::Node {
  explicit Node(const Key& k) : key(k) {}

  Key const key;

  Node* next(int level) { return link(level)->load(std::memory_order_acquire); }
  void set_next(int level, Node* x) { link(level)->store(x, std::memory_order_release); }
  // Only for the writer, and for links of a node not yet published.
  Node* next_relaxed(int level) { return link(level)->load(std::memory_order_relaxed); }
  void set_next_relaxed(int level, Node* x) { link(level)->store(x, std::memory_order_relaxed); }

  std::atomic<Node*>* link(int level) {
    assert(level >= 0);
    return std::launder(reinterpret_cast<std::atomic<Node*>*>(reinterpret_cast<char*>(this) + sizeof(Node))) + level;
  }
};

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::new_node(const Key& key, int height) {
  static_assert(std::is_trivially_destructible_v<Key>, "arena nodes are never destroyed");
  static_assert(alignof(Node) <= Arena::kAlignment, "Key needs more alignment than the arena gives");
  static_assert(sizeof(Node) % alignof(std::atomic<Node*>) == 0, "links would be misaligned");
  char* mem = arena_->allocate_aligned(sizeof(Node) + sizeof(std::atomic<Node*>) * static_cast<size_t>(height));
  Node* n = new (mem) Node(key);
  for (int i = 0; i < height; i++) {
    new (mem + sizeof(Node) + sizeof(std::atomic<Node*>) * static_cast<size_t>(i)) std::atomic<Node*>(nullptr);
  }
  return n;
}

template <typename Key, class Comparator>
SkipList<Key, Comparator>::SkipList(Comparator cmp, Arena* arena)
    : compare_(cmp),
      arena_(arena),
      head_(new_node(Key(), kMaxHeight)),
      max_height_(1),
      rng_state_(0x9E3779B97F4A7C15ull) {
  for (Node*& n : splice_) n = head_;
}

template <typename Key, class Comparator>
int SkipList<Key, Comparator>::random_height() {
  // xorshift64: heights only need to be well spread, not unpredictable, and a
  // fixed seed keeps the structure reproducible for debugging.
  int height = 1;
  while (height < kMaxHeight) {
    rng_state_ ^= rng_state_ << 13;
    rng_state_ ^= rng_state_ >> 7;
    rng_state_ ^= rng_state_ << 17;
    if ((rng_state_ >> 32) % kBranching != 0) break;
    height++;
  }
  return height;
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::find_greater_or_equal(const Key& key,
                                                                                          Node** prev) const {
  Node* x = head_;
  int level = max_height() - 1;
  while (true) {
    Node* next = x->next(level);
    if (key_is_after_node(key, next)) {
      x = next;
    } else {
      if (prev != nullptr) prev[level] = x;
      if (level == 0) return next;
      level--;
    }
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::find_less_than(const Key& key) const {
  Node* x = head_;
  int level = max_height() - 1;
  while (true) {
    Node* next = x->next(level);
    if (next != nullptr && compare_(next->key, key) < 0) {
      x = next;
    } else {
      if (level == 0) return x;
      level--;
    }
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::find_last_less_or_equal(const Key& key) const {
  Node* x = head_;
  int level = max_height() - 1;
  while (true) {
    Node* next = x->next(level);
    if (next != nullptr && compare_(next->key, key) <= 0) {
      x = next;
    } else {
      if (level == 0) return x;
      level--;
    }
  }
}

template <typename Key, class Comparator>
typename SkipList<Key, Comparator>::Node* SkipList<Key, Comparator>::find_last() const {
  Node* x = head_;
  int level = max_height() - 1;
  while (true) {
    Node* next = x->next(level);
    if (next != nullptr) {
      x = next;
    } else {
      if (level == 0) return x;
      level--;
    }
  }
}

template <typename Key, class Comparator>
void SkipList<Key, Comparator>::insert(const Key& key) {
  Node** const prev = splice_;
  Node* x;
  // No node lies between last_ and key at level 0, hence at no level: the
  // last node <= last_ at each level (splice_) is also the last one < key.
  // Tried only while keys keep landing right after the previous one, so
  // random inserts don't pay the two extra comparisons.
  if (try_splice_ && compare_(last_->key, key) < 0 &&
      ((x = last_->next_relaxed(0)) == nullptr || compare_(key, x->key) < 0)) {
    // prev (= splice_) is already right.
  } else {
    x = find_greater_or_equal(key, prev);
    assert(x == nullptr || compare_(x->key, key) != 0);
    try_splice_ = last_ != nullptr && prev[0] == last_;
  }
  (void)x;

  const int height = random_height();
  const int old_height = max_height();
  if (height > old_height) {
    for (int i = old_height; i < height; i++) prev[i] = head_;
    // Relaxed is enough: a reader that sees the new height early reads the
    // head's (still null) links at the new levels and simply descends.
    max_height_.store(height, std::memory_order_relaxed);
  }

  x = new_node(key, height);
  for (int i = 0; i < height; i++) {
    // x is unpublished, so its own links need no ordering; the release store
    // into prev[i] is what publishes x (and, with it, x's links and key).
    x->set_next_relaxed(i, prev[i]->next_relaxed(i));
    prev[i]->set_next(i, x);
    prev[i] = x;  // splice_ for the next insert; levels >= height keep theirs
  }
  last_ = x;
}

template <typename Key, class Comparator>
bool SkipList<Key, Comparator>::contains(const Key& key) const {
  Node* x = find_greater_or_equal(key, nullptr);
  return x != nullptr && compare_(key, x->key) == 0;
}

}  // namespace lightning

#endif  // LIGHTNING_MEMTABLE_SKIPLIST_H_
