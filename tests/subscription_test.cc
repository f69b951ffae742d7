// Copyright (c) Lightning authors. MIT License.
//
// Change subscriptions (include/lightning/subscription.h) through the public
// API.
//
//  - Model: random puts, removes, batches and transactions (some made to
//    conflict) from one thread; the events (drained by close()) are exactly
//    the committed writes, in order, with consecutive sequence numbers, and
//    replaying them rebuilds the database's contents. Writes that fail (a bad
//    key, an fsync error, a conflict) deliver nothing.
//  - Filters: prefix, range (under a non-bytewise comparator too), both.
//  - Lifetime: unsubscribe from inside the callback (mid-batch too), handles
//    outliving the database, close() with live subscriptions (queued events
//    delivered, then status Closed), many subscribers seeing the same stream.
//  - Overflow: kDropAndReport drops and reports the exact count in a kLost
//    event at the place of the loss; kBlockWriters holds writers back until
//    there is room and loses nothing.
//  - Misuse: bad options and callbacks, subscribe after close, close() and
//    writes from a kBlockWriters callback refused, a throwing callback ends
//    only its subscription; the C-style (function, state) form.
//  - ...Concurrent... (CI also runs these under ThreadSanitizer): concurrent
//    writers (puts, batches, transactions) are delivered in commit order with
//    no gaps and each writer's writes in its program order; subscriptions
//    destroyed (from other threads and from their callbacks) while events
//    flow never see a callback afterwards; unsubscribe racing close().
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./subscription_test --gtest_filter=...
#include "lightning/subscription.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "env/fault_injection_env.h"
#include "lightning/db.h"
#include "util/random.h"
#include "util/temp_dir.h"
#include "util/test_comparators.h"

namespace lightning {
namespace {

struct Event {
  ChangeType type;
  uint64_t sequence;
  std::string key;
  std::string value;
  uint64_t lost;

  bool operator==(const Event& o) const {
    return type == o.type && sequence == o.sequence && key == o.key && value == o.value && lost == o.lost;
  }
};

std::string Describe(const Event& e) {
  const char* t = e.type == ChangeType::kPut ? "put" : e.type == ChangeType::kDelete ? "del" : "lost";
  return std::string(t) + "@" + std::to_string(e.sequence) + " " + e.key +
         (e.lost ? " n=" + std::to_string(e.lost) : "");
}

// Records every event it is given.
class Collector {
 public:
  ChangeCallback callback() {
    return [this](const ChangeEvent& e) { add(e); };
  }
  void add(const ChangeEvent& e) {
    std::lock_guard<std::mutex> l(mu_);
    events_.push_back(Event{e.type, e.sequence, e.key.ToString(), e.value.ToString(), e.lost_events});
    cv_.notify_all();
  }
  std::vector<Event> events() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_;
  }
  size_t size() const {
    std::lock_guard<std::mutex> l(mu_);
    return events_.size();
  }
  // Waits (without a deadline a test could trip on) until n events arrived.
  void wait_for(size_t n) {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return events_.size() >= n; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
};

// A gate a callback can wait at.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> l(mu_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(l, [&] { return open_; });
  }
  void wait_until_someone_waits() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return waiting_ > 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

std::unique_ptr<Database> OpenDb(const std::string& path, Options options = Options()) {
  options.wal_sync_mode = WalSyncMode::kOff;  // speed; durability is not under test
  auto db = Database::open(path, options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

std::unique_ptr<Subscription> Subscribe(Database* db, ChangeCallback cb, const SubscribeOptions& o = {}) {
  auto sub = db->subscribe(std::move(cb), o);
  EXPECT_TRUE(sub.ok()) << sub.status().ToString();
  return sub.ok() ? std::move(sub).value() : nullptr;
}

// The database's contents as a map.
std::map<std::string, std::string> Contents(Database* db) {
  std::map<std::string, std::string> m;
  auto it = db->new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) m[it->key().ToString()] = it->value().ToString();
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return m;
}

void Apply(const Event& e, std::map<std::string, std::string>* m) {
  if (e.type == ChangeType::kPut) (*m)[e.key] = e.value;
  if (e.type == ChangeType::kDelete) m->erase(e.key);
}

class SubscriptionTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = OpenDb(dir_.path()); }
  void TearDown() override {
    if (db_ != nullptr) {
      EXPECT_TRUE(db_->close().ok());
    }
  }

  test::TempDir dir_{"subscription"};
  std::unique_ptr<Database> db_;
};

// ---------------------------------------------------------------- the model

// One successful write as the model sees it: its operations in order (for a
// transaction, one per key in key order: the write set holds each key once).
using Ops = std::vector<Event>;

