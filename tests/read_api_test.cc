// Copyright (c) Lightning authors. MIT License.
//
// The reading API above the iterator: snapshots (Database::snapshot,
// ReadOptions::snapshot), get_batch, the scans (scan, scan_reverse,
// scan_prefix, new_scan) and the prefix extractor's filters.
//
//  - ReadApiTest (three option sets: in-memory + no codec, POSIX + LZ4 with
//    8 KiB pages, POSIX + no codec with the tree read by pread), each body
//    run with the data in the memtable, in level-0 tables, and in the tree:
//    scans of every shape against a std::map, and the edge cases (empty
//    database, everything deleted, equal bounds, start past end, prefixes of
//    0xff bytes, bounds past the last key, reverse scans across tiers);
//    snapshots through writes, flushes, compactions and tree merges;
//    get_batch.
//  - ReadApiTest.Snapshot...: what a snapshot keeps and what its release
//    lets compaction drop; misuse (foreign snapshots, after close, outliving
//    the database).
//  - PrefixFilterTest: scan_prefix skips tables by their prefix filters
//    (and only tables built with the same extractor), and stays correct.
//  - ReadApiTest.Concurrent...: writers, flushes and compactions run while
//    readers walk iterators randomly, forwards and backwards, at live
//    snapshots, each checked against a copy of the model taken with the
//    snapshot (CI runs Concurrent* under ThreadSanitizer).
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./read_api_test --gtest_filter=...
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lightning/db.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/prefix_extractor.h"
#include "lightning/scan.h"
#include "lightning/snapshot.h"
#include "lightning/write_batch.h"
#include "util/model_db_test.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;
using Entries = std::vector<std::pair<std::string, std::string>>;
using test::Printable;

// Where the data of a test lives when it is read.
enum class Tier { kMemtable, kLevel0, kTree };

struct ReadParam {
  std::string name;
  bool memory_env;
  CompressionType compression;
  uint32_t page_size;
  bool mmap;
  Tier tier;
};

void PrintTo(const ReadParam& p, std::ostream* os) { *os << p.name; }

std::string ReadParamName(const ::testing::TestParamInfo<ReadParam>& info) { return info.param.name; }

std::vector<ReadParam> ReadParams() {
  struct Setup {
    const char* name;
    bool memory_env;
    CompressionType compression;
    uint32_t page_size;
    bool mmap;
  };
  const Setup setups[] = {{"Memory", true, CompressionType::kNone, 4096, true},
                          {"PosixLz4Page8K", false, CompressionType::kLz4, 8192, true},
                          {"PosixPread", false, CompressionType::kNone, 4096, false}};
  const std::pair<const char*, Tier> tiers[] = {
      {"Memtable", Tier::kMemtable}, {"Level0", Tier::kLevel0}, {"Tree", Tier::kTree}};
  std::vector<ReadParam> params;
  for (const Setup& s : setups) {
    for (const auto& [tier_name, tier] : tiers) {
      params.push_back({std::string(s.name) + "_" + tier_name, s.memory_env, s.compression, s.page_size, s.mmap, tier});
    }
  }
  return params;
}

Options MakeOptions(const ReadParam& p) {
  Options o;
  o.compression = p.compression;
  o.page_size = p.page_size;
  o.mmap_size = p.mmap ? (uint64_t{1} << 30) : 0;
  o.memtable_size = 256 * 1024;
  o.target_file_size = 128 * 1024;
  o.block_size = 1024;
  o.level0_file_num_compaction_trigger = 100;  // keep level 0 where the test put it
  o.level0_slowdown_writes_trigger = 200;
  o.level0_stop_writes_trigger = 300;
  return o;
}

// Everything a Scan yields, copied.
Entries Collect(Scan scan, Status* status = nullptr) {
  Entries out;
  for (const auto& [key, value] : scan) out.emplace_back(key.ToString(), value.ToString());
  if (status != nullptr) {
    *status = scan.status();
  } else {
    EXPECT_TRUE(scan.status().ok()) << scan.status().ToString();
  }
  return out;
}

// What a scan of model must yield.
Entries Expected(const Model& model, const ScanOptions& o) {
  Entries out;
  for (const auto& [key, value] : model) {
    if (o.start && key < *o.start) continue;
    if (o.end && key >= *o.end) continue;
    if (key.compare(0, o.prefix.size(), o.prefix) != 0) continue;
    out.emplace_back(key, value);
  }
  if (o.reverse) std::reverse(out.begin(), out.end());
  if (o.limit != 0 && out.size() > o.limit) out.resize(o.limit);
  return out;
}

