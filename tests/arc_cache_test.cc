// Copyright (c) Lightning authors. MIT License.
#include "cache/arc_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lightning {
namespace {

// ---------------------------------------------------------------------------
// Deleter bookkeeping. Deleters are plain function pointers, so the record
// is global; each test starts by clearing it.

std::mutex g_deleted_mu;
std::vector<std::pair<std::string, uintptr_t>> g_deleted;

void RecordingDeleter(const Slice& key, void* value) {
  std::lock_guard<std::mutex> lock(g_deleted_mu);
  g_deleted.emplace_back(key.ToString(), reinterpret_cast<uintptr_t>(value));
}

void* V(uintptr_t v) { return reinterpret_cast<void*>(v); }
uintptr_t AsInt(void* v) { return reinterpret_cast<uintptr_t>(v); }

size_t DeletedCount() {
  std::lock_guard<std::mutex> lock(g_deleted_mu);
  return g_deleted.size();
}

size_t TimesDeleted(const std::string& key, uintptr_t value) {
  std::lock_guard<std::mutex> lock(g_deleted_mu);
  return static_cast<size_t>(std::count(g_deleted.begin(), g_deleted.end(), std::make_pair(key, value)));
}

std::string Key(int i) { return "key" + std::to_string(i); }

class ArcCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::lock_guard<std::mutex> lock(g_deleted_mu);
    g_deleted.clear();
  }

  static void Put(Cache* cache, const std::string& key, uintptr_t value, size_t charge = 1) {
    cache->release(cache->insert(key, V(value), charge, &RecordingDeleter));
  }

  // The value, or 0 on a miss (tests never store 0).
  static uintptr_t Get(Cache* cache, const std::string& key) {
    Cache::Handle* h = cache->lookup(key);
    if (h == nullptr) return 0;
    const uintptr_t v = AsInt(cache->value(h));
    cache->release(h);
    return v;
  }

  static ArcCacheDebugInfo Info(const Cache& cache) {
    std::vector<ArcCacheDebugInfo> infos = GetArcCacheDebugInfo(cache);
    EXPECT_EQ(infos.size(), 1u);
    return infos.empty() ? ArcCacheDebugInfo() : infos[0];
  }

  // The bounds documented in arc_cache.h, for every shard.
  static void CheckInvariants(const Cache& cache) {
    for (const ArcCacheDebugInfo& i : GetArcCacheDebugInfo(cache)) {
      ASSERT_TRUE(i.consistent);
      ASSERT_LE(i.t1 + i.t2, i.capacity);
      ASSERT_LE(i.t1 + i.b1, i.capacity);
      ASSERT_LE(i.t1 + i.t2 + i.b1 + i.b2, 2 * i.capacity);
      ASSERT_LE(i.p, i.capacity);
      ASSERT_EQ(i.usage, i.t1 + i.t2 + i.detached);
    }
  }
};

// A strict LRU over unit-or-byte charges, the baseline ARC must beat.
class LruModel {
 public:
  explicit LruModel(size_t capacity) : capacity_(capacity) {}

  bool lookup(const std::string& key) {
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    order_.splice(order_.begin(), order_, it->second);
    return true;
  }

  void insert(const std::string& key, size_t charge = 1) {
    auto it = map_.find(key);
    if (it != map_.end()) {
      usage_ -= it->second->second;
      order_.erase(it->second);
      map_.erase(it);
    }
    if (charge > capacity_) return;
    order_.emplace_front(key, charge);
    map_[key] = order_.begin();
    usage_ += charge;
    while (usage_ > capacity_) {
      usage_ -= order_.back().second;
      map_.erase(order_.back().first);
      order_.pop_back();
    }
  }

 private:
  using Entry = std::pair<std::string, size_t>;
  size_t capacity_;
  size_t usage_ = 0;
  std::list<Entry> order_;
  std::unordered_map<std::string, std::list<Entry>::iterator> map_;
};

// ---------------------------------------------------------------------------
// Interface behaviour.

