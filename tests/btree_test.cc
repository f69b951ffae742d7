// Copyright (c) Lightning authors. MIT License.
//
// The B+Tree alone: merges of random sorted batches (puts, overwrites,
// tombstones, values large enough for blobs) checked against a std::map
// model after every commit — full scans both ways, seeks, point lookups, the
// structural check — under every page size and codec, through the memory Env
// (pread) and the POSIX Env (mmap), across reopen at the committed epoch.
//
// Then, at 4 KiB pages: snapshots (every version above smallest_snapshot
// kept, what each snapshot sees unchanged, tombstones over versions split
// across leaves never resurrecting them), readers holding old versions while
// merges free and reuse pages (also from threads: the Concurrent test runs
// under ThreadSanitizer in CI), keys of up to 4096 bytes (multi-page leaves
// and internal nodes), values around the blob threshold and page boundaries,
// empty values, a tree shrinking in height, and cancelled merges.
// (Crashes, I/O errors and damaged files: btree_crash_test.cc.)
#include "btree/btree.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "btree/node.h"
#include "btree/page.h"
#include "cache/arc_cache.h"
#include "lightning/env.h"
#include "util/coding.h"
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
using btree::TreeVersion;
using test::Entry;
using test::Random;
using test::VectorIterator;

using test::TreeParam;

class BTreeModelTest : public testing::TestWithParam<TreeParam> {
 protected:
  BTreeModelTest() : cache_(NewArcCache(1 << 20)) {
    if (GetParam().posix) {
      env_ = Env::Default();
      fname_ = dir_.file("TREE");
    } else {
      mem_env_ = NewMemoryEnv();
      env_ = mem_env_.get();
      EXPECT_TRUE(env_->create_dir_if_missing("/db").ok());
      fname_ = "/db/TREE";
    }
  }

  Status open(uint64_t epoch) {
    version_.reset();
    pager_.reset();
    PagerOptions o;
    o.env = env_;
    o.fname = fname_;
    o.page_size = GetParam().page_size;
    o.compression = GetParam().compression;
    o.cache = cache_.get();
    o.mmap_size = 1 << 20;  // small, so that growth remaps
    Status s = BTreePager::Open(o, epoch, &pager_);
    if (s.ok()) {
      version_ = std::make_shared<TreeVersion>(pager_.get(), test::Icmp(), pager_->committed(), pager_->mapping());
    }
    return s;
  }

  // Merges entries (any order; sorted here) and applies them to the model.
  void merge(std::vector<Entry> entries) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return test::Icmp()->compare(a.key, b.key) < 0; });
    VectorIterator input(test::Icmp(), entries);
    std::shared_ptr<const TreeVersion> next;
    MergeStats stats;
    ASSERT_TRUE(MergeIntoTree(version_, &input, MergeSpec(), &next, &stats).ok());
    version_ = next;
    ASSERT_TRUE(test::ApplyNewestVersions(entries, &model_));
  }

  void check() {
    uint64_t entries = 0;
    Status s = btree::CheckTree(*version_, &entries);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(entries, model_.size());
    std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(version_);
    auto m = model_.begin();
    for (it->seek_to_first(); it->valid(); it->next(), ++m) {
      ASSERT_NE(m, model_.end());
      ASSERT_EQ(ExtractUserKey(it->key()).ToString(), m->first);
      ASSERT_EQ(it->value().ToString(), m->second);
    }
    ASSERT_TRUE(it->status().ok()) << it->status().ToString();
    ASSERT_EQ(m, model_.end());
    auto r = model_.rbegin();
    for (it->seek_to_last(); it->valid(); it->prev(), ++r) {
      ASSERT_NE(r, model_.rend());
      ASSERT_EQ(ExtractUserKey(it->key()).ToString(), r->first);
    }
    ASSERT_EQ(r, model_.rend());
    // Point lookups of present and absent keys.
    Random rnd(model_.size() + 7);
    for (int i = 0; i < 200; ++i) {
      const std::string user = key_for(rnd.uniform(key_space_));
      const std::string ikey = test::IKey(user, kMaxSequenceNumber, kValueTypeForSeek);
      bool found = false;
      std::string value;
      s = version_->get(ikey, [&](const Slice& k, const Slice& v) {
        ParsedInternalKey pk;
        ASSERT_TRUE(ParseInternalKey(k, &pk));
        ASSERT_EQ(pk.user_key.ToString(), user);
        found = true;
        value = v.ToString();
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
      auto mit = model_.find(user);
      ASSERT_EQ(found, mit != model_.end()) << user;
      if (found) {
        ASSERT_EQ(value, mit->second);
      }
      // seek lands on the model's lower bound.
      it->seek(ikey);
      auto lb = model_.lower_bound(user);
      ASSERT_EQ(it->valid(), lb != model_.end());
      if (it->valid()) {
        ASSERT_EQ(ExtractUserKey(it->key()).ToString(), lb->first);
      }
    }
  }

  std::string key_for(uint64_t i) const {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "key%08llu", static_cast<unsigned long long>(i));
    return buf;
  }

  std::vector<Entry> random_batch(Random* rnd, size_t n, int delete_pct, size_t big_value_every) {
    std::vector<Entry> out;
    std::map<std::string, bool> used;
    for (size_t i = 0; i < n; ++i) {
      std::string user = key_for(rnd->uniform(key_space_));
      if (used.count(user)) continue;  // one version per key per batch
      used[user] = true;
      const bool del = static_cast<int>(rnd->uniform(100)) < delete_pct;
      std::string value;
      if (!del) {
        const size_t len = (big_value_every > 0 && rnd->uniform(big_value_every) == 0)
                               ? GetParam().page_size + rnd->uniform(3 * GetParam().page_size)
                               : rnd->uniform(120);
        value = rnd->random_bytes(len);
      }
      out.push_back(Entry{test::IKey(user, ++seq_, del ? kTypeDeletion : kTypeValue), value});
    }
    return out;
  }

  test::TempDir dir_{"btree_test"};
  std::unique_ptr<Env> mem_env_;
  Env* env_ = nullptr;
  std::string fname_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<BTreePager> pager_;
  std::shared_ptr<const TreeVersion> version_;
  std::map<std::string, std::string> model_;
  SequenceNumber seq_ = 0;
  uint64_t key_space_ = 20000;
};

TEST_P(BTreeModelTest, RandomMergesMatchTheModel) {
  ASSERT_TRUE(open(0).ok());
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  for (int round = 0; round < 40; ++round) {
    const size_t n = round % 7 == 0 ? 3000 : 1 + rnd.uniform(400);
    merge(random_batch(&rnd, n, round % 5 == 4 ? 60 : 15, 50));
    ASSERT_NO_FATAL_FAILURE(check());
    if (round % 10 == 9) {
      // Reopen at the committed epoch: the file alone must give the same tree.
      const uint64_t epoch = version_->meta().epoch;
      ASSERT_TRUE(open(epoch).ok());
      ASSERT_NO_FATAL_FAILURE(check());
    }
  }
  EXPECT_GT(version_->meta().height, 1u);
}

