// Copyright (c) Lightning authors. MIT License.
//
// MergingIterator and ConcatenatingIterator over in-memory sources, checked
// against a sorted vector model: random walks of seek / seek_for_prev / next /
// prev / seek_to_first / seek_to_last, a change of direction at every
// position, ties between children, empty sources, damaged sources and files
// that cannot be opened (which must stop the iteration, never be skipped),
// lazy opening of files, and the per-step cost of a wide merge.
#include "util/merging_iterator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "lightning/comparator.h"
#include "util/concatenating_iterator.h"
#include "util/internal_key_test_util.h"
#include "util/iterator.h"
#include "util/random.h"
#include "util/test_comparators.h"
#include "util/vector_iterator.h"

namespace lightning {
namespace {

using test::Hex;
using test::Random;

using test::Entry;
using test::VectorIterator;
constexpr size_t kNone = test::VectorIterator::kNone;

std::unique_ptr<InternalIterator> NewVectorIterator(const Comparator* cmp, std::vector<Entry> entries,
                                                    size_t fail_at = kNone, int* live = nullptr) {
  return std::make_unique<VectorIterator>(cmp, std::move(entries), fail_at, live);
}

const Comparator* Reverse() { return test::ReverseBytewise(); }

// Counts compare() calls, to bound the work per step.
class CountingComparator final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override {
    ++calls;
    return a.compare(b);
  }
  const char* name() const override { return "lightning.BytewiseComparator"; }
  mutable uint64_t calls = 0;
};

// The model: the expected sequence (keys non-decreasing in cmp order) and the
// answers of the positioning calls on it. kNone is "not valid".
struct Model {
  const Comparator* cmp;
  std::vector<Entry> entries;

  size_t seek(const std::string& t) const {
    const auto it = std::lower_bound(entries.begin(), entries.end(), t, [this](const Entry& e, const std::string& x) {
      return cmp->compare(e.key, x) < 0;
    });
    return it == entries.end() ? kNone : static_cast<size_t>(it - entries.begin());
  }
  size_t seek_for_prev(const std::string& t) const {
    const auto it = std::upper_bound(entries.begin(), entries.end(), t, [this](const std::string& x, const Entry& e) {
      return cmp->compare(x, e.key) < 0;
    });
    return it == entries.begin() ? kNone : static_cast<size_t>(it - entries.begin()) - 1;
  }
  size_t first() const { return entries.empty() ? kNone : 0; }
  size_t last() const { return entries.empty() ? kNone : entries.size() - 1; }
  size_t next(size_t pos) const { return pos + 1 < entries.size() ? pos + 1 : kNone; }
  size_t prev(size_t pos) const { return pos == 0 ? kNone : pos - 1; }
};

// it must be at model position pos (kNone: not valid, with an OK status).
void ExpectAt(InternalIterator* it, const Model& model, size_t pos, const std::string& what) {
  ASSERT_TRUE(it->status().ok()) << what << ": " << it->status().ToString();
  if (pos == kNone) {
    ASSERT_FALSE(it->valid()) << what << ": expected the end, at " << Hex(it->key());
    return;
  }
  ASSERT_TRUE(it->valid()) << what << ": expected " << Hex(model.entries[pos].key) << " (entry " << pos << ")";
  ASSERT_EQ(Hex(it->key()), Hex(model.entries[pos].key)) << what << " (entry " << pos << ")";
  ASSERT_EQ(it->value().ToString(), model.entries[pos].value) << what << " (entry " << pos << ")";
}

// Applies steps random operations to it and to a cursor into the model and
// compares them after each. With errors_allowed (a source is damaged, and the
// model still holds its entries), it may instead become !valid() with a
// non-OK status; then the walk goes on with a seek. It may never be valid
// anywhere the model disagrees: that is how a silently skipped source shows.
// *errors counts such stops. Half the steps are next_entry() / prev_entry(),
// whose answer must be the entry the iterator is then at.
void RandomWalk(InternalIterator* it, const Model& model, const std::vector<std::string>& targets, Random* rnd,
                int steps, bool errors_allowed, int* errors) {
  size_t pos = kNone;
  for (int step = 0; step < steps; step++) {
    std::string what = "step " + std::to_string(step) + ": ";
    const uint64_t r = rnd->uniform(100);
    if (pos != kNone && r < 70) {
      const bool forward = r < 35;
      what += forward ? "next" : "prev";
      pos = forward ? model.next(pos) : model.prev(pos);
      if (rnd->one_in(2)) {
        what += "_entry";
        Slice key("unset"), value("unset");
        const bool got = forward ? it->next_entry(&key, &value) : it->prev_entry(&key, &value);
        ASSERT_EQ(got, it->valid()) << what;
        if (got) {
          ASSERT_EQ(Hex(key), Hex(it->key())) << what;
          ASSERT_EQ(value.ToString(), it->value().ToString()) << what;
        } else {
          ASSERT_EQ(key.ToString(), "unset") << what;
          ASSERT_EQ(value.ToString(), "unset") << what;
        }
      } else if (forward) {
        it->next();
      } else {
        it->prev();
      }
    } else {
      const std::string& t = targets[rnd->uniform(targets.size())];
      switch (rnd->uniform(4)) {
        case 0:
          what += "seek " + Hex(t);
          it->seek(t);
          pos = model.seek(t);
          break;
        case 1:
          what += "seek_for_prev " + Hex(t);
          it->seek_for_prev(t);
          pos = model.seek_for_prev(t);
          break;
        case 2:
          what += "seek_to_first";
          it->seek_to_first();
          pos = model.first();
          break;
        default:
          what += "seek_to_last";
          it->seek_to_last();
          pos = model.last();
          break;
      }
    }
    if (errors_allowed && !it->valid() && !it->status().ok()) {
      ++*errors;
      pos = kNone;
      continue;
    }
    ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos, what));
  }
}

