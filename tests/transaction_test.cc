// Copyright (c) Lightning authors. MIT License.
//
// Optimistic transactions (include/lightning/transaction.h) through the
// public API.
//
//  - TransactionTest.* basics: get sees the transaction's own writes
//    (put, overwrite, removal of a base key), reads stay at the snapshot
//    while others commit, iterators and scans merge the write set over the
//    snapshot in both directions (randomized, against a std::map, with the
//    base in the memtable, in level-0 tables and in the tree), abort and
//    the destructor discard.
//  - Misuse: commit twice, every method after commit/abort, abort twice,
//    Options::max_active_transactions, begin_transaction and transactions
//    after close, invalid keys and values. PutAfterCloseIsClosed is the
//    regression test of a bug (put/remove/read-only commit of a transaction
//    whose database was closed returned OK instead of Closed).
//  - Isolation: lost updates are impossible (also against plain puts and
//    removes); write skew commits under kSnapshot and is refused under
//    kSerializable; phantoms and reads of absent keys conflict under
//    kSerializable only; read-only serializable transactions always commit.
//  - Conflict detection across tiers: the newer version is flushed to a
//    level-0 table or compacted into the tree before the commit (the
//    non-memtable path of CheckConflicts), for writes, removals, serializable
//    reads and ranges; and the cases that must not conflict.
//  - Durability API: put_with_consistency, put_batch, delete_batch, and
//    commits at every consistency level, readable at once.
//  - ...Concurrent... (CI also runs these under ThreadSanitizer):
//    commits are atomic for concurrent scanners and get_batch readers; the
//    bank invariant (transfers by 4 threads with retries on Conflict, 2
//    threads summing at snapshots and in read-only transactions; tiny
//    memtables so flushes and compactions run meanwhile; both isolation
//    levels; the total also after reopen), a 2-account high-contention bank
//    that must see conflicts and progress; group commit with kStrong
//    commits on overlapping counters, where every success is visible and
//    every Conflict left nothing; write skew under load (doctors on call)
//    never happens under kSerializable.
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./transaction_test --gtest_filter=...
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "lightning/db.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/scan.h"
#include "lightning/snapshot.h"
#include "lightning/transaction.h"
#include "lightning/write_batch.h"
#include "util/model_db_test.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using Model = std::map<std::string, std::string>;
using Entries = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kAbsent = "<absent>";

std::string Key(const char* prefix, uint64_t i, int width = 4) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%s%0*llu", prefix, width, static_cast<unsigned long long>(i));
  return buf;
}

const char* IsoName(IsolationLevel iso) { return iso == IsolationLevel::kSnapshot ? "Snapshot" : "Serializable"; }

std::string IsoParamName(const ::testing::TestParamInfo<IsolationLevel>& param_info) {
  return IsoName(param_info.param);
}

TransactionOptions TxnOptions(IsolationLevel iso, ConsistencyLevel consistency = ConsistencyLevel::kDefault) {
  TransactionOptions o;
  o.isolation = iso;
  o.write_options.consistency = consistency;
  return o;
}

// The value of key, or kAbsent; an error as "<error: ...>".
std::string Read(Database* db, const std::string& key, const ReadOptions& ro = ReadOptions()) {
  std::string value;
  Status s = db->get(key, &value, ro);
  if (s.IsNotFound()) return kAbsent;
  if (!s.ok()) return "<error: " + s.ToString() + ">";
  return value;
}

std::string Read(Transaction* txn, const std::string& key) {
  std::string value;
  Status s = txn->get(key, &value);
  if (s.IsNotFound()) return kAbsent;
  if (!s.ok()) return "<error: " + s.ToString() + ">";
  return value;
}

Entries Collect(Scan scan) {
  Entries out;
  for (const auto& e : scan) out.emplace_back(e.key.ToString(), e.value.ToString());
  EXPECT_TRUE(scan.status().ok()) << scan.status().ToString();
  return out;
}

Entries Forward(Iterator* it) {
  Entries out;
  for (it->seek_to_first(); it->valid(); it->next()) out.emplace_back(it->key().ToString(), it->value().ToString());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

Entries Backward(Iterator* it) {
  Entries out;
  for (it->seek_to_last(); it->valid(); it->prev()) out.emplace_back(it->key().ToString(), it->value().ToString());
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

class TransactionTest : public ::testing::Test {
 protected:
  TransactionTest() : dir_("transaction_test") {}
  void TearDown() override {
    if (db_ != nullptr) { EXPECT_TRUE(db_->close().ok()); }
    db_.reset();
  }

  void open(Options options = Options()) {
    options_ = options;
    auto r = Database::open(dir_.path() + "/db", options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r.value());
  }
  void reopen() {
    ASSERT_TRUE(db_->close().ok());
    db_.reset();
    ASSERT_NO_FATAL_FAILURE(open(options_));
  }
  std::unique_ptr<Transaction> begin(IsolationLevel iso = IsolationLevel::kSnapshot) {
    auto r = db_->begin_transaction(TxnOptions(iso));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return nullptr;
    return std::move(r.value());
  }
  void put(const std::string& k, const std::string& v) { ASSERT_TRUE(db_->put(k, v).ok()); }
  std::string read(const std::string& k) { return Read(db_.get(), k); }

  test::TempDir dir_;
  Options options_;
  std::unique_ptr<Database> db_;
};

// ---------------------------------------------------------------- basics

TEST_F(TransactionTest, GetSeesOwnWrites) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "1");
  put("b", "2");
  put("c", "3");
  for (IsolationLevel iso : {IsolationLevel::kSnapshot, IsolationLevel::kSerializable}) {
    SCOPED_TRACE(IsoName(iso));
    auto txn = begin(iso);
    ASSERT_NE(txn, nullptr);
    EXPECT_EQ("1", Read(txn.get(), "a"));
    ASSERT_TRUE(txn->put("a", "10").ok());
    EXPECT_EQ("10", Read(txn.get(), "a"));
    ASSERT_TRUE(txn->put("a", "11").ok());  // overwrite of its own write
    EXPECT_EQ("11", Read(txn.get(), "a"));
    ASSERT_TRUE(txn->remove("b").ok());  // a base key
    EXPECT_EQ(kAbsent, Read(txn.get(), "b"));
    Result<std::string> rb = txn->get("b");
    EXPECT_TRUE(rb.status().IsNotFound()) << rb.status().ToString();
    ASSERT_TRUE(txn->put("d", "4").ok());  // a new key
    EXPECT_EQ("4", Read(txn.get(), "d"));
    ASSERT_TRUE(txn->remove("d").ok());  // put then remove
    EXPECT_EQ(kAbsent, Read(txn.get(), "d"));
    ASSERT_TRUE(txn->remove("zz").ok());  // removing an absent key is fine
    ASSERT_TRUE(txn->remove("c").ok());
    ASSERT_TRUE(txn->put("c", "").ok());  // remove then put (an empty value)
    EXPECT_EQ("", Read(txn.get(), "c"));
    EXPECT_EQ("11", txn->get("a").value());
    // Nobody else sees any of it yet.
    EXPECT_EQ("1", read("a"));
    EXPECT_EQ("2", read("b"));
    EXPECT_EQ("3", read("c"));
    ASSERT_TRUE(txn->abort().ok());
  }
  // Commit applies exactly the final state of the write set.
  auto txn = begin();
  ASSERT_TRUE(txn->put("a", "10").ok());
  ASSERT_TRUE(txn->put("a", "11").ok());
  ASSERT_TRUE(txn->remove("b").ok());
  ASSERT_TRUE(txn->put("d", "4").ok());
  ASSERT_TRUE(txn->remove("d").ok());
  ASSERT_TRUE(txn->put("e", "5").ok());
  Status s = txn->commit();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("11", read("a"));
  EXPECT_EQ(kAbsent, read("b"));
  EXPECT_EQ("3", read("c"));
  EXPECT_EQ(kAbsent, read("d"));
  EXPECT_EQ("5", read("e"));
}

