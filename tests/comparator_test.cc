// Copyright (c) Lightning authors. MIT License.
//
// Custom comparators, through the example NumericComparator
// (examples/numeric_comparator.h):
//
//  - NumericComparatorTest: the comparator alone. Hand-checked pairs ("9" <
//    "10", numbers beyond 64 bits, leading zeros, non-numeric keys after
//    numeric ones), a hand-ordered list, and on a random sample: agreement
//    with a simple reference order, 0 only for identical keys,
//    antisymmetry, transitivity, and a sort that comes out strictly
//    ascending. The shortening hooks change nothing.
//  - ComparatorModelTest (POSIX + LZ4, in-memory + no codec): random numeric
//    keys (and some non-numeric ones, and different spellings of one value)
//    put, overwritten and removed, checked against a std::map ordered by the
//    same comparator through get, forward and reverse iteration, seek /
//    seek_for_prev with short walks, and scan / scan_reverse with random
//    bounds and limits: with the data in the memtable, after flush(), with
//    memtable and level-0 tables mixed, after compact() (all in the
//    B+Tree), over the tree, after reopen, and with small memtables under
//    background flushes and compactions (every SSTable level and the tree).
//  - ComparatorPersistenceTest: a database remembers its comparator's name;
//    opening it with the default comparator or one of another name is
//    InvalidArgument naming both comparators (also for a database that was
//    never written to, and for a bytewise database opened with the numeric
//    comparator), and the refused open changes nothing: reopening with the
//    right comparator finds all the data.
//
// (A comparator with the right name but a different order is the user's
// bug: the engine cannot detect it and no test covers it.)
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./comparator_test --gtest_filter=...
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "../examples/numeric_comparator.h"
#include "lightning/comparator.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/scan.h"
#include "lightning/stats.h"
#include "util/db_test_util.h"
#include "util/model_db_test.h"
#include "util/random.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using lightning_examples::NumericComparator;
using test::Printable;

constexpr size_t kKiB = 1024;
constexpr const char* kNumericName = "lightning.examples.NumericComparator.v1";
constexpr const char* kBytewiseName = "lightning.BytewiseComparator";

const Comparator* Numeric() {
  static const NumericComparator kNumeric;
  return &kNumeric;
}

int Sign(int x) { return (x > 0) - (x < 0); }

// A std::map ordered by the numeric comparator.
struct NumericLess {
  bool operator()(const std::string& a, const std::string& b) const { return Numeric()->compare(a, b) < 0; }
};
using NumericModel = std::map<std::string, std::string, NumericLess>;

// ---------------------------------------------------------------- the comparator alone

// The documented order, written as plainly as possible: numeric keys first,
// by (significant digits, the digits, leading zeros); then the rest bytewise.
std::tuple<int, size_t, std::string, size_t> ReferenceKey(const std::string& s) {
  const bool numeric = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!numeric) return {1, 0, s, 0};
  const size_t zeros = std::min(s.find_first_not_of('0'), s.size());
  const std::string digits = s.substr(zeros);
  return {0, digits.size(), digits, zeros};
}
int ReferenceCompare(const std::string& a, const std::string& b) {
  const auto ka = ReferenceKey(a), kb = ReferenceKey(b);
  return ka < kb ? -1 : (kb < ka ? +1 : 0);
}

// A random key: mostly numbers of 1..30 digits (past 64 bits), some with
// leading zeros, some small; a few non-numeric keys (letters, signs, dots,
// binary bytes, digits with a suffix).
std::string RandomNumericishKey(test::Random* rnd) {
  const uint64_t r = rnd->uniform(100);
  std::string s;
  if (r < 40) {
    s = std::to_string(rnd->uniform(1000));
  } else if (r < 70) {
    const size_t len = 1 + rnd->uniform(30);
    s.push_back(static_cast<char>('1' + rnd->uniform(9)));
    while (s.size() < len) s.push_back(static_cast<char>('0' + rnd->uniform(10)));
  } else if (r < 85) {
    s = std::string(1 + rnd->uniform(3), '0') + std::to_string(rnd->uniform(100));
  } else if (r < 88) {
    s = std::string(1 + rnd->uniform(3), '0');
  } else {
    switch (rnd->uniform(5)) {
      case 0: s = rnd->random_key(1 + rnd->uniform(6)); break;  // may be all digits: fine
      case 1: s = "-" + std::to_string(rnd->uniform(100)); break;
      case 2: s = std::to_string(rnd->uniform(100)) + "." + std::to_string(rnd->uniform(10)); break;
      case 3: s = std::to_string(rnd->uniform(1000)) + "a"; break;
      default: s = rnd->random_bytes(1 + rnd->uniform(4)); break;
    }
  }
  return s;
}

