// Copyright (c) Lightning authors. MIT License.
//
// The B+Tree page file's on-disk unit. The file is an array of page_size
// pages; page 0 and page 1 are the two meta pages, every other page belongs
// to an extent: 1..n contiguous pages written, checksummed and freed as one.
// Nodes are one page unless a single entry (or, for an internal node, two
// separators) needs more; a blob (a large value) takes as many as it needs.
//
// Every extent starts with a 40-byte header:
//
//   0   fixed64  checksum: Hash64 (XXH3) of bytes [8, page_count*page_size)
//                of the extent, seeded with the extent's page id, so a page
//                written to the wrong place is caught like a damaged one
//   8   u8       type (PageType)
//   9   u8       compression of the payload (CompressionType)
//   10  fixed16  format version (kPageFormatVersion)
//   12  fixed32  page_count
//   16  fixed32  payload length as stored (compressed, if compressed)
//   20  fixed32  0 (reserved)
//   24  fixed64  epoch: the tree commit that wrote it. Parents record the
//                epoch of each child, and a read checks it, so a stale or
//                misdirected page is caught even with a valid checksum.
//   32  fixed64  page id of the extent's first page
//   40  payload, then zero padding to the end of the extent
//
// Extents are never modified after their commit (copy-on-write): a change
// writes new extents and a new meta page. A torn write can therefore only hit
// pages no committed meta page refers to.
#ifndef LIGHTNING_BTREE_PAGE_H_
#define LIGHTNING_BTREE_PAGE_H_

#include <cstdint>
#include <string>

#include "lightning/slice.h"
#include "lightning/status.h"
#include "util/compression.h"

namespace lightning {
namespace btree {

enum class PageType : uint8_t {
  kMeta = 1,
  kLeaf = 2,
  kInternal = 3,
  kBlob = 4,      // one large value
  kFreeList = 5,  // the free extents as of a commit
};
const char* PageTypeName(PageType type);

inline constexpr size_t kPageHeaderSize = 40;
inline constexpr uint16_t kPageFormatVersion = 1;
inline constexpr uint32_t kMinPageSize = 4096;
inline constexpr uint32_t kMaxPageSize = 65536;
// "LTNTREE1": the first payload bytes of a meta page.
inline constexpr uint64_t kTreeMagic = 0x31454552544e544cull;

// Where an extent lives and which commit wrote it. page == 0 is "none" (page
// 0 is a meta page, never an extent).
struct PageRef {
  uint64_t page = 0;
  uint64_t epoch = 0;
  bool null() const { return page == 0; }
};

struct PageHeader {
  PageType type = PageType::kLeaf;
  CompressionType compression = CompressionType::kNone;
  uint32_t page_count = 1;
  uint32_t payload_size = 0;
  uint64_t epoch = 0;
  uint64_t page = 0;
};

// Pages needed for a payload of n bytes.
inline uint32_t PagesForPayload(size_t n, uint32_t page_size) {
  return static_cast<uint32_t>((kPageHeaderSize + n + page_size - 1) / page_size);
}

// Lays out header + payload + zero padding in *out (page_count pages) and
// fills in the checksum.
void EncodeExtent(const PageHeader& header, const Slice& payload, uint32_t page_size, std::string* out);

// Parses and verifies the header of an extent whose first page is at data
// (at least page_size bytes readable). Corruption with the page id in the
// message if the header is malformed; the checksum is checked separately
// (VerifyExtent) once all page_count pages are at hand.
Status DecodePageHeader(const char* data, uint32_t page_size, uint64_t expected_page, PageHeader* header);
// Checks the checksum over the whole extent (header->page_count pages).
Status VerifyExtent(const char* data, const PageHeader& header, uint32_t page_size);

// The committed state of a tree, stored in a meta page.
struct TreeMeta {
  uint64_t epoch = 0;
  uint32_t page_size = 0;
  PageRef root;            // null for an empty tree
  uint32_t height = 0;     // 0 empty, 1 the root is a leaf
  uint64_t num_pages = 2;  // pages in use or free: the file's logical size
  PageRef free_list;       // null when nothing is free
  uint64_t free_pages = 0;
  uint64_t entries = 0;
  uint64_t leaf_pages = 0, internal_pages = 0, blob_pages = 0;
};

// A full meta page for slot (0 or 1).
void EncodeMetaPage(const TreeMeta& meta, uint64_t slot, std::string* out);
// Corruption unless data holds a valid meta page for slot.
Status DecodeMetaPage(const char* data, size_t n, uint64_t slot, TreeMeta* meta);

}  // namespace btree
}  // namespace lightning

#endif  // LIGHTNING_BTREE_PAGE_H_
