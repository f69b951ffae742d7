// Copyright (c) Lightning authors. MIT License.
//
// The transaction iterator (src/txn/write_set_iterator.h): the database's
// view at a snapshot with the transaction's write set merged on top.
//
//  - WriteSetIteratorRandomTest (bytewise and reverse comparators): random
//    base contents and write sets (puts over base keys, removals of base and
//    of absent keys, new keys), then random seeks (present, absent, before
//    all, after all) each followed by a random next/prev walk with direction
//    changes, checked step by step against a std::map model; every move's
//    observer report must cover the base interval the model says the move
//    depended on. ...WriteSetChanges: the write set is changed (put, remove,
//    erase, also of the current key) between calls; key()/value() must not
//    change until the next move, which must follow the new write set.
//    ...BaseErrors: the base fails when it lands on one entry; the iterator
//    never shows a wrong entry, and becomes !valid() with Corruption
//    whenever the move had to read the damaged entry.
//  - WriteSetIteratorTest: empty base and write set, everything removed,
//    hand-checked merges and exact observer reports, a reverse comparator,
//    a damaged base in both directions and recovery by a new seek, seeking
//    to the iterator's own key, write-set changes of the current entry, an
//    observer that throws, ownership of the base.
//
// The base is a test Iterator that hands out key/value slices into buffers
// it frees on every move, so ASan catches any stale use of them.
//
// Randomized tests print their seed; replay with
//   LIGHTNING_TEST_SEED=<seed> ./write_set_iterator_test --gtest_filter=...
#include "txn/write_set_iterator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "lightning/comparator.h"
#include "lightning/iterator.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "util/random.h"
#include "util/test_comparators.h"

namespace lightning {
namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;
using OptKey = std::optional<std::string>;

constexpr size_t kNoFailure = SIZE_MAX;

const Comparator* Reverse() { return test::ReverseBytewise(); }

// A public Iterator over a vector sorted by cmp. Landing on entry fail_at
// makes it !valid() with Corruption (a damaged block); a seek starts afresh.
// key() and value() point into buffers replaced on every move, so a caller
// that keeps them past a move reads freed memory (ASan reports it).
class TestIterator final : public Iterator {
 public:
  TestIterator(const Comparator* cmp, Entries entries, size_t fail_at = kNoFailure, int* live = nullptr)
      : cmp_(cmp), entries_(std::move(entries)), fail_at_(fail_at), live_(live) {
    for (size_t i = 1; i < entries_.size(); i++) {
      EXPECT_LT(cmp_->compare(entries_[i - 1].first, entries_[i].first), 0) << "unsorted base";
    }
    if (live_ != nullptr) ++*live_;
  }
  ~TestIterator() override {
    if (live_ != nullptr) --*live_;
  }

  bool valid() const override { return status_.ok() && pos_ < entries_.size(); }
  void seek_to_first() override { land(0); }
  void seek_to_last() override { land(entries_.empty() ? kNoFailure : entries_.size() - 1); }
  void seek(const Slice& target) override {
    land(static_cast<size_t>(std::lower_bound(entries_.begin(), entries_.end(), target,
                                              [this](const auto& e, const Slice& t) {
                                                return cmp_->compare(e.first, t) < 0;
                                              }) -
                             entries_.begin()));
  }
  void seek_for_prev(const Slice& target) override {
    const size_t ub = static_cast<size_t>(
        std::upper_bound(entries_.begin(), entries_.end(), target,
                         [this](const Slice& t, const auto& e) { return cmp_->compare(t, e.first) < 0; }) -
        entries_.begin());
    land(ub == 0 ? kNoFailure : ub - 1);
  }
  void next() override {
    if (!valid()) {
      ADD_FAILURE() << "next() of an invalid base";
      return;
    }
    land(pos_ + 1);
  }
  void prev() override {
    if (!valid()) {
      ADD_FAILURE() << "prev() of an invalid base";
      return;
    }
    land(pos_ == 0 ? kNoFailure : pos_ - 1);
  }
  Slice key() const override {
    if (!valid()) {
      ADD_FAILURE() << "key() of an invalid base";
      return Slice();
    }
    return *key_;
  }
  Slice value() const override {
    if (!valid()) {
      ADD_FAILURE() << "value() of an invalid base";
      return Slice();
    }
    return *value_;
  }
  Status status() const override { return status_; }

