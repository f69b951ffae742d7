// Copyright (c) Lightning authors. MIT License.
//
// FaultInjectionEnv over both the POSIX Env (in a TempDir) and the memory Env.
#include "env/fault_injection_env.h"

#include <algorithm>
#include <atomic>
#include <initializer_list>
#include <memory>
#include <string>
#include <thread>
#include <utility>
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

// ---- RandomRWFile ----

constexpr size_t kPage = 4096;
constexpr size_t kSector = 512;

// A page whose every 512-byte sector differs from every other page's and
// version's, so a sector's content says which write it came from.
std::string PageData(uint64_t page, int version) {
  test::Random rnd(page * 1000 + static_cast<uint64_t>(version) + 1);
  return rnd.random_bytes(kPage);
}

class FaultInjectionRWTest : public FaultInjectionEnvTest {
 protected:
  // Creates name (directory entry synced) with `count` pages of version 0,
  // synced, and returns an open handle.
  std::unique_ptr<RandomRWFile> durable_pages(const std::string& name, int count) {
    std::unique_ptr<RandomRWFile> file;
    EXPECT_OK(env_->new_random_rw_file(path(name), &file));
    EXPECT_OK(env_->sync_dir(dir_));
    for (int p = 0; p < count; ++p) EXPECT_OK(file->write(p * kPage, PageData(p, 0)));
    EXPECT_OK(file->sync());
    return file;
  }

  static std::string pages(std::initializer_list<std::pair<uint64_t, int>> list) {
    std::string out;
    for (const auto& [page, version] : list) out += PageData(page, version);
    return out;
  }
};

TEST_P(FaultInjectionRWTest, DropUnsyncedRevertsOverwritesAndExtensions) {
  std::unique_ptr<RandomRWFile> file = durable_pages("pages", 3);
  ASSERT_OK(file->write(1 * kPage, PageData(1, 1)));               // in place
  ASSERT_OK(file->write(0 * kPage + 100, "a small overwrite"));       // part of a sector
  ASSERT_OK(file->write(1 * kPage + 10, PageData(9, 9).substr(0, 700)));  // overwrites the overwrite
  ASSERT_OK(file->write(3 * kPage, PageData(3, 1)));               // extends
  ASSERT_OK(file->write(6 * kPage, PageData(6, 1)));               // extends past a hole
  uint64_t size = 0;
  ASSERT_OK(base_->get_file_size(path("pages"), &size));
  EXPECT_EQ(size, 7 * kPage);

  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("pages") == pages({{0, 0}, {1, 0}, {2, 0}}));

  // The old handle died with the "process".
  EXPECT_TRUE(file->write(0, "x").IsIOError());
  EXPECT_TRUE(file->sync().IsIOError());
  file.reset();
  EXPECT_TRUE(contents("pages") == pages({{0, 0}, {1, 0}, {2, 0}}));

  // A reopened file is tracked again from its durable state.
  ASSERT_OK(env_->new_random_rw_file(path("pages"), &file));
  ASSERT_OK(file->write(2 * kPage, PageData(2, 2)));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->write(0, PageData(0, 2)));
  ASSERT_OK(file->close());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("pages") == pages({{0, 0}, {1, 0}, {2, 2}}));
}

TEST_P(FaultInjectionRWTest, SyncedWritesSurvive) {
  std::unique_ptr<RandomRWFile> file = durable_pages("pages", 2);
  ASSERT_OK(file->write(0, PageData(0, 1)));
  ASSERT_OK(file->write(2 * kPage, PageData(2, 1)));
  ASSERT_OK(file->sync());
  // A sync through one handle makes the writes of every handle durable
  // (durability is per file), and a second handle on a tracked file keeps
  // the file's log.
  std::unique_ptr<RandomRWFile> other;
  ASSERT_OK(env_->new_random_rw_file(path("pages"), &other));
  ASSERT_OK(file->write(1 * kPage, PageData(1, 1)));
  ASSERT_OK(other->write(3 * kPage, PageData(3, 1)));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("pages") == pages({{0, 1}, {1, 0}, {2, 1}}));

  ASSERT_OK(env_->new_random_rw_file(path("pages"), &file));
  ASSERT_OK(env_->new_random_rw_file(path("pages"), &other));
  ASSERT_OK(file->write(1 * kPage, PageData(1, 2)));
  ASSERT_OK(other->sync());
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("pages") == pages({{0, 1}, {1, 2}, {2, 1}}));
}