// At every position, reached going forward and going backward: one step
// back, then forward again (two changes of direction), checked.
void CheckDirectionSwitches(InternalIterator* it, const Model& model) {
  size_t pos = model.first();
  it->seek_to_first();
  while (pos != kNone) {
    const std::string at = "forward at entry " + std::to_string(pos);
    ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos, at));
    if (pos == 0) {
      it->prev();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, kNone, at + ", prev"));
      it->seek_to_first();
    } else {
      it->prev();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos - 1, at + ", prev"));
      it->next();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos, at + ", prev, next"));
    }
    it->next();
    pos = model.next(pos);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, kNone, "forward end"));

  pos = model.last();
  it->seek_to_last();
  while (pos != kNone) {
    const std::string at = "backward at entry " + std::to_string(pos);
    ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos, at));
    if (pos + 1 == model.entries.size()) {
      it->next();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, kNone, at + ", next"));
      it->seek_to_last();
    } else {
      it->next();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos + 1, at + ", next"));
      it->prev();
      ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, pos, at + ", next, prev"));
    }
    it->prev();
    pos = model.prev(pos);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it, model, kNone, "backward end"));
}

// Sorted (in cmp order), distinct keys: short printable ones, so that random
// children share many of them, and a few binary ones with NULs and 0xff.
std::vector<std::string> KeyPool(const Comparator* cmp, Random* rnd, size_t n) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; i++) {
    keys.push_back(rnd->one_in(8) ? rnd->random_bytes(1 + rnd->uniform(4)) : rnd->random_key(1 + rnd->uniform(3)));
  }
  std::sort(keys.begin(), keys.end(),
            [cmp](const std::string& a, const std::string& b) { return cmp->compare(a, b) < 0; });
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// Seek targets: keys of the pool, their neighbours, and unrelated strings.
std::vector<std::string> Targets(const std::vector<std::string>& pool, Random* rnd) {
  std::vector<std::string> targets = {std::string(), std::string("\xff\xff\xff\xff\xff", 5)};
  for (const std::string& k : pool) {
    targets.push_back(k);
    targets.push_back(k + std::string(1, '\0'));
    if (!k.empty()) targets.push_back(k.substr(0, k.size() - 1));
  }
  for (int i = 0; i < 50; i++) targets.push_back(rnd->random_key(1 + rnd->uniform(4)));
  return targets;
}

