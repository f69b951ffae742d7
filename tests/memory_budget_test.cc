// Copyright (c) Lightning authors. MIT License.
//
// Options::memory_budget: a database opened with 10 MiB keeps its own memory
// (memtables + cache + open tables' indexes and filters, as stats() reports
// it) within the budget while it takes in several times that much data and
// serves random reads from all tiers, and still returns the right data.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "lightning/db.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "user%012llu", static_cast<unsigned long long>(i));
  return buf;
}

TEST(MemoryBudgetTest, TenMiBBudgetHoldsWhileDataGrowsFarBeyondIt) {
  constexpr uint64_t kBudget = 10u << 20;
  test::TempDir dir("memory_budget");
  Options options;
  options.memory_budget = kBudget;
  options.compression = CompressionType::kNone;  // more bytes per key: more pressure
  auto r = Database::open(dir.path(), options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());

  test::Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  constexpr uint64_t kKeys = 300000;  // ~40 MiB of keys and values
  std::map<uint64_t, std::string> model;
  uint64_t peak = 0;
  for (uint64_t n = 0; n < kKeys; n++) {
    const uint64_t k = rnd.uniform(kKeys);
    std::string value = rnd.random_bytes(100 + rnd.uniform(60));
    ASSERT_TRUE(db->put(Key(k), value).ok());
    model[k] = std::move(value);
    if (n % 10000 == 0) {
      const DatabaseStats st = db->stats();
      peak = std::max(peak, st.memory_usage);
      ASSERT_LE(st.memory_usage, kBudget) << "after " << n << " writes: memtables " << st.memtable_bytes
                                          << ", cache " << st.block_cache_bytes << ", tables "
                                          << st.table_memory_bytes;
    }
  }
  // Everything into the tree (how far background merges got by now depends
  // on the machine's speed, e.g. under a sanitizer); reads then come from it.
  ASSERT_TRUE(db->compact().ok());
  peak = std::max(peak, db->stats().memory_usage);
  ASSERT_LE(db->stats().memory_usage, kBudget);
  std::string value;
  for (int i = 0; i < 20000; i++) {
    const uint64_t k = rnd.uniform(kKeys);
    Status s = db->get(Key(k), &value);
    auto it = model.find(k);
    if (it == model.end()) {
      ASSERT_TRUE(s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_EQ(value, it->second);
    }
    if (i % 2000 == 0) {
      const DatabaseStats st = db->stats();
      peak = std::max(peak, st.memory_usage);
      ASSERT_LE(st.memory_usage, kBudget);
    }
  }
  const DatabaseStats st = db->stats();
  // The data really went far beyond the budget, into tables and the tree.
  std::string levels;
  uint64_t table_bytes = 0;
  for (const auto& l : st.levels) {
    levels += " " + std::to_string(l.files) + "/" + std::to_string(l.bytes);
    table_bytes += l.bytes;
  }
  EXPECT_GT(table_bytes + st.tree_bytes, 2 * kBudget) << "levels" << levels;
  EXPECT_GT(st.tree_merges, 0u) << "levels" << levels;
  EXPECT_GT(st.block_cache_bytes, 0u);
  // And the budget is used, not ignored: at least a full memtable (budget /
  // 8) plus more. (Uncompressed table blocks are read in place through
  // memory maps, bypassing the block cache, so the cache alone no longer
  // fills a quarter of the budget here.)
  EXPECT_GT(peak, kBudget / 8);
  std::printf("peak memory_usage %llu of %llu bytes; tree %llu entries, %llu bytes\n",
              static_cast<unsigned long long>(peak), static_cast<unsigned long long>(kBudget),
              static_cast<unsigned long long>(st.tree_entries), static_cast<unsigned long long>(st.tree_bytes));
}

TEST(MemoryBudgetTest, TooSmallABudgetIsRefused) {
  test::TempDir dir("memory_budget_small");
  Options options;
  options.memory_budget = 1u << 20;
  auto r = Database::open(dir.path(), options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(std::string::npos, r.status().ToString().find("memory_budget"));
}

}  // namespace
}  // namespace lightning
