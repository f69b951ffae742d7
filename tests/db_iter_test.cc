// Copyright (c) Lightning authors. MIT License.
//
// The public database iterator (Database::new_iterator, src/db/db_iter.h),
// over every place data lives at once: the memtable, immutable memtables,
// level 0, deeper levels and the B+Tree.
//
//  - DbIterLogicTest: the DBIter logic alone over a vector of internal keys
//    with many versions per key, tombstones and a random read sequence,
//    against a model; with an injected error at every position (never a
//    wrong entry, the error reported); malformed internal keys.
//  - DbIterModelTest (three option sets: POSIX + LZ4, in-memory + no codec,
//    POSIX + no codec with the tree read by pread): random puts, overwrites
//    and removes with flushes and compactions, checked against a std::map at
//    points where stats() shows data in all tiers (an immutable memtable is
//    held there by stalling its flush at a gate): full scans both ways, then
//    random seek / seek_for_prev targets each followed by a random walk of
//    next/prev with direction changes.
//  - DbIterModelTest.Snapshot...: an iterator keeps showing the database as
//    of its creation while later writes, flushes, compactions and tree
//    merges happen, also when positioned mid-way before them; what it pins
//    is released when it is destroyed.
//  - DbIterTest: empty database, everything deleted, hand-checked edges,
//    blobs and empty values, a damaged table, the iterator after close().
//  - DbIterTest.Concurrent...: writers, iterating threads, flushes and
//    compactions at once (CI runs Concurrent* under ThreadSanitizer).
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./db_iter_test --gtest_filter=...
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "db/db_iter.h"
#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/stats.h"
#include "lightning/write_batch.h"
#include "util/db_test_util.h"
#include "util/model_db_test.h"
#include "util/random.h"
#include "util/temp_dir.h"
#include "util/vector_iterator.h"

namespace lightning {
namespace {

constexpr size_t kKiB = 1024;
constexpr std::chrono::seconds kWaitTimeout{60};

using Model = std::map<std::string, std::string>;
using Entries = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------- helpers

using test::Printable;

// "L0 1 L6 2 | imm 1 | tree 1234 entries"
std::string Describe(const DatabaseStats& st) {
  std::string s;
  for (size_t i = 0; i < st.levels.size(); i++) {
    if (st.levels[i].files > 0) s += "L" + std::to_string(i) + " " + std::to_string(st.levels[i].files) + " ";
  }
  return s + "| imm " + std::to_string(st.immutable_memtables) + " | memtable bytes " +
         std::to_string(st.memtable_bytes) + " | tree " + std::to_string(st.tree_entries) + " entries, height " +
         std::to_string(st.tree_height);
}

int DeeperTables(const DatabaseStats& st) {
  int n = 0;
  for (size_t i = 1; i < st.levels.size(); i++) n += st.levels[i].files;
  return n;
}

int ListedTables(const DatabaseStats& st) { return st.levels.at(0).files + DeeperTables(st); }

bool WaitFor(const std::function<bool()>& cond) {
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

int SstFiles(Env* env, const std::string& dir) {
  std::vector<std::string> children;
  EXPECT_TRUE(env->get_children(dir, &children).ok());
  int n = 0;
  for (const auto& name : children) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".sst") == 0) n++;
  }
  return n;
}

// An Env that forwards everything and, while its gate is shut, holds any
// thread creating an .sst file (a flush or a compaction output). Shutting it
// keeps an immutable memtable waiting for its flush.
class GateEnv final : public EnvWrapper {
 public:
  explicit GateEnv(Env* target) : EnvWrapper(target) {}

  void shut() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

  Status new_writable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    if (f.size() > 4 && f.compare(f.size() - 4, 4, ".sst") == 0) {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return open_; });
    }
    return target()->new_writable_file(f, r);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
};

// Opens the gate when destroyed, so that no exit path (a failed ASSERT
// included) leaves a flush stuck while the database closes.
class GateOpener {
 public:
  explicit GateOpener(GateEnv* gate) : gate_(gate) {}
  ~GateOpener() { gate_->open(); }
  GateOpener(const GateOpener&) = delete;
  GateOpener& operator=(const GateOpener&) = delete;

 private:
  GateEnv* const gate_;
};

// ---------------------------------------------------------------- checking an iterator against a model

// Compares the iterator's position with entry idx of e (idx outside e: the
// iterator must be !valid() with an OK status). Returns "" or the mismatch.
std::string ExpectAt(const Iterator* it, const Entries& e, long idx, const std::string& where) {
  if (idx < 0 || idx >= static_cast<long>(e.size())) {
    if (it->valid()) return where + ": expected the end, got key " + Printable(it->key());
    if (!it->status().ok()) return where + ": expected the end, got status " + it->status().ToString();
    return "";
  }
  const auto& [key, value] = e[static_cast<size_t>(idx)];
  if (!it->valid()) {
    return where + ": expected key " + Printable(key) + ", got the end (status " + it->status().ToString() + ")";
  }
  if (it->key() != Slice(key)) {
    return where + ": expected key " + Printable(key) + ", got " + Printable(it->key());
  }
  if (it->value() != Slice(value)) {
    return where + ": key " + Printable(key) + " has a wrong value of " + std::to_string(it->value().size()) +
           " bytes (expected " + std::to_string(value.size()) + ")";
  }
  return "";
}

// A seek target: an existing key, a neighbour of one (a prefix, or the key
// followed by a NUL or 0xff), a random key in or out of the key space, or an
// extreme.
std::string RandomTarget(test::Random* rnd, const Entries& e) {
  const uint64_t r = rnd->uniform(100);
  if (!e.empty() && r < 70) {
    std::string k = e[rnd->uniform(e.size())].first;
    if (r < 35) return k;
    if (r < 45) return k + std::string(1, '\0');
    if (r < 55) return k + "\xff";
    if (k.size() > 1) k.resize(1 + rnd->uniform(k.size() - 1));
    return k;
  }
  if (r < 80) return "k" + std::to_string(rnd->uniform(100000));
  if (r < 85) return "";
  if (r < 90) return std::string(3, '\xff');
  if (r < 95) return std::string(1, '\0');
  return rnd->random_bytes(1 + rnd->uniform(6));
}