// Children drawn from pool (each strictly increasing, values naming the
// child) and the model of their merge: ordered by key, then child index.
struct MergeCase {
  std::vector<std::vector<Entry>> children;
  Model model;
};

MergeCase RandomMergeCase(const Comparator* cmp, const std::vector<std::string>& pool, size_t num_children,
                          Random* rnd) {
  MergeCase c{{}, Model{cmp, {}}};
  static const uint64_t kDensityPercent[] = {0, 3, 10, 50, 90, 100};
  for (size_t i = 0; i < num_children; i++) {
    const uint64_t density = kDensityPercent[rnd->uniform(6)];
    std::vector<Entry> entries;
    for (const std::string& k : pool) {
      if (rnd->uniform(100) < density) entries.push_back({k, "c" + std::to_string(i) + ":" + k});
    }
    c.model.entries.insert(c.model.entries.end(), entries.begin(), entries.end());
    c.children.push_back(std::move(entries));
  }
  std::stable_sort(c.model.entries.begin(), c.model.entries.end(),
                   [cmp](const Entry& a, const Entry& b) { return cmp->compare(a.key, b.key) < 0; });
  return c;
}

std::unique_ptr<InternalIterator> NewMerge(const Comparator* cmp, const std::vector<std::vector<Entry>>& children,
                                           size_t damaged_child = kNone, size_t fail_at = kNone) {
  std::vector<std::unique_ptr<InternalIterator>> its;
  for (size_t i = 0; i < children.size(); i++) {
    its.push_back(NewVectorIterator(cmp, children[i], i == damaged_child ? fail_at : kNone));
  }
  return NewMergingIterator(cmp, std::move(its));
}

// ---------------------------------------------------------------------------
// MergingIterator

TEST(MergingIteratorTest, NoChildren) {
  std::unique_ptr<InternalIterator> it = NewMergingIterator(BytewiseComparator(), {});
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  it->seek("a");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("a");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
}

TEST(MergingIteratorTest, OneChildIsReturnedAsIs) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(NewVectorIterator(BytewiseComparator(), {{"a", "1"}, {"b", "2"}}));
  InternalIterator* const child = children[0].get();
  std::unique_ptr<InternalIterator> it = NewMergingIterator(BytewiseComparator(), std::move(children));
  EXPECT_EQ(it.get(), child);
  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), Model{BytewiseComparator(), {{"a", "1"}, {"b", "2"}}}));
}

TEST(MergingIteratorTest, EmptyChildren) {
  const Comparator* cmp = BytewiseComparator();
  // All empty.
  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(NewMerge(cmp, {{}, {}, {}}).get(), Model{cmp, {}}));
  // Empty children around, between and among non-empty ones.
  const std::vector<std::vector<Entry>> children = {
      {}, {{"b", "1b"}, {"d", "1d"}}, {}, {}, {{"a", "4a"}, {"c", "4c"}, {"e", "4e"}}, {}};
  const Model model{cmp, {{"a", "4a"}, {"b", "1b"}, {"c", "4c"}, {"d", "1d"}, {"e", "4e"}}};
  std::unique_ptr<InternalIterator> it = NewMerge(cmp, children);
  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), model));
  it->seek("c");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 2, "seek c"));
  it->seek_for_prev("bb");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 1, "seek_for_prev bb"));
  it->seek("f");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, kNone, "seek f"));
  it->seek_for_prev("0");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, kNone, "seek_for_prev 0"));
}

