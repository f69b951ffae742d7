// Copyright (c) Lightning authors. MIT License.
#include "memtable/memtable.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "db/dbformat.h"
#include "lightning/comparator.h"

namespace lightning {
namespace {

std::string ikey(const std::string& user_key, SequenceNumber seq, ValueType type) {
  std::string r;
  AppendInternalKey(&r, ParsedInternalKey{user_key, seq, type});
  return r;
}

// The outcome of MemTable::get as one comparable value.
struct GetResult {
  bool found = false;  // get() returned true
  bool deleted = false;
  std::string value;
  bool operator==(const GetResult& o) const { return found == o.found && deleted == o.deleted && value == o.value; }
};

std::ostream& operator<<(std::ostream& os, const GetResult& r) {
  if (!r.found) return os << "<absent>";
  if (r.deleted) return os << "<deleted>";
  return os << "value(" << r.value.size() << " bytes)";
}

GetResult do_get(const MemTable& mem, const std::string& user_key, SequenceNumber seq) {
  LookupKey lk(user_key, seq);
  GetResult r;
  std::string value = "untouched";
  Status s = Status::IOError("untouched");
  r.found = mem.get(lk, &value, &s);
  if (r.found) {
    if (s.ok()) {
      r.value = value;
    } else {
      EXPECT_TRUE(s.IsNotFound()) << s.ToString();
      EXPECT_EQ(value, "untouched");  // a deletion must not clobber *value
      r.deleted = true;
    }
  } else {
    EXPECT_EQ(value, "untouched");
    EXPECT_EQ(s.code(), Status::Code::kIOError);  // *s untouched when absent
  }
  return r;
}

GetResult value_of(std::string v) { return GetResult{true, false, std::move(v)}; }
GetResult deleted() { return GetResult{true, true, ""}; }
GetResult absent() { return GetResult{}; }

// Every test runs without a key filter, with a one-line filter (64 bytes:
// saturated at once, so get() always searches) and with a filter that
// rejects most absent keys: the answers must be the same.
class MemTableTest : public ::testing::TestWithParam<size_t> {
 protected:
  MemTableTest() : icmp_(BytewiseComparator()), mem_(std::make_shared<MemTable>(icmp_, GetParam())) {}
  InternalKeyComparator icmp_;
  std::shared_ptr<MemTable> mem_;
};

TEST_P(MemTableTest, EmptyTable) {
  EXPECT_TRUE(mem_->empty());
  EXPECT_EQ(mem_->num_entries(), 0u);
  EXPECT_EQ(do_get(*mem_, "a", kMaxSequenceNumber), absent());
  auto it = mem_->new_iterator();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  it->seek(ikey("a", 1, kValueTypeForSeek));
  EXPECT_FALSE(it->valid());
  it->seek_for_prev(ikey("a", 1, kValueTypeForSeek));
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST_P(MemTableTest, VersionsAndDeletions) {
  mem_->add(1, kTypeValue, "k", "v1");
  mem_->add(5, kTypeValue, "k", "v5");
  mem_->add(10, kTypeDeletion, "k", "");
  mem_->add(12, kTypeValue, "k", "v12");
  mem_->add(3, kTypeValue, "j", "j3");  // neighbours must not leak into "k"
  mem_->add(7, kTypeValue, "l", "l7");
  EXPECT_EQ(mem_->num_entries(), 6u);
  EXPECT_FALSE(mem_->empty());

  EXPECT_EQ(do_get(*mem_, "k", 0), absent());
  for (SequenceNumber s = 1; s <= 4; s++) EXPECT_EQ(do_get(*mem_, "k", s), value_of("v1")) << s;
  for (SequenceNumber s = 5; s <= 9; s++) EXPECT_EQ(do_get(*mem_, "k", s), value_of("v5")) << s;
  for (SequenceNumber s = 10; s <= 11; s++) EXPECT_EQ(do_get(*mem_, "k", s), deleted()) << s;
  EXPECT_EQ(do_get(*mem_, "k", 12), value_of("v12"));
  EXPECT_EQ(do_get(*mem_, "k", kMaxSequenceNumber), value_of("v12"));

  EXPECT_EQ(do_get(*mem_, "j", 2), absent());
  EXPECT_EQ(do_get(*mem_, "j", 3), value_of("j3"));
  EXPECT_EQ(do_get(*mem_, "l", 6), absent());
  EXPECT_EQ(do_get(*mem_, "l", 100), value_of("l7"));
  // Absent keys before, between and after the stored ones, including prefixes
  // and extensions of stored keys.
  for (const char* k : {"", "a", "i", "jj", "k\x01", "ka", "m", "zzz"}) {
    EXPECT_EQ(do_get(*mem_, k, kMaxSequenceNumber), absent()) << k;
  }
}

TEST_P(MemTableTest, DeletionAtSameKeyAsOlderValueShadowsIt) {
  mem_->add(1, kTypeValue, "x", "old");
  mem_->add(2, kTypeDeletion, "x", "");
  EXPECT_EQ(do_get(*mem_, "x", 1), value_of("old"));
  EXPECT_EQ(do_get(*mem_, "x", 2), deleted());
  EXPECT_EQ(do_get(*mem_, "x", 100), deleted());
}

TEST_P(MemTableTest, BinaryKeysAndEmptyValues) {
  const std::string k1("a\0b", 3);
  const std::string k2("a", 1);
  const std::string k3("a\0", 2);
  const std::string k4("\0\0\0", 3);
  const std::string k5("a\xff\x00", 3);
  const std::string v1("\0val\0", 5);
  mem_->add(1, kTypeValue, k1, v1);
  mem_->add(2, kTypeValue, k2, "");
  mem_->add(3, kTypeValue, k3, "three");
  mem_->add(4, kTypeValue, k4, std::string(1, '\0'));
  mem_->add(5, kTypeDeletion, k5, "");
  mem_->add(6, kTypeValue, "", "empty-key");

  EXPECT_EQ(do_get(*mem_, k1, 10), value_of(v1));
  EXPECT_EQ(do_get(*mem_, k2, 10), value_of(""));
  EXPECT_EQ(do_get(*mem_, k3, 10), value_of("three"));
  EXPECT_EQ(do_get(*mem_, k4, 10), value_of(std::string(1, '\0')));
  EXPECT_EQ(do_get(*mem_, k5, 10), deleted());
  EXPECT_EQ(do_get(*mem_, "", 10), value_of("empty-key"));
  EXPECT_EQ(do_get(*mem_, std::string("a\0c", 3), 10), absent());
  EXPECT_EQ(do_get(*mem_, std::string("\0\0", 2), 10), absent());

  // Bytewise order with embedded NULs: "" < "\0\0\0" < "a" < "a\0" < "a\0b" < "a\xff\0".
  const std::vector<std::string> expected_user_keys = {"", k4, k2, k3, k1, k5};
  auto it = mem_->new_iterator();
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), i++) {
    ASSERT_LT(i, expected_user_keys.size());
    EXPECT_EQ(ExtractUserKey(it->key()).ToString(), expected_user_keys[i]) << i;
  }
  EXPECT_EQ(i, expected_user_keys.size());
}

TEST_P(MemTableTest, LargeValue) {
  std::string big(1 << 20, '\0');
  std::mt19937 rng(5);
  for (char& c : big) c = static_cast<char>(rng());
  const size_t before = mem_->approximate_memory_usage();
  mem_->add(1, kTypeValue, "big", big);
  EXPECT_GE(mem_->approximate_memory_usage(), before + big.size());
  mem_->add(2, kTypeValue, "small", "s");
  EXPECT_EQ(do_get(*mem_, "big", 1), value_of(big));
  EXPECT_EQ(do_get(*mem_, "small", 2), value_of("s"));

  auto it = mem_->new_iterator();
  it->seek(ikey("big", kMaxSequenceNumber, kValueTypeForSeek));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), ikey("big", 1, kTypeValue));
  EXPECT_TRUE(it->value() == Slice(big));
}