// Full scans both ways, then `seeks` random seek()/seek_for_prev()/
// seek_to_first()/seek_to_last() each followed by a random walk of up to
// `walk` next()/prev() steps that changes direction often. Returns "" or the
// first mismatch.
//
// With allow_errors (an injected error somewhere below the iterator), a
// position may instead be !valid() with Corruption, which ends that scan or
// walk; every entry shown must still be right.
std::string CheckIterator(Iterator* it, const Model& model, test::Random* rnd, int seeks = 150, int walk = 25,
                          bool allow_errors = false) {
  const Entries e(model.begin(), model.end());
  const long n = static_cast<long>(e.size());
  std::string err;
  // True if the iterator stopped on an (allowed) error.
  auto stopped = [&] { return allow_errors && !it->valid() && it->status().IsCorruption(); };

  it->seek_to_first();
  for (long i = 0; i <= n && !stopped(); i++) {
    if (!(err = ExpectAt(it, e, i, "forward scan, entry " + std::to_string(i))).empty()) return err;
    if (i < n) it->next();
  }
  it->seek_to_last();
  for (long i = n - 1; i >= -1 && !stopped(); i--) {
    if (!(err = ExpectAt(it, e, i, "backward scan, entry " + std::to_string(i))).empty()) return err;
    if (i >= 0) it->prev();
  }

  for (int s = 0; s < seeks; s++) {
    long idx = 0;
    std::string where;
    const uint64_t kind = rnd->uniform(20);
    if (kind == 0) {
      it->seek_to_first();
      idx = 0;
      where = "seek_to_first()";
    } else if (kind == 1) {
      it->seek_to_last();
      idx = n - 1;
      where = "seek_to_last()";
    } else {
      const std::string target = RandomTarget(rnd, e);
      auto by_key = [](const std::pair<std::string, std::string>& a, const std::string& b) { return a.first < b; };
      const long lower = std::lower_bound(e.begin(), e.end(), target, by_key) - e.begin();
      if (rnd->one_in(2)) {
        it->seek(target);
        idx = lower;
        where = "seek(" + Printable(target) + ")";
      } else {
        it->seek_for_prev(target);
        // The last key <= target.
        idx = (lower < n && e[static_cast<size_t>(lower)].first == target) ? lower : lower - 1;
        where = "seek_for_prev(" + Printable(target) + ")";
      }
    }
    if (stopped()) continue;
    if (!(err = ExpectAt(it, e, idx, where)).empty()) return err;
    bool forward = rnd->one_in(2);
    const int steps = static_cast<int>(rnd->uniform(static_cast<uint64_t>(walk) + 1));
    for (int step = 0; step < steps && idx >= 0 && idx < n; step++) {
      if (rnd->one_in(3)) forward = !forward;
      if (forward) {
        it->next();
        idx++;
        where += " next";
      } else {
        it->prev();
        idx--;
        where += " prev";
      }
      if (stopped()) break;
      if (!(err = ExpectAt(it, e, idx, where)).empty()) return err;
    }
  }
  return "";
}


// ---------------------------------------------------------------- the DBIter logic alone

// Internal entries: user keys with several versions each (values and
// tombstones, sequence numbers unique and shuffled across keys), sorted by
// internal key; *max_sequence is the largest.
std::vector<test::Entry> RandomInternalEntries(test::Random* rnd, SequenceNumber* max_sequence) {
  const int num_keys = 1 + static_cast<int>(rnd->uniform(40));
  std::vector<std::string> user_keys;
  for (int i = 0; i < num_keys; i++) {
    user_keys.push_back(rnd->one_in(8) ? rnd->random_bytes(1 + rnd->uniform(4)) : rnd->random_key(1 + rnd->uniform(3)));
  }
  std::sort(user_keys.begin(), user_keys.end());
  user_keys.erase(std::unique(user_keys.begin(), user_keys.end()), user_keys.end());
  std::vector<std::pair<std::string, ValueType>> versions;
  for (const auto& k : user_keys) {
    const int n = static_cast<int>(rnd->uniform(6));  // a key may have none
    for (int v = 0; v < n; v++) versions.emplace_back(k, rnd->one_in(4) ? kTypeDeletion : kTypeValue);
  }
  // Unique sequence numbers in random order.
  std::vector<SequenceNumber> seqs(versions.size());
  for (size_t i = 0; i < seqs.size(); i++) seqs[i] = i + 1;
  for (size_t i = seqs.size(); i > 1; i--) std::swap(seqs[i - 1], seqs[rnd->uniform(i)]);
  *max_sequence = seqs.size();
  std::vector<test::Entry> entries;
  for (size_t i = 0; i < versions.size(); i++) {
    std::string ikey;
    AppendInternalKey(&ikey, ParsedInternalKey{versions[i].first, seqs[i], versions[i].second});
    std::string value = versions[i].second == kTypeValue && !rnd->one_in(5)
                            ? versions[i].first + "@" + std::to_string(seqs[i])
                            : std::string();
    entries.push_back(test::Entry{ikey, value});
  }
  static const InternalKeyComparator icmp(BytewiseComparator());
  std::sort(entries.begin(), entries.end(),
            [](const test::Entry& a, const test::Entry& b) { return icmp.compare(a.key, b.key) < 0; });
  return entries;
}

// The user's view of entries at sequence: each key's newest version at or
// below it, unless that is a tombstone.
Model ModelAt(const std::vector<test::Entry>& entries, SequenceNumber sequence) {
  Model model;
  std::string done;  // the last user key decided
  bool any = false;
  for (const auto& e : entries) {  // newest version of a key first
    ParsedInternalKey p;
    EXPECT_TRUE(ParseInternalKey(e.key, &p));
    if (p.sequence > sequence) continue;
    const std::string user_key = p.user_key.ToString();
    if (any && user_key == done) continue;
    any = true;
    done = user_key;
    if (p.type == kTypeValue) model[user_key] = e.value;
  }
  return model;
}

