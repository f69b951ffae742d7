// Copyright (c) Lightning authors. MIT License.
//
// Database::verify (online) and VerifyDatabase (offline): a clean database
// verifies with counts that match what is in it; a flipped byte in an
// SSTable block, a tree page, the MANIFEST or a WAL record is reported as
// Corruption naming the file (and offset or page), both offline and while
// the database is open; a torn log tail is not an error; misuse (open
// database, missing directory, after close) gets the documented status.
//
// RepairDatabase: a database damaged in each kind of file (an SSTable block,
// a tree leaf, a tree internal page, the MANIFEST missing or garbage, a WAL
// record mid-log) fails to open or to verify; after repair it opens and
// verifies, every key outside the damaged region reads as written, nothing
// is returned that was never written, and the report's count of lost
// entries is exactly what went missing. Repair of an intact database
// changes no file; repair of an open database is Busy; a directory of
// garbage gets a clear error or an empty database, never a crash.
//
// A repair cut short -- by a crash at each of its file operations in turn
// (FaultInjectionEnv, with the unsynced data then dropped) or by kill -9 at
// random moments -- and then run again reaches at least what an
// uninterrupted repair reaches: it opens and verifies, every key the
// uninterrupted repair kept is there with its value, nothing is returned
// that was never written, and no leftover of the interrupted run remains.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lightning/db.h"
#include "db/manifest.h"
#include "env/fault_injection_env.h"
#include "lightning/maintenance.h"
#include "util/coding.h"
#include "util/db_test_util.h"
#include "util/maint_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"
#include "util/test_comparators.h"

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
  // The cut below needs the log's file size to be its records' end
  // (wal_prealloc_test covers torn tails before prefilled zeros).
  options_.wal_prefill_bytes = 0;
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

// The first page of type `type` (btree/page.h) written by the newest commit.
uint64_t NewestPageOfType(const std::string& tree_file, uint32_t page_size, uint8_t type) {
  std::string data;
  EXPECT_TRUE(ReadFileToString(Env::Default(), tree_file, &data).ok());
  uint64_t best = 0, best_epoch = 0;
  for (uint64_t p = 2; (p + 1) * page_size <= data.size(); p++) {
    const char* h = data.data() + p * page_size;
    if (static_cast<uint8_t>(h[8]) != type || DecodeFixed64(h + 32) != p) continue;
    const uint64_t epoch = DecodeFixed64(h + 24);
    if (epoch > best_epoch) {
      best_epoch = epoch;
      best = p;
    }
  }
  return best;
}