 private:
  void land(size_t pos) {
    pos_ = pos;
    status_ = pos < entries_.size() && pos == fail_at_
                  ? Status::Corruption("injected damage", "entry " + std::to_string(pos))
                  : Status::OK();
    key_.reset();
    value_.reset();
    if (valid()) {
      key_ = std::make_unique<std::string>(entries_[pos].first);
      value_ = std::make_unique<std::string>(entries_[pos].second);
    }
  }

  const Comparator* const cmp_;
  const Entries entries_;
  const size_t fail_at_;
  int* const live_;
  size_t pos_ = kNoFailure;
  Status status_;
  std::unique_ptr<std::string> key_;
  std::unique_ptr<std::string> value_;
};

struct Interval {
  OptKey lo;  // nullopt: -inf
  OptKey hi;  // nullopt: +inf
};

std::string Show(const OptKey& k, const char* inf) { return k ? "\"" + *k + "\"" : std::string(inf); }
std::string Show(const Interval& r) { return "[" + Show(r.lo, "-inf") + ", " + Show(r.hi, "+inf") + "]"; }

class RecordingObserver final : public ReadRangeObserver {
 public:
  void on_range_read(const OptKey& lo, const OptKey& hi) override { reports.push_back(Interval{lo, hi}); }
  std::vector<Interval> reports;
};

// Whether the union of the closed intervals rs covers the closed interval
// need, under cmp.
bool Covers(const Comparator* cmp, const std::vector<Interval>& rs, const Interval& need) {
  // lo-type keys: nullopt = -inf; hi-type keys: nullopt = +inf.
  auto lo_le = [cmp](const OptKey& lo, const OptKey& point) {  // lo <= point (point lo-type)
    if (!lo) return true;
    if (!point) return false;
    return cmp->compare(*lo, *point) <= 0;
  };
  auto hi_ge_point = [cmp](const OptKey& hi, const OptKey& point) {  // hi >= point (point lo-type)
    if (!hi || !point) return true;
    return cmp->compare(*hi, *point) >= 0;
  };
  auto hi_ge_hi = [cmp](const OptKey& a, const OptKey& b) {  // a >= b, both hi-type
    if (!a) return true;
    if (!b) return false;
    return cmp->compare(*a, *b) >= 0;
  };
  OptKey cur = need.lo;  // everything below cur (exclusive) that is needed is covered
  for (;;) {
    bool found = false;
    OptKey best;
    for (const Interval& r : rs) {
      if (!lo_le(r.lo, cur) || !hi_ge_point(r.hi, cur)) continue;  // r does not contain cur
      if (!found || !hi_ge_hi(best, r.hi)) best = r.hi;
      found = true;
    }
    if (!found) return false;
    if (hi_ge_hi(best, need.hi)) return true;
    if (cur && cmp->compare(*best, *cur) == 0) return false;  // no progress past cur
    cur = best;
  }
}

// The merged view as a sorted vector, with the searches a move needs.
class Model {
 public:
  Model(const Comparator* cmp, const Entries& base, const WriteSet& writes) : cmp_(cmp) {
    std::map<std::string, std::string, WriteSetLess> m(WriteSetLess{cmp});
    for (const auto& [k, v] : base) m[k] = v;
    for (const auto& [k, v] : writes) {
      if (v) {
        m[k] = *v;
      } else {
        m.erase(k);
      }
    }
    entries_.assign(m.begin(), m.end());
  }

  const Entries& entries() const { return entries_; }

  std::optional<size_t> first() const { return entries_.empty() ? std::nullopt : std::optional<size_t>(0); }
  std::optional<size_t> last() const {
    return entries_.empty() ? std::nullopt : std::optional<size_t>(entries_.size() - 1);
  }
  std::optional<size_t> first_ge(const std::string& t) const { return at(lower(t)); }
  std::optional<size_t> first_gt(const std::string& t) const { return at(upper(t)); }
  std::optional<size_t> last_le(const std::string& t) const {
    const size_t u = upper(t);
    return u == 0 ? std::nullopt : std::optional<size_t>(u - 1);
  }
  std::optional<size_t> last_lt(const std::string& t) const {
    const size_t l = lower(t);
    return l == 0 ? std::nullopt : std::optional<size_t>(l - 1);
  }

