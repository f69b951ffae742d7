// Copyright (c) Lightning authors. MIT License.
//
// One suite run against both the POSIX Env (in a TempDir) and the in-memory
// Env: the engine must not be able to tell them apart.
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

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

::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}
#define ASSERT_OK(expr) ASSERT_TRUE(IsOk(expr))
#define EXPECT_OK(expr) EXPECT_TRUE(IsOk(expr))

enum class EnvKind { kPosix, kMemory };

class EnvTest : public ::testing::TestWithParam<EnvKind> {
 protected:
  void SetUp() override {
    if (GetParam() == EnvKind::kPosix) {
      tmp_ = std::make_unique<test::TempDir>("env_test");
      env_ = Env::Default();
      dir_ = tmp_->path();
    } else {
      mem_ = NewMemoryEnv();
      env_ = mem_.get();
      dir_ = "/envtest";
      ASSERT_OK(env_->create_dir_if_missing(dir_));
    }
  }

  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string read_all(const std::string& fname) {
    std::string data;
    Status s = ReadFileToString(env_, fname, &data);
    EXPECT_OK(s);
    return data;
  }

  void write(const std::string& fname, const std::string& data) {
    ASSERT_OK(WriteStringToFile(env_, data, fname, /*sync=*/true));
  }

  std::unique_ptr<test::TempDir> tmp_;
  std::unique_ptr<Env> mem_;
  Env* env_ = nullptr;
  std::string dir_;
};

TEST_P(EnvTest, WritableFileRoundTrip) {
  const std::string fname = path("f");
  const std::string data("hello\0world\xff\x00tail", 17);
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(fname, &file));
  ASSERT_OK(file->append(Slice(data.data(), 5)));
  ASSERT_OK(file->flush());
  ASSERT_OK(file->append(Slice(data.data() + 5, data.size() - 5)));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
  ASSERT_OK(file->close());  // closing twice is harmless
  file.reset();

  EXPECT_EQ(read_all(fname), data);
  uint64_t size = 0;
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, data.size());

  // new_writable_file truncates an existing file.
  ASSERT_OK(env_->new_writable_file(fname, &file));
  ASSERT_OK(file->append("xy"));
  ASSERT_OK(file->close());
  EXPECT_EQ(read_all(fname), "xy");
}

TEST_P(EnvTest, DataIsVisibleAfterFlush) {
  const std::string fname = path("visible");
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(fname, &file));
  ASSERT_OK(file->append("abc"));
  ASSERT_OK(file->flush());
  EXPECT_EQ(read_all(fname), "abc");
  ASSERT_OK(file->append("def"));
  ASSERT_OK(file->flush());
  EXPECT_EQ(read_all(fname), "abcdef");
  ASSERT_OK(file->close());
}

TEST_P(EnvTest, AppendableFile) {
  const std::string fname = path("app");
  std::unique_ptr<WritableFile> file;
  // Creates a missing file.
  ASSERT_OK(env_->new_appendable_file(fname, &file));
  ASSERT_OK(file->append("abc"));
  ASSERT_OK(file->close());
  file.reset();
  // Appends to an existing one.
  ASSERT_OK(env_->new_appendable_file(fname, &file));
  ASSERT_OK(file->append(Slice("\0def", 4)));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
  EXPECT_EQ(read_all(fname), std::string("abc\0def", 7));
}

TEST_P(EnvTest, SequentialFileReadAndSkip) {
  const std::string fname = path("seq");
  write(fname, "0123456789");
  std::unique_ptr<SequentialFile> file;
  ASSERT_OK(env_->new_sequential_file(fname, &file));
  char scratch[16];
  Slice result;
  ASSERT_OK(file->read(3, &result, scratch));
  EXPECT_EQ(result, Slice("012"));
  ASSERT_OK(file->skip(2));
  ASSERT_OK(file->read(3, &result, scratch));
  EXPECT_EQ(result, Slice("567"));
  // Short read at the end, then empty reads.
  ASSERT_OK(file->read(10, &result, scratch));
  EXPECT_EQ(result, Slice("89"));
  ASSERT_OK(file->read(10, &result, scratch));
  EXPECT_TRUE(result.empty());
  // Skipping past the end is not an error; reads are then empty.
  ASSERT_OK(file->skip(100));
  ASSERT_OK(file->read(10, &result, scratch));
  EXPECT_TRUE(result.empty());
}