TEST_F(TransactionTest, ReadsAtSnapshotIgnoreLaterCommits) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("x", "old");
  put("y", "old");
  for (IsolationLevel iso : {IsolationLevel::kSnapshot, IsolationLevel::kSerializable}) {
    SCOPED_TRACE(IsoName(iso));
    auto txn = begin(iso);
    ASSERT_NE(txn, nullptr);
    const uint64_t seq = txn->snapshot_sequence();
    // Later commits by others: a plain put, a removal, an insert, another
    // transaction, a flush and a compaction.
    put("x", "new");
    ASSERT_TRUE(db_->remove("y").ok());
    put("z", "new");
    {
      auto other = begin();
      ASSERT_TRUE(other->put("w", "new").ok());
      ASSERT_TRUE(other->commit().ok());
    }
    ASSERT_TRUE(db_->flush().ok());
    ASSERT_TRUE(db_->compact().ok());
    EXPECT_EQ(seq, txn->snapshot_sequence());
    EXPECT_EQ("old", Read(txn.get(), "x"));
    EXPECT_EQ("old", Read(txn.get(), "y"));
    EXPECT_EQ(kAbsent, Read(txn.get(), "z"));
    EXPECT_EQ(kAbsent, Read(txn.get(), "w"));
    auto it = txn->new_iterator();
    EXPECT_EQ((Entries{{"x", "old"}, {"y", "old"}}), Forward(it.get()));
    EXPECT_EQ((Entries{{"y", "old"}, {"x", "old"}}), Backward(it.get()));
    it.reset();
    EXPECT_EQ((Entries{{"x", "old"}, {"y", "old"}}), Collect(txn->scan(std::nullopt, std::nullopt)));
    ASSERT_TRUE(txn->abort().ok());
    // Put the world back for the next isolation level.
    put("x", "old");
    put("y", "old");
    ASSERT_TRUE(db_->remove("z").ok());
    ASSERT_TRUE(db_->remove("w").ok());
  }
}

// The merged view (snapshot + write set) against a std::map, in every
// direction and through every scan shape, with the base in each tier.
TEST_F(TransactionTest, IteratorsAndScansMergeOwnWritesOverTheSnapshot) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::Random rnd(seed);
  ASSERT_NO_FATAL_FAILURE(open());
  Model base;
  constexpr uint64_t kKeys = 60;
  for (uint64_t i = 0; i < kKeys; i += 2) {
    const std::string k = Key("k", i, 3);
    base[k] = "base" + std::to_string(i);
    put(k, base[k]);
  }
  for (const char* tier : {"memtable", "level0", "tree"}) {
    SCOPED_TRACE(tier);
    if (std::string(tier) == "level0") { ASSERT_TRUE(db_->flush().ok()); }
    if (std::string(tier) == "tree") { ASSERT_TRUE(db_->compact().ok()); }
    for (IsolationLevel iso : {IsolationLevel::kSnapshot, IsolationLevel::kSerializable}) {
      SCOPED_TRACE(IsoName(iso));
      auto txn = begin(iso);
      ASSERT_NE(txn, nullptr);
      // A write committed by someone else after the snapshot is not seen.
      put(Key("k", 1, 3), "later");
      Model model = base;
      for (int op = 0; op < 40; op++) {
        const std::string k = Key("k", rnd.uniform(kKeys + 4), 3);
        if (rnd.one_in(3)) {
          ASSERT_TRUE(txn->remove(k).ok());
          model.erase(k);
        } else {
          const std::string v = "txn" + std::to_string(op);
          ASSERT_TRUE(txn->put(k, v).ok());
          model[k] = v;
        }
      }
      const Entries want(model.begin(), model.end());
      const Entries want_rev(model.rbegin(), model.rend());
      auto it = txn->new_iterator();
      ASSERT_EQ(want, Forward(it.get()));
      ASSERT_EQ(want_rev, Backward(it.get()));
      // Random seeks with walks that change direction.
      for (int round = 0; round < 30; round++) {
        const std::string target = Key("k", rnd.uniform(kKeys + 6), 3) + (rnd.one_in(3) ? "x" : "");
        auto pos = model.end();
        if (rnd.one_in(2)) {
          it->seek(target);
          pos = model.lower_bound(target);
        } else {
          it->seek_for_prev(target);
          pos = model.upper_bound(target);
          pos = pos == model.begin() ? model.end() : std::prev(pos);
        }
        for (int step = 0; step < 8; step++) {
          ASSERT_EQ(pos != model.end(), it->valid()) << "target " << target << " step " << step;
          if (pos == model.end()) break;
          ASSERT_EQ(pos->first, it->key().ToString());
          ASSERT_EQ(pos->second, it->value().ToString());
          if (rnd.one_in(2)) {
            it->next();
            ++pos;
          } else {
            it->prev();
            pos = pos == model.begin() ? model.end() : std::prev(pos);
          }
        }
      }
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      it.reset();
      // Scans: bounds, reverse, prefix, limit.
      for (int round = 0; round < 20; round++) {
        std::string lo = Key("k", rnd.uniform(kKeys), 3), hi = Key("k", rnd.uniform(kKeys + 4), 3);
        if (lo > hi) std::swap(lo, hi);
        const size_t limit = rnd.one_in(2) ? 0 : 1 + rnd.uniform(5);
        Entries fwd, rev;
        for (auto i = model.lower_bound(lo); i != model.lower_bound(hi); ++i) fwd.push_back(*i);
        rev.assign(fwd.rbegin(), fwd.rend());
        if (limit != 0 && fwd.size() > limit) fwd.resize(limit);
        if (limit != 0 && rev.size() > limit) rev.resize(limit);
        ASSERT_EQ(fwd, Collect(txn->scan(Slice(lo), Slice(hi), limit))) << lo << ".." << hi << " limit " << limit;
        ASSERT_EQ(rev, Collect(txn->scan_reverse(Slice(lo), Slice(hi), limit))) << lo << ".." << hi;
      }
      for (const char* prefix : {"k00", "k01", "k05", "k06", "k1", "q"}) {
        Entries want_prefix;
        for (auto i = model.lower_bound(prefix); i != model.end() && i->first.rfind(prefix, 0) == 0; ++i) {
          want_prefix.push_back(*i);
        }
        ASSERT_EQ(want_prefix, Collect(txn->scan_prefix(prefix))) << prefix;
      }
      ASSERT_TRUE(txn->abort().ok());
      ASSERT_TRUE(db_->remove(Key("k", 1, 3)).ok());
    }
  }
}

TEST_F(TransactionTest, AbortAndDestructorDiscardWrites) {
  Options o;
  o.max_active_transactions = 1;
  ASSERT_NO_FATAL_FAILURE(open(o));
  put("a", "base");
  {
    auto txn = begin();
    ASSERT_TRUE(txn->put("a", "aborted").ok());
    ASSERT_TRUE(txn->put("b", "aborted").ok());
    ASSERT_TRUE(txn->abort().ok());
  }
  {
    auto txn = begin();  // the abort freed the only slot
    ASSERT_NE(txn, nullptr);
    ASSERT_TRUE(txn->remove("a").ok());
    ASSERT_TRUE(txn->put("c", "dropped").ok());
    // Destroyed without commit or abort.
  }
  EXPECT_EQ("base", read("a"));
  EXPECT_EQ(kAbsent, read("b"));
  EXPECT_EQ(kAbsent, read("c"));
  {
    auto txn = begin();  // the destructor freed the slot too
    ASSERT_NE(txn, nullptr);
    // A transaction that wrote nothing commits trivially.
    EXPECT_TRUE(txn->commit().ok());
  }
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ("base", read("a"));
  EXPECT_EQ(kAbsent, read("b"));
  EXPECT_EQ(kAbsent, read("c"));
}