TEST(DbIterLogicTest, RandomVersionsMatchModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with LIGHTNING_TEST_SEED=" + std::to_string(seed) + ")");
  test::Random rnd(seed);
  static const InternalKeyComparator icmp(BytewiseComparator());
  for (int round = 0; round < 300; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    SequenceNumber max_sequence = 0;
    auto entries = RandomInternalEntries(&rnd, &max_sequence);
    const SequenceNumber sequence = rnd.one_in(4) ? max_sequence : rnd.uniform(max_sequence + 2);
    const Model model = ModelAt(entries, sequence);
    auto it = NewDBIterator(BytewiseComparator(), sequence,
                            std::make_unique<test::VectorIterator>(&icmp, std::move(entries)));
    ASSERT_EQ("", CheckIterator(it.get(), model, &rnd, 60, 20));
  }
}

// The source fails (as a damaged block would) on landing at one entry, for
// every entry in turn: nothing wrong is ever shown (in particular no older
// version of a key whose newer version sits in the damage), and a scan that
// reaches the damage stops with Corruption.
TEST(DbIterLogicTest, ErrorAtEveryPositionNeverShowsWrongData) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with LIGHTNING_TEST_SEED=" + std::to_string(seed) + ")");
  test::Random rnd(seed);
  static const InternalKeyComparator icmp(BytewiseComparator());
  for (int round = 0; round < 30; round++) {
    SequenceNumber max_sequence = 0;
    const auto entries = RandomInternalEntries(&rnd, &max_sequence);
    const SequenceNumber sequence = rnd.one_in(2) ? max_sequence : rnd.uniform(max_sequence + 2);
    const Model model = ModelAt(entries, sequence);
    for (size_t fail_at = 0; fail_at < entries.size(); fail_at++) {
      SCOPED_TRACE("round " + std::to_string(round) + ", failing at entry " + std::to_string(fail_at) + " of " +
                   std::to_string(entries.size()));
      auto it = NewDBIterator(BytewiseComparator(), sequence,
                              std::make_unique<test::VectorIterator>(&icmp, entries, fail_at));
      // A full scan passes every entry, so it meets the damage.
      it->seek_to_first();
      while (it->valid()) it->next();
      EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
      it->seek_to_last();
      while (it->valid()) it->prev();
      EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
      ASSERT_EQ("", CheckIterator(it.get(), model, &rnd, 30, 10, /*allow_errors=*/true));
    }
  }
}

// A malformed internal key (too short, or an unknown type) is Corruption,
// never shown and never skipped.
TEST(DbIterLogicTest, MalformedInternalKeyIsCorruption) {
  static const InternalKeyComparator icmp(BytewiseComparator());
  std::string good_a, good_c, unknown_type;
  AppendInternalKey(&good_a, ParsedInternalKey{"a", 1, kTypeValue});
  AppendInternalKey(&good_c, ParsedInternalKey{"c", 2, kTypeValue});
  unknown_type = "b" + std::string(8, '\x07');  // type 7, sequence 0x0707...
  for (const std::string& bad : {std::string("b"), unknown_type}) {
    std::vector<test::Entry> entries = {{good_a, "1"}, {bad, "x"}, {good_c, "3"}};
    auto it = NewDBIterator(BytewiseComparator(), kMaxSequenceNumber,
                            std::make_unique<test::VectorIterator>(&icmp, entries));
    it->seek_to_first();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key().ToString(), "a");
    it->next();
    EXPECT_FALSE(it->valid());
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
    it->seek_to_last();
    EXPECT_FALSE(it->valid());
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
    it->seek("a");  // starts afresh
    ASSERT_TRUE(it->valid()) << it->status().ToString();
    EXPECT_TRUE(it->status().ok());
  }
}

// ---------------------------------------------------------------- fixture

// One option set of the model tests.
struct IterConfig {
  std::string name;
  bool memory_env = false;
  CompressionType compression = CompressionType::kLz4;
  uint64_t mmap_size = uint64_t{1} << 30;
};

std::vector<IterConfig> IterConfigs() {
  std::vector<IterConfig> configs;
  configs.push_back(IterConfig{"PosixLz4", false, CompressionType::kLz4, uint64_t{1} << 30});
  configs.push_back(IterConfig{"MemoryNone", true, CompressionType::kNone, uint64_t{1} << 30});
  configs.push_back(IterConfig{"PosixNonePread", false, CompressionType::kNone, 0});
  return configs;
}

std::string IterConfigName(const ::testing::TestParamInfo<IterConfig>& info) { return info.param.name; }

// 64 KiB memtables, tables and level base, level-0 compaction at two tables,
// 4 KiB tree pages: a few hundred KiB of writes reach every tier.
Options SmallOptions() {
  Options o;
  o.memtable_size = 64 * kKiB;
  o.max_bytes_for_level_base = 64 * kKiB;
  o.target_file_size = 64 * kKiB;
  o.level0_file_num_compaction_trigger = 2;
  o.page_size = 4096;
  o.cache_size = 1 << 20;
  return o;
}

class DbIterTestBase : public test::ModelDbTest {
 protected:
  DbIterTestBase() : ModelDbTest("db_iter_test", SmallOptions()) {}

  // The database runs on a GateEnv over the chosen base Env.
  void use_env(bool memory) {
    ModelDbTest::use_env(memory);
    gate_env_ = std::make_unique<GateEnv>(base_env_);
    options_.env = gate_env_.get();
  }
  std::unique_ptr<Iterator> iter() {
    auto it = db_->new_iterator();
    EXPECT_NE(it, nullptr);
    return it;
  }

  std::unique_ptr<GateEnv> gate_env_;
};

// ---------------------------------------------------------------- model tests

class DbIterModelTest : public DbIterTestBase, public ::testing::WithParamInterface<IterConfig> {
 protected:
  DbIterModelTest() {
    const IterConfig& c = GetParam();
    use_env(c.memory_env);
    options_.compression = c.compression;
    options_.mmap_size = c.mmap_size;
  }

