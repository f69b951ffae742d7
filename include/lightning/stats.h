// Copyright (c) Lightning authors. MIT License.
//
// DatabaseStats: counters and gauges of one open database, as returned by
// Database::stats(). Counters start at zero at open; gauges describe the
// state at the moment of the call. A plain value, safe to copy anywhere.
#ifndef LIGHTNING_STATS_H_
#define LIGHTNING_STATS_H_

#include <cstdint>
#include <vector>

namespace lightning {

struct LevelStats {
  int files = 0;
  uint64_t bytes = 0;  // table file bytes
};

struct DatabaseStats {
  // ---- gauges
  std::vector<LevelStats> levels;    // one per SSTable level, level 0 first
  uint64_t memtable_bytes = 0;       // active + immutable memtables
  int immutable_memtables = 0;       // waiting for (or in) their flush
  uint64_t wal_bytes = 0;            // live write-ahead log bytes
  uint64_t block_cache_bytes = 0;    // charge held by the cache (blocks and tree pages)
  uint64_t block_cache_capacity = 0;
  // Indexes and filters of open SSTables; counted only under a memory_budget.
  uint64_t table_memory_bytes = 0;
  // memtable_bytes + block_cache_bytes + table_memory_bytes: what
  // Options::memory_budget bounds.
  uint64_t memory_usage = 0;
  // The B+Tree under the SSTable levels.
  uint32_t tree_height = 0;          // 0: empty
  uint64_t tree_entries = 0;         // versions stored (normally one per key)
  uint64_t tree_bytes = 0;           // pages in use (leaves, internal nodes, blobs)
  uint64_t tree_file_bytes = 0;      // size of the page file, free pages included
  uint64_t tree_free_bytes = 0;      // free pages awaiting reuse
  // Live snapshots (Database::snapshot()); while any is alive, compaction
  // keeps the versions it can see.
  uint64_t live_snapshots = 0;

  // ---- counters since open
  uint64_t user_bytes_written = 0;        // keys + values given to put/write
  uint64_t wal_bytes_written = 0;         // bytes appended to logs
  uint64_t flushes = 0;
  uint64_t flush_bytes_written = 0;       // table bytes written by flushes
  uint64_t compactions = 0;               // merges (trivial moves not counted)
  uint64_t trivial_moves = 0;             // tables moved down a level unchanged
  uint64_t compaction_bytes_read = 0;
  uint64_t compaction_bytes_written = 0;   // SSTable bytes written by compactions
  uint64_t tree_merges = 0;               // merges of level-6 tables into the tree
  uint64_t tree_bytes_read = 0;           // table bytes merged into the tree
  uint64_t tree_bytes_written = 0;        // page file bytes written by those merges
  uint64_t write_slowdowns = 0;           // writes delayed by level-0 backlog
  uint64_t write_stops = 0;               // times writers had to wait for background work
  uint64_t write_stall_micros = 0;        // total time writers spent delayed or waiting
  uint64_t block_cache_hits = 0;    // lookups of SSTable blocks and tree pages
  // Misses, plus first reads of tree pages verified in place through the
  // memory map (they cost a checksum, though no cache lookup).
  uint64_t block_cache_misses = 0;
  // Tree pages read in place through the memory map, verified earlier (no
  // cache lookup needed; see Options::cache_size).
  uint64_t tree_pages_read_in_place = 0;
  // SSTables a prefix scan left unread because their bloom filter excluded
  // the prefix (Options::prefix_extractor).
  uint64_t prefix_filter_skips = 0;

  // (log + flush + compaction + tree bytes written) / user bytes written; 0
  // before the first write.
  double write_amplification() const {
    if (user_bytes_written == 0) return 0;
    return static_cast<double>(wal_bytes_written + flush_bytes_written + compaction_bytes_written +
                               tree_bytes_written) /
           static_cast<double>(user_bytes_written);
  }
  // Tree bytes written per table byte merged into the tree: the write
  // amplification of that step alone; 0 before the first merge.
  double tree_write_amplification() const {
    if (tree_bytes_read == 0) return 0;
    return static_cast<double>(tree_bytes_written) / static_cast<double>(tree_bytes_read);
  }
  // Reads that needed no I/O and no checksum (cache hits and tree pages read
  // in place) per block or page read; 0 before the first read.
  double cache_hit_rate() const {
    const uint64_t hits = block_cache_hits + tree_pages_read_in_place;
    const uint64_t n = hits + block_cache_misses;
    return n == 0 ? 0 : static_cast<double>(hits) / static_cast<double>(n);
  }
};

}  // namespace lightning

#endif  // LIGHTNING_STATS_H_