TEST_F(SubscriptionTest, EventsMatchModelOfCommittedWrites) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  Collector all;
  auto sub = Subscribe(db_.get(), all.callback());
  ASSERT_NE(sub, nullptr);
  const std::map<std::string, std::string> before = Contents(db_.get());

  std::vector<Ops> committed;
  auto key = [&] { return "k" + std::to_string(rnd.uniform(200)); };
  int conflicts = 0;
  for (int step = 0; step < 1500; step++) {
    const uint64_t what = rnd.uniform(10);
    if (what < 4) {
      const std::string k = key(), v = rnd.random_bytes(rnd.uniform(40));
      ASSERT_TRUE(db_->put(k, v).ok());
      committed.push_back({Event{ChangeType::kPut, 0, k, v, 0}});
    } else if (what < 6) {
      const std::string k = key();
      ASSERT_TRUE(db_->remove(k).ok());
      committed.push_back({Event{ChangeType::kDelete, 0, k, "", 0}});
    } else if (what < 8) {
      WriteBatch batch;
      Ops ops;
      const uint64_t n = 1 + rnd.uniform(8);
      for (uint64_t i = 0; i < n; i++) {  // duplicates within a batch included
        const std::string k = key();
        if (rnd.one_in(3)) {
          ASSERT_TRUE(batch.remove(k).ok());
          ops.push_back(Event{ChangeType::kDelete, 0, k, "", 0});
        } else {
          const std::string v = rnd.random_key(rnd.uniform(20));
          ASSERT_TRUE(batch.put(k, v).ok());
          ops.push_back(Event{ChangeType::kPut, 0, k, v, 0});
        }
      }
      ASSERT_TRUE(db_->write(batch).ok());
      committed.push_back(std::move(ops));
    } else {
      auto txn = db_->begin_transaction();
      ASSERT_TRUE(txn.ok());
      std::map<std::string, std::optional<std::string>> writes;
      const uint64_t n = 1 + rnd.uniform(5);
      for (uint64_t i = 0; i < n; i++) {
        const std::string k = key();
        if (rnd.one_in(4)) {
          ASSERT_TRUE((*txn)->remove(k).ok());
          writes[k] = std::nullopt;
        } else {
          const std::string v = rnd.random_key(10);
          ASSERT_TRUE((*txn)->put(k, v).ok());
          writes[k] = v;
        }
      }
      const bool conflict = rnd.one_in(3);
      if (conflict) {
        // Someone else writes one of its keys first: the commit must fail
        // and deliver nothing (the interfering put is delivered).
        const std::string k = writes.begin()->first;
        ASSERT_TRUE(db_->put(k, "interloper").ok());
        committed.push_back({Event{ChangeType::kPut, 0, k, "interloper", 0}});
      }
      const Status s = (*txn)->commit();
      if (conflict) {
        ASSERT_TRUE(s.IsConflict()) << s.ToString();
        conflicts++;
      } else {
        ASSERT_TRUE(s.ok()) << s.ToString();
        Ops ops;
        for (const auto& [k, v] : writes) {
          ops.push_back(v ? Event{ChangeType::kPut, 0, k, *v, 0} : Event{ChangeType::kDelete, 0, k, "", 0});
        }
        committed.push_back(std::move(ops));
      }
    }
    // Failed writes deliver nothing.
    if (step % 100 == 0) {
      EXPECT_TRUE(db_->put("", "x").IsInvalidArgument());
      WriteBatch empty;
      EXPECT_TRUE(db_->write(empty).ok());
    }
    if (step % 500 == 250) {
      ASSERT_TRUE(db_->flush().ok());
    }
  }
  ASSERT_GT(conflicts, 0);
  const std::map<std::string, std::string> expected_contents = Contents(db_.get());
  ASSERT_TRUE(db_->close().ok());  // delivers everything queued
  EXPECT_FALSE(sub->active());
  EXPECT_TRUE(sub->status().IsClosed()) << sub->status().ToString();

  const std::vector<Event> events = all.events();
  size_t expected_count = 0;
  for (const auto& ops : committed) expected_count += ops.size();
  ASSERT_EQ(events.size(), expected_count);
  EXPECT_EQ(sub->events_delivered(), expected_count);
  EXPECT_EQ(sub->events_lost(), 0u);
  size_t next = 0;
  for (size_t w = 0; w < committed.size(); w++) {
    for (const Event& want : committed[w]) {
      const Event& got = events[next];
      ASSERT_EQ(got.type, want.type) << "write " << w << ": " << Describe(got);
      ASSERT_EQ(got.key, want.key) << "write " << w;
      ASSERT_EQ(got.value, want.value) << "write " << w;
      if (next > 0) {
        ASSERT_EQ(got.sequence, events[next - 1].sequence + 1) << "write " << w;
      }
      next++;
    }
  }
  std::map<std::string, std::string> replayed = before;
  for (const Event& e : events) Apply(e, &replayed);
  EXPECT_EQ(replayed, expected_contents);
  db_.reset();
}

TEST(SubscriptionFaultTest, FailedWriteDeliversNothing) {
  test::TempDir dir("subscription_fault");
  FaultInjectionEnv env(Env::Default());
  Options options;
  options.env = &env;
  auto db = OpenDb(dir.path(), options);
  ASSERT_NE(db, nullptr);
  Collector c;
  auto sub = Subscribe(db.get(), c.callback());
  ASSERT_TRUE(db->put("a", "1").ok());
  env.fail_nth_call(FaultInjectionEnv::OpKind::kSync, 1);
  WriteOptions sync;
  sync.sync = true;
  EXPECT_FALSE(db->put("b", "2", sync).ok());
  EXPECT_FALSE(db->put("c", "3").ok());  // the database now refuses writes
  (void)db->close();
  const auto events = c.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key, "a");
}

