// Copyright (c) Lightning authors. MIT License.
//
// Arena: a bump allocator for memtable entries and skiplist nodes. Memory is
// carved out of fixed-size blocks and is only returned, all at once, when the
// Arena is destroyed. That matches the memtable's life cycle (entries are
// never deleted individually) and keeps per-entry overhead at zero.
//
// Block size: 16 KiB by default (configurable in [4 KiB, 64 KiB]). A request
// larger than a quarter block gets its own dedicated block, so the tail wasted
// when a block is abandoned is at most a quarter block, and a typical block
// packs dozens to hundreds of entries. 16 KiB keeps entries with values up to
// 4 KiB (the common case for KV workloads) out of the general-purpose
// allocator, while the granularity of memory_usage() -- which drives the
// memtable flush decision -- stays negligible next to a multi-MiB write
// buffer. Blocks also stay well under glibc's mmap threshold (128 KiB), so
// they are served from the heap rather than one mmap syscall each.
//
// Thread-safety: allocate() and allocate_aligned() need external
// synchronisation (the memtable's single writer). memory_usage() may be called
// from any thread at any time, concurrently with the writer.
// Lifetime: every pointer handed out stays valid until the Arena is destroyed.
#ifndef LIGHTNING_MEMTABLE_ARENA_H_
#define LIGHTNING_MEMTABLE_ARENA_H_

#include <atomic>
#include <cassert>
#include <cstddef>
#include <memory>
#include <vector>

namespace lightning {

class Arena {
 public:
  static constexpr size_t kMinBlockSize = 4 * 1024;
  static constexpr size_t kMaxBlockSize = 64 * 1024;
  static constexpr size_t kDefaultBlockSize = 16 * 1024;
  // Alignment guaranteed by allocate_aligned(): enough for pointers, atomics
  // of pointers and 64-bit integers, which is all the skiplist nodes hold.
  static constexpr size_t kAlignment = 8;

  // block_size is clamped to [kMinBlockSize, kMaxBlockSize].
  explicit Arena(size_t block_size = kDefaultBlockSize);
  ~Arena();
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // Returns bytes of uninitialised memory with no alignment guarantee.
  // REQUIRES: bytes > 0.
  char* allocate(size_t bytes);

  // Like allocate(), aligned to kAlignment.
  char* allocate_aligned(size_t bytes);

  // Bytes obtained from the system so far (blocks plus bookkeeping). Relaxed:
  // callers use it as a size estimate, never to synchronise other data.
  size_t memory_usage() const { return memory_usage_.load(std::memory_order_relaxed); }

  size_t block_size() const { return block_size_; }

 private:
  char* allocate_fallback(size_t bytes);
  char* allocate_new_block(size_t block_bytes);

  const size_t block_size_;
  char* alloc_ptr_ = nullptr;
  size_t alloc_bytes_remaining_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::atomic<size_t> memory_usage_{0};
};

inline char* Arena::allocate(size_t bytes) {
  // A zero-byte request would hand out a pointer aliasing the next allocation;
  // no caller has a use for that, so treat it as a bug.
  assert(bytes > 0);
  if (bytes <= alloc_bytes_remaining_ && bytes > 0) {
    char* result = alloc_ptr_;
    alloc_ptr_ += bytes;
    alloc_bytes_remaining_ -= bytes;
    return result;
  }
  return allocate_fallback(bytes);
}

}  // namespace lightning

#endif  // LIGHTNING_MEMTABLE_ARENA_H_