// The scan path (each leaf's prefix copied once, the suffix rebuilt per
// entry, the neighbouring leaf prefetched): random walks of next/prev from
// random seeks, changing direction often, also right at leaf boundaries,
// checking key and value of every step against the model. The keys differ in
// length and in how much of them the entries of a leaf share.
TEST_P(BTreeModelTest, RandomWalksAcrossLeavesMatchTheModel) {
  ASSERT_TRUE(open(0).ok());
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  for (int round = 0; round < 6; ++round) {
    std::vector<Entry> batch;
    std::map<std::string, bool> used;
    for (int i = 0; i < 1500; ++i) {
      // Short and long keys, sharing prefixes of varying lengths.
      std::string user = key_for(rnd.uniform(key_space_));
      user.resize(3 + rnd.uniform(user.size() - 2));
      if (rnd.one_in(3)) user += std::string(rnd.uniform(40), static_cast<char>('a' + rnd.uniform(3)));
      if (used.count(user)) continue;
      used[user] = true;
      const bool del = rnd.one_in(8);
      const std::string value = del ? "" : rnd.random_bytes(rnd.one_in(60) ? GetParam().page_size + 10 : rnd.uniform(150));
      batch.push_back(Entry{test::IKey(user, ++seq_, del ? kTypeDeletion : kTypeValue), value});
    }
    merge(batch);
  }
  ASSERT_GT(version_->meta().height, 1u);
  ASSERT_FALSE(model_.empty());
  std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(version_);
  for (int walk = 0; walk < 200; ++walk) {
    const std::string target = key_for(rnd.uniform(key_space_)).substr(0, 3 + rnd.uniform(9));
    it->seek(test::IKey(target, kMaxSequenceNumber, kValueTypeForSeek));
    auto m = model_.lower_bound(target);
    for (int step = 0; step < 300; ++step) {
      ASSERT_EQ(it->valid(), m != model_.end()) << "walk " << walk << " step " << step;
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      if (!it->valid()) break;
      ASSERT_EQ(ExtractUserKey(it->key()).ToString(), m->first) << "walk " << walk << " step " << step;
      ASSERT_EQ(it->value().ToString(), m->second) << m->first;
      // Mostly forward in runs, with frequent turns.
      const bool forward = (walk % 2 == 0) ? !rnd.one_in(4) : rnd.one_in(4);
      // Every other walk steps with next_entry() / prev_entry(), whose answer
      // must be the entry the iterator is then at.
      const bool entry_steps = walk % 4 >= 2;
      Slice key, value;
      bool got = false;
      if (forward) {
        got = entry_steps ? it->next_entry(&key, &value) : (it->next(), it->valid());
        ++m;
      } else {
        got = entry_steps ? it->prev_entry(&key, &value) : (it->prev(), it->valid());
        if (m == model_.begin()) {
          m = model_.end();
        } else {
          --m;
        }
      }
      ASSERT_EQ(got, it->valid());
      if (entry_steps && got) {
        ASSERT_EQ(key.ToString(), it->key().ToString());
        ASSERT_EQ(value.ToString(), it->value().ToString());
      }
    }
  }
}

TEST_P(BTreeModelTest, DeletingEverythingEmptiesTheTreeAndRefillingReusesSpace) {
  ASSERT_TRUE(open(0).ok());
  Random rnd(test::RandomSeed());
  auto fill = [&] {
    for (uint64_t base = 0; base < key_space_; base += 2000) {
      std::vector<Entry> batch;
      for (uint64_t i = base; i < base + 2000; ++i) {
        batch.push_back(Entry{test::IKey(key_for(i), ++seq_, kTypeValue), rnd.random_bytes(100)});
      }
      merge(batch);
    }
  };
  fill();
  ASSERT_NO_FATAL_FAILURE(check());
  const uint64_t full_size = version_->file_bytes();
  std::vector<Entry> deletes;
  for (uint64_t i = 0; i < key_space_; ++i) deletes.push_back(Entry{test::IKey(key_for(i), ++seq_, kTypeDeletion), ""});
  merge(deletes);
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_EQ(version_->meta().height, 0u);
  EXPECT_EQ(version_->meta().entries, 0u);
  fill();
  ASSERT_NO_FATAL_FAILURE(check());
  // The second fill reuses the pages the first one freed.
  EXPECT_LE(version_->file_bytes(), full_size + full_size / 4);
}

INSTANTIATE_TEST_SUITE_P(PageSizes, BTreeModelTest,
                         testing::Values(TreeParam{4096, CompressionType::kNone, false},
                                         TreeParam{4096, CompressionType::kNone, true},
                                         TreeParam{4096, CompressionType::kLz4, true},
                                         TreeParam{8192, CompressionType::kZstd, false},
                                         TreeParam{16384, CompressionType::kSnappy, true},
                                         TreeParam{32768, CompressionType::kNone, false},
                                         TreeParam{65536, CompressionType::kLz4, true}),
                         test::TreeParamName);

// ---------------------------------------------------------------------------
// One tree at 4 KiB pages (memory Env unless a test says otherwise).

using btree::NodeReader;
using btree::PageRef;
using btree::PageType;
using UserModel = std::map<std::string, std::string>;
// (internal key, value) pairs in tree order.
using Contents = std::vector<std::pair<std::string, std::string>>;

// What a reader at snapshot s sees in entries (internal-key order): per user
// key the first version with sequence <= s, unless it is a tombstone.
template <typename Entries>
UserModel VisibleAt(const Entries& entries, SequenceNumber s) {
  UserModel out;
  std::string decided;
  bool have = false;
  for (const auto& [ikey, value] : entries) {
    ParsedInternalKey k;
    EXPECT_TRUE(ParseInternalKey(ikey, &k));
    if (have && k.user_key == Slice(decided)) continue;
    if (k.sequence > s) continue;
    decided = k.user_key.ToString();
    have = true;
    if (k.type == kTypeValue) out[decided] = value;
  }
  return out;
}

// The nodes of a version, walked through the pager.
struct Shape {
  uint64_t leaves = 0, internals = 0, multi_page_leaves = 0, multi_page_internals = 0;
  uint64_t blob_pages = 0;
  std::map<std::string, uint32_t> blob_pages_of;                 // internal key -> pages of its blob
  std::vector<std::pair<std::string, std::string>> leaf_bounds;  // first, last user key
};

