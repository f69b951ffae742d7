// Copyright (c) Lightning authors. MIT License.
#include "sst/bloom.h"

#include <algorithm>
#include <cmath>

#include "util/hash.h"

namespace lightning {
namespace {

// Smallest filter: tiny filters have a terrible false-positive rate because
// the bit count is rounded, so never go below one 64-bit word.
constexpr uint64_t kMinBits = 64;

inline uint64_t ProbeBit(uint64_t h, int i, uint64_t num_bits) {
  const uint64_t h1 = h & 0xffffffffu;
  const uint64_t h2 = h >> 32;
  // 64-bit arithmetic: (h1 + i*h2) cannot overflow for i < 2^31, so the
  // probe sequence is exact modulo num_bits.
  return (h1 + static_cast<uint64_t>(i) * h2) % num_bits;
}

}  // namespace

int BloomNumProbes(int bits_per_key) {
  const long k = std::lround(static_cast<double>(bits_per_key) * 0.69314718055994530942);
  return static_cast<int>(std::clamp<long>(k, 1, kMaxBloomProbes));
}

double BloomFalsePositiveRate(uint64_t num_bits, uint64_t num_keys, int num_probes) {
  if (num_bits == 0) return 1.0;
  const double k = num_probes;
  const double fill = 1.0 - std::exp(-k * static_cast<double>(num_keys) / static_cast<double>(num_bits));
  return std::pow(fill, k);
}

double BloomFalsePositiveRate(int bits_per_key) {
  const int b = std::max(bits_per_key, 1);
  return BloomFalsePositiveRate(static_cast<uint64_t>(b), 1, BloomNumProbes(b));
}

BloomFilterBuilder::BloomFilterBuilder(int bits_per_key)
    : bits_per_key_(std::max(bits_per_key, 1)), num_probes_(BloomNumProbes(bits_per_key_)) {}

void BloomFilterBuilder::add_key(const Slice& key) { hashes_.push_back(Hash64(key)); }

std::string BloomFilterBuilder::finish() {
  uint64_t num_bits = std::max<uint64_t>(kMinBits, static_cast<uint64_t>(hashes_.size()) * bits_per_key_);
  num_bits = (num_bits + 7) / 8 * 8;  // whole bytes; the reader derives num_bits from the length
  const size_t num_bytes = static_cast<size_t>(num_bits / 8);

  std::string filter(num_bytes + 1, '\0');
  char* bits = filter.data();
  for (uint64_t h : hashes_) {
    for (int i = 0; i < num_probes_; i++) {
      const uint64_t bit = ProbeBit(h, i, num_bits);
      bits[bit / 8] = static_cast<char>(static_cast<uint8_t>(bits[bit / 8]) | (1u << (bit % 8)));
    }
  }
  filter[num_bytes] = static_cast<char>(num_probes_);
  hashes_.clear();
  return filter;
}

bool BloomFilterMayMatch(const Slice& filter, const Slice& key) {
  if (filter.size() < 2) return true;
  const int k = static_cast<uint8_t>(filter[filter.size() - 1]);
  if (k < 1 || k > kMaxBloomProbes) return true;  // not something we wrote (or a future encoding)
  const uint64_t num_bits = static_cast<uint64_t>(filter.size() - 1) * 8;
  const uint8_t* bits = reinterpret_cast<const uint8_t*>(filter.data());
  const uint64_t h = Hash64(key);
  for (int i = 0; i < k; i++) {
    const uint64_t bit = ProbeBit(h, i, num_bits);
    if ((bits[bit / 8] & (1u << (bit % 8))) == 0) return false;
  }
  return true;
}

}  // namespace lightning