 private:
  std::optional<size_t> at(size_t i) const { return i < entries_.size() ? std::optional<size_t>(i) : std::nullopt; }
  size_t lower(const std::string& t) const {
    return static_cast<size_t>(std::lower_bound(entries_.begin(), entries_.end(), t,
                                                [this](const auto& e, const std::string& x) {
                                                  return cmp_->compare(e.first, x) < 0;
                                                }) -
                               entries_.begin());
  }
  size_t upper(const std::string& t) const {
    return static_cast<size_t>(std::upper_bound(entries_.begin(), entries_.end(), t,
                                                [this](const std::string& x, const auto& e) {
                                                  return cmp_->compare(x, e.first) < 0;
                                                }) -
                               entries_.begin());
  }

  const Comparator* cmp_;
  Entries entries_;
};

// Keys of length 1..3 over "abcd": a small universe, so that base and write
// set collide often.
std::vector<std::string> Universe() {
  std::vector<std::string> u;
  const std::string alphabet = "abcd";
  for (char a : alphabet) {
    u.push_back(std::string(1, a));
    for (char b : alphabet) {
      u.push_back(std::string{a, b});
      for (char c : alphabet) u.push_back(std::string{a, b, c});
    }
  }
  return u;
}

Entries SortedBase(const Comparator* cmp, const std::map<std::string, std::string>& m) {
  Entries e(m.begin(), m.end());
  std::sort(e.begin(), e.end(), [cmp](const auto& a, const auto& b) { return cmp->compare(a.first, b.first) < 0; });
  return e;
}

enum class Op { kSeekToFirst, kSeekToLast, kSeek, kSeekForPrev, kNext, kPrev };

const char* OpName(Op op) {
  switch (op) {
    case Op::kSeekToFirst: return "seek_to_first";
    case Op::kSeekToLast: return "seek_to_last";
    case Op::kSeek: return "seek";
    case Op::kSeekForPrev: return "seek_for_prev";
    case Op::kNext: return "next";
    case Op::kPrev: return "prev";
  }
  return "?";
}

bool Forward(Op op) { return op == Op::kSeekToFirst || op == Op::kSeek || op == Op::kNext; }

struct RandomConfig {
  bool change_writes = false;  // change the write set between calls
  bool base_errors = false;    // the base fails on one entry
  bool observe = true;
};

// One randomized run: kRounds fresh base/write-set pairs, each with a series
// of seeks and walks, checked against the model after every move.
void RunRandom(const Comparator* cmp, const RandomConfig& config) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const std::vector<std::string> universe = Universe();
  // Seek targets beyond the universe: before or after every key under either
  // order, and keys between universe keys.
  std::vector<std::string> targets = universe;
  for (const char* extra : {"", "\xff\xff", "0", "e", "zzzz", "abca", "dddd", "b\x01"}) targets.emplace_back(extra);

  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; round++) {
    SCOPED_TRACE("round=" + std::to_string(round));
    const uint64_t base_pct[] = {0, 10, 50, 90, 100};
    const uint64_t write_pct[] = {0, 5, 30, 80};
    const uint64_t bp = base_pct[rnd.uniform(5)];
    const uint64_t wp = write_pct[rnd.uniform(4)];
    std::map<std::string, std::string> base_map;
    for (const std::string& k : universe) {
      if (rnd.uniform(100) < bp) base_map[k] = "base:" + k + ":" + std::to_string(rnd.uniform(1000));
    }
    const Entries base = SortedBase(cmp, base_map);
    WriteSet writes(WriteSetLess{cmp});
    auto random_write = [&](const std::string& k) {
      if (rnd.one_in(3)) {
        writes[k] = std::nullopt;  // a removal, of a base key or of an absent one
      } else {
        writes[k] = "txn:" + k + ":" + std::to_string(rnd.uniform(1000)) + std::string(rnd.uniform(40), 'v');
      }
    };
    for (const std::string& k : universe) {
      if (rnd.uniform(100) < wp) random_write(k);
    }
    size_t fail_at = kNoFailure;
    if (config.base_errors && !base.empty()) fail_at = rnd.uniform(base.size());
    const std::optional<std::string> fail_key =
        fail_at == kNoFailure ? std::nullopt : std::optional<std::string>(base[fail_at].first);

    Model model(cmp, base, writes);
    RecordingObserver observer;
    auto it = NewWriteSetIterator(cmp, std::make_unique<TestIterator>(cmp, base, fail_at), &writes,
                                  config.observe ? &observer : nullptr);
    EXPECT_FALSE(it->valid());

    std::optional<std::string> cur;  // the model's position: the key shown
    int walk_left = 0;
    bool forward_bias = true;
    for (int step = 0; step < 150; step++) {
      // Maybe change the write set between calls (the contract allows it).
      if (config.change_writes && rnd.one_in(4)) {
        const bool shown = it->valid();
        std::string shown_key, shown_value;
        if (shown) {
          shown_key = it->key().ToString();
          shown_value = it->value().ToString();
        }
        const std::string k = (cur && rnd.one_in(2)) ? *cur : universe[rnd.uniform(universe.size())];
        if (rnd.one_in(4)) {
          writes.erase(k);
        } else {
          random_write(k);
        }
        model = Model(cmp, base, writes);
        ASSERT_EQ(it->valid(), shown);
        if (shown) {
          // Unchanged until the next move, even if the entry was erased.
          ASSERT_EQ(it->key().ToString(), shown_key);
          ASSERT_EQ(it->value().ToString(), shown_value);
        }
      }

      Op op;
      if (cur && walk_left > 0) {
        walk_left--;
        if (rnd.one_in(5)) forward_bias = !forward_bias;  // a direction change
        op = forward_bias ? Op::kNext : Op::kPrev;
      } else {
        op = static_cast<Op>(rnd.uniform(4));
        walk_left = static_cast<int>(rnd.uniform(30));
        forward_bias = rnd.one_in(2);
      }
      std::string target = targets[rnd.uniform(targets.size())];
      SCOPED_TRACE(std::string("step ") + std::to_string(step) + ": " + OpName(op) +
                   (op == Op::kSeek || op == Op::kSeekForPrev ? "(\"" + target + "\")" : "") +
                   " from " + Show(cur, "(invalid)"));

      // The model's landing, and the base interval the move depends on.
      std::optional<size_t> want;
      OptKey from;  // the move's start; nullopt = unbounded
      switch (op) {
        case Op::kSeekToFirst: want = model.first(); break;
        case Op::kSeekToLast: want = model.last(); break;
        case Op::kSeek: want = model.first_ge(target); from = target; break;
        case Op::kSeekForPrev: want = model.last_le(target); from = target; break;
        case Op::kNext: want = model.first_gt(*cur); from = cur; break;
        case Op::kPrev: want = model.last_lt(*cur); from = cur; break;
      }
      const OptKey landing = want ? OptKey(model.entries()[*want].first) : std::nullopt;
      const Interval need = Forward(op) ? Interval{from, landing} : Interval{landing, from};

      const size_t reports_before = observer.reports.size();
      switch (op) {
        case Op::kSeekToFirst: it->seek_to_first(); break;
        case Op::kSeekToLast: it->seek_to_last(); break;
        case Op::kSeek: it->seek(target); break;
        case Op::kSeekForPrev: it->seek_for_prev(target); break;
        case Op::kNext: it->next(); break;
        case Op::kPrev: it->prev(); break;
      }

      if (config.observe) {
        // One report per move, made before the move returns, covering what
        // the model says the move depended on.
        ASSERT_EQ(observer.reports.size(), reports_before + 1);
        const std::vector<Interval> made(observer.reports.begin() + static_cast<ptrdiff_t>(reports_before),
                                         observer.reports.end());
        if (it->status().ok()) {
          ASSERT_TRUE(Covers(cmp, made, need)) << "needed " << Show(need) << ", reported " << Show(made[0]);
        } else {
          // Stopped by an error: reported to the end in its direction.
          const Interval to_end = Forward(op) ? Interval{from, std::nullopt} : Interval{std::nullopt, from};
          ASSERT_TRUE(Covers(cmp, made, to_end)) << "needed " << Show(to_end) << ", reported " << Show(made[0]);
        }
      }

      // Must the move have read the damaged entry? It did if the damaged
      // key lies in the interval it had to read (for next/prev, beyond its
      // start: the old key itself was shown, so the base did not sit on it).
      bool must_fail = false;
      if (fail_key) {
        const bool is_step = op == Op::kNext || op == Op::kPrev;
        auto above_lo = [&](const OptKey& lo) {
          if (!lo) return true;
          const int c = cmp->compare(*fail_key, *lo);
          return is_step && Forward(op) ? c > 0 : c >= 0;
        };
        auto below_hi = [&](const OptKey& hi) {
          if (!hi) return true;
          const int c = cmp->compare(*fail_key, *hi);
          return is_step && !Forward(op) ? c < 0 : c <= 0;
        };
        must_fail = above_lo(need.lo) && below_hi(need.hi);
      }

      if (it->valid()) {
        ASSERT_TRUE(it->status().ok()) << it->status().ToString();
        ASSERT_FALSE(must_fail) << "showed " << it->key().ToString() << " past the damaged entry " << *fail_key;
        ASSERT_TRUE(want.has_value()) << "showed " << it->key().ToString() << ", model: invalid";
        ASSERT_EQ(it->key().ToString(), model.entries()[*want].first);
        ASSERT_EQ(it->value().ToString(), model.entries()[*want].second);
        cur = it->key().ToString();
      } else {
        if (it->status().ok()) {
          ASSERT_FALSE(must_fail) << "no error reported for the damaged entry " << *fail_key;
          ASSERT_FALSE(want.has_value()) << "invalid, model: " << model.entries()[*want].first;
        } else {
          ASSERT_TRUE(config.base_errors) << it->status().ToString();
          ASSERT_TRUE(it->status().IsCorruption()) << it->status().ToString();
        }
        cur.reset();
        walk_left = 0;
      }
    }
  }
}

