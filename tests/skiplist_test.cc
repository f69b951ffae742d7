// Copyright (c) Lightning authors. MIT License.
//
// Tests for the memtable's Arena and SkipList, including a concurrent test of
// one writer against lock-free readers.
#include "memtable/skiplist.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "memtable/arena.h"

namespace lightning {
namespace {

// ---------------------------------------------------------------- Arena

TEST(ArenaTest, EmptyUsesNoMemory) {
  Arena arena;
  EXPECT_EQ(arena.memory_usage(), 0u);
}

TEST(ArenaTest, BlockSizeIsClamped) {
  EXPECT_EQ(Arena(1).block_size(), Arena::kMinBlockSize);
  EXPECT_EQ(Arena(1 << 30).block_size(), Arena::kMaxBlockSize);
  EXPECT_EQ(Arena(32 * 1024).block_size(), 32u * 1024);
  EXPECT_EQ(Arena().block_size(), Arena::kDefaultBlockSize);
}

TEST(ArenaTest, RandomAllocationsKeepTheirContents) {
  Arena arena;
  std::mt19937_64 rng(301);
  std::vector<std::pair<char*, size_t>> allocated;
  size_t total = 0;
  for (int i = 0; i < 4000; i++) {
    size_t n;
    if (i % 500 == 0) {
      n = 6000 + rng() % 20000;  // some exceed a quarter block (and a whole block)
    } else {
      n = 1 + rng() % (i % 10 == 0 ? 3000 : 40);
    }
    char* p = (i % 2 == 0) ? arena.allocate_aligned(n) : arena.allocate(n);
    ASSERT_NE(p, nullptr);
    if (i % 2 == 0) {
      EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % Arena::kAlignment, 0u) << "allocation " << i;
    }
    // Fill with a pattern that identifies the allocation; an overlap with any
    // other allocation would corrupt one of the patterns.
    std::memset(p, static_cast<int>(i % 256), n);
    allocated.emplace_back(p, n);
    total += n;
    EXPECT_GE(arena.memory_usage(), total);
    // Bounded waste: blocks are abandoned with at most a quarter block unused,
    // plus per-block bookkeeping and alignment slop.
    EXPECT_LE(arena.memory_usage(), total * 2 + 2 * arena.block_size()) << "allocation " << i;
  }
  for (size_t i = 0; i < allocated.size(); i++) {
    const auto& [p, n] = allocated[i];
    for (size_t j = 0; j < n; j++) {
      ASSERT_EQ(static_cast<unsigned char>(p[j]), i % 256) << "allocation " << i << " byte " << j;
    }
  }
}

TEST(ArenaTest, LargeAllocationDoesNotAbandonCurrentBlock) {
  Arena arena(4096);
  char* a = arena.allocate(100);
  const size_t before = arena.memory_usage();
  char* big = arena.allocate(1 << 20);
  EXPECT_GE(arena.memory_usage(), before + (1 << 20));
  char* b = arena.allocate(100);
  // The small allocation after the big one continues the first block.
  EXPECT_EQ(b, a + 100);
  std::memset(big, 0x5a, 1 << 20);
}

// ---------------------------------------------------------------- SkipList

struct U64Comparator {
  int operator()(const uint64_t& a, const uint64_t& b) const { return a < b ? -1 : (a > b ? 1 : 0); }
};
using U64List = SkipList<uint64_t, U64Comparator>;

// Forward and backward scans of list match the model exactly.
void ExpectScansMatch(const U64List& list, const std::set<uint64_t>& model) {
  U64List::Iterator it(&list);
  it.seek_to_first();
  for (uint64_t k : model) {
    ASSERT_TRUE(it.valid());
    ASSERT_EQ(it.key(), k);
    it.next();
  }
  EXPECT_FALSE(it.valid());

  it.seek_to_last();
  for (auto r = model.rbegin(); r != model.rend(); ++r) {
    ASSERT_TRUE(it.valid());
    ASSERT_EQ(it.key(), *r);
    it.prev();
  }
  EXPECT_FALSE(it.valid());
}

TEST(SkipListTest, Empty) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  EXPECT_FALSE(list.contains(10));

  U64List::Iterator it(&list);
  EXPECT_FALSE(it.valid());
  it.seek_to_first();
  EXPECT_FALSE(it.valid());
  it.seek_to_last();
  EXPECT_FALSE(it.valid());
  it.seek(100);
  EXPECT_FALSE(it.valid());
  it.seek_for_prev(100);
  EXPECT_FALSE(it.valid());
  it.seek(0);
  EXPECT_FALSE(it.valid());
  it.seek_for_prev(UINT64_MAX);
  EXPECT_FALSE(it.valid());
}