// Equal keys: lower child index first going forward, last going backward.
TEST(MergingIteratorTest, EqualKeysLowerChildIndexFirst) {
  const Comparator* cmp = BytewiseComparator();
  const std::vector<std::vector<Entry>> children = {
      {{"a", "0a"}, {"k", "0k"}}, {{"k", "1k"}, {"z", "1z"}}, {{"b", "2b"}, {"k", "2k"}}};
  const Model model{cmp, {{"a", "0a"}, {"b", "2b"}, {"k", "0k"}, {"k", "1k"}, {"k", "2k"}, {"z", "1z"}}};
  std::unique_ptr<InternalIterator> it = NewMerge(cmp, children);
  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), model));
  it->seek("k");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 2, "seek k"));
  it->seek_for_prev("k");
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 4, "seek_for_prev k"));
  // Switches in the middle of the tie, both ways.
  it->prev();
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 3, "seek_for_prev k, prev"));
  it->next();
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 4, "seek_for_prev k, prev, next"));
  it->seek("k");
  it->next();
  it->prev();
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 2, "seek k, next, prev"));
  it->prev();
  ASSERT_NO_FATAL_FAILURE(ExpectAt(it.get(), model, 1, "seek k, next, prev, prev"));
}

TEST(MergingIteratorTest, DirectionSwitchAtEveryPosition) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  Random rnd(seed);
  for (const Comparator* cmp : {BytewiseComparator(), Reverse()}) {
    SCOPED_TRACE(cmp->name());
    for (size_t num_children : {2, 3, 7, 24}) {
      SCOPED_TRACE("children=" + std::to_string(num_children));
      const std::vector<std::string> pool = KeyPool(cmp, &rnd, 120);
      const MergeCase c = RandomMergeCase(cmp, pool, num_children, &rnd);
      ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(NewMerge(cmp, c.children).get(), c.model));
    }
  }
}

TEST(MergingIteratorTest, RandomModel) {
  const uint64_t base_seed = test::RandomSeed();
  for (uint64_t s = 0; s < 12; s++) {
    const uint64_t seed = base_seed + s;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rnd(seed);
    const Comparator* cmp = s % 3 == 2 ? Reverse() : BytewiseComparator();
    const std::vector<std::string> pool = KeyPool(cmp, &rnd, 20 + rnd.uniform(300));
    const std::vector<std::string> targets = Targets(pool, &rnd);
    const MergeCase c = RandomMergeCase(cmp, pool, rnd.uniform(27), &rnd);
    SCOPED_TRACE("children=" + std::to_string(c.children.size()) +
                 " entries=" + std::to_string(c.model.entries.size()));
    std::unique_ptr<InternalIterator> it = NewMerge(cmp, c.children);
    int errors = 0;
    ASSERT_NO_FATAL_FAILURE(RandomWalk(it.get(), c.model, targets, &rnd, 4000, /*errors_allowed=*/false, &errors));
  }
}

// A child that stops on an error stops the merge: the entries of the other
// children after that point are not yielded without it.
TEST(MergingIteratorTest, DamagedChildStopsTheMerge) {
  const Comparator* cmp = BytewiseComparator();
  // Merged: a b c d e f g h; child 1 is damaged at "f" (its entry 2).
  const std::vector<std::vector<Entry>> children = {{{"a", "a"}, {"c", "c"}, {"e", "e"}, {"g", "g"}},
                                                    {{"b", "b"}, {"d", "d"}, {"f", "f"}, {"h", "h"}}};
  std::unique_ptr<InternalIterator> it = NewMerge(cmp, children, /*damaged_child=*/1, /*fail_at=*/2);

  std::string seen;
  for (it->seek_to_first(); it->valid(); it->next()) seen += it->key().ToString();
  EXPECT_EQ(seen, "abcd");  // not "abcdeg"
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();

  seen.clear();
  for (it->seek_to_last(); it->valid(); it->prev()) seen += it->key().ToString();
  EXPECT_EQ(seen, "h");  // "g" cannot be placed before child 1's entry below "h" is known
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();

  it->seek("e");  // child 1 lands on "f"
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());

  it->seek("g");  // a new seek starts afresh
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "g");
  EXPECT_TRUE(it->status().ok());
  it->prev();  // changing direction moves child 1 back onto "f"
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());

  it->seek_for_prev("e");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "e");
  it->next();  // changing direction moves child 1 forward onto "f"
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsCorruption());
}

