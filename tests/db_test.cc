// Copyright (c) Lightning authors. MIT License.
//
// Engine round trips, run under every standard configuration (POSIX and
// in-memory Env x WAL sync modes).
#include "lightning/db.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "lightning/comparator.h"
#include "util/db_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using test::DbConfig;

class DbTest : public ::testing::TestWithParam<DbConfig> {
 protected:
  DbTest() {
    if (GetParam().memory_env) {
      mem_env_ = NewMemoryEnv();
      options_.env = mem_env_.get();
      path_ = "/db";
    } else {
      path_ = dir_.path() + "/db";
    }
    options_.wal_sync_mode = GetParam().sync_mode;
  }

  void open() {
    auto r = Database::open(path_, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r.value());
  }
  void reopen() {
    if (db_) {
      ASSERT_TRUE(db_->close().ok());
    }
    db_.reset();
    open();
  }
  std::string get(const std::string& key) {
    std::string value;
    Status s = db_->get(key, &value);
    if (s.IsNotFound()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.ToString();
    return value;
  }

  test::TempDir dir_{"db_test"};
  std::unique_ptr<Env> mem_env_;
  Options options_;
  std::string path_;
  std::unique_ptr<Database> db_;
};

TEST_P(DbTest, EmptyDatabase) {
  open();
  EXPECT_EQ("NOT_FOUND", get("anything"));
  reopen();
  EXPECT_EQ("NOT_FOUND", get("anything"));
}

TEST_P(DbTest, PutGetRemoveOverwrite) {
  open();
  ASSERT_TRUE(db_->put("a", "1").ok());
  ASSERT_TRUE(db_->put("b", "2").ok());
  EXPECT_EQ("1", get("a"));
  EXPECT_EQ("2", get("b"));
  ASSERT_TRUE(db_->put("a", "3").ok());
  EXPECT_EQ("3", get("a"));
  ASSERT_TRUE(db_->remove("a").ok());
  EXPECT_EQ("NOT_FOUND", get("a"));
  ASSERT_TRUE(db_->remove("never-written").ok());
  ASSERT_TRUE(db_->put("a", "4").ok());
  EXPECT_EQ("4", get("a"));
  auto r = db_->get("b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ("2", r.value());
  EXPECT_TRUE(db_->get("zzz").status().IsNotFound());
  reopen();
  EXPECT_EQ("4", get("a"));
  EXPECT_EQ("2", get("b"));
}

TEST_P(DbTest, BinaryKeysAndValues) {
  open();
  const std::string k1("\0", 1), k2("\0\0", 2), k3("a\0b", 3), k4("\xff\xfe\x00", 3);
  const std::string v1("\0value\0", 7);
  ASSERT_TRUE(db_->put(k1, v1).ok());
  ASSERT_TRUE(db_->put(k2, "two").ok());
  ASSERT_TRUE(db_->put(k3, "").ok());
  ASSERT_TRUE(db_->put(k4, k4).ok());
  for (int round = 0; round < 2; round++) {
    EXPECT_EQ(v1, get(k1));
    EXPECT_EQ("two", get(k2));
    EXPECT_EQ("", get(k3));  // an empty value is a value, not a deletion
    EXPECT_EQ(k4, get(k4));
    EXPECT_EQ("NOT_FOUND", get(std::string("a\0c", 3)));
    reopen();
  }
}

TEST_P(DbTest, Limits) {
  open();
  const std::string max_key(kMaxKeySize, 'k');
  ASSERT_TRUE(db_->put(max_key, "v").ok());
  EXPECT_EQ("v", get(max_key));

  Status s = db_->put(std::string(kMaxKeySize + 1, 'k'), "v");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("key too large")) << s.message();
  s = db_->put("", "v");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_TRUE(db_->remove("").IsInvalidArgument());
  EXPECT_TRUE(db_->get("").status().IsInvalidArgument());
  EXPECT_TRUE(db_->get(std::string(kMaxKeySize + 1, 'x')).status().IsInvalidArgument());

  const std::string big(kMaxValueSize, 'v');
  ASSERT_TRUE(db_->put("big", big).ok());
  s = db_->put("too-big", std::string(kMaxValueSize + 1, 'v'));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_EQ("NOT_FOUND", get("too-big"));
  reopen();
  EXPECT_EQ(big, get("big"));
  EXPECT_EQ("v", get(max_key));
}

TEST_P(DbTest, WriteBatchIsAppliedInOrderAndAtomically) {
  open();
  WriteBatch batch;
  ASSERT_TRUE(batch.put("x", "1").ok());
  ASSERT_TRUE(batch.put("y", "2").ok());
  ASSERT_TRUE(batch.remove("x").ok());
  ASSERT_TRUE(batch.put("y", "3").ok());
  EXPECT_EQ(4u, batch.count());
  EXPECT_TRUE(batch.put("", "bad").IsInvalidArgument());
  EXPECT_EQ(4u, batch.count());  // a rejected operation leaves the batch unchanged
  ASSERT_TRUE(db_->write(batch).ok());
  EXPECT_EQ("NOT_FOUND", get("x"));
  EXPECT_EQ("3", get("y"));
  ASSERT_TRUE(db_->write(WriteBatch()).ok());
  WriteOptions sync;
  sync.sync = true;
  ASSERT_TRUE(db_->write(WriteBatch(), sync).ok());
  reopen();
  EXPECT_EQ("NOT_FOUND", get("x"));
  EXPECT_EQ("3", get("y"));
}

TEST_P(DbTest, RandomOperationsMatchModelAcrossReopens) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  open();
  std::map<std::string, std::string> model;
  std::vector<std::string> touched;
  for (int i = 0; i < 3000; i++) {
    const std::string key = rnd.one_in(4) ? rnd.random_bytes(1 + rnd.uniform(20)) : "k" + std::to_string(rnd.uniform(300));
    touched.push_back(key);
    const uint64_t op = rnd.uniform(10);
    if (op < 6) {
      const std::string value = test::MakeValue(key, i, rnd.uniform(200));
      ASSERT_TRUE(db_->put(key, value).ok());
      model[key] = value;
    } else if (op < 8) {
      ASSERT_TRUE(db_->remove(key).ok());
      model.erase(key);
    } else if (op < 9) {
      WriteBatch batch;
      for (int j = 0; j < 5; j++) {
        const std::string bkey = "b" + std::to_string(rnd.uniform(50));
        touched.push_back(bkey);
        if (rnd.one_in(3)) {
          ASSERT_TRUE(batch.remove(bkey).ok());
          model.erase(bkey);
        } else {
          const std::string value = test::MakeValue(bkey, i * 10 + j, rnd.uniform(50));
          ASSERT_TRUE(batch.put(bkey, value).ok());
          model[bkey] = value;
        }
      }
      ASSERT_TRUE(db_->write(batch).ok());
    } else if (rnd.one_in(20)) {
      ASSERT_EQ("", test::CheckAgainstModel(db_.get(), model, touched));
      reopen();
    }
  }
  ASSERT_EQ("", test::CheckAgainstModel(db_.get(), model, touched));
  reopen();
  ASSERT_EQ("", test::CheckAgainstModel(db_.get(), model, touched));
}