TEST(NumericComparatorTest, HandCheckedPairs) {
  const Comparator* c = Numeric();
  EXPECT_STREQ(kNumericName, c->name());
  const std::vector<std::pair<std::string, std::string>> less = {
      {"9", "10"},
      {"10", "100"},
      {"99", "100"},
      {"0", "1"},
      {"1", "2"},
      {"19", "20"},
      {"7", "07"},  // the same value: fewer leading zeros first
      {"07", "007"},
      {"007", "8"},
      {"0", "00"},
      {"000", "1"},
      {"0999", "1000"},
      {"18446744073709551615", "18446744073709551616"},  // 2^64 - 1 < 2^64
      {"99999999999999999999", "123456789012345678901234567890"},
      {"123456789012345678901234567889", "123456789012345678901234567890"},
      {"999999999999", "a"},  // numeric keys before the rest
      {"1", "1a"},
      {"10", "1a"},
      {"5", ""},  // the empty string is not numeric
      {"", "-1"},  // the rest bytewise
      {"-1", "-2"},
      {"1.5", "1a"},
      {"a", "b"},
      {"12a", "9a"},  // bytewise: '1' < '9'
  };
  for (const auto& [a, b] : less) {
    EXPECT_LT(c->compare(a, b), 0) << "'" << Printable(a) << "' < '" << Printable(b) << "'";
    EXPECT_GT(c->compare(b, a), 0) << "'" << Printable(b) << "' > '" << Printable(a) << "'";
    EXPECT_EQ(ReferenceCompare(a, b), -1) << Printable(a) << " " << Printable(b);
  }
  for (const char* s : {"0", "7", "007", "10", "", "abc", "123456789012345678901234567890"}) {
    EXPECT_EQ(0, c->compare(s, s)) << Printable(s);
  }
  // Equal values, distinct keys: never 0.
  EXPECT_NE(0, c->compare("007", "7"));
  EXPECT_NE(0, c->compare("0", "000"));
}

TEST(NumericComparatorTest, HandOrderedList) {
  const std::vector<std::string> ordered = {"0",   "00",  "1",    "01",  "2",   "9",    "09",  "10",
                                            "010", "11",  "19",   "20",  "99",  "100",  "0100", "101",
                                            "999", "1000", "4294967296", "18446744073709551616",
                                            "100000000000000000000000000000", "",   "+1",  "-1",
                                            "0x10", "1 ", "10a", "9a",  "A",   "a",    std::string("\xff", 1)};
  for (size_t i = 0; i < ordered.size(); i++) {
    for (size_t j = 0; j < ordered.size(); j++) {
      const int expected = i < j ? -1 : (i > j ? +1 : 0);
      EXPECT_EQ(expected, Sign(Numeric()->compare(ordered[i], ordered[j])))
          << "'" << Printable(ordered[i]) << "' vs '" << Printable(ordered[j]) << "'";
    }
  }
}

