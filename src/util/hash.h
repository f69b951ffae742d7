// Copyright (c) Lightning authors. MIT License.
//
// Checksums and hashes. Every checksum Lightning writes is xxHash (XXH3, 64
// bit); 32-bit fields store its low half.
#ifndef LIGHTNING_UTIL_HASH_H_
#define LIGHTNING_UTIL_HASH_H_

#include <cstddef>
#include <cstdint>

#include "lightning/slice.h"

namespace lightning {

uint64_t Hash64(const char* data, size_t n, uint64_t seed = 0);
inline uint64_t Hash64(const Slice& s, uint64_t seed = 0) { return Hash64(s.data(), s.size(), seed); }

// Checksum of a byte range as stored in 32-bit on-disk fields.
inline uint32_t Checksum32(const char* data, size_t n) { return static_cast<uint32_t>(Hash64(data, n)); }

// Streaming form, for checksums over several discontiguous pieces.
class Hasher64 {
 public:
  explicit Hasher64(uint64_t seed = 0);
  ~Hasher64();
  Hasher64(const Hasher64&) = delete;
  Hasher64& operator=(const Hasher64&) = delete;
  void update(const char* data, size_t n);
  void update(const Slice& s) { update(s.data(), s.size()); }
  uint64_t digest() const;

 private:
  void* state_;  // XXH3_state_t*, kept opaque so xxhash.h stays out of headers
};

}  // namespace lightning

#endif  // LIGHTNING_UTIL_HASH_H_
