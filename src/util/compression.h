// Copyright (c) Lightning authors. MIT License.
//
// Block compression: one entry point per direction over the codecs named by
// CompressionType. Used by SSTable blocks (and anything else that stores
// compressed pages).
//
// Every compressed payload records its uncompressed length, so that the
// decompressor can size its output exactly and refuse absurd lengths before
// allocating:
//   kZstd   : a standard zstd frame (the frame header carries the content size)
//   kLz4    : varint32(uncompressed length) | LZ4 block
//   kSnappy : a standard snappy buffer (starts with its varint length)
//
// Robustness: UncompressBlock is meant to be fed bytes from disk. Whatever the
// input, it never reads or writes out of bounds and never allocates more than
// kMaxUncompressedBlockSize; garbage yields Corruption.
// Thread-safety: both functions are reentrant (no shared state).
#ifndef LIGHTNING_UTIL_COMPRESSION_H_
#define LIGHTNING_UTIL_COMPRESSION_H_

#include <cstddef>
#include <string>

#include "lightning/options.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

// The largest uncompressed payload UncompressBlock will produce. Real blocks
// are far smaller (a block holds at most one maximal value plus its key);
// the bound exists so that a corrupted length field cannot make us allocate
// gigabytes.
inline constexpr size_t kMaxUncompressedBlockSize = size_t{256} << 20;

// True for the codecs this build knows (kNone included).
bool IsKnownCompressionType(unsigned char type);

// Compresses raw with the given codec into *out (replacing its contents).
// Returns false, leaving *out unspecified, if type is kNone or unknown, if raw
// exceeds kMaxUncompressedBlockSize, or if the codec fails. The caller then
// stores the data uncompressed.
bool CompressBlock(CompressionType type, const Slice& raw, std::string* out);

// Decompresses a payload produced by CompressBlock(type, ...) into *out
// (replacing its contents). kNone copies the input. Returns Corruption if the
// payload is malformed or claims more than kMaxUncompressedBlockSize bytes,
// NotSupported for an unknown type.
Status UncompressBlock(CompressionType type, const Slice& compressed, std::string* out);

}  // namespace lightning

#endif  // LIGHTNING_UTIL_COMPRESSION_H_