TEST(NumericComparatorTest, StrictTotalOrderOnRandomSample) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const Comparator* c = Numeric();

  std::vector<std::string> keys;
  for (int i = 0; i < 400; i++) keys.push_back(RandomNumericishKey(&rnd));

  int failures = 0;
  for (size_t i = 0; i < keys.size() && failures < 10; i++) {
    for (size_t j = 0; j < keys.size() && failures < 10; j++) {
      const std::string& a = keys[i];
      const std::string& b = keys[j];
      const int ab = Sign(c->compare(a, b));
      const int ba = Sign(c->compare(b, a));
      bool ok = true;
      ok &= ab == -ba;                        // antisymmetric
      ok &= (ab == 0) == (a == b);            // 0 only for identical keys
      ok &= ab == ReferenceCompare(a, b);     // the documented order
      if (!ok) {
        failures++;
        ADD_FAILURE() << "'" << Printable(a) << "' vs '" << Printable(b) << "': " << ab << " / " << ba
                      << ", reference " << ReferenceCompare(a, b);
      }
    }
  }

  // Transitivity on random triples.
  for (int n = 0; n < 200000 && failures < 10; n++) {
    const std::string& a = keys[rnd.uniform(keys.size())];
    const std::string& b = keys[rnd.uniform(keys.size())];
    const std::string& d = keys[rnd.uniform(keys.size())];
    const int ab = Sign(c->compare(a, b)), bd = Sign(c->compare(b, d)), ad = Sign(c->compare(a, d));
    if (ab <= 0 && bd <= 0 && ad > 0) {
      failures++;
      ADD_FAILURE() << "not transitive: " << Printable(a) << " <= " << Printable(b) << " <= " << Printable(d);
    }
  }

  // Sorting with it gives a strictly ascending sequence once duplicates are
  // dropped, and numbers that fit 64 bits come out in value order.
  std::sort(keys.begin(), keys.end(), NumericLess());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (size_t i = 1; i < keys.size(); i++) {
    ASSERT_LT(c->compare(keys[i - 1], keys[i]), 0) << Printable(keys[i - 1]) << " " << Printable(keys[i]);
  }
  uint64_t last = 0;
  bool have_last = false;
  for (const auto& k : keys) {
    if (std::get<0>(ReferenceKey(k)) != 0 || k.size() > 19) continue;
    const uint64_t v = std::stoull(k);
    if (have_last) {
      EXPECT_LE(last, v) << k;
    }
    last = v;
    have_last = true;
  }
}

TEST(NumericComparatorTest, ShorteningHooksChangeNothing) {
  const Comparator* c = Numeric();
  std::string start = "199";
  c->find_shortest_separator(&start, "3000");
  EXPECT_EQ("199", start);
  std::string key = "123";
  c->find_short_successor(&key);
  EXPECT_EQ("123", key);
  // The bytewise comparator's shortening would be wrong in this order (the
  // example in numeric_comparator.h): its separator of ("199", "3000") and
  // its short successor of "123" are both "2", numerically below them.
  std::string separator = "199";
  BytewiseComparator()->find_shortest_separator(&separator, "3000");
  EXPECT_EQ("2", separator);
  EXPECT_LT(c->compare(separator, "199"), 0);
  std::string successor = "123";
  BytewiseComparator()->find_short_successor(&successor);
  EXPECT_EQ("2", successor);
  EXPECT_LT(c->compare(successor, "123"), 0);
}

// ---------------------------------------------------------------- a database with it

// Describes the first difference between the keys and values a walk yields
// and the expected ones, or "".
std::string Diff(const std::vector<std::pair<std::string, std::string>>& got,
                 const std::vector<std::pair<std::string, std::string>>& want) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); i++) {
    if (i >= got.size()) return "entry " + std::to_string(i) + ": missing '" + Printable(want[i].first) + "'";
    if (i >= want.size()) return "entry " + std::to_string(i) + ": extra '" + Printable(got[i].first) + "'";
    if (got[i].first != want[i].first) {
      return "entry " + std::to_string(i) + ": key '" + Printable(got[i].first) + "', expected '" +
             Printable(want[i].first) + "'";
    }
    if (got[i].second != want[i].second) {
      return "entry " + std::to_string(i) + ": wrong value for '" + Printable(got[i].first) + "'";
    }
  }
  return "";
}

using Entries = std::vector<std::pair<std::string, std::string>>;

// 64 KiB tables and level base, 1 KiB blocks (many index entries), level-0
// compaction at two tables, 4 KiB tree pages; a large memtable so that the
// first phases control where the data is. The last phase reopens with small
// memtables.
Options ModelOptions() {
  Options o;
  o.comparator = Numeric();
  o.memtable_size = 8u << 20;
  o.max_bytes_for_level_base = 64 * kKiB;
  o.target_file_size = 64 * kKiB;
  o.level0_file_num_compaction_trigger = 2;
  o.block_size = 1024;
  o.page_size = 4096;
  o.cache_size = 1 << 20;
  return o;
}

struct ModelConfig {
  std::string name;
  bool memory_env = false;
  CompressionType compression = CompressionType::kLz4;
};

void PrintTo(const ModelConfig& config, std::ostream* os) { *os << config.name; }

std::string ModelConfigName(const ::testing::TestParamInfo<ModelConfig>& info) { return info.param.name; }

class ComparatorModelTest : public test::ModelDbTest, public ::testing::WithParamInterface<ModelConfig> {
 protected:
  ComparatorModelTest() : ModelDbTest("comparator_test", ModelOptions()) {
    use_env(GetParam().memory_env);
    options_.compression = GetParam().compression;
  }

