// Copyright (c) Lightning authors. MIT License.
//
// BlockBuilder: encodes sorted key/value pairs into one block.
//
// Block layout (all of it is the block's *contents*; the file adds a trailer):
//   entry*        each: varint32 shared | varint32 non_shared |
//                       varint32 value_len | key[shared..] | value
//   restart[num_restarts]   fixed32 offsets of the entries that store their
//                           whole key (shared == 0)
//   fixed32 num_restarts    >= 1; restart[0] == 0
// Every restart_interval-th entry is a restart point, so a reader can binary
// search the restarts and then scan at most restart_interval entries.
//
// Thread-safety: one thread at a time. The Slice returned by finish() points
// into the builder and is valid until reset() or destruction.
#ifndef LIGHTNING_SST_BLOCK_BUILDER_H_
#define LIGHTNING_SST_BLOCK_BUILDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lightning/slice.h"

namespace lightning {

class BlockBuilder {
 public:
  // restart_interval < 1 is treated as 1.
  explicit BlockBuilder(int restart_interval = 16);

  BlockBuilder(const BlockBuilder&) = delete;
  BlockBuilder& operator=(const BlockBuilder&) = delete;

  // REQUIRES: finish() not called since the last reset(); key is greater
  // than every key added before (the caller enforces the order). Keys and
  // values must each be shorter than 4 GiB.
  void add(const Slice& key, const Slice& value);

  // Appends the restart array and returns the complete block contents.
  Slice finish();

  // Makes the builder empty again, keeping its buffers' capacity.
  void reset();

  // The size of the block finish() would return now (or has returned).
  size_t current_size_estimate() const {
    return finished_ ? buffer_.size() : buffer_.size() + (restarts_.size() + 1) * sizeof(uint32_t);
  }
  size_t num_entries() const { return num_entries_; }
  bool empty() const { return num_entries_ == 0; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;  // entries since the last restart point
  size_t num_entries_ = 0;
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace lightning

#endif  // LIGHTNING_SST_BLOCK_BUILDER_H_
