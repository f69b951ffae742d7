// Copyright (c) Lightning authors. MIT License.
//
// The B+Tree page file when things go wrong:
//
//  - a crash (FaultInjectionEnv over a memory Env) at every mutating call of
//    a merge, followed by a power cut that loses (drop_unsynced_data) or
//    tears (drop_random_unsynced_data) the unsynced writes: the previous
//    commit must reopen exactly, the new one exactly if the merge returned
//    OK (and, if it did not, either exactly or not at all), and the merge must
//    go through again from the previous commit; a single failed I/O at every
//    call must leave the same pager usable;
//  - the MANIFEST-rollback contract: after a successful commit, the previous
//    one still opens until the next commit;
//  - one flipped bit in any page (POSIX Env with mmap reads, memory Env with
//    pread; fresh cache per trial): Open, scans, lookups and CheckTree give
//    Corruption or exactly the model, never other data, never a crash;
//    damaged page counts and truncated files included;
//  - BTreePager::Open on missing, garbage and mismatched files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "btree/btree.h"
#include "btree/page.h"
#include "cache/arc_cache.h"
#include "env/fault_injection_env.h"
#include "lightning/env.h"
#include "util/internal_key_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"
#include "util/vector_iterator.h"

namespace lightning {
namespace {

using btree::BTreePager;
using btree::MergeIntoTree;
using btree::MergeSpec;
using btree::MergeStats;
using btree::PagerOptions;
using btree::PageType;
using btree::TreeVersion;
using test::Entry;
using test::Random;
using test::VectorIterator;
using OpKind = FaultInjectionEnv::OpKind;

// User key -> newest value. Every merge here uses smallest_snapshot = max,
// so the tree holds exactly one version (never a tombstone) per live key.
using Model = std::map<std::string, std::string>;

PagerOptions TreeOptions(Env* env, const std::string& fname, Cache* cache, uint32_t page_size,
                         CompressionType compression) {
  PagerOptions o;
  o.env = env;
  o.fname = fname;
  o.page_size = page_size;
  o.compression = compression;
  o.cache = cache;
  o.mmap_size = 1 << 20;  // much larger than the files: mapped past their end
  return o;
}

// A pager and its committed version.
struct Tree {
  std::unique_ptr<BTreePager> pager;
  std::shared_ptr<const TreeVersion> version;
  void close() {
    version.reset();
    pager.reset();
  }
};

Status OpenTree(const PagerOptions& o, uint64_t epoch, Tree* t) {
  t->close();
  Status s = BTreePager::Open(o, epoch, &t->pager);
  if (s.ok()) {
    t->version =
        std::make_shared<TreeVersion>(t->pager.get(), test::Icmp(), t->pager->committed(), t->pager->mapping());
  }
  return s;
}

void SortEntries(std::vector<Entry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const Entry& a, const Entry& b) { return test::Icmp()->compare(a.key, b.key) < 0; });
}

// Merges sorted entries into t's committed version.
Status MergeEntries(Tree* t, const std::vector<Entry>& sorted) {
  VectorIterator input(test::Icmp(), sorted);
  std::shared_ptr<const TreeVersion> next;
  MergeStats stats;
  Status s = MergeIntoTree(t->version, &input, MergeSpec(), &next, &stats);
  if (s.ok()) t->version = next;
  return s;
}

// The newest version of each user key wins; a tombstone deletes.
void Apply(const std::vector<Entry>& entries, Model* m) { ASSERT_TRUE(test::ApplyNewestVersions(entries, m)); }

// Looks up user's newest version. *found: a value was found.
Status Get(const TreeVersion& v, const std::string& user, bool* found, std::string* value) {
  *found = false;
  value->clear();
  bool wrong_key = false;
  Status s = v.get(test::IKey(user, kMaxSequenceNumber, kValueTypeForSeek), [&](const Slice& k, const Slice& val) {
    ParsedInternalKey pk;
    if (!ParseInternalKey(k, &pk) || pk.user_key != Slice(user) || pk.type != kTypeValue) {
      wrong_key = true;
      return;
    }
    *found = true;
    value->assign(val.data(), val.size());
  });
  if (s.ok() && wrong_key) return Status::InvalidArgument("get returned another key or a tombstone");
  return s;
}

// Keys to look up: up to ~limit model keys, and keys just after them (absent).
std::vector<std::string> ProbeKeys(const Model& m, size_t limit) {
  std::vector<std::string> keys;
  const size_t stride = std::max<size_t>(1, m.size() / limit);
  size_t i = 0;
  for (const auto& [user, value] : m) {
    if (i++ % stride == 0) {
      keys.push_back(user);
      keys.push_back(user + std::string(1, '\0'));
    }
  }
  keys.push_back(std::string());
  keys.push_back("\xff\xff");
  return keys;
}

// The version holds exactly the model: CheckTree, both scans, lookups.
testing::AssertionResult Matches(const std::shared_ptr<const TreeVersion>& v, const Model& m) {
  uint64_t entries = 0;
  Status s = btree::CheckTree(*v, &entries);
  if (!s.ok()) return testing::AssertionFailure() << "CheckTree: " << s.ToString();
  if (entries != m.size()) {
    return testing::AssertionFailure() << "CheckTree counts " << entries << " entries, the model has " << m.size();
  }
  std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(v);
  auto mi = m.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++mi) {
    ParsedInternalKey k;
    if (!ParseInternalKey(it->key(), &k)) return testing::AssertionFailure() << "malformed key in the tree";
    if (mi == m.end()) return testing::AssertionFailure() << "extra key " << test::Hex(k.user_key);
    if (k.user_key != Slice(mi->first) || k.type != kTypeValue) {
      return testing::AssertionFailure() << "at " << test::Hex(mi->first) << " the tree has " << test::Hex(k.user_key)
                                         << " type " << static_cast<int>(k.type);
    }
    if (it->value() != Slice(mi->second)) {
      return testing::AssertionFailure() << "value of " << test::Hex(mi->first) << " differs (" << it->value().size()
                                         << " vs " << mi->second.size() << " bytes)";
    }
  }
  if (!it->status().ok()) return testing::AssertionFailure() << "forward scan: " << it->status().ToString();
  if (mi != m.end()) return testing::AssertionFailure() << "missing key " << test::Hex(mi->first);
  auto ri = m.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++ri) {
    if (ri == m.rend() || ExtractUserKey(it->key()) != Slice(ri->first)) {
      return testing::AssertionFailure() << "backward scan differs";
    }
  }
  if (!it->status().ok()) return testing::AssertionFailure() << "backward scan: " << it->status().ToString();
  if (ri != m.rend()) return testing::AssertionFailure() << "backward scan stops early";
  for (const std::string& user : ProbeKeys(m, 300)) {
    bool found = false;
    std::string value;
    s = Get(*v, user, &found, &value);
    if (!s.ok()) return testing::AssertionFailure() << "get " << test::Hex(user) << ": " << s.ToString();
    auto mit = m.find(user);
    if (found != (mit != m.end()) || (found && value != mit->second)) {
      return testing::AssertionFailure() << "get " << test::Hex(user) << " found=" << found;
    }
  }
  return testing::AssertionSuccess();
}