TEST_P(EnvTest, RandomAccessFile) {
  const std::string fname = path("ra");
  write(fname, "0123456789");
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_OK(env_->new_random_access_file(fname, &file));
  char scratch[16];
  Slice result;
  ASSERT_OK(file->read(4, 3, &result, scratch));
  EXPECT_EQ(result, Slice("456"));
  ASSERT_OK(file->read(0, 1, &result, scratch));
  EXPECT_EQ(result, Slice("0"));
  ASSERT_OK(file->read(8, 5, &result, scratch));  // short read at the end
  EXPECT_EQ(result, Slice("89"));
  ASSERT_OK(file->read(10, 5, &result, scratch));
  EXPECT_TRUE(result.empty());
  ASSERT_OK(file->read(1000, 5, &result, scratch));
  EXPECT_TRUE(result.empty());
}

TEST_P(EnvTest, ConcurrentRandomAccessReads) {
  const std::string fname = path("concurrent");
  test::Random rnd(301);
  const std::string data = rnd.random_bytes(256 * 1024);
  write(fname, data);
  std::unique_ptr<RandomAccessFile> file;
  ASSERT_OK(env_->new_random_access_file(fname, &file));

  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      test::Random r(1000 + t);
      std::string scratch(4096, '\0');
      for (int i = 0; i < 500; ++i) {
        const uint64_t off = r.uniform(data.size());
        const size_t n = static_cast<size_t>(r.uniform(scratch.size()) + 1);
        Slice result;
        if (!file->read(off, n, &result, scratch.data()).ok() ||
            result != Slice(data.data() + off, std::min<size_t>(n, data.size() - off))) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(EnvTest, LargeFile) {
  // Larger than the POSIX Env's 64 KiB write buffer, written in pieces both
  // smaller and larger than the buffer, with arbitrary bytes.
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const std::string fname = path("large");
  std::string expected;
  std::unique_ptr<WritableFile> file;
  ASSERT_OK(env_->new_writable_file(fname, &file));
  const size_t pieces[] = {1, 100, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024, 7, 40 * 1024, 33 * 1024};
  for (int round = 0; round < 3; ++round) {
    for (size_t len : pieces) {
      const std::string piece = rnd.random_bytes(len);
      ASSERT_OK(file->append(piece));
      expected += piece;
      if (rnd.one_in(3)) {
        ASSERT_OK(file->flush());
      }
    }
  }
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
  file.reset();

  uint64_t size = 0;
  ASSERT_OK(env_->get_file_size(fname, &size));
  ASSERT_EQ(size, expected.size());
  ASSERT_TRUE(read_all(fname) == expected);

  // Sequential reads in odd-sized chunks.
  std::unique_ptr<SequentialFile> seq;
  ASSERT_OK(env_->new_sequential_file(fname, &seq));
  std::string got;
  std::string scratch(100 * 1024 + 3, '\0');
  for (;;) {
    Slice result;
    ASSERT_OK(seq->read(scratch.size(), &result, scratch.data()));
    if (result.empty()) break;
    got.append(result.data(), result.size());
  }
  ASSERT_TRUE(got == expected);

  // Random reads.
  std::unique_ptr<RandomAccessFile> ra;
  ASSERT_OK(env_->new_random_access_file(fname, &ra));
  for (int i = 0; i < 100; ++i) {
    const uint64_t off = rnd.uniform(expected.size());
    const size_t n = static_cast<size_t>(rnd.uniform(scratch.size()) + 1);
    Slice result;
    ASSERT_OK(ra->read(off, n, &result, scratch.data()));
    ASSERT_TRUE(result == Slice(expected.data() + off, std::min<size_t>(n, expected.size() - off)))
        << "offset " << off << " n " << n;
  }
}

TEST_P(EnvTest, GetChildren) {
  write(path("a"), "1");
  write(path("b"), "2");
  write(path("c.log"), "3");
  ASSERT_OK(env_->create_dir_if_missing(path("sub")));
  write(path("sub") + "/nested", "4");  // not a child of dir_

  std::vector<std::string> children;
  ASSERT_OK(env_->get_children(dir_, &children));
  std::sort(children.begin(), children.end());
  EXPECT_EQ(children, (std::vector<std::string>{"a", "b", "c.log", "sub"}));

  ASSERT_OK(env_->get_children(path("sub"), &children));
  EXPECT_EQ(children, std::vector<std::string>{"nested"});

  EXPECT_TRUE(env_->get_children(path("missing"), &children).IsNotFound());
}

TEST_P(EnvTest, RenameReplacesTarget) {
  write(path("src"), "new");
  write(path("dst"), "old content");
  ASSERT_OK(env_->rename_file(path("src"), path("dst")));
  EXPECT_FALSE(env_->file_exists(path("src")));
  EXPECT_EQ(read_all(path("dst")), "new");

  // Rename to a fresh name.
  ASSERT_OK(env_->rename_file(path("dst"), path("fresh")));
  EXPECT_FALSE(env_->file_exists(path("dst")));
  EXPECT_EQ(read_all(path("fresh")), "new");

  EXPECT_TRUE(env_->rename_file(path("missing"), path("x")).IsNotFound());
}

TEST_P(EnvTest, TruncateFile) {
  const std::string fname = path("t");
  write(fname, "0123456789");
  ASSERT_OK(env_->truncate_file(fname, 4));
  EXPECT_EQ(read_all(fname), "0123");
  ASSERT_OK(env_->truncate_file(fname, 6));  // extends with zeros
  EXPECT_EQ(read_all(fname), std::string("0123\0\0", 6));
  ASSERT_OK(env_->truncate_file(fname, 0));
  EXPECT_EQ(read_all(fname), "");
  uint64_t size = 99;
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, 0u);
  EXPECT_TRUE(env_->truncate_file(path("missing"), 0).IsNotFound());
}

TEST_P(EnvTest, RemoveFile) {
  const std::string fname = path("r");
  write(fname, "x");
  EXPECT_TRUE(env_->file_exists(fname));
  ASSERT_OK(env_->remove_file(fname));
  EXPECT_FALSE(env_->file_exists(fname));
  EXPECT_TRUE(env_->remove_file(fname).IsNotFound());
}

TEST_P(EnvTest, Directories) {
  // Existing directory: OK.
  ASSERT_OK(env_->create_dir_if_missing(dir_));
  ASSERT_OK(env_->create_dir_if_missing(path("d")));
  ASSERT_OK(env_->create_dir_if_missing(path("d")));
  ASSERT_OK(env_->create_dir_if_missing(path("d") + "/"));  // trailing slash

  bool is_dir = false;
  ASSERT_OK(env_->is_directory(path("d"), &is_dir));
  EXPECT_TRUE(is_dir);
  EXPECT_TRUE(env_->file_exists(path("d")));

  write(path("file"), "x");
  ASSERT_OK(env_->is_directory(path("file"), &is_dir));
  EXPECT_FALSE(is_dir);
  // A regular file in the way: InvalidArgument.
  Status s = env_->create_dir_if_missing(path("file"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();

  EXPECT_TRUE(env_->is_directory(path("missing"), &is_dir).IsNotFound());

  ASSERT_OK(env_->sync_dir(path("d")));
  ASSERT_OK(env_->remove_dir(path("d")));
  EXPECT_TRUE(env_->is_directory(path("d"), &is_dir).IsNotFound());
  EXPECT_TRUE(env_->remove_dir(path("d")).IsNotFound());
  EXPECT_TRUE(env_->sync_dir(path("d")).IsNotFound());
}

TEST_P(EnvTest, MissingFilesAreNotFound) {
  const std::string fname = path("nope");
  EXPECT_FALSE(env_->file_exists(fname));
  std::unique_ptr<SequentialFile> seq;
  EXPECT_TRUE(env_->new_sequential_file(fname, &seq).IsNotFound());
  std::unique_ptr<RandomAccessFile> ra;
  EXPECT_TRUE(env_->new_random_access_file(fname, &ra).IsNotFound());
  uint64_t size = 0;
  EXPECT_TRUE(env_->get_file_size(fname, &size).IsNotFound());
  std::string data;
  EXPECT_TRUE(ReadFileToString(env_, fname, &data).IsNotFound());
  // Writing into a missing directory fails too.
  std::unique_ptr<WritableFile> w;
  EXPECT_TRUE(env_->new_writable_file(path("nodir") + "/f", &w).IsNotFound());
}

TEST_P(EnvTest, LockFile) {
  const std::string fname = path("LOCK");
  std::unique_ptr<FileLock> lock1;
  ASSERT_OK(env_->lock_file(fname, &lock1));
  EXPECT_TRUE(env_->file_exists(fname));
  std::unique_ptr<FileLock> lock2;
  Status s = env_->lock_file(fname, &lock2);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();
  ASSERT_OK(env_->unlock_file(std::move(lock1)));
  ASSERT_OK(env_->lock_file(fname, &lock2));
  ASSERT_OK(env_->unlock_file(std::move(lock2)));
}

TEST_P(EnvTest, Clock) {
  const uint64_t t0 = env_->now_micros();
  env_->sleep_for_micros(2000);
  EXPECT_GE(env_->now_micros() - t0, 2000u);
}

// ---- RandomRWFile ----

TEST_P(EnvTest, RandomRWFileWriteReadSyncReopen) {
  const std::string fname = path("rw");
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(fname, &file));  // creates it, empty
  EXPECT_TRUE(env_->file_exists(fname));
  uint64_t size = 99;
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, 0u);

  ASSERT_OK(file->write(0, "hello"));
  ASSERT_OK(file->write(5, Slice("\0world", 6)));
  ASSERT_OK(file->write(0, "J"));  // in place
  char scratch[32];
  Slice result;
  ASSERT_OK(file->read(0, 11, &result, scratch));
  EXPECT_EQ(result, Slice("Jello\0world", 11));
  ASSERT_OK(file->read(6, 3, &result, scratch));
  EXPECT_EQ(result, Slice("wor"));
  ASSERT_OK(file->read(8, 10, &result, scratch));  // short read at the end
  EXPECT_EQ(result, Slice("rld"));
  ASSERT_OK(file->read(11, 5, &result, scratch));
  EXPECT_TRUE(result.empty());
  ASSERT_OK(file->read(1000, 5, &result, scratch));
  EXPECT_TRUE(result.empty());
  // Writes are visible to other readers at once (no user-space buffer).
  EXPECT_EQ(read_all(fname), std::string("Jello\0world", 11));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
  ASSERT_OK(file->close());  // closing twice is harmless
  EXPECT_FALSE(file->write(0, "x").ok());  // but a closed file refuses writes
  file.reset();

  // Reopening never truncates.
  ASSERT_OK(env_->new_random_rw_file(fname, &file));
  ASSERT_OK(file->read(0, sizeof(scratch), &result, scratch));
  EXPECT_EQ(result, Slice("Jello\0world", 11));
  ASSERT_OK(file->write(6, "W"));
  ASSERT_OK(file->close());
  file.reset();
  EXPECT_EQ(read_all(fname), std::string("Jello\0World", 11));
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, 11u);
}