Status WalkNode(const TreeVersion& v, PageRef ref, uint32_t h, Shape* shape) {
  btree::PageHandle page;
  Status s = v.pager()->read(v.mapping(), ref, h == 1 ? PageType::kLeaf : PageType::kInternal, &page);
  NodeReader node;
  if (s.ok()) s = node.init(page.payload(), h == 1);
  if (!s.ok()) return s;
  std::string scratch;
  if (h > 1) {
    ++shape->internals;
    if (page.page_count() > 1) ++shape->multi_page_internals;
    for (uint32_t i = 0; i < node.count(); ++i) {
      PageRef child;
      s = node.child(i, &child);
      if (s.ok()) s = WalkNode(v, child, h - 1, shape);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }
  ++shape->leaves;
  if (page.page_count() > 1) ++shape->multi_page_leaves;
  shape->leaf_bounds.emplace_back(ExtractUserKey(node.key(0, &scratch)).ToString(),
                                  ExtractUserKey(node.key(node.count() - 1, &scratch)).ToString());
  for (uint32_t i = 0; i < node.count(); ++i) {
    Slice value;
    btree::BlobRef blob;
    bool is_blob = false;
    s = node.leaf_value(i, &value, &blob, &is_blob);
    if (!s.ok()) return s;
    if (is_blob) {
      shape->blob_pages_of[node.key(i, &scratch).ToString()] = blob.pages;
      shape->blob_pages += blob.pages;
    }
  }
  return Status::OK();
}

Status Walk(const TreeVersion& v, Shape* shape) {
  *shape = Shape();
  if (v.empty()) return Status::OK();
  return WalkNode(v, v.meta().root, v.meta().height, shape);
}

// Hands out a VectorIterator's entries and sets *flag once `after` of them
// were consumed (0: never).
class CancellingIterator final : public InternalIterator {
 public:
  CancellingIterator(std::vector<Entry> entries, size_t after, std::atomic<bool>* flag)
      : inner_(test::Icmp(), std::move(entries)), after_(after), flag_(flag) {}
  bool valid() const override { return inner_.valid(); }
  void seek_to_first() override { inner_.seek_to_first(); }
  void seek_to_last() override { inner_.seek_to_last(); }
  void seek(const Slice& target) override { inner_.seek(target); }
  void seek_for_prev(const Slice& target) override { inner_.seek_for_prev(target); }
  void next() override {
    inner_.next();
    if (++consumed_ == after_) flag_->store(true);
  }
  void prev() override { inner_.prev(); }
  Slice key() const override { return inner_.key(); }
  Slice value() const override { return inner_.value(); }
  Status status() const override { return inner_.status(); }

 private:
  VectorIterator inner_;
  const size_t after_;
  std::atomic<bool>* const flag_;
  size_t consumed_ = 0;
};

void SortByInternalKey(std::vector<Entry>* entries) {
  std::sort(entries->begin(), entries->end(),
            [](const Entry& a, const Entry& b) { return test::Icmp()->compare(a.key, b.key) < 0; });
}

// Reads all of v and compares it with the model (user key -> value; v holds
// one version per key). Thread-safe; returns the first difference, or "".
std::string Differences(const std::shared_ptr<const TreeVersion>& v, const UserModel& m, size_t gets) {
  std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(v);
  auto mi = m.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++mi) {
    ParsedInternalKey k;
    if (!ParseInternalKey(it->key(), &k)) return "malformed key";
    if (mi == m.end()) return "extra key " + test::Hex(k.user_key);
    if (k.user_key != Slice(mi->first) || k.type != kTypeValue)
      return "at " + test::Hex(mi->first) + " the tree has " + test::Hex(k.user_key);
    if (it->value() != Slice(mi->second)) return "value of " + test::Hex(mi->first) + " differs";
  }
  if (!it->status().ok()) return "scan: " + it->status().ToString();
  if (mi != m.end()) return "missing " + test::Hex(mi->first);
  auto ri = m.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++ri) {
    if (ri == m.rend() || ExtractUserKey(it->key()) != Slice(ri->first)) return "backward scan differs";
  }
  if (!it->status().ok()) return "backward scan: " + it->status().ToString();
  if (ri != m.rend()) return "backward scan ends early";
  const size_t stride = std::max<size_t>(1, m.size() / std::max<size_t>(gets, 1));
  size_t i = 0;
  for (const auto& [user, value] : m) {
    if (i++ % stride != 0) continue;
    for (const std::string& probe : {user, user + std::string(1, '\0')}) {
      bool found = false;
      std::string got;
      Status s =
          v->get(test::IKey(probe, kMaxSequenceNumber, kValueTypeForSeek), [&](const Slice& k, const Slice& val) {
            found = ExtractUserKey(k) == Slice(probe);
            got = val.ToString();
          });
      if (!s.ok()) return "get: " + s.ToString();
      const bool want = probe.size() == user.size();
      if (found != want || (found && got != value)) return "get " + test::Hex(probe);
    }
  }
  return "";
}

// A pager, its current version, and models of what it holds.
class TreeHarness {
 public:
  TreeHarness() : cache_(NewArcCache(1 << 20)) { reset(false); }

  // A new, empty file (memory Env, or the POSIX Env with mmap reads).
  void reset(bool posix) {
    version_.reset();
    pager_.reset();
    model_.clear();
    history_ = test::NewModel();
    if (posix) {
      env_ = Env::Default();
      fname_ = dir_.file("TREE" + std::to_string(++files_));
    } else {
      mem_env_ = NewMemoryEnv();
      env_ = mem_env_.get();
      EXPECT_TRUE(env_->create_dir_if_missing("/db").ok());
      fname_ = "/db/TREE";
    }
  }

  Status open(uint64_t epoch) {
    version_.reset();
    pager_.reset();
    PagerOptions o;
    o.env = env_;
    o.fname = fname_;
    o.page_size = 4096;
    o.cache = cache_.get();
    o.mmap_size = 1 << 20;
    Status s = BTreePager::Open(o, epoch, &pager_);
    if (s.ok()) {
      version_ = std::make_shared<TreeVersion>(pager_.get(), test::Icmp(), pager_->committed(), pager_->mapping());
    }
    return s;
  }

  // Merges input into the current version with spec; on success records the
  // entries in the history and (for the user-key model, meaningful when
  // every merge uses smallest_snapshot = max) in model_.
  Status merge_from(InternalIterator* input, const std::vector<Entry>& entries, const MergeSpec& spec) {
    std::shared_ptr<const TreeVersion> next;
    MergeStats stats;
    Status s = MergeIntoTree(version_, input, spec, &next, &stats);
    if (!s.ok()) return s;
    version_ = next;
    for (const Entry& e : entries) history_[e.key] = e.value;
    EXPECT_TRUE(test::ApplyNewestVersions(entries, &model_));
    return s;
  }

  Status merge(std::vector<Entry> entries, SequenceNumber smallest_snapshot = kMaxSequenceNumber) {
    SortByInternalKey(&entries);
    VectorIterator input(test::Icmp(), entries);
    MergeSpec spec;
    spec.smallest_snapshot = smallest_snapshot;
    return merge_from(&input, entries, spec);
  }

  Entry put(const std::string& user, const std::string& value) {
    return Entry{test::IKey(user, ++seq_, kTypeValue), value};
  }
  Entry del(const std::string& user) { return Entry{test::IKey(user, ++seq_, kTypeDeletion), ""}; }

  Contents contents() {
    Contents out;
    std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(version_);
    for (it->seek_to_first(); it->valid(); it->next()) out.emplace_back(it->key().ToString(), it->value().ToString());
    EXPECT_TRUE(it->status().ok()) << it->status().ToString();
    return out;
  }

  // CheckTree, and the version reads exactly like model_.
  void check() {
    uint64_t entries = 0;
    Status s = btree::CheckTree(*version_, &entries);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_EQ(entries, model_.size());
    const std::string diff = Differences(version_, model_, 200);
    ASSERT_EQ(diff, "");
  }