std::string KeyFor(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%06llu", static_cast<unsigned long long>(i));
  return buf;
}

// n random distinct keys of [0, key_space): puts (1 in blob_every of them a
// value of 1-3 pages; 0: none) and delete_pct % tombstones.
std::vector<Entry> RandomBatch(Random* rnd, uint64_t key_space, size_t n, int delete_pct, uint64_t blob_every,
                               uint32_t page_size, SequenceNumber* seq) {
  std::vector<Entry> out;
  std::set<uint64_t> used;
  for (size_t i = 0; i < n; ++i) {
    const uint64_t k = rnd->uniform(key_space);
    if (!used.insert(k).second) continue;
    const bool del = static_cast<int>(rnd->uniform(100)) < delete_pct;
    std::string value;
    if (!del) {
      const size_t len =
          blob_every > 0 && rnd->one_in(blob_every) ? page_size + rnd->uniform(2 * page_size) : rnd->uniform(100);
      value = rnd->random_bytes(len);
    }
    out.push_back(Entry{test::IKey(KeyFor(k), ++*seq, del ? kTypeDeletion : kTypeValue), value});
  }
  SortEntries(&out);
  return out;
}

// ---------------------------------------------------------------------------
// A crash, or a failed I/O, at every mutating call of a merge.

struct CrashScenario {
  const char* name;
  uint32_t page_size;
  CompressionType compression;
  int base_merges;  // commits before the merge under test (0: it is the first)
  int final_kind;   // 0: mixed puts/overwrites/deletes/blobs; 1: delete most keys
};

std::string CrashName(const testing::TestParamInfo<CrashScenario>& info) { return info.param.name; }

enum class Fault { kCrashDropAll, kCrashDropRandom, kIOError };

class BTreeCrashTest : public testing::TestWithParam<CrashScenario> {
 protected:
  static constexpr const char* kDir = "/db";
  static constexpr const char* kFile = "/db/TREE";
  static constexpr uint64_t kKeySpace = 1200;

  void SetUp() override {
    const CrashScenario& p = GetParam();
    Random rnd(seed_);
    std::unique_ptr<Env> mem = NewMemoryEnv();
    ASSERT_TRUE(mem->create_dir_if_missing(kDir).ok());
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    Tree t;
    ASSERT_TRUE(OpenTree(TreeOptions(mem.get(), kFile, cache.get(), p.page_size, p.compression), 0, &t).ok());
    for (int i = 0; i < p.base_merges; ++i) {
      std::vector<Entry> batch =
          RandomBatch(&rnd, kKeySpace, i == 0 ? 900 : 200, i == 0 ? 0 : 20, 40, p.page_size, &seq_);
      Status s = MergeEntries(&t, batch);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_NO_FATAL_FAILURE(Apply(batch, &old_model_));
    }
    ASSERT_TRUE(Matches(t.version, old_model_));
    base_epoch_ = t.version->meta().epoch;
    base_height_ = t.version->meta().height;
    t.close();
    if (p.base_merges > 0) {
      ASSERT_TRUE(ReadFileToString(mem.get(), kFile, &base_image_).ok());
    }
    if (p.final_kind == 0) {
      final_ = RandomBatch(&rnd, kKeySpace, 250, 20, 25, p.page_size, &seq_);
    } else {
      for (uint64_t k = 0; k < kKeySpace; ++k) {
        if (k % 10 != 0 && k != kKeySpace / 2)
          final_.push_back(Entry{test::IKey(KeyFor(k), ++seq_, kTypeDeletion), ""});
      }
      SortEntries(&final_);
    }
    new_model_ = old_model_;
    ASSERT_NO_FATAL_FAILURE(Apply(final_, &new_model_));
  }

