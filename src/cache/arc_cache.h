// Copyright (c) Lightning authors. MIT License.
//
// ARC: the Adaptive Replacement Cache of Megiddo & Modha ("ARC: A Self-Tuning,
// Low Overhead Replacement Cache", FAST 2003), sharded, with byte charges.
//
// Each shard runs its own ARC instance over a capacity c (bytes):
//   T1  resident entries seen once recently (MRU end = newest)
//   T2  resident entries seen at least twice
//   B1  ghosts (key + remembered charge, no value) recently evicted from T1
//   B2  ghosts recently evicted from T2
//   p   the adaptive target size of T1, 0 <= p <= c
// A lookup hit in T1 or T2 moves the entry to the MRU end of T2. An insert of
// a key that is a ghost in B1 (B2) is a "ghost hit": p grows (shrinks) and
// the entry is admitted straight into T2. Any other new key enters T1.
// REPLACE frees room by demoting the LRU entry of T1 to B1 when |T1| > p (or
// |T1| >= p on a B2 ghost hit), else the LRU entry of T2 to B2. The result is
// scan resistance: a one-pass scan only ever churns T1 and B1, so a working
// set that has been hit twice survives it.
//
// Generalisation to byte charges. The paper counts pages; here every size is
// a byte sum of charges, consistently:
//   |T1|, |T2|        bytes of resident entries on each list;
//   |B1|, |B2|        bytes each ghost was charged when it was resident (a
//                     ghost remembers its charge, so history is measured in
//                     the same unit as the cache it describes);
//   p, c              bytes.
// On a ghost hit for a key whose remembered charge is g the adaptation step
// is the paper's with delta = g (one "page" of that key's size):
//   B1 hit: p = min(c, p + g * max(|B2| / |B1|, 1))
//   B2 hit: p = max(0, p - g * max(|B1| / |B2|, 1))
// Bounds, re-established by every insert() of an entry of charge s before
// the entry is linked in:
//   |T1| + |T2|               <= c   (REPLACE runs until resident + s <= c)
//   |T1| + |B1|               <= c   (a new key drops B1's LRU ghosts, then,
//                                     if B1 is empty, T1's LRU entries
//                                     outright: the paper's case IV.A)
//   |T1| + |T2| + |B1| + |B2| <= 2c  (drops B2's, then B1's, LRU ghosts)
// With unit charges all of this reduces exactly to the paper's algorithm.
//
// Where this differs from the paper, because a cache is not a pager:
//  * lookup() and insert() are separate calls. A lookup that finds only a
//    ghost is a miss and changes nothing; the ghost hit is taken by the
//    insert() that follows it (that is when the paper "fetches" the page).
//  * insert() of a key that is resident replaces the value but keeps the key
//    on the list it was on (moved to its MRU end): two threads that both
//    missed on a block and both insert it must not look like a re-reference,
//    or every racing scan would be promoted into T2.
//  * A charge of 0 is accounted as 1 byte, so that the number of entries and
//    ghosts stays bounded. total_charge() reports accounted charges.
//  * An entry whose charge exceeds the shard's capacity (and every entry of
//    a capacity-0 cache) is not cached: insert() still returns a handle, and
//    the value is deleted when that handle is released.
//  * Pinned entries (handles outstanding) are evicted like any other: the
//    key leaves T1/T2 (and becomes a ghost as usual) but the value stays
//    alive, and its charge stays in total_charge(), until the last handle is
//    released; only then does the deleter run. The same holds for a value
//    replaced by insert() or dropped by erase(). Detached pinned charge
//    counts against capacity, so resident entries make way for it.
//  * erase() also forgets the key's ghost; prune() drops every unpinned
//    resident entry and both ghost lists (pinned resident entries stay). p is
//    kept: it is what the shard has learnt about the workload.
//
// Memory: values are charged as the caller says. The cache's own overhead,
// not charged, is one node (~80 bytes + key) per resident entry and per
// ghost; a shard's ghosts remember at most 2c - |T1| - |T2| bytes of charge
// (so about c once the shard is full).
// Demoting an entry to a ghost allocates the ghost node under the shard
// mutex (the evicted node itself is freed after the mutex is dropped).
//
// Sharding: keys are spread over 2^num_shard_bits shards by the high bits of
// Hash64(key); each shard has its own mutex, hash table and ARC state, and
// capacity / num_shards bytes. Every operation takes exactly one shard mutex
// (stats(), total_charge() and prune() take them one at a time).
//
// Deleters run with no cache mutex held, on whichever thread dropped the last
// reference (release, insert, erase, prune or the destructor), so a slow
// deleter never stalls other users of its shard, and a deleter may itself
// call into the cache.
//
// Lifetime: every handle must be released before the cache is destroyed.
// Thread-safety: all Cache methods may be called concurrently.
#ifndef LIGHTNING_CACHE_ARC_CACHE_H_
#define LIGHTNING_CACHE_ARC_CACHE_H_

#include <cstddef>
#include <memory>
#include <vector>

#include "cache/cache.h"
#include "lightning/slice.h"

namespace lightning {

// A new ARC cache of capacity_bytes. num_shard_bits < 0 chooses the shard
// count automatically: the largest power of two up to 64 that leaves every
// shard at least 512 KiB (so small caches get one shard). Larger explicit
// values are clamped to 16.
std::unique_ptr<Cache> NewArcCache(size_t capacity_bytes, int num_shard_bits = -1);

// ---------------------------------------------------------------------------
// Introspection for tests. Not for production code paths: each call locks
// every shard and walks every list.

// Snapshot of one shard's ARC state. All sizes are accounted bytes.
struct ArcCacheDebugInfo {
  size_t capacity = 0;       // c
  size_t p = 0;              // target size of T1
  size_t t1 = 0, t2 = 0;     // resident bytes
  size_t b1 = 0, b2 = 0;     // ghost bytes (remembered charges)
  size_t t1_count = 0, t2_count = 0, b1_count = 0, b2_count = 0;
  size_t detached = 0;       // bytes of evicted/replaced/erased but pinned values
  size_t usage = 0;          // t1 + t2 + detached (this shard's total_charge)
  // True iff walking the lists and the hash table reproduces every counter
  // above and every node sits on the list its state names.
  bool consistent = false;
};

// One entry per shard, in shard order; empty if cache is not an ARC cache.
std::vector<ArcCacheDebugInfo> GetArcCacheDebugInfo(const Cache& cache);

// Which list key is on, without counting a hit or changing recency.
enum class ArcList { kNone, kT1, kT2, kB1, kB2 };
ArcList ArcCacheLocate(const Cache& cache, const Slice& key);

}  // namespace lightning

#endif  // LIGHTNING_CACHE_ARC_CACHE_H_
