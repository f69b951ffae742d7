// Copyright (c) Lightning authors. MIT License.
//
// Recovery of the whole engine: torn logs, damaged logs under each
// WalRecoveryMode, simulated power loss, and the sticky write error.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>
#include <string>

#include "env/fault_injection_env.h"
#include "lightning/db.h"
#include "util/db_test_util.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

std::string Key(int i) { return "key" + std::to_string(1000 + i); }

class RecoveryTest : public ::testing::Test {
 protected:
  Status open_db(WalRecoveryMode mode = WalRecoveryMode::kStrict) {
    db_.reset();
    Options options = options_;
    options.wal_recovery_mode = mode;
    auto r = Database::open(path_, options);
    if (!r.ok()) return r.status();
    db_ = std::move(r.value());
    return Status::OK();
  }
  void close_db() {
    if (db_) {
      EXPECT_TRUE(db_->close().ok());
    }
    db_.reset();
  }
  // Ends the process's use of the database the way a crash would: the files
  // are left as they are now (close() would flush the memtable to a table and
  // retire the log these tests want to damage).
  void crash_db() {
    const test::DirSnapshot image = test::SnapshotDir(env(), path_);
    close_db();
    test::RestoreDir(env(), path_, image);
  }
  // Writes keys [0, n) one record each; returns the live log's size after each.
  std::vector<uint64_t> fill(int n) {
    std::vector<uint64_t> sizes;
    for (int i = 0; i < n; i++) {
      EXPECT_TRUE(db_->put(Key(i), test::MakeValue(Key(i), 0, 20 + i)).ok());
      uint64_t size = 0;
      EXPECT_TRUE(env()->get_file_size(path_ + "/" + test::LogFiles(env(), path_).back(), &size).ok());
      sizes.push_back(size);
    }
    return sizes;
  }
  // How many of keys [0, n) are present; checks they form a prefix with the right values.
  int present_prefix(int n) {
    int present = 0;
    std::string value;
    for (int i = 0; i < n; i++) {
      Status s = db_->get(Key(i), &value);
      if (s.ok()) {
        EXPECT_EQ(present, i) << "key " << i << " present after a missing key";
        EXPECT_EQ(test::MakeValue(Key(i), 0, 20 + i), value) << "wrong value for key " << i;
        present++;
      } else {
        EXPECT_TRUE(s.IsNotFound()) << s.ToString();
      }
    }
    return present;
  }
  Env* env() { return options_.env; }

  test::TempDir dir_{"recovery_test"};
  std::string path_ = dir_.path() + "/db";
  Options options_ = [] {
    Options o;
    o.env = Env::Default();
    // These tests find record boundaries by the log file's size, so no zeros
    // ahead of the records (wal_prealloc_test covers prefilled logs).
    o.wal_prefill_bytes = 0;
    return o;
  }();
  std::unique_ptr<Database> db_;
};

// The log cut at every byte offset of its last record, as a crash in the
// middle of the last append would leave it: every mode opens and recovers
// exactly the records before it.
TEST_F(RecoveryTest, LogTruncatedAtEveryOffsetOfTheLastRecordRecoversThePrefix) {
  ASSERT_TRUE(open_db().ok());
  const auto sizes = fill(5);
  crash_db();
  const test::DirSnapshot snapshot = test::SnapshotDir(env(), path_);
  const std::string log = test::LogFiles(env(), path_).back();
  for (uint64_t cut = sizes[3]; cut < sizes[4]; cut++) {
    test::RestoreDir(env(), path_, snapshot);
    ASSERT_TRUE(env()->truncate_file(path_ + "/" + log, cut).ok());
    Status s = open_db(WalRecoveryMode::kStrict);
    ASSERT_TRUE(s.ok()) << "cut at " << cut << ": " << s.ToString();
    ASSERT_EQ(4, present_prefix(5)) << "cut at " << cut;
    // The database keeps working and stays recoverable.
    ASSERT_TRUE(db_->put("after", "crash").ok());
    close_db();
    ASSERT_TRUE(open_db().ok()) << "cut at " << cut;
    ASSERT_EQ(4, present_prefix(5));
    ASSERT_EQ("crash", db_->get("after").value());
    close_db();
  }
}