TEST(MergingIteratorTest, ChildThatCannotBeReadStopsTheMerge) {
  const Comparator* cmp = BytewiseComparator();
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(NewVectorIterator(cmp, {{"a", "a"}, {"b", "b"}}));
  children.push_back(NewEmptyIterator(Status::IOError("cannot read", "000042.sst")));
  children.push_back(NewVectorIterator(cmp, {{"c", "c"}}));
  std::unique_ptr<InternalIterator> it = NewMergingIterator(cmp, std::move(children));
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();
  it->seek_to_last();
  EXPECT_FALSE(it->valid());
  it->seek("b");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("b");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();
}

TEST(MergingIteratorTest, RandomModelWithDamagedChild) {
  const uint64_t base_seed = test::RandomSeed();
  for (uint64_t s = 0; s < 8; s++) {
    const uint64_t seed = base_seed + s;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rnd(seed);
    const Comparator* cmp = BytewiseComparator();
    const std::vector<std::string> pool = KeyPool(cmp, &rnd, 50 + rnd.uniform(200));
    const std::vector<std::string> targets = Targets(pool, &rnd);
    MergeCase c = RandomMergeCase(cmp, pool, 2 + rnd.uniform(20), &rnd);
    const size_t damaged = rnd.uniform(c.children.size());
    if (c.children[damaged].empty()) c.children[damaged].push_back({pool.back() + "!", "damaged"});
    const size_t fail_at = rnd.uniform(c.children[damaged].size());
    // The model keeps the damaged entry: yielding the entries around it
    // without an error would disagree with the model.
    c.model.entries.clear();
    for (const auto& child : c.children) c.model.entries.insert(c.model.entries.end(), child.begin(), child.end());
    std::stable_sort(c.model.entries.begin(), c.model.entries.end(),
                     [cmp](const Entry& a, const Entry& b) { return cmp->compare(a.key, b.key) < 0; });
    std::unique_ptr<InternalIterator> it = NewMerge(cmp, c.children, damaged, fail_at);

    int errors = 0;
    ASSERT_NO_FATAL_FAILURE(RandomWalk(it.get(), c.model, targets, &rnd, 3000, /*errors_allowed=*/true, &errors));

    // A full scan either way yields a prefix of the model, then the error.
    size_t n = 0;
    for (it->seek_to_first(); it->valid(); it->next(), n++) {
      ASSERT_LT(n, c.model.entries.size());
      ASSERT_EQ(it->value().ToString(), c.model.entries[n].value);
    }
    ASSERT_TRUE(it->status().IsCorruption()) << it->status().ToString();
    n = 0;
    for (it->seek_to_last(); it->valid(); it->prev(), n++) {
      ASSERT_LT(n, c.model.entries.size());
      ASSERT_EQ(it->value().ToString(), c.model.entries[c.model.entries.size() - 1 - n].value);
    }
    ASSERT_TRUE(it->status().IsCorruption()) << it->status().ToString();
  }
}

// A heap: each step costs O(log k) comparisons, not O(k).
TEST(MergingIteratorTest, StepCostIsLogarithmicInChildren) {
  for (size_t k : {8, 32, 64}) {
    SCOPED_TRACE("children=" + std::to_string(k));
    CountingComparator cmp;
    std::vector<std::vector<Entry>> children(k);
    const size_t n = 100 * k;
    for (size_t i = 0; i < n; i++) {
      char key[32];
      std::snprintf(key, sizeof(key), "%08zu", i);
      children[i % k].push_back({key, key});  // interleaved: the current child changes at every step
    }
    std::unique_ptr<InternalIterator> it = NewMerge(&cmp, children);
    size_t log2k = 0;
    while ((size_t{1} << log2k) < k) log2k++;

    it->seek_to_first();
    cmp.calls = 0;
    size_t steps = 0;
    for (; it->valid(); it->next()) steps++;
    ASSERT_EQ(steps, n);
    EXPECT_LE(cmp.calls, 2 * log2k * steps) << "forward: " << cmp.calls << " compares for " << steps << " steps";

    it->seek_to_last();
    cmp.calls = 0;
    steps = 0;
    for (; it->valid(); it->prev()) steps++;
    ASSERT_EQ(steps, n);
    EXPECT_LE(cmp.calls, 2 * log2k * steps) << "backward: " << cmp.calls << " compares for " << steps << " steps";
  }
}