class RepairTest : public VerifyTest {
 protected:
  // Fills the database and closes it: the tree holds the "k" keys, level-0
  // tables the "m" and "w" keys.
  void FillAndClose() {
    auto db = Fill();
    ASSERT_TRUE(db->close().ok());
  }
  // No MANIFEST, a damaged level-0 table block and a damaged tree leaf.
  void FillAndDamageTableTreeAndManifest() {
    ASSERT_NO_FATAL_FAILURE(FillAndClose());
    ASSERT_NO_FATAL_FAILURE(DamageFirstTableAndNewestLeaf(path_));
    ASSERT_TRUE(Env::Default()->remove_file(path_ + "/MANIFEST").ok());
  }
  // Flips a byte of dir's first table (offset 100) and of its tree's newest leaf.
  void DamageFirstTableAndNewestLeaf(const std::string& dir) {
    const auto tables = FilesEndingWith(dir, ".sst");
    ASSERT_GE(tables.size(), 2u);
    FlipInPlace(dir + "/" + tables[0], 100);
    const uint64_t page = NewestLeafPage(dir + "/TREE", options_.page_size);
    ASSERT_GE(page, 2u);
    FlipInPlace(dir + "/TREE", page * options_.page_size + 200);
  }
  // Repairs dir and checks the result: it opens and verifies, nothing is
  // returned that was not written, and exactly report->entries_lost keys
  // are missing (if `exact`), all of them starting with missing_prefix.
  // *manifest (if set): the MANIFEST as the repair left it.
  void RepairAndCheck(const std::string& dir, RepairReport* report, const std::string& missing_prefix,
                      bool exact = true, ManifestState* manifest = nullptr) {
    Status s = RepairDatabase(dir, options_, report);
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (manifest != nullptr) {
      ASSERT_TRUE(ReadManifest(Env::Default(), dir, manifest).ok());
    }
    s = VerifyDatabase(dir, options_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    auto opened = Database::open(dir, options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto db = std::move(opened).value();
    Status it_status;
    const Model got = test::DumpDb(db.get(), &it_status);
    ASSERT_TRUE(it_status.ok()) << it_status.ToString();
    uint64_t missing = 0;
    for (const auto& [key, value] : got) {
      auto m = model_.find(key);
      ASSERT_TRUE(m != model_.end()) << "never written: " << key;
      ASSERT_EQ(m->second, value) << key;
    }
    for (const auto& [key, value] : model_) {
      if (got.count(key) != 0) continue;
      ++missing;
      EXPECT_EQ(0u, key.rfind(missing_prefix, 0)) << "lost outside the damaged region: " << key;
    }
    if (exact) {
      EXPECT_EQ(missing, report->entries_lost);
    }
    EXPECT_TRUE(db->verify().ok());
    ASSERT_TRUE(db->close().ok());
    EXPECT_TRUE(VerifyDatabase(dir, options_).ok());
  }
  std::string Dump(const RepairReport& r) {
    std::string out;
    for (const auto& line : r.dropped) out += line + "\n";
    return out;
  }
};

TEST_F(RepairTest, IntactDatabaseIsLeftUnchanged) {
  FillAndClose();
  const test::DirSnapshot before = test::SnapshotDir(Env::Default(), path_);
  RepairReport report;
  Status s = RepairDatabase(path_, options_, &report);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(test::SnapshotDir(Env::Default(), path_) == before);
  EXPECT_FALSE(Env::Default()->file_exists(path_ + "/lost"));
  EXPECT_TRUE(report.tree_kept);
  EXPECT_FALSE(report.tree_rebuilt);
  EXPECT_FALSE(report.manifest_rebuilt);
  EXPECT_GT(report.tables_kept, 0u);
  EXPECT_EQ(report.tables_salvaged + report.tables_dropped + report.entries_lost + report.files_moved_to_lost, 0u);
  EXPECT_TRUE(report.dropped.empty()) << Dump(report);
  auto db = Database::open(path_, options_).value();
  EXPECT_TRUE(test::DumpDb(db.get()) == model_);
  // Open: Busy, and nothing touched.
  EXPECT_TRUE(RepairDatabase(path_, options_).IsBusy());
  ASSERT_TRUE(db->close().ok());
}

TEST_F(RepairTest, DamagedSSTableBlock) {
  FillAndClose();
  const auto tables = FilesEndingWith(path_, ".sst");
  ASSERT_GE(tables.size(), 2u);
  FlipInPlace(path_ + "/" + tables[0], 100);  // inside the first data block
  EXPECT_TRUE(VerifyDatabase(path_, options_).IsCorruption());
  RepairReport report;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, ""));
  EXPECT_EQ(report.tables_salvaged, 1u) << Dump(report);
  EXPECT_GT(report.entries_salvaged, 0u);
  EXPECT_GT(report.entries_lost, 0u);
  EXPECT_EQ(report.files_moved_to_lost, 1u);
  EXPECT_TRUE(report.tree_kept);
  ASSERT_FALSE(report.dropped.empty());
  EXPECT_NE(report.dropped[0].find(tables[0]), std::string::npos) << Dump(report);
  EXPECT_EQ(FilesEndingWith(path_ + "/lost", ".repair").size(), 1u);
}