  // The snapshot contract after a merge with smallest_snapshot `smallest`:
  // the tree holds only versions that were written, every version above
  // `smallest`, and each snapshot at or above it (and the newest state) sees
  // what it saw before; get() at a snapshot finds the version it sees.
  void check_snapshots(SequenceNumber smallest, const std::vector<SequenceNumber>& snapshots) {
    Status s = btree::CheckTree(*version_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    const Contents tree = contents();
    std::set<std::string> in_tree;
    for (const auto& [ikey, value] : tree) {
      auto h = history_.find(ikey);
      ASSERT_TRUE(h != history_.end()) << "never written: " << test::Hex(ikey);
      ASSERT_EQ(h->second, value) << test::Hex(ikey);
      in_tree.insert(ikey);
    }
    for (const auto& [ikey, value] : history_) {
      ParsedInternalKey k;
      ASSERT_TRUE(ParseInternalKey(ikey, &k));
      if (k.sequence > smallest) {
        ASSERT_TRUE(in_tree.count(ikey) > 0) << "dropped a version above the snapshot: " << test::Hex(k.user_key)
                                             << " @" << k.sequence << " (smallest snapshot " << smallest << ")";
      }
    }
    std::vector<SequenceNumber> all = snapshots;
    all.push_back(smallest);
    all.push_back(kMaxSequenceNumber);
    for (SequenceNumber snap : all) {
      if (snap < smallest) continue;
      ASSERT_EQ(VisibleAt(tree, snap), VisibleAt(history_, snap)) << "at snapshot " << snap;
      // get() lands on the first version at or below the snapshot.
      std::map<std::string, std::pair<std::string, std::string>> expect;  // user -> (ikey, value)
      for (const auto& [ikey, value] : tree) {
        ParsedInternalKey k;
        ParseInternalKey(ikey, &k);
        if (k.sequence <= snap && expect.count(k.user_key.ToString()) == 0) {
          expect[k.user_key.ToString()] = {ikey, value};
        }
      }
      for (const auto& [ikey, value] : history_) {
        const std::string user = ExtractUserKey(ikey).ToString();
        std::string got_key, got_value;
        s = version_->get(test::IKey(user, snap, kValueTypeForSeek), [&](const Slice& k, const Slice& v) {
          got_key = k.ToString();
          got_value = v.ToString();
        });
        ASSERT_TRUE(s.ok()) << s.ToString();
        auto e = expect.find(user);
        if (e == expect.end()) {
          ASSERT_EQ(got_key, "") << "get " << test::Hex(user) << " at " << snap;
        } else {
          ASSERT_EQ(test::Hex(got_key), test::Hex(e->second.first)) << "get " << test::Hex(user) << " at " << snap;
          ASSERT_EQ(got_value, e->second.second);
        }
      }
    }
  }

  test::TempDir dir_{"btree_test"};
  int files_ = 0;
  std::unique_ptr<Env> mem_env_;
  Env* env_ = nullptr;
  std::string fname_;
  std::unique_ptr<Cache> cache_;
  std::unique_ptr<BTreePager> pager_;
  std::shared_ptr<const TreeVersion> version_;
  UserModel model_;
  test::Model history_ = test::NewModel();  // every entry ever merged
  SequenceNumber seq_ = 0;
};

class BTreeTest : public testing::Test, public TreeHarness {};

std::string Key(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%08llu", static_cast<unsigned long long>(i));
  return buf;
}

// --- Node searches ---------------------------------------------------------

// A node of keys, built and read back.
struct BuiltNode {
  std::string payload;
  NodeReader reader;
};

void BuildNode(const std::vector<std::string>& sorted_keys, bool leaf, BuiltNode* out) {
  btree::NodeBuilder b(leaf);
  for (size_t i = 0; i < sorted_keys.size(); ++i) {
    if (leaf) {
      b.add_inline(sorted_keys[i], "v");
    } else {
      b.add_child(sorted_keys[i], PageRef{2 + i, 1});
    }
  }
  out->payload = b.finish();
  ASSERT_TRUE(out->reader.init(out->payload, leaf).ok());
}

// The in-place bytewise searches land where the comparator-driven ones do,
// on nodes whose shared prefix stops in the user keys, covers a whole user
// key and runs into the tags (every version of one key), or is empty, for
// targets before, between, on and after the keys (shorter and longer user
// keys, every tag order).
TEST(NodeSearchTest, BytewiseSearchesAgreeWithTheComparator) {
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  const InternalKeyComparator& icmp = *test::Icmp();
  const std::vector<std::string> alphabets = {"ab", "abc\xff", std::string("a\0", 2)};
  for (int round = 0; round < 400; ++round) {
    const std::string& alphabet = alphabets[rnd.uniform(alphabets.size())];
    auto random_user = [&](size_t max_len) {
      std::string u = round % 4 == 0 ? "common/prefix/" : "";
      const size_t n = rnd.uniform(max_len + 1);
      for (size_t i = 0; i < n; ++i) u.push_back(alphabet[rnd.uniform(alphabet.size())]);
      return u;
    };
    std::set<std::string, std::function<bool(const std::string&, const std::string&)>> keys(
        [&](const std::string& a, const std::string& b) { return icmp.compare(a, b) < 0; });
    const bool one_user_key = rnd.one_in(4);
    const std::string only = random_user(6);
    const size_t n = 1 + rnd.uniform(40);
    while (keys.size() < n) {
      const std::string user = one_user_key ? only : random_user(6);
      // Sequences near each other share their high tag bytes too.
      keys.insert(test::IKey(user, one_user_key ? 1000 + rnd.uniform(300) : rnd.uniform(1u << 20),
                             rnd.one_in(3) ? kTypeDeletion : kTypeValue));
    }
    const std::vector<std::string> sorted(keys.begin(), keys.end());
    for (const bool leaf : {true, false}) {
      // An internal node never compares its first key; give it a distinct one.
      std::vector<std::string> node_keys = sorted;
      if (!leaf) node_keys.insert(node_keys.begin(), std::string());
      if (!leaf && node_keys.size() < 2) continue;
      BuiltNode node;
      ASSERT_NO_FATAL_FAILURE(BuildNode(node_keys, leaf, &node));
      std::string scratch;
      for (int probe = 0; probe < 60; ++probe) {
        std::string target;
        if (probe < 20 && !sorted.empty()) {
          // On a key, or on its user key with a nearby tag.
          const std::string& k = sorted[rnd.uniform(sorted.size())];
          ParsedInternalKey parsed;
          ASSERT_TRUE(ParseInternalKey(k, &parsed));
          SequenceNumber seq = parsed.sequence + rnd.uniform(5);
          seq = probe % 3 == 0 || seq < 2 ? parsed.sequence : seq - 2;
          target = probe % 5 == 0 ? k : test::IKey(parsed.user_key.ToString(), seq, kValueTypeForSeek);
        } else {
          target = test::IKey(one_user_key && rnd.one_in(2) ? only : random_user(7), rnd.uniform(1u << 20),
                              rnd.one_in(2) ? kValueTypeForSeek : kTypeDeletion);
        }
        SCOPED_TRACE("target " + test::Hex(target) + (leaf ? " leaf" : " internal"));
        if (leaf) {
          ASSERT_EQ(node.reader.lower_bound_bytewise(target), node.reader.lower_bound(icmp, target, &scratch));
        } else {
          ASSERT_EQ(node.reader.find_child_bytewise(target), node.reader.find_child(icmp, target, &scratch));
        }
      }
    }
  }
}

// A node whose entry offsets are damaged: the bytewise searches stay within
// the node (the damaged entries compare low), and reading such an entry
// reports Corruption.
TEST(NodeSearchTest, DamagedOffsetsKeepTheSearchInsideTheNode) {
  std::vector<std::string> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(test::IKey(Key(i * 2), 5, kTypeValue));
  BuiltNode node;
  ASSERT_NO_FATAL_FAILURE(BuildNode(keys, true, &node));
  // The offsets sit before the trailing count: point half of them past the
  // entries.
  const size_t count = keys.size();
  char* offsets = &node.payload[node.payload.size() - 4 - 4 * count];
  for (size_t i = 0; i < count; i += 2) EncodeFixed32(offsets + 4 * i, 0xfffffff0u);
  ASSERT_TRUE(node.reader.init(node.payload, true).ok());
  for (int k = -1; k < 42; ++k) {
    const uint32_t i = node.reader.lower_bound_bytewise(test::IKey(k < 0 ? "" : Key(k), 9, kValueTypeForSeek));
    ASSERT_LE(i, count);
    if (i < count && i % 2 == 0) {
      Slice value;
      btree::BlobRef blob;
      bool is_blob = false;
      EXPECT_TRUE(node.reader.leaf_value(i, &value, &blob, &is_blob).IsCorruption());
    }
  }
  // A key shorter than a tag is malformed: it compares low too.
  BuiltNode shortkeys;
  ASSERT_NO_FATAL_FAILURE(BuildNode({"a", "b", "c"}, true, &shortkeys));
  EXPECT_EQ(shortkeys.reader.lower_bound_bytewise(test::IKey("b", 1, kTypeValue)), 3u);
}

// --- Verified pages ---------------------------------------------------------

// Extents a commit wrote are read in place without checksumming them again
// in the process that wrote them; after a reopen every page is checksummed on
// its first read again, so a page damaged on disk in between is reported.
TEST_F(BTreeTest, CommittedPagesSkipTheChecksumUntilReopenedThenDamageIsCaught) {
  reset(/*posix=*/true);
  ASSERT_TRUE(open(0).ok());
  std::vector<Entry> entries;
  for (int i = 0; i < 3000; ++i) entries.push_back(put(Key(i), std::string(100, static_cast<char>('a' + i % 26))));
  ASSERT_TRUE(merge(entries).ok());
  ASSERT_GE(version_->meta().height, 2u);
  ASSERT_NE(version_->mapping(), nullptr);
  const uint64_t verifications = pager_->in_place_verifications();
  const uint64_t in_place = pager_->in_place_reads();
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_EQ(pager_->in_place_verifications(), verifications);
  EXPECT_GE(pager_->in_place_reads() - in_place, version_->meta().leaf_pages);

  // A leaf in the middle, and a byte of its payload.
  PageRef leaf = version_->meta().root;
  for (uint32_t h = version_->meta().height; h > 1; --h) {
    btree::PageHandle page;
    NodeReader node;
    ASSERT_TRUE(pager_->read(version_->mapping(), leaf, PageType::kInternal, &page).ok());
    ASSERT_TRUE(node.init(page.payload(), false).ok());
    ASSERT_TRUE(node.child(node.count() / 2, &leaf).ok());
  }
  const uint64_t epoch = version_->meta().epoch;

  // Reopened: the first scan checksums what it reads.
  ASSERT_TRUE(open(epoch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_GE(pager_->in_place_verifications(), version_->meta().leaf_pages);

  // Damaged while closed: caught on the first read after the reopen.
  version_.reset();
  pager_.reset();
  {
    std::unique_ptr<RandomRWFile> file;
    ASSERT_TRUE(env_->new_random_rw_file(fname_, &file).ok());
    char byte = 0;
    Slice got;
    const uint64_t offset = leaf.page * 4096 + 1000;
    ASSERT_TRUE(file->read(offset, 1, &got, &byte).ok());
    const char flipped = static_cast<char>(got[0] ^ 0x20);
    ASSERT_TRUE(file->write(offset, Slice(&flipped, 1)).ok());
    ASSERT_TRUE(file->close().ok());
  }
  ASSERT_TRUE(open(epoch).ok());
  std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(version_);
  size_t n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) ++n;
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
  EXPECT_LT(n, entries.size());
}

// value_pinned(): with mmap reads of raw pages, values (inline and blobs)
// stay readable and unchanged after the iterator moves on, for as long as
// it lives; without a mapping they are not pinned.
TEST_F(BTreeTest, ValuesInMappedPagesStayPinnedAfterTheIteratorMoves) {
  for (const bool posix : {true, false}) {
    SCOPED_TRACE(posix ? "posix (mmap)" : "memory");
    reset(posix);
    ASSERT_TRUE(open(0).ok());
    std::vector<Entry> entries;
    for (int i = 0; i < 1500; ++i) {
      entries.push_back(put(Key(i), i % 100 == 7 ? std::string(9000, static_cast<char>('A' + i % 26))
                                                 : "value" + std::to_string(i)));
    }
    ASSERT_TRUE(merge(entries).ok());
    std::unique_ptr<InternalIterator> it = btree::NewTreeIterator(version_);
    std::vector<std::pair<Slice, std::string>> kept;  // (pinned value, expected)
    auto m = model_.rbegin();
    for (it->seek_to_last(); it->valid(); it->prev(), ++m) {
      ASSERT_NE(m, model_.rend());
      ASSERT_EQ(it->value().ToString(), m->second);
      EXPECT_EQ(it->value_pinned(), posix);
      if (it->value_pinned()) kept.emplace_back(it->value(), m->second);
    }
    ASSERT_TRUE(it->status().ok());
    EXPECT_EQ(m, model_.rend());
    for (const auto& [value, expected] : kept) ASSERT_EQ(value.ToString(), expected);
    EXPECT_EQ(kept.size(), posix ? model_.size() : 0u);
  }
}

// --- Snapshots -------------------------------------------------------------

TEST_F(BTreeTest, SnapshotKeepsEveryVersionAboveItAndWhatEachSnapshotSees) {
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  ASSERT_TRUE(open(0).ok());
  std::vector<SequenceNumber> live;  // snapshots held by readers
  SequenceNumber smallest = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<Entry> batch;
    const size_t n = 1 + rnd.uniform(round % 8 == 0 ? 400 : 80);
    for (size_t i = 0; i < n; ++i) {
      const std::string user = Key(rnd.uniform(150));
      // Large inline values spread a key's versions over several leaves.
      const size_t len = rnd.one_in(25)  ? 4096 + rnd.uniform(4096)
                         : rnd.one_in(4) ? 700 + rnd.uniform(300)
                                         : rnd.uniform(40);
      batch.push_back(rnd.one_in(5) ? del(user) : put(user, rnd.random_bytes(len)));
      // Snapshots are taken while the batch's writes happen.
      if (rnd.one_in(150)) live.push_back(seq_);
    }
    if (!live.empty() && rnd.one_in(3))
      live.erase(live.begin() + static_cast<std::ptrdiff_t>(rnd.uniform(live.size())));
    const SequenceNumber next = live.empty() ? seq_ : *std::min_element(live.begin(), live.end());
    ASSERT_GE(next, smallest);
    smallest = next;
    ASSERT_TRUE(merge(batch, smallest).ok());
    ASSERT_NO_FATAL_FAILURE(check_snapshots(smallest, live));
  }
  // Every snapshot released: every key reads as the model says.
  live.clear();
  std::vector<Entry> batch;
  for (uint64_t i = 0; i < 150; i += 7) batch.push_back(put(Key(i), "last"));
  ASSERT_TRUE(merge(batch, seq_).ok());
  ASSERT_NO_FATAL_FAILURE(check_snapshots(seq_, live));
}

TEST_F(BTreeTest, TombstoneAboveTheSnapshotIsKept) {
  ASSERT_TRUE(open(0).ok());
  ASSERT_TRUE(merge({put("k", "v1"), put("j", "j1")}).ok());     // k@1 j@2
  ASSERT_TRUE(merge({del("k")}, /*smallest_snapshot=*/2).ok());  // k@3
  auto key = [](const char* user, SequenceNumber s, ValueType t) { return test::IKey(user, s, t); };
  // k@3 is above the snapshot: kept, and so is k@1, what snapshot 2 sees.
  Contents want = {{key("j", 2, kTypeValue), "j1"}, {key("k", 3, kTypeDeletion), ""}, {key("k", 1, kTypeValue), "v1"}};
  EXPECT_EQ(contents(), want);
  ASSERT_NO_FATAL_FAILURE(check_snapshots(2, {2}));
  // A tombstone above the snapshot with nothing under it is kept too.
  ASSERT_TRUE(merge({del("z")}, 2).ok());  // z@4
  want.emplace_back(key("z", 4, kTypeDeletion), "");
  EXPECT_EQ(contents(), want);
  ASSERT_NO_FATAL_FAILURE(check_snapshots(2, {2}));
  // A tombstone at the snapshot is not above it: it goes, and what it hides.
  ASSERT_TRUE(merge({del("y")}, 5).ok());  // y@5
  want = {{key("j", 2, kTypeValue), "j1"}};
  EXPECT_EQ(contents(), want);
  // The snapshot moves past both tombstones: they and what they hide go.
  ASSERT_TRUE(merge({put("j", "j2")}, 10).ok());  // j@6
  want = {{key("j", 6, kTypeValue), "j2"}};
  EXPECT_EQ(contents(), want);
  ASSERT_NO_FATAL_FAILURE(check_snapshots(10, {}));
}

TEST_F(BTreeTest, VersionsAboveTheSnapshotAreAllKeptAndTheNewestBelowIt) {
  ASSERT_TRUE(open(0).ok());
  std::vector<Entry> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(put("k", "v" + std::to_string(i)));  // k@1..k@10
  ASSERT_TRUE(merge(batch, 0).ok());
  EXPECT_EQ(contents().size(), 10u);
  // Snapshot 6: k@10..k@7 above it, k@6 the newest at or below it.
  ASSERT_TRUE(merge({put("a", "a")}, 6).ok());
  Contents c = contents();
  ASSERT_EQ(c.size(), 6u);
  ParsedInternalKey last;
  ASSERT_TRUE(ParseInternalKey(c.back().first, &last));
  EXPECT_EQ(last.sequence, 6u);
  ASSERT_NO_FATAL_FAILURE(check_snapshots(6, {6, 8}));
}

// Many versions of one key, spread over several leaves (inline values of
// ~900 bytes, or blobs), then a tombstone merged with smallest_snapshot =
// max: the key is gone at once, and no later merge around it (before it,
// after it, into its leaves, another tombstone, a big batch) brings an older
// version back.
TEST_F(BTreeTest, TombstoneOverVersionsSplitAcrossLeavesNeverResurrects) {
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  for (const bool blobs : {false, true}) {
    for (const bool with_neighbours : {false, true}) {
      SCOPED_TRACE(std::string(blobs ? "blob" : "inline") + " versions" + (with_neighbours ? ", neighbours" : ""));
      reset(false);
      ASSERT_TRUE(open(0).ok());
      std::vector<Entry> around;
      for (int i = 0; i < 60; ++i) {
        around.push_back(put("a" + std::to_string(1000 + i), rnd.random_bytes(50)));
        around.push_back(put("z" + std::to_string(1000 + i), rnd.random_bytes(50)));
      }
      ASSERT_TRUE(merge(around).ok());
      const int versions = blobs ? 300 : 40;
      for (int done = 0; done < versions; done += 10) {
        std::vector<Entry> batch;
        for (int i = 0; i < 10; ++i) batch.push_back(put("m", rnd.random_bytes(blobs ? 5000 : 900)));
        ASSERT_TRUE(merge(batch, /*smallest_snapshot=*/0).ok());  // every version kept
      }
      Shape shape;
      ASSERT_TRUE(Walk(*version_, &shape).ok());
      int leaves_with_m = 0;
      for (const auto& [first, last] : shape.leaf_bounds) leaves_with_m += first <= "m" && "m" <= last;
      ASSERT_GE(leaves_with_m, 3);
      ASSERT_EQ(contents().size(), around.size() + static_cast<size_t>(versions));

      std::vector<Entry> tomb = {del("m")};
      if (with_neighbours) {
        tomb.push_back(put("l", "before"));
        tomb.push_back(put("m\x01", "after"));
      }
      // Versions in leaves the merge did not touch stay, hidden by the
      // tombstone that is kept for them; what readers see is the model.
      auto check_gone = [&] {
        ASSERT_NO_FATAL_FAILURE(check_snapshots(seq_, {}));
        ASSERT_EQ(VisibleAt(contents(), kMaxSequenceNumber), model_);
        ASSERT_EQ(model_.count("m"), 0u);
        bool value = false;
        ASSERT_TRUE(version_
                        ->get(test::IKey("m", kMaxSequenceNumber, kValueTypeForSeek),
                              [&](const Slice& k, const Slice&) {
                                ParsedInternalKey pk;
                                value = ParseInternalKey(k, &pk) && pk.type == kTypeValue;
                              })
                        .ok());
        ASSERT_FALSE(value) << "a deleted version is back";
      };
      ASSERT_TRUE(merge(tomb).ok());
      ASSERT_NO_FATAL_FAILURE(check_gone());
      const std::vector<std::vector<Entry>> later = {
          {put("a1030", "x")},
          {put("m\x02", "just after")},
          {put("lz", "just before")},
          {del("m\x01"), del("lz")},
          {del("m")},
          {put("a1000", "y"), put("m\x03", "z"), put("z1059", "w")},
      };
      for (const auto& batch : later) {
        ASSERT_TRUE(merge(batch).ok());
        ASSERT_NO_FATAL_FAILURE(check_gone());
      }
      // A batch touching every leaf of the neighbours.
      std::vector<Entry> all;
      for (int i = 0; i < 60; ++i) all.push_back(put("z" + std::to_string(1000 + i), "again"));
      for (int i = 0; i < 60; ++i) all.push_back(put("a" + std::to_string(1000 + i), "again"));
      ASSERT_TRUE(merge(all).ok());
      ASSERT_NO_FATAL_FAILURE(check_gone());
      ASSERT_TRUE(open(version_->meta().epoch).ok());
      ASSERT_NO_FATAL_FAILURE(check_gone());
    }
  }
}

// --- Readers vs page reuse -------------------------------------------------

// Old versions (and iterators over them) held while merges free and reuse
// pages read exactly what they held: with a cache of capacity 0 every read
// goes to the file, so a reused page would show. Once they are gone, freed
// pages are reused and the file stops growing.
TEST_F(BTreeTest, OldVersionsKeepTheirPagesWhileMergesReuseOthers) {
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  cache_ = NewArcCache(0);
  for (const bool posix : {false, true}) {
    SCOPED_TRACE(posix ? "posix (mmap)" : "memory");
    reset(posix);
    ASSERT_TRUE(open(0).ok());
    auto batch = [&](size_t n) {
      std::vector<Entry> out;
      std::set<uint64_t> used;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t k = rnd.uniform(2000);
        if (!used.insert(k).second) continue;
        out.push_back(rnd.one_in(6) ? del(Key(k))
                                    : put(Key(k), rnd.random_bytes(rnd.one_in(40) ? 4096 + rnd.uniform(8192)
                                                                                  : rnd.uniform(150))));
      }
      return out;
    };
    ASSERT_TRUE(merge(batch(3000)).ok());
    struct Held {
      std::shared_ptr<const TreeVersion> version;
      UserModel model;
      std::unique_ptr<InternalIterator> it;
      UserModel::const_iterator next;  // where it must be
    };
    std::deque<Held> held;
    uint64_t pages_while_held = version_->meta().num_pages;
    for (int round = 0; round < 24; ++round) {
      // Round 0 always holds an iterator seeked past the last key, so that
      // an old version's iterator at its end is checked on every seed.
      const bool past_end = round == 0;
      if (past_end || (held.size() < 3 && rnd.one_in(3))) {
        // Built in place: h.next may be h.model.end(), which std::map does
        // not carry over to a moved-to map (it would then be compared with
        // another map's end and dereferenced). A deque never relocates its
        // elements on push_back/pop_front, so h.model stays where it is.
        Held& h = held.emplace_back();
        h.version = version_;
        h.model = model_;
        h.it = btree::NewTreeIterator(h.version);
        h.next = past_end ? h.model.end() : h.model.lower_bound(Key(rnd.uniform(2000)));
        h.it->seek(test::IKey(h.next == h.model.end() ? std::string("\xff") : h.next->first, kMaxSequenceNumber,
                              kValueTypeForSeek));
      }
      ASSERT_TRUE(merge(batch(round % 4 == 0 ? 2000 : 400)).ok());
      ASSERT_NO_FATAL_FAILURE(check());
      for (Held& h : held) {
        for (int step = 0; step < 20 && h.next != h.model.end(); ++step, ++h.next) {
          ASSERT_TRUE(h.it->valid()) << h.it->status().ToString();
          ASSERT_EQ(ExtractUserKey(h.it->key()).ToString(), h.next->first);
          ASSERT_EQ(h.it->value().ToString(), h.next->second);
          h.it->next();
        }
        if (h.next == h.model.end()) {
          ASSERT_FALSE(h.it->valid());
          ASSERT_TRUE(h.it->status().ok()) << h.it->status().ToString();
        }
      }
      if (!held.empty() && rnd.one_in(4)) {
        Held& h = held.front();
        ASSERT_TRUE(btree::CheckTree(*h.version).ok());
        ASSERT_EQ(Differences(h.version, h.model, 100), "") << "version " << h.version->meta().epoch;
        held.pop_front();
      }
      pages_while_held = version_->meta().num_pages;
    }
    for (Held& h : held) {
      ASSERT_TRUE(btree::CheckTree(*h.version).ok());
      ASSERT_EQ(Differences(h.version, h.model, 100), "") << "version " << h.version->meta().epoch;
    }
    held.clear();
    // No reader left: after a few merges to settle, the file stops growing
    // (also across a reopen, which takes the free list from the file).
    for (int i = 0; i < 4; ++i) ASSERT_TRUE(merge(batch(400)).ok());
    ASSERT_TRUE(open(version_->meta().epoch).ok());
    const uint64_t settled = version_->meta().num_pages;
    for (int i = 0; i < 12; ++i) ASSERT_TRUE(merge(batch(400)).ok());
    ASSERT_NO_FATAL_FAILURE(check());
    EXPECT_LE(version_->meta().num_pages, settled + settled / 10)
        << "freed pages are not reused (" << pages_while_held << " pages while readers held versions)";
    EXPECT_GT(version_->meta().free_pages, 0u);
  }
}