std::string Describe(const ScanOptions& o) {
  std::string s = o.reverse ? "reverse" : "forward";
  if (o.start) s += " start=" + Printable(*o.start);
  if (o.end) s += " end=" + Printable(*o.end);
  if (!o.prefix.empty()) s += " prefix=" + Printable(o.prefix);
  if (o.limit != 0) s += " limit=" + std::to_string(o.limit);
  return s;
}

class ReadApiTest : public test::ModelDbTest, public ::testing::WithParamInterface<ReadParam> {
 protected:
  ReadApiTest() : ModelDbTest("read_api_test", MakeOptions(GetParam())) { use_env(GetParam().memory_env); }

  // Moves what was written to the tier the test reads from.
  void settle() {
    switch (GetParam().tier) {
      case Tier::kMemtable:
        break;
      case Tier::kLevel0:
        ASSERT_NO_FATAL_FAILURE(flush());
        break;
      case Tier::kTree:
        ASSERT_NO_FATAL_FAILURE(compact());
        if (!model_.empty()) {
          ASSERT_GT(db_->stats().tree_entries, 0u);
        }
        break;
    }
  }

  // Checks one scan against the model (or the given one).
  void check_scan(const ScanOptions& o, const ReadOptions& ro = ReadOptions(), const Model* model = nullptr) {
    SCOPED_TRACE(Describe(o));
    EXPECT_EQ(Expected(model != nullptr ? *model : model_, o), Collect(db_->new_scan(o, ro)));
  }

  // Every shape of scan over bounds drawn from keys (and their neighbours).
  void check_scans(const std::vector<std::string>& bounds, const std::vector<std::string>& prefixes) {
    std::vector<std::optional<std::string>> opt_bounds = {std::nullopt};
    for (const auto& b : bounds) opt_bounds.emplace_back(b);
    for (bool reverse : {false, true}) {
      for (const auto& start : opt_bounds) {
        for (const auto& end : opt_bounds) {
          for (size_t limit : {size_t{0}, size_t{1}, size_t{3}}) {
            ScanOptions o;
            o.start = start;
            o.end = end;
            o.reverse = reverse;
            o.limit = limit;
            ASSERT_NO_FATAL_FAILURE(check_scan(o));
          }
        }
      }
      for (const auto& prefix : prefixes) {
        ScanOptions o;
        o.prefix = prefix;
        o.reverse = reverse;
        ASSERT_NO_FATAL_FAILURE(check_scan(o));
        o.limit = 2;
        ASSERT_NO_FATAL_FAILURE(check_scan(o));
      }
    }
  }
};

// ---------------------------------------------------------------- scans

TEST_P(ReadApiTest, ScansOfAnEmptyDatabaseYieldNothing) {
  open();
  ASSERT_NO_FATAL_FAILURE(check_scans({"", "a", "\xff"}, {"a", "\xff"}));
  EXPECT_TRUE(Collect(db_->scan(std::nullopt, std::nullopt)).empty());
  EXPECT_TRUE(Collect(db_->scan_reverse(std::nullopt, std::nullopt)).empty());
  EXPECT_TRUE(Collect(db_->scan_prefix("a")).empty());
  Scan s = db_->scan(std::nullopt, std::nullopt);
  EXPECT_TRUE(s.begin() == s.end());
  Scan::Entry e;
  EXPECT_FALSE(s.next(&e));
}

TEST_P(ReadApiTest, ScansMatchTheModel) {
  open();
  test::Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed=" + std::to_string(rnd.seed()));
  // Keys with shared prefixes, binary bytes and 0xff runs.
  const std::vector<std::string> keys = {"a",        "aa",   "ab",          "abc",         "b",
                                         "ba",       "bz",   std::string("c\0d", 3), "user:1", "user:10",
                                         "user:2",   "user;", "\xfe\xff",   "\xff",        "\xff\xff",
                                         "\xff\xff\x01", "\xff\xff\xff"};
  for (const auto& k : keys) ASSERT_NO_FATAL_FAILURE(put(k, "v-" + k + std::to_string(rnd.uniform(1000))));
  ASSERT_NO_FATAL_FAILURE(settle());
  std::vector<std::string> bounds = {"", "a", "ab", "abd", "b", "user:", "user:2", "zzz", "\xff", "\xff\xff\x01",
                                     "\xff\xff\xff\xff"};
  const std::vector<std::string> prefixes = {"a", "ab", "abc", "abcd", "user:", "user:1", "c", std::string("c\0", 2),
                                             "x", "\xfe", "\xff", "\xff\xff", "\xff\xff\xff", "\xff\xff\xff\xff"};
  ASSERT_NO_FATAL_FAILURE(check_scans(bounds, prefixes));
  EXPECT_EQ(Expected(model_, ScanOptions{}), Collect(db_->scan(std::nullopt, std::nullopt)));
  // The conveniences are the general form.
  ScanOptions o;
  o.start = "ab";
  o.end = "user:2";
  EXPECT_EQ(Expected(model_, o), Collect(db_->scan(Slice("ab"), Slice("user:2"))));
  o.reverse = true;
  o.limit = 2;
  EXPECT_EQ(Expected(model_, o), Collect(db_->scan_reverse(Slice("ab"), Slice("user:2"), 2)));
  ScanOptions p;
  p.prefix = "user:";
  EXPECT_EQ(Expected(model_, p), Collect(db_->scan_prefix("user:")));
}

