// Copyright (c) Lightning authors. MIT License.
//
// The internal key: every version of a user key stored anywhere (memtable,
// SSTable, B+Tree merge input) is the user key followed by an 8-byte tag,
//
//   internal_key = user_key | fixed64( sequence << 8 | type )
//
// ordered by user key ascending (user comparator), then by tag descending, so
// the newest version of a key comes first. Sequence numbers are 56 bits.
#ifndef LIGHTNING_DB_DBFORMAT_H_
#define LIGHTNING_DB_DBFORMAT_H_

#include <cstdint>
#include <string>

#include "lightning/comparator.h"
#include "lightning/slice.h"
#include "util/coding.h"

namespace lightning {

using SequenceNumber = uint64_t;

// The largest sequence number; leaves 8 bits for the type in the tag.
inline constexpr SequenceNumber kMaxSequenceNumber = (uint64_t{1} << 56) - 1;

// Stored on disk: values never change.
enum ValueType : uint8_t {
  kTypeDeletion = 0x0,
  kTypeValue = 0x1,
};
// Seeking for (key, seq) uses the highest type so that it sorts before every
// entry of that key with the same sequence number.
inline constexpr ValueType kValueTypeForSeek = kTypeValue;

inline uint64_t PackSequenceAndType(SequenceNumber seq, ValueType t) { return (seq << 8) | t; }

struct ParsedInternalKey {
  Slice user_key;
  SequenceNumber sequence = 0;
  ValueType type = kTypeValue;
};

inline size_t InternalKeyEncodingLength(const ParsedInternalKey& k) { return k.user_key.size() + 8; }

void AppendInternalKey(std::string* result, const ParsedInternalKey& key);

// Returns false if internal_key is too short or has an unknown type.
inline bool ParseInternalKey(const Slice& internal_key, ParsedInternalKey* result) {
  const size_t n = internal_key.size();
  if (n < 8) return false;
  const uint64_t tag = DecodeFixed64(internal_key.data() + n - 8);
  const uint8_t type = static_cast<uint8_t>(tag & 0xff);
  result->sequence = tag >> 8;
  result->type = static_cast<ValueType>(type);
  result->user_key = Slice(internal_key.data(), n - 8);
  return type <= static_cast<uint8_t>(kTypeValue);
}

inline Slice ExtractUserKey(const Slice& internal_key) { return Slice(internal_key.data(), internal_key.size() - 8); }
inline uint64_t ExtractTag(const Slice& internal_key) {
  return DecodeFixed64(internal_key.data() + internal_key.size() - 8);
}

// Orders internal keys: user key ascending, then tag (sequence, type) descending.
class InternalKeyComparator final : public Comparator {
 public:
  explicit InternalKeyComparator(const Comparator* user)
      : user_(user),
        bytewise_(user == BytewiseComparator()),
        name_(std::string("lightning.InternalKeyComparator:") + user->name()) {}
  int compare(const Slice& a, const Slice& b) const override;
  // Embeds the user comparator's name, so tables record which order they use.
  const char* name() const override { return name_.c_str(); }
  void find_shortest_separator(std::string* start, const Slice& limit) const override;
  void find_short_successor(std::string* key) const override;
  const Comparator* user_comparator() const { return user_; }

 private:
  const Comparator* user_;
  bool bytewise_;  // user_ is BytewiseComparator(): compared inline
  std::string name_;
};

// A key for looking up user_key as of sequence number seq in a memtable or a
// table. Encoded as varint32(internal key length) | user key | tag, so that
// memtable_key() is directly comparable with memtable entries.
class LookupKey {
 public:
  LookupKey(const Slice& user_key, SequenceNumber seq);
  ~LookupKey();
  LookupKey(const LookupKey&) = delete;
  LookupKey& operator=(const LookupKey&) = delete;

  Slice memtable_key() const { return Slice(start_, static_cast<size_t>(end_ - start_)); }
  Slice internal_key() const { return Slice(kstart_, static_cast<size_t>(end_ - kstart_)); }
  Slice user_key() const { return Slice(kstart_, static_cast<size_t>(end_ - kstart_) - 8); }

 private:
  const char* start_;
  const char* kstart_;
  const char* end_;
  char space_[200];  // avoids an allocation for short keys
};

}  // namespace lightning

#endif  // LIGHTNING_DB_DBFORMAT_H_
