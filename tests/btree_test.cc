// Copyright (c) Lightning authors. MIT License.
//
// The B+Tree alone: merges of random sorted batches (puts, overwrites,
// tombstones, values large enough for blobs) checked against a std::map
// model after every commit — full scans both ways, seeks, point lookups, the
// structural check — under every page size and codec, through the memory Env
// (pread) and the POSIX Env (mmap), across reopen at the committed epoch.
#include "btree/btree.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "cache/arc_cache.h"
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
using btree::TreeVersion;
using test::Entry;
using test::Random;
using test::VectorIterator;

struct TreeParam {
  uint32_t page_size;
  CompressionType compression;
  bool posix;  // POSIX Env (mmap reads) or memory Env (pread)
};

std::string ParamName(const testing::TestParamInfo<TreeParam>& info) {
  const char* codec[] = {"none", "zstd", "lz4", "snappy"};
  return std::to_string(info.param.page_size / 1024) + "k_" + codec[static_cast<int>(info.param.compression)] +
         (info.param.posix ? "_posix" : "_mem");
}

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
    // Newest version of each user key wins; tombstones delete.
    std::map<std::string, std::pair<SequenceNumber, const Entry*>> newest;
    for (const Entry& e : entries) {
      ParsedInternalKey k;
      ASSERT_TRUE(ParseInternalKey(e.key, &k));
      auto& slot = newest[k.user_key.ToString()];
      if (slot.second == nullptr || k.sequence > slot.first) slot = {k.sequence, &e};
    }
    for (const auto& [user, v] : newest) {
      ParsedInternalKey k;
      ParseInternalKey(v.second->key, &k);
      if (k.type == kTypeDeletion) {
        model_.erase(user);
      } else {
        model_[user] = v.second->value;
      }
    }
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
                         ParamName);

}  // namespace
}  // namespace lightning