TEST_F(ArcCacheTest, InsertLookupReleaseErase) {
  auto cache = NewArcCache(100);
  EXPECT_EQ(cache->capacity(), 100u);
  EXPECT_EQ(Get(cache.get(), "a"), 0u);

  Cache::Handle* h = cache->insert("a", V(101), 3, &RecordingDeleter);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(AsInt(cache->value(h)), 101u);
  cache->release(h);
  Put(cache.get(), "b", 102, 4);
  EXPECT_EQ(cache->total_charge(), 7u);

  EXPECT_EQ(Get(cache.get(), "a"), 101u);
  EXPECT_EQ(Get(cache.get(), "b"), 102u);
  EXPECT_EQ(Get(cache.get(), "c"), 0u);

  cache->erase("a");
  EXPECT_EQ(Get(cache.get(), "a"), 0u);
  EXPECT_EQ(TimesDeleted("a", 101), 1u);
  EXPECT_EQ(cache->total_charge(), 4u);
  cache->erase("a");  // absent: a no-op
  cache->erase("zzz");
  EXPECT_EQ(DeletedCount(), 1u);

  const CacheStats s = cache->stats();
  EXPECT_EQ(s.inserts, 2u);
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 3u);
  EXPECT_EQ(s.evictions, 0u);

  // Keys are bytes, not C strings.
  const std::string nul_key("x\0y", 3);
  Put(cache.get(), nul_key, 103);
  EXPECT_EQ(Get(cache.get(), std::string("x\0z", 3)), 0u);
  EXPECT_EQ(Get(cache.get(), nul_key), 103u);
  Put(cache.get(), "", 104);
  EXPECT_EQ(Get(cache.get(), ""), 104u);
}

TEST_F(ArcCacheTest, DeleterRunsExactlyOnce) {
  {
    auto cache = NewArcCache(1000);
    for (int i = 1; i <= 50; ++i) Put(cache.get(), Key(i), static_cast<uintptr_t>(i));
    cache->erase(Key(7));
    Cache::Handle* h = cache->lookup(Key(8));
    ASSERT_NE(h, nullptr);
    cache->erase(Key(8));
    EXPECT_EQ(TimesDeleted(Key(8), 8), 0u);  // still pinned
    cache->release(h);
    EXPECT_EQ(TimesDeleted(Key(8), 8), 1u);
    cache->prune();
    EXPECT_EQ(DeletedCount(), 50u);
    EXPECT_EQ(cache->total_charge(), 0u);
    for (int i = 51; i <= 60; ++i) Put(cache.get(), Key(i), static_cast<uintptr_t>(i));
  }
  // Destruction deletes whatever is left, once.
  ASSERT_EQ(DeletedCount(), 60u);
  for (int i = 1; i <= 60; ++i) EXPECT_EQ(TimesDeleted(Key(i), static_cast<uintptr_t>(i)), 1u) << i;
}

TEST_F(ArcCacheTest, ReplacingAKeyDefersTheOldDeleterUntilUnpinned) {
  auto cache = NewArcCache(100);
  Cache::Handle* old_handle = cache->insert("k", V(1), 10, &RecordingDeleter);
  Cache::Handle* new_handle = cache->insert("k", V(2), 20, &RecordingDeleter);
  EXPECT_EQ(AsInt(cache->value(old_handle)), 1u);
  EXPECT_EQ(AsInt(cache->value(new_handle)), 2u);
  EXPECT_EQ(Get(cache.get(), "k"), 2u);
  EXPECT_EQ(DeletedCount(), 0u);
  EXPECT_EQ(cache->total_charge(), 30u);  // the old value is alive, so counted

  cache->release(old_handle);
  EXPECT_EQ(TimesDeleted("k", 1), 1u);
  EXPECT_EQ(cache->total_charge(), 20u);
  cache->release(new_handle);
  EXPECT_EQ(Get(cache.get(), "k"), 2u);

  // An unpinned old value goes at once.
  Put(cache.get(), "k", 3, 5);
  EXPECT_EQ(TimesDeleted("k", 2), 1u);
  EXPECT_EQ(Get(cache.get(), "k"), 3u);
  EXPECT_EQ(cache->total_charge(), 5u);
  EXPECT_EQ(DeletedCount(), 2u);
}