  // One trial: the merge under test on a copy of the base file, the n-th
  // mutating call failing as `fault` says. Returns whether the fault fired
  // (false once n is past the merge's last call).
  bool Trial(uint64_t n, Fault fault, uint64_t seed) {
    const char* fault_name[] = {"crash+drop_unsynced_data", "crash+drop_random_unsynced_data", "io-error"};
    SCOPED_TRACE("call " + std::to_string(n) + ", " + fault_name[static_cast<int>(fault)] + ", seed " +
                 std::to_string(seed));
    const CrashScenario& p = GetParam();
    std::unique_ptr<Env> mem = NewMemoryEnv();
    EXPECT_TRUE(mem->create_dir_if_missing(kDir).ok());
    // Written straight to the target: durable as far as the fault Env knows.
    if (!base_image_.empty()) {
      EXPECT_TRUE(WriteStringToFile(mem.get(), base_image_, kFile, true).ok());
    }
    FaultInjectionEnv env(mem.get());
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    const PagerOptions o = TreeOptions(&env, kFile, cache.get(), p.page_size, p.compression);
    const uint64_t next_epoch = base_epoch_ + 1;
    Tree t;
    Status s = OpenTree(o, base_epoch_, &t);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return false;
    env.reset_counters();
    env.fail_nth_call(OpKind::kAny, n, /*deactivate_filesystem=*/fault != Fault::kIOError);
    s = MergeEntries(&t, final_);
    const bool fired = env.injected_error_count() > 0;
    env.clear_error_injection();
    if (fired) {
      EXPECT_TRUE(s.IsIOError()) << "the merge reported " << s.ToString() << " for a failed call";
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
      merge_calls_ = env.call_count(OpKind::kAny);
    }

    if (fault == Fault::kIOError) {
      // The process lives on: the same pager rolls back and takes the merge
      // again.
      if (!s.ok()) {
        EXPECT_EQ(t.pager->committed().epoch, base_epoch_);
        EXPECT_TRUE(Matches(t.version, old_model_)) << "the failed merge changed the committed tree";
        s = MergeEntries(&t, final_);
        EXPECT_TRUE(s.ok()) << "merge after a failed one: " << s.ToString();
      }
      EXPECT_TRUE(Matches(t.version, new_model_));
      s = OpenTree(o, next_epoch, &t);
      EXPECT_TRUE(s.ok()) << s.ToString();
      if (s.ok()) {
        EXPECT_TRUE(Matches(t.version, new_model_)) << "reopened at the new commit";
      }
      s = OpenTree(o, base_epoch_, &t);
      EXPECT_TRUE(s.ok()) << "rollback to the previous commit: " << s.ToString();
      if (s.ok()) {
        EXPECT_TRUE(Matches(t.version, old_model_)) << "reopened at the previous commit";
      }
      return fired;
    }

    const bool committed = s.ok();
    t.close();
    // The MANIFEST write that records a commit syncs the directory.
    if (committed) {
      EXPECT_TRUE(env.sync_dir(kDir).ok());
    }
    s = fault == Fault::kCrashDropAll ? env.drop_unsynced_data() : env.drop_random_unsynced_data(seed);
    EXPECT_TRUE(s.ok()) << s.ToString();
    env.set_filesystem_active(true);

    // The previous commit is always there: the MANIFEST names it unless it
    // recorded the new one, and it may not have (rollback contract).
    s = OpenTree(o, base_epoch_, &t);
    EXPECT_TRUE(s.ok()) << "reopen at the previous commit: " << s.ToString();
    if (s.ok()) {
      EXPECT_TRUE(Matches(t.version, old_model_)) << "reopened at the previous commit";
    }
    // The new commit: there if the merge returned OK; otherwise whole or not
    // at all (its meta page is written only after everything it refers to is
    // synced).
    s = OpenTree(o, next_epoch, &t);
    if (committed) {
      EXPECT_TRUE(s.ok()) << "reopen at the committed epoch: " << s.ToString();
    }
    if (s.ok()) {
      EXPECT_TRUE(Matches(t.version, new_model_)) << "reopened at the new commit";
      if (!committed) ++survived_failed_merges_;
    } else {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
    // Recovery goes on from the previous commit: the same merge again.
    s = OpenTree(o, base_epoch_, &t);
    if (s.ok()) s = MergeEntries(&t, final_);
    EXPECT_TRUE(s.ok()) << "merge after recovery: " << s.ToString();
    if (s.ok()) {
      EXPECT_TRUE(Matches(t.version, new_model_)) << "merged again after recovery";
    }
    s = OpenTree(o, next_epoch, &t);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (s.ok()) {
      EXPECT_TRUE(Matches(t.version, new_model_)) << "reopened after merging again";
    }
    return fired;
  }

  const uint64_t seed_ = test::RandomSeed();
  SequenceNumber seq_ = 0;
  Model old_model_, new_model_;
  std::vector<Entry> final_;
  uint64_t base_epoch_ = 0;
  uint32_t base_height_ = 0;
  std::string base_image_;
  uint64_t merge_calls_ = 0;
  // Trials whose merge failed but whose new commit opened (its meta page
  // write survived the power cut).
  int survived_failed_merges_ = 0;
};

TEST_P(BTreeCrashTest, CrashOrIOErrorAtEveryCallOfAMerge) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  if (GetParam().base_merges > 0) {
    ASSERT_GE(base_height_, 2u);
  }
  uint64_t n = 1;
  for (;; ++n) {
    bool fired = Trial(n, Fault::kCrashDropAll, 0);
    ASSERT_FALSE(HasFatalFailure());
    if (HasFailure()) return;  // one failing step is enough to read
    if (!fired) break;
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      EXPECT_TRUE(Trial(n, Fault::kCrashDropRandom, n * 1000 + seed));
      if (HasFailure()) return;
    }
    EXPECT_TRUE(Trial(n, Fault::kIOError, 0));
    if (HasFailure()) return;
  }
  // n - 1 calls failed in turn, and the merge makes exactly that many.
  EXPECT_EQ(merge_calls_, n - 1);
  EXPECT_GE(merge_calls_, 4u);  // extents, free list or meta, two syncs
  // A crash in the last call (the sync after the meta page write) with the
  // meta page surviving the power cut: the new tree must be whole, so every
  // write before the meta page must have been synced before it.
  for (uint64_t seed = 1; seed <= 40 && survived_failed_merges_ < 3; ++seed) {
    Trial(merge_calls_, Fault::kCrashDropRandom, 7000 + seed);
    if (HasFailure()) return;
  }
  EXPECT_GE(survived_failed_merges_, 3);
}

INSTANTIATE_TEST_SUITE_P(Merges, BTreeCrashTest,
                         testing::Values(CrashScenario{"MixedBatch", 4096, CompressionType::kNone, 3, 0},
                                         CrashScenario{"MixedBatch8kZstd", 8192, CompressionType::kZstd, 2, 0},
                                         CrashScenario{"DeleteMost", 4096, CompressionType::kNone, 2, 1},
                                         CrashScenario{"FirstMerge", 4096, CompressionType::kNone, 0, 0}),
                         CrashName);

// ---------------------------------------------------------------------------
// In-process rollback and the MANIFEST-rollback contract.