// ---------------------------------------------------------------- filters

TEST_F(SubscriptionTest, PrefixAndRangeFilters) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  Collector all, users, range, both, open_start, open_end;
  SubscribeOptions o_users;
  o_users.prefix = "user/";
  SubscribeOptions o_range;
  o_range.start = "item/3";
  o_range.end = "user/2";
  SubscribeOptions o_both = o_users;
  o_both.end = "user/5";
  SubscribeOptions o_open_start;
  o_open_start.end = "item/5";
  SubscribeOptions o_open_end;
  o_open_end.start = "user/7";
  auto s0 = Subscribe(db_.get(), all.callback());
  auto s1 = Subscribe(db_.get(), users.callback(), o_users);
  auto s2 = Subscribe(db_.get(), range.callback(), o_range);
  auto s3 = Subscribe(db_.get(), both.callback(), o_both);
  auto s4 = Subscribe(db_.get(), open_start.callback(), o_open_start);
  auto s5 = Subscribe(db_.get(), open_end.callback(), o_open_end);
  const char* prefixes[] = {"user/", "item/", "us", "user", "zzz", "a"};
  for (int i = 0; i < 600; i++) {
    const std::string k = std::string(prefixes[rnd.uniform(6)]) + std::to_string(rnd.uniform(100));
    if (rnd.one_in(4)) {
      ASSERT_TRUE(db_->remove(k).ok());
    } else if (rnd.one_in(5)) {
      ASSERT_TRUE(db_->put_batch({{k, "b1"}, {k + "x", "b2"}, {"user/" + k, "b3"}}).ok());
    } else {
      ASSERT_TRUE(db_->put(k, std::to_string(i)).ok());
    }
  }
  ASSERT_TRUE(db_->close().ok());
  auto filtered = [&](const SubscribeOptions& o) {
    std::vector<Event> out;
    for (const Event& e : all.events()) {
      if (e.key.compare(0, o.prefix.size(), o.prefix) != 0) continue;
      if (o.start && e.key < *o.start) continue;
      if (o.end && e.key >= *o.end) continue;
      out.push_back(e);
    }
    return out;
  };
  EXPECT_GT(users.size(), 0u);
  EXPECT_GT(range.size(), 0u);
  EXPECT_GT(both.size(), 0u);
  EXPECT_EQ(users.events(), filtered(o_users));
  EXPECT_EQ(range.events(), filtered(o_range));
  EXPECT_EQ(both.events(), filtered(o_both));
  EXPECT_EQ(open_start.events(), filtered(o_open_start));
  EXPECT_EQ(open_end.events(), filtered(o_open_end));
  db_.reset();
}

TEST(SubscriptionComparatorTest, RangeFilterUsesTheDatabaseComparator) {
  test::TempDir dir("subscription_cmp");
  Options options;
  options.comparator = test::ReverseBytewise();
  auto db = OpenDb(dir.path(), options);
  ASSERT_NE(db, nullptr);
  Collector c;
  SubscribeOptions o;
  o.start = "m";  // reverse order: keys from "m" down to (not including) "c"
  o.end = "c";
  auto sub = Subscribe(db.get(), c.callback(), o);
  SubscribeOptions backwards;
  backwards.start = "c";
  backwards.end = "m";
  EXPECT_TRUE(db->subscribe([](const ChangeEvent&) {}, backwards).status().IsInvalidArgument());
  for (const char* k : {"a", "c", "d", "m", "n", "z"}) ASSERT_TRUE(db->put(k, "v").ok());
  ASSERT_TRUE(db->close().ok());
  std::vector<std::string> keys;
  for (const Event& e : c.events()) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"d", "m"}));
}

// ---------------------------------------------------------------- lifetime