TEST_P(ReadApiTest, EqualAndCrossedBoundsAndBoundsPastTheEnd) {
  open();
  for (const char* k : {"b", "c", "d"}) ASSERT_NO_FATAL_FAILURE(put(k, k));
  ASSERT_NO_FATAL_FAILURE(settle());
  EXPECT_TRUE(Collect(db_->scan(Slice("c"), Slice("c"))).empty());
  EXPECT_TRUE(Collect(db_->scan_reverse(Slice("c"), Slice("c"))).empty());
  EXPECT_TRUE(Collect(db_->scan(Slice("d"), Slice("b"))).empty());
  EXPECT_TRUE(Collect(db_->scan_reverse(Slice("d"), Slice("b"))).empty());
  EXPECT_TRUE(Collect(db_->scan(Slice("e"), std::nullopt)).empty());
  EXPECT_TRUE(Collect(db_->scan_reverse(std::nullopt, Slice("a"))).empty());
  EXPECT_EQ((Entries{{"d", "d"}, {"c", "c"}, {"b", "b"}}), Collect(db_->scan_reverse(std::nullopt, Slice("z"))));
  EXPECT_EQ((Entries{{"c", "c"}}), Collect(db_->scan(Slice("c"), Slice("c\x01"))));
  EXPECT_EQ((Entries{{"c", "c"}}), Collect(db_->scan_reverse(Slice("c"), Slice("c\x01"))));
  // The iterator itself: seeks past either end.
  auto it = db_->new_iterator();
  it->seek("e");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("a");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("zzz");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ("d", it->key().ToString());
  EXPECT_TRUE(it->status().ok());
}

TEST_P(ReadApiTest, EverythingDeletedYieldsNothing) {
  open();
  for (int i = 0; i < 300; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), std::string(50, 'v')));
  ASSERT_NO_FATAL_FAILURE(settle());
  for (int i = 0; i < 300; i++) ASSERT_NO_FATAL_FAILURE(remove("key" + std::to_string(i)));
  // Tombstones in the memtable over data in the tier, then also moved there.
  for (int round = 0; round < 2; round++) {
    EXPECT_TRUE(Collect(db_->scan(std::nullopt, std::nullopt)).empty());
    EXPECT_TRUE(Collect(db_->scan_reverse(std::nullopt, std::nullopt)).empty());
    EXPECT_TRUE(Collect(db_->scan_prefix("key1")).empty());
    auto it = db_->new_iterator();
    it->seek_to_first();
    EXPECT_FALSE(it->valid());
    it->seek_to_last();
    EXPECT_FALSE(it->valid());
    EXPECT_TRUE(it->status().ok());
    ASSERT_NO_FATAL_FAILURE(settle());
  }
}