TEST_F(ArcCacheTest, PinnedEntrySurvivesEvictionUntilReleased) {
  auto cache = NewArcCache(10, 0);
  Cache::Handle* pinned = cache->insert(Key(0), V(1000), 1, &RecordingDeleter);
  for (int i = 1; i <= 100; ++i) Put(cache.get(), Key(i), static_cast<uintptr_t>(i));
  EXPECT_EQ(Get(cache.get(), Key(0)), 0u);  // evicted from the lists...
  EXPECT_EQ(AsInt(cache->value(pinned)), 1000u);  // ...but the value lives
  EXPECT_EQ(TimesDeleted(Key(0), 1000), 0u);
  EXPECT_LE(cache->total_charge(), 10u);  // its charge still counts against capacity
  EXPECT_EQ(Info(*cache).detached, 1u);
  cache->release(pinned);
  EXPECT_EQ(TimesDeleted(Key(0), 1000), 1u);
  EXPECT_EQ(Info(*cache).detached, 0u);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, ZeroCapacityCachesNothing) {
  auto cache = NewArcCache(0);
  Cache::Handle* h = cache->insert("a", V(1), 5, &RecordingDeleter);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(AsInt(cache->value(h)), 1u);
  EXPECT_EQ(cache->total_charge(), 5u);
  EXPECT_EQ(cache->lookup("a"), nullptr);
  EXPECT_EQ(DeletedCount(), 0u);
  cache->release(h);
  EXPECT_EQ(TimesDeleted("a", 1), 1u);
  EXPECT_EQ(cache->total_charge(), 0u);

  Put(cache.get(), "b", 2, 0);  // even a zero charge is not cached
  EXPECT_EQ(Get(cache.get(), "b"), 0u);
  EXPECT_EQ(TimesDeleted("b", 2), 1u);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, EntryLargerThanCapacityIsNotCached) {
  auto cache = NewArcCache(100, 0);
  Put(cache.get(), "small", 1, 10);
  Cache::Handle* h = cache->insert("big", V(2), 101, &RecordingDeleter);
  EXPECT_EQ(AsInt(cache->value(h)), 2u);
  EXPECT_EQ(cache->lookup("big"), nullptr);
  cache->release(h);
  EXPECT_EQ(TimesDeleted("big", 2), 1u);
  EXPECT_EQ(Get(cache.get(), "small"), 1u);  // did not flush the cache
  // Replacing a cached key by an oversized value drops the cached one.
  Put(cache.get(), "small", 3, 1000);
  EXPECT_EQ(Get(cache.get(), "small"), 0u);
  EXPECT_EQ(DeletedCount(), 3u);
}

TEST_F(ArcCacheTest, ChargeAccountingWithPinnedEntries) {
  auto cache = NewArcCache(1000, 2);
  std::mt19937_64 rng(42);
  // Handles held by the test; two handles on one entry share its charge.
  std::map<Cache::Handle*, std::pair<int, size_t>> pinned;
  std::vector<Cache::Handle*> held;
  std::unordered_map<uintptr_t, size_t> charge_of;  // value -> accounted charge
  uintptr_t next_value = 1;
  for (int op = 0; op < 20000; ++op) {
    const std::string key = Key(static_cast<int>(rng() % 300));
    const int kind = static_cast<int>(rng() % 10);
    if (kind < 4) {
      const size_t charge = rng() % 64;
      charge_of[next_value] = std::max<size_t>(charge, 1);  // 0 is accounted as 1
      Cache::Handle* h = cache->insert(key, V(next_value++), charge, &RecordingDeleter);
      auto& p = pinned[h];
      ++p.first;
      p.second = std::max<size_t>(charge, 1);
      held.push_back(h);
    } else if (kind < 7) {
      if (Cache::Handle* h = cache->lookup(key)) {
        auto& p = pinned[h];
        ++p.first;
        p.second = charge_of.at(AsInt(cache->value(h)));
        held.push_back(h);
      }
    } else if (kind < 8) {
      cache->erase(key);
    }
    // Keep ~20 handles outstanding, releasing in random order.
    while (held.size() > 20 || (kind == 9 && !held.empty())) {
      const size_t i = rng() % held.size();
      Cache::Handle* h = held[i];
      held[i] = held.back();
      held.pop_back();
      if (--pinned.at(h).first == 0) pinned.erase(h);
      cache->release(h);
    }
    size_t pinned_charge = 0;
    for (const auto& [h, p] : pinned) pinned_charge += p.second;
    ASSERT_LE(cache->total_charge(), cache->capacity() + pinned_charge) << "op " << op;
    if (op % 64 == 0) CheckInvariants(*cache);
  }
  for (Cache::Handle* h : held) cache->release(h);
  CheckInvariants(*cache);
  EXPECT_LE(cache->total_charge(), cache->capacity());
  cache->prune();
  EXPECT_EQ(cache->total_charge(), 0u);
  EXPECT_EQ(DeletedCount(), next_value - 1);
}