TEST(SkipListTest, SeekEdgeCases) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  for (uint64_t k : {10, 20, 30}) list.insert(k);
  U64List::Iterator it(&list);

  it.seek(5);  // before first
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 10u);
  it.seek_for_prev(5);
  EXPECT_FALSE(it.valid());

  it.seek(35);  // after last
  EXPECT_FALSE(it.valid());
  it.seek_for_prev(35);
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 30u);

  it.seek(20);  // exact hit
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 20u);
  it.seek_for_prev(20);
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 20u);

  it.seek(15);  // between
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 20u);
  it.seek_for_prev(15);
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 10u);

  it.seek(10);  // boundaries
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 10u);
  it.prev();
  EXPECT_FALSE(it.valid());
  it.seek_for_prev(30);
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 30u);
  it.next();
  EXPECT_FALSE(it.valid());

  it.seek_to_first();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 10u);
  it.seek_to_last();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 30u);
}

TEST(SkipListTest, SingleElement) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  list.insert(7);
  U64List::Iterator it(&list);
  it.seek_to_first();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 7u);
  it.seek_to_last();
  ASSERT_TRUE(it.valid());
  EXPECT_EQ(it.key(), 7u);
  it.prev();
  EXPECT_FALSE(it.valid());
  it.seek_for_prev(7);
  ASSERT_TRUE(it.valid());
  it.next();
  EXPECT_FALSE(it.valid());
}

TEST(SkipListTest, RandomAgainstModel) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  std::set<uint64_t> model;
  std::mt19937_64 rng(42);
  const uint64_t kRange = 20000;  // small range: plenty of seeks hit exactly
  for (int i = 0; i < 5000; i++) {
    const uint64_t k = rng() % kRange;
    if (model.insert(k).second) list.insert(k);
  }

  for (uint64_t k = 0; k < kRange; k += 7) {
    EXPECT_EQ(list.contains(k), model.count(k) == 1) << k;
  }

  ExpectScansMatch(list, model);
  U64List::Iterator it(&list);

  // Random seeks, then a few steps in each direction.
  for (int i = 0; i < 2000; i++) {
    const uint64_t target = rng() % (kRange + 10);
    auto m = model.lower_bound(target);
    it.seek(target);
    if (m == model.end()) {
      EXPECT_FALSE(it.valid());
    } else {
      ASSERT_TRUE(it.valid());
      EXPECT_EQ(it.key(), *m);
      for (int step = 0; step < 3; step++) {
        ++m;
        it.next();
        if (m == model.end()) {
          EXPECT_FALSE(it.valid());
          break;
        }
        ASSERT_TRUE(it.valid());
        EXPECT_EQ(it.key(), *m);
      }
    }

    auto up = model.upper_bound(target);  // first > target; the one before is last <= target
    it.seek_for_prev(target);
    if (up == model.begin()) {
      EXPECT_FALSE(it.valid());
    } else {
      auto le = std::prev(up);
      ASSERT_TRUE(it.valid());
      EXPECT_EQ(it.key(), *le);
      for (int step = 0; step < 3; step++) {
        it.prev();
        if (le == model.begin()) {
          EXPECT_FALSE(it.valid());
          break;
        }
        --le;
        ASSERT_TRUE(it.valid());
        EXPECT_EQ(it.key(), *le);
      }
    }
  }
}

// insert() skips its search when a key falls right after the previous one
// (sequential fills, sorted batches). Runs going up (the fast path), down,
// into the gap after the last key, before it, and at random, interleaved:
// every link at every level must still be right, which seeks (they descend
// from the top level) and prev() (a search from the head) check.
TEST(SkipListTest, SequentialRunsAndGapsAgainstModel) {
  Arena arena;
  U64List list(U64Comparator(), &arena);
  std::set<uint64_t> model;
  std::mt19937_64 rng(7);
  const auto add = [&](uint64_t k) {
    if (model.insert(k).second) list.insert(k);
  };
  uint64_t base = 1u << 20;
  for (int round = 0; round < 60; round++) {
    const uint64_t run = 1 + rng() % 200;
    switch (round % 5) {
      case 0:  // ascending with gaps: mostly the fast path
        for (uint64_t i = 0; i < run; i++) add(base + 3 * i);
        break;
      case 1:  // fill the gaps left behind the last key, ascending
        for (uint64_t i = 0; i < run; i++) add(base + 3 * i + 1);
        break;
      case 2:  // descending: never the fast path
        for (uint64_t i = run; i > 0; i--) add(base + 3 * i + 2);
        break;
      case 3:  // random over everything so far and beyond
        for (uint64_t i = 0; i < run; i++) add(rng() % (base + 1000));
        break;
      case 4:  // far below, then ascending again from there
        for (uint64_t i = 0; i < run; i++) add(rng() % 1000 + 1000 * static_cast<uint64_t>(round) + i);
        break;
    }
    base += 3 * run + 7;
  }
  ExpectScansMatch(list, model);
  U64List::Iterator it(&list);
  for (uint64_t k : model) {
    ASSERT_TRUE(list.contains(k)) << k;
    it.seek(k);
    ASSERT_TRUE(it.valid());
    ASSERT_EQ(it.key(), k);
    it.seek(k + 1);
    const auto next = model.upper_bound(k);
    ASSERT_EQ(it.valid(), next != model.end());
    if (it.valid()) {
      ASSERT_EQ(it.key(), *next);
    }
  }
}