TEST_P(DbTest, ClosedHandleReturnsClosed) {
  open();
  ASSERT_TRUE(db_->put("k", "v").ok());
  ASSERT_TRUE(db_->close().ok());
  EXPECT_TRUE(db_->close().ok());  // idempotent
  EXPECT_TRUE(db_->put("k", "v").IsClosed());
  EXPECT_TRUE(db_->remove("k").IsClosed());
  EXPECT_TRUE(db_->get("k").status().IsClosed());
  EXPECT_TRUE(db_->write(WriteBatch()).IsClosed());
  EXPECT_TRUE(db_->sync_wal().IsClosed());
  db_.reset();
  open();  // the lock was released by close()
  EXPECT_EQ("v", get("k"));
}

TEST_P(DbTest, CreateAndOpenFlags) {
  {
    auto r = Database::create(path_, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r.value()->put("k", "v").ok());
  }
  auto again = Database::create(path_, options_);
  EXPECT_TRUE(again.status().IsInvalidArgument()) << again.status().ToString();

  Options no_create = options_;
  no_create.create_if_missing = false;
  auto missing = Database::open(path_ + "-missing", no_create);
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status().ToString();
  auto existing = Database::open(path_, no_create);
  ASSERT_TRUE(existing.ok()) << existing.status().ToString();
  std::string value;
  ASSERT_TRUE(existing.value()->get("k", &value).ok());
  EXPECT_EQ("v", value);
}