TEST_P(EnvTest, RandomRWFileWritesPastTheEnd) {
  const std::string fname = path("rw_hole");
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(fname, &file));
  ASSERT_OK(file->write(100, "tail"));  // a hole before it reads as zeros
  uint64_t size = 0;
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, 104u);
  EXPECT_EQ(read_all(fname), std::string(100, '\0') + "tail");
  // A write straddling the end overwrites and extends.
  ASSERT_OK(file->write(102, "ILS!"));
  EXPECT_EQ(read_all(fname), std::string(100, '\0') + "taILS!");
  ASSERT_OK(file->write(0, ""));  // empty writes are no-ops
  ASSERT_OK(env_->get_file_size(fname, &size));
  EXPECT_EQ(size, 106u);
  ASSERT_OK(file->close());

  // A file in a missing directory cannot be created.
  EXPECT_TRUE(env_->new_random_rw_file(path("nodir") + "/f", &file).IsNotFound());
}

// Readers of a stable range while one writer rewrites (and extends) another.
TEST_P(EnvTest, RandomRWFileConcurrentReadersAndWriter) {
  constexpr size_t kPage = 4096;
  constexpr int kStablePages = 16;
  const std::string fname = path("rw_concurrent");
  test::Random rnd(77);
  const std::string stable = rnd.random_bytes(kStablePages * kPage);
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(fname, &file));
  ASSERT_OK(file->write(0, stable));

  std::atomic<bool> done{false};
  std::atomic<int> mismatches{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      test::Random r(500 + t);
      std::string scratch(kPage, '\0');
      while (!done.load()) {
        const uint64_t off = r.uniform(stable.size());
        const size_t n = static_cast<size_t>(r.uniform(kPage) + 1);
        const size_t want = std::min<size_t>(n, stable.size() - off);
        Slice result;
        if (!file->read(off, want, &result, scratch.data()).ok()) {
          ++errors;
        } else if (result != Slice(stable.data() + off, want)) {
          ++mismatches;
        }
      }
    });
  }
  // The writer: pages past the stable range, each rewritten with a pattern
  // it can check by reading back.
  std::string page(kPage, '\0');
  std::string scratch(kPage, '\0');
  for (int round = 0; round < 200; ++round) {
    const uint64_t p = kStablePages + static_cast<uint64_t>(round % 24);
    std::fill(page.begin(), page.end(), static_cast<char>('a' + round % 26));
    if (!file->write(p * kPage, page).ok()) ++errors;
    Slice result;
    if (!file->read(p * kPage, kPage, &result, scratch.data()).ok() || result != Slice(page)) ++mismatches;
  }
  done = true;
  for (auto& th : readers) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
}

