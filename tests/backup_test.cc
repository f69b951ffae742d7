// Copyright (c) Lightning authors. MIT License.
//
// BackupEngine: model-based (random operations against a std::map, backups at
// random points, each restored, reopened and compared with the model as of
// its creation), incremental sharing of tables, verify/delete/purge, damage
// in a backup detected (verify and restore refuse it), restore into a
// non-empty or open directory refused, misuse after close, concurrent
// writers during backups, and kill -9 during backups (a forked child; the
// backups listed afterwards are complete and restore exactly, debris is
// removed).
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./backup_test --gtest_filter=...
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "lightning/backup.h"
#include "lightning/db.h"
#include "lightning/maintenance.h"
#include "util/maint_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;

std::vector<std::string> Children(Env* env, const std::string& dir) {
  std::vector<std::string> out;
  (void)env->get_children(dir, &out);
  return out;
}

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override { options_ = test::SmallMaintOptions(); }

  std::unique_ptr<Database> OpenDb(const std::string& path) {
    auto r = Database::open(path, options_);
    EXPECT_TRUE(r.ok()) << path << ": " << r.status().ToString();
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  std::unique_ptr<BackupEngine> OpenEngine() {
    auto r = BackupEngine::open(root(), options_.env);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r.value()) : nullptr;
  }
  std::string root() const { return dir_.file("backups"); }
  // Restores id into a fresh directory and returns its contents.
  Model RestoreAndDump(BackupEngine* engine, uint64_t id, const std::string& name) {
    const std::string path = dir_.file(name);
    Status s = engine->restore(id, path);
    EXPECT_TRUE(s.ok()) << s.ToString();
    Status vs = VerifyDatabase(path, options_);
    EXPECT_TRUE(vs.ok()) << vs.ToString();
    auto db = OpenDb(path);
    if (db == nullptr) return {};
    Status is;
    Model m = test::DumpDb(db.get(), &is);
    EXPECT_TRUE(is.ok()) << is.ToString();
    return m;
  }

  test::TempDir dir_{"backup_test"};
  Options options_;
};

TEST_F(BackupTest, RandomOperationsThenBackupsRestoreExactly) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  ASSERT_NE(db, nullptr);
  ASSERT_NE(engine, nullptr);
  Model model;
  std::map<uint64_t, Model> expected;
  for (int step = 0; step < 10000; step++) {
    const std::string key = "k" + std::to_string(rnd.uniform(1200));
    if (rnd.uniform(10) < 7) {
      const std::string value = rnd.random_bytes(rnd.uniform(400));
      ASSERT_TRUE(db->put(key, value).ok());
      model[key] = value;
    } else {
      ASSERT_TRUE(db->remove(key).ok());
      model.erase(key);
    }
    if (step == 5000) {
      ASSERT_TRUE(db->compact().ok());
    }
    if (step % 2000 == 1999) {
      auto id = engine->create_backup(*db);
      ASSERT_TRUE(id.ok()) << id.status().ToString();
      expected[id.value()] = model;
    }
  }
  auto list = engine->list_backups();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list.value().size(), expected.size());
  uint64_t prev_id = 0;
  for (const BackupInfo& info : list.value()) {
    EXPECT_GT(info.id, prev_id);
    prev_id = info.id;
    EXPECT_TRUE(expected.count(info.id));
    EXPECT_GT(info.timestamp, 1600000000u);  // seconds since 1970: after 2020
    EXPECT_GT(info.size, 0u);
    EXPECT_GE(info.file_count, 2u);  // tables and the MANIFEST at least
    EXPECT_TRUE(engine->verify_backup(info.id).ok());
  }
  ASSERT_TRUE(db->close().ok());
  for (const auto& [id, m] : expected) {
    SCOPED_TRACE("backup " + std::to_string(id));
    EXPECT_TRUE(RestoreAndDump(engine.get(), id, "restore" + std::to_string(id)) == m);
  }
}

