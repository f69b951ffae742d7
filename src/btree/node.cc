// Copyright (c) Lightning authors. MIT License.
#include "btree/node.h"

#include <algorithm>
#include <cstring>

#include "util/coding.h"
#include "util/small_bytes.h"

namespace lightning {
namespace btree {

namespace {

size_t CommonPrefix(const Slice& a, const Slice& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

Status Bad(const char* what) { return Status::Corruption("tree node", what); }

}  // namespace

void NodeBuilder::clear() {
  keys_.clear();
  bodies_.clear();
  prefix_ = 0;
  full_bytes_ = 0;
}

size_t NodeBuilder::prefix_with(const Slice& key) const {
  // Internal nodes never compare key 0, so it does not bound the prefix.
  const size_t first = leaf_ ? 0 : 1;
  if (keys_.size() <= first) return key.size();
  return std::min(prefix_, CommonPrefix(keys_[first], key));
}

void NodeBuilder::add_inline(const Slice& key, const Slice& value) {
  std::string body;
  body.push_back(0);
  PutVarint32(&body, static_cast<uint32_t>(value.size()));
  body.append(value.data(), value.size());
  prefix_ = prefix_with(key);
  full_bytes_ += key.size() + body.size() + VarintLength(key.size());
  keys_.emplace_back(key.data(), key.size());
  bodies_.push_back(std::move(body));
}

void NodeBuilder::add_blob(const Slice& key, const BlobRef& blob) {
  std::string body;
  body.push_back(1);
  PutVarint64(&body, blob.ref.page);
  PutVarint64(&body, blob.ref.epoch);
  PutVarint64(&body, blob.size);
  PutVarint32(&body, blob.pages);
  prefix_ = prefix_with(key);
  full_bytes_ += key.size() + body.size() + VarintLength(key.size());
  keys_.emplace_back(key.data(), key.size());
  bodies_.push_back(std::move(body));
}

void NodeBuilder::add_child(const Slice& key, PageRef child) {
  std::string body;
  PutVarint64(&body, child.page);
  PutVarint64(&body, child.epoch);
  const Slice k = keys_.empty() ? Slice() : key;
  if (!keys_.empty()) prefix_ = prefix_with(k);
  full_bytes_ += k.size() + body.size() + VarintLength(k.size());
  keys_.emplace_back(k.data(), k.size());
  bodies_.push_back(std::move(body));
}

size_t NodeBuilder::encoded_size() const {
  const size_t compared = keys_.size() - (leaf_ || keys_.empty() ? 0 : 1);
  const size_t p = compared == 0 ? 0 : prefix_;
  return VarintLength(p) + p + full_bytes_ - compared * p + 4 * keys_.size() + 4;
}

size_t NodeBuilder::encoded_size_with(const Slice& key, size_t body_size) const {
  const bool counts = leaf_ || !keys_.empty();
  const size_t compared = keys_.size() - (leaf_ || keys_.empty() ? 0 : 1) + (counts ? 1 : 0);
  const size_t p = compared == 0 ? 0 : (counts ? prefix_with(key) : prefix_);
  const size_t k = counts ? key.size() : 0;
  return VarintLength(p) + p + full_bytes_ + k + body_size + VarintLength(k) - compared * p + 4 * (keys_.size() + 1) +
         4;
}

std::string NodeBuilder::finish() const {
  const size_t compared = keys_.size() - (leaf_ || keys_.empty() ? 0 : 1);
  const size_t p = compared == 0 ? 0 : prefix_;
  std::string out;
  out.reserve(encoded_size());
  PutVarint32(&out, static_cast<uint32_t>(p));
  const size_t first = leaf_ ? 0 : 1;
  if (p > 0) out.append(keys_[first].data(), p);
  std::vector<uint32_t> offsets;
  offsets.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    offsets.push_back(static_cast<uint32_t>(out.size()));
    const std::string& k = keys_[i];
    const size_t skip = (i < first) ? 0 : p;
    PutVarint32(&out, static_cast<uint32_t>(k.size() - skip));
    out.append(k.data() + skip, k.size() - skip);
    out.append(bodies_[i]);
  }
  for (uint32_t off : offsets) PutFixed32(&out, off);
  PutFixed32(&out, static_cast<uint32_t>(keys_.size()));
  return out;
}

Status NodeReader::init(const Slice& payload, bool leaf) {
  payload_ = payload;
  if (payload.size() < 5) return Bad("too short");
  count_ = DecodeFixed32(payload.data() + payload.size() - 4);
  if (count_ == 0 || count_ > payload.size() / 4) return Bad("bad entry count");
  if (!leaf && count_ < 1) return Bad("internal node without children");
  entries_end_ = payload.size() - 4 - size_t{4} * count_;
  offsets_ = payload.data() + entries_end_;
  uint32_t plen = 0;
  const char* p = GetVarint32Ptr(payload.data(), payload.data() + entries_end_, &plen);
  if (p == nullptr || plen > static_cast<size_t>(payload.data() + entries_end_ - p)) return Bad("bad prefix");
  prefix_ = Slice(p, plen);
  // Entry offsets are checked when an entry is read (entry()), not all here:
  // a lookup touches log2(count) of them.
  entries_begin_ = static_cast<size_t>(p + plen - payload.data());
  return Status::OK();
}

Status NodeReader::entry(uint32_t i, Slice* suffix, const char** body) const {
  const uint32_t off = DecodeFixed32(offsets_ + 4 * i);
  if (off < entries_begin_ || off >= entries_end_) return Bad("bad entry offset");
  const char* limit = payload_.data() + entries_end_;
  uint32_t n = 0;
  const char* p = GetVarint32Ptr(payload_.data() + off, limit, &n);
  if (p == nullptr || n > static_cast<size_t>(limit - p)) return Bad("bad key length");
  *suffix = Slice(p, n);
  *body = p + n;
  return Status::OK();
}

Slice NodeReader::key(uint32_t i, std::string* scratch) const {
  Slice suffix;
  const char* body = nullptr;  // set by entry() when it succeeds
  if (!entry(i, &suffix, &body).ok()) {
    scratch->clear();
    return Slice();
  }
  // Two memcpys into the reused buffer (no general string replace/append).
  const size_t n = prefix_.size() + suffix.size();
  if (scratch->size() != n) scratch->resize(n);
  char* out = &(*scratch)[0];
  if (!prefix_.empty()) std::memcpy(out, prefix_.data(), prefix_.size());
  if (!suffix.empty()) std::memcpy(out + prefix_.size(), suffix.data(), suffix.size());
  return Slice(*scratch);
}

Status NodeReader::leaf_value(uint32_t i, Slice* value, BlobRef* blob, bool* is_blob) const {
  Slice suffix;
  return leaf_entry(i, &suffix, value, blob, is_blob);
}

Status NodeReader::leaf_entry(uint32_t i, Slice* suffix, Slice* value, BlobRef* blob, bool* is_blob) const {
  const char* body = nullptr;  // set by entry() when it succeeds
  Status s = entry(i, suffix, &body);
  if (!s.ok()) return s;
  const char* limit = payload_.data() + entries_end_;
  if (body >= limit) return Bad("truncated leaf entry");
  const char kind = *body++;
  if (kind == 0) {
    uint32_t n = 0;
    body = GetVarint32Ptr(body, limit, &n);
    if (body == nullptr || n > static_cast<size_t>(limit - body)) return Bad("bad value length");
    *value = Slice(body, n);
    *is_blob = false;
    return Status::OK();
  }
  if (kind != 1) return Bad("unknown value kind");
  uint64_t page = 0, epoch = 0, size = 0;
  uint32_t pages = 0;
  body = GetVarint64Ptr(body, limit, &page);
  if (body != nullptr) body = GetVarint64Ptr(body, limit, &epoch);
  if (body != nullptr) body = GetVarint64Ptr(body, limit, &size);
  if (body != nullptr) body = GetVarint32Ptr(body, limit, &pages);
  if (body == nullptr || page < 2 || pages == 0) return Bad("bad blob reference");
  blob->ref = PageRef{page, epoch};
  blob->size = size;
  blob->pages = pages;
  *is_blob = true;
  return Status::OK();
}

Status NodeReader::child(uint32_t i, PageRef* child) const {
  Slice suffix;
  const char* body = nullptr;  // set by entry() when it succeeds
  Status s = entry(i, &suffix, &body);
  if (!s.ok()) return s;
  const char* limit = payload_.data() + entries_end_;
  body = GetVarint64Ptr(body, limit, &child->page);
  if (body != nullptr) body = GetVarint64Ptr(body, limit, &child->epoch);
  if (body == nullptr || child->page < 2) return Bad("bad child reference");
  return Status::OK();
}

uint32_t NodeReader::lower_bound(const Comparator& cmp, const Slice& target, std::string* scratch) const {
  uint32_t lo = 0, hi = count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (cmp.compare(key(mid, scratch), target) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

uint32_t NodeReader::find_child(const Comparator& cmp, const Slice& target, std::string* scratch) const {
  // The first i >= 1 with key(i) > target, minus one.
  uint32_t lo = 1, hi = count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (cmp.compare(key(mid, scratch), target) <= 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo - 1;
}

int NodeReader::prefix_order_bytewise(const Slice& target) const {
  const size_t user_size = target.size() - 8;
  const size_t n = std::min(prefix_.size(), user_size);
  const int r = CompareSmallBytes(prefix_.data(), n, target.data(), n);
  if (r != 0) return r;
  // Equal so far: a prefix longer than target's user key makes every key
  // that holds all of it (as its user key's start) greater.
  return prefix_.size() > user_size ? 1 : 0;
}

int NodeReader::compare_bytewise(uint32_t i, const Slice& target, int prefix_order) const {
  // entry(), without building a Status for the common case.
  const uint32_t off = DecodeFixed32(offsets_ + 4 * i);
  if (off < entries_begin_ || off >= entries_end_) return -1;
  const char* limit = payload_.data() + entries_end_;
  uint32_t n = 0;
  const char* suffix = GetVarint32Ptr(payload_.data() + off, limit, &n);
  if (suffix == nullptr || n > static_cast<size_t>(limit - suffix)) return -1;
  const size_t prefix_size = prefix_.size();
  const uint64_t target_tag = DecodeFixed64(target.data() + target.size() - 8);
  uint64_t tag;
  if (n >= 8) {
    // The common case: the whole prefix is in the user key, whose order
    // against target's then rests on prefix_order, or on the suffix.
    if (prefix_order != 0) return prefix_order;
    const size_t rest = target.size() - 8 - prefix_size;  // prefix_order == 0: the prefix fits
    // Both user-key parts are followed by their 8-byte tags.
    const int r = ComparePaddedBytes(suffix, n - 8, target.data() + prefix_size, rest);
    if (r != 0) return r;
    tag = DecodeFixed64(suffix + n - 8);
  } else {
    // Part of the tag is in the prefix (a node of one user key's versions),
    // or the key is malformed (shorter than a tag).
    const size_t size = prefix_size + n;
    if (size < 8) return -1;
    const size_t user_size = size - 8;
    const int r = CompareSmallBytes(prefix_.data(), user_size, target.data(), target.size() - 8);
    if (r != 0) return r;
    char buf[8];
    const size_t head = prefix_size - user_size;  // tag bytes in the prefix
    std::memcpy(buf, prefix_.data() + user_size, head);
    std::memcpy(buf + head, suffix, 8 - head);
    tag = DecodeFixed64(buf);
  }
  return tag > target_tag ? -1 : (tag < target_tag ? 1 : 0);  // newer (larger tag) first
}

uint32_t NodeReader::lower_bound_bytewise(const Slice& target) const {
  const int prefix_order = prefix_order_bytewise(target);
  uint32_t lo = 0, hi = count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (compare_bytewise(mid, target, prefix_order) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

uint32_t NodeReader::find_child_bytewise(const Slice& target) const {
  const int prefix_order = prefix_order_bytewise(target);
  uint32_t lo = 1, hi = count_;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    if (compare_bytewise(mid, target, prefix_order) <= 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo - 1;
}

}  // namespace btree
}  // namespace lightning
