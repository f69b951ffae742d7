// Copyright (c) Lightning authors. MIT License.
#include "sst/bloom.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>

#include "util/coding.h"

namespace lightning {
namespace {

std::string Key(uint64_t i) {
  std::string k;
  PutFixed64(&k, i);
  return k;
}

TEST(Bloom, NumProbes) {
  EXPECT_EQ(BloomNumProbes(1), 1);
  EXPECT_EQ(BloomNumProbes(5), 3);
  EXPECT_EQ(BloomNumProbes(10), 7);
  EXPECT_EQ(BloomNumProbes(20), 14);
  EXPECT_EQ(BloomNumProbes(100), kMaxBloomProbes);
  EXPECT_EQ(BloomNumProbes(0), 1);
}

TEST(Bloom, EmptyFilterMatchesNothing) {
  BloomFilterBuilder b(10);
  const std::string f = b.finish();
  EXPECT_EQ(f.size(), 64u / 8 + 1);
  EXPECT_FALSE(BloomFilterMayMatch(f, "hello"));
  EXPECT_FALSE(BloomFilterMayMatch(f, ""));
}

TEST(Bloom, SmallFilter) {
  BloomFilterBuilder b(10);
  b.add_key("hello");
  b.add_key("world");
  b.add_key(std::string("\0\0", 2));
  const std::string f = b.finish();
  EXPECT_TRUE(BloomFilterMayMatch(f, "hello"));
  EXPECT_TRUE(BloomFilterMayMatch(f, "world"));
  EXPECT_TRUE(BloomFilterMayMatch(f, std::string("\0\0", 2)));
  EXPECT_FALSE(BloomFilterMayMatch(f, "x"));
  EXPECT_FALSE(BloomFilterMayMatch(f, "foo"));
  // finish() resets the builder.
  EXPECT_EQ(b.num_keys(), 0u);
  EXPECT_FALSE(BloomFilterMayMatch(b.finish(), "hello"));
}

// Measures the false-positive rate of a filter over num_keys keys against
// the theoretical rate for the filter's actual size, with enough probes that
// about 1000 false positives are expected (relative noise ~3%, so a 25%
// tolerance only fails on a real defect).
void CheckFalsePositiveRate(int bits_per_key, uint64_t num_keys) {
  BloomFilterBuilder b(bits_per_key);
  for (uint64_t i = 0; i < num_keys; i++) b.add_key(Key(i));
  const std::string f = b.finish();
  ASSERT_EQ(static_cast<uint8_t>(f.back()), BloomNumProbes(bits_per_key));

  for (uint64_t i = 0; i < num_keys; i++) ASSERT_TRUE(BloomFilterMayMatch(f, Key(i))) << "false negative " << i;

  const uint64_t num_bits = (f.size() - 1) * 8;
  const double expected = BloomFalsePositiveRate(num_bits, num_keys, BloomNumProbes(bits_per_key));
  const uint64_t probes = std::max<uint64_t>(100000, static_cast<uint64_t>(1000 / expected));
  uint64_t hits = 0;
  for (uint64_t i = 0; i < probes; i++) hits += BloomFilterMayMatch(f, Key((uint64_t{1} << 40) + i)) ? 1 : 0;
  const double measured = static_cast<double>(hits) / static_cast<double>(probes);
  std::printf("bits_per_key=%d keys=%llu absent probes=%llu: measured FP %.5f%%, theoretical %.5f%%\n",
              bits_per_key, static_cast<unsigned long long>(num_keys), static_cast<unsigned long long>(probes),
              100 * measured, 100 * expected);
  EXPECT_NEAR(measured, expected, 0.25 * expected);
}

TEST(Bloom, FalsePositiveRate10BitsPerKey) { CheckFalsePositiveRate(10, 100000); }
TEST(Bloom, FalsePositiveRate5BitsPerKey) { CheckFalsePositiveRate(5, 100000); }
TEST(Bloom, FalsePositiveRate20BitsPerKey) { CheckFalsePositiveRate(20, 100000); }
TEST(Bloom, FalsePositiveRateSmallFilter) { CheckFalsePositiveRate(10, 1000); }

TEST(Bloom, TheoreticalRate) {
  // Known values of (1 - e^(-k/b))^k.
  EXPECT_NEAR(BloomFalsePositiveRate(10), 0.00819, 0.0001);
  EXPECT_NEAR(BloomFalsePositiveRate(5), 0.0918, 0.001);
  EXPECT_DOUBLE_EQ(BloomFalsePositiveRate(0, 10, 3), 1.0);
}

TEST(Bloom, MalformedFilterMayMatch) {
  EXPECT_TRUE(BloomFilterMayMatch(Slice(), "k"));
  EXPECT_TRUE(BloomFilterMayMatch(Slice("\x07", 1), "k"));
  // All-zero bits with an out-of-range probe count: must not exclude.
  std::string f(9, '\0');
  EXPECT_TRUE(BloomFilterMayMatch(f, "k"));  // k = 0
  f.back() = 31;
  EXPECT_TRUE(BloomFilterMayMatch(f, "k"));
  f.back() = static_cast<char>(0xff);
  EXPECT_TRUE(BloomFilterMayMatch(f, "k"));
  // Within range, the all-zero filter excludes (sanity check of the above).
  f.back() = 5;
  EXPECT_FALSE(BloomFilterMayMatch(f, "k"));
}

TEST(Bloom, DuplicateKeysAreHarmless) {
  BloomFilterBuilder b(10);
  for (int i = 0; i < 100; i++) b.add_key("same");
  const std::string f = b.finish();
  EXPECT_TRUE(BloomFilterMayMatch(f, "same"));
}

}  // namespace
}  // namespace lightning