TEST_F(BackupTest, TablesAreSharedNotCopiedAgain) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  test::Random rnd(7);
  Model model;
  for (int i = 0; i < 4000; i++) {
    model["k" + std::to_string(i)] = rnd.random_bytes(200);
    ASSERT_TRUE(db->put("k" + std::to_string(i), model["k" + std::to_string(i)]).ok());
  }
  ASSERT_TRUE(db->flush().ok());
  auto first = engine->create_backup(*db);
  ASSERT_TRUE(first.ok());
  const size_t shared_after_first = Children(Env::Default(), root() + "/shared").size();
  EXPECT_GT(shared_after_first, 0u);
  // Nothing changed: the second backup shares every table of the first.
  // (Background compactions may have run in between; wait for quiet by
  // compacting first, then take two backups.)
  ASSERT_TRUE(db->compact().ok());
  auto a = engine->create_backup(*db);
  const size_t shared_a = Children(Env::Default(), root() + "/shared").size();
  auto b = engine->create_backup(*db);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Children(Env::Default(), root() + "/shared").size(), shared_a);
  // A small change adds only the new table(s).
  ASSERT_TRUE(db->put("extra", "x").ok());
  model["extra"] = "x";
  auto c = engine->create_backup(*db);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(Children(Env::Default(), root() + "/shared").size(), shared_a + 1);
  ASSERT_TRUE(db->close().ok());
  EXPECT_TRUE(RestoreAndDump(engine.get(), c.value(), "rc") == model);
  model.erase("extra");
  EXPECT_TRUE(RestoreAndDump(engine.get(), b.value(), "rb") == model);
  EXPECT_TRUE(RestoreAndDump(engine.get(), first.value(), "rfirst") == model);
}

TEST_F(BackupTest, DeleteAndPurgeRemoveUnreferencedFiles) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  std::vector<uint64_t> ids;
  std::map<uint64_t, Model> expected;
  Model model;
  for (int round = 0; round < 5; round++) {
    for (int i = 0; i < 500; i++) {
      const std::string key = "r" + std::to_string(round) + "k" + std::to_string(i);
      model[key] = std::string(50, static_cast<char>('a' + round));
      ASSERT_TRUE(db->put(key, model[key]).ok());
    }
    if (round == 2) {
      ASSERT_TRUE(db->compact().ok());  // a tree in later backups
    }
    auto id = engine->create_backup(*db);
    ASSERT_TRUE(id.ok());
    ids.push_back(id.value());
    expected[id.value()] = model;
  }
  EXPECT_TRUE(engine->delete_backup(12345).IsNotFound());
  ASSERT_TRUE(engine->delete_backup(ids[1]).ok());
  EXPECT_TRUE(engine->verify_backup(ids[1]).IsNotFound());
  EXPECT_TRUE(engine->restore(ids[1], dir_.file("nope")).IsNotFound());
  ASSERT_TRUE(engine->purge_old_backups(2).ok());
  auto list = engine->list_backups().value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].id, ids[3]);
  EXPECT_EQ(list[1].id, ids[4]);
  EXPECT_EQ(Children(Env::Default(), root() + "/private").size(), 2u);
  for (const auto& info : list) EXPECT_TRUE(engine->verify_backup(info.id).ok());
  EXPECT_TRUE(RestoreAndDump(engine.get(), ids[3], "r3") == expected[ids[3]]);
  // Ids are never reused, even after deletions and a reopen.
  ASSERT_TRUE(engine->purge_old_backups(0).ok());
  EXPECT_TRUE(Children(Env::Default(), root() + "/shared").empty());
  EXPECT_TRUE(Children(Env::Default(), root() + "/private").empty());
  ASSERT_TRUE(engine->close().ok());
  engine = OpenEngine();
  auto id = engine->create_backup(*db);
  ASSERT_TRUE(id.ok());
  EXPECT_GT(id.value(), ids.back());
}

