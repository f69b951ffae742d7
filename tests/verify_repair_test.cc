// Copyright (c) Lightning authors. MIT License.
//
// Database::verify (online) and VerifyDatabase (offline): a clean database
// verifies with counts that match what is in it; a flipped byte in an
// SSTable block, a tree page, the MANIFEST or a WAL record is reported as
// Corruption naming the file (and offset or page), both offline and while
// the database is open; a torn log tail is not an error; misuse (open
// database, missing directory, after close) gets the documented status.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lightning/db.h"
#include "lightning/maintenance.h"
#include "util/coding.h"
#include "util/db_test_util.h"
#include "util/maint_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;

// Flips one byte in place (pwrite), without truncating: safe on a file that
// an open database is appending to.
void FlipInPlace(const std::string& fname, uint64_t offset) {
  const int fd = ::open(fname.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << fname;
  char c = 0;
  ASSERT_EQ(1, ::pread(fd, &c, 1, static_cast<off_t>(offset)));
  c = static_cast<char>(c ^ 0x40);
  ASSERT_EQ(1, ::pwrite(fd, &c, 1, static_cast<off_t>(offset)));
  ::close(fd);
}

std::vector<std::string> FilesEndingWith(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> children, out;
  EXPECT_TRUE(Env::Default()->get_children(dir, &children).ok());
  for (const auto& name : children) {
    if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      out.push_back(name);
    }
  }
  return out;
}

// A leaf page written by the newest tree commit (so certainly reachable
// from it), found by reading the extent headers (btree/page.h).
uint64_t NewestLeafPage(const std::string& tree_file, uint32_t page_size) {
  std::string data;
  EXPECT_TRUE(ReadFileToString(Env::Default(), tree_file, &data).ok());
  uint64_t best = 0, best_epoch = 0;
  for (uint64_t p = 2; (p + 1) * page_size <= data.size(); p++) {
    const char* h = data.data() + p * page_size;
    if (static_cast<uint8_t>(h[8]) != 2 /* leaf */ || DecodeFixed64(h + 32) != p) continue;
    const uint64_t epoch = DecodeFixed64(h + 24);
    if (epoch >= best_epoch) {
      best_epoch = epoch;
      best = p;
    }
  }
  return best;
}

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_ = test::SmallMaintOptions();
    options_.wal_sync_mode = WalSyncMode::kNormal;  // each write reaches the file before it returns
    // No background compaction: the tables found on disk stay live while
    // a test damages them (compact() still merges everything on demand).
    options_.level0_file_num_compaction_trigger = 100;
    options_.level0_slowdown_writes_trigger = 200;
    options_.level0_stop_writes_trigger = 300;
    path_ = dir_.file("db");
  }
  // Data in the tree, in tables above it, and (not closed: the returned
  // handle) in the log.
  std::unique_ptr<Database> Fill() {
    auto db = Database::open(path_, options_).value();
    test::Random rnd(3);
    for (int i = 0; i < 4000; i++) {
      model_["k" + std::to_string(i)] = rnd.random_bytes(150);
      EXPECT_TRUE(db->put("k" + std::to_string(i), model_["k" + std::to_string(i)]).ok());
    }
    EXPECT_TRUE(db->compact().ok());
    for (int i = 0; i < 1500; i++) {
      model_["m" + std::to_string(i)] = rnd.random_bytes(100);
      EXPECT_TRUE(db->put("m" + std::to_string(i), model_["m" + std::to_string(i)]).ok());
    }
    EXPECT_TRUE(db->flush().ok());
    for (int i = 0; i < 50; i++) {
      model_["w" + std::to_string(i)] = "in the log " + std::to_string(i);
      EXPECT_TRUE(db->put("w" + std::to_string(i), model_["w" + std::to_string(i)]).ok());
    }
    return db;
  }
  // A copy of the open database's directory as a crash would leave it (the
  // log not replayed), in path_ + "_copy".
  std::string CrashCopy() {
    const std::string copy = path_ + "_copy";
    EXPECT_TRUE(Env::Default()->create_dir_if_missing(copy).ok());
    test::RestoreDir(Env::Default(), copy, test::SnapshotDir(Env::Default(), path_));
    return copy;
  }

  test::TempDir dir_{"verify_test"};
  Options options_;
  std::string path_;
  Model model_;
};