  // Hide the base's put/remove: keep the numeric model as well. The base's
  // bytewise model_ holds the same keys; equal sizes prove that the
  // comparator kept every distinct key distinct.
  void put(const std::string& key, const std::string& value) {
    ASSERT_NO_FATAL_FAILURE(ModelDbTest::put(key, value));
    nmodel_[key] = value;
  }
  void remove(const std::string& key) {
    ASSERT_NO_FATAL_FAILURE(ModelDbTest::remove(key));
    nmodel_.erase(key);
  }

  void make_keys(test::Random* rnd, int n) {
    for (int i = 0; i < n; i++) keys_.push_back(RandomNumericishKey(rnd));
    // Different spellings of the same values, all present at once.
    for (const char* k : {"0", "00", "000", "7", "07", "007", "10", "010", "9", "09"}) keys_.push_back(k);
  }

  void random_ops(test::Random* rnd, int n) {
    for (int i = 0; i < n && !HasFatalFailure(); i++) {
      const std::string& key = keys_[rnd->uniform(keys_.size())];
      if (rnd->uniform(100) < 20) {
        if (!nmodel_.empty() && rnd->one_in(2)) {
          auto it = nmodel_.lower_bound(key);  // a live key
          if (it == nmodel_.end()) it = nmodel_.begin();
          const std::string victim = it->first;
          remove(victim);
        } else {
          remove(key);
        }
      } else {
        put(key, test::MakeValue(key, ++version_, 20 + rnd->uniform(300)));
      }
    }
  }

  // A seek target: a known key, or a random one that may not exist.
  std::string random_target(test::Random* rnd) {
    return rnd->one_in(2) ? keys_[rnd->uniform(keys_.size())] : RandomNumericishKey(rnd);
  }

  Entries model_range(const std::optional<std::string>& start, const std::optional<std::string>& end,
                      bool reverse, size_t limit) const {
    Entries out;
    auto it = start ? nmodel_.lower_bound(*start) : nmodel_.begin();
    for (; it != nmodel_.end(); ++it) {
      if (end && Numeric()->compare(it->first, *end) >= 0) break;
      out.emplace_back(it->first, it->second);
    }
    if (reverse) std::reverse(out.begin(), out.end());
    if (limit != 0 && out.size() > limit) out.resize(limit);
    return out;
  }

