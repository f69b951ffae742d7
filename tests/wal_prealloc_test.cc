// Copyright (c) Lightning authors. MIT License.
//
// Write-ahead logs with zeros prefilled ahead of their records
// (WalWriter's prefill_bytes, Options::wal_prefill_bytes): the zero tail reads
// as the clean end and never as a record, a torn record before zeros is a torn
// tail, damage before zeros (or zeros before intact records) is still
// corruption, synced records survive a power cut, and the database's
// maintenance paths (verify, checkpoint, backup, repair, stats) see the log's
// logical size.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "db/filenames.h"
#include "env/fault_injection_env.h"
#include "lightning/backup.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/maintenance.h"
#include "util/coding.h"
#include "util/db_test_util.h"
#include "util/hash.h"
#include "util/random.h"
#include "util/temp_dir.h"
#include "util/wal_test_util.h"
#include "wal/wal_format.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning::wal {
namespace {

constexpr uint64_t kPrefill = 4096;
constexpr uint64_t kLogNumber = 7;

struct ReadResult {
  std::vector<std::string> payloads;
  WalReader::End end = WalReader::End::kNotYet;
  uint64_t valid_end = 0;
  uint64_t data_end = 0;
  uint64_t damage_offset = 0;
};

ReadResult ReadLog(Env* env, const std::string& fname, bool skip_damage = false) {
  ReadResult result;
  std::unique_ptr<WalReader> reader;
  Status s = WalReader::open(env, fname, kLogNumber, &reader);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return result;
  Slice payload;
  uint64_t seq;
  for (;;) {
    while (reader->read_record(&payload, &seq)) result.payloads.push_back(payload.ToString());
    if (reader->end() == WalReader::End::kCorruption) {
      result.damage_offset = reader->damage_offset();
      if (skip_damage) {
        reader->skip_damage();
        continue;
      }
    }
    break;
  }
  result.end = reader->end();
  result.valid_end = reader->valid_end();
  result.data_end = reader->data_end();
  if (result.end == WalReader::End::kTornTail) result.damage_offset = reader->damage_offset();
  return result;
}

uint64_t FileSize(Env* env, const std::string& fname) {
  uint64_t size = 0;
  EXPECT_TRUE(env->get_file_size(fname, &size).ok());
  return size;
}

class WalPrefillTest : public test::LogFileTest {
 protected:

  // Writes payloads with sequences 1, 2, ... and returns each record's end;
  // leaves the writer open (its zeros in place) in *writer.
  std::vector<uint64_t> write_open_log(const std::vector<std::string>& payloads, std::unique_ptr<WalWriter>* writer) {
    EXPECT_TRUE(WalWriter::create(env_.get(), kName, kLogNumber, writer, kPrefill).ok());
    std::vector<uint64_t> ends;
    for (size_t i = 0; i < payloads.size(); i++) {
      EXPECT_TRUE((*writer)->add_record(i + 1, payloads[i]).ok());
      ends.push_back((*writer)->size());
    }
    EXPECT_TRUE((*writer)->flush().ok());
    return ends;
  }

};

std::vector<std::string> SamplePayloads() {
  test::Random rnd(11);
  std::vector<std::string> p;
  p.push_back("");
  p.push_back(std::string(40, '\0'));  // a record of zeros is still a record
  for (int i = 0; i < 30; i++) p.push_back(rnd.random_bytes(rnd.uniform(400)));
  p.push_back(rnd.random_bytes(9000));  // more than one prefill step at once
  p.push_back("last");
  return p;
}

TEST_F(WalPrefillTest, ZeroRecordHeaderCanNeverBeARecord) {
  static_assert(kWalRecordMagic != 0, "an all-zero header must fail the magic check");
  const std::string zeros(kRecordHeaderSize, '\0');
  // Nor could it pass the header checksum were the magic check dropped.
  EXPECT_NE(0u, Checksum32(zeros.data(), 20));
  EXPECT_NE(0u, Checksum32(zeros.data(), 0));  // an empty payload's checksum
}

TEST_F(WalPrefillTest, ZerosStayAheadOfTheRecordsAndCloseCutsThemOff) {
  const auto payloads = SamplePayloads();
  std::unique_ptr<WalWriter> writer;
  ASSERT_TRUE(WalWriter::create(env_.get(), kName, kLogNumber, &writer, kPrefill).ok());
  EXPECT_GE(FileSize(env_.get(), kName), kFileHeaderSize + kPrefill);
  for (size_t i = 0; i < payloads.size(); i++) {
    ASSERT_TRUE(writer->add_record(i + 1, payloads[i]).ok());
    // Whole blocks, always past the records.
    EXPECT_EQ(0u, writer->prefilled_end() % 4096);
    EXPECT_GT(writer->prefilled_end(), writer->size());
    EXPECT_EQ(writer->prefilled_end(), FileSize(env_.get(), kName));
  }
  ASSERT_TRUE(writer->sync().ok());
  // The log read while open (as after a crash): every record, then the zeros as the clean end.
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ(payloads, r.payloads);
  EXPECT_EQ(writer->size(), r.valid_end);
  EXPECT_EQ(writer->size(), r.data_end);
  EXPECT_LT(writer->size(), FileSize(env_.get(), kName));

  const uint64_t logical = writer->size();
  ASSERT_TRUE(writer->close().ok());
  EXPECT_EQ(logical, FileSize(env_.get(), kName));
  r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ(payloads, r.payloads);
  EXPECT_EQ(logical, r.data_end);
}

// Like a crash, destruction without close() leaves the zeros (and the log
// reads the same).
TEST_F(WalPrefillTest, DestructorLeavesTheZeros) {
  uint64_t logical = 0;
  {
    std::unique_ptr<WalWriter> writer;
    write_open_log({"a", "b"}, &writer);
    logical = writer->size();
    EXPECT_EQ(logical, writer->flushed_size());
  }
  EXPECT_GT(FileSize(env_.get(), kName), logical);
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ((std::vector<std::string>{"a", "b"}), r.payloads);
  EXPECT_EQ(logical, r.data_end);
}

// A reader of a live log stops at the writer's flushed size.
TEST_F(WalPrefillTest, ReaderStopsAtMaxSize) {
  std::unique_ptr<WalWriter> writer;
  const auto ends = write_open_log({"a", "b", "c"}, &writer);
  std::unique_ptr<WalReader> reader;
  ASSERT_TRUE(WalReader::open(env_.get(), kName, kLogNumber, &reader, ends[1]).ok());
  Slice payload;
  uint64_t seq;
  int n = 0;
  while (reader->read_record(&payload, &seq)) n++;
  EXPECT_EQ(2, n);
  EXPECT_EQ(WalReader::End::kClean, reader->end());
  EXPECT_EQ(ends[1], reader->file_size());
}

// Any amount of zeros after any record boundary is the clean end.
TEST_F(WalPrefillTest, ZeroTailOfAnyLengthIsTheCleanEnd) {
  const std::vector<std::string> payloads = {"alpha", "beta", std::string(300, 'g'), "delta"};
  std::unique_ptr<WalWriter> writer;
  const auto ends = write_open_log(payloads, &writer);
  ASSERT_TRUE(writer->close().ok());
  const std::string full = contents();
  for (size_t records = 0; records <= payloads.size(); records++) {
    const uint64_t end = records == 0 ? kFileHeaderSize : ends[records - 1];
    for (uint64_t zeros : {1u, 3u, 23u, 24u, 25u, 4096u, 70000u}) {
      set_contents(full.substr(0, end) + std::string(zeros, '\0'));
      ReadResult r = ReadLog(env_.get(), kName);
      ASSERT_EQ(WalReader::End::kClean, r.end) << records << " records, " << zeros << " zeros";
      ASSERT_EQ(std::vector<std::string>(payloads.begin(), payloads.begin() + records), r.payloads);
      ASSERT_EQ(end, r.valid_end);
      ASSERT_EQ(end, r.data_end);
    }
  }
}

// A crash inside the last append over the zeros: every prefix of its bytes
// followed by the zeros reads as the records before it plus a torn tail.
TEST_F(WalPrefillTest, TornRecordBeforeZerosIsATornTail) {
  const std::vector<std::string> payloads = {"one", "two", std::string(150, 'x'), "the last record"};
  std::unique_ptr<WalWriter> writer;
  const auto ends = write_open_log(payloads, &writer);
  const uint64_t file_size = FileSize(env_.get(), kName);
  const std::string full = contents();
  ASSERT_EQ(file_size, full.size());
  for (uint64_t cut = ends[2]; cut < ends[3]; cut++) {
    std::string data = full;
    std::fill(data.begin() + static_cast<std::ptrdiff_t>(cut), data.end(), '\0');
    set_contents(data);
    ReadResult r = ReadLog(env_.get(), kName);
    ASSERT_EQ(3u, r.payloads.size()) << "cut at " << cut;
    ASSERT_EQ(cut == ends[2] ? WalReader::End::kClean : WalReader::End::kTornTail, r.end) << "cut at " << cut;
    ASSERT_EQ(ends[2], r.valid_end);
    ASSERT_LE(r.data_end, cut);
    ASSERT_GE(r.data_end, r.valid_end);
  }
  // Only the torn record's damaged remainder, not the zeros, counts as data.
  std::string data = full;
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(ends[3] - 1), data.end(), '\0');
  data[ends[3] - 2] = 'q';
  set_contents(data);
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kTornTail, r.end);
  EXPECT_EQ(ends[3] - 1, r.data_end);
  EXPECT_EQ(ends[2], r.damage_offset);
}