TEST_F(SubscriptionTest, UnsubscribeFromInsideTheCallback) {
  std::unique_ptr<Subscription> sub;
  std::atomic<int> calls{0};
  std::atomic<bool> destroyed{false};
  std::mutex handle_mu;  // sub is assigned after subscribe() returns
  auto result = db_->subscribe([&](const ChangeEvent&) {
    const int n = ++calls;
    EXPECT_FALSE(destroyed.load());
    if (n == 5) {
      std::lock_guard<std::mutex> l(handle_mu);
      sub.reset();  // destroys the handle from its own callback
      destroyed = true;
    }
  });
  ASSERT_TRUE(result.ok());
  {
    std::lock_guard<std::mutex> l(handle_mu);
    sub = std::move(result).value();
  }
  // One batch of 10: delivery stops in the middle of it.
  WriteBatch batch;
  for (int i = 0; i < 10; i++) ASSERT_TRUE(batch.put("k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(db_->write(batch).ok());
  for (int i = 0; i < 50; i++) ASSERT_TRUE(db_->put("later" + std::to_string(i), "v").ok());
  // close() joins every delivery thread, the retired one included.
  ASSERT_TRUE(db_->close().ok());
  EXPECT_EQ(calls.load(), 5);
  EXPECT_TRUE(destroyed.load());
}

TEST_F(SubscriptionTest, UnsubscribeStopsDeliveryAndDropsTheQueue) {
  Gate gate;
  std::atomic<int> calls{0};
  auto sub = Subscribe(db_.get(), [&](const ChangeEvent&) {
    calls++;
    gate.wait();
  });
  for (int i = 0; i < 20; i++) ASSERT_TRUE(db_->put("k" + std::to_string(i), "v").ok());
  gate.wait_until_someone_waits();
  EXPECT_TRUE(sub->active());
  std::thread opener([&] {
    // unsubscribe() below waits for the running callback; let it finish.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gate.open();
  });
  sub->unsubscribe();
  const int after = calls.load();
  EXPECT_EQ(after, 1);  // the 19 queued events were dropped
  EXPECT_FALSE(sub->active());
  EXPECT_TRUE(sub->status().ok());
  sub->unsubscribe();  // again: nothing
  ASSERT_TRUE(db_->put("more", "v").ok());
  opener.join();
  ASSERT_TRUE(db_->close().ok());
  EXPECT_EQ(calls.load(), after);
  EXPECT_EQ(sub->events_delivered(), 1u);
}

TEST_F(SubscriptionTest, OnlyWritesAfterSubscribeAreDelivered) {
  for (int i = 0; i < 10; i++) ASSERT_TRUE(db_->put("before" + std::to_string(i), "v").ok());
  Collector c;
  auto sub = Subscribe(db_.get(), c.callback());
  ASSERT_TRUE(db_->put("after", "v").ok());
  ASSERT_TRUE(db_->close().ok());
  const auto events = c.events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].key, "after");
  EXPECT_EQ(events[0].sequence, 11u);
}

TEST_F(SubscriptionTest, ManySubscribersSeeTheSameStream) {
  constexpr int kSubscribers = 24;
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<std::unique_ptr<Subscription>> subs;
  for (int i = 0; i < kSubscribers; i++) {
    collectors.push_back(std::make_unique<Collector>());
    subs.push_back(Subscribe(db_.get(), collectors.back()->callback()));
  }
  for (int i = 0; i < 300; i++) {
    if (i % 7 == 0) {
      ASSERT_TRUE(db_->delete_batch({"k" + std::to_string(i - 1), "k" + std::to_string(i - 2)}).ok());
    } else {
      ASSERT_TRUE(db_->put("k" + std::to_string(i), std::to_string(i)).ok());
    }
  }
  // Half unsubscribe midway; the others go on.
  for (int i = 0; i < kSubscribers; i += 2) subs[i].reset();
  ASSERT_TRUE(db_->put("tail", "v").ok());
  ASSERT_TRUE(db_->close().ok());
  const auto reference = collectors[1]->events();
  ASSERT_FALSE(reference.empty());
  EXPECT_EQ(reference.back().key, "tail");
  for (int i = 1; i < kSubscribers; i += 2) EXPECT_EQ(collectors[i]->events(), reference) << i;
  for (int i = 0; i < kSubscribers; i += 2) {
    const auto got = collectors[i]->events();
    ASSERT_LE(got.size(), reference.size());
    EXPECT_TRUE(std::equal(got.begin(), got.end(), reference.begin())) << i;
  }
}

TEST_F(SubscriptionTest, CloseDeliversQueuedEventsThenEnds) {
  Gate gate;
  Collector c;
  auto slow = Subscribe(db_.get(), [&](const ChangeEvent& e) {
    gate.wait();
    c.add(e);
  });
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db_->put("k" + std::to_string(i), "v").ok());
  gate.wait_until_someone_waits();
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    gate.open();
  });
  ASSERT_TRUE(db_->close().ok());
  opener.join();
  EXPECT_EQ(c.size(), 100u);
  EXPECT_FALSE(slow->active());
  EXPECT_TRUE(slow->status().IsClosed());
  // After close: subscribe refuses; the old handle is still safe to use.
  EXPECT_TRUE(db_->subscribe([](const ChangeEvent&) {}).status().IsClosed());
  db_.reset();  // the database is gone; the handle outlives it
  EXPECT_EQ(slow->events_delivered(), 100u);
  slow->unsubscribe();
  slow.reset();
}

TEST_F(SubscriptionTest, DestroyingTheDatabaseEndsSubscriptions) {
  Collector c;
  auto sub = Subscribe(db_.get(), c.callback());
  ASSERT_TRUE(db_->put("a", "1").ok());
  db_.reset();  // no close(): the destructor closes
  EXPECT_EQ(c.size(), 1u);
  EXPECT_FALSE(sub->active());
  sub.reset();
}