  // Everything the database shows, against the model.
  void check_all(test::Random* rnd, const std::string& phase) {
    SCOPED_TRACE(phase + " [" + test::Printable(Describe()) + "]");
    ASSERT_EQ(model_.size(), nmodel_.size()) << "the comparator merged distinct keys";

    // get: every live key, and the pool's keys that are not live.
    std::map<std::string, std::string> live(nmodel_.begin(), nmodel_.end());
    std::vector<std::string> absent;
    for (const auto& k : keys_) {
      if (nmodel_.count(k) == 0) absent.push_back(k);
    }
    EXPECT_EQ("", test::CheckAgainstModel(db_.get(), live, absent));

    const Entries all = model_range(std::nullopt, std::nullopt, false, 0);
    Entries reversed(all.rbegin(), all.rend());

    // Full iteration, both ways.
    {
      auto it = db_->new_iterator();
      Entries got;
      for (it->seek_to_first(); it->valid(); it->next()) got.emplace_back(it->key().ToString(), it->value().ToString());
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      EXPECT_EQ("", Diff(got, all)) << "forward iteration";
      got.clear();
      for (it->seek_to_last(); it->valid(); it->prev()) got.emplace_back(it->key().ToString(), it->value().ToString());
      ASSERT_TRUE(it->status().ok()) << it->status().ToString();
      EXPECT_EQ("", Diff(got, reversed)) << "reverse iteration";
    }

    // seek / seek_for_prev, each followed by a short walk that turns around.
    {
      auto it = db_->new_iterator();
      for (int n = 0; n < 200 && !HasFailure(); n++) {
        const std::string target = random_target(rnd);
        const bool backwards = rnd->one_in(2);
        std::optional<NumericModel::const_iterator> m;
        if (!backwards) {
          it->seek(target);
          auto lb = nmodel_.lower_bound(target);
          if (lb != nmodel_.end()) m = lb;
        } else {
          it->seek_for_prev(target);
          auto ub = nmodel_.upper_bound(target);
          if (ub != nmodel_.begin()) m = std::prev(ub);
        }
        const std::string what = std::string(backwards ? "seek_for_prev('" : "seek('") + Printable(target) + "')";
        ASSERT_EQ(m.has_value(), it->valid()) << what << " " << it->status().ToString();
        if (!m) continue;
        auto cur = *m;
        ASSERT_EQ(cur->first, it->key().ToString()) << what;
        const int steps = static_cast<int>(rnd->uniform(6));
        for (int s = 0; s < steps; s++) {
          const bool forward = rnd->one_in(2);
          if (forward) {
            it->next();
            ++cur;
          } else {
            it->prev();
            if (cur == nmodel_.begin()) {
              cur = nmodel_.end();
            } else {
              --cur;
            }
          }
          ASSERT_EQ(cur != nmodel_.end(), it->valid()) << what << " step " << s << " " << it->status().ToString();
          if (cur == nmodel_.end()) break;
          ASSERT_EQ(cur->first, it->key().ToString()) << what << " step " << s;
          ASSERT_EQ(cur->second, it->value().ToString()) << what << " step " << s;
        }
        it->seek_to_first();  // (re)start cleanly after a walk off the end
      }
    }

    // scan / scan_reverse with random bounds (either may be open; start may
    // lie after end) and limits.
    for (int n = 0; n < 150 && !HasFailure(); n++) {
      std::optional<std::string> start, end;
      if (!rnd->one_in(5)) start = random_target(rnd);
      if (!rnd->one_in(5)) end = random_target(rnd);
      if (start && end && rnd->uniform(10) < 8 && Numeric()->compare(*start, *end) > 0) std::swap(start, end);
      const bool reverse = rnd->one_in(2);
      const size_t limit = rnd->one_in(2) ? 0 : 1 + rnd->uniform(30);
      std::optional<Slice> s = start ? std::optional<Slice>(*start) : std::nullopt;
      std::optional<Slice> e = end ? std::optional<Slice>(*end) : std::nullopt;
      Scan scan = reverse ? db_->scan_reverse(s, e, limit) : db_->scan(s, e, limit);
      Entries got;
      for (const auto& [key, value] : scan) got.emplace_back(key.ToString(), value.ToString());
      ASSERT_TRUE(scan.status().ok()) << scan.status().ToString();
      EXPECT_EQ("", Diff(got, model_range(start, end, reverse, limit)))
          << (reverse ? "scan_reverse(" : "scan(") << (start ? "'" + Printable(*start) + "'" : "-") << ", "
          << (end ? "'" + Printable(*end) + "'" : "-") << ", " << limit << ")";
    }
  }

  std::string Describe() {
    const DatabaseStats st = db_->stats();
    std::string s;
    for (size_t i = 0; i < st.levels.size(); i++) {
      if (st.levels[i].files > 0) s += "L" + std::to_string(i) + " " + std::to_string(st.levels[i].files) + " ";
    }
    return s + "| memtable bytes " + std::to_string(st.memtable_bytes) + " | tree " +
           std::to_string(st.tree_entries) + " entries";
  }
  int table_count() {
    int n = 0;
    for (const auto& l : db_->stats().levels) n += l.files;
    return n;
  }

  NumericModel nmodel_;
  std::vector<std::string> keys_;
  uint64_t version_ = 0;
};

