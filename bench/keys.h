// Copyright (c) Lightning authors. MIT License.
//
// Key and value generation, shared by every engine so that all of them see
// the same bytes in the same order.
//
// Keys: --key_size bytes holding the key's index in zero-padded decimal
// ("0000000000001234"), db_bench's format. A *missing* key (readmissing) is the
// index in key_size-1 digits followed by '.', e.g. "000000000001234.": never a
// stored key, and it sorts between stored keys, so engines cannot dismiss it
// by a range check alone.
//
// Values: --value_size bytes. The first 12 bytes stamp the key index (8) and
// the write epoch (4); the rest is a slice of a fixed pseudo-random buffer
// chosen by (index, epoch), built like db_bench's so it compresses to about
// half. A read can therefore be checked completely from the value alone.
//
// Random order: Random (xoshiro256**) seeded from --seed, the workload's
// position in --benchmarks and the thread number; Permutation is a keyed
// Feistel bijection on [0, n) (no memory, O(1) per element) for fillrandom.
#ifndef LIGHTNING_BENCH_KEYS_H_
#define LIGHTNING_BENCH_KEYS_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lightning::bench {

inline uint64_t mix64(uint64_t x) {  // splitmix64 finaliser
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Random {
 public:
  explicit Random(uint64_t seed) {
    for (auto& s : s_) s = seed = mix64(seed);
  }
  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n) (Lemire's multiply-shift; bias < n / 2^64).
  uint64_t uniform(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// A pseudo-random permutation of [0, n): a 4-round Feistel network over the
// smallest even-bit domain >= n, cycle-walking values that fall outside
// (fewer than 4 steps on average since the domain is < 4n).
class Permutation {
 public:
  Permutation(uint64_t n, uint64_t seed);
  uint64_t at(uint64_t i) const {
    uint64_t x = i;
    do {
      x = encrypt(x);
    } while (x >= n_);
    return x;
  }

 private:
  uint64_t encrypt(uint64_t x) const {
    uint64_t left = x >> half_bits_;
    uint64_t right = x & half_mask_;
    for (uint64_t key : keys_) {
      const uint64_t f = mix64(right ^ key) & half_mask_;
      const uint64_t next = left ^ f;
      left = right;
      right = next;
    }
    return (left << half_bits_) | right;
  }

  uint64_t n_;
  int half_bits_;
  uint64_t half_mask_;
  uint64_t keys_[4];
};

// Formats keys into a buffer it owns: no allocation per key.
class KeyFormatter {
 public:
  explicit KeyFormatter(size_t key_size) : buf_(key_size, '0') {}

  std::string_view key(uint64_t index) {
    write_digits(index, buf_.size());
    return std::string_view(buf_.data(), buf_.size());
  }
  std::string_view missing_key(uint64_t index) {
    write_digits(index, buf_.size() - 1);
    buf_.back() = '.';
    std::string_view k(buf_.data(), buf_.size());
    return k;
  }

  // Number of decimal digits needed for values < n.
  static size_t digits_for(uint64_t n);

  // The index of a stored key (the inverse of key()): false unless `key` is
  // exactly `key_size` decimal digits holding a value that fits in 64 bits.
  static bool parse(std::string_view key, size_t key_size, uint64_t* index) {
    if (key.size() != key_size) return false;
    uint64_t v = 0;
    for (char ch : key) {
      if (ch < '0' || ch > '9' || v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + static_cast<uint64_t>(ch - '0');
    }
    *index = v;
    return true;
  }

 private:
  // Writes index as `width` zero-padded digits at the start of the buffer.
  void write_digits(uint64_t index, size_t width) {
    char* p = buf_.data() + width;
    char* const begin = buf_.data();
    while (p > begin) {
      *--p = static_cast<char>('0' + index % 10);
      index /= 10;
      if (index == 0) break;
    }
    while (p > begin) *--p = '0';
  }

  std::string buf_;
};

// Builds and checks values (see the file comment). One per thread: owns the
// scratch buffer the value is assembled in.
class ValueGenerator {
 public:
  static constexpr size_t kStampSize = 12;

  // `data` is the shared pseudo-random source from make_value_source().
  ValueGenerator(const std::string* data, size_t value_size) : data_(data), scratch_(value_size, '\0') {}

  std::string_view value(uint64_t index, uint32_t epoch) {
    const size_t n = scratch_.size();
    char* out = scratch_.data();
    if (n >= kStampSize) {
      std::memcpy(out, &index, 8);
      std::memcpy(out + 8, &epoch, 4);
      std::memcpy(out + kStampSize, body(index, epoch), n - kStampSize);
    } else {
      std::memcpy(out, body(index, epoch), n);
    }
    return std::string_view(out, n);
  }

  enum class Check { kOk, kWrongSize, kWrongKey, kBadEpoch, kWrongBytes };
  // Checks a value read for `index`. The epoch is taken from the value and
  // must be in [1, max_epoch]; full == false checks only size and stamp.
  Check check(uint64_t index, std::string_view v, uint32_t max_epoch, bool full) const;

  static const char* check_name(Check c);

 private:
  const char* body(uint64_t index, uint32_t epoch) const {
    const uint64_t span = data_->size() - scratch_.size();
    const uint64_t h = mix64(index * 0x100000001b3ULL ^ epoch);
    // Multiply-shift instead of a division: this runs once per write.
    return data_->data() + static_cast<uint64_t>((static_cast<unsigned __int128>(h) * span) >> 64);
  }

  const std::string* data_;
  std::string scratch_;
};

// The shared source bytes for values of `value_size`: 128 KiB (stays in L2, so
// building a value costs the harness little) plus value_size of data
// where each 100-byte run holds 50 random bytes repeated (compresses ~2:1).
std::string make_value_source(size_t value_size, uint64_t seed);

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_KEYS_H_