Cache* g_reentrant_cache = nullptr;

// Deleting "a" touches the cache again; this would deadlock if deleters ran
// under a shard mutex.
void ReentrantDeleter(const Slice& key, void* value) {
  RecordingDeleter(key, value);
  if (key == Slice("a")) {
    g_reentrant_cache->erase("b");
    g_reentrant_cache->release(g_reentrant_cache->insert("c", V(3), 1, &RecordingDeleter));
  }
}

TEST_F(ArcCacheTest, DeleterMayCallBackIntoTheCache) {
  auto cache = NewArcCache(100, 0);  // one shard: a, b and c share a mutex
  g_reentrant_cache = cache.get();
  cache->release(cache->insert("a", V(1), 1, &ReentrantDeleter));
  Put(cache.get(), "b", 2);
  cache->erase("a");
  EXPECT_EQ(TimesDeleted("a", 1), 1u);
  EXPECT_EQ(TimesDeleted("b", 2), 1u);
  EXPECT_EQ(Get(cache.get(), "c"), 3u);
  g_reentrant_cache = nullptr;
}

TEST_F(ArcCacheTest, NewIdIsUnique) {
  auto cache = NewArcCache(10);
  const uint64_t a = cache->new_id();
  const uint64_t b = cache->new_id();
  EXPECT_NE(a, b);
  EXPECT_NE(a, 0u);
}

TEST_F(ArcCacheTest, AutomaticSharding) {
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(0)).size(), 1u);
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(1000)).size(), 1u);
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(1 << 20)).size(), 2u);
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(size_t{8} << 20)).size(), 16u);
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(size_t{1} << 30)).size(), 64u);
  EXPECT_EQ(GetArcCacheDebugInfo(*NewArcCache(1000, 3)).size(), 8u);
  size_t sum = 0;
  for (const ArcCacheDebugInfo& i : GetArcCacheDebugInfo(*NewArcCache(1003, 3))) sum += i.capacity;
  EXPECT_EQ(sum, 1003u);
}

// ---------------------------------------------------------------------------
// The algorithm, on one shard with unit charges (where it is the paper's).

TEST_F(ArcCacheTest, SecondHitPromotesFromT1ToT2) {
  auto cache = NewArcCache(4, 0);
  Put(cache.get(), "a", 1);
  EXPECT_EQ(ArcCacheLocate(*cache, "a"), ArcList::kT1);
  EXPECT_EQ(Get(cache.get(), "a"), 1u);
  EXPECT_EQ(ArcCacheLocate(*cache, "a"), ArcList::kT2);
  EXPECT_EQ(Get(cache.get(), "a"), 1u);
  EXPECT_EQ(ArcCacheLocate(*cache, "a"), ArcList::kT2);
  // Re-inserting a resident key keeps its list.
  Put(cache.get(), "b", 2);
  Put(cache.get(), "b", 3);
  EXPECT_EQ(ArcCacheLocate(*cache, "b"), ArcList::kT1);
  Put(cache.get(), "a", 4);
  EXPECT_EQ(ArcCacheLocate(*cache, "a"), ArcList::kT2);
  const ArcCacheDebugInfo i = Info(*cache);
  EXPECT_EQ(i.t1, 1u);
  EXPECT_EQ(i.t2, 1u);
}

// Builds T2 = {1, 2}, then T1 = {4, 5}, B1 = {3}, p = 0 (c = 4).
void BuildGhostInB1(Cache* cache) {
  for (int i : {1, 2}) cache->release(cache->insert(Key(i), V(i), 1, &RecordingDeleter));
  for (int i : {1, 2}) cache->release(cache->lookup(Key(i)));
  for (int i : {3, 4, 5}) cache->release(cache->insert(Key(i), V(i), 1, &RecordingDeleter));
}