TEST_P(FaultInjectionRWTest, NewFileVanishesUnlessItsDirectoryWasSynced) {
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(path("new"), &file));
  ASSERT_OK(file->write(0, "data"));
  ASSERT_OK(file->sync());
  file.reset();
  EXPECT_TRUE(exists("new"));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_FALSE(exists("new"));
}

// For each of 8 page-sized (8-sector) overwrites and one extending page,
// every sector must afterwards hold either the old or the new content; the
// write then survived whole, was reverted whole, or was torn.
TEST_P(FaultInjectionRWTest, DropRandomUnsyncedDataTearsWritesAtSectors) {
  constexpr int kPages = 8;
  int survived = 0;
  int reverted = 0;
  int torn = 0;
  std::vector<std::string> results;
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    const std::string name = "torn" + std::to_string(seed);
    std::unique_ptr<RandomRWFile> file = durable_pages(name, kPages);
    for (int p = 0; p < kPages; ++p) ASSERT_OK(file->write(p * kPage, PageData(p, 1)));
    ASSERT_OK(file->write(kPages * kPage, PageData(kPages, 1)));  // extends
    file.reset();
    ASSERT_OK(env_->drop_random_unsynced_data(seed));

    const std::string got = contents(name);
    ASSERT_GE(got.size(), kPages * kPage);
    ASSERT_LE(got.size(), (kPages + 1) * kPage);
    ASSERT_EQ(got.size() % kSector, 0u);  // the extension survives in whole sectors
    for (int p = 0; p <= kPages; ++p) {
      const std::string old_page = p < kPages ? PageData(p, 0) : std::string(kPage, '\0');
      const std::string new_page = PageData(p, 1);
      int old_sectors = 0;
      int new_sectors = 0;
      for (size_t sec = 0; sec < kPage / kSector; ++sec) {
        const size_t at = p * kPage + sec * kSector;
        if (at >= got.size()) {
          ++old_sectors;  // cut off: the extension's sector did not survive
          continue;
        }
        const std::string actual = got.substr(at, kSector);
        if (actual == new_page.substr(sec * kSector, kSector)) {
          ++new_sectors;
        } else {
          ASSERT_TRUE(actual == old_page.substr(sec * kSector, kSector)) << "page " << p << " sector " << sec;
          ++old_sectors;
        }
      }
      if (old_sectors == 0) ++survived;
      if (new_sectors == 0) ++reverted;
      if (old_sectors > 0 && new_sectors > 0) ++torn;
    }
    results.push_back(got);
    // The same seed and the same history give the same result.
    if (seed == 1) {
      std::unique_ptr<RandomRWFile> again = durable_pages("again", kPages);
      for (int p = 0; p < kPages; ++p) ASSERT_OK(again->write(p * kPage, PageData(p, 1)));
      ASSERT_OK(again->write(kPages * kPage, PageData(kPages, 1)));
      again.reset();
      // Only "again" has unsynced writes now, as name had before.
      ASSERT_OK(env_->drop_random_unsynced_data(seed));
      EXPECT_TRUE(contents("again") == got);
    }
  }
  EXPECT_GT(survived, 0);
  EXPECT_GT(reverted, 0);
  EXPECT_GT(torn, 0);
  std::sort(results.begin(), results.end());
  EXPECT_GT(std::unique(results.begin(), results.end()) - results.begin(), 20);  // actually random
}