// Damage before the zeros, with intact records after it, is corruption.
TEST_F(WalPrefillTest, CorruptionBeforeZerosIsReported) {
  const std::vector<std::string> payloads = {"one", "two", "three", "four", "five"};
  std::unique_ptr<WalWriter> writer;
  const auto ends = write_open_log(payloads, &writer);
  std::string data = contents();
  data[ends[1] + kRecordHeaderSize + 2] ^= 0x01;  // the payload of "three"
  set_contents(data);
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kCorruption, r.end);
  EXPECT_EQ(ends[1], r.damage_offset);
  EXPECT_EQ((std::vector<std::string>{"one", "two"}), r.payloads);
  r = ReadLog(env_.get(), kName, /*skip_damage=*/true);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ((std::vector<std::string>{"one", "two", "four", "five"}), r.payloads);
  EXPECT_EQ(ends[4], r.valid_end);
}

// Zeros where records should be, followed by intact records, are not the
// end of the log: the later records must not be silently dropped.
TEST_F(WalPrefillTest, ZerosBeforeIntactRecordsAreCorruption) {
  const std::vector<std::string> payloads = {"one", "two", std::string(5000, 't'), "four", "five"};
  std::unique_ptr<WalWriter> writer;
  const auto ends = write_open_log(payloads, &writer);
  for (bool whole_record : {true, false}) {
    std::string data = contents();
    const uint64_t zero_end = whole_record ? ends[2] : ends[1] + kRecordHeaderSize;
    std::fill(data.begin() + static_cast<std::ptrdiff_t>(ends[1]), data.begin() + static_cast<std::ptrdiff_t>(zero_end),
              '\0');
    set_contents(data);
    ReadResult r = ReadLog(env_.get(), kName);
    EXPECT_EQ(WalReader::End::kCorruption, r.end) << whole_record;
    EXPECT_EQ(ends[1], r.damage_offset);
    EXPECT_EQ((std::vector<std::string>{"one", "two"}), r.payloads);
  }
}

TEST_F(WalPrefillTest, DamagedFileHeaderOfZerosIsNotACleanEnd) {
  set_contents(std::string(8192, '\0'));
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kTornTail, r.end);
  EXPECT_TRUE(r.payloads.empty());
}