// A table below level 0: its salvaged blocks go into a new table at the same
// level (its key range is within the damaged one's, so the level stays
// disjoint).
TEST_F(RepairTest, DamagedTableBelowLevelZero) {
  options_ = test::SmallMaintOptions();  // background compactions fill levels 1 and up
  {
    auto db = Database::open(path_, options_).value();
    test::Random rnd(5);
    for (int i = 0; i < 12000; i++) {
      const std::string key = "k" + std::to_string(i * 7919 % 12000);
      model_[key] = rnd.random_bytes(120);
      ASSERT_TRUE(db->put(key, model_[key]).ok());
    }
    ASSERT_TRUE(db->flush().ok());
    ASSERT_TRUE(db->close().ok());
  }
  ManifestState state;
  ASSERT_TRUE(ReadManifest(Env::Default(), path_, &state).ok());
  const ManifestState::Table* victim = nullptr;
  for (const auto& t : state.tables) {
    // The largest: a one-block table would be dropped whole, not salvaged.
    if (t.level > 0 && (victim == nullptr || t.meta.file_size > victim->meta.file_size)) victim = &t;
  }
  ASSERT_NE(victim, nullptr) << "no table below level 0";
  const int level = victim->level;
  std::string name;
  for (const auto& f : FilesEndingWith(path_, ".sst")) {
    if (std::stoull(f) == victim->meta.number) name = f;
  }
  ASSERT_FALSE(name.empty());
  FlipInPlace(path_ + "/" + name, 100);
  EXPECT_TRUE(VerifyDatabase(path_, options_).IsCorruption());
  RepairReport report;
  ManifestState after;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, "k", /*exact=*/true, &after));
  EXPECT_EQ(report.tables_salvaged, 1u) << Dump(report);
  EXPECT_GT(report.entries_lost, 0u);
  EXPECT_EQ(after.tables.size(), state.tables.size());
  bool found_at_level = false;
  for (const auto& t : after.tables) {
    if (t.meta.number >= state.next_file_number) found_at_level = t.level == level;
  }
  EXPECT_TRUE(found_at_level);
}

TEST_F(RepairTest, DamagedTreeLeaf) {
  FillAndClose();
  const uint64_t page = NewestLeafPage(path_ + "/TREE", options_.page_size);
  ASSERT_GE(page, 2u);
  FlipInPlace(path_ + "/TREE", page * options_.page_size + 200);
  EXPECT_TRUE(VerifyDatabase(path_, options_).IsCorruption());
  RepairReport report;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, "k"));
  EXPECT_TRUE(report.tree_rebuilt);
  EXPECT_FALSE(report.tree_kept);
  EXPECT_GT(report.entries_lost, 0u);
  EXPECT_GT(report.entries_salvaged, 3000u);
  EXPECT_NE(Dump(report).find("tree page " + std::to_string(page)), std::string::npos) << Dump(report);
}

TEST_F(RepairTest, DamagedTreeInternalPage) {
  FillAndClose();
  const uint64_t page = NewestPageOfType(path_ + "/TREE", options_.page_size, 3 /* internal */);
  ASSERT_GE(page, 2u);
  FlipInPlace(path_ + "/TREE", page * options_.page_size + 100);
  EXPECT_TRUE(VerifyDatabase(path_, options_).IsCorruption());
  RepairReport report;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, "k"));
  EXPECT_TRUE(report.tree_rebuilt);
  EXPECT_NE(Dump(report).find("tree page " + std::to_string(page)), std::string::npos) << Dump(report);
}

TEST_F(RepairTest, MissingOrGarbageManifest) {
  FillAndClose();
  const test::DirSnapshot intact = test::SnapshotDir(Env::Default(), path_);
  for (const bool missing : {true, false}) {
    SCOPED_TRACE(missing ? "missing" : "garbage");
    test::RestoreDir(Env::Default(), path_, intact);
    if (missing) {
      ASSERT_TRUE(Env::Default()->remove_file(path_ + "/MANIFEST").ok());
    } else {
      ASSERT_TRUE(WriteStringToFile(Env::Default(), std::string(300, 'x'), path_ + "/MANIFEST", true).ok());
    }
    EXPECT_FALSE(Database::open(path_, options_).ok());
    RepairReport report;
    ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, ""));
    EXPECT_TRUE(report.manifest_rebuilt);
    EXPECT_EQ(report.entries_lost, 0u);
    EXPECT_EQ(report.files_moved_to_lost, missing ? 0u : 1u);
    EXPECT_TRUE(report.tree_kept);
    EXPECT_GT(report.tables_kept, 0u);
  }
}