TEST_F(BackupTest, DamageIsDetectedAndNeverRestored) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  for (int i = 0; i < 3000; i++) ASSERT_TRUE(db->put("k" + std::to_string(i), std::string(100, 'v')).ok());
  ASSERT_TRUE(db->compact().ok());
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db->put("n" + std::to_string(i), "w").ok());
  const uint64_t id = engine->create_backup(*db).value();
  const uint64_t id2 = engine->create_backup(*db).value();
  ASSERT_TRUE(engine->verify_backup(id).ok());
  // A flipped byte in each kind of file of the backup.
  std::vector<std::string> targets;
  for (const auto& name : Children(Env::Default(), root() + "/shared")) targets.push_back("shared/" + name);
  targets.push_back("private/" + std::to_string(id) + "/TREE");
  targets.push_back("private/" + std::to_string(id) + "/MANIFEST");
  ASSERT_GE(targets.size(), 3u);
  for (const auto& rel : targets) {
    SCOPED_TRACE(rel);
    const std::string fname = root() + "/" + rel;
    const uint64_t offset = test::FileSize(Env::Default(), fname) / 2;
    test::FlipByte(Env::Default(), fname, offset);
    Status s = engine->verify_backup(id);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    EXPECT_NE(s.message().find(rel.substr(rel.rfind('/') + 1)), std::string::npos) << s.ToString();
    const std::string target = dir_.file("restore_damaged");
    s = engine->restore(id, target);
    EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    // Nothing that open() would take for a database is left behind.
    Options o = options_;
    o.create_if_missing = false;
    EXPECT_FALSE(Database::open(target, o).ok());
    test::FlipByte(Env::Default(), fname, offset);  // undo
    ASSERT_TRUE(engine->verify_backup(id).ok());
  }
  // Damaged metadata: the backup is no longer listed, and the shared tables
  // it may need are not deleted.
  const std::string meta = root() + "/meta/" + std::to_string(id);
  test::FlipByte(Env::Default(), meta, 20);
  ASSERT_TRUE(engine->close().ok());
  const size_t shared = Children(Env::Default(), root() + "/shared").size();
  engine = OpenEngine();
  auto list = engine->list_backups().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].id, id2);
  EXPECT_TRUE(engine->verify_backup(id).IsNotFound());
  ASSERT_TRUE(engine->delete_backup(id2).ok());
  EXPECT_EQ(Children(Env::Default(), root() + "/shared").size(), shared);
  ASSERT_TRUE(db->close().ok());
}

TEST_F(BackupTest, RestoreRefusesNonEmptyOrOpenTargets) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  ASSERT_TRUE(db->put("a", "backup").ok());
  const uint64_t id = engine->create_backup(*db).value();
  ASSERT_TRUE(db->put("a", "live").ok());
  ASSERT_TRUE(db->put("b", "live").ok());
  // Into the open database itself: Busy (it holds the lock), and its data
  // is untouched.
  Status s = engine->restore(id, dir_.file("db"), /*overwrite=*/true);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  EXPECT_EQ(db->get("a").value(), "live");
  ASSERT_TRUE(db->close().ok());
  // Into a closed database without overwrite: refused, untouched.
  s = engine->restore(id, dir_.file("db"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  db = OpenDb(dir_.file("db"));
  EXPECT_EQ(db->get("b").value(), "live");
  ASSERT_TRUE(db->close().ok());
  // A directory holding some other file: refused.
  ASSERT_TRUE(Env::Default()->create_dir_if_missing(dir_.file("other")).ok());
  ASSERT_TRUE(WriteStringToFile(Env::Default(), "x", dir_.file("other/notes.txt"), true).ok());
  EXPECT_TRUE(engine->restore(id, dir_.file("other")).IsInvalidArgument());
  // With overwrite: the database is replaced by the backup exactly.
  ASSERT_TRUE(engine->restore(id, dir_.file("db"), /*overwrite=*/true).ok());
  db = OpenDb(dir_.file("db"));
  EXPECT_TRUE(test::DumpDb(db.get()) == (Model{{"a", "backup"}}));
  ASSERT_TRUE(db->close().ok());
  EXPECT_TRUE(engine->restore(id, "").IsInvalidArgument());
}

TEST_F(BackupTest, MisuseAfterCloseIsClosed) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  ASSERT_TRUE(db->put("a", "1").ok());
  const uint64_t id = engine->create_backup(*db).value();
  // A second engine on the same root: Busy.
  auto second = BackupEngine::open(root());
  EXPECT_TRUE(second.status().IsBusy()) << second.status().ToString();
  ASSERT_TRUE(engine->close().ok());
  ASSERT_TRUE(engine->close().ok());
  EXPECT_TRUE(engine->create_backup(*db).status().IsClosed());
  EXPECT_TRUE(engine->list_backups().status().IsClosed());
  EXPECT_TRUE(engine->verify_backup(id).IsClosed());
  EXPECT_TRUE(engine->delete_backup(id).IsClosed());
  EXPECT_TRUE(engine->purge_old_backups(0).IsClosed());
  EXPECT_TRUE(engine->restore(id, dir_.file("r")).IsClosed());
  // A closed database cannot be backed up.
  engine = OpenEngine();
  ASSERT_TRUE(db->close().ok());
  EXPECT_TRUE(engine->create_backup(*db).status().IsClosed());
  EXPECT_EQ(engine->list_backups().value().size(), 1u);
  // A database on another Env: InvalidArgument.
  auto mem = NewMemoryEnv();
  Options mo;
  mo.env = mem.get();
  auto mdb = Database::open("/m", mo).value();
  EXPECT_TRUE(engine->create_backup(*mdb).status().IsInvalidArgument());
  EXPECT_TRUE(BackupEngine::open("").status().IsInvalidArgument());
}

