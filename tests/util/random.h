// Copyright (c) Lightning authors. MIT License.
//
// test::Random: a small, fast, seeded PRNG for tests (SplitMix64). Not for the
// engine, and not cryptographic. The same seed gives the same sequence on every
// platform, so a failing randomized test is reproduced from its seed alone.
//
// Usage: print the seed on failure, and let LIGHTNING_TEST_SEED override it:
//
//   const uint64_t seed = lightning::test::RandomSeed();
//   SCOPED_TRACE("seed=" + std::to_string(seed));  // shown with every failure
//   lightning::test::Random rnd(seed);
//   std::string key = rnd.random_key(16);     // [0-9a-z], readable in messages
//   std::string value = rnd.random_bytes(100);  // any byte, NULs included
//
// Reproduce with: LIGHTNING_TEST_SEED=<seed> ./some_test --gtest_filter=...
//
// Thread-safety: a Random is not synchronised; give each thread its own (e.g.
// seeded with seed + thread_index).
#ifndef LIGHTNING_TESTS_UTIL_RANDOM_H_
#define LIGHTNING_TESTS_UTIL_RANDOM_H_

#include <cassert>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace lightning::test {

class Random {
 public:
  explicit Random(uint64_t seed) noexcept : seed_(seed), state_(seed) {}

  // The seed this generator was constructed with.
  uint64_t seed() const noexcept { return seed_; }

  // 64 uniformly distributed bits.
  uint64_t next() noexcept {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n). n must be > 0. Multiply-shift (Lemire) instead of
  // modulo: no division, and the bias is negligible (< n / 2^64).
  uint64_t uniform(uint64_t n) noexcept {
    assert(n > 0);
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // True with probability 1/n. n must be > 0.
  bool one_in(uint64_t n) noexcept { return uniform(n) == 0; }

  // len arbitrary bytes (all 256 values, NULs included).
  std::string random_bytes(size_t len) {
    std::string s(len, '\0');
    size_t i = 0;
    while (i < len) {
      uint64_t r = next();
      for (int b = 0; b < 8 && i < len; ++b, ++i, r >>= 8) s[i] = static_cast<char>(r & 0xff);
    }
    return s;
  }

  // len characters from [0-9a-z]: random but printable, so failure messages
  // stay readable. Use random_bytes() to exercise arbitrary key bytes.
  std::string random_key(size_t len) {
    static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::string s(len, '\0');
    for (size_t i = 0; i < len; ++i) s[i] = kAlphabet[uniform(sizeof(kAlphabet) - 1)];
    return s;
  }

 private:
  const uint64_t seed_;
  uint64_t state_;
};

// The seed for a randomized test: $LIGHTNING_TEST_SEED if set (to replay a
// failure), otherwise derived from the clock. Always SCOPED_TRACE it.
inline uint64_t RandomSeed() {
  if (const char* env = std::getenv("LIGHTNING_TEST_SEED"); env != nullptr && *env != '\0') {
    return std::strtoull(env, nullptr, 0);
  }
  const auto now = std::chrono::high_resolution_clock::now().time_since_epoch().count();
  return Random(static_cast<uint64_t>(now)).next();
}

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_RANDOM_H_
