// Copyright (c) Lightning authors. MIT License.
//
// NumericComparator: an example lightning::Comparator that orders keys that
// are decimal numbers by their value, so that "9" < "10" < "100" (the default
// bytewise order puts "10" and "100" before "9"). Header-only: copy it into
// your project and give it a name of your own.
//
//   lightning_examples::NumericComparator numeric;  // must outlive the DB
//   lightning::Options options;
//   options.comparator = &numeric;
//   auto db = lightning::Database::open(path, options);
//
// The order, a strict total order on all byte strings:
//
//  1. Numeric keys (one or more ASCII digits '0'..'9', nothing else) come
//     first, ordered by value. Numbers of any length work: the comparison
//     never converts to an integer type, so it cannot overflow. Leading
//     zeros are skipped, then the number with more significant digits is the
//     bigger one, and numbers with as many digits compare digit by digit.
//  2. Numeric keys with the same value but different spellings ("7", "07",
//     "007") are distinct keys of the store, so they must not compare equal
//     (a comparator returning 0 for two different keys would make them
//     overwrite each other, or worse, confuse the engine's search). They are
//     ordered by their number of leading zeros, fewest first:
//     "7" < "07" < "007" < "8".
//  3. Every other key (empty, or holding any byte that is not a digit, e.g.
//     "-5", "1.5", "abc", "12a") comes after all numeric keys, and those keys
//     are ordered among themselves bytewise, as the default comparator would.
//
// compare() returns 0 only for identical byte strings.
//
// Keys sharing a byte prefix are not adjacent in this order ("1" < "2" <
// "10"), so Database::scan_prefix("1") has to walk every key (skipping those
// outside the prefix); prefer scan(start, end) with numeric bounds.
//
// Persistence: the database stores name(). Change the name (e.g. ".v2")
// whenever the order changes, so that a database written in the old order
// is refused instead of being read in the wrong one.
//
// Thread-safety: the comparator has no state; all methods are const and may
// be called from any number of threads at once.
#ifndef LIGHTNING_EXAMPLES_NUMERIC_COMPARATOR_H_
#define LIGHTNING_EXAMPLES_NUMERIC_COMPARATOR_H_

#include <cstddef>
#include <cstring>
#include <string>

#include "lightning/comparator.h"
#include "lightning/slice.h"

namespace lightning_examples {

class NumericComparator final : public lightning::Comparator {
 public:
  int compare(const lightning::Slice& a, const lightning::Slice& b) const override {
    const bool a_numeric = IsNumeric(a);
    const bool b_numeric = IsNumeric(b);
    if (a_numeric != b_numeric) return a_numeric ? -1 : +1;  // numbers first
    if (!a_numeric) return a.compare(b);                      // the rest bytewise

    // Both are numbers: skip the leading zeros.
    const size_t a_zeros = LeadingZeros(a);
    const size_t b_zeros = LeadingZeros(b);
    const size_t a_digits = a.size() - a_zeros;  // significant digits
    const size_t b_digits = b.size() - b_zeros;
    // More significant digits: a bigger number.
    if (a_digits != b_digits) return a_digits < b_digits ? -1 : +1;
    // As many digits: the first differing digit decides ('0'..'9' are
    // consecutive in ASCII, so memcmp compares digit values).
    if (a_digits > 0) {
      const int r = std::memcmp(a.data() + a_zeros, b.data() + b_zeros, a_digits);
      if (r != 0) return r < 0 ? -1 : +1;
    }
    // The same value: fewer leading zeros first. Equal counts mean identical
    // strings, the only case that returns 0.
    if (a_zeros != b_zeros) return a_zeros < b_zeros ? -1 : +1;
    return 0;
  }

  // Stored in the database; a database created with this comparator opens
  // only with a comparator of this name.
  const char* name() const override { return "lightning.examples.NumericComparator.v1"; }

  // The two optional shortening hooks are left as the base class has them
  // (they change nothing), which is always correct. The engine uses them to
  // make the separator keys of SSTable indexes and B+Tree nodes shorter, but
  // the result must lie in [start, limit) of *this* order. The bytewise trick
  // (increment the first differing byte and cut the rest) breaks it here:
  // between start "199" and limit "3000" it would produce "2", which is
  // *smaller* than 199 numerically; and a bytewise "short successor" of
  // "123" would be "2", smaller than 123. Short separators are only a space
  // saving, so doing nothing costs a few bytes per index entry at most.
  void find_shortest_separator(std::string* /*start*/, const lightning::Slice& /*limit*/) const override {}
  void find_short_successor(std::string* /*key*/) const override {}

 private:
  // One or more ASCII digits and nothing else.
  static bool IsNumeric(const lightning::Slice& s) {
    if (s.empty()) return false;
    for (size_t i = 0; i < s.size(); i++) {
      if (s[i] < '0' || s[i] > '9') return false;
    }
    return true;
  }

  static size_t LeadingZeros(const lightning::Slice& s) {
    size_t n = 0;
    while (n < s.size() && s[n] == '0') n++;
    return n;
  }
};

}  // namespace lightning_examples

#endif  // LIGHTNING_EXAMPLES_NUMERIC_COMPARATOR_H_