class WriteSetIteratorRandomTest : public testing::TestWithParam<bool> {
 protected:
  const Comparator* cmp() const { return GetParam() ? Reverse() : BytewiseComparator(); }
};

TEST_P(WriteSetIteratorRandomTest, MatchesModel) { RunRandom(cmp(), RandomConfig{}); }

TEST_P(WriteSetIteratorRandomTest, MatchesModelWithoutObserver) {
  RandomConfig config;
  config.observe = false;
  RunRandom(cmp(), config);
}

TEST_P(WriteSetIteratorRandomTest, WriteSetChanges) {
  RandomConfig config;
  config.change_writes = true;
  RunRandom(cmp(), config);
}

TEST_P(WriteSetIteratorRandomTest, BaseErrors) {
  RandomConfig config;
  config.base_errors = true;
  RunRandom(cmp(), config);
}

TEST_P(WriteSetIteratorRandomTest, BaseErrorsAndWriteSetChanges) {
  RandomConfig config;
  config.base_errors = true;
  config.change_writes = true;
  RunRandom(cmp(), config);
}

INSTANTIATE_TEST_SUITE_P(Comparators, WriteSetIteratorRandomTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& param_info) {
                           return std::string(param_info.param ? "Reverse" : "Bytewise");
                         });

// ---- Hand-checked cases ----

