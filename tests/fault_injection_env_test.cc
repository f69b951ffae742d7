// Copyright (c) Lightning authors. MIT License.
//
// FaultInjectionEnv over both the POSIX Env (in a TempDir) and the memory Env.
#include "env/fault_injection_env.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "lightning/env.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using OpKind = FaultInjectionEnv::OpKind;

::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}
#define ASSERT_OK(expr) ASSERT_TRUE(IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(IsOk(expr))

enum class TargetKind { kPosix, kMemory };

class FaultInjectionEnvTest : public ::testing::TestWithParam<TargetKind> {
 protected:
  void SetUp() override {
    if (GetParam() == TargetKind::kPosix) {
      tmp_ = std::make_unique<test::TempDir>("fault_env_test");
      base_ = Env::Default();
      dir_ = tmp_->path();
    } else {
      mem_ = NewMemoryEnv();
      base_ = mem_.get();
      dir_ = "/fi";
      ASSERT_OK(base_->create_dir_if_missing(dir_));
    }
    env_ = std::make_unique<FaultInjectionEnv>(base_);
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  // Reads through the target, i.e. what is "on disk" right now.
  std::string contents(const std::string& name) {
    std::string data;
    Status s = ReadFileToString(base_, path(name), &data);
    EXPECT_OK(s);
    return data;
  }
  bool exists(const std::string& name) { return base_->file_exists(path(name)); }

  // Creates name with data, synced, and its directory entry synced.
  void write_durable(const std::string& name, const std::string& data) {
    ASSERT_OK(WriteStringToFile(env_.get(), data, path(name), /*sync=*/true));
    ASSERT_OK(env_->sync_dir(dir_));
  }

  std::unique_ptr<test::TempDir> tmp_;
  std::unique_ptr<Env> mem_;
  Env* base_ = nullptr;
  std::string dir_;
  std::unique_ptr<FaultInjectionEnv> env_;
};

TEST_P(FaultInjectionEnvTest, DropUnsyncedDataTruncatesToSyncedPrefix) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("log"), &file));
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(file->append("abc"));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->append("def"));
  ASSERT_OK(file->flush());  // reached the OS, not the disk
  ASSERT_OK(file->append("ghi"));  // still in the process
  EXPECT_EQ(contents("log"), "abcdef");

  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("log"), "abc");

  // The old handle died with the "process": it fails and writes nothing,
  // not even on destruction.
  EXPECT_TRUE(file->append("x").IsIOError());
  EXPECT_TRUE(file->sync().IsIOError());
  file.reset();
  EXPECT_EQ(contents("log"), "abc");

  // A reopened file keeps its synced prefix and loses the rest again.
  ASSERT_OK(env_->new_appendable_file(path("log"), &file));
  ASSERT_OK(file->append("123"));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->append("456"));
  ASSERT_OK(file->close());
  EXPECT_EQ(contents("log"), "abc123456");
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("log"), "abc123");
}

TEST_P(FaultInjectionEnvTest, FilesNotWrittenThroughTheEnvAreDurable) {
  ASSERT_OK(WriteStringToFile(base_, "preexisting", path("old"), false));
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_appendable_file(path("old"), &file));
  ASSERT_OK(file->append("+more"));
  ASSERT_OK(file->close());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("old"), "preexisting");
}

TEST_P(FaultInjectionEnvTest, NewFilesVanishUnlessTheirDirectoryWasSynced) {
  write_durable("kept", "k");
  // Synced data, but the directory entry never was.
  ASSERT_OK(WriteStringToFile(env_.get(), "lost", path("lost"), /*sync=*/true));
  ASSERT_OK(WriteStringToFile(env_.get(), "lost too", path("lost2"), /*sync=*/false));
  EXPECT_TRUE(exists("lost"));

  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(exists("kept"));
  EXPECT_EQ(contents("kept"), "k");
  EXPECT_FALSE(exists("lost"));
  EXPECT_FALSE(exists("lost2"));

  // sync_dir of another directory does not help.
  ASSERT_OK(env_->create_dir_if_missing(path("sub")));
  ASSERT_OK(WriteStringToFile(env_.get(), "x", path("y"), true));
  ASSERT_OK(env_->sync_dir(path("sub")));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_FALSE(exists("y"));
}