// The same from threads: readers take the current version (and keep a few
// for a while) and check it against the model it was published with, while
// one thread merges. CI runs this under ThreadSanitizer.
TEST_F(BTreeTest, ConcurrentReadersCheckTheirVersionsWhileOneThreadMerges) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  Random rnd(seed);
  cache_ = NewArcCache(256 << 10);  // small: reads go to the file too
  for (const bool posix : {false, true}) {
    SCOPED_TRACE(posix ? "posix (mmap)" : "memory");
    reset(posix);
    ASSERT_TRUE(open(0).ok());
    auto batch = [&](size_t n) {
      std::vector<Entry> out;
      std::set<uint64_t> used;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t k = rnd.uniform(1500);
        if (!used.insert(k).second) continue;
        out.push_back(rnd.one_in(5) ? del(Key(k))
                                    : put(Key(k), rnd.random_bytes(rnd.one_in(50) ? 5000 : rnd.uniform(120))));
      }
      return out;
    };
    ASSERT_TRUE(merge(batch(1500)).ok());
    struct Published {
      std::shared_ptr<const TreeVersion> version;
      std::shared_ptr<const UserModel> model;
    };
    std::mutex mu;
    Published current{version_, std::make_shared<const UserModel>(model_)};
    std::string first_error;
    std::atomic<bool> done{false};
    std::atomic<uint64_t> reads{0};
    auto reader = [&](uint64_t id) {
      Random r(seed + id);
      std::deque<Published> kept;
      auto verify = [&](const Published& p) {
        const std::string diff = Differences(p.version, *p.model, 40);
        reads.fetch_add(1);
        if (diff.empty()) return true;
        std::lock_guard<std::mutex> l(mu);
        if (first_error.empty()) first_error = "version " + std::to_string(p.version->meta().epoch) + ": " + diff;
        return false;
      };
      while (!done.load() || reads.load() < 6) {
        Published p;
        {
          std::lock_guard<std::mutex> l(mu);
          p = current;
          if (!first_error.empty()) return;
        }
        if (!verify(p)) return;
        if (r.one_in(2)) kept.push_back(p);
        if (kept.size() > 3 || (!kept.empty() && r.one_in(3))) {
          if (!verify(kept.front())) return;
          kept.pop_front();
        }
      }
      for (const Published& p : kept) {
        if (!verify(p)) return;
      }
    };
    std::vector<std::thread> readers;
    for (uint64_t i = 0; i < 3; ++i) readers.emplace_back(reader, i + 1);
    for (int round = 0; round < 20; ++round) {
      Status s = merge(batch(round % 5 == 0 ? 1200 : 250));
      if (!s.ok()) {
        ADD_FAILURE() << s.ToString();
        break;
      }
      std::lock_guard<std::mutex> l(mu);
      current = Published{version_, std::make_shared<const UserModel>(model_)};
      if (!first_error.empty()) break;
    }
    done.store(true);
    for (std::thread& t : readers) t.join();
    ASSERT_EQ(first_error, "");
    EXPECT_GE(reads.load(), 6u);
    current = Published{};
    ASSERT_NO_FATAL_FAILURE(check());
    ASSERT_TRUE(open(version_->meta().epoch).ok());
    ASSERT_NO_FATAL_FAILURE(check());
  }
}