TEST_F(BackupTest, WorksOnTheMemoryEnv) {
  auto mem = NewMemoryEnv();
  options_.env = mem.get();
  auto db = Database::open("/db", options_).value();
  Model model;
  for (int i = 0; i < 3000; i++) {
    model["k" + std::to_string(i)] = std::to_string(i * 7);
    ASSERT_TRUE(db->put("k" + std::to_string(i), model["k" + std::to_string(i)]).ok());
  }
  ASSERT_TRUE(db->compact().ok());
  auto engine = BackupEngine::open("/b", mem.get()).value();
  const uint64_t id = engine->create_backup(*db).value();
  ASSERT_TRUE(engine->verify_backup(id).ok());
  ASSERT_TRUE(engine->restore(id, "/restored").ok());
  auto r = Database::open("/restored", options_).value();
  EXPECT_TRUE(test::DumpDb(r.get()) == model);
}

// Writers keep going while backups are taken; each restored backup holds
// every write acknowledged before create_backup, and for each writer a
// prefix of its writes.
TEST_F(BackupTest, ConcurrentWritersDuringBackups) {
  auto db = OpenDb(dir_.file("db"));
  auto engine = OpenEngine();
  constexpr int kWriters = 2;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> acked[kWriters];
  for (auto& a : acked) a.store(0);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      test::Random rnd(w + 11);
      for (uint64_t n = 1; !stop.load(); n++) {
        if (!db->put("w" + std::to_string(w) + "/" + std::to_string(n), rnd.random_bytes(100)).ok()) return;
        acked[w].store(n);
      }
    });
  }
  std::vector<std::pair<uint64_t, std::vector<uint64_t>>> taken;
  for (int i = 0; i < 4; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    std::vector<uint64_t> before;
    for (auto& a : acked) before.push_back(a.load());
    auto id = engine->create_backup(*db);
    ASSERT_TRUE(id.ok()) << id.status().ToString();
    taken.emplace_back(id.value(), before);
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  ASSERT_TRUE(db->close().ok());
  for (const auto& [id, before] : taken) {
    SCOPED_TRACE("backup " + std::to_string(id));
    const Model m = RestoreAndDump(engine.get(), id, "r" + std::to_string(id));
    for (int w = 0; w < kWriters; w++) {
      uint64_t count = 0;
      for (const auto& kv : m) {
        if (kv.first.compare(0, 2 + std::to_string(w).size(), "w" + std::to_string(w) + "/") == 0) count++;
      }
      EXPECT_GE(count, before[w]);
      // A prefix: keys 1..count all present.
      for (uint64_t n = 1; n <= count; n++) {
        ASSERT_TRUE(m.count("w" + std::to_string(w) + "/" + std::to_string(n))) << "gap at " << n;
      }
    }
  }
}

// ---------------------------------------------------------------- kill -9

constexpr int kRoundKeys = 300;

std::string RoundKey(int round, int i) { return "r" + std::to_string(round) + "/" + std::to_string(i); }
std::string RoundValue(int round, int i) {
  test::Random rnd(static_cast<uint64_t>(round) * 100003 + static_cast<uint64_t>(i));
  return rnd.random_bytes(64 + rnd.uniform(300));
}

struct Ack {
  int32_t round;
  uint64_t id;
};