TEST_P(FaultInjectionEnvTest, UnsyncedRenameIsUndone) {
  write_durable("CURRENT", "old");
  // The classic "write temp, sync, rename over" -- without the final sync_dir.
  ASSERT_OK(WriteStringToFile(env_.get(), "new", path("CURRENT.tmp"), /*sync=*/true));
  ASSERT_OK(env_->rename_file(path("CURRENT.tmp"), path("CURRENT")));
  EXPECT_EQ(contents("CURRENT"), "new");
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("CURRENT"), "old");
  EXPECT_FALSE(exists("CURRENT.tmp"));  // its creation was not durable either

  // With the temp file's entry durable, the rename alone is undone.
  write_durable("CURRENT.tmp", "new");
  ASSERT_OK(env_->rename_file(path("CURRENT.tmp"), path("CURRENT")));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("CURRENT"), "old");
  EXPECT_EQ(contents("CURRENT.tmp"), "new");

  // With sync_dir, the rename survives.
  ASSERT_OK(env_->rename_file(path("CURRENT.tmp"), path("CURRENT")));
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("CURRENT"), "new");
  EXPECT_FALSE(exists("CURRENT.tmp"));
}

TEST_P(FaultInjectionEnvTest, UnsyncedRenameToFreshNameIsUndone) {
  write_durable("a", "data");
  ASSERT_OK(env_->rename_file(path("a"), path("b")));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("a"), "data");
  EXPECT_FALSE(exists("b"));
}

TEST_P(FaultInjectionEnvTest, RenameRestoresOnlyDurablePartOfOldTarget) {
  // The old target had an unsynced tail when it was replaced.
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("t"), &file));
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(file->append("durable"));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->append("+tail"));
  ASSERT_OK(file->close());
  write_durable("s", "source");
  ASSERT_OK(env_->rename_file(path("s"), path("t")));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("t"), "durable");
  EXPECT_EQ(contents("s"), "source");
}

TEST_P(FaultInjectionEnvTest, InactiveFilesystemFailsWritesAndWritesNothing) {
  write_durable("f", "base");
  write_durable("g", "gg");
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_appendable_file(path("f"), &file));
  ASSERT_OK(file->append("+flushed"));
  ASSERT_OK(file->flush());
  ASSERT_OK(file->append("+buffered"));

  env_->set_filesystem_active(false);
  EXPECT_FALSE(env_->filesystem_active());
  auto expect_crashed = [](const Status& s) {
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_NE(s.ToString().find("filesystem inactive (simulated crash)"), std::string::npos) << s.ToString();
  };
  expect_crashed(file->append("+more"));
  expect_crashed(file->flush());
  expect_crashed(file->sync());
  expect_crashed(file->close());
  file.reset();  // must not flush "+buffered"

  std::unique_ptr<WritableFile> other;
  expect_crashed(env_->new_writable_file(path("new"), &other));
  expect_crashed(env_->new_appendable_file(path("new"), &other));
  expect_crashed(env_->new_writable_file(path("g"), &other));  // would truncate
  expect_crashed(env_->rename_file(path("f"), path("g")));
  expect_crashed(env_->remove_file(path("g")));
  expect_crashed(env_->truncate_file(path("g"), 0));
  expect_crashed(env_->create_dir_if_missing(path("d")));
  expect_crashed(env_->sync_dir(dir_));
  expect_crashed(WriteStringToFile(env_.get(), "x", path("h"), true));

  EXPECT_EQ(contents("f"), "base+flushed");
  EXPECT_EQ(contents("g"), "gg");
  EXPECT_FALSE(exists("new"));
  EXPECT_FALSE(exists("d"));
  EXPECT_FALSE(exists("h"));

  // Reads and locks still work.
  std::string data;
  ASSERT_OK(ReadFileToString(env_.get(), path("g"), &data));
  EXPECT_EQ(data, "gg");
  std::unique_ptr<FileLock> lock;
  ASSERT_OK(env_->lock_file(path("LOCK"), &lock));
  ASSERT_OK(env_->unlock_file(std::move(lock)));

  // The typical sequel: power cut, restart.
  ASSERT_OK(env_->drop_unsynced_data());
  env_->set_filesystem_active(true);
  EXPECT_EQ(contents("f"), "base");
  ASSERT_OK(WriteStringToFile(env_.get(), "x", path("h"), true));
  EXPECT_EQ(contents("h"), "x");
}