TEST_F(VerifyTest, CleanDatabaseVerifiesWithMatchingCounts) {
  auto db = Fill();
  VerifyReport online;
  Status s = db->verify(&online);
  ASSERT_TRUE(s.ok()) << s.ToString();
  const DatabaseStats st = db->stats();
  EXPECT_EQ(online.tree_entries, st.tree_entries);
  EXPECT_GT(online.tree_entries, 0u);
  EXPECT_GT(online.table_files, 0u);
  EXPECT_GT(online.table_entries, 0u);
  EXPECT_GE(online.wal_records, 50u);
  EXPECT_GT(online.manifest_bytes, 0u);
  EXPECT_EQ(online.wal_torn_tail_bytes, 0u);
  // Offline: Busy while open; on a crash copy (the log still to replay).
  EXPECT_TRUE(VerifyDatabase(path_, options_).IsBusy());
  const std::string copy = CrashCopy();
  VerifyReport offline;
  s = VerifyDatabase(copy, options_, &offline);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(offline.tree_entries, online.tree_entries);
  EXPECT_EQ(offline.table_entries, online.table_entries);
  EXPECT_EQ(offline.wal_records, online.wal_records);
  ASSERT_TRUE(db->close().ok());
  ASSERT_TRUE(VerifyDatabase(path_, options_).ok());
  // The copy opens and holds everything.
  auto reopened = Database::open(copy, options_).value();
  EXPECT_TRUE(test::DumpDb(reopened.get()) == model_);
  // Misuse.
  EXPECT_TRUE(VerifyDatabase(dir_.file("missing"), options_).IsNotFound());
  EXPECT_TRUE(reopened->verify().ok());
  ASSERT_TRUE(reopened->close().ok());
  EXPECT_TRUE(reopened->verify().IsClosed());
}

TEST_F(VerifyTest, FlippedByteInAnSSTableBlock) {
  auto db = Fill();
  const auto tables = FilesEndingWith(path_, ".sst");
  ASSERT_FALSE(tables.empty());
  FlipInPlace(path_ + "/" + tables[0], 100);  // inside the first data block
  Status s = db->verify();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(tables[0]), std::string::npos) << s.ToString();
  ASSERT_TRUE(db->close().ok());
  s = VerifyDatabase(path_, options_);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(tables[0]), std::string::npos) << s.ToString();
}

TEST_F(VerifyTest, FlippedByteInATreePage) {
  auto db = Fill();
  const uint64_t page = NewestLeafPage(path_ + "/TREE", options_.page_size);
  ASSERT_GE(page, 2u);
  FlipInPlace(path_ + "/TREE", page * options_.page_size + 200);
  Status s = db->verify();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("tree page " + std::to_string(page)), std::string::npos) << s.ToString();
  ASSERT_TRUE(db->close().ok());
  s = VerifyDatabase(path_, options_);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("TREE"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("tree page " + std::to_string(page)), std::string::npos) << s.ToString();
}

TEST_F(VerifyTest, FlippedByteInTheManifest) {
  auto db = Fill();
  ASSERT_TRUE(db->close().ok());
  test::FlipByte(Env::Default(), path_ + "/MANIFEST", 30);
  Status s = VerifyDatabase(path_, options_);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find("MANIFEST"), std::string::npos) << s.ToString();
}

TEST_F(VerifyTest, FlippedByteInAWalRecordAndATornTail) {
  auto db = Fill();
  const auto logs = FilesEndingWith(path_, ".log");
  ASSERT_EQ(logs.size(), 1u);
  const std::string log = path_ + "/" + logs[0];
  const uint64_t size = test::FileSize(Env::Default(), log);
  // A torn tail (the last record cut short) is what a crash leaves: not
  // corruption, but counted.
  const std::string torn = path_ + "_torn";
  {
    ASSERT_TRUE(Env::Default()->create_dir_if_missing(torn).ok());
    auto files = test::SnapshotDir(Env::Default(), path_);
    files[logs[0]].resize(size - 5);
    test::RestoreDir(Env::Default(), torn, files);
    VerifyReport report;
    Status s = VerifyDatabase(torn, options_, &report);
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_GT(report.wal_torn_tail_bytes, 0u);
    EXPECT_EQ(report.wal_records, 49u);
  }
  // A damaged record with intact ones after it: corruption, with its offset.
  FlipInPlace(log, 24 + 24 + 3);  // the first record's payload
  Status s = db->verify();
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(logs[0] + " at offset 24"), std::string::npos) << s.ToString();
  const std::string copy = CrashCopy();
  s = VerifyDatabase(copy, options_);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_NE(s.message().find(logs[0] + " at offset 24"), std::string::npos) << s.ToString();
  ASSERT_TRUE(db->close().ok());
}

}  // namespace
}  // namespace lightning