// Newer versions and tombstones in the memtable and level 0 over older data
// in the tree: reverse (and direction-changing) walks cross the tiers.
TEST_P(ReadApiTest, ReverseScansAcrossTiers) {
  open();
  test::Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed=" + std::to_string(rnd.seed()));
  auto key_of = [](uint64_t i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "k%06llu", static_cast<unsigned long long>(i));
    return std::string(buf);
  };
  for (int i = 0; i < 2000; i += 2) ASSERT_NO_FATAL_FAILURE(put(key_of(i), "tree" + std::to_string(i)));
  ASSERT_NO_FATAL_FAILURE(compact());
  for (int i = 1; i < 2000; i += 4) ASSERT_NO_FATAL_FAILURE(put(key_of(i), "l0-" + std::to_string(i)));
  for (int i = 0; i < 2000; i += 6) ASSERT_NO_FATAL_FAILURE(remove(key_of(i)));
  ASSERT_NO_FATAL_FAILURE(flush());
  for (int i = 0; i < 2000; i += 10) ASSERT_NO_FATAL_FAILURE(put(key_of(i), "mem" + std::to_string(i)));
  for (int i = 3; i < 2000; i += 8) ASSERT_NO_FATAL_FAILURE(remove(key_of(i)));
  if (GetParam().tier != Tier::kMemtable) {
    ASSERT_NO_FATAL_FAILURE(settle());
  }
  EXPECT_EQ(Expected(model_, ScanOptions{}), Collect(db_->scan(std::nullopt, std::nullopt)));
  ScanOptions rev;
  rev.reverse = true;
  EXPECT_EQ(Expected(model_, rev), Collect(db_->scan_reverse(std::nullopt, std::nullopt)));
  for (int i = 0; i < 50; i++) {
    ScanOptions o;
    o.reverse = true;
    o.start = key_of(rnd.uniform(2100));
    o.end = key_of(rnd.uniform(2100));
    o.limit = rnd.uniform(40);
    ASSERT_NO_FATAL_FAILURE(check_scan(o));
  }
  // Random walks that switch direction.
  auto it = db_->new_iterator();
  for (int walk = 0; walk < 20; walk++) {
    const std::string target = key_of(rnd.uniform(2100));
    it->seek(target);
    auto m = model_.lower_bound(target);
    for (int step = 0; step < 60; step++) {
      ASSERT_EQ(m != model_.end(), it->valid()) << "walk " << walk << " step " << step;
      if (m == model_.end()) break;
      ASSERT_EQ(m->first, it->key().ToString());
      ASSERT_EQ(m->second, it->value().ToString());
      if (rnd.one_in(2)) {
        it->next();
        ++m;
      } else {
        it->prev();
        if (m == model_.begin()) {
          ASSERT_FALSE(it->valid());
          break;
        }
        --m;
      }
    }
  }
  EXPECT_TRUE(it->status().ok());
}

// ---------------------------------------------------------------- snapshots

TEST_P(ReadApiTest, SnapshotSeesExactlyTheWritesBeforeIt) {
  open();
  for (int i = 0; i < 500; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "old" + std::to_string(i)));
  ASSERT_NO_FATAL_FAILURE(settle());
  auto snap = db_->snapshot();
  ASSERT_NE(nullptr, snap);
  const Model at_snapshot = model_;
  EXPECT_EQ(1u, db_->stats().live_snapshots);
  for (int i = 0; i < 500; i += 2) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "new" + std::to_string(i)));
  for (int i = 1; i < 500; i += 3) ASSERT_NO_FATAL_FAILURE(remove("key" + std::to_string(i)));
  ASSERT_NO_FATAL_FAILURE(put("added", "after"));
  ReadOptions ro;
  ro.snapshot = snap.get();
  // Through each step that moves data: nothing changes at the snapshot.
  for (int step = 0; step < 3; step++) {
    SCOPED_TRACE("step " + std::to_string(step));
    for (const auto& [key, value] : at_snapshot) {
      std::string v;
      ASSERT_TRUE(db_->get(key, &v, ro).ok()) << key;
      ASSERT_EQ(value, v);
    }
    std::string v;
    EXPECT_TRUE(db_->get("added", &v, ro).IsNotFound());
    EXPECT_TRUE(db_->get("added", &v).ok());
    EXPECT_EQ(Expected(at_snapshot, ScanOptions{}), Collect(db_->scan(std::nullopt, std::nullopt, 0, ro)));
    ScanOptions rev;
    rev.reverse = true;
    EXPECT_EQ(Expected(at_snapshot, rev), Collect(db_->new_scan(rev, ro)));
    EXPECT_EQ(Expected(model_, ScanOptions{}), Collect(db_->scan(std::nullopt, std::nullopt)));
    if (step == 0) {
      ASSERT_NO_FATAL_FAILURE(flush());
    } else if (step == 1) {
      ASSERT_NO_FATAL_FAILURE(compact());
    }
  }
  snap.reset();
  EXPECT_EQ(0u, db_->stats().live_snapshots);
}

TEST_P(ReadApiTest, ReleasingTheSnapshotLetsCompactionDropOldVersions) {
  open();
  constexpr int kKeys = 400;
  for (int i = 0; i < kKeys; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "v1"));
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_EQ(uint64_t{kKeys}, db_->stats().tree_entries);

  auto snap = db_->snapshot();
  for (int i = 0; i < kKeys; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "v2"));
  ASSERT_NO_FATAL_FAILURE(compact());
  // Both versions of every key are kept for the snapshot.
  EXPECT_EQ(uint64_t{2 * kKeys}, db_->stats().tree_entries);
  ReadOptions ro;
  ro.snapshot = snap.get();
  EXPECT_EQ("v1", db_->get("key7", ro).value());
  EXPECT_EQ("v2", db_->get("key7").value());

  snap.reset();
  for (int i = 0; i < kKeys; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "v3"));
  ASSERT_NO_FATAL_FAILURE(compact());
  // Without a snapshot only the newest version survives the merge.
  EXPECT_EQ(uint64_t{kKeys}, db_->stats().tree_entries);
  EXPECT_EQ("v3", db_->get("key7").value());
}