// ---- map_file ----

TEST_P(EnvTest, MapFileSeesLaterWrites) {
  const std::string fname = path("mapped");
  std::unique_ptr<RandomRWFile> file;
  ASSERT_OK(env_->new_random_rw_file(fname, &file));
  test::Random rnd(9);
  std::string expected = rnd.random_bytes(5000);
  ASSERT_OK(file->write(0, expected));

  // The map may be longer than the file; only bytes below the file's size
  // may be touched.
  constexpr size_t kMapLength = 64 * 1024;
  std::unique_ptr<MappedRegion> region;
  Status s = env_->map_file(fname, kMapLength, &region);
  if (GetParam() == EnvKind::kMemory) {
    EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
    EXPECT_EQ(region, nullptr);
    ASSERT_OK(file->close());
    return;
  }
  ASSERT_OK(s);
  ASSERT_NE(region, nullptr);
  ASSERT_NE(region->data(), nullptr);
  EXPECT_EQ(region->size(), kMapLength);
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));

  // An in-place write shows through the map...
  ASSERT_OK(file->write(100, "through the map"));
  expected.replace(100, 15, "through the map");
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));
  // ... and so does an extension, once the file has grown (beyond the
  // original size, but still within the mapped length).
  const std::string more = rnd.random_bytes(10000);
  ASSERT_OK(file->write(expected.size(), more));
  expected += more;
  ASSERT_LE(expected.size(), kMapLength);
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));
  // populate() is only a hint: over the file, from an unaligned offset, or
  // starting past the map's end (ignored), the bytes read the same, and a
  // later write still shows through.
  region->populate(0, expected.size());
  region->populate(123, 4000);
  region->populate(kMapLength + 4096, 100);
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));
  ASSERT_OK(file->write(200, "after populate"));
  expected.replace(200, 14, "after populate");
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));
  ASSERT_OK(file->sync());
  ASSERT_OK(file->close());
  file.reset();

  // The map outlives the file object (and keeps working after close()).
  EXPECT_TRUE(Slice(region->data(), expected.size()) == Slice(expected));
  region.reset();  // unmaps

  // An empty map is fine too.
  ASSERT_OK(env_->map_file(fname, 0, &region));
  EXPECT_EQ(region->size(), 0u);
  region->populate(0, 4096);  // nothing mapped: nothing to do
}