  // The key space: mostly "k<5 digits>", some binary keys (NULs, 0xff) and
  // a few long ones, so that seeks land between keys of every kind.
  void make_keys(test::Random* rnd, int n) {
    for (int i = 0; i < n; i++) {
      char buf[16];
      std::snprintf(buf, sizeof(buf), "k%05d", i * 3);
      keys_.emplace_back(buf);
    }
    for (int i = 0; i < n / 50; i++) {
      std::string k = rnd->random_bytes(1 + rnd->uniform(12));
      if (rnd->one_in(2)) k[0] = '\0';
      keys_.push_back(k);
      keys_.push_back(std::string(1, '\xff') + k);
      keys_.push_back("k" + rnd->random_key(200 + rnd->uniform(300)));
    }
  }

  // Empty (10%), small, around a block, or larger than a tree page (a blob).
  std::string random_value(test::Random* rnd, const std::string& key) {
    const uint64_t r = rnd->uniform(100);
    size_t size = 0;
    if (r < 10) {
      size = 0;
    } else if (r < 60) {
      size = 1 + rnd->uniform(80);
    } else if (r < 95) {
      size = 80 + rnd->uniform(900);
    } else {
      size = 5000 + rnd->uniform(6000);
    }
    return test::MakeValue(key, ++version_, size);
  }

  // One random operation: a put of a new or existing key (an overwrite), or
  // a remove (of a live key, mostly).
  void random_op(test::Random* rnd) {
    const std::string& key = keys_[rnd->uniform(keys_.size())];
    if (rnd->uniform(100) < 25) {
      if (!model_.empty() && rnd->one_in(2)) {
        // A live key (found by a random probe).
        auto it = model_.lower_bound(key);
        if (it == model_.end()) it = model_.begin();
        const std::string victim = it->first;
        remove(victim);
      } else {
        remove(key);
      }
    } else {
      put(key, random_value(rnd, key));
    }
  }

  void random_ops(test::Random* rnd, int n) {
    for (int i = 0; i < n && !::testing::Test::HasFatalFailure(); i++) random_op(rnd);
  }

  // Brings the database to a state with data in every tier at once: the
  // tree, a deeper level, one level-0 table, an immutable memtable (its flush
  // held at the gate) and the memtable; makes an iterator there, confirms the
  // state through stats() and hands the iterator to check(). The gate is
  // open again on return.
  //
  // While the gate is shut no table can be written, so level 0 cannot grow
  // and the deeper levels only shrink (a merge into the tree) or take a table
  // moved down from level 0: the state that stats() shows after the iterator
  // was made was also there when it was made. A merge into the tree racing
  // with the setup is retried.
  void with_every_tier(test::Random* rnd, const std::function<void(std::unique_ptr<Iterator>)>& check) {
    for (int attempt = 0;; attempt++) {
      ASSERT_LT(attempt, 30) << "could not get data into every tier at once: " << Describe(db_->stats());
      // Level 0 holds one table and a deeper level holds some: a flush with
      // level 0 empty leaves one table (compaction starts at two); two
      // flushes make a compaction into the level above the tree.
      ASSERT_NO_FATAL_FAILURE(random_ops(rnd, 40));
      ASSERT_NO_FATAL_FAILURE(flush());
      // Wait out a level-0 compaction (two tables make one).
      ASSERT_TRUE(WaitFor([&] { return db_->stats().levels[0].files < 2; })) << Describe(db_->stats());
      DatabaseStats st = db_->stats();
      if (st.levels[0].files != 1 || DeeperTables(st) == 0) continue;

      gate_env_->shut();
      GateOpener opener(gate_env_.get());
      // Fill the memtable until it is switched: its flush waits at the gate.
      ASSERT_TRUE(WaitFor([&] {
        random_ops(rnd, 20);
        return ::testing::Test::HasFatalFailure() || db_->stats().immutable_memtables > 0;
      }));
      ASSERT_NO_FATAL_FAILURE(random_ops(rnd, 30));  // the new memtable
      auto it = iter();
      st = db_->stats();
      if (st.levels[0].files < 1 || DeeperTables(st) == 0) continue;  // a merge into the tree won the race
      SCOPED_TRACE("state: " + Describe(st));
      ASSERT_GT(st.tree_entries, 0u);
      ASSERT_GE(st.immutable_memtables, 1);
      ASSERT_GT(st.memtable_bytes, 0u);
      every_tier_checks_++;
      check(std::move(it));
      return;
    }
  }

  std::vector<std::string> keys_;
  uint64_t version_ = 0;
  int every_tier_checks_ = 0;
};

TEST_P(DbIterModelTest, RandomOperationsMatchModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with LIGHTNING_TEST_SEED=" + std::to_string(seed) + ")");
  test::Random rnd(seed);
  make_keys(&rnd, 1000);
  ASSERT_NO_FATAL_FAILURE(open());

  // A base in the tree.
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 1500));
  ASSERT_NO_FATAL_FAILURE(compact());
  {
    SCOPED_TRACE("after compact(): " + Describe(db_->stats()));
    ASSERT_GT(db_->stats().tree_entries, 0u);
    auto it = iter();
    ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd));
  }

  for (int round = 0; round < 4; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    // Random operations with flushes and the odd full compaction between.
    for (int i = 0; i < 300; i++) {
      ASSERT_NO_FATAL_FAILURE(random_op(&rnd));
      if (rnd.one_in(150)) {
        ASSERT_NO_FATAL_FAILURE(flush());
      }
      if (rnd.one_in(600)) {
        ASSERT_NO_FATAL_FAILURE(compact());
      }
    }
    std::unique_ptr<Iterator> held;
    Model held_model;
    ASSERT_NO_FATAL_FAILURE(with_every_tier(&rnd, [&](std::unique_ptr<Iterator> it) {
      ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd));
      held = std::move(it);
      held_model = model_;
    }));
    // The flush held at the gate went through (and maybe compactions):
    // the held iterator still shows its state, a new one the current.
    ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 50));
    ASSERT_EQ("", CheckIterator(held.get(), held_model, &rnd, 50));
    auto it = iter();
    ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd, 50));
  }
  EXPECT_EQ(every_tier_checks_, 4);

  // After a reopen everything is in tables and the tree.
  ASSERT_NO_FATAL_FAILURE(close());
  ASSERT_NO_FATAL_FAILURE(open());
  auto it = iter();
  ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd));
}

