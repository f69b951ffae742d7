// Copyright (c) Lightning authors. MIT License.
//
// Write-ahead log file format (see docs/ARCHITECTURE.md, "WAL").
//
//   file   := file_header record*
//   file_header (24 bytes):
//     0  u64 magic            kWalFileMagic
//     8  u32 format_version   kWalFormatVersion
//     12 u64 log_number       must match the number in the file name
//     20 u32 checksum         low 32 bits of XXH3-64 over bytes 0..19
//   record := record_header payload
//   record_header (24 bytes):
//     0  u32 magic            kWalRecordMagic (lets recovery resynchronise)
//     4  u32 payload_length
//     8  u64 sequence         first sequence number of the batch in payload
//     16 u32 payload_checksum low 32 bits of XXH3-64 over the payload
//     20 u32 header_checksum  low 32 bits of XXH3-64 over bytes 0..19
//
// The header checksum makes payload_length trustworthy before it is used, so a
// damaged length can never make recovery skip over (and silently drop) valid
// records; the magic lets skip-corrupted recovery find the next record.
// All integers are little-endian.
#ifndef LIGHTNING_WAL_WAL_FORMAT_H_
#define LIGHTNING_WAL_WAL_FORMAT_H_

#include <cstddef>
#include <cstdint>

namespace lightning::wal {

inline constexpr uint64_t kWalFileMagic = 0x314C41574E544C00ull;  // "\0LTNWAL1" little-endian
inline constexpr uint32_t kWalFormatVersion = 1;
inline constexpr size_t kFileHeaderSize = 24;

inline constexpr uint32_t kWalRecordMagic = 0xC0DE1A7Eu;
inline constexpr size_t kRecordHeaderSize = 24;
// A record's payload is one (possibly grouped) write batch.
inline constexpr uint32_t kMaxPayloadSize = 0xFFFFFFFFu - kRecordHeaderSize;

}  // namespace lightning::wal

#endif  // LIGHTNING_WAL_WAL_FORMAT_H_