struct Fixture {
  explicit Fixture(const Comparator* c, Entries base_entries, size_t fail_at = kNoFailure)
      : cmp(c), writes(WriteSetLess{c}), base(std::move(base_entries)), fail(fail_at) {}

  std::unique_ptr<Iterator> make(ReadRangeObserver* observer = nullptr) {
    return NewWriteSetIterator(cmp, std::make_unique<TestIterator>(cmp, base, fail), &writes, observer);
  }

  const Comparator* cmp;
  WriteSet writes;
  Entries base;
  size_t fail;
};

// Every key (and value) from the current position forwards/backwards.
std::vector<std::string> DrainForward(Iterator* it) {
  std::vector<std::string> out;
  for (; it->valid(); it->next()) out.push_back(it->key().ToString() + "=" + it->value().ToString());
  return out;
}
std::vector<std::string> DrainBackward(Iterator* it) {
  std::vector<std::string> out;
  for (; it->valid(); it->prev()) out.push_back(it->key().ToString() + "=" + it->value().ToString());
  return out;
}

using Strings = std::vector<std::string>;

void ExpectReport(const RecordingObserver& obs, const OptKey& lo, const OptKey& hi) {
  ASSERT_FALSE(obs.reports.empty());
  const Interval& r = obs.reports.back();
  EXPECT_EQ(r.lo, lo) << Show(r);
  EXPECT_EQ(r.hi, hi) << Show(r);
}