TEST_P(MemTableTest, MemoryUsageGrows) {
  size_t last = mem_->approximate_memory_usage();
  const size_t initial = last;
  for (int i = 0; i < 2000; i++) {
    mem_->add(static_cast<SequenceNumber>(i + 1), kTypeValue, "key" + std::to_string(i), std::string(100, 'v'));
    const size_t now = mem_->approximate_memory_usage();
    EXPECT_GE(now, last);
    last = now;
  }
  // 2000 entries of > 100 bytes each.
  EXPECT_GE(last, initial + 2000 * 100);
  EXPECT_EQ(mem_->num_entries(), 2000u);
}

// Iterates in both directions and seeks, against a sorted vector of the
// internal keys added.
TEST_P(MemTableTest, IteratorMatchesSortedInternalKeys) {
  std::mt19937_64 rng(11);
  std::vector<std::pair<std::string, std::string>> entries;  // (internal key, value)
  SequenceNumber seq = 0;
  for (int i = 0; i < 1500; i++) {
    const std::string user_key = "u" + std::to_string(rng() % 300);  // many versions per key
    const ValueType type = (rng() % 5 == 0) ? kTypeDeletion : kTypeValue;
    const std::string value = type == kTypeValue ? "val" + std::to_string(i) : "";
    seq += 1 + rng() % 3;
    mem_->add(seq, type, user_key, value);
    entries.emplace_back(ikey(user_key, seq, type), value);
  }
  std::sort(entries.begin(), entries.end(),
            [&](const auto& a, const auto& b) { return icmp_.compare(a.first, b.first) < 0; });

  auto it = mem_->new_iterator();
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), i++) {
    ASSERT_LT(i, entries.size());
    ASSERT_EQ(it->key().ToString(), entries[i].first) << i;
    ASSERT_EQ(it->value().ToString(), entries[i].second) << i;
  }
  EXPECT_EQ(i, entries.size());

  i = entries.size();
  for (it->seek_to_last(); it->valid(); it->prev()) {
    ASSERT_GT(i, 0u);
    i--;
    ASSERT_EQ(it->key().ToString(), entries[i].first) << i;
    ASSERT_EQ(it->value().ToString(), entries[i].second) << i;
  }
  EXPECT_EQ(i, 0u);

  // Seek targets: existing user keys at assorted sequence numbers (landing
  // between versions), plus keys absent from the table.
  auto less = [&](const auto& e, const std::string& t) { return icmp_.compare(e.first, t) < 0; };
  for (int n = 0; n < 1000; n++) {
    const std::string user_key = "u" + std::to_string(rng() % 320);
    const SequenceNumber s = rng() % (seq + 2);
    const std::string target = ikey(user_key, s, kValueTypeForSeek);

    auto ge = std::lower_bound(entries.begin(), entries.end(), target, less);
    it->seek(target);
    if (ge == entries.end()) {
      EXPECT_FALSE(it->valid());
    } else {
      ASSERT_TRUE(it->valid());
      EXPECT_EQ(it->key().ToString(), ge->first);
      EXPECT_EQ(it->value().ToString(), ge->second);
    }

    // Last entry <= target.
    auto gt = std::upper_bound(entries.begin(), entries.end(), target,
                               [&](const std::string& t, const auto& e) { return icmp_.compare(t, e.first) < 0; });
    it->seek_for_prev(target);
    if (gt == entries.begin()) {
      EXPECT_FALSE(it->valid());
    } else {
      ASSERT_TRUE(it->valid());
      EXPECT_EQ(it->key().ToString(), std::prev(gt)->first);
      // Step back once more to exercise prev() after seek_for_prev().
      it->prev();
      if (std::prev(gt) == entries.begin()) {
        EXPECT_FALSE(it->valid());
      } else {
        ASSERT_TRUE(it->valid());
        EXPECT_EQ(it->key().ToString(), std::prev(gt, 2)->first);
      }
    }
  }

  // seek_for_prev on an exact internal key lands on it.
  it->seek_for_prev(entries[entries.size() / 2].first);
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), entries[entries.size() / 2].first);
}