TEST_F(ArcCacheTest, B1GhostHitGrowsPAndAdmitsIntoT2) {
  auto cache = NewArcCache(4, 0);
  BuildGhostInB1(cache.get());
  ArcCacheDebugInfo i = Info(*cache);
  EXPECT_EQ(i.p, 0u);
  EXPECT_EQ(i.t1, 2u);
  EXPECT_EQ(i.t2, 2u);
  EXPECT_EQ(i.b1, 1u);
  EXPECT_EQ(i.b2, 0u);
  ASSERT_EQ(ArcCacheLocate(*cache, Key(3)), ArcList::kB1);
  EXPECT_EQ(TimesDeleted(Key(3), 3), 1u);  // a ghost holds no value
  EXPECT_EQ(Get(cache.get(), Key(3)), 0u);  // and a lookup of it misses

  Put(cache.get(), Key(3), 33);
  i = Info(*cache);
  EXPECT_EQ(i.p, 1u);  // + max(|B2|/|B1|, 1) = 1
  EXPECT_EQ(ArcCacheLocate(*cache, Key(3)), ArcList::kT2);
  // REPLACE demoted T1's LRU (key 4), since |T1| = 2 > p = 1.
  EXPECT_EQ(ArcCacheLocate(*cache, Key(4)), ArcList::kB1);
  EXPECT_EQ(i.t1, 1u);
  EXPECT_EQ(i.t2, 3u);
  EXPECT_EQ(i.b1, 1u);
  EXPECT_EQ(Get(cache.get(), Key(3)), 33u);
}

TEST_F(ArcCacheTest, B1GhostHitStepScalesWithGhostRatio) {
  // c = 4: T2 = {1,2,3} then a T1 churn puts 2 keys in B2 and 1 in B1.
  auto cache = NewArcCache(4, 0);
  for (int i : {1, 2, 3}) Put(cache.get(), Key(i), i);
  for (int i : {1, 2, 3}) Get(cache.get(), Key(i));
  // p = 0, T1 empty: a new key with |T1| = 0 makes REPLACE take T2's LRU.
  Put(cache.get(), Key(4), 4);   // fits
  Put(cache.get(), Key(5), 5);   // |T1| = 1 > p: 4 -> B1
  Get(cache.get(), Key(5));      // 5 -> T2 = {1,2,3,5}, T1 empty
  Put(cache.get(), Key(6), 6);   // |T1| = 0: 1 -> B2
  Get(cache.get(), Key(6));      // 6 -> T2 = {2,3,5,6}
  Put(cache.get(), Key(7), 7);   // 2 -> B2
  ArcCacheDebugInfo i = Info(*cache);
  ASSERT_EQ(i.b1, 1u);
  ASSERT_EQ(i.b2, 2u);
  ASSERT_EQ(ArcCacheLocate(*cache, Key(4)), ArcList::kB1);
  Put(cache.get(), Key(4), 44);  // B1 hit: p += 1 * max(2 / 1, 1) = 2
  i = Info(*cache);
  EXPECT_EQ(i.p, 2u);
  EXPECT_EQ(ArcCacheLocate(*cache, Key(4)), ArcList::kT2);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, B2GhostHitShrinksP) {
  auto cache = NewArcCache(4, 0);
  BuildGhostInB1(cache.get());
  Put(cache.get(), Key(3), 33);  // p = 1; T1 = {5}, T2 = {1,2,3}, B1 = {4}
  ASSERT_EQ(Info(*cache).p, 1u);
  Put(cache.get(), Key(6), 6);  // |T1| = 1 = p: REPLACE takes T2's LRU (1) to B2
  ASSERT_EQ(ArcCacheLocate(*cache, Key(1)), ArcList::kB2);
  ArcCacheDebugInfo i = Info(*cache);
  EXPECT_EQ(i.b2, 1u);
  EXPECT_EQ(i.t1, 2u);

  Put(cache.get(), Key(1), 11);  // B2 hit: p -= max(|B1|/|B2|, 1) = 1
  i = Info(*cache);
  EXPECT_EQ(i.p, 0u);
  EXPECT_EQ(ArcCacheLocate(*cache, Key(1)), ArcList::kT2);
  // REPLACE on a B2 hit with |T1| = 2 > p = 0 demoted T1's LRU (5).
  EXPECT_EQ(ArcCacheLocate(*cache, Key(5)), ArcList::kB1);
  EXPECT_EQ(i.b2, 0u);
  EXPECT_EQ(Get(cache.get(), Key(1)), 11u);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, WhenT1FillsL1TheLruOfT1IsDroppedWithoutAGhost) {
  // Case IV.A with B1 empty: |T1| = c, so the LRU page leaves the directory.
  auto cache = NewArcCache(3, 0);
  for (int i = 1; i <= 4; ++i) Put(cache.get(), Key(i), static_cast<uintptr_t>(i));
  EXPECT_EQ(ArcCacheLocate(*cache, Key(1)), ArcList::kNone);
  const ArcCacheDebugInfo i = Info(*cache);
  EXPECT_EQ(i.t1, 3u);
  EXPECT_EQ(i.b1, 0u);
  EXPECT_EQ(cache->stats().evictions, 1u);
}

