// Copyright (c) Lightning authors. MIT License.
//
// The inlined short-string copy and comparisons (util/small_bytes.h) agree
// with memmove and Slice::compare at every size around their word
// boundaries, on random bytes (0x00 and 0xff included), for strings that
// differ at every position, and for overlapping copies in both directions.
#include "util/small_bytes.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "lightning/slice.h"
#include "util/random.h"

namespace lightning {
namespace {

int Sign(int r) { return r < 0 ? -1 : (r > 0 ? 1 : 0); }

std::string Bytes(test::Random* rnd, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) {
    switch (rnd->uniform(4)) {
      case 0: c = '\0'; break;
      case 1: c = '\xff'; break;
      default: c = static_cast<char>(rnd->uniform(256)); break;
    }
  }
  return s;
}

TEST(SmallBytesTest, MoveAgreesWithMemmoveIncludingOverlaps) {
  test::Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  for (size_t n = 0; n <= 80; ++n) {
    for (int trial = 0; trial < 20; ++trial) {
      const std::string src = Bytes(&rnd, n);
      std::string got = Bytes(&rnd, n + 8), want = got;
      MoveSmallBytes(&got[4], src.data(), n);
      std::memmove(&want[4], src.data(), n);
      ASSERT_EQ(got, want) << "n=" << n;
      // Overlapping, source before and after the destination.
      for (size_t shift = 0; shift <= 9; ++shift) {
        std::string buf = Bytes(&rnd, n + 20), expect = buf;
        MoveSmallBytes(&buf[10], &buf[10 - shift], n);
        std::memmove(&expect[10], &expect[10 - shift], n);
        ASSERT_EQ(buf, expect) << "n=" << n << " back " << shift;
        buf = Bytes(&rnd, n + 20);
        expect = buf;
        MoveSmallBytes(&buf[0], &buf[shift], n);
        std::memmove(&expect[0], &expect[shift], n);
        ASSERT_EQ(buf, expect) << "n=" << n << " forward " << shift;
      }
    }
  }
}

TEST(SmallBytesTest, ComparisonsAgreeWithSliceCompare) {
  test::Random rnd(test::RandomSeed());
  SCOPED_TRACE("seed " + std::to_string(rnd.seed()));
  for (size_t na = 0; na <= 40; ++na) {
    for (size_t nb = 0; nb <= 40; ++nb) {
      for (int trial = 0; trial < 6; ++trial) {
        // b starts as a copy of a's bytes (one side a prefix of the other),
        // then differs at one random position or not at all.
        std::string a = Bytes(&rnd, na), b = a.substr(0, nb);
        if (b.size() < nb) b += Bytes(&rnd, nb - b.size());
        if (!b.empty() && rnd.one_in(2)) b[rnd.uniform(b.size())] = static_cast<char>(rnd.uniform(256));
        const int want = Sign(Slice(a).compare(Slice(b)));
        ASSERT_EQ(Sign(CompareSmallBytes(a.data(), na, b.data(), nb)), want) << na << " " << nb;
        // Padded: 8 bytes of anything follow each string.
        const std::string pa = a + Bytes(&rnd, 8), pb = b + Bytes(&rnd, 8);
        ASSERT_EQ(Sign(ComparePaddedBytes(pa.data(), na, pb.data(), nb)), want) << na << " " << nb;
      }
    }
  }
}

}  // namespace
}  // namespace lightning
