// Copyright (c) Lightning authors. MIT License.
#include "util/test_comparators.h"

namespace lightning::test {

namespace {

class ReverseBytewiseComparator final : public Comparator {
 public:
  int compare(const Slice& a, const Slice& b) const override { return b.compare(a); }
  const char* name() const override { return "test.ReverseBytewise"; }
};

}  // namespace

const Comparator* ReverseBytewise() {
  static const ReverseBytewiseComparator comparator;
  return &comparator;
}

}  // namespace lightning::test
