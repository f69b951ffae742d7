// Copyright (c) Lightning authors. MIT License.
//
// Copies and comparisons of short byte strings (keys: typically 8..40
// bytes), inlined at the call site. A scan copies and compares a key or two
// per entry; for such sizes a libc call (through the PLT, dispatching on
// size) costs more than the work itself.
#ifndef LIGHTNING_UTIL_SMALL_BYTES_H_
#define LIGHTNING_UTIL_SMALL_BYTES_H_

#include <cstddef>
#include <cstdint>
#include <cstring>

// Forces a function on a per-entry path inline: a call's register saves and
// restores cost a scan about as much as the work of a small step.
#if defined(__GNUC__) || defined(__clang__)
#define LIGHTNING_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LIGHTNING_ALWAYS_INLINE inline
#endif

namespace lightning {

// memmove(dst, src, n): every byte is loaded before any is stored, so dst and
// src may overlap. Sizes above 32 go to memmove.
inline void MoveSmallBytes(char* dst, const char* src, size_t n) {
  if (n >= 8) {
    if (n <= 16) {
      uint64_t a, b;
      std::memcpy(&a, src, 8);
      std::memcpy(&b, src + n - 8, 8);
      std::memcpy(dst, &a, 8);
      std::memcpy(dst + n - 8, &b, 8);
    } else if (n <= 32) {
      uint64_t a, b, c, d;
      std::memcpy(&a, src, 8);
      std::memcpy(&b, src + 8, 8);
      std::memcpy(&c, src + n - 16, 8);
      std::memcpy(&d, src + n - 8, 8);
      std::memcpy(dst, &a, 8);
      std::memcpy(dst + 8, &b, 8);
      std::memcpy(dst + n - 16, &c, 8);
      std::memcpy(dst + n - 8, &d, 8);
    } else {
      std::memmove(dst, src, n);
    }
  } else if (n >= 4) {
    uint32_t a, b;
    std::memcpy(&a, src, 4);
    std::memcpy(&b, src + n - 4, 4);
    std::memcpy(dst, &a, 4);
    std::memcpy(dst + n - 4, &b, 4);
  } else if (n > 0) {
    const char a = src[0], b = src[n / 2], c = src[n - 1];
    dst[0] = a;
    dst[n / 2] = b;
    dst[n - 1] = c;
  }
}

// Compares a and b eight bytes at a time (big-endian, so in bytewise
// order) while a whole word fits in [*i, m): the order of the first
// differing word, or 0 with *i at the first byte not yet compared.
LIGHTNING_ALWAYS_INLINE int CompareWholeWords(const char* a, const char* b, size_t m, size_t* i) {
  for (; *i + 8 <= m; *i += 8) {
    uint64_t x, y;
    std::memcpy(&x, a + *i, 8);
    std::memcpy(&y, b + *i, 8);
    if (x != y) return __builtin_bswap64(x) < __builtin_bswap64(y) ? -1 : 1;
  }
  return 0;
}

// The bytewise (unsigned, then shorter first) order of a[0, na) and
// b[0, nb), as Slice::compare: negative, 0 or positive.
inline int CompareSmallBytes(const char* a, size_t na, const char* b, size_t nb) {
  const size_t m = na < nb ? na : nb;
  size_t i = 0;
  if (const int r = CompareWholeWords(a, b, m, &i)) return r;
  if (i + 4 <= m) {
    uint32_t x, y;
    std::memcpy(&x, a + i, 4);
    std::memcpy(&y, b + i, 4);
    if (x != y) return __builtin_bswap32(x) < __builtin_bswap32(y) ? -1 : 1;
    i += 4;
  }
  for (; i < m; ++i) {
    if (a[i] != b[i]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[i]) ? -1 : 1;
  }
  return na < nb ? -1 : (na > nb ? 1 : 0);
}

// CompareSmallBytes() for strings each followed by at least 8 more readable
// bytes (e.g. the user keys of internal keys, which the 8-byte tag
// follows): a tail shorter than 8 bytes is compared as one word.
inline int ComparePaddedBytes(const char* a, size_t na, const char* b, size_t nb) {
  const size_t m = na < nb ? na : nb;
  size_t i = 0;
  if (const int r = CompareWholeWords(a, b, m, &i)) return r;
  if (i < m) {
    uint64_t x, y;
    std::memcpy(&x, a + i, 8);  // within the padding: i + 8 < m + 8
    std::memcpy(&y, b + i, 8);
    const unsigned shift = static_cast<unsigned>(8 * (8 - (m - i)));  // drops the bytes past m
    x = __builtin_bswap64(x) >> shift;
    y = __builtin_bswap64(y) >> shift;
    if (x != y) return x < y ? -1 : 1;
  }
  return na < nb ? -1 : (na > nb ? 1 : 0);
}

}  // namespace lightning

#endif  // LIGHTNING_UTIL_SMALL_BYTES_H_