class DamagedLogTest : public RecoveryTest {
 protected:
  // Ten records; flips a bit inside record 3 (0-based) of the live log.
  void write_and_damage(bool in_header) {
    ASSERT_TRUE(open_db().ok());
    sizes_ = fill(10);
    crash_db();
    log_ = path_ + "/" + test::LogFiles(env(), path_).back();
    std::string data;
    ASSERT_TRUE(ReadFileToString(env(), log_, &data).ok());
    const uint64_t pos = sizes_[2] + (in_header ? 5 : 30);
    data[pos] = static_cast<char>(data[pos] ^ 0x04);
    ASSERT_TRUE(WriteStringToFile(env(), data, log_, true).ok());
    damaged_ = data;
  }
  std::vector<uint64_t> sizes_;
  std::string log_;
  std::string damaged_;
};

TEST_F(DamagedLogTest, StrictModeReportsCorruptionAndChangesNothing) {
  for (bool in_header : {false, true}) {
    write_and_damage(in_header);
    const test::DirSnapshot before = test::SnapshotDir(env(), path_);
    Status s = open_db(WalRecoveryMode::kStrict);
    ASSERT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(std::string::npos, s.message().find(log_)) << s.message();
    EXPECT_NE(std::string::npos, s.message().find("offset " + std::to_string(sizes_[2]))) << s.message();
    EXPECT_NE(std::string::npos, s.message().find("kPointInTime")) << s.message();
    test::DirSnapshot after = test::SnapshotDir(env(), path_);
    EXPECT_EQ(before, after);
    EXPECT_FALSE(env()->file_exists(path_ + "/lost"));
    // Still refused the second time: nothing was silently repaired.
    EXPECT_TRUE(open_db(WalRecoveryMode::kStrict).IsCorruption());
    test::RestoreDir(env(), path_, {});
  }
}

TEST_F(DamagedLogTest, PointInTimeRecoversThePrefixAndSetsTheRestAside) {
  write_and_damage(false);
  ASSERT_TRUE(open_db(WalRecoveryMode::kPointInTime).ok());
  EXPECT_EQ(3, present_prefix(10));
  ASSERT_TRUE(db_->put(Key(20), "new").ok());
  close_db();
  std::vector<std::string> lost;
  ASSERT_TRUE(env()->get_children(path_ + "/lost", &lost).ok());
  ASSERT_EQ(1u, lost.size());
  std::string kept;
  ASSERT_TRUE(ReadFileToString(env(), path_ + "/lost/" + lost[0], &kept).ok());
  EXPECT_EQ(damaged_.substr(sizes_[2]), kept);
  // The log is consistent again: strict mode opens it.
  ASSERT_TRUE(open_db(WalRecoveryMode::kStrict).ok());
  EXPECT_EQ(3, present_prefix(10));
  EXPECT_EQ("new", db_->get(Key(20)).value());
}

TEST_F(DamagedLogTest, SkipCorruptedKeepsEveryIntactRecord) {
  write_and_damage(true);
  ASSERT_TRUE(open_db(WalRecoveryMode::kSkipCorrupted).ok());
  std::string value;
  for (int i = 0; i < 10; i++) {
    Status s = db_->get(Key(i), &value);
    if (i == 3) {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();
    } else {
      ASSERT_TRUE(s.ok()) << i << ": " << s.ToString();
      EXPECT_EQ(test::MakeValue(Key(i), 0, 20 + i), value);
    }
  }
  close_db();
  std::vector<std::string> lost;
  ASSERT_TRUE(env()->get_children(path_ + "/lost", &lost).ok());
  ASSERT_EQ(1u, lost.size());
  ASSERT_TRUE(open_db(WalRecoveryMode::kStrict).ok());
  EXPECT_TRUE(db_->get(Key(3)).status().IsNotFound());
  EXPECT_TRUE(db_->get(Key(9)).ok());
}

