// Copyright (c) Lightning authors. MIT License.
//
// Transactions and batches under kill -9 (the approach of crash_test.cc): a
// forked child commits and reports each acknowledged commit through a pipe;
// the parent kills it at a random moment, reopens the database and checks
// it. Many rounds run on the same directory, and every round also checks
// what the earlier rounds left.
//
//  - TransactionCrashTest.KillNineKeepsTransactionsAtomicAndDurable: each
//    commit (a transaction, or a WriteBatch with sync) sets 5 random keys of
//    its round to its own tag, committed with kStrong / sync. After recovery
//    the round's keys must equal exactly the state after the first n
//    commits, where n is the number acknowledged or one more (the one in
//    flight): no commit is torn (all-or-nothing), none acknowledged is lost,
//    none is reordered.
//  - ...KillNineKeepsTheBankTotal: three threads in the child transfer money
//    between 10 accounts in transactions (retrying on Conflict) at the
//    default consistency, each also counting its transfers in the same
//    transaction. After recovery the total is unchanged and the counted
//    transfers cover every acknowledged one (kNormal: in the OS before the
//    commit returns, so a process crash loses none).
//  - ...KillNineConsistencyLevels: a single writer commits numbered
//    transactions and put_with_consistency calls at random levels
//    (wal_sync_mode kOff). After recovery the commits present are exactly a
//    prefix (never torn or with a gap), which includes every kStrong and
//    kQuorum commit acknowledged; only kEventual ones after the last of
//    those may be lost.
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./transaction_crash_test --gtest_filter=...
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lightning/db.h"
#include "lightning/transaction.h"
#include "lightning/write_batch.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;

// Runs child(ack_fd) in a forked process (it must never return), lets it
// acknowledge `target` records of RecordSize bytes (or exit), kills it at a
// random moment with SIGKILL and returns every record it acknowledged.
template <typename Record, typename Child>
std::vector<Record> RunAndKill(test::Random* rnd, size_t target, Child child) {
  std::vector<Record> acked;
  int fds[2];
  if (pipe(fds) != 0) {
    ADD_FAILURE() << "pipe failed";
    return acked;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    ADD_FAILURE() << "fork failed";
    return acked;
  }
  if (pid == 0) {
    close(fds[0]);
    child(fds[1]);
    _exit(5);  // not reached
  }
  close(fds[1]);
  Record rec;
  while (acked.size() < target && read(fds[0], &rec, sizeof(rec)) == static_cast<ssize_t>(sizeof(rec))) {
    acked.push_back(rec);
  }
  if (rnd->one_in(2)) usleep(static_cast<useconds_t>(rnd->uniform(3000)));
  kill(pid, SIGKILL);
  int status = 0;
  EXPECT_EQ(pid, waitpid(pid, &status, 0));
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child exited by itself with status " << WEXITSTATUS(status);
  // Acknowledgements already in the pipe count too.
  while (read(fds[0], &rec, sizeof(rec)) == static_cast<ssize_t>(sizeof(rec))) acked.push_back(rec);
  close(fds[0]);
  return acked;
}

[[noreturn]] void Die(int code) { _exit(code); }

void Ack(int fd, const void* rec, size_t size) {
  if (write(fd, rec, size) != static_cast<ssize_t>(size)) Die(4);
}

std::unique_ptr<Database> OpenOrDie(const std::string& path, const Options& options) {
  auto r = Database::open(path, options);
  if (!r.ok()) Die(2);
  return std::move(r.value());
}

// ---------------------------------------------------------------- atomicity

constexpr int kRoundKeys = 30;
constexpr int kKeysPerCommit = 5;

std::string RoundKey(int round, int j) { return "r" + std::to_string(round) + "/k" + std::to_string(j); }

// Commit i of a round: the keys it sets (distinct), how it commits, and the
// tag it writes. Both the child and the parent derive it from the seed.
struct Commit {
  std::vector<std::string> keys;
  int kind = 0;  // 0: kSnapshot txn, 1: kSerializable txn, 2: WriteBatch with sync
  std::string tag;
};

Commit MakeCommit(uint64_t seed, int round, int i) {
  test::Random rnd(seed * 1000003 + static_cast<uint64_t>(round) * 7919 + static_cast<uint64_t>(i));
  Commit c;
  std::vector<int> picked;
  while (static_cast<int>(picked.size()) < kKeysPerCommit) {
    const int j = static_cast<int>(rnd.uniform(kRoundKeys));
    bool dup = false;
    for (int p : picked) dup = dup || p == j;
    if (!dup) picked.push_back(j);
  }
  for (int j : picked) c.keys.push_back(RoundKey(round, j));
  c.kind = static_cast<int>(rnd.uniform(3));
  c.tag = "tag-" + std::to_string(round) + "-" + std::to_string(i) + "-" + std::string(rnd.uniform(200), 'v');
  return c;
}

