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

// The probe sequence of hash h: bit i is (h1 + i * h2) mod num_bits, with
// h1, h2 the low and high halves of h (the format, docs/SSTABLE.md). It is
// computed as ((h1 mod n) + i * (h2 mod n)) mod n, stepping by one addition
// and at most one subtraction per probe: two divisions per key instead of
// one per probe.
class ProbeSequence {
 public:
  ProbeSequence(uint64_t h, uint64_t num_bits)
      : num_bits_(num_bits), bit_((h & 0xffffffffu) % num_bits), step_((h >> 32) % num_bits) {}
  uint64_t bit() const { return bit_; }
  void next() {
    bit_ += step_;  // both < num_bits <= 2^63: no overflow
    if (bit_ >= num_bits_) bit_ -= num_bits_;
  }

 private:
  const uint64_t num_bits_;
  uint64_t bit_;
  const uint64_t step_;
};

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
    ProbeSequence probe(h, num_bits);
    for (int i = 0; i < num_probes_; i++, probe.next()) {
      const uint64_t bit = probe.bit();
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
  // All probe positions first, each prefetched, so that the cache misses of
  // a large filter overlap instead of following one another.
  uint64_t probe_bits[kMaxBloomProbes];
  ProbeSequence probe(Hash64(key), num_bits);
  for (int i = 0; i < k; i++, probe.next()) {
    probe_bits[i] = probe.bit();
    __builtin_prefetch(bits + probe_bits[i] / 8);
  }
  for (int i = 0; i < k; i++) {
    const uint64_t bit = probe_bits[i];
    if ((bits[bit / 8] & (1u << (bit % 8))) == 0) return false;
  }
  return true;
}

}  // namespace lightning