// ---- fail_nth_call, per kind ----

TEST_P(FaultInjectionEnvTest, FailNthAppend) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  env_->fail_nth_call(OpKind::kAppend, 2);
  EXPECT_OK(file->append("a"));
  Status s = file->append("b");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("injected fault (append)"), std::string::npos) << s.ToString();
  EXPECT_OK(file->append("c"));
  ASSERT_OK(file->close());
  EXPECT_EQ(contents("f"), "ac");
  EXPECT_EQ(env_->injected_error_count(), 1u);
}

TEST_P(FaultInjectionEnvTest, FailNthFlush) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  env_->fail_nth_call(OpKind::kFlush, 2);
  ASSERT_OK(file->append("a"));
  EXPECT_OK(file->flush());
  ASSERT_OK(file->append("b"));
  EXPECT_TRUE(file->flush().IsIOError());
  EXPECT_EQ(contents("f"), "a");  // the failed flush wrote nothing
  EXPECT_OK(file->flush());
  EXPECT_EQ(contents("f"), "ab");
  ASSERT_OK(file->close());
}

TEST_P(FaultInjectionEnvTest, FailNthSync) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  ASSERT_OK(env_->sync_dir(dir_));
  env_->fail_nth_call(OpKind::kSync, 2);
  ASSERT_OK(file->append("a"));
  EXPECT_OK(file->sync());
  ASSERT_OK(file->append("b"));
  EXPECT_TRUE(file->sync().IsIOError());
  ASSERT_OK(file->close());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("f"), "a");  // "b" was never made durable
}

TEST_P(FaultInjectionEnvTest, FailNthRename) {
  for (const char* name : {"a", "b", "c"}) write_durable(name, name);
  env_->fail_nth_call(OpKind::kRename, 2);
  EXPECT_OK(env_->rename_file(path("a"), path("a2")));
  EXPECT_TRUE(env_->rename_file(path("b"), path("b2")).IsIOError());
  EXPECT_OK(env_->rename_file(path("c"), path("c2")));
  EXPECT_TRUE(exists("a2"));
  EXPECT_TRUE(exists("b"));
  EXPECT_FALSE(exists("b2"));
  EXPECT_TRUE(exists("c2"));
}

TEST_P(FaultInjectionEnvTest, FailNthRemove) {
  for (const char* name : {"a", "b", "c"}) write_durable(name, name);
  env_->fail_nth_call(OpKind::kRemove, 2);
  EXPECT_OK(env_->remove_file(path("a")));
  EXPECT_TRUE(env_->remove_file(path("b")).IsIOError());
  EXPECT_OK(env_->remove_file(path("c")));
  EXPECT_FALSE(exists("a"));
  EXPECT_TRUE(exists("b"));
  EXPECT_FALSE(exists("c"));
}

TEST_P(FaultInjectionEnvTest, FailNthTruncate) {
  write_durable("f", "0123456789");
  env_->fail_nth_call(OpKind::kTruncate, 2);
  EXPECT_OK(env_->truncate_file(path("f"), 8));
  EXPECT_TRUE(env_->truncate_file(path("f"), 4).IsIOError());
  EXPECT_EQ(contents("f"), "01234567");
  EXPECT_OK(env_->truncate_file(path("f"), 6));
  EXPECT_EQ(contents("f"), "012345");
}