class BTreeRollbackTest : public testing::Test {
 protected:
  BTreeRollbackTest() : mem_(NewMemoryEnv()), env_(mem_.get()), cache_(NewArcCache(1 << 20)) {
    EXPECT_TRUE(mem_->create_dir_if_missing("/db").ok());
  }
  PagerOptions options() { return TreeOptions(&env_, "/db/TREE", cache_.get(), 4096, CompressionType::kNone); }

  // Keys prefix + [0, n) with values of one size: two batches with the same
  // n and value size but different prefixes make trees of the same shape
  // whose nodes differ.
  std::vector<Entry> Batch(const std::string& prefix, size_t n, size_t value_size) {
    std::vector<Entry> out;
    for (size_t i = 0; i < n; ++i) {
      out.push_back(Entry{test::IKey(prefix + KeyFor(i), ++seq_, kTypeValue), rnd_.random_bytes(value_size)});
    }
    SortEntries(&out);
    return out;
  }

  std::unique_ptr<Env> mem_;
  FaultInjectionEnv env_;
  std::unique_ptr<Cache> cache_;
  Random rnd_{test::RandomSeed()};
  SequenceNumber seq_ = 0;
};

// Regression: a merge whose commit failed had read its own new root back
// through the cache, keyed by (page, epoch); the next merge on the same
// pager reuses that epoch and, with the same allocation, that page, and got
// the stale root from the cache: a tree with the failed merge's separators.
TEST_F(BTreeRollbackTest, FailedCommitLeavesNoStalePagesInTheCache) {
  for (const bool empty_base : {true, false}) {
    SCOPED_TRACE(empty_base ? "empty base" : "base of height 2");
    Tree t;
    ASSERT_TRUE(env_.remove_file("/db/TREE").ok() || !env_.file_exists("/db/TREE"));
    ASSERT_TRUE(OpenTree(options(), 0, &t).ok());
    Model model;
    if (!empty_base) {
      std::vector<Entry> base = Batch("m", 400, 60);
      ASSERT_TRUE(MergeEntries(&t, base).ok());
      Apply(base, &model);
    }
    const uint64_t epoch = t.version->meta().epoch;
    const std::vector<Entry> a = Batch("a", 300, 40), b = Batch("b", 300, 40);
    env_.fail_nth_call(OpKind::kSync, 1);  // the commit's first sync
    Status s = MergeEntries(&t, a);
    ASSERT_TRUE(s.IsIOError()) << s.ToString();
    ASSERT_EQ(t.pager->committed().epoch, epoch);
    ASSERT_TRUE(Matches(t.version, model));
    s = MergeEntries(&t, b);
    ASSERT_TRUE(s.ok()) << s.ToString();
    Apply(b, &model);
    EXPECT_TRUE(Matches(t.version, model)) << "same pager";
    ASSERT_TRUE(OpenTree(options(), epoch + 1, &t).ok());
    EXPECT_TRUE(Matches(t.version, model)) << "reopened";
    t.close();
  }
}

// After commit E the previous commit E-1 still opens (its meta slot and every
// page it refers to are intact) until commit E+1 overwrites its slot; then
// Open names both slots.
TEST_F(BTreeRollbackTest, PreviousCommitOpensUntilTheNextCommit) {
  Tree t;
  ASSERT_TRUE(OpenTree(options(), 0, &t).ok());
  std::vector<Model> models(1);  // models[e]: the tree at commit e
  for (int e = 1; e <= 6; ++e) {
    std::vector<Entry> batch = RandomBatch(&rnd_, 2000, e == 1 ? 1500 : 300, e % 3 == 0 ? 50 : 15, 30, 4096, &seq_);
    ASSERT_TRUE(MergeEntries(&t, batch).ok());
    models.push_back(models.back());
    Apply(batch, &models.back());
    ASSERT_EQ(t.version->meta().epoch, static_cast<uint64_t>(e));
    // Roll back to e-1 (the MANIFEST kept it), check, and roll forward again.
    ASSERT_TRUE(OpenTree(options(), e - 1, &t).ok()) << "rollback to " << e - 1;
    ASSERT_TRUE(Matches(t.version, models[e - 1])) << "rollback to " << e - 1;
    ASSERT_TRUE(OpenTree(options(), e, &t).ok());
    ASSERT_TRUE(Matches(t.version, models[e]));
    if (e >= 2) {
      Status s = OpenTree(options(), e - 2, &t);
      ASSERT_TRUE(s.IsCorruption()) << s.ToString();
      EXPECT_NE(s.ToString().find("slot 0"), std::string::npos) << s.ToString();
      EXPECT_NE(s.ToString().find("slot 1"), std::string::npos) << s.ToString();
      EXPECT_NE(s.ToString().find("commit " + std::to_string(e)), std::string::npos) << s.ToString();
      EXPECT_NE(s.ToString().find("commit " + std::to_string(e - 1)), std::string::npos) << s.ToString();
      ASSERT_TRUE(OpenTree(options(), e, &t).ok());
    }
  }
  // Rolled back to E-1, a different merge commits E again over the
  // abandoned one, and both it and E-1 read right.
  ASSERT_TRUE(OpenTree(options(), 5, &t).ok());
  std::vector<Entry> other = RandomBatch(&rnd_, 2000, 400, 30, 20, 4096, &seq_);
  ASSERT_TRUE(MergeEntries(&t, other).ok());
  Model redone = models[5];
  Apply(other, &redone);
  ASSERT_TRUE(OpenTree(options(), 6, &t).ok());
  EXPECT_TRUE(Matches(t.version, redone));
  ASSERT_TRUE(OpenTree(options(), 5, &t).ok());
  EXPECT_TRUE(Matches(t.version, models[5]));
}

// ---------------------------------------------------------------------------
// Damage: one flipped bit in any page, damaged page counts, truncation.

using test::TreeParam;

enum class Outcome { kOpenCorruption, kCorruption, kExact };

