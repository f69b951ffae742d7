// Copyright (c) Lightning authors. MIT License.
#include "cache/arc_cache.h"

#include <algorithm>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "port/mutex.h"
#include "port/thread_annotations.h"
#include "util/hash.h"

namespace lightning {
namespace {

// One node is a resident entry, a ghost, or a detached (evicted, replaced or
// erased while pinned) entry. Ghosts have no value and no deleter.
//
// Every field except key/hash/value/deleter/charge (immutable once the node
// is published) is guarded by the mutex of the shard owning the node; the
// annotations cannot name another object's mutex, hence no GUARDED_BY here.
struct ArcNode {
  void* value;
  Cache::Deleter deleter;
  ArcNode* next_hash;  // hash-table chain
  ArcNode* prev;       // list links; `next` also chains nodes awaiting free
  ArcNode* next;
  size_t charge;  // accounted charge (>= 1)
  uint64_t hash;
  uint32_t refs;  // outstanding handles
  ArcList where;  // kNone: detached, in neither the table nor any list
  size_t key_length;
  char key_data[1];  // really key_length bytes; the node is over-allocated

  Slice key() const { return Slice(key_data, key_length); }
  bool resident() const { return where == ArcList::kT1 || where == ArcList::kT2; }
  bool ghost() const { return where == ArcList::kB1 || where == ArcList::kB2; }
};

ArcNode* NewNode(const Slice& key, uint64_t hash, void* value, Cache::Deleter deleter, size_t charge) {
  void* mem = ::operator new(offsetof(ArcNode, key_data) + std::max<size_t>(key.size(), 1));
  ArcNode* n = new (mem) ArcNode;
  n->value = value;
  n->deleter = deleter;
  n->next_hash = nullptr;
  n->prev = n->next = nullptr;
  n->charge = charge;
  n->hash = hash;
  n->refs = 0;
  n->where = ArcList::kNone;
  n->key_length = key.size();
  if (!key.empty()) std::memcpy(n->key_data, key.data(), key.size());
  return n;
}

void DestroyNode(ArcNode* n) {
  n->~ArcNode();
  ::operator delete(n);
}

// Runs the deleters of, and frees, a chain of nodes linked through `next`.
// Called with no mutex held.
void FreeChain(ArcNode* chain) {
  while (chain != nullptr) {
    ArcNode* next = chain->next;
    if (chain->deleter != nullptr) chain->deleter(chain->key(), chain->value);
    DestroyNode(chain);
    chain = next;
  }
}

// Chained hash table over nodes, keyed by (hash, key bytes). Lookups compare
// the stored 64-bit hash before the key, so a probe costs no allocation and
// almost never a memcmp of a non-matching key. Buckets use the low hash bits;
// the shard was chosen by the high bits, so the two are independent.
class NodeTable {
 public:
  NodeTable() { resize(16); }
  ~NodeTable() { delete[] buckets_; }
  NodeTable(const NodeTable&) = delete;
  NodeTable& operator=(const NodeTable&) = delete;

  ArcNode* lookup(const Slice& key, uint64_t hash) const { return *find(key, hash); }

  // n's key must not be present.
  void insert(ArcNode* n) {
    ArcNode** slot = find(n->key(), n->hash);
    assert(*slot == nullptr);
    n->next_hash = nullptr;
    *slot = n;
    if (++elems_ > length_) resize(length_ * 2);
  }

  ArcNode* remove(const Slice& key, uint64_t hash) {
    ArcNode** slot = find(key, hash);
    ArcNode* n = *slot;
    if (n != nullptr) {
      *slot = n->next_hash;
      --elems_;
    }
    return n;
  }

  // Puts replacement (same key) where old was.
  void replace(ArcNode* old, ArcNode* replacement) {
    ArcNode** slot = find(old->key(), old->hash);
    assert(*slot == old);
    replacement->next_hash = old->next_hash;
    *slot = replacement;
  }

  size_t size() const { return elems_; }

  template <typename F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < length_; ++i) {
      for (ArcNode* n = buckets_[i]; n != nullptr; n = n->next_hash) f(n);
    }
  }

 private:
  ArcNode** find(const Slice& key, uint64_t hash) const {
    ArcNode** slot = &buckets_[hash & (length_ - 1)];
    while (*slot != nullptr && ((*slot)->hash != hash || (*slot)->key() != key)) slot = &(*slot)->next_hash;
    return slot;
  }