TEST_P(ReadApiTest, SnapshotKeepsDeletedKeysUntilReleased) {
  open();
  ASSERT_NO_FATAL_FAILURE(put("gone", "here"));
  ASSERT_NO_FATAL_FAILURE(compact());
  auto snap = db_->snapshot();
  ASSERT_NO_FATAL_FAILURE(remove("gone"));
  ASSERT_NO_FATAL_FAILURE(compact());
  ReadOptions ro;
  ro.snapshot = snap.get();
  EXPECT_EQ("here", db_->get("gone", ro).value());
  EXPECT_TRUE(db_->get("gone").status().IsNotFound());
  EXPECT_EQ((Entries{{"gone", "here"}}), Collect(db_->scan_prefix("go", 0, ro)));
  EXPECT_TRUE(Collect(db_->scan_prefix("go")).empty());
}

TEST_P(ReadApiTest, SnapshotMisuseIsAnError) {
  open();
  ASSERT_NO_FATAL_FAILURE(put("k", "v"));
  // A snapshot of another database.
  auto other = Database::open(path_ + "-other", options_);
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  auto foreign = other.value()->snapshot();
  ReadOptions ro;
  ro.snapshot = foreign.get();
  std::string v;
  EXPECT_TRUE(db_->get("k", &v, ro).IsInvalidArgument());
  auto it = db_->new_iterator(ro);
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsInvalidArgument()) << it->status().ToString();
  Status st;
  EXPECT_TRUE(Collect(db_->scan(std::nullopt, std::nullopt, 0, ro), &st).empty());
  EXPECT_TRUE(st.IsInvalidArgument()) << st.ToString();
  auto batch = db_->get_batch(std::vector<std::string>{"k", "x"}, ro);
  ASSERT_EQ(2u, batch.size());
  EXPECT_TRUE(batch[0].status().IsInvalidArgument());
  EXPECT_TRUE(batch[1].status().IsInvalidArgument());

  // A snapshot used after close, and one outliving its database.
  auto snap = db_->snapshot();
  ASSERT_TRUE(other.value()->close().ok());
  other.value().reset();
  EXPECT_EQ(0u, foreign->sequence());  // still readable: it refers to nothing
  foreign.reset();
  ASSERT_NO_FATAL_FAILURE(close());
  ASSERT_NO_FATAL_FAILURE(open());
  ro.snapshot = snap.get();
  EXPECT_TRUE(db_->get("k", &v, ro).IsInvalidArgument()) << "a snapshot of an earlier session";
  std::shared_ptr<const Snapshot> late;
  {
    Status s = db_->close();
    ASSERT_TRUE(s.ok());
    late = db_->snapshot();
    ASSERT_NE(nullptr, late);
    ro.snapshot = late.get();
    EXPECT_TRUE(db_->get("k", &v, ro).IsClosed());
    EXPECT_TRUE(db_->get_batch(std::vector<std::string>{"k"}, ro).at(0).status().IsClosed());
    db_.reset();
  }
  snap.reset();
  late.reset();
}

// ---------------------------------------------------------------- get_batch

TEST_P(ReadApiTest, GetBatchReadsEachKey) {
  open();
  for (int i = 0; i < 100; i++) ASSERT_NO_FATAL_FAILURE(put("key" + std::to_string(i), "v" + std::to_string(i)));
  ASSERT_NO_FATAL_FAILURE(remove("key5"));
  ASSERT_NO_FATAL_FAILURE(settle());
  const std::vector<std::string> keys = {"key1", "key5", "missing", "", "key99", "key1", std::string(5000, 'x')};
  auto r = db_->get_batch(keys);
  ASSERT_EQ(keys.size(), r.size());
  EXPECT_EQ("v1", r[0].value());
  EXPECT_TRUE(r[1].status().IsNotFound());
  EXPECT_TRUE(r[2].status().IsNotFound());
  EXPECT_TRUE(r[3].status().IsInvalidArgument()) << "an empty key fails alone";
  EXPECT_EQ("v99", r[4].value());
  EXPECT_EQ("v1", r[5].value());
  EXPECT_TRUE(r[6].status().IsInvalidArgument()) << "an oversized key fails alone";
  EXPECT_TRUE(db_->get_batch(std::vector<Slice>{}).empty());

  auto snap = db_->snapshot();
  ASSERT_NO_FATAL_FAILURE(put("key1", "changed"));
  ReadOptions ro;
  ro.snapshot = snap.get();
  EXPECT_EQ("v1", db_->get_batch(std::vector<std::string>{"key1"}, ro).at(0).value());
  EXPECT_EQ("changed", db_->get_batch(std::vector<std::string>{"key1"}).at(0).value());
}

