// Copyright (c) Lightning authors. MIT License.
//
// Cache: a concurrent, capacity-bounded map from byte-string keys to pinned,
// reference-counted values. The engine caches decoded SSTable blocks, B+Tree
// pages and open table files through it. The implementation is the ARC
// (adaptive replacement) cache in arc_cache.h.
//
// Ownership: insert() hands the value to the cache; the deleter runs exactly
// once, when the entry has been evicted or erased AND no handle to it remains.
// A Handle pins its entry: value() stays valid until release(handle).
// Thread-safety: every method may be called concurrently.
#ifndef LIGHTNING_CACHE_CACHE_H_
#define LIGHTNING_CACHE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "lightning/slice.h"

namespace lightning {

struct CacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t inserts = 0;
  uint64_t evictions = 0;
};

class Cache {
 public:
  struct Handle {};  // opaque
  using Deleter = void (*)(const Slice& key, void* value);

  Cache() = default;
  virtual ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Inserts key -> value with the given charge (bytes counted against
  // capacity), replacing any entry with the same key, and returns a handle
  // pinning the new entry. The caller must release() it.
  virtual Handle* insert(const Slice& key, void* value, size_t charge, Deleter deleter) = 0;

  // A pinned handle, or nullptr on a miss. Counts a hit or a miss.
  virtual Handle* lookup(const Slice& key) = 0;

  virtual void release(Handle* handle) = 0;
  virtual void* value(Handle* handle) = 0;

  // Drops key if present (its deleter runs once unpinned).
  virtual void erase(const Slice& key) = 0;

  // Drops every unpinned entry.
  virtual void prune() = 0;

  // A fresh id, for building keys of callers that share one cache.
  virtual uint64_t new_id() = 0;

  virtual size_t capacity() const = 0;
  virtual size_t total_charge() const = 0;
  virtual CacheStats stats() const = 0;
};

}  // namespace lightning

#endif  // LIGHTNING_CACHE_CACHE_H_
