// Copyright (c) Lightning authors. MIT License.
#include "lightning/write_batch.h"

#include <algorithm>
#include <cstring>

#include "db/write_batch_internal.h"
#include "lightning/options.h"
#include "memtable/memtable.h"
#include "util/coding.h"

namespace lightning {

Status CheckKey(const Slice& key) {
  if (key.empty()) return Status::InvalidArgument("empty key", "keys must be 1 to 4096 bytes");
  if (key.size() > kMaxKeySize) {
    return Status::InvalidArgument("key too large",
                                   std::to_string(key.size()) + " bytes, the limit is " + std::to_string(kMaxKeySize));
  }
  return Status::OK();
}

Status CheckKeyValue(const Slice& key, const Slice& value) {
  Status s = CheckKey(key);
  if (s.ok() && value.size() > kMaxValueSize) {
    s = Status::InvalidArgument("value too large", std::to_string(value.size()) + " bytes, the limit is " +
                                                       std::to_string(kMaxValueSize));
  }
  return s;
}

WriteBatch::Handler::~Handler() = default;

WriteBatch::WriteBatch() { clear(); }

void WriteBatch::clear() {
  rep_.clear();
  rep_.resize(WriteBatchInternal::kHeaderSize);
}

uint32_t WriteBatch::count() const { return WriteBatchInternal::count(*this); }

namespace {

// Appends one record (tag, key, and the value unless it is null) with a
// single size change: the rep grows at least geometrically and the bytes are
// encoded in place, instead of several appends each checking capacity.
void AppendRecord(std::string* rep, char tag, const Slice& key, const Slice* value) {
  const size_t old = rep->size();
  size_t add = 1 + static_cast<size_t>(VarintLength(key.size())) + key.size();
  if (value != nullptr) add += static_cast<size_t>(VarintLength(value->size())) + value->size();
  if (rep->capacity() < old + add) rep->reserve(std::max(old + add, 2 * rep->capacity()));
  rep->resize(old + add);
  char* p = &(*rep)[old];
  *p++ = tag;
  p = EncodeVarint32(p, static_cast<uint32_t>(key.size()));
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (value != nullptr) {
    p = EncodeVarint32(p, static_cast<uint32_t>(value->size()));
    if (!value->empty()) std::memcpy(p, value->data(), value->size());
  }
}

}  // namespace

Status WriteBatch::put(const Slice& key, const Slice& value) {
  Status s = CheckKeyValue(key, value);
  if (!s.ok()) return s;
  if (rep_.size() + key.size() + value.size() + 11 > kMaxBatchSize) {
    return Status::InvalidArgument("write batch too large", "the limit is 1 GiB");
  }
  WriteBatchInternal::set_count(this, count() + 1);
  AppendRecord(&rep_, static_cast<char>(kTypeValue), key, &value);
  return Status::OK();
}

Status WriteBatch::remove(const Slice& key) {
  Status s = CheckKey(key);
  if (!s.ok()) return s;
  if (rep_.size() + key.size() + 6 > kMaxBatchSize) {
    return Status::InvalidArgument("write batch too large", "the limit is 1 GiB");
  }
  WriteBatchInternal::set_count(this, count() + 1);
  AppendRecord(&rep_, static_cast<char>(kTypeDeletion), key, nullptr);
  return Status::OK();
}

Status WriteBatch::iterate(Handler* handler) const {
  Slice input(rep_);
  if (input.size() < WriteBatchInternal::kHeaderSize) return Status::Corruption("write batch too small");
  input.remove_prefix(WriteBatchInternal::kHeaderSize);
  uint32_t found = 0;
  while (!input.empty()) {
    const char tag = input[0];
    input.remove_prefix(1);
    Slice key, value;
    switch (tag) {
      case kTypeValue:
        if (!GetLengthPrefixedSlice(&input, &key) || !GetLengthPrefixedSlice(&input, &value)) {
          return Status::Corruption("write batch: bad put record");
        }
        handler->put(key, value);
        break;
      case kTypeDeletion:
        if (!GetLengthPrefixedSlice(&input, &key)) return Status::Corruption("write batch: bad remove record");
        handler->remove(key);
        break;
      default:
        return Status::Corruption("write batch: unknown record type");
    }
    found++;
  }
  if (found != count()) return Status::Corruption("write batch: count does not match its records");
  return Status::OK();
}

uint32_t WriteBatchInternal::count(const WriteBatch& b) { return DecodeFixed32(b.rep_.data()); }
void WriteBatchInternal::set_count(WriteBatch* b, uint32_t n) { EncodeFixed32(&b->rep_[0], n); }

namespace {
// Validates structure without side effects.
class NullHandler final : public WriteBatch::Handler {
 public:
  void put(const Slice&, const Slice&) override {}
  void remove(const Slice&) override {}
};

class MemTableInserter final : public WriteBatch::Handler {
 public:
  MemTableInserter(SequenceNumber seq, MemTable* mem) : seq_(seq), mem_(mem) {}
  void put(const Slice& key, const Slice& value) override { mem_->add(seq_++, kTypeValue, key, value); }
  void remove(const Slice& key) override { mem_->add(seq_++, kTypeDeletion, key, Slice()); }

 private:
  SequenceNumber seq_;
  MemTable* mem_;
};
}  // namespace

Status WriteBatchInternal::set_contents(WriteBatch* b, const Slice& contents) {
  if (contents.size() < kHeaderSize) return Status::Corruption("write batch too small");
  b->rep_.assign(contents.data(), contents.size());
  NullHandler check;
  return b->iterate(&check);
}

void WriteBatchInternal::append(WriteBatch* dst, const WriteBatch& src) {
  set_count(dst, count(*dst) + count(src));
  dst->rep_.append(src.rep_.data() + kHeaderSize, src.rep_.size() - kHeaderSize);
}

Status WriteBatchInternal::insert_into(const WriteBatch& b, SequenceNumber first_sequence, MemTable* mem) {
  MemTableInserter inserter(first_sequence, mem);
  return b.iterate(&inserter);
}

}  // namespace lightning
