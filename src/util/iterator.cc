// Copyright (c) Lightning authors. MIT License.
#include "util/iterator.h"

namespace lightning {
namespace {

class EmptyIterator final : public InternalIterator {
 public:
  explicit EmptyIterator(Status s) : status_(std::move(s)) {}
  bool valid() const override { return false; }
  void seek_to_first() override {}
  void seek_to_last() override {}
  void seek(const Slice&) override {}
  void seek_for_prev(const Slice&) override {}
  void next() override {}
  void prev() override {}
  Slice key() const override { return Slice(); }
  Slice value() const override { return Slice(); }
  Status status() const override { return status_; }

 private:
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewEmptyIterator(Status s) { return std::make_unique<EmptyIterator>(std::move(s)); }

}  // namespace lightning