  void resize(size_t new_length) {
    ArcNode** fresh = new ArcNode*[new_length]();
    for (size_t i = 0; i < length_; ++i) {
      ArcNode* n = buckets_[i];
      while (n != nullptr) {
        ArcNode* next = n->next_hash;
        ArcNode** slot = &fresh[n->hash & (new_length - 1)];
        n->next_hash = *slot;
        *slot = n;
        n = next;
      }
    }
    delete[] buckets_;
    buckets_ = fresh;
    length_ = new_length;
  }

  ArcNode** buckets_ = nullptr;
  size_t length_ = 0;  // a power of two
  size_t elems_ = 0;
};

// Circular doubly-linked list with a sentinel; MRU at head.next, LRU at
// head.prev. Tracks the byte sum and count of its nodes.
struct NodeList {
  NodeList() { head.prev = head.next = &head; }
  NodeList(const NodeList&) = delete;
  NodeList& operator=(const NodeList&) = delete;

  bool empty() const { return head.next == &head; }
  ArcNode* lru() { return head.prev; }

  void push_mru(ArcNode* n) {
    n->next = head.next;
    n->prev = &head;
    head.next->prev = n;
    head.next = n;
    bytes += n->charge;
    ++count;
  }
  void unlink(ArcNode* n) {
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    bytes -= n->charge;
    --count;
  }

  ArcNode head{};
  size_t bytes = 0;
  size_t count = 0;
};

// One ARC instance. alignas keeps neighbouring shards' mutexes and counters
// off each other's cache lines.
class alignas(64) ArcShard {
 public:
  ArcShard() = default;
  ArcShard(const ArcShard&) = delete;
  ArcShard& operator=(const ArcShard&) = delete;

  ~ArcShard() {
    // Outstanding handles at destruction are a caller bug (see arc_cache.h).
    assert(detached_ == 0);
    ArcNode* garbage = nullptr;
    for (NodeList* l : {&t1_, &t2_, &b1_, &b2_}) {
      while (!l->empty()) {
        ArcNode* n = l->lru();
        assert(n->refs == 0);
        l->unlink(n);
        n->next = garbage;
        garbage = n;
      }
    }
    FreeChain(garbage);
  }

  // Called once, before the shard is shared.
  void set_capacity(size_t capacity) { capacity_ = capacity; }

  // n is a fresh node carrying one reference (the caller's handle).
  void insert(ArcNode* n) EXCLUDES(mu_) {
    ArcNode* garbage = nullptr;
    {
      port::MutexLock lock(&mu_);
      ++stats_.inserts;
      ArcList target = ArcList::kT1;
      bool b2_hit = false;
      if (ArcNode* old = table_.remove(n->key(), n->hash)) {
        const bool cacheable = admissible(n->charge);
        switch (old->where) {
          case ArcList::kT1:
          case ArcList::kT2:
            target = old->where;
            list(old->where).unlink(old);
            detach(old, &garbage);
            break;
          case ArcList::kB1:
          case ArcList::kB2:
            if (cacheable) {
              adapt(old);
              target = ArcList::kT2;
              b2_hit = old->where == ArcList::kB2;
            }
            list(old->where).unlink(old);
            push(old, &garbage);
            break;
          case ArcList::kNone:
            assert(false);
            break;
        }
      }
      if (!admissible(n->charge)) {
        // Not cached: the handle alone keeps the value alive.
        n->where = ArcList::kNone;
        detached_ += n->charge;
      } else {
        make_room(n->charge, target, b2_hit, &garbage);
        n->where = target;
        list(target).push_mru(n);
        table_.insert(n);
      }
    }
    FreeChain(garbage);
  }

  ArcNode* lookup(const Slice& key, uint64_t hash) EXCLUDES(mu_) {
    port::MutexLock lock(&mu_);
    ArcNode* n = table_.lookup(key, hash);
    if (n == nullptr || !n->resident()) {
      // A ghost is a miss too; the insert() that follows takes the ghost hit.
      ++stats_.misses;
      return nullptr;
    }
    ++stats_.hits;
    list(n->where).unlink(n);
    n->where = ArcList::kT2;
    t2_.push_mru(n);
    ++n->refs;
    return n;
  }