// A writer keeps setting three keys to one new value per atomic batch;
// get_batch must never see them differ.
TEST_P(ReadApiTest, ConcurrentGetBatchIsConsistent) {
  open();
  const std::vector<std::string> keys = {"a", "m", "z"};
  {
    WriteBatch b;
    for (const auto& k : keys) ASSERT_TRUE(b.put(k, "0").ok());
    ASSERT_TRUE(db_->write(b).ok());
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 1; i < 3000 && !stop.load(); i++) {
      WriteBatch b;
      // Filler between the keys so that flushes cut tables between them.
      bool ok = true;
      for (int f = 0; f < 8; f++) {
        ok = ok && b.put("f" + std::to_string(i % 300) + "-" + std::to_string(f), std::string(100, 'x')).ok();
      }
      for (const auto& k : keys) ok = ok && b.put(k, std::to_string(i)).ok();
      if (!ok) break;
      if (!db_->write(b).ok()) break;
      if (i % 500 == 0 && !db_->flush().ok()) break;
    }
    stop = true;
  });
  int reads = 0;
  while (!stop.load()) {
    auto r = db_->get_batch(std::vector<std::string>(keys));
    ASSERT_EQ(3u, r.size());
    for (const auto& x : r) ASSERT_TRUE(x.ok()) << x.status().ToString();
    ASSERT_EQ(r[0].value(), r[1].value());
    ASSERT_EQ(r[0].value(), r[2].value());
    reads++;
  }
  writer.join();
  EXPECT_GT(reads, 0);
}

INSTANTIATE_TEST_SUITE_P(Configs, ReadApiTest, ::testing::ValuesIn(ReadParams()), ReadParamName);

// ---------------------------------------------------------------- prefix filters

class PrefixFilterTest : public test::ModelDbTest {
 protected:
  PrefixFilterTest() : ModelDbTest("prefix_filter_test", Options()) {
    use_env(true);
    extractor_ = NewFixedPrefixExtractor(4);
    options_.prefix_extractor = extractor_.get();
    options_.level0_file_num_compaction_trigger = 100;
    options_.level0_slowdown_writes_trigger = 200;
    options_.level0_stop_writes_trigger = 300;
  }

  // One level-0 table per group of prefixes: "p000".."p009" in the first,
  // "p010".."p019" in the second, ...; only even prefixes get keys.
  void fill(int tables) {
    for (int t = 0; t < tables; t++) {
      for (int p = t * 10; p < t * 10 + 10; p += 2) {
        for (int i = 0; i < 20; i++) {
          char key[32];
          std::snprintf(key, sizeof(key), "p%03d:%04d", p, i);
          ASSERT_NO_FATAL_FAILURE(put(key, "value-" + std::string(key)));
        }
      }
      ASSERT_NO_FATAL_FAILURE(flush());
    }
  }

  Entries expected_prefix(const std::string& prefix) const {
    ScanOptions o;
    o.prefix = prefix;
    return Expected(model_, o);
  }

  std::unique_ptr<PrefixExtractor> extractor_;
};

TEST_F(PrefixFilterTest, ScanPrefixSkipsTablesWhoseFilterExcludesThePrefix) {
  open();
  ASSERT_NO_FATAL_FAILURE(fill(6));
  ASSERT_EQ(6, db_->stats().levels.at(0).files);
  // A prefix inside a table's key range but absent (odd): every table is
  // skipped by its filter (each overlaps nothing else, or holds no "p013").
  const uint64_t before = db_->stats().prefix_filter_skips;
  EXPECT_TRUE(Collect(db_->scan_prefix("p013")).empty());
  const uint64_t skipped = db_->stats().prefix_filter_skips - before;
  // All six tables are level-0 children of the iterator; a 1% false
  // positive rate makes missing more than one vanishingly unlikely.
  EXPECT_GE(skipped, 5u);
  // Present prefixes are found whole, in both directions.
  for (const char* prefix : {"p000", "p012", "p058", "p02"}) {
    SCOPED_TRACE(prefix);
    EXPECT_EQ(expected_prefix(prefix), Collect(db_->scan_prefix(prefix)));
    EXPECT_EQ(20u * (std::string(prefix).size() == 4 ? 1 : 5), Collect(db_->scan_prefix(prefix)).size());
    ScanOptions o;
    o.prefix = prefix;
    o.reverse = true;
    auto want = expected_prefix(prefix);
    std::reverse(want.begin(), want.end());
    EXPECT_EQ(want, Collect(db_->new_scan(o)));
  }
  // A shorter prefix is outside the extractor's domain: no filter is used.
  const uint64_t before_short = db_->stats().prefix_filter_skips;
  EXPECT_EQ(expected_prefix("p03"), Collect(db_->scan_prefix("p03")));
  EXPECT_EQ(before_short, db_->stats().prefix_filter_skips);
  // Deeper levels too (the concatenating iterator opens tables lazily).
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_NO_FATAL_FAILURE(fill(3));
  EXPECT_EQ(expected_prefix("p012"), Collect(db_->scan_prefix("p012")));
  EXPECT_EQ(expected_prefix("p001"), Collect(db_->scan_prefix("p001")));
}