class BTreeDamageTest : public testing::TestWithParam<TreeParam> {
 protected:
  void SetUp() override {
    if (GetParam().posix) {
      env_ = Env::Default();
      fname_ = dir_.file("TREE");
    } else {
      mem_env_ = NewMemoryEnv();
      env_ = mem_env_.get();
      ASSERT_TRUE(env_->create_dir_if_missing("/db").ok());
      fname_ = "/db/TREE";
    }
    const uint32_t ps = GetParam().page_size;
    Random rnd(seed_);
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    Tree t;
    ASSERT_TRUE(OpenTree(options(cache.get()), 0, &t).ok());
    // Long keys whose neighbours differ only near the end: long separators,
    // so that a few hundred keys make internal nodes below the root.
    auto user_key = [&](uint64_t i) {
      Random r(i / 8 + 1);
      return r.random_key(4) + std::string(120, 'k') + KeyFor(i);
    };
    const uint64_t key_space = ps == 4096 ? 700 : 700 * ps / 16384;  // internal nodes at every size
    for (int round = 0; round < 3; ++round) {
      std::vector<Entry> batch;
      for (uint64_t i = 0; i < key_space; ++i) {
        if (round > 0 && !rnd.one_in(4)) continue;
        const bool del = round > 0 && rnd.one_in(4);
        std::string value;
        if (!del) value = rnd.random_bytes(rnd.one_in(key_space / 25) ? ps + rnd.uniform(2 * ps) : rnd.uniform(80));
        batch.push_back(Entry{test::IKey(user_key(i), ++seq_, del ? kTypeDeletion : kTypeValue), value});
      }
      SortEntries(&batch);
      ASSERT_TRUE(MergeEntries(&t, batch).ok());
      ASSERT_NO_FATAL_FAILURE(Apply(batch, &model_));
    }
    ASSERT_TRUE(Matches(t.version, model_));
    meta_ = t.version->meta();
    epoch_ = meta_.epoch;
    ASSERT_FALSE(meta_.free_list.null());
    ASSERT_GT(meta_.blob_pages, 0u);
    ASSERT_GE(meta_.height, ps == 4096 ? 3u : 2u);
    t.close();
    ASSERT_TRUE(ReadFileToString(env_, fname_, &image_).ok());
    probes_ = ProbeKeys(model_, 60);
  }

  PagerOptions options(Cache* cache) const {
    return TreeOptions(env_, fname_, cache, GetParam().page_size, GetParam().compression);
  }

  uint64_t pages() const { return (image_.size() + GetParam().page_size - 1) / GetParam().page_size; }

  // The page type in the header at page p of the intact file, if it has one.
  bool TypeAt(uint64_t p, PageType* type) const {
    const uint32_t ps = GetParam().page_size;
    if (p < 2) {
      *type = PageType::kMeta;
      return true;
    }
    if ((p + 1) * ps > image_.size()) return false;
    btree::PageHeader h;
    if (!btree::DecodePageHeader(image_.data() + p * ps, ps, p, &h).ok()) return false;
    *type = h.type;
    return true;
  }

  void Flip(uint64_t offset, int bit) {
    std::unique_ptr<RandomRWFile> f;
    ASSERT_TRUE(env_->new_random_rw_file(fname_, &f).ok());
    char buf = 0;
    Slice got;
    ASSERT_TRUE(f->read(offset, 1, &got, &buf).ok());
    ASSERT_EQ(got.size(), 1u);
    const char flipped = static_cast<char>(got[0] ^ (1 << bit));
    ASSERT_TRUE(f->write(offset, Slice(&flipped, 1)).ok());
    ASSERT_TRUE(f->close().ok());
  }

  // Opens the (damaged) file at epoch_ with a fresh cache and reads
  // everything. Any error but Corruption, or any data that differs from the
  // model, fails the test.
  Outcome ReadDamaged() {
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    Tree t;
    Status s = OpenTree(options(cache.get()), epoch_, &t);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << "Open: " << s.ToString();
      return Outcome::kOpenCorruption;
    }
    bool scan_corrupt = false;
    std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(t.version);
    auto mi = model_.begin();
    for (it->seek_to_first(); it->valid(); it->next(), ++mi) {
      EXPECT_TRUE(mi != model_.end()) << "an extra entry";
      if (mi == model_.end()) break;
      EXPECT_EQ(ExtractUserKey(it->key()).ToString(), mi->first);
      EXPECT_EQ(it->value().ToString(), mi->second) << test::Hex(mi->first);
      if (HasFailure()) return Outcome::kExact;
    }
    if (!it->status().ok()) {
      EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
      scan_corrupt = true;
    } else {
      EXPECT_TRUE(mi == model_.end()) << "the scan ended early without an error";
    }
    auto ri = model_.rbegin();
    for (it->seek_to_last(); it->valid(); it->prev(), ++ri) {
      EXPECT_TRUE(ri != model_.rend());
      if (ri == model_.rend()) break;
      EXPECT_EQ(ExtractUserKey(it->key()).ToString(), ri->first);
      EXPECT_EQ(it->value().ToString(), ri->second);
      if (HasFailure()) return Outcome::kExact;
    }
    if (!it->status().ok()) {
      EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
      EXPECT_TRUE(scan_corrupt) << "only the backward scan saw damage";
    } else {
      EXPECT_TRUE(ri == model_.rend()) << "the backward scan ended early without an error";
    }
    it.reset();
    bool get_corrupt = false;
    for (const std::string& user : probes_) {
      bool found = false;
      std::string value;
      s = Get(*t.version, user, &found, &value);
      if (!s.ok()) {
        EXPECT_TRUE(s.IsCorruption()) << "get: " << s.ToString();
        get_corrupt = true;
        continue;
      }
      auto m = model_.find(user);
      EXPECT_EQ(found, m != model_.end()) << test::Hex(user);
      if (found && m != model_.end()) {
        EXPECT_EQ(value, m->second) << test::Hex(user);
      }
    }
    EXPECT_TRUE(!get_corrupt || scan_corrupt) << "a lookup saw damage the full scan did not";
    uint64_t entries = 0;
    s = btree::CheckTree(*t.version, &entries);
    if (s.ok()) {
      EXPECT_EQ(entries, model_.size());
      EXPECT_FALSE(scan_corrupt) << "CheckTree passed a tree whose scan fails";
    } else {
      EXPECT_TRUE(s.IsCorruption()) << "CheckTree: " << s.ToString();
      EXPECT_TRUE(scan_corrupt) << "CheckTree found damage the full scan did not: " << s.ToString();
    }
    return scan_corrupt ? Outcome::kCorruption : Outcome::kExact;
  }

  // Flips bit `bit` of byte `offset`, reads, flips it back.
  Outcome FlipAndRead(uint64_t offset, int bit) {
    SCOPED_TRACE("bit " + std::to_string(bit) + " of byte " + std::to_string(offset) + " (page " +
                 std::to_string(offset / GetParam().page_size) + ")");
    Flip(offset, bit);
    const Outcome o = ReadDamaged();
    Flip(offset, bit);
    return o;
  }

  // Puts the intact file back (after truncation).
  void Restore() { ASSERT_TRUE(WriteStringToFile(env_, image_, fname_, true).ok()); }

  const uint64_t seed_ = test::RandomSeed();
  test::TempDir dir_{"btree_crash_test"};
  std::unique_ptr<Env> mem_env_;
  Env* env_ = nullptr;
  std::string fname_;
  Model model_;
  SequenceNumber seq_ = 0;
  btree::TreeMeta meta_;
  uint64_t epoch_ = 0;
  std::string image_;
  std::vector<std::string> probes_;
};