// A forked child writes rounds of keys into a database and backs it up after
// each round, reporting (round, id) through a pipe, until it is killed at a
// random moment. Afterwards every backup listed verifies and restores to
// exactly rounds 0..r of some r; every acknowledged backup is listed; the
// debris of the interrupted one is gone.
TEST_F(BackupTest, KillNineDuringBackupLeavesOnlyCompleteBackups) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const std::string db_path = dir_.file("db");
  int next_round = 0;
  std::map<uint64_t, int> acked;  // backup id -> last round in it
  for (int iteration = 0; iteration < 6; iteration++) {
    int fds[2];
    ASSERT_EQ(0, pipe(fds));
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      auto r = Database::open(db_path, options_);
      if (!r.ok()) _exit(2);
      auto e = BackupEngine::open(root());
      if (!e.ok()) _exit(3);
      for (int round = next_round;; round++) {
        for (int i = 0; i < kRoundKeys; i++) {
          if (!r.value()->put(RoundKey(round, i), RoundValue(round, i)).ok()) _exit(4);
        }
        if (round % 4 == 3 && !r.value()->compact().ok()) _exit(5);
        auto id = e.value()->create_backup(*r.value());
        if (!id.ok()) _exit(6);
        Ack a{round, id.value()};
        if (write(fds[1], &a, sizeof(a)) != static_cast<ssize_t>(sizeof(a))) _exit(7);
      }
    }
    close(fds[1]);
    // Let it make a few backups, then kill it in the middle of something.
    const int wait_for = 1 + static_cast<int>(rnd.uniform(3));
    Ack a;
    int got = 0;
    while (got < wait_for && read(fds[0], &a, sizeof(a)) == static_cast<ssize_t>(sizeof(a))) {
      acked[a.id] = a.round;
      next_round = std::max(next_round, a.round + 1);
      got++;
    }
    usleep(static_cast<useconds_t>(rnd.uniform(40000)));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(pid, waitpid(pid, &status, 0));
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited with " << WEXITSTATUS(status);
    while (read(fds[0], &a, sizeof(a)) == static_cast<ssize_t>(sizeof(a))) {
      acked[a.id] = a.round;
      next_round = std::max(next_round, a.round + 1);
    }
    close(fds[0]);
    // The database may hold rounds past the last acknowledged backup, the
    // last of them perhaps cut short (its keys are written in order, so a
    // round is whole iff its last key is there); the next child rewrites
    // the first round that is not whole.
    {
      auto db = OpenDb(db_path);
      ASSERT_NE(db, nullptr);
      while (db->get(RoundKey(next_round, kRoundKeys - 1)).ok()) next_round++;
      ASSERT_TRUE(db->close().ok());
    }
  }
  auto engine = OpenEngine();
  ASSERT_NE(engine, nullptr);
  // No debris: no temporary files, no private directory without metadata.
  for (const auto& sub : {"/meta", "/shared"}) {
    for (const auto& name : Children(Env::Default(), root() + sub)) {
      EXPECT_EQ(name.find(".tmp"), std::string::npos) << sub << "/" << name;
    }
  }
  auto list = engine->list_backups().value();
  std::set<uint64_t> listed;
  for (const auto& info : list) listed.insert(info.id);
  EXPECT_EQ(Children(Env::Default(), root() + "/private").size(), listed.size());
  for (const auto& [id, round] : acked) EXPECT_TRUE(listed.count(id)) << "acknowledged backup " << id << " lost";
  ASSERT_FALSE(list.empty());
  for (const auto& info : list) {
    SCOPED_TRACE("backup " + std::to_string(info.id));
    ASSERT_TRUE(engine->verify_backup(info.id).ok());
    const Model m = RestoreAndDump(engine.get(), info.id, "k" + std::to_string(info.id));
    // Exactly rounds 0..r, each whole.
    int rounds = 0;
    while (m.count(RoundKey(rounds, 0))) rounds++;
    if (acked.count(info.id)) {
      EXPECT_EQ(rounds, acked[info.id] + 1);
    }
    EXPECT_EQ(m.size(), static_cast<size_t>(rounds) * kRoundKeys);
    for (int r = 0; r < rounds; r++) {
      for (int i = 0; i < kRoundKeys; i++) {
        auto it = m.find(RoundKey(r, i));
        ASSERT_NE(it, m.end()) << RoundKey(r, i);
        ASSERT_EQ(it->second, RoundValue(r, i)) << RoundKey(r, i);
      }
    }
  }
}

}  // namespace
}  // namespace lightning
