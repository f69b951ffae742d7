// Copyright (c) Lightning authors. MIT License.
//
// SSTable building blocks shared by the writer and the reader: block handles,
// the per-block trailer, the fixed-size footer and ReadBlock. The byte layout
// is specified in docs/SSTABLE.md; change both together.
//
// Thread-safety: plain values and reentrant functions.
#ifndef LIGHTNING_SST_FORMAT_H_
#define LIGHTNING_SST_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "lightning/env.h"
#include "lightning/options.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

// "LGTNSST1" read as a little-endian uint64. Identifies a Lightning SSTable.
inline constexpr uint64_t kTableMagicNumber = 0x315453534e54474cull;
// The only on-disk format version this code reads and writes. Files with any
// other version (and a valid footer) are refused with NotSupported.
inline constexpr uint32_t kTableFormatVersion = 1;

// Names of the metaindex entries (bytewise order: filter < properties).
inline constexpr const char* kBloomFilterBlockName = "lightning.filter.bloom";
inline constexpr const char* kPropertiesBlockName = "lightning.properties";

// Where a block lives in the file: its offset and the size of its stored
// contents (excluding the 5-byte trailer).
struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;

  // Two varint64s.
  static constexpr size_t kMaxEncodedLength = 10 + 10;

  void encode_to(std::string* dst) const;
  // Consumes a handle from *input. Corruption if malformed.
  Status decode_from(Slice* input);
};

// Every block is followed by: uint8 compression type | fixed32 checksum,
// checksum = low 32 bits of XXH3-64 over (stored contents | type byte).
inline constexpr size_t kBlockTrailerSize = 5;

uint32_t BlockChecksum(const Slice& stored_contents, uint8_t type);

// The last kEncodedLength bytes of every table:
//   metaindex handle | index handle | zero padding  (40 bytes)
//   fixed32 format version
//   fixed32 checksum  (low 32 bits of XXH3-64 over the 44 bytes above)
//   fixed64 magic
// Magic, checksum and version keep these positions in every format version,
// so any reader can tell "damaged" (Corruption) from "newer" (NotSupported).
class Footer {
 public:
  static constexpr size_t kHandleAreaLength = 2 * BlockHandle::kMaxEncodedLength;
  static constexpr size_t kEncodedLength = kHandleAreaLength + 4 + 4 + 8;

  BlockHandle metaindex_handle;
  BlockHandle index_handle;
  uint32_t format_version = kTableFormatVersion;

  // Appends exactly kEncodedLength bytes.
  void encode_to(std::string* dst) const;
  // input must be exactly kEncodedLength bytes. Checks, in order: magic
  // (Corruption), checksum (Corruption), version (NotSupported), handles
  // (Corruption).
  Status decode_from(const Slice& input);
};

// A block read from a file: its uncompressed contents, owned.
struct BlockContents {
  std::string data;
};

// Upper bound on a stored block (contents without trailer). Larger handles
// can only come from corruption; refusing them bounds allocations.
inline constexpr uint64_t kMaxStoredBlockSize = uint64_t{256} << 20;

// Reads the block at handle, verifies its checksum (if verify_checksum),
// decompresses it, and stores the result in *result. Any damage (short read,
// checksum mismatch, bad compression type, malformed payload) returns
// Corruption naming file_name (informational; may be empty) and the offset.
// *result is left empty on error: damaged data is never returned.
Status ReadBlock(const RandomAccessFile* file, const BlockHandle& handle, bool verify_checksum,
                 BlockContents* result, const std::string& file_name = std::string());

// ReadBlock for a block already in memory: stored points at the handle's
// handle.size stored bytes followed by the trailer (e.g. inside a memory map
// of the file). Same checks, same errors, same result.
Status DecodeStoredBlock(const char* stored, const BlockHandle& handle, bool verify_checksum, BlockContents* result,
                         const std::string& file_name = std::string());

// Decides how to store raw block contents: compressed with `requested` if
// that saves at least 1/8 of the size (the bytes go to *scratch and the
// returned Slice points there), else raw (returned Slice == raw). *type is
// set to what was used.
Slice MaybeCompressBlock(const Slice& raw, CompressionType requested, std::string* scratch, CompressionType* type);

// Appends stored contents + trailer to file at *offset, sets *handle, and
// advances *offset.
Status WriteStoredBlock(WritableFile* file, const Slice& stored, CompressionType type, uint64_t* offset,
                        BlockHandle* handle);

}  // namespace lightning

#endif  // LIGHTNING_SST_FORMAT_H_
