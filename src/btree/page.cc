// Copyright (c) Lightning authors. MIT License.
#include "btree/page.h"

#include <cstring>

#include "util/coding.h"
#include "util/hash.h"

namespace lightning {
namespace btree {

const char* PageTypeName(PageType type) {
  switch (type) {
    case PageType::kMeta:
      return "meta";
    case PageType::kLeaf:
      return "leaf";
    case PageType::kInternal:
      return "internal";
    case PageType::kBlob:
      return "blob";
    case PageType::kFreeList:
      return "free-list";
  }
  return "unknown";
}

namespace {

uint64_t ExtentChecksum(const char* data, size_t n, uint64_t page) { return Hash64(data + 8, n - 8, page); }

std::string PageName(uint64_t page) { return "tree page " + std::to_string(page); }

}  // namespace

void EncodeExtent(const PageHeader& header, const Slice& payload, uint32_t page_size, std::string* out) {
  const size_t n = size_t{header.page_count} * page_size;
  out->assign(n, '\0');
  char* p = &(*out)[0];
  p[8] = static_cast<char>(header.type);
  p[9] = static_cast<char>(header.compression);
  EncodeFixed16(p + 10, kPageFormatVersion);
  EncodeFixed32(p + 12, header.page_count);
  EncodeFixed32(p + 16, static_cast<uint32_t>(payload.size()));
  EncodeFixed32(p + 20, 0);
  EncodeFixed64(p + 24, header.epoch);
  EncodeFixed64(p + 32, header.page);
  std::memcpy(p + kPageHeaderSize, payload.data(), payload.size());
  EncodeFixed64(p, ExtentChecksum(p, n, header.page));
}

Status DecodePageHeader(const char* data, uint32_t page_size, uint64_t expected_page, PageHeader* h) {
  const uint8_t type = static_cast<uint8_t>(data[8]);
  const uint8_t compression = static_cast<uint8_t>(data[9]);
  const uint16_t version = DecodeFixed16(data + 10);
  h->page_count = DecodeFixed32(data + 12);
  h->payload_size = DecodeFixed32(data + 16);
  h->epoch = DecodeFixed64(data + 24);
  h->page = DecodeFixed64(data + 32);
  if (type < 1 || type > 5 || !IsKnownCompressionType(compression) || version != kPageFormatVersion ||
      h->page != expected_page || h->page_count == 0 || h->page_count > (1u << 20) ||
      kPageHeaderSize + uint64_t{h->payload_size} > uint64_t{h->page_count} * page_size) {
    return Status::Corruption(PageName(expected_page), "bad page header (damaged, or not a page of this tree)");
  }
  h->type = static_cast<PageType>(type);
  h->compression = static_cast<CompressionType>(compression);
  return Status::OK();
}

Status VerifyExtent(const char* data, const PageHeader& h, uint32_t page_size) {
  const size_t n = size_t{h.page_count} * page_size;
  if (DecodeFixed64(data) != ExtentChecksum(data, n, h.page)) {
    return Status::Corruption(PageName(h.page), "checksum mismatch");
  }
  return Status::OK();
}

void EncodeMetaPage(const TreeMeta& m, uint64_t slot, std::string* out) {
  std::string payload;
  PutFixed64(&payload, kTreeMagic);
  PutFixed32(&payload, kPageFormatVersion);
  PutFixed32(&payload, m.page_size);
  PutFixed64(&payload, m.epoch);
  PutFixed64(&payload, m.root.page);
  PutFixed64(&payload, m.root.epoch);
  PutFixed32(&payload, m.height);
  PutFixed64(&payload, m.num_pages);
  PutFixed64(&payload, m.free_list.page);
  PutFixed64(&payload, m.free_list.epoch);
  PutFixed64(&payload, m.free_pages);
  PutFixed64(&payload, m.entries);
  PutFixed64(&payload, m.leaf_pages);
  PutFixed64(&payload, m.internal_pages);
  PutFixed64(&payload, m.blob_pages);
  PageHeader h;
  h.type = PageType::kMeta;
  h.page_count = 1;
  h.epoch = m.epoch;
  h.page = slot;
  // A meta page is always the minimum page size, so that it can be read
  // before the page size is known.
  EncodeExtent(h, payload, kMinPageSize, out);
}

Status DecodeMetaPage(const char* data, size_t n, uint64_t slot, TreeMeta* m) {
  const std::string where = "tree meta page " + std::to_string(slot);
  if (n < kMinPageSize) return Status::Corruption(where, "truncated");
  PageHeader h;
  Status s = DecodePageHeader(data, kMinPageSize, slot, &h);
  if (s.ok() && (h.type != PageType::kMeta || h.page_count != 1)) s = Status::Corruption(where, "not a meta page");
  if (s.ok()) s = VerifyExtent(data, h, kMinPageSize);
  if (!s.ok()) return s;
  Slice in(data + kPageHeaderSize, h.payload_size);
  uint64_t magic = 0;
  uint32_t version = 0, height = 0;
  bool ok = GetFixed64(&in, &magic) && GetFixed32(&in, &version) && GetFixed32(&in, &m->page_size) &&
            GetFixed64(&in, &m->epoch) && GetFixed64(&in, &m->root.page) && GetFixed64(&in, &m->root.epoch) &&
            GetFixed32(&in, &height) && GetFixed64(&in, &m->num_pages) && GetFixed64(&in, &m->free_list.page) &&
            GetFixed64(&in, &m->free_list.epoch) && GetFixed64(&in, &m->free_pages) &&
            GetFixed64(&in, &m->entries) && GetFixed64(&in, &m->leaf_pages) &&
            GetFixed64(&in, &m->internal_pages) && GetFixed64(&in, &m->blob_pages);
  m->height = height;
  if (!ok || magic != kTreeMagic) return Status::Corruption(where, "not a Lightning tree meta page");
  if (version != kPageFormatVersion) {
    return Status::NotSupported(where, "tree format version " + std::to_string(version) + " (this build reads " +
                                           std::to_string(kPageFormatVersion) + ")");
  }
  if (m->epoch != h.epoch || m->page_size < kMinPageSize || m->page_size > kMaxPageSize ||
      (m->page_size & (m->page_size - 1)) != 0 || m->num_pages < 2 || m->root.page >= m->num_pages ||
      m->free_list.page >= m->num_pages || (m->root.null() != (m->height == 0)) || m->height > 64) {
    return Status::Corruption(where, "inconsistent fields");
  }
  return Status::OK();
}

}  // namespace btree
}  // namespace lightning
