// Copyright (c) Lightning authors. MIT License.
//
// kill -9 at random points: a forked child writes with sync=true and reports
// each acknowledged write through a pipe; the parent kills it at a random
// moment, reopens the database and checks that every acknowledged write is
// there, that batches are all-or-nothing, and that nothing that was never
// written appears. Many rounds run on the same directory.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lightning/db.h"
#include "util/db_test_util.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

std::string RoundKey(int round, int i) { return "r" + std::to_string(round) + "-" + std::to_string(i); }

// Runs in the forked child; never returns.
[[noreturn]] void ChildWriter(const std::string& path, int round, int ack_fd, WalSyncMode mode) {
  Options options;
  options.wal_sync_mode = mode;
  auto r = Database::open(path, options);
  if (!r.ok()) _exit(2);
  std::unique_ptr<Database> db = std::move(r.value());
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0;; i++) {
    Status s;
    if (i % 4 == 3) {  // a batch of three keys
      WriteBatch batch;
      for (const char* suffix : {"a", "b", "c"}) {
        const std::string key = RoundKey(round, i) + suffix;
        (void)batch.put(key, test::MakeValue(key, round, 100));
      }
      s = db->write(batch, sync);
    } else {
      const std::string key = RoundKey(round, i);
      s = db->put(key, test::MakeValue(key, round, 100), sync);
    }
    if (!s.ok()) _exit(3);
    if (write(ack_fd, &i, sizeof(i)) != static_cast<ssize_t>(sizeof(i))) _exit(4);
  }
}

class CrashTest : public ::testing::TestWithParam<WalSyncMode> {};

TEST_P(CrashTest, KillNineLosesNoAcknowledgedWrite) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  test::TempDir dir("crash_test");
  const std::string path = dir.path() + "/db";
  std::vector<int> acked;  // per round: the highest acknowledged index, or -1
  constexpr int kRounds = 25;
  for (int round = 0; round < kRounds; round++) {
    int fds[2];
    ASSERT_EQ(0, pipe(fds));
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ChildWriter(path, round, fds[1], GetParam());
    }
    close(fds[1]);
    // Let a random number of writes be acknowledged, then kill at a random
    // moment (often in the middle of the next write).
    const int target = static_cast<int>(rnd.uniform(120));
    int last = -1, index;
    while (last < target && read(fds[0], &index, sizeof(index)) == static_cast<ssize_t>(sizeof(index))) last = index;
    if (rnd.one_in(2)) usleep(static_cast<useconds_t>(rnd.uniform(3000)));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(pid, waitpid(pid, &status, 0));
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer exited by itself with status " << WEXITSTATUS(status);
    // Acknowledgements already in the pipe count too.
    while (read(fds[0], &index, sizeof(index)) == static_cast<ssize_t>(sizeof(index))) last = index;
    close(fds[0]);
    acked.push_back(last);

    auto r = Database::open(path);
    ASSERT_TRUE(r.ok()) << "round " << round << ": " << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    std::string value;
    for (int k = 0; k <= round; k++) {
      // Every acknowledged write is there with its value; the one in flight
      // may or may not be; nothing beyond it exists.
      for (int i = 0; i <= acked[k] + 3; i++) {
        const bool is_batch = i % 4 == 3;
        const std::string key = RoundKey(k, i) + (is_batch ? "a" : "");
        Status s = db->get(key, &value);
        const bool must_exist = i <= acked[k];
        const bool may_exist = i == acked[k] + 1;
        if (must_exist) {
          ASSERT_TRUE(s.ok()) << "round " << k << ": acknowledged write " << key << " lost: " << s.ToString();
        } else if (!may_exist) {
          ASSERT_TRUE(s.IsNotFound()) << "round " << k << ": " << key << " was never written";
        }
        if (s.ok()) {
          ASSERT_EQ(test::MakeValue(key, k, 100), value) << key;
        }
        if (is_batch) {
          for (const char* suffix : {"b", "c"}) {
            const std::string other = RoundKey(k, i) + suffix;
            ASSERT_EQ(s.ok(), db->get(other, &value).ok()) << "round " << k << ": half a batch at " << other;
          }
        }
      }
    }
    ASSERT_TRUE(db->close().ok());
  }
}

INSTANTIATE_TEST_SUITE_P(SyncModes, CrashTest, ::testing::Values(WalSyncMode::kNormal, WalSyncMode::kOff));

}  // namespace
}  // namespace lightning