[[noreturn]] void AtomicityChild(const std::string& path, uint64_t seed, int round, int ack_fd) {
  Options options;  // kNormal
  options.memtable_size = 64 * 1024;  // flushes and memtable switches meanwhile
  std::unique_ptr<Database> db = OpenOrDie(path, options);
  for (int i = 0;; i++) {
    const Commit c = MakeCommit(seed, round, i);
    Status s;
    if (c.kind == 2) {
      WriteBatch batch;
      for (const auto& k : c.keys) {
        if (!batch.put(k, c.tag).ok()) Die(3);
      }
      WriteOptions wo;
      wo.sync = true;
      s = db->write(batch, wo);
    } else {
      TransactionOptions to;
      to.isolation = c.kind == 0 ? IsolationLevel::kSnapshot : IsolationLevel::kSerializable;
      to.write_options.consistency = ConsistencyLevel::kStrong;
      auto t = db->begin_transaction(to);
      if (!t.ok()) Die(3);
      std::string v;
      for (const auto& k : c.keys) {
        Status gs = t.value()->get(k, &v);  // read-modify-write shape
        if (!gs.ok() && !gs.IsNotFound()) Die(3);
        if (!t.value()->put(k, c.tag).ok()) Die(3);
      }
      s = t.value()->commit();
    }
    if (!s.ok()) Die(3);
    Ack(ack_fd, &i, sizeof(i));
  }
}

Model ApplyPrefix(uint64_t seed, int round, int n) {
  Model m;
  for (int i = 0; i < n; i++) {
    const Commit c = MakeCommit(seed, round, i);
    for (const auto& k : c.keys) m[k] = c.tag;
  }
  return m;
}

Model ReadRound(Database* db, int round) {
  Model m;
  const std::string prefix = "r" + std::to_string(round) + "/";
  Scan scan = db->scan_prefix(prefix);
  for (const auto& e : scan) m[e.key.ToString()] = e.value.ToString();
  EXPECT_TRUE(scan.status().ok()) << scan.status().ToString();
  return m;
}

std::string Describe(const Model& got, const Model& want) {
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end()) return k + " missing (want " + v.substr(0, 12) + ")";
    if (it->second != v) return k + " = " + it->second.substr(0, 12) + ", want " + v.substr(0, 12);
  }
  for (const auto& [k, v] : got) {
    if (want.count(k) == 0) return k + " = " + v.substr(0, 12) + " should not exist";
  }
  return "equal";
}

TEST(TransactionCrashTest, KillNineKeepsTransactionsAtomicAndDurable) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::Random rnd(seed);
  test::TempDir dir("transaction_crash_atomic");
  const std::string path = dir.path() + "/db";
  std::vector<Model> final_states;
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    const size_t target = rnd.uniform(80);
    std::vector<int> acked = RunAndKill<int>(&rnd, target, [&](int fd) { AtomicityChild(path, seed, round, fd); });
    for (size_t i = 0; i < acked.size(); i++) {
      ASSERT_EQ(static_cast<int>(i), acked[i]);
    }
    const int n = static_cast<int>(acked.size());

    auto r = Database::open(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    const Model got = ReadRound(db.get(), round);
    const Model acked_state = ApplyPrefix(seed, round, n);
    const Model in_flight_state = ApplyPrefix(seed, round, n + 1);
    ASSERT_TRUE(got == acked_state || got == in_flight_state)
        << n << " commits acknowledged; against them: " << Describe(got, acked_state)
        << "; with the one in flight: " << Describe(got, in_flight_state);
    // Explicitly: every surviving tag's commit survived whole (or was
    // overwritten by a later commit, key by key).
    for (const auto& [key, tag] : got) {
      const int i = std::stoi(tag.substr(tag.find('-', 4) + 1));
      for (const auto& k : MakeCommit(seed, round, i).keys) {
        auto it = got.find(k);
        ASSERT_NE(it, got.end()) << "commit " << i << " is torn: " << k << " missing";
        const int later = std::stoi(it->second.substr(it->second.find('-', 4) + 1));
        ASSERT_GE(later, i) << "commit " << i << " is torn at " << k;
      }
    }
    final_states.push_back(got);
    // What the earlier rounds left is untouched.
    for (int k = 0; k < round; k++) {
      ASSERT_EQ(final_states[static_cast<size_t>(k)], ReadRound(db.get(), k)) << "round " << k << " changed";
    }
    ASSERT_TRUE(db->close().ok());
  }
}

// ---------------------------------------------------------------- bank

constexpr int kAccounts = 10;
constexpr int kBankThreads = 3;
constexpr int64_t kInitialBalance = 1000;