TEST_P(ComparatorModelTest, MatchesModelInEveryTier) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  make_keys(&rnd, 1500);
  ASSERT_NO_FATAL_FAILURE(open());

  // 1. The memtable only.
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 3000));
  ASSERT_EQ(0, table_count()) << Describe();
  ASSERT_EQ(0u, db_->stats().tree_entries);
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "memtable"));

  // 2. One level-0 table.
  ASSERT_NO_FATAL_FAILURE(flush());
  ASSERT_GT(table_count(), 0) << Describe();
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "after flush"));

  // 3. Overwrites and removes in the memtable over the table, then a second
  //    table (which may start a compaction).
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 1500));
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "memtable over a table"));
  ASSERT_NO_FATAL_FAILURE(flush());
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 500));
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "memtable over two flushes"));

  // 4. Everything in the B+Tree.
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_EQ(0, table_count()) << Describe();
  ASSERT_GT(db_->stats().tree_entries, 0u);
  ASSERT_GT(db_->stats().tree_height, 1u) << "expected a tree of several levels";
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "after compact"));

  // 5. New writes and tombstones over the tree, in the memtable and a table.
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 1500));
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "memtable over the tree"));
  ASSERT_NO_FATAL_FAILURE(flush());
  ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 300));
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "memtable, a table and the tree"));

  // 6. Reopen (with a new comparator object of the same name).
  ASSERT_NO_FATAL_FAILURE(close());
  NumericComparator another;
  options_.comparator = &another;
  ASSERT_NO_FATAL_FAILURE(open());
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "after reopen"));

  // 7. Small memtables: background flushes and compactions move the data
  //    through the levels into the tree while writes go on.
  ASSERT_NO_FATAL_FAILURE(close());
  options_.comparator = Numeric();
  options_.memtable_size = 64 * kKiB;
  ASSERT_NO_FATAL_FAILURE(open());
  for (int round = 0; round < 6; round++) {
    ASSERT_NO_FATAL_FAILURE(random_ops(&rnd, 2000));
    ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "background work, round " + std::to_string(round)));
  }
  EXPECT_GT(db_->stats().flushes, 5u) << "expected background flushes";
  ASSERT_NO_FATAL_FAILURE(compact());
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "final compact"));
  ASSERT_NO_FATAL_FAILURE(reopen());
  ASSERT_NO_FATAL_FAILURE(check_all(&rnd, "final reopen"));
}

INSTANTIATE_TEST_SUITE_P(Configs, ComparatorModelTest,
                         ::testing::Values(ModelConfig{"PosixLz4", false, CompressionType::kLz4},
                                           ModelConfig{"MemoryNone", true, CompressionType::kNone}),
                         ModelConfigName);

// Regression: under a non-bytewise order the keys of a byte prefix are not
// adjacent, and scan_prefix used to stop at the first key outside it
// (returning only "1" here). It now walks the range and skips the others.
TEST(NumericComparatorScanTest, PrefixScanFindsScatteredKeys) {
  auto env = NewMemoryEnv();
  Options o;
  o.env = env.get();
  o.comparator = Numeric();
  auto r = Database::open("/db", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());
  for (const char* k : {"1", "2", "10", "11", "100", "1a", "12a", "b"}) ASSERT_TRUE(db->put(k, k).ok());
  for (int round = 0; round < 2; round++) {
    std::vector<std::string> got;
    for (const auto& e : db->scan_prefix("1")) got.push_back(e.key.ToString());
    EXPECT_EQ((std::vector<std::string>{"1", "10", "11", "100", "12a", "1a"}), got);
    ScanOptions rev;
    rev.prefix = "1";
    rev.reverse = true;
    rev.limit = 4;
    got.clear();
    for (const auto& e : db->new_scan(rev)) got.push_back(e.key.ToString());
    EXPECT_EQ((std::vector<std::string>{"1a", "12a", "100", "11"}), got);
    ScanOptions bounded;
    bounded.prefix = "1";
    bounded.start = "2";
    bounded.end = "1a";
    got.clear();
    for (const auto& e : db->new_scan(bounded)) got.push_back(e.key.ToString());
    EXPECT_EQ((std::vector<std::string>{"10", "11", "100", "12a"}), got);
    ASSERT_TRUE(db->compact().ok());
  }
  ASSERT_TRUE(db->close().ok());
}

// ---------------------------------------------------------------- persistence

// The numeric order under another name.
class RenamedNumericComparator final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override { return numeric_.compare(a, b); }
  const char* name() const override { return "test.RenamedNumericComparator"; }

 private:
  NumericComparator numeric_;
};

class ComparatorPersistenceTest : public ::testing::TestWithParam<bool> {
 protected:
  ComparatorPersistenceTest() {
    if (GetParam()) {
      mem_env_ = NewMemoryEnv();
      options_.env = mem_env_.get();
      path_ = "/db";
    } else {
      path_ = dir_.path() + "/db";
    }
  }

  Result<std::unique_ptr<Database>> open_with(const Comparator* cmp) {
    Options o = options_;
    o.comparator = cmp;
    return Database::open(path_, o);
  }

  // Opening with cmp is refused with InvalidArgument naming both the
  // database's comparator and cmp's.
  void expect_refused(const Comparator* cmp, const std::string& created_with) {
    const std::string given = cmp == nullptr ? kBytewiseName : cmp->name();
    SCOPED_TRACE("opened with " + given);
    auto r = open_with(cmp);
    ASSERT_FALSE(r.ok()) << "a database created with " << created_with << " opened with " << given;
    EXPECT_TRUE(r.status().IsInvalidArgument()) << r.status().ToString();
    const std::string& msg = r.status().message();
    EXPECT_NE(std::string::npos, msg.find(created_with)) << msg;
    EXPECT_NE(std::string::npos, msg.find(given)) << msg;
  }