// Overlapping unsynced writes: every sector ends up as one of its versions
// (synced, first write, second write), never anything else.
TEST_P(FaultInjectionRWTest, DropRandomUnsyncedDataWithOverlappingWrites) {
  bool saw[3] = {false, false, false};
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    const std::string name = "overlap" + std::to_string(seed);
    std::unique_ptr<RandomRWFile> file = durable_pages(name, 2);
    const std::string v0 = pages({{0, 0}, {1, 0}});
    const std::string v1 = pages({{0, 1}, {1, 1}});
    const std::string v2 = PageData(7, 2);  // one page at offset 2048
    ASSERT_OK(file->write(0, v1));
    ASSERT_OK(file->write(2048, v2));
    file.reset();
    ASSERT_OK(env_->drop_random_unsynced_data(seed));
    const std::string got = contents(name);
    ASSERT_EQ(got.size(), 2 * kPage);
    for (size_t at = 0; at < got.size(); at += kSector) {
      const std::string actual = got.substr(at, kSector);
      int version = -1;
      if (at >= 2048 && at < 2048 + kPage && actual == v2.substr(at - 2048, kSector)) {
        version = 2;
      } else if (actual == v1.substr(at, kSector)) {
        version = 1;
      } else if (actual == v0.substr(at, kSector)) {
        version = 0;
      }
      ASSERT_NE(version, -1) << "sector at " << at;
      saw[version] = true;
    }
  }
  EXPECT_TRUE(saw[0] && saw[1] && saw[2]);
}

TEST_P(FaultInjectionRWTest, TruncateForgetsLoggedBytesPastTheNewEnd) {
  std::unique_ptr<RandomRWFile> file = durable_pages("t", 4);
  ASSERT_OK(file->write(3 * kPage, PageData(3, 1)));
  ASSERT_OK(env_->truncate_file(path("t"), 2 * kPage));  // shrinking is durable
  ASSERT_OK(file->write(3 * kPage, PageData(3, 2)));     // regrows past a hole
  file.reset();
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("t") == pages({{0, 0}, {1, 0}}));

  for (uint64_t seed = 1; seed <= 30; ++seed) {
    SCOPED_TRACE("seed=" + std::to_string(seed));
    ASSERT_OK(env_->new_random_rw_file(path("t"), &file));
    ASSERT_OK(file->write(2 * kPage, PageData(2, 0)));  // pages 2 and 3 durable again
    ASSERT_OK(file->write(3 * kPage, PageData(3, 0)));
    ASSERT_OK(file->sync());
    ASSERT_OK(file->write(3 * kPage, PageData(3, 1)));  // logs page 3 version 0
    ASSERT_OK(env_->truncate_file(path("t"), 2 * kPage));
    ASSERT_OK(file->write(3 * kPage, PageData(3, 2)));
    file.reset();
    ASSERT_OK(env_->drop_random_unsynced_data(seed));
    // Past the first two pages: zeros, or sectors of the last write; never
    // the truncated page 3 (versions 0 and 1) brought back by a revert.
    const std::string got = contents("t");
    ASSERT_GE(got.size(), 2 * kPage);
    ASSERT_LE(got.size(), 4 * kPage);
    EXPECT_TRUE(got.substr(0, 2 * kPage) == pages({{0, 0}, {1, 0}}));
    for (size_t at = 2 * kPage; at < got.size(); at += kSector) {
      const std::string actual = got.substr(at, kSector);
      EXPECT_TRUE(actual == std::string(kSector, '\0') ||
                  (at >= 3 * kPage && actual == PageData(3, 2).substr(at - 3 * kPage, kSector)))
          << "sector at " << at;
    }
  }
}

TEST_P(FaultInjectionRWTest, RenameAndRemoveKeepTrackOfRWFiles) {
  // Renamed: the log follows the file.
  std::unique_ptr<RandomRWFile> file = durable_pages("a", 2);
  ASSERT_OK(file->write(0, PageData(0, 1)));
  ASSERT_OK(env_->rename_file(path("a"), path("b")));
  ASSERT_OK(env_->sync_dir(dir_));
  ASSERT_OK(file->write(kPage, PageData(1, 1)));  // the handle follows too
  file.reset();
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_FALSE(exists("a"));
  EXPECT_TRUE(contents("b") == pages({{0, 0}, {1, 0}}));

  // Replaced by an unsynced rename: the old target comes back with its
  // durable content, i.e. with its unsynced in-place writes undone.
  file = durable_pages("t", 2);
  ASSERT_OK(file->write(0, PageData(0, 1)));
  file.reset();
  write_durable("s", "source");
  ASSERT_OK(env_->rename_file(path("s"), path("t")));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("t") == pages({{0, 0}, {1, 0}}));
  EXPECT_EQ(contents("s"), "source");

  // Removed: its state goes with it, so a new file of the same name
  // (created behind the Env's back, hence durable) is left alone.
  file = durable_pages("r", 2);
  ASSERT_OK(file->write(0, PageData(0, 1)));
  file.reset();
  ASSERT_OK(env_->remove_file(path("r")));
  const std::string replacement(3 * kPage, 'z');
  ASSERT_OK(WriteStringToFile(base_, replacement, path("r"), /*sync=*/true));
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("r") == replacement);
}