// Writers commit transactions that set all of a group of keys to one tag
// (and remove or re-insert a marker key with it); readers must never see a
// mix, neither in scans nor in get_batch nor through a read-only
// transaction.
TEST(TransactionConcurrentTest, ConcurrentCommitsAreAtomicForReaders) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::TempDir dir("transaction_atomic");
  Options options;
  options.memtable_size = 64 * 1024;
  options.target_file_size = 64 * 1024;
  auto r = Database::open(dir.path() + "/db", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());
  constexpr int kGroupKeys = 10;
  std::vector<std::string> keys;
  for (int i = 0; i < kGroupKeys; i++) keys.push_back(Key("g", static_cast<uint64_t>(i), 2));
  {
    WriteBatch b;
    for (const auto& k : keys) { ASSERT_TRUE(b.put(k, "tag-init").ok()); }
    ASSERT_TRUE(db->write(b).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<uint64_t> commits{0}, checks{0};
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
    stop = true;
  };
  auto writer = [&](int id) {
    test::Random rnd(seed + static_cast<uint64_t>(id));
    for (int n = 0; n < 150 && !stop.load(); n++) {
      auto t = db->begin_transaction(TxnOptions(rnd.one_in(2) ? IsolationLevel::kSnapshot
                                                              : IsolationLevel::kSerializable));
      if (!t.ok()) return fail("begin: " + t.status().ToString());
      Transaction* txn = t.value().get();
      const std::string tag = "tag-" + std::to_string(id) + "-" + std::to_string(n) + std::string(rnd.uniform(300), '.');
      std::string v;
      if (!txn->get(keys[0], &v).ok()) return fail("txn get");
      for (const auto& k : keys) {
        if (!txn->put(k, tag).ok()) return fail("txn put");
      }
      Status s = txn->commit();
      if (s.ok()) {
        commits++;
      } else if (!s.IsConflict()) {
        return fail("commit: " + s.ToString());
      }
    }
  };
  auto check_all_equal = [&](const std::vector<std::string>& values, const char* how) {
    if (values.size() != keys.size()) return fail(std::string(how) + ": " + std::to_string(values.size()) + " keys");
    for (const auto& v : values) {
      if (v != values[0]) return fail(std::string(how) + ": torn commit: " + v.substr(0, 20) + " vs " + values[0].substr(0, 20));
    }
    checks++;
  };
  auto reader = [&](int id) {
    test::Random rnd(seed + 100 + static_cast<uint64_t>(id));
    while (!stop.load()) {
      std::vector<std::string> values;
      switch (rnd.uniform(3)) {
        case 0: {
          Scan scan = db->scan(Slice("g"), Slice("h"));
          for (const auto& e : scan) values.push_back(e.value.ToString());
          if (!scan.status().ok()) return fail("scan: " + scan.status().ToString());
          check_all_equal(values, "scan");
          break;
        }
        case 1: {
          for (const auto& res : db->get_batch(keys)) {
            if (!res.ok()) return fail("get_batch: " + res.status().ToString());
            values.push_back(res.value());
          }
          check_all_equal(values, "get_batch");
          break;
        }
        default: {
          auto t = db->begin_transaction(TxnOptions(IsolationLevel::kSerializable));
          if (!t.ok()) return fail("begin: " + t.status().ToString());
          Scan scan = t.value()->scan_reverse(Slice("g"), Slice("h"));
          for (const auto& e : scan) values.push_back(e.value.ToString());
          if (!scan.status().ok()) return fail("txn scan: " + scan.status().ToString());
          check_all_equal(values, "txn scan");
          Status s = t.value()->commit();  // read-only: always commits
          if (!s.ok()) return fail("read-only commit: " + s.ToString());
        }
      }
    }
  };
  std::vector<std::thread> writers, readers;
  for (int i = 0; i < 3; i++) writers.emplace_back(writer, i);
  for (int i = 0; i < 2; i++) readers.emplace_back(reader, i);
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_GT(commits.load(), 0u);
  EXPECT_GT(checks.load(), 0u);
  std::printf("commits=%llu checks=%llu\n", static_cast<unsigned long long>(commits.load()),
              static_cast<unsigned long long>(checks.load()));
  ASSERT_TRUE(db->close().ok());
}

// ---------------------------------------------------------------- misuse

TEST_F(TransactionTest, EveryMethodAfterCommitOrAbortIsClosed) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "1");
  for (int finish_by_commit = 0; finish_by_commit < 2; finish_by_commit++) {
    for (int with_writes = 0; with_writes < 2; with_writes++) {
      SCOPED_TRACE(std::string(finish_by_commit ? "commit" : "abort") + (with_writes ? " with writes" : " read-only"));
      auto txn = begin();
      if (with_writes) { ASSERT_TRUE(txn->put("b", "2").ok()); }
      ASSERT_TRUE((finish_by_commit ? txn->commit() : txn->abort()).ok());
      std::string v;
      EXPECT_TRUE(txn->commit().IsClosed());
      EXPECT_TRUE(txn->abort().IsClosed());
      EXPECT_TRUE(txn->get("a", &v).IsClosed());
      EXPECT_TRUE(txn->get("a").status().IsClosed());
      EXPECT_TRUE(txn->put("a", "x").IsClosed());
      EXPECT_TRUE(txn->remove("a").IsClosed());
      auto it = txn->new_iterator();
      ASSERT_NE(it, nullptr);
      it->seek_to_first();
      EXPECT_FALSE(it->valid());
      EXPECT_TRUE(it->status().IsClosed()) << it->status().ToString();
      Scan scan = txn->scan(std::nullopt, std::nullopt);
      int n = 0;
      for (const auto& e : scan) {
        (void)e;
        n++;
      }
      EXPECT_EQ(0, n);
      EXPECT_TRUE(scan.status().IsClosed()) << scan.status().ToString();
      // The message says why.
      Status s = txn->put("a", "x");
      EXPECT_NE(std::string::npos, s.message().find("finished")) << s.ToString();
      EXPECT_TRUE(txn->commit().IsClosed());  // still closed, and nothing applied
      EXPECT_EQ("1", read("a"));
    }
  }
  // A commit that failed with Conflict also finishes the transaction.
  auto txn = begin();
  ASSERT_TRUE(txn->put("a", "mine").ok());
  put("a", "theirs");
  EXPECT_TRUE(txn->commit().IsConflict());
  EXPECT_TRUE(txn->commit().IsClosed());
  EXPECT_TRUE(txn->put("a", "x").IsClosed());
  EXPECT_TRUE(txn->abort().IsClosed());
  EXPECT_EQ("theirs", read("a"));
}

TEST_F(TransactionTest, MaxActiveTransactions) {
  Options o;
  o.max_active_transactions = 3;
  ASSERT_NO_FATAL_FAILURE(open(o));
  std::vector<std::unique_ptr<Transaction>> txns;
  for (int i = 0; i < 3; i++) {
    txns.push_back(begin());
    ASSERT_NE(txns.back(), nullptr);
  }
  auto refused = db_->begin_transaction();
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.status().IsBusy()) << refused.status().ToString();
  EXPECT_NE(std::string::npos, refused.status().message().find("max_active_transactions"))
      << refused.status().ToString();
  EXPECT_NE(std::string::npos, refused.status().message().find("3")) << refused.status().ToString();
  // Refusals do not leak slots: still refused after many tries.
  for (int i = 0; i < 10; i++) { EXPECT_TRUE(db_->begin_transaction().status().IsBusy()); }
  // Commit one: a new one starts, and the 4th is refused again.
  ASSERT_TRUE(txns[0]->put("k", "v").ok());
  ASSERT_TRUE(txns[0]->commit().ok());
  auto again = db_->begin_transaction();
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(db_->begin_transaction().status().IsBusy());
  // A finished transaction that is still alive does not count.
  ASSERT_TRUE(txns[1]->abort().ok());
  auto third = db_->begin_transaction();
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_TRUE(db_->begin_transaction().status().IsBusy());
  // A failed (Conflict) commit frees its slot too.
  ASSERT_TRUE(txns[2]->put("k", "mine").ok());
  put("k", "theirs");
  EXPECT_TRUE(txns[2]->commit().IsConflict());
  auto fourth = db_->begin_transaction();
  ASSERT_TRUE(fourth.ok()) << fourth.status().ToString();
  EXPECT_TRUE(db_->begin_transaction().status().IsBusy());
  // Destroying them frees everything.
  txns.clear();
  again.value().reset();
  third.value().reset();
  fourth.value().reset();
  for (int i = 0; i < 3; i++) txns.push_back(begin());
  for (auto& t : txns) { ASSERT_NE(t, nullptr); }
  EXPECT_TRUE(db_->begin_transaction().status().IsBusy());
}

TEST(TransactionOptionsTest, MaxActiveTransactionsMustBePositive) {
  test::TempDir dir("transaction_options");
  Options o;
  o.max_active_transactions = 0;
  auto r = Database::open(dir.path() + "/db", o);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
}

