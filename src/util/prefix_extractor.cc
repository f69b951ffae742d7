// Copyright (c) Lightning authors. MIT License.
#include "lightning/prefix_extractor.h"

#include <string>

namespace lightning {

PrefixExtractor::~PrefixExtractor() = default;

namespace {

class FixedPrefixExtractor final : public PrefixExtractor {
 public:
  explicit FixedPrefixExtractor(size_t length)
      : length_(length), name_("lightning.FixedPrefix." + std::to_string(length)) {}
  const char* name() const override { return name_.c_str(); }
  bool in_domain(const Slice& key) const override { return key.size() >= length_; }
  Slice transform(const Slice& key) const override { return Slice(key.data(), length_); }

 private:
  const size_t length_;
  const std::string name_;
};

}  // namespace

std::unique_ptr<PrefixExtractor> NewFixedPrefixExtractor(size_t length) {
  return std::make_unique<FixedPrefixExtractor>(length);
}

}  // namespace lightning