TEST_F(SubscriptionTest, CallbacksReadTheirOwnEvent) {
  std::atomic<int> mismatches{0};
  Database* db = db_.get();
  auto sub = Subscribe(db, [&](const ChangeEvent& e) {
    std::string value;
    const Status s = db->get(e.key, &value);
    // Each key is written once per phase, so the read sees exactly the
    // event's version: delivery follows visibility.
    if (e.type == ChangeType::kPut && (!s.ok() || value != e.value.ToString())) mismatches++;
    if (e.type == ChangeType::kDelete && !s.IsNotFound()) mismatches++;
  });
  for (int i = 0; i < 200; i++) ASSERT_TRUE(db_->put("k" + std::to_string(i), std::to_string(i * i)).ok());
  // Wait for delivery before the next phase (and before close(), whose drain
  // runs after reads start returning Closed).
  while (sub->events_delivered() < 200) std::this_thread::yield();
  for (int i = 0; i < 200; i += 3) ASSERT_TRUE(db_->remove("k" + std::to_string(i)).ok());
  while (sub->events_delivered() < 267) std::this_thread::yield();
  EXPECT_EQ(mismatches.load(), 0);
}

// ---------------------------------------------------------------- overflow

TEST_F(SubscriptionTest, OverflowDropsAndReportsLostEvents) {
  Gate gate;
  Collector c;
  SubscribeOptions o;
  o.max_pending_events = 10;
  o.overflow = OverflowPolicy::kDropAndReport;
  auto sub = Subscribe(
      db_.get(),
      [&](const ChangeEvent& e) {
        if (e.sequence == 1) gate.wait();  // hold the first event
        c.add(e);
      },
      o);
  ASSERT_TRUE(db_->put("k0", "v").ok());  // seq 1: in the callback
  gate.wait_until_someone_waits();
  // The queue takes 10 more; the next 30 are dropped, the writers never wait.
  for (int i = 1; i <= 40; i++) ASSERT_TRUE(db_->put("k" + std::to_string(i), "v").ok());
  EXPECT_EQ(sub->events_lost(), 30u);
  gate.open();
  c.wait_for(12);  // the queue drained (else k41 might not fit either)
  ASSERT_TRUE(db_->put("k41", "v").ok());  // after the loss
  ASSERT_TRUE(db_->close().ok());
  const auto events = c.events();
  ASSERT_EQ(events.size(), 1u + 10u + 1u + 1u);
  for (int i = 0; i <= 10; i++) {
    EXPECT_EQ(events[i].type, ChangeType::kPut);
    EXPECT_EQ(events[i].sequence, static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(events[11].type, ChangeType::kLost);
  EXPECT_EQ(events[11].lost, 30u);
  EXPECT_EQ(events[11].sequence, 41u);  // the last one dropped
  EXPECT_EQ(events[12].key, "k41");
  EXPECT_EQ(events[12].sequence, 42u);
  EXPECT_EQ(sub->events_delivered(), 12u);
  EXPECT_EQ(sub->events_lost(), 30u);
}

TEST_F(SubscriptionTest, OverflowCountsOnlyMatchingEvents) {
  Gate gate;
  std::atomic<int> calls{0};
  SubscribeOptions o;
  o.max_pending_events = 2;
  o.prefix = "watched/";
  auto sub = Subscribe(
      db_.get(),
      [&](const ChangeEvent&) {
        if (calls++ == 0) gate.wait();
      },
      o);
  ASSERT_TRUE(db_->put("watched/0", "v").ok());
  gate.wait_until_someone_waits();
  for (int i = 0; i < 100; i++) ASSERT_TRUE(db_->put("other/" + std::to_string(i), "v").ok());
  ASSERT_TRUE(db_->put("watched/1", "v").ok());
  ASSERT_TRUE(db_->put("watched/2", "v").ok());
  ASSERT_TRUE(db_->put("watched/3", "v").ok());  // the third: dropped
  gate.open();
  ASSERT_TRUE(db_->close().ok());
  EXPECT_EQ(sub->events_lost(), 1u);
  EXPECT_EQ(sub->events_delivered(), 3u);
}

TEST_F(SubscriptionTest, OverflowBlocksWritersAndLosesNothing) {
  Gate gate;
  Collector c;
  SubscribeOptions o;
  o.max_pending_events = 4;
  o.overflow = OverflowPolicy::kBlockWriters;
  auto sub = Subscribe(
      db_.get(),
      [&](const ChangeEvent& e) {
        if (e.sequence == 1) gate.wait();
        c.add(e);
      },
      o);
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < 50; i++) {
      EXPECT_TRUE(db_->put("k" + std::to_string(i), "v").ok());
      written++;
    }
  });
  gate.wait_until_someone_waits();
  // Give the writer every chance to run ahead; it must stop at the queue's
  // bound: 1 in the callback + 4 queued, the 6th write waits for room.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_LE(written.load(), 5);
  // Readers are not blocked by the waiting writer.
  std::string v;
  EXPECT_TRUE(db_->get("k0", &v).ok());
  gate.open();
  writer.join();
  ASSERT_TRUE(db_->close().ok());
  EXPECT_EQ(c.size(), 50u);
  EXPECT_EQ(sub->events_lost(), 0u);
  const auto events = c.events();
  for (size_t i = 0; i < events.size(); i++) EXPECT_EQ(events[i].sequence, i + 1);
}