TEST_F(TransactionTest, TransactionsAfterClose) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "1");
  auto live = begin();
  ASSERT_NE(live, nullptr);
  ASSERT_TRUE(live->put("b", "2").ok());
  auto live2 = begin();
  ASSERT_TRUE(db_->close().ok());
  auto r = db_->begin_transaction();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsClosed()) << r.status().ToString();
  // A transaction that outlived close(): every method is Closed.
  std::string v;
  EXPECT_TRUE(live->get("a", &v).IsClosed());
  EXPECT_TRUE(live->commit().IsClosed());
  EXPECT_TRUE(live->commit().IsClosed());
  auto it = live2->new_iterator();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsClosed()) << it->status().ToString();
  it.reset();
  Status aborted = live2->abort();
  EXPECT_TRUE(aborted.ok() || aborted.IsClosed()) << aborted.ToString();
  live.reset();
  live2.reset();
  db_.reset();
  ASSERT_NO_FATAL_FAILURE(open());
  EXPECT_EQ("1", read("a"));
  EXPECT_EQ(kAbsent, read("b"));
}

// transaction.h: "after the Database is closed its methods return Closed".
// Regression: put() and remove() of a transaction whose database was closed
// returned OK (buffering a write that could never commit), and commit() of a
// transaction without writes returned OK.
TEST_F(TransactionTest, PutAfterCloseIsClosed) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto live = begin();
  auto read_only = begin();
  ASSERT_NE(live, nullptr);
  ASSERT_TRUE(db_->close().ok());
  EXPECT_TRUE(live->put("b", "2").IsClosed());
  EXPECT_TRUE(live->remove("b").IsClosed());
  EXPECT_TRUE(read_only->commit().IsClosed());
}

TEST_F(TransactionTest, InvalidKeysAndValues) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "1");
  auto txn = begin(IsolationLevel::kSerializable);
  const std::string big_key(kMaxKeySize + 1, 'k');
  const std::string max_key(kMaxKeySize, 'm');
  std::string v;
  EXPECT_TRUE(txn->put("", "v").IsInvalidArgument());
  EXPECT_TRUE(txn->remove("").IsInvalidArgument());
  EXPECT_TRUE(txn->get("", &v).IsInvalidArgument());
  EXPECT_TRUE(txn->put(big_key, "v").IsInvalidArgument());
  EXPECT_TRUE(txn->remove(big_key).IsInvalidArgument());
  EXPECT_TRUE(txn->get(big_key, &v).IsInvalidArgument());
  {
    const std::string big_value(kMaxValueSize + 1, 'v');
    EXPECT_TRUE(txn->put("a", big_value).IsInvalidArgument());
  }
  // The refused writes left nothing in the write set, and the transaction
  // goes on.
  EXPECT_EQ("1", Read(txn.get(), "a"));
  ASSERT_TRUE(txn->put(max_key, "ok").ok());
  EXPECT_EQ("ok", Read(txn.get(), max_key));
  Status s = txn->commit();
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("ok", read(max_key));
  EXPECT_EQ("1", read("a"));
  EXPECT_EQ(kAbsent, read(big_key.substr(0, 10)));
}

// ---------------------------------------------------------------- isolation

class TransactionIsolationTest : public TransactionTest,
                                 public ::testing::WithParamInterface<IsolationLevel> {};

TEST_P(TransactionIsolationTest, LostUpdateIsImpossible) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("counter", "0");
  put("keep", "kept");
  auto t1 = begin(GetParam());
  auto t2 = begin(GetParam());
  const int c1 = std::stoi(Read(t1.get(), "counter"));
  const int c2 = std::stoi(Read(t2.get(), "counter"));
  ASSERT_TRUE(t1->put("counter", std::to_string(c1 + 1)).ok());
  ASSERT_TRUE(t2->put("counter", std::to_string(c2 + 1)).ok());
  ASSERT_TRUE(t2->put("t2-marker", "x").ok());
  ASSERT_TRUE(t2->remove("keep").ok());
  ASSERT_TRUE(t1->commit().ok());
  Status s = t2->commit();
  EXPECT_TRUE(s.IsConflict()) << s.ToString();
  EXPECT_NE(std::string::npos, s.message().find("wrote")) << s.ToString();
  EXPECT_EQ("1", read("counter"));
  EXPECT_EQ(kAbsent, read("t2-marker"));  // nothing of t2 applied
  EXPECT_EQ("kept", read("keep"));
  // The retry, from a new snapshot, succeeds.
  auto t3 = begin(GetParam());
  ASSERT_TRUE(t3->put("counter", std::to_string(std::stoi(Read(t3.get(), "counter")) + 1)).ok());
  ASSERT_TRUE(t3->commit().ok());
  EXPECT_EQ("2", read("counter"));
}

TEST_P(TransactionIsolationTest, PlainWritesAfterTheSnapshotConflict) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "0");
  put("b", "0");
  // A plain put, a plain remove and a batch after the snapshot, each of a key
  // the transaction writes (blindly, without reading it).
  for (int how = 0; how < 3; how++) {
    SCOPED_TRACE(how);
    auto txn = begin(GetParam());
    ASSERT_TRUE(txn->put("a", "txn").ok());
    ASSERT_TRUE(txn->put("c", "txn").ok());
    if (how == 0) put("a", "plain");
    if (how == 1) { ASSERT_TRUE(db_->remove("a").ok()); }
    if (how == 2) { ASSERT_TRUE(db_->put_batch({{"zz", "1"}, {"a", "batch"}}).ok()); }
    const std::string before = read("a");
    Status s = txn->commit();
    EXPECT_TRUE(s.IsConflict()) << s.ToString();
    EXPECT_EQ(before, read("a"));
    EXPECT_EQ(kAbsent, read("c"));
  }
  // Writes before the snapshot, or to other keys, do not conflict.
  put("a", "before");
  auto txn = begin(GetParam());
  put("b", "other key");
  ASSERT_TRUE(txn->put("a", "txn").ok());
  Status s = txn->commit();
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ("txn", read("a"));
  // A removal of a key that did not exist, committed after the snapshot, is
  // a write too.
  auto t2 = begin(GetParam());
  ASSERT_TRUE(db_->remove("never").ok());
  ASSERT_TRUE(t2->put("never", "x").ok());
  EXPECT_TRUE(t2->commit().IsConflict());
}

// Doctors on call: each transaction checks that the other doctor is on call
// and takes itself off.
TEST_P(TransactionIsolationTest, WriteSkew) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("alice", "on");
  put("bob", "on");
  auto ta = begin(GetParam());
  auto tb = begin(GetParam());
  auto on_call = [](Transaction* t) {
    return (Read(t, "alice") == "on" ? 1 : 0) + (Read(t, "bob") == "on" ? 1 : 0);
  };
  ASSERT_EQ(2, on_call(ta.get()));
  ASSERT_EQ(2, on_call(tb.get()));
  ASSERT_TRUE(ta->put("alice", "off").ok());
  ASSERT_TRUE(tb->put("bob", "off").ok());
  ASSERT_TRUE(ta->commit().ok());
  Status s = tb->commit();
  if (GetParam() == IsolationLevel::kSnapshot) {
    EXPECT_TRUE(s.ok()) << s.ToString();  // write skew is allowed
    EXPECT_EQ("off", read("alice"));
    EXPECT_EQ("off", read("bob"));
  } else {
    EXPECT_TRUE(s.IsConflict()) << s.ToString();
    EXPECT_EQ("off", read("alice"));
    EXPECT_EQ("on", read("bob"));
  }
}

// The same with scans instead of gets (the reads are ranges).
TEST_P(TransactionIsolationTest, WriteSkewThroughScans) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("doc/alice", "on");
  put("doc/bob", "on");
  auto ta = begin(GetParam());
  auto tb = begin(GetParam());
  ASSERT_EQ(2u, Collect(ta->scan_prefix("doc/")).size());
  ASSERT_EQ(2u, Collect(tb->scan_reverse(Slice("doc/"), Slice("doc0"))).size());
  ASSERT_TRUE(ta->put("doc/alice", "off").ok());
  ASSERT_TRUE(tb->put("doc/bob", "off").ok());
  ASSERT_TRUE(ta->commit().ok());
  Status s = tb->commit();
  if (GetParam() == IsolationLevel::kSnapshot) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  } else {
    EXPECT_TRUE(s.IsConflict()) << s.ToString();
  }
}

