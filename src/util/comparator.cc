// Copyright (c) Lightning authors. MIT License.
#include "lightning/comparator.h"

#include <algorithm>
#include <cstdint>

namespace lightning {

Comparator::~Comparator() = default;

void Comparator::find_shortest_separator(std::string* /*start*/, const Slice& /*limit*/) const {}
void Comparator::find_short_successor(std::string* /*key*/) const {}

namespace {

class BytewiseComparatorImpl final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override { return a.compare(b); }
  const char* name() const override { return "lightning.BytewiseComparator"; }

  void find_shortest_separator(std::string* start, const Slice& limit) const override {
    const size_t min_len = std::min(start->size(), limit.size());
    size_t diff = 0;
    while (diff < min_len && (*start)[diff] == limit[diff]) diff++;
    if (diff >= min_len) return;  // one is a prefix of the other
    const uint8_t byte = static_cast<uint8_t>((*start)[diff]);
    if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[diff])) {
      (*start)[diff] = static_cast<char>(byte + 1);
      start->resize(diff + 1);
    }
  }

  void find_short_successor(std::string* key) const override {
    for (size_t i = 0; i < key->size(); i++) {
      const uint8_t byte = static_cast<uint8_t>((*key)[i]);
      if (byte != 0xff) {
        (*key)[i] = static_cast<char>(byte + 1);
        key->resize(i + 1);
        return;
      }
    }
    // All 0xff: no shorter successor exists.
  }
};

}  // namespace

const Comparator* BytewiseComparator() {
  static const BytewiseComparatorImpl* const kInstance = new BytewiseComparatorImpl();
  return kInstance;
}

}  // namespace lightning