TEST_P(BTreeDamageTest, FlippedBitInAnyPageGivesCorruptionOrTheModel) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  Random rnd(seed_);
  const uint32_t ps = GetParam().page_size;
  const uint64_t n = pages();
  // Every page if there are few; else a sample that keeps every meta,
  // internal and free-list page and 250 others.
  std::vector<uint64_t> chosen;
  std::vector<uint64_t> others;
  for (uint64_t p = 0; p < n; ++p) {
    PageType type;
    if (TypeAt(p, &type) && (type == PageType::kMeta || type == PageType::kInternal || type == PageType::kFreeList)) {
      chosen.push_back(p);
    } else {
      others.push_back(p);
    }
  }
  for (size_t i = 0; i < others.size(); ++i) std::swap(others[i], others[i + rnd.uniform(others.size() - i)]);
  if (others.size() > 250) others.resize(250);
  chosen.insert(chosen.end(), others.begin(), others.end());

  std::map<int, int> detected;  // page type -> damaged trials that gave Corruption
  int exact = 0;
  for (uint64_t p : chosen) {
    PageType type = PageType::kMeta;
    const bool typed = TypeAt(p, &type);
    // A meta page is its first 4 KiB; the rest of page 1 is unused.
    const uint64_t span = p < 2 ? btree::kMinPageSize : ps;
    const uint64_t at[2] = {p * ps + rnd.uniform(span), p * ps + rnd.uniform(btree::kPageHeaderSize)};
    for (uint64_t offset : at) {
      if (offset >= image_.size()) continue;
      const Outcome o = FlipAndRead(offset, static_cast<int>(rnd.uniform(8)));
      ASSERT_FALSE(HasFailure()) << "page " << p << " of " << n;
      if (p == epoch_ % 2) {
        EXPECT_EQ(o, Outcome::kOpenCorruption) << "damage in the meta page of the opened commit";
      }
      if (o == Outcome::kExact) {
        ++exact;
      } else if (typed) {
        ++detected[static_cast<int>(type)];
      }
    }
  }
  // The damage reached every kind of page (and some pages are not needed:
  // the other meta page, free pages).
  for (PageType t : {PageType::kMeta, PageType::kLeaf, PageType::kInternal, PageType::kBlob, PageType::kFreeList}) {
    EXPECT_GT(detected[static_cast<int>(t)], 0) << btree::PageTypeName(t) << " pages never damaged";
  }
  EXPECT_GT(exact, 0);
}

// Regression: a damaged page count in an extent header was trusted before
// the checksum: with mmap it read (SIGBUS) past the end of the file, and with
// pread it allocated page_count pages (up to 2^20) before reading.
TEST_P(BTreeDamageTest, DamagedPageCountNeverReadsPastTheFile) {
  const uint32_t ps = GetParam().page_size;
  // The last extent of the file, the root and the free list.
  uint64_t last = 0;
  for (uint64_t p = 2; p < pages();) {
    btree::PageHeader h;
    if ((p + 1) * ps <= image_.size() && btree::DecodePageHeader(image_.data() + p * ps, ps, p, &h).ok()) {
      last = p;
      p += h.page_count;
    } else {
      ++p;
    }
  }
  ASSERT_GE(last, 2u);
  for (uint64_t p : {last, meta_.root.page, meta_.free_list.page}) {
    for (int bit = 0; bit < 32; ++bit) {
      SCOPED_TRACE("page " + std::to_string(p) + " page_count bit " + std::to_string(bit));
      const Outcome o = FlipAndRead(p * ps + 12 + bit / 8, bit % 8);
      ASSERT_FALSE(HasFailure());
      if (p != last) {
        EXPECT_NE(o, Outcome::kExact);
      }
    }
  }
}

TEST_P(BTreeDamageTest, DamagedMetaPageOfTheOpenedCommitFailsOpen) {
  SCOPED_TRACE("seed " + std::to_string(seed_));
  Random rnd(seed_);
  const uint64_t slot = epoch_ % 2;
  const uint64_t base = slot * GetParam().page_size;
  // The checksum, each header field, the magic, the epoch, the root, and
  // random bytes of the payload and the zero padding.
  std::vector<uint64_t> offsets = {0, 7, 8, 9, 10, 12, 16, 24, 32, 40, 48, 52, 60, 68, 90, 200, 4095};
  for (int i = 0; i < 20; ++i) offsets.push_back(rnd.uniform(btree::kMinPageSize));
  for (uint64_t off : offsets) {
    const Outcome o = FlipAndRead(base + off, static_cast<int>(rnd.uniform(8)));
    ASSERT_FALSE(HasFailure());
    EXPECT_EQ(o, Outcome::kOpenCorruption) << "byte " << off << " of meta slot " << slot;
  }
  // The other slot (the previous commit) is not needed to open this one.
  const uint64_t other = (1 - slot) * GetParam().page_size;
  for (uint64_t off : {uint64_t{0}, uint64_t{40}, uint64_t{56}}) {
    EXPECT_EQ(FlipAndRead(other + off, 3), Outcome::kExact);
  }
}