// Everything at once: no MANIFEST, a damaged table block and a damaged tree
// leaf. The salvaged table entries and the salvaged tree are merged by
// sequence number; nothing returned was never written.
TEST_F(RepairTest, MissingManifestWithDamagedTableAndTree) {
  ASSERT_NO_FATAL_FAILURE(FillAndDamageTableTreeAndManifest());
  RepairReport report;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(path_, &report, "", /*exact=*/false));
  EXPECT_TRUE(report.manifest_rebuilt);
  EXPECT_TRUE(report.tree_rebuilt);
  EXPECT_EQ(report.tables_salvaged, 1u) << Dump(report);
  EXPECT_EQ(report.files_moved_to_lost, 2u);  // the table and the tree
  // Every table entry is in the tree now; the originals are gone.
  EXPECT_TRUE(FilesEndingWith(path_, ".sst").empty());
}

TEST_F(RepairTest, DamagedWalRecordMidLog) {
  auto db = Fill();
  const auto logs = FilesEndingWith(path_, ".log");
  ASSERT_EQ(logs.size(), 1u);
  FlipInPlace(path_ + "/" + logs[0], 24 + 24 + 3);  // the first record's payload ("w0")
  const std::string copy = CrashCopy();
  ASSERT_TRUE(db->close().ok());
  EXPECT_TRUE(Database::open(copy, options_).status().IsCorruption());
  RepairReport report;
  ASSERT_NO_FATAL_FAILURE(RepairAndCheck(copy, &report, "w", /*exact=*/false));
  EXPECT_EQ(report.wal_records_kept, 49u);
  EXPECT_EQ(report.files_moved_to_lost, 1u);
  EXPECT_TRUE(report.tree_kept);
  // Exactly the damaged record's write is gone.
  auto reopened = Database::open(copy, options_).value();
  const Model got = test::DumpDb(reopened.get());
  EXPECT_EQ(got.size(), model_.size() - 1);
  EXPECT_EQ(got.count("w0"), 0u);
  ASSERT_TRUE(reopened->close().ok());
}

TEST_F(RepairTest, MisuseAndGarbage) {
  EXPECT_TRUE(RepairDatabase(dir_.file("missing"), options_).IsNotFound());
  // Not a database: no engine files.
  const std::string empty = dir_.file("empty");
  ASSERT_TRUE(Env::Default()->create_dir_if_missing(empty).ok());
  ASSERT_TRUE(WriteStringToFile(Env::Default(), "hello", empty + "/notes.txt", true).ok());
  EXPECT_TRUE(RepairDatabase(empty, options_).IsNotFound());
  EXPECT_TRUE(RepairDatabase(empty + "/notes.txt", options_).IsInvalidArgument());
  // Engine file names with garbage in them: nothing is salvageable; the
  // repair leaves an empty database that opens, and keeps the garbage in lost/.
  const std::string garbage = dir_.file("garbage");
  ASSERT_TRUE(Env::Default()->create_dir_if_missing(garbage).ok());
  test::Random rnd(7);
  for (const char* name : {"MANIFEST", "000003.sst", "000004.log", "TREE"}) {
    ASSERT_TRUE(WriteStringToFile(Env::Default(), rnd.random_bytes(9000), garbage + "/" + name, true).ok());
  }
  RepairReport report;
  Status s = RepairDatabase(garbage, options_, &report);
  ASSERT_TRUE(s.ok() || s.IsCorruption() || s.IsNotSupported()) << s.ToString();
  if (s.ok()) {
    EXPECT_TRUE(report.manifest_rebuilt);
    EXPECT_GE(report.files_moved_to_lost, 3u);
    EXPECT_TRUE(VerifyDatabase(garbage, options_).ok());
    auto db = Database::open(garbage, options_);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    EXPECT_TRUE(test::DumpDb(db.value().get()).empty());
    ASSERT_TRUE(db.value()->close().ok());
  }
  // A comparator other than the database's: refused, nothing changed.
  FillAndClose();
  const test::DirSnapshot before = test::SnapshotDir(Env::Default(), path_);
  Options reverse = options_;
  reverse.comparator = test::ReverseBytewise();
  EXPECT_TRUE(RepairDatabase(path_, reverse).IsInvalidArgument());
  EXPECT_TRUE(test::SnapshotDir(Env::Default(), path_) == before);
}

}  // namespace
}  // namespace lightning