TEST(WriteSetIteratorTest, EmptyBaseAndWriteSet) {
  Fixture f(BytewiseComparator(), {});
  RecordingObserver obs;
  auto it = f.make(&obs);
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(obs.reports.empty());  // nothing read before the first move
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
  ExpectReport(obs, std::nullopt, std::nullopt);
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, std::nullopt, std::nullopt);
  it->seek("k");
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, "k", std::nullopt);
  it->seek_for_prev("k");
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, std::nullopt, "k");
  EXPECT_TRUE(it->status().ok());
}

TEST(WriteSetIteratorTest, EverythingRemoved) {
  Fixture f(BytewiseComparator(), {{"a", "1"}, {"b", "2"}, {"c", "3"}});
  for (const char* k : {"a", "b", "c", "zz", "0"}) f.writes[k] = std::nullopt;  // "zz", "0": absent from base
  auto it = f.make();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  it->seek("b");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("b");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());

  // One new key among the removals: the only thing visible either way.
  f.writes["bb"] = "new";
  it->seek_to_first();
  EXPECT_EQ(DrainForward(it.get()), Strings({"bb=new"}));
  it->seek_to_last();
  EXPECT_EQ(DrainBackward(it.get()), Strings({"bb=new"}));
  it->seek("a");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "bb");
  it->prev();
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("c");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "bb");
  it->next();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(WriteSetIteratorTest, MergeAndExactReports) {
  // base b d f; writes: c put (new), d removed, f overridden.
  Fixture f(BytewiseComparator(), {{"b", "B"}, {"d", "D"}, {"f", "F"}});
  f.writes["c"] = "c1";
  f.writes["d"] = std::nullopt;
  f.writes["f"] = "f1";
  RecordingObserver obs;
  auto it = f.make(&obs);

  it->seek("a");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  EXPECT_EQ(it->value().ToString(), "B");
  ExpectReport(obs, "a", "b");
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  EXPECT_EQ(it->value().ToString(), "c1");
  ExpectReport(obs, "b", "c");
  it->next();  // d is removed
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "f");
  EXPECT_EQ(it->value().ToString(), "f1");
  ExpectReport(obs, "c", "f");
  it->prev();  // direction change
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  ExpectReport(obs, "c", "f");
  it->next();  // and back
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "f");
  ExpectReport(obs, "c", "f");
  it->next();
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, "f", std::nullopt);

  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  ExpectReport(obs, std::nullopt, "b");
  it->seek_to_last();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "f");
  ExpectReport(obs, "f", std::nullopt);
  it->seek_for_prev("e");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  ExpectReport(obs, "c", "e");
  it->prev();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  ExpectReport(obs, "b", "c");
  it->prev();
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, std::nullopt, "b");
  it->seek("g");
  EXPECT_FALSE(it->valid());
  ExpectReport(obs, "g", std::nullopt);
  EXPECT_TRUE(it->status().ok());

  it->seek_to_first();
  EXPECT_EQ(DrainForward(it.get()), Strings({"b=B", "c=c1", "f=f1"}));
  it->seek_to_last();
  EXPECT_EQ(DrainBackward(it.get()), Strings({"f=f1", "c=c1", "b=B"}));
}