TEST_P(TransactionIsolationTest, Phantom) {
  ASSERT_NO_FATAL_FAILURE(open());
  for (int i : {0, 1, 2, 4, 5, 6, 7, 9}) put("k" + std::to_string(i), "v");
  // Forward scan of [k1, k5), an insert inside (k3) by another transaction.
  {
    auto ta = begin(GetParam());
    EXPECT_EQ(3u, Collect(ta->scan(Slice("k1"), Slice("k5"))).size());
    auto tb = begin(GetParam());
    ASSERT_TRUE(tb->put("k3", "new").ok());
    ASSERT_TRUE(tb->commit().ok());
    ASSERT_TRUE(ta->put("count", "3").ok());
    Status s = ta->commit();
    if (GetParam() == IsolationLevel::kSnapshot) {
      EXPECT_TRUE(s.ok()) << s.ToString();
    } else {
      EXPECT_TRUE(s.IsConflict()) << s.ToString();
      EXPECT_EQ(kAbsent, read("count"));
    }
    ASSERT_TRUE(db_->remove("k3").ok());
    ASSERT_TRUE(db_->remove("count").ok());
  }
  // Reverse scan, and a plain remove inside the range.
  {
    auto ta = begin(GetParam());
    EXPECT_EQ(3u, Collect(ta->scan_reverse(Slice("k1"), Slice("k5"))).size());
    ASSERT_TRUE(db_->remove("k2").ok());
    ASSERT_TRUE(ta->put("count", "3").ok());
    Status s = ta->commit();
    EXPECT_EQ(GetParam() == IsolationLevel::kSnapshot, s.ok()) << s.ToString();
    put("k2", "v");
    ASSERT_TRUE(db_->remove("count").ok());
  }
  // An insert outside what the scan covered (it stopped at k5) is no
  // conflict, nor an update of a key before the range.
  {
    auto ta = begin(GetParam());
    EXPECT_EQ(3u, Collect(ta->scan(Slice("k1"), Slice("k5"))).size());
    put("k8", "new");
    put("k0", "new");
    ASSERT_TRUE(ta->put("count", "3").ok());
    Status s = ta->commit();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // A scan with a limit covered only up to where it stopped.
  {
    auto ta = begin(GetParam());
    EXPECT_EQ(2u, Collect(ta->scan(Slice("k1"), std::nullopt, 2)).size());  // k1, k2
    put("k7", "newer");
    ASSERT_TRUE(ta->put("count", "2").ok());
    Status s = ta->commit();
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  // An iterator that walked to the end covered everything after its start.
  {
    auto ta = begin(GetParam());
    auto it = ta->new_iterator();
    int n = 0;
    for (it->seek("k6"); it->valid(); it->next()) n++;
    EXPECT_EQ(4, n);  // k6 k7 k8 k9
    it.reset();
    put("zzz", "appended");
    ASSERT_TRUE(ta->put("count", "4").ok());
    Status s = ta->commit();
    EXPECT_EQ(GetParam() == IsolationLevel::kSnapshot, s.ok()) << s.ToString();
  }
}

TEST_P(TransactionIsolationTest, ReadOfAbsentKeyThenInserted) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto ta = begin(GetParam());
  EXPECT_EQ(kAbsent, Read(ta.get(), "x"));
  auto tb = begin(GetParam());
  ASSERT_TRUE(tb->put("x", "inserted").ok());
  ASSERT_TRUE(tb->commit().ok());
  ASSERT_TRUE(ta->put("y", "x was absent").ok());
  Status s = ta->commit();
  if (GetParam() == IsolationLevel::kSnapshot) {
    EXPECT_TRUE(s.ok()) << s.ToString();
  } else {
    EXPECT_TRUE(s.IsConflict()) << s.ToString();
    EXPECT_EQ(kAbsent, read("y"));
  }
  // A key read and then written by the transaction itself is no conflict
  // with itself.
  auto tc = begin(GetParam());
  EXPECT_EQ("inserted", Read(tc.get(), "x"));
  ASSERT_TRUE(tc->put("x", "mine").ok());
  EXPECT_EQ("mine", Read(tc.get(), "x"));
  EXPECT_TRUE(tc->commit().ok());
}

TEST_P(TransactionIsolationTest, ReadOnlyTransactionsAlwaysCommit) {
  ASSERT_NO_FATAL_FAILURE(open());
  put("a", "1");
  put("b", "1");
  auto ta = begin(GetParam());
  EXPECT_EQ("1", Read(ta.get(), "a"));
  EXPECT_EQ(kAbsent, Read(ta.get(), "c"));
  EXPECT_EQ(2u, Collect(ta->scan(std::nullopt, std::nullopt)).size());
  put("a", "2");
  put("c", "new");
  ASSERT_TRUE(db_->remove("b").ok());
  ASSERT_TRUE(db_->flush().ok());
  // It still reads its snapshot, and commits.
  EXPECT_EQ("1", Read(ta.get(), "a"));
  EXPECT_EQ("1", Read(ta.get(), "b"));
  Status s = ta->commit();
  EXPECT_TRUE(s.ok()) << s.ToString();
}

// The same key written by two transactions that both read nothing: first
// committer wins in both levels, and the loser's other writes are dropped.
TEST_P(TransactionIsolationTest, FirstCommitterWins) {
  ASSERT_NO_FATAL_FAILURE(open());
  auto t1 = begin(GetParam());
  auto t2 = begin(GetParam());
  ASSERT_TRUE(t1->put("k", "1").ok());
  ASSERT_TRUE(t2->put("k", "2").ok());
  ASSERT_TRUE(t2->put("only2", "2").ok());
  ASSERT_TRUE(t2->commit().ok());
  EXPECT_TRUE(t1->commit().IsConflict());
  EXPECT_EQ("2", read("k"));
  EXPECT_EQ("2", read("only2"));
}

// Conflict detection when the newer version has left the memtable: flushed
// to a level-0 table, or compacted all the way into the B+Tree.
TEST_P(TransactionIsolationTest, ConflictsAcrossTiers) {
  ASSERT_NO_FATAL_FAILURE(open());
  const bool serializable = GetParam() == IsolationLevel::kSerializable;
  for (int tier = 0; tier < 3; tier++) {
    SCOPED_TRACE(tier == 0 ? "memtable" : tier == 1 ? "level0" : "tree");
    auto move_down = [&] {
      if (tier >= 1) { ASSERT_TRUE(db_->flush().ok()); }
      if (tier >= 2) { ASSERT_TRUE(db_->compact().ok()); }
    };
    const std::string p = "t" + std::to_string(tier) + "/";
    put(p + "w", "0");
    put(p + "d", "0");
    put(p + "r", "0");
    for (int i = 0; i < 10; i++) put(p + "range" + std::to_string(i), "0");
    ASSERT_TRUE(db_->flush().ok());  // the base is in a table too
    // A write-write conflict; a removal; a serializable point read; a
    // serializable range; each committed by others after the snapshot.
    auto tw = begin(GetParam());
    auto td = begin(GetParam());
    auto tr = begin(GetParam());
    auto tg = begin(GetParam());
    auto tok = begin(GetParam());  // conflicts with nothing
    EXPECT_EQ("0", Read(tr.get(), p + "r"));
    EXPECT_EQ(kAbsent, Read(tr.get(), p + "r-absent"));
    EXPECT_EQ(4u, Collect(tg->scan(Slice(p + "range2"), Slice(p + "range6"))).size());
    EXPECT_EQ("0", Read(tok.get(), p + "range0"));  // untouched by the others
    put(p + "w", "1");
    put(p + "w", "2");  // two newer versions
    ASSERT_TRUE(db_->remove(p + "d").ok());
    put(p + "r", "1");
    put(p + "range4", "1");
    // Plenty of unrelated writes so the memtable holds more than the
    // conflicting entries.
    for (int i = 0; i < 200; i++) put(p + "other" + std::to_string(i), std::string(100, 'o'));
    ASSERT_NO_FATAL_FAILURE(move_down());
    ASSERT_TRUE(tw->put(p + "w", "txn").ok());
    ASSERT_TRUE(td->put(p + "d", "txn").ok());
    ASSERT_TRUE(tr->put(p + "x", "txn").ok());
    ASSERT_TRUE(tg->put(p + "y", "txn").ok());
    ASSERT_TRUE(tok->put(p + "z", "txn").ok());
    Status s = tw->commit();
    EXPECT_TRUE(s.IsConflict()) << "write: " << s.ToString();
    s = td->commit();
    EXPECT_TRUE(s.IsConflict()) << "remove: " << s.ToString();
    s = tr->commit();
    EXPECT_EQ(serializable, s.IsConflict()) << "point read: " << s.ToString();
    EXPECT_EQ(!serializable, s.ok()) << s.ToString();
    s = tg->commit();
    EXPECT_EQ(serializable, s.IsConflict()) << "range read: " << s.ToString();
    EXPECT_EQ(!serializable, s.ok()) << s.ToString();
    EXPECT_EQ("2", read(p + "w"));
    EXPECT_EQ(kAbsent, read(p + "d"));
    EXPECT_EQ(serializable ? kAbsent : "txn", read(p + "x"));
    EXPECT_EQ(serializable ? kAbsent : "txn", read(p + "y"));
    s = tok->commit();
    EXPECT_TRUE(s.ok()) << "no conflict: " << s.ToString();
    EXPECT_EQ("txn", read(p + "z"));
  }
}

// The cases that must not conflict, with the other writes moved down the
// tiers: writes before the snapshot, writes to other keys, and (in
// kSerializable) writes outside what was read.
TEST_P(TransactionIsolationTest, NoConflictAcrossTiers) {
  ASSERT_NO_FATAL_FAILURE(open());
  for (int tier = 0; tier < 3; tier++) {
    SCOPED_TRACE(tier == 0 ? "memtable" : tier == 1 ? "level0" : "tree");
    const std::string p = "t" + std::to_string(tier) + "/";
    for (int i = 0; i < 10; i++) put(p + "k" + std::to_string(i), "0");
    put(p + "k5", "1");  // before the snapshot
    auto txn = begin(GetParam());
    EXPECT_EQ("1", Read(txn.get(), p + "k5"));
    EXPECT_EQ(3u, Collect(txn->scan(Slice(p + "k5"), Slice(p + "k8"))).size());  // stops at k8
    // After the snapshot: other keys, outside the read range.
    for (int i : {0, 1, 2, 9}) put(p + "k" + std::to_string(i), "later");
    for (int i = 0; i < 200; i++) put(p + "other" + std::to_string(i), std::string(100, 'o'));
    if (tier >= 1) { ASSERT_TRUE(db_->flush().ok()); }
    if (tier >= 2) { ASSERT_TRUE(db_->compact().ok()); }
    ASSERT_TRUE(txn->put(p + "k5", "txn").ok());
    ASSERT_TRUE(txn->put(p + "new", "txn").ok());
    Status s = txn->commit();
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ("txn", read(p + "k5"));
    EXPECT_EQ("txn", read(p + "new"));
  }
  // Survives reopen.
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ("txn", read("t2/k5"));
}

INSTANTIATE_TEST_SUITE_P(Levels, TransactionIsolationTest,
                         ::testing::Values(IsolationLevel::kSnapshot, IsolationLevel::kSerializable),
                         IsoParamName);

// ---------------------------------------------------------------- durability API

TEST_F(TransactionTest, DurabilityApi) {
  Options o;
  o.wal_sync_mode = WalSyncMode::kOff;  // kDefault is then buffered
  ASSERT_NO_FATAL_FAILURE(open(o));
  const ConsistencyLevel levels[] = {ConsistencyLevel::kDefault, ConsistencyLevel::kStrong,
                                     ConsistencyLevel::kQuorum, ConsistencyLevel::kEventual};
  int n = 0;
  for (ConsistencyLevel level : levels) {
    SCOPED_TRACE(n);
    const std::string k = "pwc" + std::to_string(n);
    ASSERT_TRUE(db_->put_with_consistency(k, "v" + std::to_string(n), level).ok());
    EXPECT_EQ("v" + std::to_string(n), read(k));
    EXPECT_TRUE(db_->put_with_consistency("", "v", level).IsInvalidArgument());
    // A transaction committed at this level is readable at once.
    auto t = db_->begin_transaction(TxnOptions(IsolationLevel::kSerializable, level));
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.value()->put("txn" + std::to_string(n), "t").ok());
    ASSERT_TRUE(t.value()->commit().ok());
    EXPECT_EQ("t", read("txn" + std::to_string(n)));
    // And a batch.
    WriteOptions wo;
    wo.consistency = level;
    ASSERT_TRUE(db_->put_batch({{"batch" + std::to_string(n), "b"}}, wo).ok());
    EXPECT_EQ("b", read("batch" + std::to_string(n)));
    n++;
  }
  {
    TransactionOptions to;
    to.write_options.sync = true;
    auto t = db_->begin_transaction(to);
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.value()->put("synced", "s").ok());
    ASSERT_TRUE(t.value()->commit().ok());
    EXPECT_EQ("s", read("synced"));
  }
  // put_batch: atomic, later entries of a key win; an invalid entry fails
  // the whole batch.
  ASSERT_TRUE(db_->put_batch({{"p1", "1"}, {"p2", "2"}, {"p1", "1b"}}).ok());
  EXPECT_EQ("1b", read("p1"));
  EXPECT_EQ("2", read("p2"));
  EXPECT_TRUE(db_->put_batch({{"p3", "3"}, {"", "bad"}}).IsInvalidArgument());
  EXPECT_TRUE(db_->put_batch({{"p3", "3"}, {std::string(kMaxKeySize + 1, 'x'), "bad"}}).IsInvalidArgument());
  EXPECT_EQ(kAbsent, read("p3"));
  EXPECT_TRUE(db_->put_batch({}).ok());
  // delete_batch: removes every key, absent ones are fine; an invalid key
  // fails the whole batch.
  EXPECT_TRUE(db_->delete_batch({"p1", ""}).IsInvalidArgument());
  EXPECT_EQ("1b", read("p1"));
  ASSERT_TRUE(db_->delete_batch({"p1", "p2", "never-there"}).ok());
  EXPECT_EQ(kAbsent, read("p1"));
  EXPECT_EQ(kAbsent, read("p2"));
  EXPECT_TRUE(db_->delete_batch({}).ok());
  // A delete_batch after a transaction's snapshot is a conflict for it.
  put("p4", "4");
  auto t = begin();
  ASSERT_TRUE(t->put("p4", "txn").ok());
  ASSERT_TRUE(db_->delete_batch({"p4"}).ok());
  EXPECT_TRUE(t->commit().IsConflict());
  EXPECT_EQ(kAbsent, read("p4"));
  // Everything acknowledged survives a clean reopen.
  ASSERT_NO_FATAL_FAILURE(reopen());
  for (int i = 0; i < n; i++) {
    EXPECT_EQ("v" + std::to_string(i), read("pwc" + std::to_string(i)));
    EXPECT_EQ("t", read("txn" + std::to_string(i)));
    EXPECT_EQ("b", read("batch" + std::to_string(i)));
  }
  EXPECT_EQ("s", read("synced"));
  EXPECT_EQ(kAbsent, read("p1"));
  // After close: Closed.
  ASSERT_TRUE(db_->close().ok());
  EXPECT_TRUE(db_->put_with_consistency("k", "v", ConsistencyLevel::kStrong).IsClosed());
  EXPECT_TRUE(db_->put_batch({{"k", "v"}}).IsClosed());
  EXPECT_TRUE(db_->delete_batch({"k"}).IsClosed());
  db_.reset();
}