TEST_P(FaultInjectionEnvTest, FailNthCreateFile) {
  std::unique_ptr<WritableFile> file;
  env_->fail_nth_call(OpKind::kCreateFile, 2);
  EXPECT_OK(env_->new_writable_file(path("a"), &file));
  EXPECT_TRUE(env_->new_appendable_file(path("b"), &file).IsIOError());
  EXPECT_OK(env_->new_writable_file(path("c"), &file));
  file.reset();
  EXPECT_TRUE(exists("a"));
  EXPECT_FALSE(exists("b"));
  EXPECT_TRUE(exists("c"));
}

TEST_P(FaultInjectionEnvTest, FailNthSyncDir) {
  env_->fail_nth_call(OpKind::kSyncDir, 2);
  ASSERT_OK(WriteStringToFile(env_.get(), "a", path("a"), true));
  EXPECT_OK(env_->sync_dir(dir_));
  ASSERT_OK(WriteStringToFile(env_.get(), "b", path("b"), true));
  EXPECT_TRUE(env_->sync_dir(dir_).IsIOError());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(exists("a"));
  EXPECT_FALSE(exists("b"));  // the failed sync_dir made nothing durable
}

TEST_P(FaultInjectionEnvTest, FailNthAnyCall) {
  std::unique_ptr<WritableFile> file;
  env_->fail_nth_call(OpKind::kAny, 3);
  EXPECT_OK(env_->new_writable_file(path("f"), &file));  // 1: create
  EXPECT_OK(file->append("a"));                         // 2: append
  EXPECT_TRUE(file->sync().IsIOError());                // 3: sync
  EXPECT_OK(file->sync());                              // one-shot
  EXPECT_OK(file->close());
  EXPECT_EQ(env_->injected_error_count(), 1u);
}

TEST_P(FaultInjectionEnvTest, FailNthCallCanCrashTheFilesystem) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  env_->fail_nth_call(OpKind::kAppend, 2, /*deactivate_filesystem=*/true);
  EXPECT_OK(file->append("a"));
  EXPECT_TRUE(file->append("b").IsIOError());
  EXPECT_FALSE(env_->filesystem_active());
  EXPECT_TRUE(file->flush().IsIOError());
  EXPECT_TRUE(env_->sync_dir(dir_).IsIOError());
  file.reset();
  EXPECT_EQ(contents("f"), "");
}

TEST_P(FaultInjectionEnvTest, ClearErrorInjection) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  env_->fail_nth_call(OpKind::kAppend, 1);
  env_->set_error_probability(OpKind::kAny, 1.0, 7);
  env_->clear_error_injection();
  EXPECT_OK(file->append("a"));
  EXPECT_OK(file->close());
  EXPECT_EQ(env_->injected_error_count(), 0u);
}

TEST_P(FaultInjectionEnvTest, ErrorProbability) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));

  env_->set_error_probability(OpKind::kAppend, 1.0, 1);
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(file->append("x").IsIOError());
  EXPECT_OK(file->flush());  // other kinds are unaffected

  // p = 0.5: some fail, some succeed, and the same seed replays exactly.
  auto outcomes = [&](uint64_t seed) {
    env_->set_error_probability(OpKind::kAppend, 0.5, seed);
    std::string pattern;
    for (int i = 0; i < 200; ++i) pattern += file->append("y").ok() ? '1' : '0';
    return pattern;
  };
  const std::string first = outcomes(42);
  EXPECT_EQ(outcomes(42), first);
  const auto failures = std::count(first.begin(), first.end(), '0');
  EXPECT_GT(failures, 50);
  EXPECT_LT(failures, 150);

  env_->set_error_probability(OpKind::kAppend, 0.0, 0);
  EXPECT_OK(file->append("z"));
  ASSERT_OK(file->close());
}

