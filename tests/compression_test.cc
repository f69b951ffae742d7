// Copyright (c) Lightning authors. MIT License.
//
// Every codec round-trips; malformed input is an error, never a crash or an
// oversized allocation (run this under ASan to make "never" mean something).
#include "util/compression.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/coding.h"
#include "util/random.h"

namespace lightning {
namespace {

const CompressionType kCodecs[] = {CompressionType::kZstd, CompressionType::kLz4, CompressionType::kSnappy};

const char* Name(CompressionType t) {
  switch (t) {
    case CompressionType::kNone: return "none";
    case CompressionType::kZstd: return "zstd";
    case CompressionType::kLz4: return "lz4";
    case CompressionType::kSnappy: return "snappy";
  }
  return "?";
}

std::string Compressible(test::Random* rnd, size_t n) {
  std::string s;
  while (s.size() < n) s += "key" + std::to_string(rnd->uniform(50)) + "=value;";
  s.resize(n);
  return s;
}

class CompressionTest : public ::testing::TestWithParam<CompressionType> {};

TEST_P(CompressionTest, RoundTrips) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const CompressionType type = GetParam();
  const std::vector<std::string> inputs = {
      std::string(),
      "a",
      std::string("\0\0\0binary\0", 10),
      Compressible(&rnd, 100),
      Compressible(&rnd, 1 << 20),
      std::string(1 << 20, 'x'),
      rnd.random_bytes(1 << 20),  // incompressible
      rnd.random_bytes(37),
  };
  for (const std::string& raw : inputs) {
    SCOPED_TRACE("size=" + std::to_string(raw.size()));
    std::string compressed;
    ASSERT_TRUE(CompressBlock(type, raw, &compressed));
    std::string out = "junk that must be replaced";
    ASSERT_TRUE(UncompressBlock(type, compressed, &out).ok());
    EXPECT_TRUE(out == raw);
  }
  // Compressible data really shrinks (the codec is actually applied).
  std::string compressed;
  ASSERT_TRUE(CompressBlock(type, std::string(1 << 20, 'x'), &compressed));
  EXPECT_LT(compressed.size(), size_t{1} << 16);
}

TEST_P(CompressionTest, GarbageAndTruncationAreErrors) {
  const uint64_t seed = test::RandomSeed();
  SCOPED_TRACE("seed=" + std::to_string(seed));
  test::Random rnd(seed);
  const CompressionType type = GetParam();
  const std::string raw = Compressible(&rnd, 8192);
  std::string compressed;
  ASSERT_TRUE(CompressBlock(type, raw, &compressed));

  std::string out;
  // Every strict prefix is rejected: the payload records its full length.
  for (size_t n = 0; n < compressed.size(); n++) {
    EXPECT_FALSE(UncompressBlock(type, Slice(compressed.data(), n), &out).ok()) << "prefix " << n;
  }
  // Pure garbage of assorted sizes.
  for (int i = 0; i < 1000; i++) {
    const std::string garbage = rnd.random_bytes(rnd.uniform(300));
    Status s = UncompressBlock(type, garbage, &out);
    if (!s.ok()) {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
    EXPECT_LE(out.size(), kMaxUncompressedBlockSize);
  }
  // Random mutations of a valid payload: an error, or some output of bounded
  // size (a codec without an integrity check may decode a mutated payload).
  for (int i = 0; i < 3000; i++) {
    std::string mutated = compressed;
    const int flips = 1 + static_cast<int>(rnd.uniform(4));
    for (int f = 0; f < flips; f++) {
      const size_t pos = rnd.uniform(mutated.size());
      mutated[pos] = static_cast<char>(mutated[pos] ^ (1 << rnd.uniform(8)));
    }
    if (rnd.one_in(4)) mutated.resize(rnd.uniform(mutated.size() + 1));
    Status s = UncompressBlock(type, mutated, &out);
    if (s.ok()) {
      EXPECT_LE(out.size(), kMaxUncompressedBlockSize);
    } else {
      EXPECT_TRUE(s.IsCorruption()) << s.ToString();
    }
  }
}

TEST_P(CompressionTest, HugeDeclaredLengthIsRejectedWithoutAllocating) {
  const CompressionType type = GetParam();
  std::string payload;
  if (type == CompressionType::kZstd) {
    // A frame header: magic, descriptor 0xE0 (8-byte content size, single
    // segment, no checksum, no dictionary), content size = 1 TiB.
    PutFixed32(&payload, 0xFD2FB528u);
    payload.push_back(static_cast<char>(0xE0));
    PutFixed64(&payload, uint64_t{1} << 40);
    payload += std::string(16, '\0');
  } else {
    // lz4 and snappy both start with a varint length.
    PutVarint64(&payload, uint64_t{1} << 40);
    payload += std::string(16, '\0');
  }
  std::string out;
  Status s = UncompressBlock(type, payload, &out);
  EXPECT_TRUE(s.IsCorruption()) << s.ToString();
  EXPECT_LT(out.capacity(), size_t{1} << 20);
}

INSTANTIATE_TEST_SUITE_P(Codecs, CompressionTest, ::testing::ValuesIn(kCodecs),
                         [](const ::testing::TestParamInfo<CompressionType>& p) { return Name(p.param); });

TEST(Compression, NoneAndUnknownTypes) {
  std::string out;
  EXPECT_FALSE(CompressBlock(CompressionType::kNone, "abc", &out));
  EXPECT_FALSE(CompressBlock(static_cast<CompressionType>(9), "abc", &out));
  ASSERT_TRUE(UncompressBlock(CompressionType::kNone, "abc", &out).ok());
  EXPECT_EQ(out, "abc");
  EXPECT_TRUE(UncompressBlock(static_cast<CompressionType>(9), "abc", &out).IsNotSupported());
  EXPECT_TRUE(IsKnownCompressionType(3));
  EXPECT_FALSE(IsKnownCompressionType(4));
}

TEST(Compression, Lz4LengthMismatchIsCorruption) {
  // A valid lz4 payload whose length prefix claims one byte more.
  std::string payload;
  ASSERT_TRUE(CompressBlock(CompressionType::kLz4, "hello hello hello hello", &payload));
  Slice in(payload);
  uint32_t n = 0;
  ASSERT_TRUE(GetVarint32(&in, &n));
  std::string patched;
  PutVarint32(&patched, n + 1);
  patched.append(in.data(), in.size());
  std::string out;
  EXPECT_TRUE(UncompressBlock(CompressionType::kLz4, patched, &out).IsCorruption());
}

}  // namespace
}  // namespace lightning
