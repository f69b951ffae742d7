// Copyright (c) Lightning authors. MIT License.
//
// Block: the decoded (uncompressed) contents of one block written by
// BlockBuilder, and iterators over it.
//
// Robustness: a Block may be built from arbitrary bytes (e.g. read with
// checksums off). The restart array is validated on construction and every
// entry is bounds-checked as it is decoded; a malformed block yields
// iterators that stop with Corruption instead of reading out of bounds.
// Key order inside the block is trusted (checksums protect it on disk).
//
// Thread-safety: a Block is immutable after construction; any number of
// threads may create and use their own iterators concurrently.
// Lifetime: an iterator references the Block (and the comparator); both must
// outlive it.
#ifndef LIGHTNING_SST_BLOCK_H_
#define LIGHTNING_SST_BLOCK_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "lightning/comparator.h"
#include "lightning/status.h"
#include "util/iterator.h"

namespace lightning {

class Block {
 public:
  // Takes the block contents.
  explicit Block(std::string contents);
  // A view of size bytes at data, not copied: the caller keeps them alive
  // and unchanged for as long as the Block and its iterators live (e.g. a
  // verified block inside a table's memory map).
  Block(const char* data, size_t size);

  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

  // Bytes held (for cache charging).
  size_t size() const { return size_; }

  // OK, or Corruption if the restart array is malformed (then every
  // iterator is empty and reports this status).
  const Status& status() const { return status_; }

  // An iterator ordered by cmp, which must be the order the block was
  // written in.
  std::unique_ptr<InternalIterator> new_iterator(const Comparator* cmp) const;

 private:
  class Iter;

  // Validates the restart array of [data_, data_ + size_).
  void init();

  std::string contents_;  // empty for a view
  const char* data_;      // the block's bytes: contents_ or the viewed memory
  size_t size_;
  size_t data_size_ = 0;  // bytes of entries; the restart array starts here
  uint32_t num_restarts_ = 0;
  Status status_;
};

}  // namespace lightning

#endif  // LIGHTNING_SST_BLOCK_H_