TEST_P(DbTest, SecondOpenIsBusy) {
  open();
  auto second = Database::open(path_, options_);
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  EXPECT_NE(std::string::npos, second.status().message().find("locked")) << second.status().message();
}

class ReverseComparator final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override { return -a.compare(b); }
  const char* name() const override { return "test.ReverseComparator"; }
};

TEST_P(DbTest, ComparatorNameIsPersistedAndChecked) {
  ReverseComparator reverse;
  options_.comparator = &reverse;
  open();
  ASSERT_TRUE(db_->put("k", "v").ok());
  reopen();
  EXPECT_EQ("v", get("k"));
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
  options_.comparator = nullptr;
  auto r = Database::open(path_, options_);
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(std::string::npos, r.status().message().find("test.ReverseComparator")) << r.status().message();
}

// Writers hold a per-key-stripe lock across put() and the model update, so
// the model records each key's commit order; readers check that every value
// they see is well formed for its key. At the end (and after a reopen) the
// database must equal the model.
TEST_P(DbTest, ConcurrentWritersAndReadersMatchModel) {
  open();
  constexpr int kWriters = 4, kReaders = 2, kKeys = 64, kOpsPerWriter = 1500, kStripes = 8;
  std::mutex stripes[kStripes];
  std::mutex model_mu;
  std::map<std::string, std::string> model;
  std::atomic<bool> stop{false};
  std::atomic<int> reader_errors{0};

  auto key_of = [](int i) { return "key" + std::to_string(i); };
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      test::Random rnd(1000 + w);
      for (int i = 0; i < kOpsPerWriter; i++) {
        const int k = static_cast<int>(rnd.uniform(kKeys));
        const std::string key = key_of(k);
        std::lock_guard<std::mutex> stripe(stripes[k % kStripes]);
        if (rnd.one_in(5)) {
          ASSERT_TRUE(db_->remove(key).ok());
          std::lock_guard<std::mutex> l(model_mu);
          model.erase(key);
        } else {
          const std::string value = key + "@" + std::to_string(w) + "." + std::to_string(i);
          ASSERT_TRUE(db_->put(key, value).ok());
          std::lock_guard<std::mutex> l(model_mu);
          model[key] = value;
        }
      }
    });
  }
  for (int r = 0; r < kReaders; r++) {
    threads.emplace_back([&, r] {
      test::Random rnd(2000 + r);
      std::string value;
      while (!stop.load()) {
        const std::string key = key_of(static_cast<int>(rnd.uniform(kKeys)));
        Status s = db_->get(key, &value);
        if (s.ok() ? value.compare(0, key.size() + 1, key + "@") != 0 : !s.IsNotFound()) reader_errors++;
      }
    });
  }
  for (int w = 0; w < kWriters; w++) threads[w].join();
  stop = true;
  for (size_t t = kWriters; t < threads.size(); t++) threads[t].join();
  EXPECT_EQ(0, reader_errors.load());

  std::vector<std::string> all;
  for (int k = 0; k < kKeys; k++) all.push_back(key_of(k));
  ASSERT_EQ("", test::CheckAgainstModel(db_.get(), model, all));
  reopen();
  ASSERT_EQ("", test::CheckAgainstModel(db_.get(), model, all));
}

INSTANTIATE_TEST_SUITE_P(Configs, DbTest, ::testing::ValuesIn(test::StandardDbConfigs()),
                         test::DbConfigName);

}  // namespace
}  // namespace lightning