// A file that cannot prefill (here: one that does not override
// prefill_zeros) gets plain appends.
class NoPrefillFile final : public WritableFile {
 public:
  explicit NoPrefillFile(std::unique_ptr<WritableFile> target) : target_(std::move(target)) {}
  Status append(const Slice& data) override { return target_->append(data); }
  Status flush() override { return target_->flush(); }
  Status sync() override { return target_->sync(); }
  Status close() override { return target_->close(); }

 private:
  std::unique_ptr<WritableFile> target_;
};

class NoPrefillEnv final : public EnvWrapper {
 public:
  explicit NoPrefillEnv(Env* target) : EnvWrapper(target) {}
  Status new_writable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    std::unique_ptr<WritableFile> file;
    Status s = target()->new_writable_file(f, &file);
    if (s.ok()) *r = std::make_unique<NoPrefillFile>(std::move(file));
    return s;
  }
};

TEST_F(WalPrefillTest, FileWithoutPrefillGetsPlainAppends) {
  NoPrefillEnv env(env_.get());
  std::unique_ptr<WalWriter> writer;
  ASSERT_TRUE(WalWriter::create(&env, kName, kLogNumber, &writer, kPrefill).ok());
  ASSERT_TRUE(writer->add_record(1, "x").ok());
  ASSERT_TRUE(writer->flush().ok());
  EXPECT_EQ(writer->size(), FileSize(env_.get(), kName));
  ReadResult r = ReadLog(env_.get(), kName);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ(std::vector<std::string>{"x"}, r.payloads);
}

TEST(WalPrefillPosixTest, RealFilesKeepZerosAheadAndCloseCutsThem) {
  test::TempDir dir("wal_prefill_posix");
  Env* env = Env::Default();
  const std::string fname = dir.path() + "/000007.log";
  std::unique_ptr<WalWriter> writer;
  ASSERT_TRUE(WalWriter::create(env, fname, kLogNumber, &writer, kPrefill).ok());
  ASSERT_TRUE(writer->sync().ok());
  EXPECT_EQ(writer->prefilled_end(), FileSize(env, fname));
  const auto payloads = SamplePayloads();
  for (size_t i = 0; i < payloads.size(); i++) {
    ASSERT_TRUE(writer->add_record(i + 1, payloads[i]).ok());
    ASSERT_TRUE(writer->sync().ok());
    ASSERT_EQ(writer->prefilled_end(), FileSize(env, fname));
    ASSERT_GT(writer->prefilled_end(), writer->size());
  }
  ReadResult r = ReadLog(env, fname);
  EXPECT_EQ(WalReader::End::kClean, r.end);
  EXPECT_EQ(payloads, r.payloads);
  EXPECT_EQ(writer->size(), r.data_end);
  const uint64_t logical = writer->size();
  ASSERT_TRUE(writer->close().ok());
  EXPECT_EQ(logical, FileSize(env, fname));
  // A file opened for appending has an unknown end: no prefill.
  std::unique_ptr<WritableFile> appendable;
  ASSERT_TRUE(env->new_appendable_file(fname, &appendable).ok());
  EXPECT_TRUE(appendable->prefill_zeros(1 << 20).IsNotSupported());
  ASSERT_TRUE(appendable->close().ok());
  EXPECT_EQ(logical, FileSize(env, fname));
}