// ---------------------------------------------------------------------------
// ConcatenatingIterator

// A level of files over a sorted pool: each file's range is a run of pool
// keys and its contents a random subset of that run (sometimes none), so
// ranges can be wider than contents. Counts opens and open files.
struct Level {
  explicit Level(const Comparator* c) : cmp(c), model{c, {}} {}

  const Comparator* cmp;
  std::vector<FileRange> ranges;
  std::vector<std::vector<Entry>> files;
  Model model;
  size_t broken_file = kNone;   // open_file returns an IOError iterator for it
  size_t damaged_file = kNone;  // entry damaged_entry of it fails
  size_t damaged_entry = kNone;
  std::vector<size_t> opened;  // open_file calls, in order
  int live = 0;                // file iterators alive
  int max_live = 0;

  std::unique_ptr<InternalIterator> new_iterator() {
    return NewConcatenatingIterator(cmp, ranges, [this](size_t i) -> std::unique_ptr<InternalIterator> {
      opened.push_back(i);
      max_live = std::max(max_live, live + 1);
      if (i == broken_file) return NewEmptyIterator(Status::IOError("cannot open", "file " + std::to_string(i)));
      return NewVectorIterator(cmp, files[i], i == damaged_file ? damaged_entry : kNone, &live);
    });
  }

  std::vector<size_t> take_opened() {
    std::vector<size_t> r;
    r.swap(opened);
    return r;
  }
};

Level RandomLevel(const Comparator* cmp, const std::vector<std::string>& pool, Random* rnd, const std::string& tag) {
  Level level(cmp);
  size_t i = 0;
  while (i < pool.size()) {
    const size_t run = 1 + rnd->uniform(std::min<size_t>(12, pool.size() - i));
    const uint64_t density = rnd->one_in(5) ? 0 : 30 + rnd->uniform(71);
    std::vector<Entry> entries;
    for (size_t j = i; j < i + run; j++) {
      if (rnd->uniform(100) < density) entries.push_back({pool[j], tag + pool[j]});
    }
    level.ranges.push_back({pool[i], pool[i + run - 1]});
    level.model.entries.insert(level.model.entries.end(), entries.begin(), entries.end());
    level.files.push_back(std::move(entries));
    i += run;
  }
  return level;
}

// Ten files of three keys: file f holds <f>a, <f>b, <f>c.
Level TenFiles() {
  Level level(BytewiseComparator());
  for (char f = '0'; f <= '9'; f++) {
    std::vector<Entry> entries;
    for (char c : {'a', 'b', 'c'}) entries.push_back({std::string{f, c}, std::string{f, c}});
    level.ranges.push_back({entries.front().key, entries.back().key});
    level.model.entries.insert(level.model.entries.end(), entries.begin(), entries.end());
    level.files.push_back(std::move(entries));
  }
  return level;
}

TEST(ConcatenatingIteratorTest, NoFiles) {
  int opens = 0;
  std::unique_ptr<InternalIterator> it = NewConcatenatingIterator(BytewiseComparator(), {}, [&opens](size_t) {
    ++opens;
    return NewEmptyIterator();
  });
  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), Model{BytewiseComparator(), {}}));
  it->seek("a");
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("a");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(opens, 0);
}

