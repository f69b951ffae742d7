// Copyright (c) Lightning authors. MIT License.
//
// Bad input gets a clear error, never a crash: a path that is a file, a
// directory the process may not write, a database locked by another process.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "lightning/db.h"
#include "lightning/env.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

TEST(BadInputTest, PathIsARegularFile) {
  test::TempDir dir("bad_input");
  const std::string path = dir.file("plain-file");
  ASSERT_TRUE(WriteStringToFile(Env::Default(), "not a database", path, false).ok());
  auto r = Database::open(path);
  ASSERT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
  EXPECT_NE(std::string::npos, r.status().message().find("not a directory")) << r.status().message();
  std::string contents;
  ASSERT_TRUE(ReadFileToString(Env::Default(), path, &contents).ok());
  EXPECT_EQ("not a database", contents);  // left alone
}

TEST(BadInputTest, ParentDirectoryMissing) {
  test::TempDir dir("bad_input");
  auto r = Database::open(dir.file("no/such/parent"));
  EXPECT_TRUE(r.status().IsNotFound() || r.status().IsIOError()) << r.status().ToString();
}

TEST(BadInputTest, EmptyPathAndBadOptions) {
  EXPECT_TRUE(Database::open("").status().IsInvalidArgument());
  test::TempDir dir("bad_input");
  Options options;
  options.wal_sync_interval_ms = 0;
  EXPECT_TRUE(Database::open(dir.file("db"), options).status().IsInvalidArgument());
}

// Runs fn in a child that has dropped root privileges (permission checks do
// not apply to root), and returns what it wrote to the pipe.
template <typename Fn>
std::string RunUnprivileged(Fn fn) {
  int fds[2];
  EXPECT_EQ(0, pipe(fds));
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(5);
    const std::string out = fn();
    if (write(fds[1], out.data(), out.size()) < 0) _exit(6);
    _exit(0);
  }
  close(fds[1]);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return out;
}

TEST(BadInputTest, DirectoryNotWritable) {
  test::TempDir dir("bad_input");
  const std::string parent = dir.file("readonly");
  ASSERT_EQ(0, mkdir(parent.c_str(), 0755));
  ASSERT_EQ(0, chmod(dir.path().c_str(), 0755));
  // Creating a database inside a directory we may not write.
  std::string out = RunUnprivileged([&] { return Database::open(parent + "/db").status().ToString(); });
  EXPECT_NE(std::string::npos, out.find("IO error")) << out;
  EXPECT_NE(std::string::npos, out.find("Permission denied")) << out;
  // An existing database in a directory we may not write.
  ASSERT_TRUE(Database::open(parent + "/existing").ok());
  ASSERT_EQ(0, chmod((parent + "/existing").c_str(), 0755));
  out = RunUnprivileged([&] { return Database::open(parent + "/existing").status().ToString(); });
  EXPECT_NE(std::string::npos, out.find("IO error")) << out;
  EXPECT_NE(std::string::npos, out.find("Permission denied")) << out;
}

TEST(BadInputTest, LockedByAnotherProcess) {
  test::TempDir dir("bad_input");
  const std::string path = dir.file("db");
  int ready[2], release[2];
  ASSERT_EQ(0, pipe(ready));
  ASSERT_EQ(0, pipe(release));
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    close(release[1]);
    auto r = Database::open(path);
    const char ok = r.ok() ? '1' : '0';
    if (write(ready[1], &ok, 1) != 1) _exit(2);
    char c;
    if (read(release[0], &c, 1) < 0) _exit(3);  // hold the database until told
    _exit(0);
  }
  close(ready[1]);
  close(release[0]);
  char ok = 0;
  ASSERT_EQ(1, read(ready[0], &ok, 1));
  ASSERT_EQ('1', ok);
  auto r = Database::open(path);
  EXPECT_TRUE(r.status().IsBusy()) << r.status().ToString();
  EXPECT_NE(std::string::npos, r.status().message().find("locked by another process")) << r.status().message();
  close(release[1]);
  int status = 0;
  waitpid(pid, &status, 0);
  // Once the other process is gone, the database opens.
  auto again = Database::open(path);
  EXPECT_TRUE(again.ok()) << again.status().ToString();
}

}  // namespace
}  // namespace lightning