TEST_F(SubscriptionTest, BatchLargerThanTheQueueIsDeliveredWhole) {
  for (OverflowPolicy policy : {OverflowPolicy::kDropAndReport, OverflowPolicy::kBlockWriters}) {
    Collector c;
    SubscribeOptions o;
    o.max_pending_events = 3;
    o.overflow = policy;
    auto sub = Subscribe(db_.get(), c.callback(), o);
    WriteBatch batch;
    for (int i = 0; i < 20; i++) ASSERT_TRUE(batch.put("k" + std::to_string(i), "v").ok());
    ASSERT_TRUE(db_->write(batch).ok());
    c.wait_for(20);
    EXPECT_EQ(sub->events_lost(), 0u);
  }
}

// ---------------------------------------------------------------- misuse

TEST_F(SubscriptionTest, BadArguments) {
  EXPECT_TRUE(db_->subscribe(ChangeCallback()).status().IsInvalidArgument());
  EXPECT_TRUE(db_->subscribe(static_cast<ChangeCallbackFn>(nullptr), nullptr).status().IsInvalidArgument());
  SubscribeOptions o;
  o.max_pending_events = 0;
  EXPECT_TRUE(db_->subscribe([](const ChangeEvent&) {}, o).status().IsInvalidArgument());
  o = SubscribeOptions();
  o.start = "b";
  o.end = "b";
  EXPECT_TRUE(db_->subscribe([](const ChangeEvent&) {}, o).status().IsInvalidArgument());
  o.end = "a";
  EXPECT_TRUE(db_->subscribe([](const ChangeEvent&) {}, o).status().IsInvalidArgument());
  o = SubscribeOptions();
  o.overflow = static_cast<OverflowPolicy>(7);
  EXPECT_TRUE(db_->subscribe([](const ChangeEvent&) {}, o).status().IsInvalidArgument());
}

TEST_F(SubscriptionTest, BlockingCallbacksMayReadButNotWrite) {
  Database* db = db_.get();
  std::vector<Status> results;
  std::mutex mu;
  SubscribeOptions o;
  o.overflow = OverflowPolicy::kBlockWriters;
  auto sub = Subscribe(
      db,
      [&](const ChangeEvent& e) {
        std::lock_guard<std::mutex> l(mu);
        results.push_back(db->put("derived", "x"));
        results.push_back(db->remove("derived"));
        results.push_back(db->flush());
        results.push_back(db->sync_wal());
        auto txn = db->begin_transaction();
        results.push_back(txn.status());
        if (txn.ok()) {
          results.push_back((*txn)->put("t", "x"));
          results.push_back((*txn)->commit());
        }
        std::string v;
        results.push_back(db->get(e.key, &v));
        results.push_back(db->close());
      },
      o);
  ASSERT_TRUE(db_->put("a", "1").ok());
  while (sub->events_delivered() < 1) std::this_thread::yield();
  std::lock_guard<std::mutex> l(mu);
  ASSERT_EQ(results.size(), 9u);
  EXPECT_TRUE(results[0].IsInvalidArgument()) << results[0].ToString();
  EXPECT_TRUE(results[1].IsInvalidArgument());
  EXPECT_TRUE(results[2].IsInvalidArgument());
  EXPECT_TRUE(results[3].IsInvalidArgument());
  EXPECT_TRUE(results[4].ok());
  EXPECT_TRUE(results[5].ok());
  EXPECT_TRUE(results[6].IsInvalidArgument());
  EXPECT_TRUE(results[7].ok());                                          // reads work
  EXPECT_TRUE(results[8].IsInvalidArgument()) << results[8].ToString();  // close() from a callback
  EXPECT_TRUE(db_->get("derived").status().IsNotFound());
}

TEST_F(SubscriptionTest, DroppingCallbacksMayWrite) {
  Database* db = db_.get();
  Collector derived;
  auto watcher = Subscribe(db, derived.callback(), [] {
    SubscribeOptions o;
    o.prefix = "derived/";
    return o;
  }());
  SubscribeOptions o;
  o.prefix = "src/";
  auto sub = Subscribe(
      db,
      [&](const ChangeEvent& e) {
        // A trigger: mirror every source key under derived/.
        std::string k = "derived/" + e.key.ToString().substr(4);
        EXPECT_TRUE(db->put(k, e.value).ok());
      },
      o);
  for (int i = 0; i < 20; i++) ASSERT_TRUE(db_->put("src/" + std::to_string(i), std::to_string(i)).ok());
  derived.wait_for(20);
  for (int i = 0; i < 20; i++) EXPECT_EQ(db_->get("derived/" + std::to_string(i)).value(), std::to_string(i));
}

TEST_F(SubscriptionTest, ThrowingCallbackEndsOnlyItsSubscription) {
  Collector good;
  auto ok_sub = Subscribe(db_.get(), good.callback());
  auto bad = Subscribe(db_.get(), [](const ChangeEvent& e) {
    if (e.key == "boom") throw std::runtime_error("callback failed");
  });
  ASSERT_TRUE(db_->put("a", "1").ok());
  ASSERT_TRUE(db_->put("boom", "1").ok());
  ASSERT_TRUE(db_->put("b", "1").ok());
  good.wait_for(3);
  while (bad->active()) std::this_thread::yield();
  EXPECT_TRUE(bad->status().IsAborted()) << bad->status().ToString();
  EXPECT_NE(bad->status().ToString().find("callback failed"), std::string::npos);
  EXPECT_EQ(bad->events_delivered(), 1u);
  ASSERT_TRUE(db_->put("c", "1").ok());
  ASSERT_TRUE(db_->close().ok());
  EXPECT_EQ(good.size(), 4u);
  EXPECT_TRUE(bad->status().IsAborted());
}