TEST_F(ArcCacheTest, EraseAndPruneForgetGhosts) {
  auto cache = NewArcCache(4, 0);
  BuildGhostInB1(cache.get());
  cache->erase(Key(3));
  EXPECT_EQ(ArcCacheLocate(*cache, Key(3)), ArcList::kNone);
  Put(cache.get(), Key(3), 33);  // a plain miss now
  EXPECT_EQ(ArcCacheLocate(*cache, Key(3)), ArcList::kT1);
  EXPECT_EQ(Info(*cache).p, 0u);

  Cache::Handle* h = cache->lookup(Key(1));
  cache->prune();
  ArcCacheDebugInfo i = Info(*cache);
  EXPECT_EQ(i.t1 + i.t2, 1u);  // only the pinned entry stays
  EXPECT_EQ(i.b1 + i.b2, 0u);
  EXPECT_EQ(ArcCacheLocate(*cache, Key(1)), ArcList::kT2);
  cache->release(h);
  EXPECT_EQ(Get(cache.get(), Key(1)), 1u);
  CheckInvariants(*cache);
}

void RunRandomTrace(Cache* cache, uint64_t seed, int ops, int keys, size_t max_charge, bool* ok) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (int op = 0; op < ops; ++op) {
    // Skewed keys so that both recency and frequency matter.
    const int k = static_cast<int>(std::pow(uniform(rng), 2.0) * keys);
    const std::string key = Key(k);
    const double r = uniform(rng);
    if (r < 0.85) {
      if (Cache::Handle* h = cache->lookup(key)) {
        cache->release(h);
      } else {
        const size_t charge = 1 + static_cast<size_t>(k) % max_charge;
        cache->release(cache->insert(key, V(static_cast<uintptr_t>(op) + 1), charge, &RecordingDeleter));
      }
    } else if (r < 0.95) {
      cache->release(cache->insert(key, V(static_cast<uintptr_t>(op) + 1), 1 + rng() % max_charge,
                                   &RecordingDeleter));
    } else if (r < 0.999) {
      cache->erase(key);
    } else {
      cache->prune();
    }
    for (const ArcCacheDebugInfo& i : GetArcCacheDebugInfo(*cache)) {
      const bool good = i.consistent && i.t1 + i.t2 <= i.capacity && i.t1 + i.b1 <= i.capacity &&
                        i.t1 + i.t2 + i.b1 + i.b2 <= 2 * i.capacity && i.p <= i.capacity && i.detached == 0;
      if (!good) {
        ADD_FAILURE() << "op " << op << ": T1=" << i.t1 << " T2=" << i.t2 << " B1=" << i.b1 << " B2=" << i.b2
                      << " p=" << i.p << " c=" << i.capacity << " consistent=" << i.consistent;
        *ok = false;
        return;
      }
    }
  }
  *ok = true;
}

TEST_F(ArcCacheTest, ListInvariantsHoldThroughoutARandomTrace) {
  auto cache = NewArcCache(64, 0);
  bool ok = false;
  RunRandomTrace(cache.get(), 7, 30000, 256, 1, &ok);
  EXPECT_TRUE(ok);
  const ArcCacheDebugInfo i = Info(*cache);
  EXPECT_GT(i.b1 + i.b2, 0u);  // the trace did exercise the ghosts
  const CacheStats s = cache->stats();
  EXPECT_GT(s.hits, 0u);
  EXPECT_GT(s.evictions, 0u);
}