// One writer inserts while readers scan. Each key carries its insertion index
// in its low bits, so a reader can tell which keys must already be visible.
TEST(SkipListTest, ConcurrentReadersWithOneWriter) {
  constexpr int kIndexBits = 20;
  constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
  constexpr int kNumKeys = 20000;
  constexpr int kReaders = 3;

  std::vector<uint64_t> keys;
  keys.reserve(kNumKeys);
  {
    std::mt19937_64 rng(7);
    for (int i = 0; i < kNumKeys; i++) {
      // Random high part gives a random insertion order; the index keeps
      // keys unique and identifiable.
      keys.push_back(((rng() >> 24) << kIndexBits) | static_cast<uint64_t>(i));
    }
  }

  Arena arena;
  U64List list(U64Comparator(), &arena);
  // Number of keys whose insert() has returned; stored after each insert.
  std::atomic<int> published{0};
  std::atomic<bool> writer_done{false};
  std::atomic<int> readers_ready{0};

  // Readers record failures here instead of using gtest assertions across
  // threads, then the main thread reports them.
  std::atomic<int> failures{0};
  std::atomic<uint64_t> total_passes{0};

  auto reader = [&](int id) {
    std::mt19937_64 rng(1000 + static_cast<uint64_t>(id));
    readers_ready.fetch_add(1);
    U64List::Iterator it(&list);
    bool final_pass = false;
    while (!final_pass) {
      // Read the flag first: a pass started after the writer finished must
      // see every key.
      final_pass = writer_done.load(std::memory_order_acquire);
      const int known = published.load(std::memory_order_acquire);

      // Forward scan: strictly increasing, only inserted keys, and every key
      // published before the scan started is seen.
      int seen_known = 0;
      uint64_t last = 0;
      bool first = true;
      for (it.seek_to_first(); it.valid(); it.next()) {
        const uint64_t k = it.key();
        const uint64_t idx = k & kIndexMask;
        if (!first && k <= last) failures.fetch_add(1);
        if (idx >= static_cast<uint64_t>(kNumKeys) || keys[idx] != k) {
          failures.fetch_add(1);
        } else if (static_cast<int>(idx) > published.load(std::memory_order_acquire)) {
          // Insert i is published as i+1 after it returns, and it began
          // after i was published, so a visible key i implies published >= i.
          failures.fetch_add(1);
        }
        if (idx < static_cast<uint64_t>(known)) seen_known++;
        last = k;
        first = false;
      }
      if (seen_known != known) failures.fetch_add(1);

      // Backward scan: strictly decreasing, again covering all known keys.
      int seen_known_back = 0;
      first = true;
      for (it.seek_to_last(); it.valid(); it.prev()) {
        const uint64_t k = it.key();
        if (!first && k >= last) failures.fetch_add(1);
        if ((k & kIndexMask) < static_cast<uint64_t>(known)) seen_known_back++;
        last = k;
        first = false;
      }
      if (seen_known_back != known) failures.fetch_add(1);

      // Point seeks for known keys land exactly on them.
      for (int i = 0; i < 50 && known > 0; i++) {
        const uint64_t k = keys[rng() % static_cast<uint64_t>(known)];
        it.seek(k);
        if (!it.valid() || it.key() != k) failures.fetch_add(1);
        it.seek_for_prev(k);
        if (!it.valid() || it.key() != k) failures.fetch_add(1);
        if (!list.contains(k)) failures.fetch_add(1);
      }
      total_passes.fetch_add(1);
    }
  };

  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; r++) threads.emplace_back(reader, r);
  while (readers_ready.load() < kReaders) std::this_thread::yield();

  for (int i = 0; i < kNumKeys; i++) {
    list.insert(keys[static_cast<size_t>(i)]);
    published.store(i + 1, std::memory_order_release);
    // Give readers a chance to interleave on a busy machine.
    if (i % 256 == 0) std::this_thread::yield();
  }
  writer_done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(total_passes.load(), static_cast<uint64_t>(kReaders));

  // Final single-threaded check: everything is there, in order.
  ExpectScansMatch(list, std::set<uint64_t>(keys.begin(), keys.end()));
}

}  // namespace
}  // namespace lightning