// Random puts and deletes over a small key space; a std::map model snapshot
// is taken at several sequence numbers and get() must agree with each.
TEST_P(MemTableTest, RandomOpsAgainstModelAtSnapshots) {
  using Model = std::map<std::string, std::optional<std::string>>;  // nullopt = deleted
  std::mt19937_64 rng(2024);
  Model model;
  std::vector<std::pair<SequenceNumber, Model>> snapshots;
  snapshots.emplace_back(0, model);
  SequenceNumber seq = 0;
  auto random_key = [&] {
    std::string k = "key" + std::to_string(rng() % 200);
    if (rng() % 8 == 0) k.push_back('\0');  // a NUL-extended sibling key
    return k;
  };
  for (int i = 0; i < 5000; i++) {
    seq += 1 + rng() % 2;  // gaps: snapshots may fall between sequence numbers
    const std::string k = random_key();
    if (rng() % 4 == 0) {
      mem_->add(seq, kTypeDeletion, k, "");
      model[k] = std::nullopt;
    } else {
      std::string v = "v" + std::to_string(seq);
      if (rng() % 10 == 0) v.clear();
      mem_->add(seq, kTypeValue, k, v);
      model[k] = v;
    }
    if (i % 700 == 0) snapshots.emplace_back(seq, model);
  }
  snapshots.emplace_back(seq, model);
  EXPECT_EQ(mem_->num_entries(), 5000u);

  for (const auto& [snap, m] : snapshots) {
    for (int n = 0; n < 200; n++) {
      std::string k = "key" + std::to_string(n);
      for (int variant = 0; variant < 2; variant++) {
        if (variant == 1) k.push_back('\0');
        GetResult expected;
        auto f = m.find(k);
        if (f != m.end()) expected = f->second ? value_of(*f->second) : deleted();
        ASSERT_EQ(do_get(*mem_, k, snap), expected) << "key " << n << "/" << variant << " at seq " << snap;
      }
    }
  }

  // Reconstruct the latest state by a forward scan: the first version of each
  // user key is its newest; it must match the final model.
  Model scanned;
  auto it = mem_->new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) {
    ParsedInternalKey pk;
    ASSERT_TRUE(ParseInternalKey(it->key(), &pk));
    const std::string uk = pk.user_key.ToString();
    if (scanned.count(uk) != 0) continue;
    scanned[uk] = pk.type == kTypeValue ? std::optional<std::string>(it->value().ToString()) : std::nullopt;
  }
  EXPECT_EQ(scanned, model);
}

