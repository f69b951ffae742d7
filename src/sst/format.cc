// Copyright (c) Lightning authors. MIT License.
#include "sst/format.h"

#include <memory>

#include "util/coding.h"
#include "util/compression.h"
#include "util/hash.h"

namespace lightning {
namespace {

std::string Where(const std::string& file_name, uint64_t offset) {
  std::string s = file_name.empty() ? std::string("<table>") : file_name;
  s += " at offset ";
  s += std::to_string(offset);
  return s;
}

}  // namespace

void BlockHandle::encode_to(std::string* dst) const {
  PutVarint64(dst, offset);
  PutVarint64(dst, size);
}

Status BlockHandle::decode_from(Slice* input) {
  if (GetVarint64(input, &offset) && GetVarint64(input, &size)) return Status::OK();
  return Status::Corruption("bad block handle");
}

uint32_t BlockChecksum(const Slice& stored_contents, uint8_t type) {
  Hasher64 h;
  h.update(stored_contents);
  const char t = static_cast<char>(type);
  h.update(&t, 1);
  return static_cast<uint32_t>(h.digest());
}

void Footer::encode_to(std::string* dst) const {
  const size_t start = dst->size();
  metaindex_handle.encode_to(dst);
  index_handle.encode_to(dst);
  dst->resize(start + kHandleAreaLength, '\0');
  PutFixed32(dst, format_version);
  PutFixed32(dst, Checksum32(dst->data() + start, kHandleAreaLength + 4));
  PutFixed64(dst, kTableMagicNumber);
}

Status Footer::decode_from(const Slice& input) {
  if (input.size() != kEncodedLength) return Status::Corruption("footer has wrong length");
  const char* p = input.data();
  if (DecodeFixed64(p + kHandleAreaLength + 8) != kTableMagicNumber) {
    return Status::Corruption("not an SSTable (bad magic number)");
  }
  if (DecodeFixed32(p + kHandleAreaLength + 4) != Checksum32(p, kHandleAreaLength + 4)) {
    return Status::Corruption("footer checksum mismatch");
  }
  format_version = DecodeFixed32(p + kHandleAreaLength);
  if (format_version != kTableFormatVersion) {
    return Status::NotSupported("unknown SSTable format version", std::to_string(format_version));
  }
  Slice handles(p, kHandleAreaLength);
  Status s = metaindex_handle.decode_from(&handles);
  if (s.ok()) s = index_handle.decode_from(&handles);
  if (!s.ok()) return Status::Corruption("bad handle in footer");
  // The padding is covered by the checksum, but requiring zeros keeps the
  // encoding canonical.
  for (size_t i = 0; i < handles.size(); i++) {
    if (handles[i] != '\0') return Status::Corruption("non-zero footer padding");
  }
  return Status::OK();
}

namespace {

// The checks and decompression shared by ReadBlock and DecodeStoredBlock.
// data holds n stored bytes and the trailer; buf, if not null, is the string
// data points into (n + trailer bytes), reused for an uncompressed result.
Status DecodeBlockBytes(const char* data, size_t n, std::string* buf, const BlockHandle& handle,
                        bool verify_checksum, BlockContents* result, const std::string& file_name) {
  const uint8_t type = static_cast<uint8_t>(data[n]);
  if (verify_checksum && DecodeFixed32(data + n + 1) != BlockChecksum(Slice(data, n), type)) {
    return Status::Corruption("block checksum mismatch", Where(file_name, handle.offset));
  }
  if (!IsKnownCompressionType(type)) {
    return Status::Corruption("unknown block compression type", Where(file_name, handle.offset));
  }
  if (type == static_cast<uint8_t>(CompressionType::kNone)) {
    if (buf != nullptr && data == buf->data()) {
      buf->resize(n);  // drop the trailer in place; no copy
      result->data.swap(*buf);
    } else {
      result->data.assign(data, n);  // the file returned its own memory
    }
    return Status::OK();
  }
  Status s = UncompressBlock(static_cast<CompressionType>(type), Slice(data, n), &result->data);
  if (!s.ok()) {
    result->data.clear();
    return Status::Corruption("cannot decompress block", Where(file_name, handle.offset) + ": " + s.message());
  }
  return Status::OK();
}

}  // namespace

Status ReadBlock(const RandomAccessFile* file, const BlockHandle& handle, bool verify_checksum,
                 BlockContents* result, const std::string& file_name) {
  result->data.clear();
  if (handle.size > kMaxStoredBlockSize) {
    return Status::Corruption("block handle has implausible size", Where(file_name, handle.offset));
  }
  const size_t n = static_cast<size_t>(handle.size);
  std::string buf;
  buf.resize(n + kBlockTrailerSize);
  Slice contents;
  Status s = file->read(handle.offset, n + kBlockTrailerSize, &contents, buf.data());
  if (!s.ok()) return s;
  if (contents.size() != n + kBlockTrailerSize) {
    return Status::Corruption("truncated block read", Where(file_name, handle.offset));
  }
  return DecodeBlockBytes(contents.data(), n, &buf, handle, verify_checksum, result, file_name);
}

Status DecodeStoredBlock(const char* stored, const BlockHandle& handle, bool verify_checksum, BlockContents* result,
                         const std::string& file_name) {
  result->data.clear();
  if (handle.size > kMaxStoredBlockSize) {
    return Status::Corruption("block handle has implausible size", Where(file_name, handle.offset));
  }
  return DecodeBlockBytes(stored, static_cast<size_t>(handle.size), nullptr, handle, verify_checksum, result,
                          file_name);
}

Slice MaybeCompressBlock(const Slice& raw, CompressionType requested, std::string* scratch, CompressionType* type) {
  *type = CompressionType::kNone;
  if (requested == CompressionType::kNone) return raw;
  if (!CompressBlock(requested, raw, scratch)) return raw;
  // Decompression costs CPU on every read; only pay it for a real saving
  // (at least 1/8 of the block).
  if (scratch->size() > raw.size() - raw.size() / 8) return raw;
  *type = requested;
  return Slice(*scratch);
}

Status WriteStoredBlock(WritableFile* file, const Slice& stored, CompressionType type, uint64_t* offset,
                        BlockHandle* handle) {
  handle->offset = *offset;
  handle->size = stored.size();
  char trailer[kBlockTrailerSize];
  trailer[0] = static_cast<char>(type);
  EncodeFixed32(trailer + 1, BlockChecksum(stored, static_cast<uint8_t>(type)));
  Status s = file->append(stored);
  if (s.ok()) s = file->append(Slice(trailer, kBlockTrailerSize));
  if (s.ok()) *offset += stored.size() + kBlockTrailerSize;
  return s;
}

}  // namespace lightning