  void release(ArcNode* n) EXCLUDES(mu_) {
    bool last = false;
    {
      port::MutexLock lock(&mu_);
      assert(n->refs > 0);
      if (--n->refs == 0 && n->where == ArcList::kNone) {
        detached_ -= n->charge;
        last = true;
      }
    }
    if (last) {
      n->next = nullptr;
      FreeChain(n);
    }
  }

  void erase(const Slice& key, uint64_t hash) EXCLUDES(mu_) {
    ArcNode* garbage = nullptr;
    {
      port::MutexLock lock(&mu_);
      ArcNode* n = table_.remove(key, hash);
      if (n == nullptr) return;
      list(n->where).unlink(n);
      if (n->resident()) {
        detach(n, &garbage);
      } else {
        push(n, &garbage);
      }
    }
    FreeChain(garbage);
  }

  void prune() EXCLUDES(mu_) {
    ArcNode* garbage = nullptr;
    {
      port::MutexLock lock(&mu_);
      for (NodeList* l : {&t1_, &t2_}) {
        for (ArcNode* n = l->head.next; n != &l->head;) {
          ArcNode* next = n->next;
          if (n->refs == 0) {
            table_.remove(n->key(), n->hash);
            l->unlink(n);
            push(n, &garbage);
          }
          n = next;
        }
      }
      while (!b1_.empty()) drop_lru_ghost(&b1_, &garbage);
      while (!b2_.empty()) drop_lru_ghost(&b2_, &garbage);
    }
    FreeChain(garbage);
  }

  size_t usage() const EXCLUDES(mu_) {
    port::MutexLock lock(&mu_);
    return t1_.bytes + t2_.bytes + detached_;
  }

  CacheStats stats() const EXCLUDES(mu_) {
    port::MutexLock lock(&mu_);
    return stats_;
  }

  ArcList locate(const Slice& key, uint64_t hash) const EXCLUDES(mu_) {
    port::MutexLock lock(&mu_);
    const ArcNode* n = table_.lookup(key, hash);
    return n == nullptr ? ArcList::kNone : n->where;
  }

  ArcCacheDebugInfo debug_info() const EXCLUDES(mu_) {
    port::MutexLock lock(&mu_);
    ArcCacheDebugInfo info;
    info.capacity = capacity_;
    info.p = p_;
    info.t1 = t1_.bytes;
    info.t2 = t2_.bytes;
    info.b1 = b1_.bytes;
    info.b2 = b2_.bytes;
    info.t1_count = t1_.count;
    info.t2_count = t2_.count;
    info.b1_count = b1_.count;
    info.b2_count = b2_.count;
    info.detached = detached_;
    info.usage = t1_.bytes + t2_.bytes + detached_;

    bool ok = true;
    size_t listed = 0;
    const std::pair<const NodeList*, ArcList> lists[] = {
        {&t1_, ArcList::kT1}, {&t2_, ArcList::kT2}, {&b1_, ArcList::kB1}, {&b2_, ArcList::kB2}};
    for (const auto& [l, where] : lists) {
      size_t bytes = 0, count = 0;
      for (const ArcNode* n = l->head.next; n != &l->head; n = n->next) {
        ok = ok && n->where == where && n->next->prev == n && table_.lookup(n->key(), n->hash) == n;
        ok = ok && (n->ghost() ? n->refs == 0 && n->value == nullptr : true);
        bytes += n->charge;
        ++count;
      }
      ok = ok && bytes == l->bytes && count == l->count;
      listed += count;
    }
    size_t tabled = 0;
    table_.for_each([&](const ArcNode* n) {
      ++tabled;
      ok = ok && n->where != ArcList::kNone;
    });
    info.consistent = ok && listed == tabled && tabled == table_.size();
    return info;
  }

 private:
  NodeList& list(ArcList where) REQUIRES(mu_) {
    switch (where) {
      case ArcList::kT1:
        return t1_;
      case ArcList::kT2:
        return t2_;
      case ArcList::kB1:
        return b1_;
      case ArcList::kB2:
        return b2_;
      case ArcList::kNone:
        break;
    }
    assert(false);
    return t1_;
  }

  bool admissible(size_t charge) const { return charge <= capacity_; }

