// Copyright (c) Lightning authors. MIT License.
#include "db/dbformat.h"

namespace lightning {

void AppendInternalKey(std::string* result, const ParsedInternalKey& key) {
  result->append(key.user_key.data(), key.user_key.size());
  PutFixed64(result, PackSequenceAndType(key.sequence, key.type));
}

int InternalKeyComparator::compare(const Slice& a, const Slice& b) const {
  int r = bytewise_ ? ExtractUserKey(a).compare(ExtractUserKey(b)) : user_->compare(ExtractUserKey(a), ExtractUserKey(b));
  if (r == 0) {
    const uint64_t atag = ExtractTag(a);
    const uint64_t btag = ExtractTag(b);
    if (atag > btag) r = -1;
    else if (atag < btag) r = +1;
  }
  return r;
}

void InternalKeyComparator::find_shortest_separator(std::string* start, const Slice& limit) const {
  // Shorten the user part; if it got shorter but is still greater, give it the
  // earliest possible tag so that it still sorts before every limit version.
  const Slice user_start = ExtractUserKey(*start);
  const Slice user_limit = ExtractUserKey(limit);
  std::string tmp(user_start.data(), user_start.size());
  user_->find_shortest_separator(&tmp, user_limit);
  if (tmp.size() < user_start.size() && user_->compare(user_start, tmp) < 0) {
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    start->swap(tmp);
  }
}

void InternalKeyComparator::find_short_successor(std::string* key) const {
  const Slice user_key = ExtractUserKey(*key);
  std::string tmp(user_key.data(), user_key.size());
  user_->find_short_successor(&tmp);
  if (tmp.size() < user_key.size() && user_->compare(user_key, tmp) < 0) {
    PutFixed64(&tmp, PackSequenceAndType(kMaxSequenceNumber, kValueTypeForSeek));
    key->swap(tmp);
  }
}

LookupKey::LookupKey(const Slice& user_key, SequenceNumber seq) {
  const size_t usize = user_key.size();
  const size_t needed = usize + 13;  // varint32 (<= 5) + tag (8)
  char* dst = needed <= sizeof(space_) ? space_ : new char[needed];
  start_ = dst;
  dst = EncodeVarint32(dst, static_cast<uint32_t>(usize + 8));
  kstart_ = dst;
  if (usize > 0) std::memcpy(dst, user_key.data(), usize);
  dst += usize;
  EncodeFixed64(dst, PackSequenceAndType(seq, kValueTypeForSeek));
  dst += 8;
  end_ = dst;
}

LookupKey::~LookupKey() {
  if (start_ != space_) delete[] start_;
}

}  // namespace lightning
