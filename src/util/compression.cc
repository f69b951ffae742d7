// Copyright (c) Lightning authors. MIT License.
#include "util/compression.h"

#include <lz4.h>
#include <snappy.h>
#include <zstd.h>

#include <cstdint>

#include "util/coding.h"

namespace lightning {
namespace {

// Level 3 is zstd's default: a good ratio at several hundred MB/s, which
// matters because blocks are compressed on the flush/compaction path.
constexpr int kZstdLevel = 3;

bool ZstdCompress(const Slice& raw, std::string* out) {
  const size_t bound = ZSTD_compressBound(raw.size());
  out->resize(bound);
  const size_t n = ZSTD_compress(out->data(), bound, raw.data(), raw.size(), kZstdLevel);
  if (ZSTD_isError(n)) return false;
  out->resize(n);
  return true;
}

Status ZstdUncompress(const Slice& in, std::string* out) {
  // ZSTD_compress always records the content size in the frame header; a
  // frame without one (or a non-frame) did not come from us.
  const unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Status::Corruption("zstd: bad frame header");
  }
  if (size > kMaxUncompressedBlockSize) return Status::Corruption("zstd: implausible uncompressed size");
  out->resize(static_cast<size_t>(size));
  // Decompressing into a buffer of exactly the declared size is bounded: zstd
  // reports dstSize_tooSmall rather than writing past it, and rejects any
  // trailing bytes that are not a valid frame.
  const size_t n = ZSTD_decompress(out->data(), out->size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != size) {
    out->clear();
    return Status::Corruption("zstd: malformed payload");
  }
  return Status::OK();
}

bool Lz4Compress(const Slice& raw, std::string* out) {
  if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return false;
  const int src_size = static_cast<int>(raw.size());
  const int bound = LZ4_compressBound(src_size);
  if (bound <= 0) return false;
  out->clear();
  PutVarint32(out, static_cast<uint32_t>(raw.size()));
  const size_t header = out->size();
  out->resize(header + static_cast<size_t>(bound));
  const int n = LZ4_compress_default(raw.data(), out->data() + header, src_size, bound);
  if (n <= 0) return false;
  out->resize(header + static_cast<size_t>(n));
  return true;
}

Status Lz4Uncompress(const Slice& in, std::string* out) {
  Slice input = in;
  uint32_t size = 0;
  if (!GetVarint32(&input, &size)) return Status::Corruption("lz4: bad length header");
  if (size > kMaxUncompressedBlockSize) return Status::Corruption("lz4: implausible uncompressed size");
  if (input.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return Status::Corruption("lz4: payload too large");
  // An LZ4 byte expands to at most 255 bytes (a match-length extension
  // byte), so a larger claim is garbage: reject it before allocating.
  if (size > static_cast<uint64_t>(input.size()) * 256) return Status::Corruption("lz4: impossible expansion ratio");
  out->resize(size);
  // The _safe decoder never reads past the source nor writes past capacity.
  const int n = LZ4_decompress_safe(input.data(), out->data(), static_cast<int>(input.size()), static_cast<int>(size));
  if (n < 0 || static_cast<uint32_t>(n) != size) {
    out->clear();
    return Status::Corruption("lz4: malformed payload");
  }
  return Status::OK();
}

bool SnappyCompress(const Slice& raw, std::string* out) {
  out->clear();
  snappy::Compress(raw.data(), raw.size(), out);
  return true;
}

Status SnappyUncompress(const Slice& in, std::string* out) {
  size_t size = 0;
  if (!snappy::GetUncompressedLength(in.data(), in.size(), &size)) {
    return Status::Corruption("snappy: bad length header");
  }
  if (size > kMaxUncompressedBlockSize) return Status::Corruption("snappy: implausible uncompressed size");
  // Snappy's densest element is a 3-byte copy of 64 bytes (ratio < 22), so
  // a claim beyond 32x the input is garbage: reject it before allocating.
  if (size > static_cast<uint64_t>(in.size()) * 32) return Status::Corruption("snappy: impossible expansion ratio");
  out->resize(size);
  // RawUncompress validates as it goes and writes at most the declared length.
  if (!snappy::RawUncompress(in.data(), in.size(), out->data())) {
    out->clear();
    return Status::Corruption("snappy: malformed payload");
  }
  return Status::OK();
}

}  // namespace

bool IsKnownCompressionType(unsigned char type) { return type <= static_cast<unsigned char>(CompressionType::kSnappy); }

bool CompressBlock(CompressionType type, const Slice& raw, std::string* out) {
  if (raw.size() > kMaxUncompressedBlockSize) return false;
  switch (type) {
    case CompressionType::kNone: return false;
    case CompressionType::kZstd: return ZstdCompress(raw, out);
    case CompressionType::kLz4: return Lz4Compress(raw, out);
    case CompressionType::kSnappy: return SnappyCompress(raw, out);
  }
  return false;
}

Status UncompressBlock(CompressionType type, const Slice& compressed, std::string* out) {
  switch (type) {
    case CompressionType::kNone:
      out->assign(compressed.data(), compressed.size());
      return Status::OK();
    case CompressionType::kZstd: return ZstdUncompress(compressed, out);
    case CompressionType::kLz4: return Lz4Uncompress(compressed, out);
    case CompressionType::kSnappy: return SnappyUncompress(compressed, out);
  }
  return Status::NotSupported("unknown compression type");
}

}  // namespace lightning