// ---------------------------------------------------------------- concurrent

// Accounts "acct/NN" hold "balance|padding". Transfers move random amounts
// between random accounts in transactions, retrying on Conflict; readers sum
// all balances at snapshots: the total never changes.
struct BankConfig {
  int accounts = 20;
  int writers = 4;
  int transfers_per_writer = 150;
  IsolationLevel isolation = IsolationLevel::kSnapshot;
  size_t padding = 200;  // bytes per value, so that tiny memtables fill
  bool yield_between_read_and_commit = false;
};

struct BankResult {
  uint64_t committed = 0;
  uint64_t conflicts = 0;
  uint64_t sums_checked = 0;
};

std::string AccountKey(int i) { return Key("acct/", static_cast<uint64_t>(i), 2); }

int64_t Balance(const std::string& value) { return std::stoll(value.substr(0, value.find('|'))); }

std::string BalanceValue(int64_t balance, size_t padding) { return std::to_string(balance) + "|" + std::string(padding, 'p'); }

// The sum over a scan; nullopt (and a failure) on a read error.
std::optional<int64_t> SumScan(Scan scan, int expected_accounts, std::string* error) {
  int64_t sum = 0;
  int n = 0;
  for (const auto& e : scan) {
    sum += Balance(e.value.ToString());
    n++;
  }
  if (!scan.status().ok()) {
    *error = "scan: " + scan.status().ToString();
    return std::nullopt;
  }
  if (n != expected_accounts) {
    *error = "scan saw " + std::to_string(n) + " accounts";
    return std::nullopt;
  }
  return sum;
}

