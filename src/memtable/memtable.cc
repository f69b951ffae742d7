// Copyright (c) Lightning authors. MIT License.
#include "memtable/memtable.h"

#include <cassert>
#include <cstring>
#include <limits>
#include <utility>

#include "util/coding.h"
#include "util/hash.h"

namespace lightning {
namespace {

// Entries and lookup keys start with varint32(len); the varint always
// terminates within the entry, so the 5-byte limit is never overrun.
Slice decode_length_prefixed(const char* p) {
  uint32_t len = 0;
  const char* q = GetVarint32Ptr(p, p + 5, &len);
  assert(q != nullptr);
  return Slice(q, len);
}

}  // namespace

int MemTable::KeyComparator::operator()(const char* a, const char* b) const {
  return comparator.compare(decode_length_prefixed(a), decode_length_prefixed(b));
}

MemTable::MemTable(const InternalKeyComparator& cmp, size_t filter_bytes)
    : comparator_(cmp),
      filter_lines_(filter_bytes / kFilterLineBytes),
      filter_(filter_lines_ > 0 ? new std::atomic<uint64_t>[filter_lines_ * kFilterLineWords]() : nullptr),
      table_(comparator_, &arena_) {}

void MemTable::filter_position(const Slice& user_key, size_t* line, uint32_t* probe) const {
  const uint64_t h = Hash64(user_key, 0x6d656d74626c6f6full);  // "memtbloo"
  // The high half picks the line (multiply-shift range reduction), the low
  // half the bits within it.
  *line = static_cast<size_t>(((h >> 32) * static_cast<uint64_t>(filter_lines_)) >> 32);
  *probe = static_cast<uint32_t>(h);
}

void MemTable::filter_add(const Slice& user_key) {
  size_t line;
  uint32_t h;
  filter_position(user_key, &line, &h);
  std::atomic<uint64_t>* words = &filter_[line * kFilterLineWords];
  const uint32_t delta = (h >> 17) | (h << 15);
  for (int i = 0; i < kFilterProbes; i++) {
    const uint32_t bit = h & (kFilterLineBytes * 8 - 1);
    // Relaxed is enough: a reader that must see this key is ordered after
    // the add() by whatever told it the write happened (the sequence
    // number's release/acquire), and the skiplist insert that follows
    // publishes with release.
    words[bit / 64].fetch_or(uint64_t{1} << (bit % 64), std::memory_order_relaxed);
    h += delta;
  }
}

bool MemTable::filter_may_contain(const Slice& user_key) const {
  size_t line;
  uint32_t h;
  filter_position(user_key, &line, &h);
  const std::atomic<uint64_t>* words = &filter_[line * kFilterLineWords];
  const uint32_t delta = (h >> 17) | (h << 15);
  for (int i = 0; i < kFilterProbes; i++) {
    const uint32_t bit = h & (kFilterLineBytes * 8 - 1);
    if ((words[bit / 64].load(std::memory_order_relaxed) & (uint64_t{1} << (bit % 64))) == 0) return false;
    h += delta;
  }
  return true;
}

MemTable::~MemTable() = default;

void MemTable::add(SequenceNumber seq, ValueType type, const Slice& user_key, const Slice& value) {
  assert(seq <= kMaxSequenceNumber);
  assert(type == kTypeValue || type == kTypeDeletion);
  const size_t internal_key_size = user_key.size() + 8;
  const size_t value_size = value.size();
  assert(internal_key_size <= std::numeric_limits<uint32_t>::max());
  assert(value_size <= std::numeric_limits<uint32_t>::max());
  const size_t encoded_len = static_cast<size_t>(VarintLength(internal_key_size)) + internal_key_size +
                             static_cast<size_t>(VarintLength(value_size)) + value_size;
  char* const buf = arena_.allocate(encoded_len);
  char* p = EncodeVarint32(buf, static_cast<uint32_t>(internal_key_size));
  if (!user_key.empty()) std::memcpy(p, user_key.data(), user_key.size());
  p += user_key.size();
  EncodeFixed64(p, PackSequenceAndType(seq, type));
  p += 8;
  p = EncodeVarint32(p, static_cast<uint32_t>(value_size));
  if (value_size > 0) std::memcpy(p, value.data(), value_size);
  assert(p + value_size == buf + encoded_len);
  if (filter_lines_ > 0) filter_add(user_key);
  // The entry bytes are written before insert() publishes the node with a
  // release store, so readers never see a half-written entry.
  table_.insert(buf);
  num_entries_.fetch_add(1, std::memory_order_relaxed);
}

bool MemTable::get(const LookupKey& key, std::string* value, Status* s) const {
  if (filter_lines_ > 0 && !filter_may_contain(key.user_key())) return false;
  Table::Iterator iter(&table_);
  // The lookup tag carries the highest type at the lookup sequence, so the
  // first entry >= it is the newest version of the key visible at that
  // sequence, if the key has one.
  iter.seek(key.memtable_key().data());
  if (!iter.valid()) return false;

  const Slice internal_key = decode_length_prefixed(iter.key());
  // Only the user key decides identity: the entry found may be a later key.
  if (comparator_.comparator.user_comparator()->compare(ExtractUserKey(internal_key), key.user_key()) != 0) {
    return false;
  }
  const uint64_t tag = ExtractTag(internal_key);
  switch (static_cast<ValueType>(tag & 0xff)) {
    case kTypeValue: {
      const Slice v = decode_length_prefixed(internal_key.data() + internal_key.size());
      value->assign(v.data(), v.size());
      *s = Status::OK();
      return true;
    }
    case kTypeDeletion:
      *s = Status::NotFound(Slice());
      return true;
  }
  // add() only stores the two types above.
  assert(false);
  return false;
}

// Adapts the skiplist iterator to InternalIterator: entries are decoded into
// (internal key, value) and internal-key targets are re-encoded with the
// length prefix the skiplist compares on.
class MemTable::Iterator final : public InternalIterator {
 public:
  Iterator(const MemTable* mem, std::shared_ptr<const MemTable> pin)
      : pin_(std::move(pin)), iter_(&mem->table_) {}

  bool valid() const override { return iter_.valid(); }
  void seek_to_first() override { iter_.seek_to_first(); }
  void seek_to_last() override { iter_.seek_to_last(); }
  void seek(const Slice& target) override { iter_.seek(encode_target(target)); }
  void seek_for_prev(const Slice& target) override { iter_.seek_for_prev(encode_target(target)); }
  void next() override { iter_.next(); }
  void prev() override { iter_.prev(); }
  Slice key() const override { return decode_length_prefixed(iter_.key()); }
  Slice value() const override {
    const Slice k = key();
    return decode_length_prefixed(k.data() + k.size());
  }
  Status status() const override { return Status::OK(); }

 private:
  const char* encode_target(const Slice& target) {
    assert(target.size() >= 8);
    scratch_.clear();
    PutVarint32(&scratch_, static_cast<uint32_t>(target.size()));
    scratch_.append(target.data(), target.size());
    return scratch_.data();
  }

  // Declared first so it is destroyed last: the skiplist iterator points into
  // the memtable this keeps alive.
  const std::shared_ptr<const MemTable> pin_;
  Table::Iterator iter_;
  std::string scratch_;  // the last seek target; only used during the seek
};

std::unique_ptr<InternalIterator> MemTable::new_iterator() const {
  // Empty when the memtable is not owned by a shared_ptr; see the header.
  return std::make_unique<Iterator>(this, weak_from_this().lock());
}

}  // namespace lightning
