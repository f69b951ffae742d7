// Copyright (c) Lightning authors. MIT License.
//
// The payload of a leaf or internal node (see page.h for the extent around
// it). Keys are internal keys; the prefix every key of the node shares is
// stored once:
//
//   varint32 prefix length | prefix
//   entry*                       in key order
//   fixed32 offset[count]        of each entry, from the payload start
//   fixed32 count
//
//   leaf entry      varint32 suffix length | suffix | u8 kind
//                   kind 0 (inline): varint32 value length | value
//                   kind 1 (blob):   varint64 page | varint64 epoch |
//                                    varint64 value length | varint32 pages
//   internal entry  varint32 suffix length | suffix | varint64 child page |
//                   varint64 child epoch
//
// An internal node's entry i points at the child holding keys in
// [key(i), key(i+1)); entry 0's key is empty and means "from the node's own
// lower bound" (its separator in the parent), so it never takes part in the
// prefix and is never compared.
#ifndef LIGHTNING_BTREE_NODE_H_
#define LIGHTNING_BTREE_NODE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "btree/page.h"
#include "lightning/comparator.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "util/coding.h"

namespace lightning {
namespace btree {

// A large value stored in an extent of its own.
struct BlobRef {
  PageRef ref;
  uint64_t size = 0;
  uint32_t pages = 0;
};

// Builds one node payload; reusable after clear().
class NodeBuilder {
 public:
  explicit NodeBuilder(bool leaf) : leaf_(leaf) {}
  void clear();
  void add_inline(const Slice& key, const Slice& value);
  void add_blob(const Slice& key, const BlobRef& blob);
  void add_child(const Slice& key, PageRef child);  // the first key is ignored
  size_t count() const { return keys_.size(); }
  // The exact size finish() will produce.
  size_t encoded_size() const;
  // Size if one more entry with a key of key_size and body_size more bytes
  // were added (the shared prefix may shrink: first/last bound it).
  size_t encoded_size_with(const Slice& key, size_t body_size) const;
  std::string finish() const;
  const std::string& key(size_t i) const { return keys_[i]; }

 private:
  size_t prefix_with(const Slice& key) const;
  static size_t entry_overhead(size_t suffix_len, size_t body_size);

  const bool leaf_;
  std::vector<std::string> keys_;
  std::vector<std::string> bodies_;  // everything after the suffix, encoded
  size_t prefix_ = 0;                // of keys_[first_compared..]
  size_t full_bytes_ = 0;            // sum of body sizes + key sizes
};

// Reads a node payload in place (the payload must outlive the reader).
class NodeReader {
 public:
  // Corruption if the layout is inconsistent.
  Status init(const Slice& payload, bool leaf);
  uint32_t count() const { return count_; }
  // Key of entry i (prefix + suffix) into *scratch; returns it.
  Slice key(uint32_t i, std::string* scratch) const;
  // The prefix every compared key of the node starts with.
  Slice prefix() const { return prefix_; }
  // Leaf: the value (inline) or *blob (is_blob). Internal: the child.
  Status leaf_value(uint32_t i, Slice* value, BlobRef* blob, bool* is_blob) const;
  // Leaf: entry i's key suffix (its key is prefix() + suffix) and value, in
  // one decoding (what leaf_value() and key() together do).
  Status leaf_entry(uint32_t i, Slice* suffix, Slice* value, BlobRef* blob, bool* is_blob) const;
  // Leaf, the scans' fast path: entry i's suffix and inline value with the
  // same checks as leaf_entry(); false if the entry is a blob or damaged
  // (leaf_entry() then says which).
  bool inline_leaf_entry(uint32_t i, Slice* suffix, Slice* value) const;
  Status child(uint32_t i, PageRef* child) const;
  // Leaf: the first entry with key >= target (count() if none).
  uint32_t lower_bound(const Comparator& cmp, const Slice& target, std::string* scratch) const;
  // Internal: the child whose range holds target (the last i with
  // key(i) <= target, 0 when none is).
  uint32_t find_child(const Comparator& cmp, const Slice& target, std::string* scratch) const;
  // lower_bound() and find_child() for nodes of internal keys ordered by
  // InternalKeyComparator over BytewiseComparator(), comparing each probed
  // key where it lies (prefix and suffix) instead of assembling it. target
  // must be an internal key (at least 8 bytes). A damaged or malformed
  // entry compares below every key: the search still ends within the node,
  // and reading the entry reports the damage.
  uint32_t lower_bound_bytewise(const Slice& target) const;
  uint32_t find_child_bytewise(const Slice& target) const;

 private:
  // The bytewise order of the prefix against target's user key, as it
  // decides for every key whose user key holds the whole prefix: nonzero
  // when they differ, 0 when the prefix begins target's user key.
  int prefix_order_bytewise(const Slice& target) const;
  // The bytewise internal-key order of entry i's key against target, given
  // prefix_order_bytewise(target).
  int compare_bytewise(uint32_t i, const Slice& target, int prefix_order) const;
  Status entry(uint32_t i, Slice* suffix, const char** body) const;

  Slice payload_;
  Slice prefix_;
  const char* offsets_ = nullptr;
  uint32_t count_ = 0;
  size_t entries_begin_ = 0;
  size_t entries_end_ = 0;
};

inline bool NodeReader::inline_leaf_entry(uint32_t i, Slice* suffix, Slice* value) const {
  const uint32_t off = DecodeFixed32(offsets_ + 4 * i);
  if (off < entries_begin_ || off >= entries_end_) return false;
  const char* limit = payload_.data() + entries_end_;
  uint32_t n = 0;
  const char* p = GetVarint32Ptr(payload_.data() + off, limit, &n);
  if (p == nullptr || n > static_cast<size_t>(limit - p)) return false;
  *suffix = Slice(p, n);
  p += n;
  if (p >= limit || *p != 0) return false;  // truncated, or not an inline value
  p = GetVarint32Ptr(p + 1, limit, &n);
  if (p == nullptr || n > static_cast<size_t>(limit - p)) return false;
  *value = Slice(p, n);
  return true;
}

}  // namespace btree
}  // namespace lightning

#endif  // LIGHTNING_BTREE_NODE_H_