// An iterator shows the database as of its creation: writes after it are
// invisible, and flushes, compactions and tree merges after it (which drop
// the versions it shows from the current tables and tree) change nothing it
// reads, also when it is positioned in the middle before they run. What it
// pins is released when it is destroyed.
TEST_P(DbIterModelTest, SnapshotSurvivesWritesFlushesAndTreeMerges) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with LIGHTNING_TEST_SEED=" + std::to_string(seed) + ")");
  test::Random rnd(seed);
  make_keys(&rnd, 800);
  ASSERT_NO_FATAL_FAILURE(open());
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 1200));
  ASSERT_NO_FATAL_FAILURE(compact());  // the tree
  // Tables (level 0 and maybe deeper), then the memtable. The iterators are
  // made with the gate shut: no table can be written then, so the tables
  // stats() lists right after are among those the iterators pin (background
  // compaction may have merged everything into the tree already: retried).
  std::unique_ptr<Iterator> it, back;
  int pinned_tables = 0;
  for (int attempt = 0; pinned_tables == 0; attempt++) {
    ASSERT_LT(attempt, 20) << "no tables to pin: " << Describe(db_->stats());
    ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 150));
    ASSERT_NO_FATAL_FAILURE(flush());
    ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 40));  // the memtable
    gate_env_->shut();
    GateOpener opener(gate_env_.get());
    it = iter();
    back = iter();
    pinned_tables = ListedTables(db_->stats());
  }
  ASSERT_GT(db_->stats().tree_entries, 0u);

  const Model snapshot = model_;
  const Entries e(snapshot.begin(), snapshot.end());
  ASSERT_GT(e.size(), 100u);
  // Positioned mid-way, forward, and a second one backward.
  const size_t mid = e.size() / 2;
  it->seek(e[mid].first);
  ASSERT_EQ("", ExpectAt(it.get(), e, static_cast<long>(mid), "seek to the middle"));
  back->seek_for_prev(e[mid].first);
  ASSERT_EQ("", ExpectAt(back.get(), e, static_cast<long>(mid), "seek_for_prev to the middle"));

  // Overwrite or remove every key, several times, with full compactions:
  // each merges into the tree, whose freed pages would be reused if the
  // iterators did not pin their tree version.
  for (int round = 0; round < 3; round++) {
    for (const auto& [key, value] : e) {
      if (rnd.one_in(4)) {
        ASSERT_NO_FATAL_FAILURE(remove(key));
      } else {
        ASSERT_NO_FATAL_FAILURE(put(key, random_value(&rnd, key)));
      }
    }
    ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 200));  // new keys too
    ASSERT_NO_FATAL_FAILURE(compact());
  }
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 200));
  ASSERT_NO_FATAL_FAILURE(flush());
  const DatabaseStats st = db_->stats();
  SCOPED_TRACE("after the writes: " + Describe(st));
  ASSERT_GT(st.tree_merges, 3u);

  // The tables the iterators read are retired (compact() merged every level
  // into the tree since) but still on disk.
  EXPECT_GE(SstFiles(env(), path_), pinned_tables + ListedTables(st));

  // The walk goes on from the middle, in both directions.
  for (size_t i = mid + 1; i <= e.size(); i++) {
    it->next();
    ASSERT_EQ("", ExpectAt(it.get(), e, static_cast<long>(i), "next() after the writes"));
  }
  for (long i = static_cast<long>(mid) - 1; i >= -1; i--) {
    back->prev();
    ASSERT_EQ("", ExpectAt(back.get(), e, i, "prev() after the writes"));
  }
  ASSERT_EQ("", CheckIterator(it.get(), snapshot, &rnd));
  ASSERT_EQ("", CheckIterator(back.get(), snapshot, &rnd, 30));
  {
    auto now = iter();
    ASSERT_EQ("", CheckIterator(now.get(), model_, &rnd));
  }

  // Destroyed, they release their tables: the next edit deletes them.
  it.reset();
  back.reset();
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 50));
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_TRUE(WaitFor([&] { return SstFiles(env(), path_) == ListedTables(db_->stats()); }))
      << SstFiles(env(), path_) << " table files, " << Describe(db_->stats());
  auto now = iter();
  ASSERT_EQ("", CheckIterator(now.get(), model_, &rnd));
}

INSTANTIATE_TEST_SUITE_P(Configs, DbIterModelTest, ::testing::ValuesIn(IterConfigs()), IterConfigName);

// ---------------------------------------------------------------- behaviour

class DbIterTest : public DbIterTestBase, public ::testing::WithParamInterface<bool> {
 protected:
  DbIterTest() { use_env(GetParam()); }
};

void ExpectEmpty(Iterator* it) {
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  for (const std::string target : {"", "a", "k00010", "\xff\xff"}) {
    it->seek(target);
    EXPECT_FALSE(it->valid()) << Printable(target);
    it->seek_for_prev(target);
    EXPECT_FALSE(it->valid()) << Printable(target);
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
}

TEST_P(DbIterTest, EmptyDatabase) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto it = iter();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
  ExpectEmpty(it.get());
  // Written after the iterator: not seen by it.
  ASSERT_NO_FATAL_FAILURE(put("a", "1"));
  ExpectEmpty(it.get());
  auto it2 = iter();
  it2->seek_to_first();
  ASSERT_TRUE(it2->valid());
  EXPECT_EQ(it2->key().ToString(), "a");
  // An empty database after a reopen (an empty tree and no tables).
  ASSERT_NO_FATAL_FAILURE(remove("a"));
  it2.reset();
  it.reset();
  ASSERT_NO_FATAL_FAILURE(close());
  ASSERT_NO_FATAL_FAILURE(open());
  ExpectEmpty(iter().get());
}