TEST_F(RecoveryTest, GarbageManifestIsCorruptionNotACrash) {
  ASSERT_TRUE(open_db().ok());
  fill(3);
  close_db();
  std::string manifest;
  ASSERT_TRUE(ReadFileToString(env(), path_ + "/MANIFEST", &manifest).ok());
  for (size_t pos = 0; pos < manifest.size(); pos++) {
    std::string damaged = manifest;
    damaged[pos] ^= 0x01;
    ASSERT_TRUE(WriteStringToFile(env(), damaged, path_ + "/MANIFEST", false).ok());
    Status s = open_db();
    ASSERT_TRUE(s.IsCorruption() || s.IsNotSupported()) << pos << ": " << s.ToString();
  }
  ASSERT_TRUE(WriteStringToFile(env(), "", path_ + "/MANIFEST", false).ok());
  EXPECT_TRUE(open_db().IsCorruption());
  ASSERT_TRUE(WriteStringToFile(env(), manifest, path_ + "/MANIFEST", false).ok());
  ASSERT_TRUE(open_db().ok());
  EXPECT_EQ(3, present_prefix(3));
}

TEST_F(RecoveryTest, LogFilesWithoutManifestAreRefused) {
  ASSERT_TRUE(open_db().ok());
  fill(3);
  close_db();
  ASSERT_TRUE(env()->remove_file(path_ + "/MANIFEST").ok());
  Status s = open_db();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("no MANIFEST")) << s.message();
}

// A database on the fault-injecting Env (over an in-memory Env).
class FaultEnvTest : public ::testing::Test {
 protected:
  FaultEnvTest() : base_(NewMemoryEnv()), env_(base_.get()) { options_.env = &env_; }
  void open(const std::string& path = "/db") {
    db_.reset();
    auto r = Database::open(path, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r.value());
  }
  // Cuts the power: nothing more reaches the disk, then unsynced data is lost
  // (all of it, or a random prefix of it: torn writes).
  void power_loss(bool torn = false, uint64_t seed = 0) {
    env_.set_filesystem_active(false);
    (void)db_->close();
    db_.reset();
    ASSERT_TRUE((torn ? env_.drop_random_unsynced_data(seed) : env_.drop_unsynced_data()).ok());
    env_.set_filesystem_active(true);
  }
  std::unique_ptr<Env> base_;
  FaultInjectionEnv env_;
  Options options_;
  std::unique_ptr<Database> db_;
};

class PowerLossTest : public FaultEnvTest, public ::testing::WithParamInterface<WalSyncMode> {
 protected:
  PowerLossTest() {
    options_.wal_sync_mode = GetParam();
    options_.wal_sync_interval_ms = 1000000;  // no background sync during the test
  }
};

TEST_P(PowerLossTest, SurvivorsAreAPrefixAndSyncedWritesSurvive) {
  for (uint64_t round = 0; round < 20; round++) {
    const std::string path = "/db" + std::to_string(round);
    open(path);
    const int n = 50 + static_cast<int>(round) * 7;
    const int synced_upto = static_cast<int>(round % 3 == 0 ? n / 2 : 0);
    for (int i = 0; i < n; i++) {
      WriteOptions wo;
      wo.sync = i + 1 == synced_upto;
      if (i % 10 == 9) {
        WriteBatch batch;
        ASSERT_TRUE(batch.put(Key(i), test::MakeValue(Key(i), round, 30)).ok());
        ASSERT_TRUE(batch.put(Key(i) + "b", "pair").ok());
        ASSERT_TRUE(db_->write(batch, wo).ok());
      } else {
        ASSERT_TRUE(db_->put(Key(i), test::MakeValue(Key(i), round, 30), wo).ok());
      }
    }
    power_loss(/*torn=*/round % 2 == 1, round);
    open(path);
    int present = 0;
    std::string value;
    for (int i = 0; i < n; i++) {
      Status s = db_->get(Key(i), &value);
      if (s.ok()) {
        ASSERT_EQ(present, i) << "round " << round << ": key " << i << " survived but an earlier one did not";
        ASSERT_EQ(test::MakeValue(Key(i), round, 30), value);
        present++;
      } else {
        ASSERT_TRUE(s.IsNotFound()) << s.ToString();
      }
      if (i % 10 == 9) {  // batches are all-or-nothing
        ASSERT_EQ(s.ok(), db_->get(Key(i) + "b").ok()) << "round " << round << ": half a batch survived";
      }
    }
    if (GetParam() == WalSyncMode::kFull) {
      ASSERT_EQ(n, present) << "round " << round;
    }
    ASSERT_GE(present, synced_upto) << "round " << round << ": a synced write was lost";
    ASSERT_TRUE(db_->close().ok());
    db_.reset();
  }
}

