// Copyright (c) Lightning authors. MIT License.
#include "sst/bloom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "util/coding.h"
#include "util/hash.h"

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

// The filter bytes as docs/SSTABLE.md defines them, computed the plain way:
// bit i of key k is (h1 + i * h2) mod num_bits, h = Hash64(k).
std::string ReferenceFilter(const std::vector<std::string>& keys, int bits_per_key) {
  const int k = BloomNumProbes(bits_per_key);
  uint64_t num_bits = std::max<uint64_t>(64, keys.size() * static_cast<uint64_t>(bits_per_key));
  num_bits = (num_bits + 7) / 8 * 8;
  std::string f(num_bits / 8 + 1, '\0');
  for (const std::string& key : keys) {
    const uint64_t h = Hash64(key);
    for (int i = 0; i < k; i++) {
      const uint64_t bit = ((h & 0xffffffffu) + static_cast<uint64_t>(i) * (h >> 32)) % num_bits;
      f[bit / 8] = static_cast<char>(static_cast<uint8_t>(f[bit / 8]) | (1u << (bit % 8)));
    }
  }
  f[num_bits / 8] = static_cast<char>(k);
  return f;
}

// The builder's and reader's probe arithmetic (stepped, not one division per
// probe) must give exactly the on-disk format, at sizes that are and are not
// powers of two, and with probe counts up to the maximum.
TEST(Bloom, FilterBytesMatchTheDocumentedFormat) {
  for (int bits_per_key : {1, 7, 10, 20, 43}) {
    for (uint64_t n : {1u, 3u, 100u, 1000u, 4099u}) {
      std::vector<std::string> keys;
      BloomFilterBuilder b(bits_per_key);
      for (uint64_t i = 0; i < n; i++) {
        keys.push_back(Key(i * 7919 + n));
        b.add_key(keys.back());
      }
      const std::string reference = ReferenceFilter(keys, bits_per_key);
      ASSERT_EQ(b.finish(), reference) << bits_per_key << " bits/key, " << n << " keys";
      for (const std::string& key : keys) ASSERT_TRUE(BloomFilterMayMatch(reference, key));
      // A key is reported absent exactly when one of its reference bits is clear.
      for (uint64_t i = 0; i < 200; i++) {
        const std::string probe = Key(1000000007 + i);
        bool all_set = true;
        const uint64_t num_bits = (reference.size() - 1) * 8;
        const uint64_t h = Hash64(probe);
        for (int j = 0; j < BloomNumProbes(bits_per_key); j++) {
          const uint64_t bit = ((h & 0xffffffffu) + static_cast<uint64_t>(j) * (h >> 32)) % num_bits;
          if ((static_cast<uint8_t>(reference[bit / 8]) & (1u << (bit % 8))) == 0) all_set = false;
        }
        ASSERT_EQ(BloomFilterMayMatch(reference, probe), all_set);
      }
    }
  }
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