// A file cut short (a lost tail): Corruption, never a read past the end.
// Also on a file of a single commit, which has no free list, so that Open
// succeeds and the reads themselves run into the missing tail.
TEST_P(BTreeDamageTest, TruncatedFileGivesCorruption) {
  const uint64_t ps = GetParam().page_size;
  for (const bool single_commit : {false, true}) {
    SCOPED_TRACE(single_commit ? "single commit" : "three commits");
    if (single_commit) {
      fname_ += "1";
      std::vector<Entry> all;
      for (const auto& [user, value] : model_) all.push_back(Entry{test::IKey(user, ++seq_, kTypeValue), value});
      std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
      Tree t;
      ASSERT_TRUE(OpenTree(options(cache.get()), 0, &t).ok());
      ASSERT_TRUE(MergeEntries(&t, all).ok());
      ASSERT_TRUE(t.version->meta().free_list.null());
      epoch_ = t.version->meta().epoch;
      t.close();
      ASSERT_TRUE(ReadFileToString(env_, fname_, &image_).ok());
    }
    std::vector<uint64_t> sizes = {
        image_.size() - ps / 2, image_.size() / 2, image_.size() / 3, 3 * ps, 2 * ps, ps + 4096, 100};
    for (uint64_t back = 1; back <= 12 && back * ps < image_.size(); ++back) sizes.push_back(image_.size() - back * ps);
    int corrupt = 0;
    for (uint64_t size : sizes) {
      SCOPED_TRACE("truncated to " + std::to_string(size) + " of " + std::to_string(image_.size()));
      ASSERT_TRUE(env_->truncate_file(fname_, size).ok());
      corrupt += ReadDamaged() != Outcome::kExact;
      ASSERT_FALSE(HasFailure());
      Restore();
    }
    EXPECT_GT(corrupt, 0);
  }
}

// A lost (or misdirected) write leaves a valid extent of an older commit
// where a node of the newest one belongs: its checksum holds, and only the
// epoch its parent records tells it apart. Put back, page by page, what the
// previous commit's file held where the newest commit wrote.
TEST_P(BTreeDamageTest, LostPageWriteIsCaughtByTheEpochCheck) {
  const uint32_t ps = GetParam().page_size;
  const std::string before = image_;
  // One more commit over the tree, rewriting leaves in place of freed pages.
  {
    std::unique_ptr<Cache> cache = NewArcCache(1 << 20);
    Tree t;
    ASSERT_TRUE(OpenTree(options(cache.get()), epoch_, &t).ok());
    std::vector<Entry> batch;
    size_t i = 0;
    for (const auto& [user, value] : model_) {
      if (i++ % 3 == 0) batch.push_back(Entry{test::IKey(user, ++seq_, kTypeValue), value + "!"});
    }
    ASSERT_TRUE(MergeEntries(&t, batch).ok());
    ASSERT_NO_FATAL_FAILURE(Apply(batch, &model_));
    epoch_ = t.version->meta().epoch;
    ASSERT_TRUE(Matches(t.version, model_));
  }
  ASSERT_TRUE(ReadFileToString(env_, fname_, &image_).ok());
  int caught = 0;
  for (uint64_t p = 2; (p + 1) * ps <= std::min(before.size(), image_.size()); ++p) {
    btree::PageHeader old_h, new_h;
    if (!btree::DecodePageHeader(before.data() + p * ps, ps, p, &old_h).ok() ||
        !btree::DecodePageHeader(image_.data() + p * ps, ps, p, &new_h).ok() || new_h.epoch != epoch_ ||
        old_h.epoch == new_h.epoch || (p + old_h.page_count) * ps > image_.size()) {
      continue;
    }
    SCOPED_TRACE("page " + std::to_string(p) + ": " + btree::PageTypeName(old_h.type) + " of commit " +
                 std::to_string(old_h.epoch) + " where commit " + std::to_string(epoch_) + " wrote a " +
                 btree::PageTypeName(new_h.type));
    std::string damaged = image_;
    damaged.replace(p * ps, size_t{old_h.page_count} * ps, before, p * ps, size_t{old_h.page_count} * ps);
    ASSERT_TRUE(WriteStringToFile(env_, damaged, fname_, true).ok());
    if (ReadDamaged() != Outcome::kExact) ++caught;
    ASSERT_FALSE(HasFailure());
  }
  Restore();
  EXPECT_GT(caught, 0) << "no page of the last commit reused a page of an older one";
}

INSTANTIATE_TEST_SUITE_P(Files, BTreeDamageTest,
                         testing::Values(TreeParam{4096, CompressionType::kNone, true},
                                         TreeParam{4096, CompressionType::kNone, false},
                                         TreeParam{65536, CompressionType::kLz4, true},
                                         TreeParam{16384, CompressionType::kZstd, false}),
                         test::TreeParamName);

// ---------------------------------------------------------------------------
// BTreePager::Open on missing, garbage and mismatched files.

class BTreePagerOpenTest : public testing::Test {
 protected:
  BTreePagerOpenTest() : mem_(NewMemoryEnv()), cache_(NewArcCache(1 << 20)) {
    EXPECT_TRUE(mem_->create_dir_if_missing("/db").ok());
  }
  PagerOptions options(uint32_t page_size = 4096) {
    return TreeOptions(mem_.get(), "/db/TREE", cache_.get(), page_size, CompressionType::kNone);
  }
  // Commits `commits` merges of fresh keys; returns the model.
  Model Build(uint32_t page_size, int commits) {
    Tree t;
    EXPECT_TRUE(OpenTree(options(page_size), 0, &t).ok());
    Model m;
    for (int i = 0; i < commits; ++i) {
      std::vector<Entry> batch = RandomBatch(&rnd_, 5000, 300, 0, 50, page_size, &seq_);
      EXPECT_TRUE(MergeEntries(&t, batch).ok());
      Apply(batch, &m);
    }
    return m;
  }