std::string Account(int i) { return "acct/" + std::to_string(i); }
std::string TransferCount(int t) { return "count/" + std::to_string(t); }

[[noreturn]] void BankChild(const std::string& path, uint64_t seed, int ack_fd) {
  Options options;
  options.memtable_size = 64 * 1024;
  std::unique_ptr<Database> db = OpenOrDie(path, options);
  auto worker = [&](int id) {
    test::Random rnd(seed + static_cast<uint64_t>(id));
    for (;;) {
      const int from = static_cast<int>(rnd.uniform(kAccounts));
      int to = static_cast<int>(rnd.uniform(kAccounts - 1));
      if (to >= from) to++;
      const int64_t amount = 1 + static_cast<int64_t>(rnd.uniform(100));
      for (;;) {
        TransactionOptions to_opts;
        to_opts.isolation = id == 0 ? IsolationLevel::kSerializable : IsolationLevel::kSnapshot;
        auto t = db->begin_transaction(to_opts);
        if (!t.ok()) Die(3);
        Transaction* txn = t.value().get();
        std::string a, b, c;
        if (!txn->get(Account(from), &a).ok() || !txn->get(Account(to), &b).ok()) Die(3);
        Status cs = txn->get(TransferCount(id), &c);
        if (!cs.ok() && !cs.IsNotFound()) Die(3);
        const int64_t count = cs.ok() ? std::stoll(c) : 0;
        // Some padding so that the tiny memtable fills and flushes.
        const std::string pad(static_cast<size_t>(rnd.uniform(400)), ' ');
        if (!txn->put(Account(from), std::to_string(std::stoll(a) - amount) + pad).ok() ||
            !txn->put(Account(to), std::to_string(std::stoll(b) + amount) + pad).ok() ||
            !txn->put(TransferCount(id), std::to_string(count + 1)).ok()) {
          Die(3);
        }
        Status s = txn->commit();
        if (s.ok()) break;
        if (!s.IsConflict()) Die(3);
      }
      const int one = 1;
      Ack(ack_fd, &one, sizeof(one));
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kBankThreads; i++) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  Die(6);  // not reached
}

TEST(TransactionCrashTest, KillNineKeepsTheBankTotal) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::Random rnd(seed);
  test::TempDir dir("transaction_crash_bank");
  const std::string path = dir.path() + "/db";
  {
    auto r = Database::open(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    WriteBatch b;
    for (int i = 0; i < kAccounts; i++) {
      ASSERT_TRUE(b.put(Account(i), std::to_string(kInitialBalance)).ok());
    }
    ASSERT_TRUE(r.value()->write(b).ok());
    ASSERT_TRUE(r.value()->close().ok());
  }
  uint64_t acked_total = 0;
  constexpr int kRounds = 12;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t round_seed = seed + static_cast<uint64_t>(round) * 100;
    const size_t target = rnd.uniform(150);
    const std::vector<int> acked =
        RunAndKill<int>(&rnd, target, [&](int fd) { BankChild(path, round_seed, fd); });
    acked_total += acked.size();

    auto r = Database::open(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    int64_t sum = 0;
    int accounts = 0;
    Scan scan = db->scan_prefix("acct/");
    for (const auto& e : scan) {
      sum += std::stoll(e.value.ToString());
      accounts++;
    }
    ASSERT_TRUE(scan.status().ok()) << scan.status().ToString();
    ASSERT_EQ(kAccounts, accounts);
    ASSERT_EQ(kInitialBalance * kAccounts, sum) << "the bank total changed across kill -9";
    // Every acknowledged transfer survived (each counted itself in the same
    // transaction); at most one in flight per thread and round on top.
    uint64_t counted = 0;
    for (int t = 0; t < kBankThreads; t++) {
      std::string v;
      Status s = db->get(TransferCount(t), &v);
      if (s.ok()) counted += std::stoull(v);
    }
    EXPECT_GE(counted, acked_total) << "acknowledged transfers lost";
    EXPECT_LE(counted, acked_total + kBankThreads);
    // Resynchronise with what survived (the in-flight ones that made it).
    acked_total = counted;
    ASSERT_TRUE(db->close().ok());
  }
}

// ---------------------------------------------------------------- consistency levels

struct LevelAck {
  int32_t index;
  int32_t level;  // ConsistencyLevel
};

ConsistencyLevel PickLevel(test::Random* rnd) {
  switch (rnd->uniform(4)) {
    case 0: return ConsistencyLevel::kStrong;
    case 1: return ConsistencyLevel::kQuorum;
    default: return ConsistencyLevel::kEventual;
  }
}

std::string SeqValue(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%08d", i);
  return buf;
}

std::string CounterKey(int round) { return "c" + std::to_string(round) + "/seq"; }
std::string ItemKey(int round, int i) { return "c" + std::to_string(round) + "/item/" + SeqValue(i); }

[[noreturn]] void LevelsChild(const std::string& path, uint64_t seed, int round, int ack_fd) {
  Options options;
  options.wal_sync_mode = WalSyncMode::kOff;
  options.wal_sync_interval_ms = 50;
  std::unique_ptr<Database> db = OpenOrDie(path, options);
  test::Random rnd(seed + static_cast<uint64_t>(round));
  for (int i = 0;; i++) {
    const ConsistencyLevel level = PickLevel(&rnd);
    const std::string value = std::string(static_cast<size_t>(rnd.uniform(2000)), 'x');
    Status s;
    if (rnd.one_in(4)) {
      // Two plain writes: the item first, then the counter, so the prefix
      // property links them.
      s = db->put_with_consistency(ItemKey(round, i), value, ConsistencyLevel::kEventual);
      if (s.ok()) s = db->put_with_consistency(CounterKey(round), SeqValue(i), level);
    } else {
      TransactionOptions to;
      to.write_options.consistency = level;
      auto t = db->begin_transaction(to);
      if (!t.ok()) Die(3);
      if (!t.value()->put(ItemKey(round, i), value).ok() || !t.value()->put(CounterKey(round), SeqValue(i)).ok()) {
        Die(3);
      }
      s = t.value()->commit();
    }
    if (!s.ok()) Die(3);
    const LevelAck ack{i, static_cast<int32_t>(level)};
    Ack(ack_fd, &ack, sizeof(ack));
  }
}

TEST(TransactionCrashTest, KillNineConsistencyLevels) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::Random rnd(seed);
  test::TempDir dir("transaction_crash_levels");
  const std::string path = dir.path() + "/db";
  std::vector<int> survivors;  // per round: the last commit that survived
  int eventual_lost = 0;
  constexpr int kRounds = 15;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE("round " + std::to_string(round));
    const size_t target = rnd.uniform(100);
    const std::vector<LevelAck> acked =
        RunAndKill<LevelAck>(&rnd, target, [&](int fd) { LevelsChild(path, seed, round, fd); });
    int last_durable = -1;  // the last acknowledged kStrong or kQuorum commit
    for (size_t i = 0; i < acked.size(); i++) {
      ASSERT_EQ(static_cast<int>(i), acked[i].index);
      if (acked[i].level != static_cast<int32_t>(ConsistencyLevel::kEventual)) last_durable = acked[i].index;
    }
    const int last_acked = static_cast<int>(acked.size()) - 1;

    auto r = Database::open(path);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    std::string v;
    Status s = db->get(CounterKey(round), &v);
    ASSERT_TRUE(s.ok() || s.IsNotFound()) << s.ToString();
    const int survived = s.ok() ? std::stoi(v) : -1;
    EXPECT_GE(survived, last_durable) << "an acknowledged kStrong/kQuorum commit was lost (" << acked.size()
                                      << " acknowledged)";
    EXPECT_LE(survived, last_acked + 1) << "a commit never made appeared";
    eventual_lost += last_acked > survived ? last_acked - survived : 0;
    // The items present are exactly 0..survived (a prefix, no gap), plus
    // possibly the item of the plain-put pair in flight right after it.
    int items = 0;
    int max_item = -1;
    Scan scan = db->scan_prefix("c" + std::to_string(round) + "/item/");
    for (const auto& e : scan) {
      const int i = std::stoi(e.key.ToString().substr(e.key.size() - 8));
      ASSERT_EQ(items, i) << "gap in the surviving commits: item " << items << " missing, " << i << " present";
      items++;
      max_item = i;
    }
    ASSERT_TRUE(scan.status().ok()) << scan.status().ToString();
    EXPECT_TRUE(max_item == survived || max_item == survived + 1)
        << "items up to " << max_item << " but the counter says " << survived;
    survivors.push_back(survived);
    // Earlier rounds are untouched.
    for (int k = 0; k < round; k++) {
      std::string old;
      Status os = db->get(CounterKey(k), &old);
      const int was = survivors[static_cast<size_t>(k)];
      if (was < 0) {
        EXPECT_TRUE(os.IsNotFound()) << os.ToString();
      } else {
        EXPECT_TRUE(os.ok()) << os.ToString();
        if (os.ok()) {
          EXPECT_EQ(was, std::stoi(old)) << "round " << k;
        }
      }
    }
    ASSERT_TRUE(db->close().ok());
  }
  std::printf("kEventual commits lost to kill -9 over %d rounds: %d\n", kRounds, eventual_lost);
}

}  // namespace
}  // namespace lightning