// Power cuts over a prefilled log: every synced record survives, what
// survives is a prefix, and the log never reads as corrupt.
TEST(WalPrefillPowerLossTest, SyncedRecordsSurviveAndTheRestIsAPrefix) {
  auto mem = NewMemoryEnv();
  ASSERT_TRUE(mem->create_dir_if_missing("/w").ok());
  for (uint64_t seed = 1; seed <= 60; seed++) {
    FaultInjectionEnv env(mem.get());
    const std::string fname = "/w/000007.log";
    test::Random rnd(static_cast<uint32_t>(seed));
    std::vector<std::string> payloads;
    size_t synced = 0;
    {
      std::unique_ptr<WalWriter> writer;
      ASSERT_TRUE(WalWriter::create(&env, fname, kLogNumber, &writer, 1024).ok());
      ASSERT_TRUE(writer->sync().ok());
      ASSERT_TRUE(env.sync_dir("/w").ok());
      const int n = 1 + static_cast<int>(rnd.uniform(40));
      for (int i = 0; i < n; i++) {
        payloads.push_back(rnd.random_bytes(rnd.uniform(600)));
        ASSERT_TRUE(writer->add_record(i + 1, payloads.back()).ok());
        if (rnd.one_in(3)) {
          ASSERT_TRUE(writer->sync().ok());
          synced = payloads.size();
        } else if (rnd.one_in(2)) {
          ASSERT_TRUE(writer->flush().ok());
        }
      }
      env.set_filesystem_active(false);  // the process dies with the log open
    }
    if (seed % 2 == 0) {
      ASSERT_TRUE(env.drop_unsynced_data().ok());
    } else {
      ASSERT_TRUE(env.drop_random_unsynced_data(seed).ok());
    }
    env.set_filesystem_active(true);
    ReadResult r = ReadLog(&env, fname);
    ASSERT_TRUE(r.end == WalReader::End::kClean || r.end == WalReader::End::kTornTail)
        << "seed " << seed << " end " << static_cast<int>(r.end);
    ASSERT_GE(r.payloads.size(), synced) << "seed " << seed;
    ASSERT_LE(r.payloads.size(), payloads.size());
    for (size_t i = 0; i < r.payloads.size(); i++) ASSERT_EQ(payloads[i], r.payloads[i]) << "seed " << seed;
    if (seed % 2 == 0) {
      // Everything unsynced is gone, and the durable zeros are back in its place.
      EXPECT_EQ(synced, r.payloads.size());
      EXPECT_EQ(WalReader::End::kClean, r.end);
      EXPECT_GT(FileSize(&env, fname), r.valid_end);
    }
  }
}

}  // namespace
}  // namespace lightning::wal

namespace lightning {
namespace {

std::string Key(int i) { return "key" + std::to_string(100000 + i); }

// A database whose live log has a zero tail: reopened after a crash, and
// verified, checkpointed, backed up and repaired.
class DatabasePrefillTest : public ::testing::Test {
 protected:
  Options options() const {
    Options o;
    o.env = Env::Default();
    o.wal_sync_mode = WalSyncMode::kFull;
    return o;
  }
  void open_db() {
    auto r = Database::open(path_, options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r.value());
  }
  void fill(int from, int to) {
    for (int i = from; i < to; i++) ASSERT_TRUE(db_->put(Key(i), test::MakeValue(Key(i), 0, 50)).ok());
  }
  void expect_present(Database* db, int n) {
    for (int i = 0; i < n; i++) {
      auto v = db->get(Key(i));
      ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status().ToString();
      ASSERT_EQ(test::MakeValue(Key(i), 0, 50), v.value());
    }
  }
  std::string live_log() {
    const auto logs = test::LogFiles(Env::Default(), path_);
    EXPECT_FALSE(logs.empty());
    return logs.empty() ? std::string() : path_ + "/" + logs.back();
  }
  // The log's size as a reader sees it, and the file's size.
  void log_sizes(const std::string& fname, uint64_t* logical, uint64_t* physical) {
    uint64_t number = 0;
    ASSERT_TRUE(ParseFileName(fname.substr(fname.rfind('/') + 1), &number) == FileType::kLog);
    std::unique_ptr<wal::WalReader> reader;
    ASSERT_TRUE(wal::WalReader::open(Env::Default(), fname, number, &reader).ok());
    Slice payload;
    uint64_t seq;
    while (reader->read_record(&payload, &seq)) {
    }
    ASSERT_EQ(wal::WalReader::End::kClean, reader->end());
    *logical = reader->data_end();
    *physical = reader->file_size();
  }
  // The process "dies": the files stay as they are now.
  void crash_db() {
    const test::DirSnapshot image = test::SnapshotDir(Env::Default(), path_);
    ASSERT_TRUE(db_->close().ok());
    db_.reset();
    test::RestoreDir(Env::Default(), path_, image);
  }

