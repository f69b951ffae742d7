// Copyright (c) Lightning authors. MIT License.
//
// Little-endian fixed-width and varint encodings used by every on-disk format.
#ifndef LIGHTNING_UTIL_CODING_H_
#define LIGHTNING_UTIL_CODING_H_

#include <cstdint>
#include <cstring>
#include <string>

#include "lightning/slice.h"

namespace lightning {

// The formats are little-endian; the build refuses big-endian hosts rather
// than silently writing files other machines cannot read.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "Lightning's on-disk formats assume a little-endian host");

inline void EncodeFixed16(char* dst, uint16_t v) { std::memcpy(dst, &v, sizeof(v)); }
inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, sizeof(v)); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, sizeof(v)); }
inline uint16_t DecodeFixed16(const char* p) {
  uint16_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline uint32_t DecodeFixed32(const char* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline uint64_t DecodeFixed64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

void PutFixed32(std::string* dst, uint32_t v);
void PutFixed64(std::string* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
// A varint32 length followed by the bytes.
void PutLengthPrefixedSlice(std::string* dst, const Slice& value);

// Each Get* consumes from *input and returns false on malformed or short input.
bool GetFixed32(Slice* input, uint32_t* value);
bool GetFixed64(Slice* input, uint64_t* value);
bool GetVarint32(Slice* input, uint32_t* value);
bool GetVarint64(Slice* input, uint64_t* value);
bool GetLengthPrefixedSlice(Slice* input, Slice* result);

// Pointer-based decoders: return a pointer past the parsed value, or nullptr
// if the varint is malformed or runs past limit. The one-byte case (lengths
// below 128, the common one on every read path) is decoded inline.
const char* GetVarint32PtrFallback(const char* p, const char* limit, uint32_t* value);
const char* GetVarint64PtrFallback(const char* p, const char* limit, uint64_t* value);
inline const char* GetVarint32Ptr(const char* p, const char* limit, uint32_t* value) {
  if (p < limit) {
    const uint32_t byte = static_cast<unsigned char>(*p);
    if ((byte & 0x80) == 0) {
      *value = byte;
      return p + 1;
    }
  }
  return GetVarint32PtrFallback(p, limit, value);
}
inline const char* GetVarint64Ptr(const char* p, const char* limit, uint64_t* value) {
  if (p < limit) {
    const uint64_t byte = static_cast<unsigned char>(*p);
    if ((byte & 0x80) == 0) {
      *value = byte;
      return p + 1;
    }
  }
  return GetVarint64PtrFallback(p, limit, value);
}

// Writes v at dst; returns a pointer past the last byte written.
char* EncodeVarint32(char* dst, uint32_t v);
char* EncodeVarint64(char* dst, uint64_t v);
int VarintLength(uint64_t v);

}  // namespace lightning

#endif  // LIGHTNING_UTIL_CODING_H_