TEST(ConcatenatingIteratorTest, OpensFilesLazily) {
  Level level = TenFiles();
  level.files[3].clear();  // empty: its range stays, its contents go
  level.model.entries.erase(level.model.entries.begin() + 9, level.model.entries.begin() + 12);
  std::unique_ptr<InternalIterator> it = level.new_iterator();
  EXPECT_TRUE(level.take_opened().empty());

  it->seek("5b");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "5b");
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{5});
  it->next();
  EXPECT_EQ(it->key().ToString(), "5c");
  EXPECT_TRUE(level.take_opened().empty());
  it->next();
  EXPECT_EQ(it->key().ToString(), "6a");
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{6});
  it->seek_for_prev("6c");  // the file already open is reused
  EXPECT_EQ(it->key().ToString(), "6c");
  EXPECT_TRUE(level.take_opened().empty());
  it->seek("5z");  // between files: the next file's first key
  EXPECT_EQ(it->key().ToString(), "6a");
  EXPECT_TRUE(level.take_opened().empty());
  it->seek_for_prev("5z");
  EXPECT_EQ(it->key().ToString(), "5c");
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{5});

  it->seek("3b");  // in the empty file's range: skips to file 4
  EXPECT_EQ(it->key().ToString(), "4a");
  EXPECT_EQ(level.take_opened(), (std::vector<size_t>{3, 4}));
  it->prev();  // back over the empty file
  EXPECT_EQ(it->key().ToString(), "2c");
  EXPECT_EQ(level.take_opened(), (std::vector<size_t>{3, 2}));

  it->seek_to_last();
  EXPECT_EQ(it->key().ToString(), "9c");
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{9});
  it->seek_to_first();
  EXPECT_EQ(it->key().ToString(), "0a");
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{0});

  it->seek("a");  // after every file
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("0");  // before every file
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(level.take_opened().empty());
  EXPECT_TRUE(it->status().ok());

  ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), level.model));
  EXPECT_EQ(level.max_live, 1);
  it.reset();
  EXPECT_EQ(level.live, 0);
}

TEST(ConcatenatingIteratorTest, FileThatCannotBeOpenedStopsTheIteration) {
  Level level = TenFiles();
  level.broken_file = 4;
  std::unique_ptr<InternalIterator> it = level.new_iterator();

  std::string seen;
  for (it->seek_to_first(); it->valid(); it->next()) seen += it->key().ToString() + " ";
  EXPECT_EQ(seen, "0a 0b 0c 1a 1b 1c 2a 2b 2c 3a 3b 3c ");
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();

  seen.clear();
  for (it->seek_to_last(); it->valid(); it->prev()) seen += it->key().ToString() + " ";
  EXPECT_EQ(seen, "9c 9b 9a 8c 8b 8a 7c 7b 7a 6c 6b 6a 5c 5b 5a ");
  EXPECT_TRUE(it->status().IsIOError()) << it->status().ToString();

  it->seek("4b");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsIOError());
  it->seek_for_prev("4b");
  EXPECT_FALSE(it->valid());
  EXPECT_TRUE(it->status().IsIOError());

  level.take_opened();
  it->seek("6b");  // the broken file is not needed, so not opened: no error
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key().ToString(), "6b");
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(level.take_opened(), std::vector<size_t>{6});
  EXPECT_EQ(level.max_live, 1);
}

TEST(ConcatenatingIteratorTest, DamagedEntryStopsTheIteration) {
  Level level = TenFiles();
  level.damaged_file = 4;
  level.damaged_entry = 1;  // "4b"
  std::unique_ptr<InternalIterator> it = level.new_iterator();

  std::string seen;
  for (it->seek("3b"); it->valid(); it->next()) seen += it->key().ToString() + " ";
  EXPECT_EQ(seen, "3b 3c 4a ");
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();

  seen.clear();
  for (it->seek_for_prev("5b"); it->valid(); it->prev()) seen += it->key().ToString() + " ";
  EXPECT_EQ(seen, "5b 5a 4c ");
  EXPECT_TRUE(it->status().IsCorruption()) << it->status().ToString();
}