  test::TempDir dir_{"wal_prefill_db"};
  std::string path_ = dir_.path() + "/db";
  std::unique_ptr<Database> db_;
};

TEST_F(DatabasePrefillTest, LiveLogHasAZeroTailThatStatsAndVerifyIgnore) {
  open_db();
  fill(0, 200);
  uint64_t logical = 0, physical = 0;
  log_sizes(live_log(), &logical, &physical);
  EXPECT_GT(physical, logical) << "the live log should have zeros ahead of its records";
  EXPECT_EQ(logical, db_->stats().wal_bytes);
  VerifyReport report;
  ASSERT_TRUE(db_->verify(&report).ok());
  EXPECT_EQ(logical, report.wal_bytes);
  EXPECT_EQ(0u, report.wal_torn_tail_bytes);
  EXPECT_EQ(200u, report.wal_records);
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
}

TEST_F(DatabasePrefillTest, ClosedLogsKeepNoZeros) {
  Options o = options();
  o.memtable_size = 64 << 10;  // several log switches
  auto r = Database::open(path_, o);
  ASSERT_TRUE(r.ok());
  db_ = std::move(r.value());
  fill(0, 3000);
  // Logs switched away from keep their zeros until their memtable's flush
  // deletes them; close() cuts the last one's off.
  ASSERT_TRUE(db_->flush().ok());
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
  for (const auto& name : test::LogFiles(Env::Default(), path_)) {
    uint64_t logical = 0, physical = 0;
    log_sizes(path_ + "/" + name, &logical, &physical);
    EXPECT_EQ(logical, physical) << name;
  }
}

TEST_F(DatabasePrefillTest, ReopenAfterACrashWithAZeroTail) {
  open_db();
  fill(0, 300);
  crash_db();
  uint64_t logical = 0, physical = 0;
  log_sizes(live_log(), &logical, &physical);
  ASSERT_GT(physical, logical);
  VerifyReport report;
  ASSERT_TRUE(VerifyDatabase(path_, options(), &report).ok());
  EXPECT_EQ(logical, report.wal_bytes);
  EXPECT_EQ(0u, report.wal_torn_tail_bytes);
  open_db();  // kStrict: the zeros are not damage
  expect_present(db_.get(), 300);
  fill(300, 400);
  crash_db();
  open_db();
  expect_present(db_.get(), 400);
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
}

TEST_F(DatabasePrefillTest, TornRecordBeforeTheZerosIsDroppedOnReopen) {
  open_db();
  fill(0, 50);
  crash_db();
  const std::string log = live_log();
  uint64_t logical = 0, physical = 0;
  log_sizes(log, &logical, &physical);
  // The last record half overwritten by zeros, as a torn write over the prefill leaves it.
  std::string data;
  ASSERT_TRUE(ReadFileToString(Env::Default(), log, &data).ok());
  std::fill(data.begin() + static_cast<std::ptrdiff_t>(logical - 30), data.end(), '\0');
  ASSERT_TRUE(WriteStringToFile(Env::Default(), data, log, true).ok());
  open_db();
  expect_present(db_.get(), 49);
  EXPECT_TRUE(db_->get(Key(49)).status().IsNotFound());
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
}

TEST_F(DatabasePrefillTest, CorruptionBeforeTheZerosStopsAStrictOpen) {
  open_db();
  fill(0, 50);
  crash_db();
  const std::string log = live_log();
  std::string data;
  ASSERT_TRUE(ReadFileToString(Env::Default(), log, &data).ok());
  data[200] ^= 0x20;  // inside an early record
  ASSERT_TRUE(WriteStringToFile(Env::Default(), data, log, true).ok());
  auto r = Database::open(path_, options());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption()) << r.status().ToString();
  EXPECT_TRUE(VerifyDatabase(path_, options()).IsCorruption());
}

TEST_F(DatabasePrefillTest, CheckpointBackupAndRepairOfADatabaseWithAZeroTail) {
  open_db();
  fill(0, 120);
  uint64_t logical = 0, physical = 0;
  log_sizes(live_log(), &logical, &physical);
  ASSERT_GT(physical, logical);

  const std::string checkpoint = dir_.path() + "/checkpoint";
  ASSERT_TRUE(db_->checkpoint(checkpoint).ok());
  {
    auto r = Database::open(checkpoint, options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    expect_present(r.value().get(), 120);
    ASSERT_TRUE(r.value()->close().ok());
  }

  auto engine = BackupEngine::open(dir_.path() + "/backups");
  ASSERT_TRUE(engine.ok());
  auto id = engine.value()->create_backup(*db_);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  ASSERT_TRUE(engine.value()->verify_backup(id.value()).ok());
  const std::string restored = dir_.path() + "/restored";
  ASSERT_TRUE(engine.value()->restore(id.value(), restored).ok());
  {
    auto r = Database::open(restored, options());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    expect_present(r.value().get(), 120);
    ASSERT_TRUE(r.value()->close().ok());
  }

  fill(120, 150);
  crash_db();
  RepairReport report;
  ASSERT_TRUE(RepairDatabase(path_, options(), &report).ok());
  EXPECT_EQ(0u, report.wal_records_dropped);
  open_db();
  expect_present(db_.get(), 150);
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
}

TEST_F(DatabasePrefillTest, PrefillCanBeTurnedOffAndIsBounded) {
  Options o = options();
  o.wal_prefill_bytes = 0;
  auto r = Database::open(path_, o);
  ASSERT_TRUE(r.ok());
  db_ = std::move(r.value());
  fill(0, 20);
  uint64_t logical = 0, physical = 0;
  log_sizes(live_log(), &logical, &physical);
  EXPECT_EQ(logical, physical);
  ASSERT_TRUE(db_->close().ok());
  db_.reset();
  o.wal_prefill_bytes = (256u << 20) + 1;
  auto bad = Database::open(path_, o);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(bad.status().IsInvalidArgument());
}

// Power loss with the database open, through the fault-injection Env: every
// synced write survives a kStrict reopen, whatever of the rest is lost.
TEST(DatabasePrefillPowerLossTest, EverySyncedWriteSurvives) {
  for (uint64_t seed = 1; seed <= 12; seed++) {
    auto mem = NewMemoryEnv();
    FaultInjectionEnv env(mem.get());
    Options o;
    o.env = &env;
    o.wal_sync_mode = WalSyncMode::kNormal;  // some writes synced, some not
    o.wal_prefill_bytes = 4096;              // several top-ups
    const std::string path = "/db";
    test::Random rnd(static_cast<uint32_t>(seed));
    int synced = 0, written = 0;
    {
      auto r = Database::open(path, o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      auto db = std::move(r.value());
      for (int i = 0; i < 200; i++) {
        WriteOptions w;
        w.sync = rnd.one_in(4);
        ASSERT_TRUE(db->put(Key(i), test::MakeValue(Key(i), 0, 50), w).ok());
        written = i + 1;
        if (w.sync) synced = written;
      }
      env.set_filesystem_active(false);
      (void)db->close();
    }
    if (seed % 2 == 0) {
      ASSERT_TRUE(env.drop_unsynced_data().ok());
    } else {
      ASSERT_TRUE(env.drop_random_unsynced_data(seed).ok());
    }
    env.set_filesystem_active(true);
    auto r = Database::open(path, o);
    ASSERT_TRUE(r.ok()) << "seed " << seed << ": " << r.status().ToString();
    auto db = std::move(r.value());
    int present = 0;
    for (int i = 0; i < written; i++) {
      auto v = db->get(Key(i));
      if (v.ok()) {
        ASSERT_EQ(present, i) << "seed " << seed << ": a gap before key " << i;
        ASSERT_EQ(test::MakeValue(Key(i), 0, 50), v.value());
        present++;
      } else {
        ASSERT_TRUE(v.status().IsNotFound()) << v.status().ToString();
      }
    }
    EXPECT_GE(present, synced) << "seed " << seed;
    ASSERT_TRUE(db->close().ok());
  }
}

}  // namespace
}  // namespace lightning