BankResult RunBank(Database* db, const BankConfig& config, uint64_t seed, int64_t total) {
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<uint64_t> committed{0}, conflicts{0}, sums{0};
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
    stop = true;
  };
  auto writer = [&](int id) {
    test::Random rnd(seed + static_cast<uint64_t>(id));
    for (int n = 0; n < config.transfers_per_writer && !stop.load(); n++) {
      const int from = static_cast<int>(rnd.uniform(static_cast<uint64_t>(config.accounts)));
      int to = static_cast<int>(rnd.uniform(static_cast<uint64_t>(config.accounts - 1)));
      if (to >= from) to++;
      const int64_t amount = 1 + static_cast<int64_t>(rnd.uniform(50));
      for (int attempt = 0;; attempt++) {
        if (stop.load()) return;
        if (attempt > 10000) return fail("writer " + std::to_string(id) + " starved");
        auto t = db->begin_transaction(TxnOptions(config.isolation));
        if (!t.ok()) return fail("begin: " + t.status().ToString());
        Transaction* txn = t.value().get();
        std::string a, b;
        Status s = txn->get(AccountKey(from), &a);
        if (s.ok()) s = txn->get(AccountKey(to), &b);
        if (!s.ok()) return fail("txn get: " + s.ToString());
        if (config.yield_between_read_and_commit) std::this_thread::yield();
        // Overdrafts are allowed (balances may go negative); the sum is what
        // matters.
        s = txn->put(AccountKey(from), BalanceValue(Balance(a) - amount, config.padding));
        if (s.ok()) s = txn->put(AccountKey(to), BalanceValue(Balance(b) + amount, config.padding));
        if (!s.ok()) return fail("txn put: " + s.ToString());
        if (config.yield_between_read_and_commit) std::this_thread::yield();
        s = txn->commit();
        if (s.ok()) {
          committed++;
          break;
        }
        if (!s.IsConflict()) return fail("commit: " + s.ToString());
        conflicts++;
      }
    }
  };
  auto reader = [&](int id) {
    test::Random rnd(seed + 1000 + static_cast<uint64_t>(id));
    while (!stop.load()) {
      std::string error;
      std::optional<int64_t> sum;
      const uint64_t how = rnd.uniform(4);
      if (how == 0) {
        ReadOptions ro;
        auto snap = db->snapshot();
        ro.snapshot = snap.get();
        sum = SumScan(db->scan(Slice("acct/"), Slice("acct0"), 0, ro), config.accounts, &error);
      } else if (how == 1) {
        sum = SumScan(db->scan_prefix("acct/"), config.accounts, &error);
      } else {
        // A read-only transaction: a reverse scan, or gets of every account.
        auto t = db->begin_transaction(TxnOptions(how == 2 ? IsolationLevel::kSnapshot : IsolationLevel::kSerializable));
        if (!t.ok()) return fail("reader begin: " + t.status().ToString());
        if (rnd.one_in(2)) {
          sum = SumScan(t.value()->scan_reverse(Slice("acct/"), Slice("acct0")), config.accounts, &error);
        } else {
          int64_t s = 0;
          for (int i = 0; i < config.accounts && error.empty(); i++) {
            std::string v;
            Status gs = t.value()->get(AccountKey(i), &v);
            if (!gs.ok()) error = "reader get: " + gs.ToString();
            else s += Balance(v);
          }
          if (error.empty()) sum = s;
        }
        Status cs = t.value()->commit();
        if (!cs.ok()) error = "read-only commit: " + cs.ToString();
      }
      if (!error.empty()) return fail(error);
      if (*sum != total) return fail("sum " + std::to_string(*sum) + " != " + std::to_string(total));
      sums++;
      // Leave the (two) CPUs mostly to the writers.
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };
  std::vector<std::thread> writers, readers;
  for (int i = 0; i < config.writers; i++) writers.emplace_back(writer, i);
  for (int i = 0; i < 2; i++) readers.emplace_back(reader, i);
  for (auto& t : writers) t.join();
  stop = true;
  for (auto& t : readers) t.join();
  return BankResult{committed.load(), conflicts.load(), sums.load()};
}

class TransactionBankTest : public TransactionTest, public ::testing::WithParamInterface<IsolationLevel> {
 protected:
  int64_t setup(int accounts, size_t padding) {
    WriteBatch b;
    for (int i = 0; i < accounts; i++) { EXPECT_TRUE(b.put(AccountKey(i), BalanceValue(1000, padding)).ok()); }
    EXPECT_TRUE(db_->write(b).ok());
    return 1000 * static_cast<int64_t>(accounts);
  }
  int64_t sum_now(int accounts) {
    std::string error;
    auto sum = SumScan(db_->scan_prefix("acct/"), accounts, &error);
    EXPECT_TRUE(sum.has_value()) << error;
    return sum.value_or(-1);
  }
};

TEST_P(TransactionBankTest, ConcurrentBankKeepsTheTotal) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  Options o;
  o.memtable_size = 64 * 1024;
  o.target_file_size = 64 * 1024;
  o.max_bytes_for_level_base = 256 * 1024;
  o.level0_file_num_compaction_trigger = 2;
  ASSERT_NO_FATAL_FAILURE(open(o));
  BankConfig config;
  config.isolation = GetParam();
  const int64_t total = setup(config.accounts, config.padding);
  const BankResult r = RunBank(db_.get(), config, seed, total);
  const DatabaseStats stats = db_->stats();
  std::printf("committed=%llu conflicts=%llu sums=%llu flushes=%llu compactions=%llu\n",
              static_cast<unsigned long long>(r.committed), static_cast<unsigned long long>(r.conflicts),
              static_cast<unsigned long long>(r.sums_checked), static_cast<unsigned long long>(stats.flushes),
              static_cast<unsigned long long>(stats.compactions + stats.trivial_moves));
  EXPECT_EQ(static_cast<uint64_t>(config.writers * config.transfers_per_writer), r.committed);
  EXPECT_GT(r.sums_checked, 0u);
  EXPECT_GT(stats.flushes, 0u) << "the memtable never flushed during the run";
  EXPECT_EQ(total, sum_now(config.accounts));
  ASSERT_TRUE(db_->compact().ok());
  EXPECT_EQ(total, sum_now(config.accounts));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(total, sum_now(config.accounts));
}

TEST_P(TransactionBankTest, ConcurrentBankHighContention) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  ASSERT_NO_FATAL_FAILURE(open());
  BankConfig config;
  config.accounts = 2;
  config.transfers_per_writer = 100;
  config.isolation = GetParam();
  config.padding = 10;
  config.yield_between_read_and_commit = true;
  const int64_t total = setup(config.accounts, config.padding);
  const BankResult r = RunBank(db_.get(), config, seed, total);
  std::printf("committed=%llu conflicts=%llu sums=%llu\n", static_cast<unsigned long long>(r.committed),
              static_cast<unsigned long long>(r.conflicts), static_cast<unsigned long long>(r.sums_checked));
  // Every transfer eventually went through, and the threads did get in
  // each other's way.
  EXPECT_EQ(static_cast<uint64_t>(config.writers * config.transfers_per_writer), r.committed);
  EXPECT_GT(r.conflicts, 0u);
  EXPECT_EQ(total, sum_now(config.accounts));
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(total, sum_now(config.accounts));
}

INSTANTIATE_TEST_SUITE_P(Levels, TransactionBankTest,
                         ::testing::Values(IsolationLevel::kSnapshot, IsolationLevel::kSerializable),
                         IsoParamName);