// --- Big keys, blobs, empty values -----------------------------------------

// User keys up to 4096 bytes (internal keys of 4104) at 4 KiB pages: a leaf
// of one such entry, and an internal node of two such separators, take two
// pages.
TEST_F(BTreeTest, KeysUpToFourKiBMakeMultiPageLeavesAndInternalNodes) {
  Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  ASSERT_TRUE(open(0).ok());
  std::vector<std::string> users;
  for (int g = 0; g < 14; ++g) {
    // Three keys per group share 4000 bytes, so separators between them are
    // as long as the keys; groups differ early, so nodes share no prefix.
    const std::string prefix = rnd.random_key(4000);
    for (int i = 0; i < 3; ++i) {
      char tail[8];
      std::snprintf(tail, sizeof(tail), "%04d", g * 3 + i);
      users.push_back(prefix + tail + std::string(i == 2 ? 92 : 0, 'x'));  // up to 4096 bytes
    }
  }
  for (int i = 0; i < 40; ++i) users.push_back(rnd.random_key(1 + rnd.uniform(3000)));
  users.push_back(std::string(4096, '\xff'));
  users.push_back(std::string(1, '\0'));
  std::vector<Entry> batch;
  for (size_t i = 0; i < users.size(); ++i) {
    const size_t len = i % 5 == 0 ? 0 : i % 7 == 0 ? 5000 : rnd.uniform(200);
    batch.push_back(put(users[i], rnd.random_bytes(len)));
  }
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  Shape shape;
  ASSERT_TRUE(Walk(*version_, &shape).ok());
  EXPECT_GT(shape.multi_page_leaves, 0u);
  EXPECT_GT(shape.multi_page_internals, 0u);
  EXPECT_GE(version_->meta().height, 3u);
  // Overwrite, delete, reopen.
  batch.clear();
  for (size_t i = 0; i < users.size(); ++i) {
    if (rnd.one_in(3))
      batch.push_back(rnd.one_in(2) ? del(users[i]) : put(users[i], rnd.random_bytes(rnd.uniform(300))));
  }
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  ASSERT_TRUE(open(version_->meta().epoch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  batch.clear();
  for (const std::string& u : users) batch.push_back(del(u));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_TRUE(version_->empty());
}

// A value is stored inline while key + value fit a quarter of a page's
// payload and as a blob beyond; blobs at page boundaries take exactly the
// pages they need; empty values work inline and (behind a key too big to
// leave room) as empty blobs.
TEST_F(BTreeTest, ValuesAroundTheBlobThresholdAndPageBoundaries) {
  Random rnd(test::RandomSeed());
  ASSERT_TRUE(open(0).ok());
  const size_t capacity = 4096 - btree::kPageHeaderSize;
  const size_t threshold = capacity / 4;  // key + value above it: a blob
  const size_t ikey = Key(0).size() + 8;
  std::vector<size_t> lengths = {0,
                                 1,
                                 threshold - ikey - 1,
                                 threshold - ikey,
                                 threshold - ikey + 1,
                                 threshold - ikey + 2,
                                 capacity - 1,
                                 capacity,
                                 capacity + 1,
                                 2 * 4096 - 40,
                                 2 * 4096 - 39,
                                 3 * 4096,
                                 100000};
  std::vector<Entry> batch;
  std::map<std::string, size_t> length_of;  // internal key -> value length
  for (size_t i = 0; i < lengths.size(); ++i) {
    batch.push_back(put(Key(i), rnd.random_bytes(lengths[i])));
    length_of[batch.back().key] = lengths[i];
  }
  for (size_t i = 0; i < 4; ++i) {  // big keys with tiny values
    batch.push_back(put(Key(100 + i) + std::string(1500 * (i + 1), 'b'), std::string(i, 'v')));
    length_of[batch.back().key] = i;
  }
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  Shape shape;
  ASSERT_TRUE(Walk(*version_, &shape).ok());
  for (const auto& [key, len] : length_of) {
    const bool blob = key.size() + len > threshold;
    auto b = shape.blob_pages_of.find(key);
    EXPECT_EQ(b != shape.blob_pages_of.end(), blob) << "value of " << len << " bytes behind a key of " << key.size();
    if (blob && b != shape.blob_pages_of.end()) {
      EXPECT_EQ(b->second, btree::PagesForPayload(len, 4096)) << len;
    }
  }
  EXPECT_EQ(shape.blob_pages, version_->meta().blob_pages);
  // Swap inline and blob values around, reopen.
  batch.clear();
  for (size_t i = 0; i < lengths.size(); ++i)
    batch.push_back(put(Key(i), rnd.random_bytes(lengths[lengths.size() - 1 - i])));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  ASSERT_TRUE(open(version_->meta().epoch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
}

// --- Shrinking --------------------------------------------------------------

TEST_F(BTreeTest, DeletingTheMiddleAndThenAlmostEverythingShrinksTheTree) {
  Random rnd(test::RandomSeed());
  ASSERT_TRUE(open(0).ok());
  const uint64_t n = 9000;
  std::vector<Entry> batch;
  for (uint64_t i = 0; i < n; ++i) batch.push_back(put(Key(i), rnd.random_bytes(60)));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  const uint32_t height = version_->meta().height;
  ASSERT_GE(height, 3u);
  // The middle 80%: whole subtrees go, the separators around them change.
  batch.clear();
  for (uint64_t i = n / 10; i < n - n / 10; ++i) batch.push_back(del(Key(i)));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_LE(version_->meta().height, height);
  // Keys come back into the emptied range.
  batch.clear();
  for (uint64_t i = n / 10; i < n - n / 10; i += 3) batch.push_back(put(Key(i), "back"));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  // All but the first ten keys: one leaf is left, the root.
  batch.clear();
  for (uint64_t i = 10; i < n; ++i) batch.push_back(del(Key(i)));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_EQ(version_->meta().height, 1u);
  EXPECT_EQ(version_->meta().internal_pages, 0u);
  ASSERT_TRUE(open(version_->meta().epoch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  // And it grows again.
  batch.clear();
  for (uint64_t i = 0; i < n; i += 2) batch.push_back(put(Key(i), rnd.random_bytes(60)));
  ASSERT_TRUE(merge(batch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  EXPECT_GE(version_->meta().height, 2u);
}

// --- Cancellation -------------------------------------------------------------

// MergeSpec.cancel, set before or during the merge: Aborted, the committed
// tree unchanged, and the next merge on the same pager commits exactly what
// it would have without the cancelled ones (same pages: nothing leaked).
TEST_F(BTreeTest, CancelledMergeLeavesTheTreeUnchangedAndReusable) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto build = [&](TreeHarness* t) {
    Random rnd(seed);
    ASSERT_TRUE(t->open(0).ok());
    for (int round = 0; round < 3; ++round) {
      std::vector<Entry> batch;
      for (uint64_t i = 0; i < 3000; i += 1 + rnd.uniform(3)) {
        batch.push_back(round > 0 && rnd.one_in(5) ? t->del(Key(i))
                                                   : t->put(Key(i), rnd.random_bytes(rnd.one_in(40) ? 6000 : 80)));
      }
      ASSERT_TRUE(t->merge(batch).ok());
    }
  };
  ASSERT_NO_FATAL_FAILURE(build(this));
  std::vector<Entry> input;
  Random rnd(seed + 1);
  for (uint64_t i = 0; i < 3000; i += 1 + rnd.uniform(5)) {
    input.push_back(rnd.one_in(4) ? del(Key(i)) : put(Key(i), rnd.random_bytes(rnd.one_in(30) ? 7000 : 90)));
  }
  SortByInternalKey(&input);
  const uint64_t epoch = version_->meta().epoch;
  const UserModel before = model_;
  for (const size_t after : {size_t{0}, size_t{1}, input.size() / 3, input.size() - 1, input.size()}) {
    SCOPED_TRACE("cancelled after " + std::to_string(after) + " of " + std::to_string(input.size()) + " entries");
    std::atomic<bool> cancel{after == 0};
    CancellingIterator it(input, after, &cancel);
    MergeSpec spec;
    spec.cancel = &cancel;
    std::shared_ptr<const TreeVersion> next;
    MergeStats stats;
    Status s = MergeIntoTree(version_, &it, spec, &next, &stats);
    if (after == input.size() && s.ok()) continue;  // set after the last check: may commit
    ASSERT_TRUE(s.IsAborted()) << s.ToString();
    EXPECT_EQ(next, nullptr);
    EXPECT_EQ(pager_->committed().epoch, epoch);
    ASSERT_NO_FATAL_FAILURE(check());
  }
  ASSERT_EQ(model_, before);
  ASSERT_TRUE(merge(input).ok());
  ASSERT_NO_FATAL_FAILURE(check());
  // The same merge without the cancelled ones, on a second tree.
  TreeHarness other;
  ASSERT_NO_FATAL_FAILURE(build(&other));
  other.seq_ = seq_ - input.size();
  ASSERT_TRUE(other.merge(input).ok());
  EXPECT_EQ(other.model_, model_);
  EXPECT_EQ(other.version_->meta().num_pages, version_->meta().num_pages);
  EXPECT_EQ(other.version_->meta().free_pages, version_->meta().free_pages);
  ASSERT_TRUE(open(version_->meta().epoch).ok());
  ASSERT_NO_FATAL_FAILURE(check());
}

// Cancelling the first merge into an empty tree either aborts or commits a
// whole tree (there is no leaf boundary to stop at); never anything between.
TEST_F(BTreeTest, CancelledMergeIntoAnEmptyTree) {
  ASSERT_TRUE(open(0).ok());
  std::vector<Entry> input;
  for (uint64_t i = 0; i < 500; ++i) input.push_back(put(Key(i), "v"));
  std::atomic<bool> cancel{true};
  VectorIterator it(test::Icmp(), input);
  MergeSpec spec;
  spec.cancel = &cancel;
  Status s = merge_from(&it, input, spec);
  if (s.IsAborted()) {
    EXPECT_TRUE(version_->empty());
    EXPECT_EQ(pager_->committed().epoch, 0u);
  } else {
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  ASSERT_NO_FATAL_FAILURE(check());
}

}  // namespace
}  // namespace lightning