namespace lightning {
namespace {

// A repair interrupted at any instant, then run again.
class RepairCrashTest : public RepairTest {
 protected:
  // Damage with the MANIFEST intact: a tree leaf, a level-0 table's block
  // and a record in the middle of the log (every kind of file the repair
  // replaces). Returns the damaged directory's content.
  test::DirSnapshot DamageWithManifest() {
    auto db = Fill();
    const auto logs = FilesEndingWith(path_, ".log");
    EXPECT_EQ(logs.size(), 1u);
    FlipInPlace(path_ + "/" + logs[0], 24 + 24 + 3);
    const std::string copy = CrashCopy();
    EXPECT_TRUE(db->close().ok());
    DamageFirstTableAndNewestLeaf(copy);
    return test::SnapshotDir(Env::Default(), copy);
  }
  // The case the repair used to get wrong: no MANIFEST, a damaged table
  // and a damaged tree leaf.
  test::DirSnapshot DamageWithoutManifest() {
    FillAndDamageTableTreeAndManifest();
    return test::SnapshotDir(Env::Default(), path_);
  }

  // What an uninterrupted repair of damaged keeps.
  Model ReferenceRepair(const test::DirSnapshot& damaged) {
    const std::string dir = dir_.file("reference");
    EXPECT_TRUE(Env::Default()->create_dir_if_missing(dir).ok());
    test::RestoreDir(Env::Default(), dir, damaged);
    Status s = RepairDatabase(dir, options_);
    EXPECT_TRUE(s.ok()) << s.ToString();
    auto db = Database::open(dir, options_).value();
    Model got = test::DumpDb(db.get());
    EXPECT_TRUE(db->close().ok());
    EXPECT_LT(got.size(), model_.size());  // the damage did cost something
    EXPECT_GT(got.size(), model_.size() / 2);
    return got;
  }