  std::unique_ptr<Env> mem_;
  std::unique_ptr<Cache> cache_;
  Random rnd_{test::RandomSeed()};
  SequenceNumber seq_ = 0;
};

TEST_F(BTreePagerOpenTest, MissingFile) {
  std::unique_ptr<BTreePager> pager;
  Status s = BTreePager::Open(options(), 3, &pager);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("missing"), std::string::npos) << s.ToString();
  EXPECT_EQ(pager, nullptr);
  EXPECT_FALSE(mem_->file_exists("/db/TREE")) << "a failed Open created the file";
  // Epoch 0 without a file: a new, empty tree; the file appears with the
  // first commit.
  Tree t;
  ASSERT_TRUE(OpenTree(options(), 0, &t).ok());
  EXPECT_TRUE(t.version->empty());
  EXPECT_TRUE(Matches(t.version, Model()));
  EXPECT_FALSE(mem_->file_exists("/db/TREE"));
}

TEST_F(BTreePagerOpenTest, EpochInNeitherMetaPageNamesBothSlots) {
  const Model m = Build(4096, 4);  // slot 0: commit 4, slot 1: commit 3
  for (uint64_t epoch : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{5}, uint64_t{1000}}) {
    std::unique_ptr<BTreePager> pager;
    Status s = BTreePager::Open(options(), epoch, &pager);
    ASSERT_TRUE(s.IsCorruption()) << epoch << ": " << s.ToString();
    EXPECT_EQ(pager, nullptr);
    const std::string msg = s.ToString();
    EXPECT_NE(msg.find("commit " + std::to_string(epoch)), std::string::npos) << msg;
    EXPECT_NE(msg.find("slot 0: commit 4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("slot 1: commit 3"), std::string::npos) << msg;
  }
  Tree t;
  ASSERT_TRUE(OpenTree(options(), 4, &t).ok());
  EXPECT_TRUE(Matches(t.version, m));
}

// Regression: commit 1 whole on disk but not recorded by the MANIFEST (the
// crash came before the MANIFEST write, or after the meta page write but
// before its sync returned) made Open(0) fail: "no meta page holds tree
// commit 0". The empty tree before commit 1 must open like any previous
// commit, and the next commit 1 replaces the unrecorded one.
TEST_F(BTreePagerOpenTest, EpochZeroOpensOverAnUnrecordedFirstCommit) {
  Build(16384, 1);
  Tree t;
  Status s = OpenTree(options(4096), 0, &t);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(t.version->empty());
  EXPECT_TRUE(Matches(t.version, Model()));
  // It keeps the file's page size, so the new commit 1 lands in the same
  // meta slot as the unrecorded one.
  EXPECT_EQ(t.pager->page_size(), 16384u);
  std::vector<Entry> batch = RandomBatch(&rnd_, 5000, 200, 0, 50, 16384, &seq_);
  ASSERT_TRUE(MergeEntries(&t, batch).ok());
  Model m;
  Apply(batch, &m);
  ASSERT_TRUE(OpenTree(options(4096), 1, &t).ok());
  EXPECT_TRUE(Matches(t.version, m));
  // After commit 2 the file has moved past the empty tree for good.
  std::vector<Entry> more = RandomBatch(&rnd_, 5000, 200, 0, 50, 16384, &seq_);
  ASSERT_TRUE(MergeEntries(&t, more).ok());
  t.close();
  s = OpenTree(options(), 0, &t);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
}

TEST_F(BTreePagerOpenTest, GarbageFile) {
  for (size_t size : {size_t{0}, size_t{100}, size_t{4096}, size_t{3 * 4096}, size_t{70000}}) {
    SCOPED_TRACE("garbage of " + std::to_string(size) + " bytes");
    ASSERT_TRUE(WriteStringToFile(mem_.get(), rnd_.random_bytes(size), "/db/TREE", true).ok());
    for (uint64_t epoch : {uint64_t{1}, uint64_t{2}, uint64_t{7}}) {
      std::unique_ptr<BTreePager> pager;
      Status s = BTreePager::Open(options(), epoch, &pager);
      EXPECT_TRUE(s.IsCorruption()) << epoch << ": " << s.ToString();
      EXPECT_EQ(pager, nullptr);
    }
    // Epoch 0: no commit was ever recorded, so whatever is in the file is
    // the debris of an unfinished first commit: a new tree over it.
    Tree t;
    ASSERT_TRUE(OpenTree(options(), 0, &t).ok());
    EXPECT_TRUE(t.version->empty());
    std::vector<Entry> batch = RandomBatch(&rnd_, 5000, 300, 0, 30, 4096, &seq_);
    ASSERT_TRUE(MergeEntries(&t, batch).ok());
    Model m;
    Apply(batch, &m);
    ASSERT_TRUE(OpenTree(options(), 1, &t).ok());
    EXPECT_TRUE(Matches(t.version, m));
    t.close();
  }
}

// The page size of an existing file wins over the options, also when slot 0
// is damaged and slot 1 has to be found at every possible page size.
TEST_F(BTreePagerOpenTest, PageSizeComesFromTheFile) {
  const Model m = Build(16384, 3);  // slot 1: commit 3, slot 0: commit 2
  Tree t;
  ASSERT_TRUE(OpenTree(options(4096), 3, &t).ok());
  EXPECT_EQ(t.pager->page_size(), 16384u);
  EXPECT_TRUE(Matches(t.version, m));
  t.close();
  // Damage slot 0.
  std::string image;
  ASSERT_TRUE(ReadFileToString(mem_.get(), "/db/TREE", &image).ok());
  image[100] ^= 1;
  ASSERT_TRUE(WriteStringToFile(mem_.get(), image, "/db/TREE", true).ok());
  ASSERT_TRUE(OpenTree(options(65536), 3, &t).ok());
  EXPECT_EQ(t.pager->page_size(), 16384u);
  EXPECT_TRUE(Matches(t.version, m));
  Status s = OpenTree(options(), 2, &t);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.ToString().find("slot 1: commit 3"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace lightning