  // The paper's adaptation on a ghost hit, with delta = the ghost's
  // remembered charge (see the header). ghost is still on its list, so the
  // ratio's denominator is never zero.
  void adapt(const ArcNode* ghost) REQUIRES(mu_) {
    const double b1 = static_cast<double>(b1_.bytes);
    const double b2 = static_cast<double>(b2_.bytes);
    const double g = static_cast<double>(ghost->charge);
    const double p = static_cast<double>(p_);
    const double c = static_cast<double>(capacity_);
    if (ghost->where == ArcList::kB1) {
      const double delta = g * std::max(b2 / b1, 1.0);
      p_ = p + delta >= c ? capacity_ : p_ + static_cast<size_t>(delta);
    } else {
      const double delta = g * std::max(b1 / b2, 1.0);
      p_ = p - delta <= 0 ? 0 : p_ - static_cast<size_t>(delta);
    }
  }

  // Restores the bounds in the header for admitting `charge` bytes into
  // `target`: the paper's case IV trimming of the directory followed by
  // REPLACE until the resident set has room.
  void make_room(size_t charge, ArcList target, bool b2_hit, ArcNode** garbage) REQUIRES(mu_) {
    const size_t c = capacity_;
    if (target == ArcList::kT1) {
      // |L1| = |T1| + |B1| <= c. When B1 is empty T1 alone is too big: its
      // LRU goes outright, since remembering it would overflow L1.
      while (t1_.bytes + b1_.bytes + charge > c) {
        if (!b1_.empty()) {
          drop_lru_ghost(&b1_, garbage);
        } else {
          ArcNode* victim = t1_.lru();
          table_.remove(victim->key(), victim->hash);
          t1_.unlink(victim);
          ++stats_.evictions;
          detach(victim, garbage);
        }
      }
    }
    // Whole directory <= 2c. |T1|+|T2| <= c and charge <= c, so dropping
    // ghosts always suffices.
    while (t1_.bytes + t2_.bytes + b1_.bytes + b2_.bytes + charge > 2 * c) {
      if (!b2_.empty()) {
        drop_lru_ghost(&b2_, garbage);
      } else if (!b1_.empty()) {
        drop_lru_ghost(&b1_, garbage);
      } else {
        break;
      }
    }
    while (t1_.bytes + t2_.bytes + detached_ + charge > c && !(t1_.empty() && t2_.empty())) {
      replace(b2_hit, garbage);
    }
  }

  // REPLACE(x, p): demote the LRU of T1 to B1 if T1 exceeds its target (or
  // meets it, on a B2 hit), else the LRU of T2 to B2.
  void replace(bool b2_hit, ArcNode** garbage) REQUIRES(mu_) {
    const bool from_t1 =
        !t1_.empty() && (t1_.bytes > p_ || (b2_hit && t1_.bytes >= p_) || t2_.empty());
    NodeList& from = from_t1 ? t1_ : t2_;
    NodeList& to = from_t1 ? b1_ : b2_;
    ArcNode* victim = from.lru();
    // The ghost is a fresh node: the victim may be pinned, and even if it is
    // not, its deleter runs after the mutex is dropped and needs its key.
    ArcNode* ghost = NewNode(victim->key(), victim->hash, nullptr, nullptr, victim->charge);
    ghost->where = from_t1 ? ArcList::kB1 : ArcList::kB2;
    table_.replace(victim, ghost);
    from.unlink(victim);
    to.push_mru(ghost);
    ++stats_.evictions;
    detach(victim, garbage);
  }

  void drop_lru_ghost(NodeList* l, ArcNode** garbage) REQUIRES(mu_) {
    ArcNode* g = l->lru();
    table_.remove(g->key(), g->hash);
    l->unlink(g);
    push(g, garbage);
  }

  // n has left the table and its list. Frees it now if unpinned, else leaves
  // it for the last release(); its charge stays counted meanwhile.
  void detach(ArcNode* n, ArcNode** garbage) REQUIRES(mu_) {
    n->where = ArcList::kNone;
    if (n->refs == 0) {
      push(n, garbage);
    } else {
      detached_ += n->charge;
    }
  }

  static void push(ArcNode* n, ArcNode** garbage) {
    n->where = ArcList::kNone;
    n->next = *garbage;
    *garbage = n;
  }

  size_t capacity_ = 0;
  mutable port::Mutex mu_;
  size_t p_ GUARDED_BY(mu_) = 0;
  NodeList t1_ GUARDED_BY(mu_);
  NodeList t2_ GUARDED_BY(mu_);
  NodeList b1_ GUARDED_BY(mu_);
  NodeList b2_ GUARDED_BY(mu_);
  size_t detached_ GUARDED_BY(mu_) = 0;
  NodeTable table_ GUARDED_BY(mu_);
  CacheStats stats_ GUARDED_BY(mu_);
};

