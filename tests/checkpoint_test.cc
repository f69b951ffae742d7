// Copyright (c) Lightning authors. MIT License.
//
// Database::checkpoint: model-based (random operations against a std::map,
// checkpoints at random points, each reopened and compared with the model as
// of its call), concurrent writers and background merges into the tree
// during checkpoints (every write acknowledged before the call is in the
// copy, and each writer's keys form a prefix), hard links on POSIX, refusal
// of a non-empty target, misuse after close.
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./checkpoint_test --gtest_filter=...
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lightning/db.h"
#include "lightning/maintenance.h"
#include "util/maint_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;

struct EnvParam {
  std::string name;
  bool memory = false;
};

class CheckpointTest : public ::testing::TestWithParam<EnvParam> {
 protected:
  void SetUp() override {
    if (GetParam().memory) {
      mem_env_ = NewMemoryEnv();
      env_ = mem_env_.get();
      root_ = "/ckpt";
      ASSERT_TRUE(env_->create_dir_if_missing(root_).ok());
    } else {
      env_ = Env::Default();
      root_ = dir_.path();
    }
    options_ = test::SmallMaintOptions();
    options_.env = env_;
  }

  std::unique_ptr<Database> Open(const std::string& path) {
    auto r = Database::open(path, options_);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
    return r.ok() ? std::move(r.value()) : nullptr;
  }

  test::TempDir dir_{"checkpoint_test"};
  std::unique_ptr<Env> mem_env_;
  Env* env_ = nullptr;
  std::string root_;
  Options options_;
};

TEST_P(CheckpointTest, RandomOperationsThenCheckpointsMatchTheModel) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  auto db = Open(root_ + "/db");
  ASSERT_NE(db, nullptr);
  Model model;
  std::vector<std::pair<std::string, Model>> checkpoints;
  for (int step = 0; step < 12000; step++) {
    const std::string key = "k" + std::to_string(rnd.uniform(1500));
    const int op = static_cast<int>(rnd.uniform(100));
    if (op < 70) {
      const std::string value = rnd.random_bytes(rnd.uniform(300));
      ASSERT_TRUE(db->put(key, value).ok());
      model[key] = value;
    } else if (op < 90) {
      ASSERT_TRUE(db->remove(key).ok());
      model.erase(key);
    } else if (op < 99) {
      WriteBatch batch;
      for (int i = 0; i < 5; i++) {
        const std::string k = "b" + std::to_string(rnd.uniform(300));
        ASSERT_TRUE(batch.put(k, std::to_string(step)).ok());
        model[k] = std::to_string(step);
      }
      ASSERT_TRUE(db->write(batch).ok());
    } else if (rnd.one_in(6)) {
      // Everything into the tree now and then, so checkpoints copy one.
      ASSERT_TRUE(db->compact().ok());
    }
    if (step % 2500 == 2499) {
      const std::string path = root_ + "/cp" + std::to_string(checkpoints.size());
      ASSERT_TRUE(db->checkpoint(path).ok());
      checkpoints.emplace_back(path, model);
    }
  }
  ASSERT_TRUE(db->compact().ok());
  {
    const std::string path = root_ + "/cp_final";
    ASSERT_TRUE(db->checkpoint(path).ok());
    checkpoints.emplace_back(path, model);
  }
  ASSERT_GT(db->stats().tree_entries, 0u);
  ASSERT_TRUE(db->close().ok());
  for (const auto& [path, expected] : checkpoints) {
    SCOPED_TRACE(path);
    VerifyReport report;
    Status vs = VerifyDatabase(path, options_, &report);
    ASSERT_TRUE(vs.ok()) << vs.ToString();
    EXPECT_EQ(report.wal_files, 0u);  // the memtable was flushed: no log is needed
    auto copy = Open(path);
    ASSERT_NE(copy, nullptr);
    Status s;
    EXPECT_TRUE(test::DumpDb(copy.get(), &s) == expected);
    EXPECT_TRUE(s.ok()) << s.ToString();
    // The copy is a database of its own: it takes writes and reopens.
    ASSERT_TRUE(copy->put("after", "x").ok());
    ASSERT_TRUE(copy->compact().ok());
    ASSERT_TRUE(copy->close().ok());
    copy = Open(path);
    ASSERT_NE(copy, nullptr);
    Model with = expected;
    with["after"] = "x";
    EXPECT_TRUE(test::DumpDb(copy.get()) == with);
  }
}