TEST_F(ArcCacheTest, ListInvariantsHoldWithVariableCharges) {
  auto cache = NewArcCache(500, 0);
  bool ok = false;
  RunRandomTrace(cache.get(), 11, 30000, 400, 17, &ok);
  EXPECT_TRUE(ok);
}

TEST_F(ArcCacheTest, ListInvariantsHoldOnEveryShard) {
  auto cache = NewArcCache(1000, 3);
  bool ok = false;
  RunRandomTrace(cache.get(), 13, 20000, 2000, 9, &ok);
  EXPECT_TRUE(ok);
}

// ---------------------------------------------------------------------------
// Policy: scan resistance and hit rate against strict LRU.

struct ScanResult {
  size_t arc_hot_hits = 0;
  size_t lru_hot_hits = 0;
};

// Hot set of hot_keys entries touched three times each, then a one-pass scan
// of scan_keys distinct keys (miss, then insert), then the hot set re-read.
ScanResult RunScan(Cache* cache, size_t capacity_units, int hot_keys, int scan_keys, size_t charge) {
  LruModel lru(capacity_units * charge);
  auto access = [&](const std::string& key) {
    if (Cache::Handle* h = cache->lookup(key)) {
      cache->release(h);
    } else {
      cache->release(cache->insert(key, V(1), charge, &RecordingDeleter));
    }
    if (!lru.lookup(key)) lru.insert(key, charge);
  };
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < hot_keys; ++i) access("hot" + std::to_string(i));
  }
  for (int i = 0; i < scan_keys; ++i) access("scan" + std::to_string(i));
  ScanResult r;
  for (int i = 0; i < hot_keys; ++i) {
    const std::string key = "hot" + std::to_string(i);
    if (Cache::Handle* h = cache->lookup(key)) {
      ++r.arc_hot_hits;
      cache->release(h);
    }
    if (lru.lookup(key)) ++r.lru_hot_hits;
  }
  return r;
}

TEST_F(ArcCacheTest, HotSetSurvivesAScanThatFlushesLru) {
  auto cache = NewArcCache(1000, 0);
  const ScanResult r = RunScan(cache.get(), 1000, 500, 4000, 1);
  EXPECT_EQ(r.arc_hot_hits, 500u);
  EXPECT_EQ(r.lru_hot_hits, 0u);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, HotSetSurvivesAScanOnAShardedCache) {
  // 8 MiB of 4 KiB blocks over 16 shards; the hot set is half the cache, so
  // an unlucky shard may get a little more than its share.
  const size_t kBlock = 4096;
  auto cache = NewArcCache(2048 * kBlock);
  ASSERT_EQ(GetArcCacheDebugInfo(*cache).size(), 16u);
  const ScanResult r = RunScan(cache.get(), 2048, 1024, 4 * 2048, kBlock);
  EXPECT_GE(r.arc_hot_hits, 1024u * 95 / 100);
  EXPECT_EQ(r.lru_hot_hits, 0u);
  CheckInvariants(*cache);
}

TEST_F(ArcCacheTest, ZipfHitRateAtLeastLru) {
  const int kKeys = 20000;
  const size_t kCapacity = 1000;
  // Zipf(0.9) by inverse CDF over precomputed weights.
  std::vector<double> cdf(kKeys);
  double sum = 0;
  for (int i = 0; i < kKeys; ++i) {
    sum += 1.0 / std::pow(i + 1.0, 0.9);
    cdf[i] = sum;
  }
  std::mt19937_64 rng(2024);
  std::uniform_real_distribution<double> uniform(0.0, sum);

  auto cache = NewArcCache(kCapacity, 0);
  LruModel lru(kCapacity);
  size_t arc_hits = 0, lru_hits = 0;
  const int kRequests = 200000;
  for (int r = 0; r < kRequests; ++r) {
    const int k = static_cast<int>(std::lower_bound(cdf.begin(), cdf.end(), uniform(rng)) - cdf.begin());
    const std::string key = Key(k);
    if (Cache::Handle* h = cache->lookup(key)) {
      ++arc_hits;
      cache->release(h);
    } else {
      cache->release(cache->insert(key, V(1), 1, &RecordingDeleter));
    }
    if (lru.lookup(key)) {
      ++lru_hits;
    } else {
      lru.insert(key);
    }
  }
  const double arc_rate = static_cast<double>(arc_hits) / kRequests;
  const double lru_rate = static_cast<double>(lru_hits) / kRequests;
  RecordProperty("arc_hit_rate", std::to_string(arc_rate));
  RecordProperty("lru_hit_rate", std::to_string(lru_rate));
  std::printf("Zipf(0.9): ARC hit rate %.4f, LRU hit rate %.4f\n", arc_rate, lru_rate);
  EXPECT_GE(arc_hits, lru_hits);
  EXPECT_EQ(cache->stats().hits, arc_hits);
  CheckInvariants(*cache);
}