TEST_F(PrefixFilterTest, TablesOfAnotherExtractorAreNeverSkipped) {
  open();
  ASSERT_NO_FATAL_FAILURE(fill(3));
  ASSERT_NO_FATAL_FAILURE(close());
  // Same data, read with a different extractor: the tables' filters hold
  // 4-byte prefixes, which say nothing about 3-byte ones.
  auto three = NewFixedPrefixExtractor(3);
  options_.prefix_extractor = three.get();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(expected_prefix("p01"), Collect(db_->scan_prefix("p01")));
  EXPECT_TRUE(Collect(db_->scan_prefix("p99")).empty());
  EXPECT_EQ(0u, db_->stats().prefix_filter_skips);
  ASSERT_NO_FATAL_FAILURE(close());
  options_.prefix_extractor = nullptr;
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ(expected_prefix("p012"), Collect(db_->scan_prefix("p012")));
  EXPECT_EQ(0u, db_->stats().prefix_filter_skips);
}

// A tombstone for a key of the scanned prefix lives in a table with that
// prefix, so skipping other tables never resurrects it.
TEST_F(PrefixFilterTest, DeletedKeysStayDeletedInPrefixScans) {
  open();
  ASSERT_NO_FATAL_FAILURE(fill(2));
  ASSERT_NO_FATAL_FAILURE(remove("p012:0003"));
  ASSERT_NO_FATAL_FAILURE(flush());
  ASSERT_NO_FATAL_FAILURE(put("p013:0001", "new"));
  ASSERT_NO_FATAL_FAILURE(flush());
  EXPECT_EQ(expected_prefix("p012"), Collect(db_->scan_prefix("p012")));
  EXPECT_EQ(expected_prefix("p013"), Collect(db_->scan_prefix("p013")));
  ASSERT_NO_FATAL_FAILURE(compact());
  EXPECT_EQ(expected_prefix("p012"), Collect(db_->scan_prefix("p012")));
}

// ---------------------------------------------------------------- concurrency