struct CState {
  int puts = 0;
  int deletes = 0;
  std::string last_key;
};

void CCallback(void* state, const ChangeEvent* event) {
  auto* s = static_cast<CState*>(state);
  if (event->type == ChangeType::kPut) s->puts++;
  if (event->type == ChangeType::kDelete) s->deletes++;
  s->last_key = event->key.ToString();
}

TEST_F(SubscriptionTest, FunctionAndStateForm) {
  CState state;
  auto sub = db_->subscribe(&CCallback, &state);
  ASSERT_TRUE(sub.ok());
  ASSERT_TRUE(db_->put("x", "1").ok());
  ASSERT_TRUE(db_->remove("x").ok());
  ASSERT_TRUE(db_->put("y", "2").ok());
  ASSERT_TRUE(db_->close().ok());  // every event delivered: state is stable now
  EXPECT_EQ(state.puts, 2);
  EXPECT_EQ(state.deletes, 1);
  EXPECT_EQ(state.last_key, "y");
}

// ---------------------------------------------------------------- concurrent

TEST(SubscriptionConcurrentTest, ConcurrentWritersDeliverInCommitOrder) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::TempDir dir("subscription_order");
  Options options;
  options.memtable_size = 256 << 10;  // flushes and compactions meanwhile
  auto db = OpenDb(dir.path(), options);
  ASSERT_NE(db, nullptr);
  Collector all, blocking;
  auto sub = Subscribe(db.get(), all.callback());
  SubscribeOptions bo;
  bo.overflow = OverflowPolicy::kBlockWriters;
  bo.max_pending_events = 16;
  auto slow = Subscribe(db.get(), blocking.callback(), bo);
  constexpr int kWriters = 4;
  constexpr int kOpsPerWriter = 400;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; w++) {
    writers.emplace_back([&, w] {
      test::Random rnd(seed + static_cast<uint64_t>(w));
      // Values carry (writer, counter): each writer's events must arrive in
      // its program order.
      int counter = 0;
      auto value = [&] { return std::to_string(w) + ":" + std::to_string(counter++); };
      for (int i = 0; i < kOpsPerWriter; i++) {
        const std::string k = "w" + std::to_string(w) + "/" + std::to_string(rnd.uniform(50));
        const std::string shared = "shared/" + std::to_string(rnd.uniform(10));
        switch (rnd.uniform(3)) {
          case 0:
            EXPECT_TRUE(db->put(rnd.one_in(2) ? k : shared, value()).ok());
            break;
          case 1: {
            WriteBatch b;
            EXPECT_TRUE(b.put(k, value()).ok());
            EXPECT_TRUE(b.put(shared, value()).ok());
            EXPECT_TRUE(b.put(k + "b", value()).ok());
            EXPECT_TRUE(db->write(b).ok());
            break;
          }
          default: {
            auto txn = db->begin_transaction();
            if (!txn.ok()) break;
            // Single key: the write set's key order is the program order.
            EXPECT_TRUE((*txn)->put(shared, value()).ok());
            const Status s = (*txn)->commit();
            EXPECT_TRUE(s.ok() || s.IsConflict()) << s.ToString();
            if (!s.ok()) counter--;  // a conflicted commit delivers nothing
          }
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  const auto expected = Contents(db.get());
  ASSERT_TRUE(db->close().ok());

  for (const Collector* c : {&all, &blocking}) {
    const auto events = c->events();
    ASSERT_FALSE(events.empty());
    std::vector<int> next(kWriters, 0);
    std::map<std::string, std::string> replayed;
    for (size_t i = 0; i < events.size(); i++) {
      if (i > 0) {
        ASSERT_EQ(events[i].sequence, events[i - 1].sequence + 1) << i;
      }
      ASSERT_EQ(events[i].type, ChangeType::kPut);
      const std::string& v = events[i].value;
      const int w = std::stoi(v.substr(0, v.find(':')));
      const int n = std::stoi(v.substr(v.find(':') + 1));
      ASSERT_EQ(n, next[w]) << "writer " << w << " out of order at event " << i;
      next[w]++;
      Apply(events[i], &replayed);
    }
    EXPECT_EQ(replayed, expected);
  }
  EXPECT_EQ(all.events(), blocking.events());
  EXPECT_EQ(slow->events_lost(), 0u);
}

TEST(SubscriptionConcurrentTest, ConcurrentDestroyWhileEventsFlow) {
  test::TempDir dir("subscription_destroy");
  auto db = OpenDb(dir.path());
  ASSERT_NE(db, nullptr);
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; w++) {
    writers.emplace_back([&, w] {
      int i = 0;
      while (!stop.load()) {
        if (i % 5 == 0) {
          EXPECT_TRUE(db->put_batch({{"b" + std::to_string(w), "1"}, {"c" + std::to_string(i % 100), "2"}}).ok());
        } else {
          EXPECT_TRUE(db->put("k" + std::to_string(w) + "/" + std::to_string(i % 100), "v").ok());
        }
        i++;
      }
    });
  }
  std::atomic<int> calls_after_destroy{0};
  for (int round = 0; round < 200; round++) {
    // Each callback checks a flag set right after its handle's destruction
    // returned: it must never see it set.
    auto dead = std::make_shared<std::atomic<bool>>(false);
    SubscribeOptions o;
    o.max_pending_events = 1 + static_cast<size_t>(round % 8);
    o.overflow = round % 3 == 0 ? OverflowPolicy::kBlockWriters : OverflowPolicy::kDropAndReport;
    if (round % 4 == 1) o.prefix = "k1/";
    auto sub = db->subscribe(
        [dead, &calls_after_destroy](const ChangeEvent&) {
          if (dead->load()) calls_after_destroy++;
          std::this_thread::yield();
        },
        o);
    ASSERT_TRUE(sub.ok());
    if (round % 2 == 0) std::this_thread::yield();
    sub->reset();
    dead->store(true);
  }
  // Self-destroying subscriptions under load. The callback owns its handle
  // until it destroys it (or this thread does first); holders breaks the
  // cycle for any that saw fewer than three events.
  std::vector<std::pair<std::shared_ptr<std::unique_ptr<Subscription>>, std::shared_ptr<std::mutex>>> holders;
  for (int round = 0; round < 50; round++) {
    auto holder = std::make_shared<std::unique_ptr<Subscription>>();
    auto mu = std::make_shared<std::mutex>();
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto r = db->subscribe([holder, mu, calls](const ChangeEvent&) {
      if (++*calls == 3) {
        std::unique_ptr<Subscription> mine;
        {
          std::lock_guard<std::mutex> l(*mu);
          mine = std::move(*holder);
        }
        mine.reset();  // from its own callback
      }
    });
    ASSERT_TRUE(r.ok());
    {
      std::lock_guard<std::mutex> l(*mu);
      *holder = std::move(r).value();
    }
    // The callback keeps holder alive; the handle may also be destroyed
    // here first: both are fine.
    if (round % 2 == 0) {
      std::lock_guard<std::mutex> l(*mu);
      holder->reset();
    }
    holders.emplace_back(holder, mu);
  }
  stop = true;
  for (auto& t : writers) t.join();
  ASSERT_TRUE(db->close().ok());
  for (auto& [holder, mu] : holders) {
    std::lock_guard<std::mutex> l(*mu);
    holder->reset();
  }
  EXPECT_EQ(calls_after_destroy.load(), 0);
}

TEST(SubscriptionConcurrentTest, ConcurrentUnsubscribeAndClose) {
  for (int round = 0; round < 20; round++) {
    test::TempDir dir("subscription_close");
    auto db = OpenDb(dir.path());
    ASSERT_NE(db, nullptr);
    std::vector<std::unique_ptr<Subscription>> subs;
    std::atomic<uint64_t> calls{0};
    for (int i = 0; i < 8; i++) {
      subs.push_back(Subscribe(db.get(), [&](const ChangeEvent&) { calls++; }));
    }
    for (int i = 0; i < 200; i++) ASSERT_TRUE(db->put("k" + std::to_string(i), "v").ok());
    std::thread unsubscriber([&] {
      for (auto& s : subs) s->unsubscribe();
    });
    ASSERT_TRUE(db->close().ok());
    unsubscriber.join();
    const uint64_t settled = calls.load();
    for (auto& s : subs) EXPECT_FALSE(s->active());
    db.reset();
    subs.clear();
    EXPECT_EQ(calls.load(), settled);
  }
}

TEST(SubscriptionConcurrentTest, ConcurrentSubscribersComeAndGoDuringTransactions) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::TempDir dir("subscription_txn");
  auto db = OpenDb(dir.path());
  ASSERT_NE(db, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<int> committed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; t++) {
    threads.emplace_back([&, t] {
      test::Random rnd(seed + static_cast<uint64_t>(t));
      while (!stop.load()) {
        auto txn = db->begin_transaction();
        if (!txn.ok()) continue;
        for (int i = 0; i < 3; i++) EXPECT_TRUE((*txn)->put("acct" + std::to_string(rnd.uniform(8)), "v").ok());
        if ((*txn)->commit().ok()) committed++;
      }
    });
  }
  // Each subscriber sees, per transaction, its writes with consecutive
  // sequence numbers; overall increasing sequences.
  for (int round = 0; round < 30; round++) {
    Collector c;
    auto sub = Subscribe(db.get(), c.callback());
    while (c.size() < 30) std::this_thread::yield();
    sub.reset();
    const auto events = c.events();
    for (size_t i = 1; i < events.size(); i++) ASSERT_LT(events[i - 1].sequence, events[i].sequence);
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_GT(committed.load(), 0);
  ASSERT_TRUE(db->close().ok());
}

}  // namespace
}  // namespace lightning