TEST_P(CheckpointTest, RefusesANonEmptyDirectoryAndWorksOnAnEmptyOne) {
  auto db = Open(root_ + "/db");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->put("a", "1").ok());
  ASSERT_TRUE(env_->create_dir_if_missing(root_ + "/full").ok());
  ASSERT_TRUE(WriteStringToFile(env_, "precious", root_ + "/full/file", true).ok());
  Status s = db->checkpoint(root_ + "/full");
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  std::string data;
  ASSERT_TRUE(ReadFileToString(env_, root_ + "/full/file", &data).ok());
  EXPECT_EQ(data, "precious");
  EXPECT_TRUE(db->checkpoint(root_ + "/db").IsInvalidArgument());  // its own directory
  EXPECT_TRUE(db->checkpoint("").IsInvalidArgument());
  ASSERT_TRUE(WriteStringToFile(env_, "x", root_ + "/plainfile", true).ok());
  EXPECT_TRUE(db->checkpoint(root_ + "/plainfile").IsInvalidArgument());

  ASSERT_TRUE(env_->create_dir_if_missing(root_ + "/empty").ok());
  ASSERT_TRUE(db->checkpoint(root_ + "/empty").ok());
  ASSERT_TRUE(db->close().ok());
  auto copy = Open(root_ + "/empty");
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(copy->get("a").value(), "1");
}

TEST_P(CheckpointTest, EmptyDatabaseCheckpointOpensEmpty) {
  auto db = Open(root_ + "/db");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->checkpoint(root_ + "/cp").ok());
  ASSERT_TRUE(db->close().ok());
  auto copy = Open(root_ + "/cp");
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(test::DumpDb(copy.get()).empty());
}

TEST_P(CheckpointTest, AfterCloseCheckpointAndVerifyReturnClosed) {
  auto db = Open(root_ + "/db");
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->close().ok());
  EXPECT_TRUE(db->checkpoint(root_ + "/cp").IsClosed());
  EXPECT_TRUE(db->verify().IsClosed());
  EXPECT_FALSE(env_->file_exists(root_ + "/cp"));
}