// Many threads commit kStrong transactions (group commit shares the fsync)
// that increment 2 of 6 shared counters and record themselves under a key of
// their own. Every successful commit must be visible (its record, and its
// increments in the final counters); every Conflict must have left nothing.
TEST(TransactionConcurrentTest, ConcurrentGroupCommitWithConflicts) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  test::TempDir dir("transaction_group_commit");
  Options options;
  auto r = Database::open(dir.path() + "/db", options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());
  constexpr int kThreads = 8, kAttempts = 60, kCounters = 6;
  auto counter_key = [](int c) { return Key("counter/", static_cast<uint64_t>(c), 1); };
  auto record_key = [](int t, int n) { return "record/" + std::to_string(t) + "/" + std::to_string(n); };
  std::atomic<int> failures{0};
  auto fail = [&](const std::string& what) {
    if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
  };
  struct Outcome {
    std::vector<bool> committed;             // per attempt
    std::vector<int64_t> increments;         // per counter, of committed attempts
  };
  std::vector<Outcome> outcomes(kThreads);
  auto worker = [&](int id) {
    test::Random rnd(seed + static_cast<uint64_t>(id));
    Outcome& out = outcomes[static_cast<size_t>(id)];
    out.committed.assign(kAttempts, false);
    out.increments.assign(kCounters, 0);
    for (int n = 0; n < kAttempts; n++) {
      const IsolationLevel iso = rnd.one_in(2) ? IsolationLevel::kSnapshot : IsolationLevel::kSerializable;
      auto t = db->begin_transaction(TxnOptions(iso, ConsistencyLevel::kStrong));
      if (!t.ok()) return fail("begin: " + t.status().ToString());
      Transaction* txn = t.value().get();
      const int c1 = static_cast<int>(rnd.uniform(kCounters));
      int c2 = static_cast<int>(rnd.uniform(kCounters - 1));
      if (c2 >= c1) c2++;
      std::string record;
      for (int c : {c1, c2}) {
        std::string v;
        Status s = txn->get(counter_key(c), &v);
        int64_t value = 0;
        if (s.ok()) {
          value = std::stoll(v);
        } else if (!s.IsNotFound()) {
          return fail("get: " + s.ToString());
        }
        if (!txn->put(counter_key(c), std::to_string(value + 1)).ok()) return fail("put");
        record += std::to_string(c);
      }
      if (!txn->put(record_key(id, n), record).ok()) return fail("put record");
      Status s = txn->commit();
      if (s.ok()) {
        out.committed[static_cast<size_t>(n)] = true;
        out.increments[static_cast<size_t>(c1)]++;
        out.increments[static_cast<size_t>(c2)]++;
        // Visible at once to this thread.
        std::string v;
        if (!db->get(record_key(id, n), &v).ok() || v != record) fail("committed record not visible");
      } else if (s.IsConflict()) {
        std::string v;
        if (!db->get(record_key(id, n), &v).IsNotFound()) fail("a conflicting commit left its record");
      } else {
        return fail("commit: " + s.ToString());
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; i++) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  auto check = [&](Database* d) {
    int64_t committed = 0, conflicted = 0;
    std::vector<int64_t> expected(kCounters, 0);
    for (int t = 0; t < kThreads; t++) {
      for (int n = 0; n < kAttempts; n++) {
        std::string v;
        Status s = d->get(record_key(t, n), &v);
        if (outcomes[static_cast<size_t>(t)].committed[static_cast<size_t>(n)]) {
          committed++;
          EXPECT_TRUE(s.ok()) << record_key(t, n) << ": " << s.ToString();
        } else {
          conflicted++;
          EXPECT_TRUE(s.IsNotFound()) << record_key(t, n) << " of a failed commit: " << s.ToString();
        }
      }
      for (int c = 0; c < kCounters; c++) expected[static_cast<size_t>(c)] += outcomes[static_cast<size_t>(t)].increments[static_cast<size_t>(c)];
    }
    int64_t sum = 0;
    for (int c = 0; c < kCounters; c++) {
      const std::string v = Read(d, counter_key(c));
      const int64_t got = v == kAbsent ? 0 : std::stoll(v);
      EXPECT_EQ(expected[static_cast<size_t>(c)], got) << counter_key(c);
      sum += got;
    }
    EXPECT_EQ(2 * committed, sum);
    return std::make_pair(committed, conflicted);
  };
  const auto [committed, conflicted] = check(db.get());
  std::printf("committed=%lld conflicted=%lld\n", static_cast<long long>(committed), static_cast<long long>(conflicted));
  EXPECT_GT(committed, 0);
  ASSERT_TRUE(db->close().ok());
  db.reset();
  auto again = Database::open(dir.path() + "/db", options);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  check(again.value().get());
  ASSERT_TRUE(again.value()->close().ok());
}

// Write skew under load: doctors "doc/N" are "on" or "off" call; each
// transaction reads them all (a scan, or a get of each) and, if at least two
// are on, takes one off, else puts one on. Under kSerializable at least one
// is on at every snapshot and at the end; kSnapshot may break that (only
// counted). The reads are ranges or points, and commits race in groups, so
// both CheckConflicts and the group's own check (GroupConflicts) are used.
TEST(TransactionConcurrentTest, ConcurrentSerializableKeepsSomeoneOnCall) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  std::printf("seed=%llu\n", static_cast<unsigned long long>(seed));
  for (IsolationLevel iso : {IsolationLevel::kSerializable, IsolationLevel::kSnapshot}) {
    SCOPED_TRACE(IsoName(iso));
    test::TempDir dir("transaction_on_call");
    auto r = Database::open(dir.path() + "/db");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    constexpr int kDoctors = 4;
    for (int i = 0; i < kDoctors; i++) ASSERT_TRUE(db->put(Key("doc/", static_cast<uint64_t>(i), 1), "on").ok());
    std::atomic<bool> stop{false};
    std::atomic<int> failures{0}, violations{0};
    std::atomic<uint64_t> commits{0}, conflicts{0};
    auto fail = [&](const std::string& what) {
      if (failures.fetch_add(1) < 5) ADD_FAILURE() << what;
      stop = true;
    };
    auto count_on = [&](Scan scan, int* on) {
      *on = 0;
      int n = 0;
      for (const auto& e : scan) {
        n++;
        if (e.value == Slice("on")) (*on)++;
      }
      if (!scan.status().ok() || n != kDoctors) fail("scan: " + scan.status().ToString());
    };
    auto worker = [&](int id) {
      test::Random rnd(seed + static_cast<uint64_t>(id));
      for (int n = 0; n < 150 && !stop.load(); n++) {
        auto t = db->begin_transaction(TxnOptions(iso));
        if (!t.ok()) return fail("begin: " + t.status().ToString());
        Transaction* txn = t.value().get();
        std::vector<int> on, off;
        if (rnd.one_in(2)) {
          Scan scan = txn->scan_prefix("doc/");
          for (const auto& e : scan) {
            const int d = e.key[e.key.size() - 1] - '0';
            (e.value == Slice("on") ? on : off).push_back(d);
          }
          if (!scan.status().ok()) return fail("scan: " + scan.status().ToString());
        } else {
          for (int d = 0; d < kDoctors; d++) {
            std::string v;
            if (!txn->get(Key("doc/", static_cast<uint64_t>(d), 1), &v).ok()) return fail("get");
            (v == "on" ? on : off).push_back(d);
          }
        }
        if (on.size() >= 2) {
          const int d = on[rnd.uniform(on.size())];
          if (!txn->put(Key("doc/", static_cast<uint64_t>(d), 1), "off").ok()) return fail("put");
        } else if (!off.empty()) {
          const int d = off[rnd.uniform(off.size())];
          if (!txn->put(Key("doc/", static_cast<uint64_t>(d), 1), "on").ok()) return fail("put");
        }
        std::this_thread::yield();
        Status s = txn->commit();
        if (s.ok()) {
          commits++;
        } else if (s.IsConflict()) {
          conflicts++;
        } else {
          return fail("commit: " + s.ToString());
        }
      }
    };
    auto reader = [&] {
      while (!stop.load()) {
        int on = 0;
        count_on(db->scan_prefix("doc/"), &on);
        if (on == 0) violations++;
        std::this_thread::sleep_for(std::chrono::microseconds(100));
      }
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; i++) threads.emplace_back(worker, i);
    std::thread reader_thread(reader);
    for (auto& t : threads) t.join();
    stop = true;
    reader_thread.join();
    int on = 0;
    count_on(db->scan_prefix("doc/"), &on);
    if (on == 0) violations++;
    std::printf("%s: commits=%llu conflicts=%llu snapshots with nobody on call=%d\n", IsoName(iso),
                static_cast<unsigned long long>(commits.load()), static_cast<unsigned long long>(conflicts.load()),
                violations.load());
    EXPECT_GT(commits.load(), 0u);
    if (iso == IsolationLevel::kSerializable) {
      EXPECT_EQ(0, violations.load()) << "write skew under kSerializable";
    }
    ASSERT_TRUE(db->close().ok());
  }
}

}  // namespace
}  // namespace lightning