TEST(ConcatenatingIteratorTest, RandomModel) {
  const uint64_t base_seed = test::RandomSeed();
  for (uint64_t s = 0; s < 12; s++) {
    const uint64_t seed = base_seed + s;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rnd(seed);
    const Comparator* cmp = s % 3 == 2 ? Reverse() : BytewiseComparator();
    const std::vector<std::string> pool = KeyPool(cmp, &rnd, 1 + rnd.uniform(400));
    const std::vector<std::string> targets = Targets(pool, &rnd);
    Level level = RandomLevel(cmp, pool, &rnd, "v");
    SCOPED_TRACE("files=" + std::to_string(level.files.size()) +
                 " entries=" + std::to_string(level.model.entries.size()));
    std::unique_ptr<InternalIterator> it = level.new_iterator();
    ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), level.model));
    int errors = 0;
    ASSERT_NO_FATAL_FAILURE(RandomWalk(it.get(), level.model, targets, &rnd, 4000, /*errors_allowed=*/false, &errors));
    EXPECT_EQ(level.max_live, 1);
  }
}

TEST(ConcatenatingIteratorTest, RandomModelWithBrokenFiles) {
  const uint64_t base_seed = test::RandomSeed();
  for (uint64_t s = 0; s < 8; s++) {
    const uint64_t seed = base_seed + s;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rnd(seed);
    const Comparator* cmp = BytewiseComparator();
    const std::vector<std::string> pool = KeyPool(cmp, &rnd, 50 + rnd.uniform(300));
    const std::vector<std::string> targets = Targets(pool, &rnd);
    Level level = RandomLevel(cmp, pool, &rnd, "v");
    // One file cannot be opened and another has a damaged entry; the model
    // keeps both files' entries.
    level.broken_file = rnd.uniform(level.files.size());
    level.damaged_file = rnd.uniform(level.files.size());
    if (!level.files[level.damaged_file].empty()) {
      level.damaged_entry = rnd.uniform(level.files[level.damaged_file].size());
    }
    std::unique_ptr<InternalIterator> it = level.new_iterator();
    int errors = 0;
    ASSERT_NO_FATAL_FAILURE(RandomWalk(it.get(), level.model, targets, &rnd, 3000, /*errors_allowed=*/true, &errors));
    // Scanning everything must reach the broken file.
    for (it->seek_to_first(); it->valid(); it->next()) {
    }
    EXPECT_FALSE(it->status().ok());
    EXPECT_EQ(level.max_live, 1);
  }
}

// The shape of a read: a merge of levels, each a concatenation of files.
TEST(MergingIteratorTest, RandomModelOverLevels) {
  const uint64_t base_seed = test::RandomSeed();
  for (uint64_t s = 0; s < 6; s++) {
    const uint64_t seed = base_seed + s;
    SCOPED_TRACE("seed=" + std::to_string(seed));
    Random rnd(seed);
    const Comparator* cmp = BytewiseComparator();
    const std::vector<std::string> pool = KeyPool(cmp, &rnd, 300);
    const std::vector<std::string> targets = Targets(pool, &rnd);
    std::vector<std::unique_ptr<Level>> levels;
    std::vector<std::unique_ptr<InternalIterator>> children;
    Model model{cmp, {}};
    const size_t num_levels = 1 + rnd.uniform(7);
    for (size_t l = 0; l < num_levels; l++) {
      levels.push_back(std::make_unique<Level>(RandomLevel(cmp, pool, &rnd, "L" + std::to_string(l) + ":")));
      children.push_back(levels.back()->new_iterator());
      model.entries.insert(model.entries.end(), levels.back()->model.entries.begin(),
                           levels.back()->model.entries.end());
    }
    std::stable_sort(model.entries.begin(), model.entries.end(),
                     [cmp](const Entry& a, const Entry& b) { return cmp->compare(a.key, b.key) < 0; });
    std::unique_ptr<InternalIterator> it = NewMergingIterator(cmp, std::move(children));
    ASSERT_NO_FATAL_FAILURE(CheckDirectionSwitches(it.get(), model));
    int errors = 0;
    ASSERT_NO_FATAL_FAILURE(RandomWalk(it.get(), model, targets, &rnd, 4000, /*errors_allowed=*/false, &errors));
    it.reset();  // before the levels its children call into
  }
}

}  // namespace
}  // namespace lightning