TEST_P(FaultInjectionRWTest, MarkAllDurableClearsTheUndoLogs) {
  std::unique_ptr<RandomRWFile> file = durable_pages("f", 1);
  ASSERT_OK(file->write(0, PageData(0, 1)));
  ASSERT_OK(file->write(kPage, PageData(1, 1)));
  env_->mark_all_durable();
  ASSERT_OK(env_->drop_unsynced_data());
  EXPECT_TRUE(contents("f") == pages({{0, 1}, {1, 1}}));
}

TEST_P(FaultInjectionRWTest, FailNthWrite) {
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(path("f"), &file));
  env_->fail_nth_call(OpKind::kWrite, 2);
  EXPECT_OK(file->write(0, "aa"));
  Status s = file->write(2, "bb");
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_NE(s.ToString().find("injected fault (write)"), std::string::npos) << s.ToString();
  EXPECT_EQ(contents("f"), "aa");  // the failed write wrote nothing
  EXPECT_OK(file->write(2, "cc"));
  EXPECT_OK(file->sync());
  EXPECT_EQ(contents("f"), "aacc");
  EXPECT_EQ(env_->injected_error_count(), 1u);

  // With deactivate_filesystem, the failing write is where the "crash" is.
  env_->fail_nth_call(OpKind::kWrite, 1, /*deactivate_filesystem=*/true);
  EXPECT_TRUE(file->write(0, "xx").IsIOError());
  EXPECT_FALSE(env_->filesystem_active());
  EXPECT_EQ(contents("f"), "aacc");
  env_->set_filesystem_active(true);

  // set_error_probability applies to kWrite like any other kind.
  env_->set_error_probability(OpKind::kWrite, 1.0, 3);
  EXPECT_TRUE(file->write(0, "yy").IsIOError());
  EXPECT_OK(file->sync());  // other kinds are unaffected
  env_->clear_error_injection();
  EXPECT_OK(file->close());
  EXPECT_EQ(contents("f"), "aacc");
}

TEST_P(FaultInjectionRWTest, InactiveFilesystemRefusesWrites) {
  std::unique_ptr<RandomRWFile> file = durable_pages("f", 1);
  ASSERT_OK(file->write(0, "unsynced"));
  env_->set_filesystem_active(false);
  auto expect_crashed = [](const Status& s) {
    EXPECT_TRUE(s.IsIOError()) << s.ToString();
    EXPECT_NE(s.ToString().find("filesystem inactive (simulated crash)"), std::string::npos) << s.ToString();
  };
  expect_crashed(file->write(0, "refused"));
  expect_crashed(file->write(10 * kPage, "refused"));
  expect_crashed(file->sync());
  // Creating a file is refused; opening an existing one is not (its writes
  // are).
  std::unique_ptr<RandomRWFile> other;
  expect_crashed(env_->new_random_rw_file(path("new"), &other));
  EXPECT_FALSE(exists("new"));
  ASSERT_OK(env_->new_random_rw_file(path("f"), &other));
  expect_crashed(other->write(0, "refused"));
  // Reads still work.
  char scratch[16];
  Slice result;
  ASSERT_OK(other->read(0, 8, &result, scratch));
  EXPECT_EQ(result, Slice("unsynced"));
  EXPECT_OK(file->close());  // writes nothing, never refused
  file.reset();
  other.reset();

  uint64_t size = 0;
  ASSERT_OK(base_->get_file_size(path("f"), &size));
  EXPECT_EQ(size, kPage);
  ASSERT_OK(env_->drop_unsynced_data());
  env_->set_filesystem_active(true);
  EXPECT_TRUE(contents("f") == PageData(0, 0));
}

