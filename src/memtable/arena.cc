// Copyright (c) Lightning authors. MIT License.
#include "memtable/arena.h"

#include <algorithm>
#include <cstdint>

namespace lightning {

static_assert((Arena::kAlignment & (Arena::kAlignment - 1)) == 0, "arena alignment must be a power of two");
static_assert(alignof(void*) <= Arena::kAlignment && alignof(uint64_t) <= Arena::kAlignment,
              "arena alignment too weak for skiplist nodes");
// Fresh blocks come from operator new[], whose result is aligned for any
// fundamental type; allocate_aligned() relies on that for the block start.
static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= Arena::kAlignment, "operator new alignment too weak");

Arena::Arena(size_t block_size) : block_size_(std::clamp(block_size, kMinBlockSize, kMaxBlockSize)) {}

Arena::~Arena() = default;

char* Arena::allocate_aligned(size_t bytes) {
  assert(bytes > 0);
  const size_t misalignment = reinterpret_cast<uintptr_t>(alloc_ptr_) & (kAlignment - 1);
  const size_t slop = misalignment == 0 ? 0 : kAlignment - misalignment;
  const size_t needed = bytes + slop;
  char* result;
  if (bytes > 0 && needed <= alloc_bytes_remaining_) {
    result = alloc_ptr_ + slop;
    alloc_ptr_ += needed;
    alloc_bytes_remaining_ -= needed;
  } else {
    // Both fallback paths start at the beginning of a fresh block.
    result = allocate_fallback(bytes);
  }
  assert((reinterpret_cast<uintptr_t>(result) & (kAlignment - 1)) == 0);
  return result;
}

char* Arena::allocate_fallback(size_t bytes) {
  if (bytes == 0) bytes = 1;  // release-build safety net for the asserted precondition
  if (bytes > block_size_ / 4) {
    // A big request gets a block of its own; keeping the current block means
    // the small allocations that follow still fill it up.
    return allocate_new_block(bytes);
  }
  // Abandon the rest of the current block (at most a quarter block, since any
  // request that gets here fits in a quarter block but not in the remainder).
  alloc_ptr_ = allocate_new_block(block_size_);
  alloc_bytes_remaining_ = block_size_;
  char* result = alloc_ptr_;
  alloc_ptr_ += bytes;
  alloc_bytes_remaining_ -= bytes;
  return result;
}

char* Arena::allocate_new_block(size_t block_bytes) {
  // Plain new[] (not make_unique) so the block is not zero-filled: every byte
  // is written by its user before it is read.
  blocks_.push_back(std::unique_ptr<char[]>(new char[block_bytes]));
  memory_usage_.fetch_add(block_bytes + sizeof(std::unique_ptr<char[]>), std::memory_order_relaxed);
  return blocks_.back().get();
}

}  // namespace lightning