// ---------------------------------------------------------------------------
// Concurrency (run under TSan too).

struct TrackedValue {
  std::string key;
  std::atomic<int> pins{0};
  std::atomic<int> deletions{0};
  std::atomic<bool> deleted_while_pinned{false};
};

void TrackedDeleter(const Slice& key, void* value) {
  auto* v = static_cast<TrackedValue*>(value);
  if (v->pins.load() != 0 || key != Slice(v->key)) v->deleted_while_pinned.store(true);
  v->deletions.fetch_add(1);
}

TEST_F(ArcCacheTest, ConcurrentOperationsDeleteEveryValueExactlyOnce) {
  const int kThreads = 4;
  const int kOpsPerThread = 30000;
  std::mutex values_mu;
  std::vector<std::unique_ptr<TrackedValue>> values;  // owned by the test, outlive the cache
  std::atomic<bool> wrong_value{false};
  {
    // Small shards so that evictions, ghosts and pinned evictions are constant.
    auto cache = NewArcCache(120, 2);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(1000 + t);
        std::vector<Cache::Handle*> held;
        auto release_one = [&](size_t i) {
          Cache::Handle* h = held[i];
          held[i] = held.back();
          held.pop_back();
          static_cast<TrackedValue*>(cache->value(h))->pins.fetch_sub(1);
          cache->release(h);
        };
        for (int op = 0; op < kOpsPerThread; ++op) {
          const std::string key = Key(static_cast<int>(rng() % 64));
          const int kind = static_cast<int>(rng() % 100);
          if (kind < 45) {
            if (Cache::Handle* h = cache->lookup(key)) {
              auto* v = static_cast<TrackedValue*>(cache->value(h));
              v->pins.fetch_add(1);
              if (v->key != key || v->deletions.load() != 0) wrong_value.store(true);
              held.push_back(h);
            }
          } else if (kind < 80) {
            auto owned = std::make_unique<TrackedValue>();
            owned->key = key;
            TrackedValue* v = owned.get();
            {
              std::lock_guard<std::mutex> lock(values_mu);
              values.push_back(std::move(owned));
            }
            Cache::Handle* h = cache->insert(key, v, 1 + rng() % 8, &TrackedDeleter);
            v->pins.fetch_add(1);
            held.push_back(h);
          } else if (kind < 92) {
            cache->erase(key);
          } else if (kind < 93) {
            cache->prune();
          } else if (kind < 94) {
            (void)cache->total_charge();
            (void)cache->stats();
          }
          while (held.size() > 4 || (kind >= 94 && !held.empty())) release_one(rng() % held.size());
        }
        while (!held.empty()) release_one(0);
      });
    }
    for (std::thread& th : threads) th.join();
    CheckInvariants(*cache);
    EXPECT_LE(cache->total_charge(), cache->capacity());
    const CacheStats s = cache->stats();
    EXPECT_EQ(s.inserts, values.size());
    EXPECT_GT(s.hits, 0u);
    EXPECT_GT(s.evictions, 0u);
  }
  EXPECT_FALSE(wrong_value.load());
  ASSERT_GT(values.size(), 0u);
  for (const auto& v : values) {
    EXPECT_EQ(v->deletions.load(), 1) << v->key;
    EXPECT_FALSE(v->deleted_while_pinned.load()) << v->key;
  }
}

}  // namespace
}  // namespace lightning