TEST(WriteSetIteratorTest, DirectionChangesAtTheEnds) {
  Fixture f(BytewiseComparator(), {{"b", "B"}, {"d", "D"}});
  f.writes["a"] = "a1";  // before every base key
  f.writes["e"] = "e1";  // after every base key
  auto it = f.make();
  // At the last entry (from the write set) with the base exhausted.
  it->seek_to_first();
  it->next();
  it->next();
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "e");
  it->prev();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "d");
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "e");
  // At the first entry (from the write set) with the base before its front.
  it->seek_for_prev("a");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "a");
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  it->prev();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "a");
  it->prev();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(WriteSetIteratorTest, ReverseComparator) {
  const Comparator* cmp = Reverse();
  // In reverse order: e c a.
  Fixture f(cmp, {{"e", "E"}, {"c", "C"}, {"a", "A"}});
  f.writes["d"] = "d1";
  f.writes["c"] = std::nullopt;
  f.writes["b"] = std::nullopt;  // absent from the base
  f.writes["0"] = "z1";          // last in reverse order
  RecordingObserver obs;
  auto it = f.make(&obs);
  it->seek_to_first();
  EXPECT_EQ(DrainForward(it.get()), Strings({"e=E", "d=d1", "a=A", "0=z1"}));
  it->seek_to_last();
  EXPECT_EQ(DrainBackward(it.get()), Strings({"0=z1", "a=A", "d=d1", "e=E"}));
  it->seek("c");  // first key "<=" c bytewise, i.e. >= c in reverse order
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "a");
  ExpectReport(obs, "c", "a");
  it->prev();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "d");
  ExpectReport(obs, "d", "a");
  it->seek_for_prev("c");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "d");
  ExpectReport(obs, "d", "c");
}

TEST(WriteSetIteratorTest, BaseErrorForward) {
  // base a..j, damaged at "e" (index 4). The write set has keys on both
  // sides of the damage.
  Entries base;
  for (char c = 'a'; c <= 'j'; c++) base.emplace_back(std::string(1, c), std::string(1, static_cast<char>(c - 32)));
  Fixture f(BytewiseComparator(), base, 4);
  f.writes["bb"] = "x";
  f.writes["dd"] = "x";  // not shown: the step from d lands the base on the damage
  f.writes["g"] = "g1";
  RecordingObserver obs;
  auto it = f.make(&obs);
  it->seek_to_first();
  const Strings shown = DrainForward(it.get());
  EXPECT_EQ(shown, Strings({"a=A", "b=B", "bb=x", "c=C", "d=D"}));
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
  ExpectReport(obs, "d", std::nullopt);  // reported to the end: conservative
  // Never shows an entry past the damage.
  for (const std::string& s : shown) EXPECT_LT(s.substr(0, s.find('=')), "e");

  // A seek landing on the damage fails at once, even with a write-set
  // entry at the target.
  f.writes["e"] = "e1";
  it->seek("e");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
  it->seek("dd");  // the base lands on e too
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());

  // A new seek away from the damage starts afresh.
  it->seek("f");
  ASSERT_TRUE(it->valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(DrainForward(it.get()), Strings({"f=F", "g=g1", "h=H", "i=I", "j=J"}));
  EXPECT_TRUE(it->status().ok());
  it->seek_for_prev("c");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  EXPECT_TRUE(it->status().ok());
}

TEST(WriteSetIteratorTest, BaseErrorBackward) {
  Entries base;
  for (char c = 'a'; c <= 'j'; c++) base.emplace_back(std::string(1, c), std::string(1, static_cast<char>(c - 32)));
  Fixture f(BytewiseComparator(), base, 4);  // "e"
  f.writes["f"] = std::nullopt;
  f.writes["ff"] = "x";
  f.writes["a"] = "a1";
  auto it = f.make();
  it->seek_to_last();
  const Strings shown = DrainBackward(it.get());
  EXPECT_EQ(shown, Strings({"j=J", "i=I", "h=H", "g=G", "ff=x"}));
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();

  // A direction change onto the damage fails too.
  it->seek_for_prev("d");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "d");
  it->next();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
}

TEST(WriteSetIteratorTest, BaseFailsAtOnce) {
  // A base that is damaged everywhere (e.g. the database was closed).
  Fixture f(BytewiseComparator(), {{"a", "A"}}, 0);
  f.writes["b"] = "b1";
  RecordingObserver obs;
  auto it = f.make(&obs);
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
  ExpectReport(obs, std::nullopt, std::nullopt);
  it->seek_for_prev("z");  // the write set's b lies after the damage going backwards
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
}