  // Runs the repair again on dir (left by an interrupted one) and checks
  // the result against the model and the uninterrupted repair's result.
  void RepairAgainAndCheck(const std::string& dir, const Model& reference) {
    Status s = RepairDatabase(dir, options_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    s = VerifyDatabase(dir, options_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    // No leftover of the interrupted run.
    std::vector<std::string> children;
    ASSERT_TRUE(Env::Default()->get_children(dir, &children).ok());
    for (const auto& name : children) {
      EXPECT_EQ(name.find(".repair"), std::string::npos) << name;
    }
    EXPECT_TRUE(FilesEndingWith(dir + "/lost", ".tmp").empty());
    auto opened = Database::open(dir, options_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto db = std::move(opened).value();
    Status it_status;
    const Model got = test::DumpDb(db.get(), &it_status);
    ASSERT_TRUE(it_status.ok()) << it_status.ToString();
    for (const auto& [key, value] : got) {
      auto m = model_.find(key);
      ASSERT_TRUE(m != model_.end()) << "never written: " << key;
      ASSERT_EQ(m->second, value) << key;
    }
    for (const auto& [key, value] : reference) {
      ASSERT_EQ(1u, got.count(key)) << "kept by an uninterrupted repair, lost after an interrupted one: " << key;
    }
    EXPECT_TRUE(db->verify().ok());
    ASSERT_TRUE(db->close().ok());
  }

  // Crashes the repair at each of its file operations in turn (the power
  // then cut: what was not synced is dropped, wholly or at random), and
  // repairs again. Every create, flush, sync, rename, remove and directory
  // sync is a crash point; of the many data writes (appends, tree page
  // writes), which differ only in how much of one file is written, a spread
  // of kDataCrashPoints is.
  void CrashAtEveryStep(const test::DirSnapshot& damaged) {
    using Kind = FaultInjectionEnv::OpKind;
    constexpr uint64_t kDataCrashPoints = 6;
    const Model reference = ReferenceRepair(damaged);
    const std::string dir = dir_.file("crashed");
    ASSERT_TRUE(Env::Default()->create_dir_if_missing(dir).ok());
    std::map<Kind, uint64_t> counts;
    {
      test::RestoreDir(Env::Default(), dir, damaged);
      FaultInjectionEnv env(Env::Default());
      Options options = options_;
      options.env = &env;
      Status s = RepairDatabase(dir, options);
      ASSERT_TRUE(s.ok()) << s.ToString();
      for (int k = 0; k < static_cast<int>(Kind::kAny); k++) {
        counts[static_cast<Kind>(k)] = env.call_count(static_cast<Kind>(k));
      }
    }
    ASSERT_GT(counts[Kind::kRename], 3u);
    ASSERT_GT(counts[Kind::kSyncDir], 3u);
    uint64_t crashes = 0;
    for (const auto& [kind, count] : counts) {
      const bool data = kind == Kind::kAppend || kind == Kind::kWrite;
      const uint64_t stride = data ? std::max<uint64_t>(1, count / kDataCrashPoints) : 1;
      for (uint64_t n = 1; n <= count; n += stride) {
        SCOPED_TRACE(std::string("crash at ") + FaultInjectionEnv::op_kind_name(kind) + " " + std::to_string(n) +
                     " of " + std::to_string(count));
        test::RestoreDir(Env::Default(), dir, damaged);
        FaultInjectionEnv env(Env::Default());
        Options options = options_;
        options.env = &env;
        env.fail_nth_call(kind, n, /*deactivate_filesystem=*/true);
        EXPECT_FALSE(RepairDatabase(dir, options).ok());
        ASSERT_FALSE(env.filesystem_active());
        if (++crashes % 2 == 0) {
          ASSERT_TRUE(env.drop_unsynced_data().ok());
        } else {
          ASSERT_TRUE(env.drop_random_unsynced_data(crashes).ok());
        }
        env.set_filesystem_active(true);
        ASSERT_NO_FATAL_FAILURE(RepairAgainAndCheck(dir, reference));
      }
    }
  }

  // Kills (SIGKILL) a child process repairing a copy of damaged at random
  // moments, then repairs again in this process.
  void KillNineDuringRepair(const test::DirSnapshot& damaged) {
    const Model reference = ReferenceRepair(damaged);
    const std::string dir = dir_.file("killed");
    ASSERT_TRUE(Env::Default()->create_dir_if_missing(dir).ok());
    const uint64_t seed = test::RandomSeed();
    SCOPED_TRACE("seed=" + std::to_string(seed));
    test::Random rnd(seed);
    // How long an uninterrupted repair takes here, to spread the kills over.
    test::RestoreDir(Env::Default(), dir, damaged);
    const uint64_t start = Env::Default()->now_micros();
    ASSERT_TRUE(RepairDatabase(dir, options_).ok());
    const uint64_t duration = std::max<uint64_t>(Env::Default()->now_micros() - start, 1000);
    for (int round = 0; round < 8; round++) {
      test::RestoreDir(Env::Default(), dir, damaged);
      const pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        _exit(RepairDatabase(dir, options_).ok() ? 0 : 1);
      }
      usleep(static_cast<useconds_t>(rnd.uniform(static_cast<int>(duration))));
      kill(pid, SIGKILL);
      int status = 0;
      ASSERT_EQ(pid, waitpid(pid, &status, 0));
      ASSERT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) << status;
      SCOPED_TRACE("round " + std::to_string(round) + (WIFSIGNALED(status) ? ": killed" : ": finished"));
      ASSERT_NO_FATAL_FAILURE(RepairAgainAndCheck(dir, reference));
    }
  }
};

TEST_F(RepairCrashTest, CrashAtEveryStepWithManifest) { CrashAtEveryStep(DamageWithManifest()); }

TEST_F(RepairCrashTest, CrashAtEveryStepWithoutManifest) { CrashAtEveryStep(DamageWithoutManifest()); }

TEST_F(RepairCrashTest, KillNineDuringRepairWithManifest) { KillNineDuringRepair(DamageWithManifest()); }

TEST_F(RepairCrashTest, KillNineDuringRepairWithoutManifest) { KillNineDuringRepair(DamageWithoutManifest()); }

}  // namespace
}  // namespace lightning