  // Opens with the numeric comparator and checks that the database holds
  // exactly "1".."n" (value "v<i>") in numeric order.
  void expect_numbers(int n) {
    auto r = open_with(Numeric());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    std::vector<std::string> got;
    for (const auto& [key, value] : db->scan(std::nullopt, std::nullopt)) {
      EXPECT_EQ("v" + key.ToString(), value.ToString());
      got.push_back(key.ToString());
    }
    std::vector<std::string> want;
    for (int i = 1; i <= n; i++) want.push_back(std::to_string(i));
    EXPECT_EQ(want, got);
    EXPECT_TRUE(db->close().ok());
  }

  test::TempDir dir_{"comparator_test"};
  std::unique_ptr<Env> mem_env_;
  Options options_;
  std::string path_;
};

TEST_P(ComparatorPersistenceTest, NumericDatabaseRefusesOtherComparators) {
  {
    auto r = open_with(Numeric());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::unique_ptr<Database> db = std::move(r.value());
    // Data in the tree, a table and the log / memtable.
    for (int i = 1; i <= 100; i++) ASSERT_TRUE(db->put(std::to_string(i), "v" + std::to_string(i)).ok());
    ASSERT_TRUE(db->compact().ok());
    for (int i = 101; i <= 150; i++) ASSERT_TRUE(db->put(std::to_string(i), "v" + std::to_string(i)).ok());
    ASSERT_TRUE(db->flush().ok());
    for (int i = 151; i <= 200; i++) ASSERT_TRUE(db->put(std::to_string(i), "v" + std::to_string(i)).ok());
    ASSERT_TRUE(db->close().ok());
  }
  Env* env = options_.env != nullptr ? options_.env : Env::Default();
  const test::DirSnapshot before = test::SnapshotDir(env, path_);
  ASSERT_NO_FATAL_FAILURE(expect_refused(nullptr, kNumericName));  // the default
  ASSERT_NO_FATAL_FAILURE(expect_refused(BytewiseComparator(), kNumericName));
  RenamedNumericComparator renamed;  // the same order, another name
  ASSERT_NO_FATAL_FAILURE(expect_refused(&renamed, kNumericName));
  // The refused opens changed no file and released the directory.
  EXPECT_TRUE(before == test::SnapshotDir(env, path_)) << "a refused open changed the database's files";
  ASSERT_NO_FATAL_FAILURE(expect_numbers(200));
  NumericComparator fresh;  // another object of the same name is fine
  auto r = open_with(&fresh);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ("v9", r.value()->get("9").value());
  EXPECT_TRUE(r.value()->close().ok());
}

TEST_P(ComparatorPersistenceTest, EmptyDatabaseRemembersItsComparator) {
  {
    auto r = open_with(Numeric());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r.value()->close().ok());
  }
  ASSERT_NO_FATAL_FAILURE(expect_refused(nullptr, kNumericName));
  ASSERT_NO_FATAL_FAILURE(expect_numbers(0));
}

TEST_P(ComparatorPersistenceTest, BytewiseDatabaseRefusesNumeric) {
  {
    auto r = open_with(nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_TRUE(r.value()->put("9", "nine").ok());
    ASSERT_TRUE(r.value()->put("10", "ten").ok());
    ASSERT_TRUE(r.value()->close().ok());
  }
  ASSERT_NO_FATAL_FAILURE(expect_refused(Numeric(), kBytewiseName));
  // Still bytewise: "10" before "9".
  auto r = open_with(nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<std::string> got;
  for (const auto& [key, value] : r.value()->scan(std::nullopt, std::nullopt)) got.push_back(key.ToString());
  EXPECT_EQ((std::vector<std::string>{"10", "9"}), got);
  EXPECT_TRUE(r.value()->close().ok());
}

std::string EnvName(const ::testing::TestParamInfo<bool>& param_info) { return param_info.param ? "Memory" : "Posix"; }

INSTANTIATE_TEST_SUITE_P(Envs, ComparatorPersistenceTest, ::testing::Values(false, true), EnvName);

}  // namespace
}  // namespace lightning