TEST_P(FaultInjectionRWTest, CountersCountWrites) {
  EXPECT_STREQ(FaultInjectionEnv::op_kind_name(OpKind::kWrite), "write");
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(path("f"), &file));  // creates: counted
  ASSERT_OK(file->write(0, "a"));
  ASSERT_OK(file->write(1, "b"));
  ASSERT_OK(file->write(5, "c"));
  ASSERT_OK(file->sync());
  char scratch[8];
  Slice result;
  ASSERT_OK(file->read(0, 2, &result, scratch));  // reads are not counted
  ASSERT_OK(file->close());                        // nor is close
  ASSERT_OK(env_->new_random_rw_file(path("f"), &file));  // exists: not counted
  ASSERT_OK(file->write(0, "d"));

  EXPECT_EQ(env_->call_count(OpKind::kCreateFile), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kWrite), 4u);
  EXPECT_EQ(env_->call_count(OpKind::kSync), 1u);
  EXPECT_EQ(env_->call_count(OpKind::kAppend), 0u);
  EXPECT_EQ(env_->call_count(OpKind::kFlush), 0u);
  EXPECT_EQ(env_->call_count(OpKind::kAny), 6u);

  // fail_nth_call(kAny) counts writes as steps.
  env_->fail_nth_call(OpKind::kAny, 2);
  EXPECT_OK(file->write(0, "e"));
  EXPECT_TRUE(file->sync().IsIOError());
  EXPECT_EQ(env_->call_count(OpKind::kAny), 8u);

  env_->reset_counters();
  for (int k = 0; k < FaultInjectionEnv::kNumOpKinds; ++k) {
    EXPECT_EQ(env_->call_count(static_cast<OpKind>(k)), 0u) << FaultInjectionEnv::op_kind_name(static_cast<OpKind>(k));
  }
}

TEST_P(FaultInjectionRWTest, ConcurrentReadsBesideWrites) {
  std::unique_ptr<RandomRWFile> file = durable_pages("f", 8);
  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0};
  std::thread reader([&] {
    std::string scratch(kPage, '\0');
    while (!done.load()) {
      for (uint64_t p = 0; p < 4; ++p) {
        Slice result;
        if (!file->read(p * kPage, kPage, &result, scratch.data()).ok() || result != Slice(PageData(p, 0))) {
          ++mismatches;
        }
      }
    }
  });
  for (int round = 0; round < 100; ++round) {
    const uint64_t p = 4 + static_cast<uint64_t>(round % 6);
    EXPECT_OK(file->write(p * kPage, PageData(p, round)));  // not ASSERT: the reader must be joined
    if (round % 10 == 9) {
      EXPECT_OK(file->sync());
    }
    (void)env_->call_count(OpKind::kWrite);
  }
  done = true;
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(FaultInjectionRWTest, MapFilePassesThrough) {
  std::unique_ptr<RandomRWFile> file = durable_pages("m", 1);
  std::unique_ptr<MappedRegion> region;
  Status s = env_->map_file(path("m"), kPage, &region);
  if (GetParam() == TargetKind::kMemory) {
    EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
    return;
  }
  ASSERT_OK(s);
  EXPECT_TRUE(Slice(region->data(), kPage) == Slice(PageData(0, 0)));
  ASSERT_OK(file->write(0, PageData(0, 1)));
  EXPECT_TRUE(Slice(region->data(), kPage) == Slice(PageData(0, 1)));
  ASSERT_OK(env_->drop_unsynced_data());  // the map shows the rewound file
  EXPECT_TRUE(Slice(region->data(), kPage) == Slice(PageData(0, 0)));
}

INSTANTIATE_TEST_SUITE_P(Targets, FaultInjectionRWTest, ::testing::Values(TargetKind::kPosix, TargetKind::kMemory),
                         [](const ::testing::TestParamInfo<TargetKind>& param_info) {
                           return param_info.param == TargetKind::kPosix ? std::string("Posix")
                                                                         : std::string("Memory");
                         });

INSTANTIATE_TEST_SUITE_P(Targets, FaultInjectionEnvTest, ::testing::Values(TargetKind::kPosix, TargetKind::kMemory),
                         [](const ::testing::TestParamInfo<TargetKind>& param_info) {
                           return param_info.param == TargetKind::kPosix ? std::string("Posix")
                                                                         : std::string("Memory");
                         });

}  // namespace
}  // namespace lightning
