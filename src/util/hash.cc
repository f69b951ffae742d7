// Copyright (c) Lightning authors. MIT License.
#include "util/hash.h"

#include <xxhash.h>

#include <new>

namespace lightning {

uint64_t Hash64(const char* data, size_t n, uint64_t seed) { return XXH3_64bits_withSeed(data, n, seed); }

Hasher64::Hasher64(uint64_t seed) : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset_withSeed(static_cast<XXH3_state_t*>(state_), seed);
}

Hasher64::~Hasher64() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void Hasher64::update(const char* data, size_t n) { XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), data, n); }

uint64_t Hasher64::digest() const { return XXH3_64bits_digest(static_cast<XXH3_state_t*>(state_)); }

}  // namespace lightning
