// Copyright (c) Lightning authors. MIT License.
//
// Bloom filter over byte-string keys, used by SSTables to skip tables that
// cannot hold a user key.
//
// Filter bytes:  bit array (num_bits / 8 bytes) | uint8 k (number of probes)
//
// Probe i of key K sets/tests bit (h1 + i*h2) mod num_bits, where h1 and h2
// are the low and high 32 bits of Hash64(K) (Kirsch-Mitzenmacher double
// hashing: two hash values give k nearly independent probes).
//
// A reader never produces a false negative, even for malformed filter bytes:
// anything it cannot interpret answers "may match".
// Thread-safety: a builder is used by one thread; BloomFilterMayMatch is pure.
#ifndef LIGHTNING_SST_BLOOM_H_
#define LIGHTNING_SST_BLOOM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lightning/slice.h"

namespace lightning {

inline constexpr int kDefaultBloomBitsPerKey = 10;
inline constexpr int kMaxBloomProbes = 30;

// k = round(bits_per_key * ln 2), clamped to [1, kMaxBloomProbes]: the k that
// minimises the false-positive rate for that many bits per key.
int BloomNumProbes(int bits_per_key);

// Theoretical false-positive rate (1 - e^(-k*n/m))^k of a filter with m =
// num_bits bits holding n = num_keys keys with k = num_probes probes.
double BloomFalsePositiveRate(uint64_t num_bits, uint64_t num_keys, int num_probes);

// The same for an ideally sized filter of bits_per_key bits per key.
double BloomFalsePositiveRate(int bits_per_key);

class BloomFilterBuilder {
 public:
  // bits_per_key < 1 is treated as 1.
  explicit BloomFilterBuilder(int bits_per_key = kDefaultBloomBitsPerKey);

  // Adds a key. Only its 64-bit hash is retained, so keys need not outlive
  // the call. Duplicates are harmless (they only cost sizing accuracy).
  void add_key(const Slice& key);

  size_t num_keys() const { return hashes_.size(); }

  // Returns the filter bytes for the keys added since construction or the
  // last finish(), and resets the builder. Never empty: a filter over zero
  // keys is 64 zero bits plus k, and matches nothing.
  std::string finish();

 private:
  int bits_per_key_;
  int num_probes_;
  std::vector<uint64_t> hashes_;
};

// False only if key was certainly not added to the filter that produced
// `filter`. Malformed filters (too short, k outside 1..kMaxBloomProbes)
// answer true.
bool BloomFilterMayMatch(const Slice& filter, const Slice& key);

}  // namespace lightning

#endif  // LIGHTNING_SST_BLOOM_H_