TEST_P(EnvTest, MapMissingFileFails) {
  std::unique_ptr<MappedRegion> region;
  Status s = env_->map_file(path("no_such_file"), 4096, &region);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(region, nullptr);
  if (GetParam() == EnvKind::kPosix) {
    EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  } else {
    EXPECT_TRUE(s.IsNotSupported()) << s.ToString();
  }
}

INSTANTIATE_TEST_SUITE_P(Envs, EnvTest, ::testing::Values(EnvKind::kPosix, EnvKind::kMemory),
                         [](const ::testing::TestParamInfo<EnvKind>& param_info) {
                           return param_info.param == EnvKind::kPosix ? std::string("Posix") : std::string("Memory");
                         });

// A lock held by another process makes lock_file return Busy (flock locks
// are per open file description, so this exercises the real cross-process
// case, not an in-process table).
TEST(PosixEnvTest, LockHeldByOtherProcessIsBusy) {
  test::TempDir tmp("env_lock");
  const std::string fname = tmp.file("LOCK");
  Env* env = Env::Default();

  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Child: take the lock, report, wait for the parent, exit without
    // running any destructors or atexit handlers (gtest's included).
    ::close(to_parent[0]);
    ::close(to_child[1]);
    std::unique_ptr<FileLock> lock;
    const char result = env->lock_file(fname, &lock).ok() ? 'L' : 'E';
    if (::write(to_parent[1], &result, 1) != 1) ::_exit(2);
    char go;
    if (::read(to_child[0], &go, 1) != 1) ::_exit(3);
    ::_exit(0);
  }
  ::close(to_parent[1]);
  ::close(to_child[0]);
  char result = 0;
  ASSERT_EQ(::read(to_parent[0], &result, 1), 1);
  ASSERT_EQ(result, 'L');

  std::unique_ptr<FileLock> lock;
  Status s = env->lock_file(fname, &lock);
  EXPECT_TRUE(s.IsBusy()) << s.ToString();

  const char go = 'G';
  ASSERT_EQ(::write(to_child[1], &go, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  ::close(to_parent[0]);
  ::close(to_child[1]);

  // The child's exit released its lock.
  ASSERT_OK(env->lock_file(fname, &lock));
  ASSERT_OK(env->unlock_file(std::move(lock)));
}

}  // namespace
}  // namespace lightning
