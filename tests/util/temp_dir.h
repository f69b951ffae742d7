// Copyright (c) Lightning authors. MIT License.
//
// test::TempDir: a fresh, uniquely named directory for one test, created under
// $TMPDIR (or /tmp) and removed recursively when the TempDir is destroyed.
// Set LIGHTNING_KEEP_TEST_DIRS=1 to keep the directories for inspection (their
// paths are then printed to stderr).
//
//   lightning::test::TempDir dir;
//   Options options;  // ...
//   auto db = Database::open(options, dir.path());
//   std::string log = dir.file("000001.log");  // dir.path() + "/000001.log"
//
// The directory is created with the real filesystem (not through an Env); use
// it with Env::Default() or a FaultInjectionEnv wrapping it.
// Failure to create the directory aborts the test binary with a message.
// Thread-safety: path() and file() are const and may be called concurrently.
// Lifetime: close every database and file inside before the TempDir dies.
#ifndef LIGHTNING_TESTS_UTIL_TEMP_DIR_H_
#define LIGHTNING_TESTS_UTIL_TEMP_DIR_H_

#include <string>

namespace lightning::test {

class TempDir {
 public:
  // prefix becomes part of the directory name (e.g. the test's name), to tell
  // kept directories apart. Characters other than [A-Za-z0-9_-] become '_'.
  explicit TempDir(const std::string& prefix = "lightning");
  ~TempDir();

  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path of the directory, without a trailing slash.
  const std::string& path() const noexcept { return path_; }
  // path() + "/" + name.
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_TEMP_DIR_H_