// Every key deleted, the tombstones in every tier (memtable, level 0, the
// tree's keys deleted from above it): nothing is shown, in either direction.
TEST_P(DbIterTest, AllKeysDeleted) {
  ASSERT_NO_FATAL_FAILURE(open());
  test::Random rnd(7);
  std::vector<std::string> keys;
  for (int i = 0; i < 600; i++) keys.push_back("k" + std::to_string(100000 + i));
  for (const auto& k : keys) ASSERT_NO_FATAL_FAILURE(put(k, test::MakeValue(k, 1, rnd.uniform(300))));
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_GT(db_->stats().tree_entries, 0u);
  for (size_t i = 0; i < keys.size(); i += 2) ASSERT_NO_FATAL_FAILURE(put(keys[i], "v2"));
  ASSERT_NO_FATAL_FAILURE(flush());
  // Deletions: half flushed to level 0, half in the memtable.
  for (size_t i = 0; i < keys.size(); i++) {
    ASSERT_NO_FATAL_FAILURE(remove(keys[i]));
    if (i == keys.size() / 2) {
      ASSERT_NO_FATAL_FAILURE(flush());
    }
  }
  ASSERT_TRUE(model_.empty());
  {
    auto it = iter();
    ExpectEmpty(it.get());
  }
  // A live key at each end: the scans must skip every tombstone to them.
  ASSERT_NO_FATAL_FAILURE(put("a", "first"));
  ASSERT_NO_FATAL_FAILURE(put("z", "last"));
  {
    auto it = iter();
    ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd));
    it->seek("b");
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key().ToString(), "z");
    it->prev();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key().ToString(), "a");
    it->seek_for_prev("y");
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key().ToString(), "a");
    it->next();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key().ToString(), "z");
  }
  ASSERT_NO_FATAL_FAILURE(remove("a"));
  ASSERT_NO_FATAL_FAILURE(remove("z"));
  ASSERT_NO_FATAL_FAILURE(compact());
  EXPECT_EQ(db_->stats().tree_entries, 0u) << Describe(db_->stats());
  ExpectEmpty(iter().get());
}

// Hand-checked positions: versions newer than the iterator, a key deleted
// and written again, direction changes at both ends. Run with everything in
// the memtable, then in level 0, then in the tree.
TEST_P(DbIterTest, EdgesAndDirectionChanges) {
  ASSERT_NO_FATAL_FAILURE(open());
  ASSERT_NO_FATAL_FAILURE(put("b", "b1"));
  ASSERT_NO_FATAL_FAILURE(put("d", "d1"));
  ASSERT_NO_FATAL_FAILURE(put("d", "d2"));
  ASSERT_NO_FATAL_FAILURE(put("c", "c1"));
  ASSERT_NO_FATAL_FAILURE(remove("c"));
  ASSERT_NO_FATAL_FAILURE(put("e", "e1"));
  ASSERT_NO_FATAL_FAILURE(remove("e"));
  ASSERT_NO_FATAL_FAILURE(put("e", ""));  // deleted, then written again, empty
  ASSERT_NO_FATAL_FAILURE(put("f", "f1"));
  ASSERT_NO_FATAL_FAILURE(remove("f"));
  for (int stage = 0; stage < 3; stage++) {
    SCOPED_TRACE(stage == 0 ? "memtable" : stage == 1 ? "level 0" : "tree");
    if (stage == 1) {
      ASSERT_NO_FATAL_FAILURE(flush());
    }
    if (stage == 2) {
      ASSERT_NO_FATAL_FAILURE(compact());
    }
    auto it = iter();
    // Newer versions of every key, in the memtable: invisible to it.
    ASSERT_NO_FATAL_FAILURE(put("a", "new"));
    ASSERT_TRUE(db_->put("b", "new").ok());
    ASSERT_TRUE(db_->remove("d").ok());
    ASSERT_TRUE(db_->put("c", "new").ok());
    ASSERT_TRUE(db_->remove("e").ok());
    ASSERT_TRUE(db_->put("f", "new").ok());
    auto expect = [&](const char* key, const char* value, const std::string& where) {
      ASSERT_TRUE(it->valid()) << where << ": expected " << key << ", status " << it->status().ToString();
      EXPECT_EQ(it->key().ToString(), key) << where;
      EXPECT_EQ(it->value().ToString(), value) << where;
    };
    it->seek_to_first();
    expect("b", "b1", "seek_to_first");
    it->prev();
    EXPECT_FALSE(it->valid()) << "prev() from the first key";
    it->seek_to_last();
    expect("e", "", "seek_to_last");
    it->next();
    EXPECT_FALSE(it->valid()) << "next() from the last key";
    it->seek("c");
    expect("d", "d2", "seek(c)");
    it->prev();
    expect("b", "b1", "seek(c) prev");
    it->next();
    expect("d", "d2", "seek(c) prev next");
    it->next();
    expect("e", "", "seek(c) prev next next");
    it->prev();
    expect("d", "d2", "... prev");
    it->seek_for_prev("c");
    expect("b", "b1", "seek_for_prev(c)");
    it->next();
    expect("d", "d2", "seek_for_prev(c) next");
    it->seek_for_prev("d");
    expect("d", "d2", "seek_for_prev(d)");
    it->seek_for_prev("zz");
    expect("e", "", "seek_for_prev(zz)");
    it->prev();
    expect("d", "d2", "seek_for_prev(zz) prev");
    it->seek_for_prev("a");
    EXPECT_FALSE(it->valid()) << "seek_for_prev(a)";
    it->seek("f");
    EXPECT_FALSE(it->valid()) << "seek(f)";
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    // Undo the newer versions for the next stage.
    ASSERT_TRUE(db_->remove("a").ok());
    ASSERT_TRUE(db_->put("b", "b1").ok());
    ASSERT_TRUE(db_->put("d", "d2").ok());
    ASSERT_TRUE(db_->remove("c").ok());
    ASSERT_TRUE(db_->put("e", "").ok());
    ASSERT_TRUE(db_->remove("f").ok());
    model_.erase("a");
  }
}