// Writers (serialized with the model through write_mu) put, remove and
// write batches over a small key space while flushes and compactions run;
// a snapshot keeper takes snapshots together with a copy of the model and
// releases old ones; readers pick a live snapshot, create an iterator at it
// (possibly long after it was taken: compaction must have kept what it
// sees) and walk randomly, forwards and backwards, checking each step; they
// also check get and get_batch at the snapshot.
TEST(ReadApiConcurrentTest, ConcurrentIteratorsAtLiveSnapshotsMatchTheirModels) {
  test::TempDir dir("read_api_concurrent");
  Options options;
  options.memtable_size = 64 * 1024;
  options.target_file_size = 64 * 1024;
  options.block_size = 1024;
  options.max_bytes_for_level_base = 256 * 1024;
  auto opened = Database::open(dir.path() + "/db", options);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<Database> db = std::move(opened.value());
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));

  struct Taken {
    std::shared_ptr<const Snapshot> snapshot;
    std::shared_ptr<const Model> model;
  };
  std::mutex write_mu;  // writes + model updates + snapshot taking
  Model model;
  std::mutex snaps_mu;
  std::vector<Taken> snaps;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<uint64_t> steps_checked{0};

  auto key_of = [](uint64_t i) {
    char buf[16];
    std::snprintf(buf, sizeof(buf), "k%04llu", static_cast<unsigned long long>(i));
    return std::string(buf);
  };
  constexpr uint64_t kKeys = 400;
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
    stop = true;
  };

  auto writer = [&](uint64_t id) {
    test::Random rnd(seed + id);
    for (int op = 0; op < 4000 && !stop.load(); op++) {
      std::lock_guard<std::mutex> l(write_mu);
      const std::string key = key_of(rnd.uniform(kKeys));
      Status s;
      if (rnd.one_in(4)) {
        s = db->remove(key);
        if (s.ok()) model.erase(key);
      } else if (rnd.one_in(8)) {
        WriteBatch b;
        Model updates;
        for (int i = 0; i < 5; i++) {
          const std::string k = key_of(rnd.uniform(kKeys));
          const std::string v = "b" + std::to_string(id) + "-" + std::to_string(op) + "-" + std::to_string(i);
          if (!b.put(k, v).ok()) fail("batch put");
          updates[k] = v;
        }
        s = db->write(b);
        if (s.ok()) {
          for (auto& [k, v] : updates) model[k] = v;
        }
      } else {
        const std::string v = "w" + std::to_string(id) + "-" + std::to_string(op) + std::string(rnd.uniform(200), 'x');
        s = db->put(key, v);
        if (s.ok()) model[key] = v;
      }
      if (!s.ok()) fail("write: " + s.ToString());
    }
  };

  auto keeper = [&] {
    test::Random rnd(seed + 100);
    while (!stop.load()) {
      Taken t;
      {
        std::lock_guard<std::mutex> l(write_mu);
        t.snapshot = db->snapshot();
        t.model = std::make_shared<const Model>(model);
      }
      {
        std::lock_guard<std::mutex> l(snaps_mu);
        snaps.push_back(std::move(t));
        // Keep up to 6 live, releasing a random one (the oldest often stays
        // for a long time, so compactions run under it).
        if (snaps.size() > 6) snaps.erase(snaps.begin() + static_cast<long>(1 + rnd.uniform(snaps.size() - 1)));
      }
      if (rnd.one_in(3)) {
        Status s = rnd.one_in(2) ? db->flush() : db->compact();
        if (!s.ok()) fail("flush/compact: " + s.ToString());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  };

  auto reader = [&](uint64_t id) {
    test::Random rnd(seed + 200 + id);
    while (!stop.load()) {
      Taken t;
      {
        std::lock_guard<std::mutex> l(snaps_mu);
        if (snaps.empty()) continue;
        t = snaps[rnd.uniform(snaps.size())];
      }
      const Model& m = *t.model;
      ReadOptions ro;
      ro.snapshot = t.snapshot.get();
      auto it = db->new_iterator(ro);
      const std::string target = key_of(rnd.uniform(kKeys + 10));
      Model::const_iterator pos;
      if (rnd.one_in(4)) {
        it->seek_to_first();
        pos = m.begin();
      } else if (rnd.one_in(3)) {
        it->seek_for_prev(target);
        pos = m.upper_bound(target);
        pos = pos == m.begin() ? m.end() : std::prev(pos);
      } else {
        it->seek(target);
        pos = m.lower_bound(target);
      }
      for (int step = 0; step < 50; step++) {
        if (!it->status().ok()) return fail("iterator: " + it->status().ToString());
        if ((pos != m.end()) != it->valid()) {
          return fail("snapshot " + std::to_string(t.snapshot->sequence()) + " step " + std::to_string(step) +
                      ": valid " + std::to_string(it->valid()) + " expected key " +
                      (pos == m.end() ? "<end>" : pos->first));
        }
        if (pos == m.end()) break;
        if (it->key() != Slice(pos->first) || it->value() != Slice(pos->second)) {
          return fail("snapshot " + std::to_string(t.snapshot->sequence()) + ": got " + it->key().ToString() +
                      " expected " + pos->first);
        }
        steps_checked++;
        if (rnd.one_in(2)) {
          it->next();
          ++pos;
        } else {
          it->prev();
          pos = pos == m.begin() ? m.end() : std::prev(pos);
        }
      }
      // Point reads at the same snapshot.
      std::vector<std::string> keys;
      for (int i = 0; i < 4; i++) keys.push_back(key_of(rnd.uniform(kKeys)));
      auto got = db->get_batch(keys, ro);
      for (size_t i = 0; i < keys.size(); i++) {
        auto want = m.find(keys[i]);
        if (want == m.end() ? !got[i].status().IsNotFound() : (!got[i].ok() || got[i].value() != want->second)) {
          return fail("get_batch " + keys[i] + " at " + std::to_string(t.snapshot->sequence()) + ": " +
                      got[i].status().ToString());
        }
      }
    }
  };

  std::vector<std::thread> threads;
  threads.emplace_back(writer, 1);
  threads.emplace_back(writer, 2);
  threads.emplace_back(keeper);
  threads.emplace_back(reader, 1);
  threads.emplace_back(reader, 2);
  threads[0].join();
  threads[1].join();
  stop = true;
  for (size_t i = 2; i < threads.size(); i++) threads[i].join();
  EXPECT_EQ(0, failures.load());
  EXPECT_GT(steps_checked.load(), 1000u);
  // The final state, after everything settled into the tree.
  snaps.clear();
  ASSERT_TRUE(db->compact().ok());
  Entries want(model.begin(), model.end());
  EXPECT_EQ(want, Collect(db->scan(std::nullopt, std::nullopt)));
  EXPECT_EQ(0u, db->stats().live_snapshots);
  ASSERT_TRUE(db->close().ok());
}

}  // namespace
}  // namespace lightning