TEST_P(CheckpointTest, TheSourceGoesOnAfterACheckpoint) {
  // The copy holds the tree as of one commit; later merges in the source
  // (which reuse freed pages and overwrite both meta slots) must not show
  // in it, and the source is unaffected by the copy.
  auto db = Open(root_ + "/db");
  ASSERT_NE(db, nullptr);
  Model model;
  for (int i = 0; i < 3000; i++) {
    model["k" + std::to_string(i)] = std::string(100, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(db->put("k" + std::to_string(i), model["k" + std::to_string(i)]).ok());
  }
  ASSERT_TRUE(db->compact().ok());
  ASSERT_TRUE(db->checkpoint(root_ + "/cp").ok());
  const Model at_checkpoint = model;
  for (int round = 0; round < 4; round++) {
    for (int i = 0; i < 3000; i += 2) {
      model["k" + std::to_string(i)] = "round" + std::to_string(round);
      ASSERT_TRUE(db->put("k" + std::to_string(i), model["k" + std::to_string(i)]).ok());
    }
    ASSERT_TRUE(db->compact().ok());
  }
  EXPECT_TRUE(test::DumpDb(db.get()) == model);
  ASSERT_TRUE(db->verify().ok());
  ASSERT_TRUE(db->close().ok());
  auto copy = Open(root_ + "/cp");
  ASSERT_NE(copy, nullptr);
  EXPECT_TRUE(test::DumpDb(copy.get()) == at_checkpoint);
  ASSERT_TRUE(copy->verify().ok());
}

INSTANTIATE_TEST_SUITE_P(Envs, CheckpointTest,
                         ::testing::Values(EnvParam{"Posix", false}, EnvParam{"Memory", true}),
                         [](const ::testing::TestParamInfo<EnvParam>& p) { return p.param.name; });

TEST(CheckpointPosixTest, TablesAreHardLinked) {
  test::TempDir dir("checkpoint_link");
  Options options = test::SmallMaintOptions();
  auto db = Database::open(dir.file("db"), options).value();
  for (int i = 0; i < 2000; i++) ASSERT_TRUE(db->put("k" + std::to_string(i), std::string(100, 'v')).ok());
  ASSERT_TRUE(db->checkpoint(dir.file("cp")).ok());
  std::vector<std::string> children;
  ASSERT_TRUE(Env::Default()->get_children(dir.file("cp"), &children).ok());
  int tables = 0;
  for (const auto& name : children) {
    if (name.size() > 4 && name.substr(name.size() - 4) == ".sst") {
      struct stat st;
      ASSERT_EQ(0, ::stat(dir.file("cp/" + name).c_str(), &st));
      EXPECT_GE(st.st_nlink, 2u) << name;  // shared with the live database
      tables++;
    }
  }
  EXPECT_GT(tables, 0);
  ASSERT_TRUE(db->close().ok());
}

// Writers (each its own keys, values counting up) and background merges into
// the tree go on while checkpoints are taken. Each copy must hold, for every
// writer, at least every write acknowledged before the call, and a prefix
// of its writes (no gap: the copy is one point in time).
TEST(CheckpointConcurrentTest, ConcurrentWritersDuringCheckpoints) {
  test::TempDir dir("checkpoint_concurrent");
  Options options = test::SmallMaintOptions();
  auto db = Database::open(dir.file("db"), options).value();
  constexpr int kWriters = 3;
  constexpr int kKeysPerWriter = 4000;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked[kWriters];
  for (auto& a : acked) a.store(0);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      test::Random rnd(w + 1);
      for (uint64_t n = 1; !stop.load(); n++) {
        // Write n sets key (n % kKeysPerWriter) to n, plus 200 incompressible
        // bytes (so the data outgrows the levels and flows into the tree).
        const std::string key = "w" + std::to_string(w) + "/" + std::to_string(n % kKeysPerWriter);
        if (!db->put(key, std::to_string(n) + "|" + rnd.random_bytes(200)).ok()) return;
        acked[w].store(n);
      }
    });
  }
  struct Taken {
    std::string path;
    uint64_t acked_before[kWriters];
  };
  std::vector<Taken> taken;
  // At least 6 checkpoints, and on until merges into the tree have run
  // between them (the copies then race with tree commits).
  const uint64_t merges_before = db->stats().tree_merges;
  for (int i = 0; i < 6 || (db->stats().tree_merges < merges_before + 3 && i < 100); i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    Taken t;
    t.path = dir.file("cp" + std::to_string(i));
    for (int w = 0; w < kWriters; w++) t.acked_before[w] = acked[w].load();
    ASSERT_TRUE(db->checkpoint(t.path).ok());
    if (i % 2 == 1) {
      ASSERT_TRUE(db->verify().ok());
    }
    taken.push_back(t);
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  EXPECT_GE(db->stats().tree_merges, merges_before + 3);
  ASSERT_TRUE(db->close().ok());
  for (const auto& t : taken) {
    SCOPED_TRACE(t.path);
    ASSERT_TRUE(VerifyDatabase(t.path, options).ok());
    auto copy = Database::open(t.path, options).value();
    const Model m = test::DumpDb(copy.get());
    for (int w = 0; w < kWriters; w++) {
      // The newest write of writer w in the copy, n_max; then every key of w
      // must hold the newest n' <= n_max with n' = key (mod kKeysPerWriter).
      uint64_t n_max = 0;
      for (int k = 0; k < kKeysPerWriter; k++) {
        auto it = m.find("w" + std::to_string(w) + "/" + std::to_string(k));
        if (it != m.end()) n_max = std::max<uint64_t>(n_max, std::stoull(it->second));
      }
      EXPECT_GE(n_max, t.acked_before[w]) << "writer " << w << ": an acknowledged write is missing";
      for (int k = 0; k < kKeysPerWriter; k++) {
        const std::string key = "w" + std::to_string(w) + "/" + std::to_string(k);
        // The largest n <= n_max with n % kKeysPerWriter == k (n >= 1).
        uint64_t expect = n_max >= static_cast<uint64_t>(k) ? n_max - (n_max - k) % kKeysPerWriter : 0;
        if (expect == 0) {
          EXPECT_EQ(m.count(key), 0u) << key;
        } else {
          auto it = m.find(key);
          ASSERT_NE(it, m.end()) << key << " missing (a gap in writer " << w << "'s writes)";
          EXPECT_EQ(std::stoull(it->second), expect) << key;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lightning