// Values larger than a tree page (blobs) and empty values, long keys up to
// kMaxKeySize, read back exactly from the memtable, level 0 and the tree.
TEST_P(DbIterTest, BlobsAndEmptyValuesRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(open());
  test::Random rnd(11);
  const std::vector<size_t> sizes = {0, 1, 4095, 4096, 4097, 9000, 70000, 300000, 1u << 20, 0};
  for (size_t i = 0; i < sizes.size(); i++) {
    const std::string key = "blob" + std::to_string(i);
    ASSERT_NO_FATAL_FAILURE(put(key, rnd.random_bytes(sizes[i])));
  }
  for (int i = 0; i < 50; i++) ASSERT_NO_FATAL_FAILURE(put("empty" + std::to_string(i), ""));
  ASSERT_NO_FATAL_FAILURE(put(std::string(kMaxKeySize, 'm'), rnd.random_bytes(6000)));
  ASSERT_NO_FATAL_FAILURE(put(std::string(kMaxKeySize - 1, 'n'), ""));
  ASSERT_NO_FATAL_FAILURE(put(std::string(1000, 'o'), rnd.random_bytes(100)));
  for (int stage = 0; stage < 4; stage++) {
    SCOPED_TRACE(stage == 0 ? "memtable" : stage == 1 ? "level 0" : stage == 2 ? "tree" : "tree, reopened");
    if (stage == 1) {
      ASSERT_NO_FATAL_FAILURE(flush());
    }
    if (stage == 2) {
      ASSERT_NO_FATAL_FAILURE(compact());
    }
    if (stage == 3) {
      ASSERT_NO_FATAL_FAILURE(close());
      ASSERT_NO_FATAL_FAILURE(open());
    }
    if (stage >= 2) {
      ASSERT_GT(db_->stats().tree_entries, 0u);
    }
    auto it = iter();
    ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd, 40, 10));
  }
  // Overwritten by small values in the memtable: the blobs in the tree are
  // hidden, and shown again by an iterator made before.
  auto before = iter();
  const Model old = model_;
  for (size_t i = 0; i < sizes.size(); i++) ASSERT_NO_FATAL_FAILURE(put("blob" + std::to_string(i), "small"));
  auto it = iter();
  ASSERT_EQ("", CheckIterator(it.get(), model_, &rnd, 40, 10));
  ASSERT_EQ("", CheckIterator(before.get(), old, &rnd, 40, 10));
}

// After close(), new_iterator() still returns an iterator: never valid,
// status Closed, whatever it is asked.
TEST_P(DbIterTest, IteratorAfterCloseIsClosed) {
  ASSERT_NO_FATAL_FAILURE(open());
  ASSERT_NO_FATAL_FAILURE(put("a", "1"));
  auto before = iter();  // made before close(), destroyed after it
  before->seek_to_first();
  ASSERT_TRUE(before->valid());
  ASSERT_TRUE(db_->close().ok());
  auto it = db_->new_iterator();
  ASSERT_NE(it, nullptr);
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsClosed()) << it->status().ToString();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  it->seek("a");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("a");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsClosed()) << it->status().ToString();
  before.reset();
  db_.reset();
}

// A damaged data block stops the iteration with Corruption: entries before
// it are shown correctly, nothing after it (or from it) is.
TEST_P(DbIterTest, DamagedTableStopsIteration) {
  options_.compression = CompressionType::kNone;  // the damage lands in plain data
  options_.block_size = 1024;
  options_.cache_size = 0;
  options_.level0_file_num_compaction_trigger = 8;  // no compaction reads the damage
  options_.max_bytes_for_level_base = 64u << 20;
  ASSERT_NO_FATAL_FAILURE(open());
  test::Random rnd(13);
  for (int i = 0; i < 1500; i++) {
    const std::string key = "key" + std::to_string(10000 + i);
    ASSERT_NO_FATAL_FAILURE(put(key, test::MakeValue(key, 1, 100)));
  }
  ASSERT_NO_FATAL_FAILURE(close());  // writes the memtable to level 0

  std::vector<std::string> children;
  ASSERT_TRUE(env()->get_children(path_, &children).ok());
  std::string victim, original;
  for (const auto& name : children) {  // the largest table
    if (name.size() < 4 || name.compare(name.size() - 4, 4, ".sst") != 0) continue;
    std::string contents;
    ASSERT_TRUE(ReadFileToString(env(), path_ + "/" + name, &contents).ok());
    if (contents.size() > original.size()) {
      original = std::move(contents);
      victim = name;
    }
  }
  ASSERT_GT(original.size(), 16 * kKiB);
  std::string damaged = original;
  damaged[original.size() / 3] = static_cast<char>(damaged[original.size() / 3] ^ 0xff);
  ASSERT_TRUE(WriteStringToFile(env(), damaged, path_ + "/" + victim, true).ok());

  auto r = Database::open(path_, options_);
  ASSERT_TRUE(r.ok()) << r.status().ToString();  // tables are checked lazily
  db_ = std::move(r.value());
  auto it = iter();
  const Entries e(model_.begin(), model_.end());
  for (int direction = 0; direction < 2; direction++) {
    SCOPED_TRACE(direction == 0 ? "forward" : "backward");
    size_t shown = 0;
    if (direction == 0) {
      for (it->seek_to_first(); it->valid(); it->next(), shown++) {
        ASSERT_EQ("", ExpectAt(it.get(), e, static_cast<long>(shown), "before the damage"));
      }
    } else {
      for (it->seek_to_last(); it->valid(); it->prev(), shown++) {
        ASSERT_EQ("", ExpectAt(it.get(), e, static_cast<long>(e.size() - 1 - shown), "before the damage"));
      }
    }
    EXPECT_LT(shown, e.size());
    EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
  }
  // A seek starts afresh (and stops at the damage again).
  it->seek(e.front().first);
  EXPECT_TRUE(it->valid() || it->status().IsCorruption()) << it->status().ToString();
  it.reset();
  db_.reset();
}

std::string EnvName(const ::testing::TestParamInfo<bool>& param_info) {
  return param_info.param ? "Memory" : "Posix";
}

INSTANTIATE_TEST_SUITE_P(Envs, DbIterTest, ::testing::Values(false, true), EnvName);

// ---------------------------------------------------------------- concurrency

// A value that tells its key, version and size: "<version>:<size>:" then
// MakeValue(key, version, size).
std::string StampedValue(const std::string& key, uint64_t version, size_t size) {
  return std::to_string(version) + ":" + std::to_string(size) + ":" + test::MakeValue(key, version, size);
}