TEST_P(FaultInjectionEnvTest, Counters) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  ASSERT_OK(file->append("a"));
  ASSERT_OK(file->append("b"));
  ASSERT_OK(file->flush());
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());  // counts as a flush
  ASSERT_OK(env_->rename_file(path("f"), path("g")));
  ASSERT_OK(env_->truncate_file(path("g"), 1));
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(env_->create_dir_if_missing(path("d")));
  ASSERT_OK(env_->remove_dir(path("d")));
  ASSERT_OK(env_->remove_file(path("g")));
  // Reads are not counted.
  EXPECT_FALSE(env_->file_exists(path("g")));

  EXPECT_EQ(env_->call_count(OpKind::kCreateFile), 2u);
  EXPECT_EQ(env_->call_count(OpKind::kAppend), 2u);
  EXPECT_EQ(env_->call_count(OpKind::kFlush), 2u);
  EXPECT_EQ(env_->call_count(OpKind::kSync), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kRename), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kTruncate), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kSyncDir), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kRemove), 2u);
  EXPECT_EQ(env_->call_count(OpKind::kAny), 12u);

  // Refused calls are counted too.
  env_->set_filesystem_active(false);
  EXPECT_FALSE(env_->sync_dir(dir_).ok());
  EXPECT_EQ(env_->call_count(OpKind::kSyncDir), 2u);
  env_->set_filesystem_active(true);

  env_->reset_counters();
  for (int k = 0; k < FaultInjectionEnv::kNumOpKinds; ++k) {
    EXPECT_EQ(env_->call_count(static_cast<OpKind>(k)), 0u) << FaultInjectionEnv::op_kind_name(static_cast<OpKind>(k));
  }
}

// The pattern the crash tests of later components follow: count the steps of
// an operation, then crash at each step in turn and check that recovery sees
// either the old or the new state, never a mix.
TEST_P(FaultInjectionEnvTest, CrashAtEveryStepOfAnAtomicReplace) {
  const std::string old_value = "old value";
  const std::string new_value(100000, 'n');  // > one write buffer
  auto replace = [&]() -> Status {
    std::unique_ptr<WritableFile> file;
    Status s = env_->new_writable_file(path("CURRENT.tmp"), &file);
    if (!s.ok()) return s;
    for (size_t off = 0; off < new_value.size() && s.ok(); off += 30000) {
      s = file->append(Slice(new_value.data() + off, std::min<size_t>(30000, new_value.size() - off)));
    }
    if (s.ok()) s = file->sync();
    if (s.ok()) s = file->close();
    if (s.ok()) s = env_->rename_file(path("CURRENT.tmp"), path("CURRENT"));
    if (s.ok()) s = env_->sync_dir(dir_);
    return s;
  };

  write_durable("CURRENT", old_value);
  env_->reset_counters();
  ASSERT_OK(replace());
  const uint64_t steps = env_->call_count(OpKind::kAny);
  ASSERT_EQ(steps, 9u);  // create, 4 appends, sync, close, rename, sync_dir

  for (uint64_t i = 1; i <= steps; ++i) {
    SCOPED_TRACE("crash at step " + std::to_string(i));
    (void)base_->remove_file(path("CURRENT.tmp"));
    write_durable("CURRENT", old_value);
    env_->fail_nth_call(OpKind::kAny, i, /*deactivate_filesystem=*/true);
    EXPECT_FALSE(replace().ok());
    ASSERT_OK(env_->drop_unsynced_data());
    env_->set_filesystem_active(true);
    // Even a crash at the very last step (sync_dir) loses the rename.
    EXPECT_EQ(contents("CURRENT"), old_value);
  }
  // And with no crash at all, the new value is durable.
  ASSERT_OK(replace());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("CURRENT") == new_value);
}