INSTANTIATE_TEST_SUITE_P(SyncModes, PowerLossTest,
                         ::testing::Values(WalSyncMode::kFull, WalSyncMode::kNormal, WalSyncMode::kOff));

TEST_F(FaultEnvTest, FailedSyncMakesTheDatabaseRefuseWrites) {
  options_.wal_sync_mode = WalSyncMode::kFull;
  open();
  ASSERT_TRUE(db_->put("before", "1").ok());

  env_.fail_nth_call(FaultInjectionEnv::OpKind::kSync, 1);
  Status s = db_->put("failing", "2");
  ASSERT_TRUE(s.IsIOError()) << s.ToString();
  env_.clear_error_injection();
  // The filesystem works again, but the database does not pretend.
  s = db_->put("after", "3");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("refuses further writes")) << s.message();
  EXPECT_TRUE(db_->remove("before").IsIOError());
  EXPECT_TRUE(db_->sync_wal().IsIOError());
  EXPECT_EQ("1", db_->get("before").value());  // reads go on
  EXPECT_TRUE(db_->close().IsIOError());

  open();
  EXPECT_EQ("1", db_->get("before").value());
  EXPECT_TRUE(db_->get("after").status().IsNotFound());
  ASSERT_TRUE(db_->put("after", "3").ok());
}

TEST_F(FaultEnvTest, FailedAppendMakesTheDatabaseRefuseWrites) {
  open();
  env_.fail_nth_call(FaultInjectionEnv::OpKind::kAppend, 1);
  EXPECT_TRUE(db_->put("a", "1").IsIOError());
  env_.clear_error_injection();
  EXPECT_TRUE(db_->put("b", "2").IsIOError());
}

// kNormal: the background thread fsyncs the log every wal_sync_interval_ms,
// so after an interval passes, a power loss loses nothing written before it.
TEST_F(FaultEnvTest, NormalModeWritesBecomeDurableWithoutExplicitSync) {
  options_.wal_sync_mode = WalSyncMode::kNormal;
  options_.wal_sync_interval_ms = 5;
  open();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db_->put(Key(i), "v").ok());
  // Wait until a background fsync happened and none has been needed for 100
  // intervals (while writes are pending, one follows within an interval).
  const uint64_t before = env_.call_count(FaultInjectionEnv::OpKind::kSync);
  uint64_t last = before;
  int quiet_ms = 0;
  for (int waited_ms = 0; last == before || quiet_ms < 100; waited_ms++) {
    ASSERT_LT(waited_ms, 30000) << "no background fsync";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const uint64_t now = env_.call_count(FaultInjectionEnv::OpKind::kSync);
    quiet_ms = now == last ? quiet_ms + 1 : 0;
    last = now;
  }
  power_loss();
  open();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db_->get(Key(i)).ok()) << i;
}

TEST_F(FaultEnvTest, FailedBackgroundSyncMakesTheDatabaseRefuseWrites) {
  options_.wal_sync_interval_ms = 5;
  open();
  env_.fail_nth_call(FaultInjectionEnv::OpKind::kSync, 1);
  ASSERT_TRUE(db_->put("k", "v").ok());  // acknowledged: in the OS, fsync pending
  Status s;
  for (int waited_ms = 0; (s = db_->put("k2", "v")).ok(); waited_ms++) {
    ASSERT_LT(waited_ms, 30000) << "the failed background fsync was never reported";
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("background fsync")) << s.message();
}

}  // namespace
}  // namespace lightning