// The version of a stamped value, or 0 if it is not the right value for key.
uint64_t ParseStampedValue(const std::string& key, const Slice& value) {
  const std::string v = value.ToString();
  const size_t c1 = v.find(':');
  const size_t c2 = c1 == std::string::npos ? c1 : v.find(':', c1 + 1);
  if (c2 == std::string::npos) return 0;
  const uint64_t version = std::strtoull(v.substr(0, c1).c_str(), nullptr, 10);
  const size_t size = std::strtoull(v.substr(c1 + 1, c2 - c1 - 1).c_str(), nullptr, 10);
  if (v != StampedValue(key, version, size)) return 0;
  return version;
}

// Writers update pairs of keys ("w<t>/a/<i>" and "w<t>/b/<i>") atomically,
// with increasing versions, and remove pairs; iterating threads check that
// each iterator shows one consistent state (pairs whole, values intact, keys
// in order, the backward scan the exact reverse of the forward one, seeks
// agreeing with the scan, versions never going back from one iterator to the
// next) while flushes, compactions and tree merges run.
TEST_P(DbIterTest, ConcurrentWritersIteratorsAndCompactions) {
  options_.max_background_compactions = 2;
  ASSERT_NO_FATAL_FAILURE(open());
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed) + " (replay with LIGHTNING_TEST_SEED=" + std::to_string(seed) + ")");
  constexpr int kWriters = 2;
  constexpr int kReaders = 2;
  constexpr int kKeysPerWriter = 300;
  constexpr int kOpsPerWriter = 2500;

  std::mutex errors_mu;
  std::vector<std::string> errors;
  auto error = [&](const std::string& what) {
    std::lock_guard<std::mutex> l(errors_mu);
    if (errors.size() < 10) errors.push_back(what);
  };
  std::atomic<int> writers_running{kWriters};
  std::atomic<uint64_t> iterations{0};
  auto pair_key = [](int writer, char side, uint64_t i) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "w%d/%c/%04u", writer, side, static_cast<unsigned>(i));
    return std::string(buf);
  };

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      test::Random rnd(seed + static_cast<uint64_t>(w));
      for (uint64_t version = 1; version <= kOpsPerWriter; version++) {
        const uint64_t i = rnd.uniform(kKeysPerWriter);
        WriteBatch batch;
        const std::string a = pair_key(w, 'a', i), b = pair_key(w, 'b', i);
        if (rnd.one_in(8)) {
          (void)batch.remove(a);
          (void)batch.remove(b);
        } else {
          const size_t size = rnd.one_in(50) ? 5000 + rnd.uniform(3000) : rnd.uniform(400);
          (void)batch.put(a, StampedValue(a, version, size));
          (void)batch.put(b, StampedValue(b, version, size));
        }
        Status s = db_->write(batch);
        if (!s.ok()) {
          error("write: " + s.ToString());
          break;
        }
      }
      writers_running--;
    });
  }
  threads.emplace_back([&] {  // flushes and full compactions beside the background ones
    int n = 0;
    while (writers_running.load() > 0) {
      Status s = (++n % 4 == 0) ? db_->compact() : db_->flush();
      if (!s.ok()) error("flush/compact: " + s.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (int r = 0; r < kReaders; r++) {
    threads.emplace_back([&, r] {
      test::Random rnd(seed + 100 + static_cast<uint64_t>(r));
      std::map<std::string, uint64_t> previous;  // key -> version seen by the last iterator
      do {
        auto it = db_->new_iterator();
        std::vector<std::pair<std::string, uint64_t>> scan;
        for (it->seek_to_first(); it->valid(); it->next()) {
          const std::string key = it->key().ToString();
          const uint64_t version = ParseStampedValue(key, it->value());
          if (version == 0) return error("damaged value for " + key);
          if (!scan.empty() && !(scan.back().first < key)) return error("keys out of order at " + key);
          scan.emplace_back(key, version);
        }
        if (!it->status().ok()) return error("forward scan: " + it->status().ToString());
        // The same snapshot backwards.
        size_t n = scan.size();
        for (it->seek_to_last(); it->valid(); it->prev()) {
          if (n == 0 || it->key() != Slice(scan[n - 1].first) ||
              ParseStampedValue(scan[n - 1].first, it->value()) != scan[n - 1].second) {
            return error("backward scan differs from the forward scan at " + it->key().ToString());
          }
          n--;
        }
        if (n != 0 || !it->status().ok()) return error("backward scan ended early: " + it->status().ToString());
        // Pairs are whole, and versions never go back.
        const std::map<std::string, uint64_t> seen(scan.begin(), scan.end());
        for (const auto& [key, version] : seen) {
          std::string other = key;
          other[3] = other[3] == 'a' ? 'b' : 'a';
          auto o = seen.find(other);
          if (o == seen.end() || o->second != version) return error("half a batch seen at " + key);
          auto p = previous.find(key);
          if (p != previous.end() && p->second > version) return error("version went back at " + key);
        }
        // Seeks agree with the scan.
        for (int s = 0; s < 20 && !scan.empty(); s++) {
          const std::string target = pair_key(static_cast<int>(rnd.uniform(kWriters)), rnd.one_in(2) ? 'a' : 'b',
                                              rnd.uniform(kKeysPerWriter + 1));
          auto lower = seen.lower_bound(target);
          it->seek(target);
          if (lower == seen.end() ? it->valid() : (!it->valid() || it->key() != Slice(lower->first))) {
            return error("seek(" + target + ") disagrees with the scan");
          }
          if (it->valid() && rnd.one_in(2)) {
            it->prev();
            const bool first = lower == seen.begin();
            if (first ? it->valid() : (!it->valid() || it->key() != Slice(std::prev(lower)->first))) {
              return error("seek(" + target + ") prev disagrees with the scan");
            }
          }
        }
        previous = seen;
        iterations++;
      } while (writers_running.load() > 0);
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) ADD_FAILURE() << e;
  EXPECT_GT(iterations.load(), 0u);
  const DatabaseStats st = db_->stats();
  EXPECT_GT(st.flushes, 0u) << Describe(st);
  EXPECT_GT(st.tree_merges, 0u) << Describe(st);
}

}  // namespace
}  // namespace lightning