TEST(WriteSetIteratorTest, SeekToOwnKey) {
  Fixture f(BytewiseComparator(), {{"a", "A"}, {"c", "C"}});
  f.writes["b"] = "b1";
  auto it = f.make();
  it->seek_to_first();
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  it->seek(it->key());  // target points into the iterator itself
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  it->seek_for_prev(it->key());
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  it->next();
  ASSERT_TRUE(it->valid());
  it->seek(it->key());  // a base key this time
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  EXPECT_EQ(it->value().ToString(), "C");
}

TEST(WriteSetIteratorTest, WriteSetChangesBetweenCalls) {
  Fixture f(BytewiseComparator(), {{"a", "A"}, {"c", "C"}, {"e", "E"}});
  f.writes["b"] = "b1";
  auto it = f.make();
  it->seek("b");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");

  // Overwrite the current entry with a long value, then erase it: key() and
  // value() keep showing what the last move found (ASan would catch a
  // reference into the erased map node).
  f.writes["b"] = std::string(1000, 'x');
  f.writes.erase("b");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "b");
  EXPECT_EQ(it->value().ToString(), "b1");

  // The next move reads the write set as it is now.
  f.writes["bb"] = "bb1";   // a new key just after the position
  f.writes["c"] = std::nullopt;  // hides the base key after it
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "bb");
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "e");

  // Removing the current (base) key, then moving backwards.
  f.writes["e"] = std::nullopt;
  EXPECT_EQ(it->value().ToString(), "E");
  it->prev();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "bb");
  f.writes["c"] = "c1";  // put back between the position and the base's
  it->next();
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "c");
  EXPECT_EQ(it->value().ToString(), "c1");
  it->next();
  EXPECT_FALSE(it->valid());  // e is removed now
  EXPECT_TRUE(it->status().ok());
}

class ThrowingObserver final : public ReadRangeObserver {
 public:
  void on_range_read(const OptKey&, const OptKey&) override {
    if (++calls == throw_at) throw std::runtime_error("observer full");
  }
  int calls = 0;
  int throw_at = 2;
};

TEST(WriteSetIteratorTest, ObserverThrows) {
  Fixture f(BytewiseComparator(), {{"a", "A"}, {"b", "B"}});
  ThrowingObserver obs;
  auto it = f.make(&obs);
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  it->next();  // its report throws: the move shows nothing
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();
  it->seek("b");  // starts afresh
  ASSERT_TRUE(it->valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(it->key().ToString(), "b");
}

TEST(WriteSetIteratorTest, OwnsBase) {
  int live = 0;
  WriteSet writes(WriteSetLess{BytewiseComparator()});
  {
    auto it = NewWriteSetIterator(BytewiseComparator(),
                                  std::make_unique<TestIterator>(BytewiseComparator(), Entries{{"a", "A"}},
                                                                 kNoFailure, &live),
                                  &writes, nullptr);
    EXPECT_EQ(live, 1);
    it->seek_to_first();
    EXPECT_TRUE(it->valid());
  }
  EXPECT_EQ(live, 0);
}

TEST(WriteSetIteratorTest, CoversHelper) {
  // The coverage check used by the random tests.
  const Comparator* c = BytewiseComparator();
  const std::vector<Interval> rs = {{"b", "d"}, {"d", "f"}, {"h", std::nullopt}};
  EXPECT_TRUE(Covers(c, rs, {"b", "f"}));
  EXPECT_TRUE(Covers(c, rs, {"c", "e"}));
  EXPECT_FALSE(Covers(c, rs, {"a", "c"}));
  EXPECT_FALSE(Covers(c, rs, {"e", "h"}));  // (f, h) is a gap
  EXPECT_TRUE(Covers(c, rs, {"h", std::nullopt}));
  EXPECT_FALSE(Covers(c, rs, {std::nullopt, "b"}));
  EXPECT_TRUE(Covers(c, {{std::nullopt, "b"}}, {std::nullopt, "b"}));
  EXPECT_FALSE(Covers(c, {{"a", "b"}}, {"a", std::nullopt}));
}

}  // namespace
}  // namespace lightning