TEST_P(FaultInjectionEnvTest, DropRandomUnsyncedDataKeepsAPrefix) {
  const std::string synced = "synced-part|";
  test::Random data_rnd(5);
  const std::string unsynced = data_rnd.random_bytes(5000);
  std::vector<size_t> sizes;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    std::unique_ptr<WritableFile> file;
    ASSERT_OK(env_->new_writable_file(path("f"), &file));
    ASSERT_OK(env_->sync_dir(dir_));
    ASSERT_OK(file->append(synced));
    ASSERT_OK(file->sync());
    ASSERT_OK(file->append(unsynced));
    ASSERT_OK(file->close());
    ASSERT_OK(env_->drop_random_unsynced_data(seed));
    const std::string got = contents("f");
    ASSERT_GE(got.size(), synced.size());
    ASSERT_LE(got.size(), synced.size() + unsynced.size());
    EXPECT_TRUE(got == (synced + unsynced).substr(0, got.size()));
    sizes.push_back(got.size());
  }
  std::sort(sizes.begin(), sizes.end());
  EXPECT_GT(std::unique(sizes.begin(), sizes.end()) - sizes.begin(), 5);  // actually random
}

TEST_P(FaultInjectionEnvTest, DropRandomUnsyncedDataIsDeterministic) {
  auto run = [&](uint64_t seed) {
    std::string result;
    for (const char* name : {"a", "b", "c", "d"}) {
      std::unique_ptr<WritableFile> file;
      EXPECT_OK(env_->new_writable_file(path(name), &file));
      EXPECT_OK(file->append(std::string(1000, *name)));
      EXPECT_OK(file->close());
    }
    EXPECT_OK(env_->drop_random_unsynced_data(seed));
    for (const char* name : {"a", "b", "c", "d"}) {
      result += exists(name) ? std::to_string(contents(name).size()) : std::string("-");
      result += ",";
      (void)base_->remove_file(path(name));
    }
    return result;
  };
  const std::string first = run(99);
  EXPECT_EQ(run(99), first);
}

TEST_P(FaultInjectionEnvTest, MarkAllDurable) {
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(path("f"), &file));
  ASSERT_OK(file->append("abc"));
  ASSERT_OK(file->close());
  env_->mark_all_durable();
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_EQ(contents("f"), "abc");
}

// Several writer threads while another thread inspects and injects; TSan
// checks the locking.
TEST_P(FaultInjectionEnvTest, ConcurrentUse) {
  constexpr int kThreads = 4;
  constexpr int kRecords = 200;
  std::atomic<bool> done{false};
  std::thread observer([&] {
    while (!done.load()) {
      (void)env_->call_count(OpKind::kAny);
      (void)env_->filesystem_active();
      env_->set_error_probability(OpKind::kSyncDir, 0.0, 1);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> writers;
  std::atomic<int> errors{0};
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      std::unique_ptr<WritableFile> file;
      if (!env_->new_writable_file(path("w" + std::to_string(t)), &file).ok()) {
        ++errors;
        return;
      }
      for (int i = 0; i < kRecords; ++i) {
        if (!file->append("record" + std::to_string(i) + "\n").ok()) ++errors;
        if (i % 10 == 9 && !file->sync().ok()) ++errors;
      }
      if (!file->close().ok()) ++errors;
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  observer.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(env_->call_count(OpKind::kAppend), uint64_t{kThreads * kRecords});
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(env_->drop_unsynced_data());
  for (int t = 0; t < kThreads; ++t) {
    std::string expected;
    for (int i = 0; i < kRecords; ++i) expected += "record" + std::to_string(i) + "\n";
    EXPECT_EQ(contents("w" + std::to_string(t)), expected);  // the last record was synced
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, FaultInjectionEnvTest, ::testing::Values(TargetKind::kPosix, TargetKind::kMemory),
                         [](const ::testing::TestParamInfo<TargetKind>& param_info) {
                           return param_info.param == TargetKind::kPosix ? std::string("Posix")
                                                                         : std::string("Memory");
                         });

}  // namespace
}  // namespace lightning