constexpr size_t kMinAutoShardBytes = 512 * 1024;
constexpr int kMaxAutoShardBits = 6;
constexpr int kMaxShardBits = 16;

class ArcCache final : public Cache {
 public:
  ArcCache(size_t capacity, int num_shard_bits) : capacity_(capacity) {
    if (num_shard_bits < 0) {
      num_shard_bits = 0;
      while (num_shard_bits < kMaxAutoShardBits && (capacity >> (num_shard_bits + 1)) >= kMinAutoShardBytes) {
        ++num_shard_bits;
      }
    }
    shard_bits_ = std::min(num_shard_bits, kMaxShardBits);
    const size_t n = size_t{1} << shard_bits_;
    shards_.reset(new ArcShard[n]);
    for (size_t i = 0; i < n; ++i) shards_[i].set_capacity(capacity / n + (i < capacity % n ? 1 : 0));
  }

  Handle* insert(const Slice& key, void* value, size_t charge, Deleter deleter) override {
    const uint64_t hash = Hash64(key);
    // Allocated before taking the shard mutex, to keep the critical section short.
    ArcNode* n = NewNode(key, hash, value, deleter, std::max<size_t>(charge, 1));
    n->refs = 1;
    shard(hash).insert(n);
    return reinterpret_cast<Handle*>(n);
  }

  Handle* lookup(const Slice& key) override {
    const uint64_t hash = Hash64(key);
    return reinterpret_cast<Handle*>(shard(hash).lookup(key, hash));
  }

  void release(Handle* handle) override {
    ArcNode* n = reinterpret_cast<ArcNode*>(handle);
    shard(n->hash).release(n);
  }

  void* value(Handle* handle) override { return reinterpret_cast<ArcNode*>(handle)->value; }

  void erase(const Slice& key) override {
    const uint64_t hash = Hash64(key);
    shard(hash).erase(key, hash);
  }

  void prune() override {
    for (size_t i = 0; i < num_shards(); ++i) shards_[i].prune();
  }

  uint64_t new_id() override { return last_id_.fetch_add(1, std::memory_order_relaxed) + 1; }

  size_t capacity() const override { return capacity_; }

  size_t total_charge() const override {
    size_t total = 0;
    for (size_t i = 0; i < num_shards(); ++i) total += shards_[i].usage();
    return total;
  }

  CacheStats stats() const override {
    CacheStats total;
    for (size_t i = 0; i < num_shards(); ++i) {
      const CacheStats s = shards_[i].stats();
      total.hits += s.hits;
      total.misses += s.misses;
      total.inserts += s.inserts;
      total.evictions += s.evictions;
    }
    return total;
  }

  std::vector<ArcCacheDebugInfo> debug_info() const {
    std::vector<ArcCacheDebugInfo> out;
    for (size_t i = 0; i < num_shards(); ++i) out.push_back(shards_[i].debug_info());
    return out;
  }

  ArcList locate(const Slice& key) const {
    const uint64_t hash = Hash64(key);
    return shard(hash).locate(key, hash);
  }

 private:
  size_t num_shards() const { return size_t{1} << shard_bits_; }

  // High bits pick the shard; the shard's table uses the low bits.
  ArcShard& shard(uint64_t hash) const { return shards_[shard_bits_ == 0 ? 0 : hash >> (64 - shard_bits_)]; }

  const size_t capacity_;
  int shard_bits_ = 0;
  std::unique_ptr<ArcShard[]> shards_;
  std::atomic<uint64_t> last_id_{0};
};

}  // namespace

std::unique_ptr<Cache> NewArcCache(size_t capacity_bytes, int num_shard_bits) {
  return std::make_unique<ArcCache>(capacity_bytes, num_shard_bits);
}

std::vector<ArcCacheDebugInfo> GetArcCacheDebugInfo(const Cache& cache) {
  const auto* arc = dynamic_cast<const ArcCache*>(&cache);
  return arc == nullptr ? std::vector<ArcCacheDebugInfo>() : arc->debug_info();
}

ArcList ArcCacheLocate(const Cache& cache, const Slice& key) {
  const auto* arc = dynamic_cast<const ArcCache*>(&cache);
  return arc == nullptr ? ArcList::kNone : arc->locate(key);
}

}  // namespace lightning