TEST_P(MemTableTest, IteratorKeepsMemTableAlive) {
  mem_->add(1, kTypeValue, "a", "1");
  auto it = mem_->new_iterator();
  std::weak_ptr<MemTable> weak = mem_;
  mem_.reset();
  EXPECT_FALSE(weak.expired());
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->value().ToString(), "1");
  it.reset();
  EXPECT_TRUE(weak.expired());
}

TEST(MemTableStackTest, WorksWithoutSharedPtr) {
  InternalKeyComparator icmp(BytewiseComparator());
  MemTable mem(icmp);
  mem.add(1, kTypeValue, "a", "1");
  auto it = mem.new_iterator();
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), ikey("a", 1, kTypeValue));
}

// One writer adds while readers iterate and get(). Every user key is written
// once with its sequence number as value, so readers can check what they see.
TEST_P(MemTableTest, ConcurrentReadersWithOneWriter) {
  constexpr int kNumEntries = 6000;
  constexpr int kReaders = 2;
  auto key_of = [](int i) {
    // Scrambled so that inserts land all over the list.
    char buf[32];
    std::snprintf(buf, sizeof(buf), "k%08u", static_cast<unsigned>((static_cast<uint64_t>(i) * 2654435761u) % 100000007u));
    return std::string(buf);
  };
  std::atomic<int> published{0};
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> ready{0};

  auto reader = [&](int id) {
    std::mt19937 rng(static_cast<unsigned>(id));
    ready.fetch_add(1);
    bool last_pass = false;
    while (!last_pass) {
      last_pass = done.load(std::memory_order_acquire);
      const int known = published.load(std::memory_order_acquire);
      auto it = mem_->new_iterator();
      int count = 0;
      std::string prev_key;
      for (it->seek_to_first(); it->valid(); it->next()) {
        const std::string k = it->key().ToString();
        if (count > 0 && icmp_.compare(prev_key, k) >= 0) failures.fetch_add(1);
        ParsedInternalKey pk;
        if (!ParseInternalKey(k, &pk) || pk.sequence == 0 || pk.sequence > static_cast<uint64_t>(kNumEntries) ||
            key_of(static_cast<int>(pk.sequence - 1)) != pk.user_key.ToString() ||
            it->value().ToString() != std::to_string(pk.sequence)) {
          failures.fetch_add(1);
        }
        prev_key = k;
        count++;
      }
      if (count < known) failures.fetch_add(1);
      for (int n = 0; n < 20 && known > 0; n++) {
        const int i = static_cast<int>(rng() % static_cast<unsigned>(known));
        std::string v;
        Status s;
        LookupKey lk(key_of(i), kMaxSequenceNumber);
        if (!mem_->get(lk, &v, &s) || !s.ok() || v != std::to_string(i + 1)) failures.fetch_add(1);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int r = 0; r < kReaders; r++) threads.emplace_back(reader, r);
  while (ready.load() < kReaders) std::this_thread::yield();
  for (int i = 0; i < kNumEntries; i++) {
    const auto seq = static_cast<SequenceNumber>(i + 1);
    mem_->add(seq, kTypeValue, key_of(i), std::to_string(seq));
    published.store(i + 1, std::memory_order_release);
    if (i % 128 == 0) std::this_thread::yield();
  }
  done.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem_->num_entries(), static_cast<uint64_t>(kNumEntries));
}

TEST_P(MemTableTest, EveryKeyAddedIsFoundAmongManyAbsentOnes) {
  // Many keys, so that a real filter has both set and clear bits; deletions
  // must pass the filter like values.
  std::map<std::string, GetResult> model;
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; i++) {
    const std::string k = "key" + std::to_string(rng() % 1000000);
    const auto seq = static_cast<SequenceNumber>(i + 1);
    if (rng() % 4 == 0) {
      mem_->add(seq, kTypeDeletion, k, "");
      model[k] = deleted();
    } else {
      const std::string v = "v" + std::to_string(i);
      mem_->add(seq, kTypeValue, k, v);
      model[k] = value_of(v);
    }
  }
  for (const auto& [k, expected] : model) ASSERT_EQ(do_get(*mem_, k, kMaxSequenceNumber), expected) << k;
  for (int i = 0; i < 20000; i++) {
    const std::string k = "absent" + std::to_string(i);
    ASSERT_EQ(do_get(*mem_, k, kMaxSequenceNumber), absent()) << k;
  }
  // Usage counts the filter's lines.
  EXPECT_GE(mem_->approximate_memory_usage(), GetParam() / 64 * 64);
}

TEST(MemTableFilterSize, ScalesWithTheMemtableSize) {
  EXPECT_EQ(MemTable::FilterBytesFor(64u << 20), size_t{1} << 20);
  EXPECT_EQ(MemTable::FilterBytesFor(0), 0u);
}

INSTANTIATE_TEST_SUITE_P(Filters, MemTableTest, ::testing::Values(size_t{0}, size_t{64}, size_t{1} << 16),
                         [](const ::testing::TestParamInfo<size_t>& p) {
                           return "filter" + std::to_string(p.param) + "B";
                         });

}  // namespace
}  // namespace lightning
