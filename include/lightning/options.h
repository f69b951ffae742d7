// Copyright (c) Lightning authors. MIT License.
//
// Options: how a database is opened (the seed's LightningDbConfig). Every field
// here changes behaviour; none is accepted and silently ignored.
//
// ReadOptions / WriteOptions: per-call settings.
//
// Thread-safety: plain values. Lifetime: pointers held by Options (env,
// comparator, prefix_extractor) must outlive the Database opened with them.
#ifndef LIGHTNING_OPTIONS_H_
#define LIGHTNING_OPTIONS_H_

#include <cstddef>
#include <cstdint>

namespace lightning {

class Comparator;
class Env;
class PrefixExtractor;
class Snapshot;

// Block/page compression codecs. The numbers are stored on disk and match the
// seed's compression_type (1 = Zstd, 2 = LZ4, 3 = Snappy).
enum class CompressionType : uint8_t {
  kNone = 0,
  kZstd = 1,
  kLz4 = 2,
  kSnappy = 3,
};

// Limits on what a single write may carry. Beyond them: InvalidArgument.
inline constexpr size_t kMaxKeySize = 4096;                  // bytes; empty keys are rejected too
inline constexpr size_t kMaxValueSize = 64u * 1024 * 1024;   // bytes; empty values are fine
inline constexpr size_t kMaxBatchSize = 1024u * 1024 * 1024;  // encoded bytes of one write batch

// When commits reach stable storage. Whatever the mode, the log is written in
// commit order and every record is checksummed, so a crash never leaves a torn
// or reordered record visible: recovery yields a prefix of the commits.
enum class WalSyncMode {
  // Every commit is fsynced before it returns: survives process crash and
  // power loss. Concurrent commits share one fsync (group commit).
  kFull,
  // Every commit is handed to the OS (write(2)) before it returns, and the log
  // is fsynced every wal_sync_interval_ms: survives a process crash; a power
  // loss may lose up to that interval of commits.
  kNormal,
  // Commits are buffered in the process and written out when the buffer fills
  // or every wal_sync_interval_ms, never fsynced except on close: fastest; a
  // process crash may lose the buffered commits (a prefix survives).
  kOff,
};

// What recovery does with a damaged write-ahead log. A torn tail (a record cut
// short by a crash, with nothing valid after it) is always dropped: it was
// never acknowledged as synced. The modes differ on damage *before* the tail.
enum class WalRecoveryMode {
  // Refuse to open with Corruption, naming the file and offset. Nothing is
  // changed on disk; reopen with a lenient mode to salvage.
  kStrict,
  // Recover every commit before the first damaged record and drop the rest.
  // The dropped bytes are preserved under <db>/lost/ for forensics.
  kPointInTime,
  // Skip damaged records and keep going (later commits survive, the damaged
  // ones are lost). The damaged log is preserved under <db>/lost/.
  kSkipCorrupted,
};

struct Options {
  // The OS interface; nullptr means Env::Default() (POSIX). Pass
  // NewMemoryEnv() for a purely in-memory database.
  Env* env = nullptr;

  // The order of keys; nullptr means BytewiseComparator(). Stored by name: a
  // database refuses to open with a differently named comparator.
  const Comparator* comparator = nullptr;

  // open(): create the database if the directory holds none.
  bool create_if_missing = true;
  // open(): fail with InvalidArgument if a database already exists.
  bool error_if_exists = false;

  WalSyncMode wal_sync_mode = WalSyncMode::kNormal;
  // Background fsync period of kNormal, and flush period of kOff.
  uint32_t wal_sync_interval_ms = 1000;
  WalRecoveryMode wal_recovery_mode = WalRecoveryMode::kStrict;
  // Bytes of zeros kept written ahead of the write-ahead log's records (topped
  // up by this much whenever a record would pass them), so that a synced
  // commit overwrites space the log file already has: the fsync then flushes
  // data only, without a filesystem journal commit for a growing file, which
  // makes synced writes several times faster on ext4/xfs. The zeros cost disk
  // space only while the log is live, and are cut off when it is closed;
  // recovery reads them as the end of the log. 0: plain appends. <= 256 MiB.
  uint32_t wal_prefill_bytes = 1u << 20;

  // Optional: groups keys by prefix so that Database::scan_prefix can skip
  // SSTables by their bloom filters (prefix_extractor.h). nullptr: filters
  // hold whole keys only.
  const PrefixExtractor* prefix_extractor = nullptr;

  // ---- LSM tier (docs/ARCHITECTURE.md, "The SSTable tier")

  // Bytes of memtable memory at which the memtable becomes immutable and is
  // written to a level-0 SSTable by a background thread, while writes go on
  // into a fresh memtable. >= 64 KiB.
  size_t memtable_size = 64u << 20;
  // Immutable memtables that may wait for their flush before writers stop
  // and wait for one to finish (>= 1).
  int max_immutable_memtables = 2;
  // Level-0 tables that start a compaction into level 1.
  int level0_file_num_compaction_trigger = 4;
  // Level-0 tables at which each write is delayed, by 1 ms per table above
  // this count, so that a burst degrades latency gradually...
  int level0_slowdown_writes_trigger = 20;
  // ...and at which writes wait until compaction brings the count back down.
  // Requires trigger <= slowdown <= stop.
  int level0_stop_writes_trigger = 36;
  // Background threads running compactions (>= 1). Flushes have a thread of
  // their own, so they never queue behind a long compaction.
  int max_background_compactions = 2;
  // Target size of the SSTables compaction writes (>= 64 KiB). A table is cut
  // only between user keys, so all versions of a key stay in one table.
  uint64_t target_file_size = 64u << 20;
  // Level sizes follow the B+Tree under them: level 6 may hold
  // max(max_bytes_for_level_base, tree bytes / level_size_multiplier), each
  // level above a multiplier-th of the one below, down to the first level
  // whose target would fall under max_bytes_for_level_base (level 0 compacts
  // into that one). What exceeds level 6's target merges into the tree. The
  // default keeps the SSTable levels a small buffer in front of the tree.
  uint64_t max_bytes_for_level_base = 64u << 20;
  int level_size_multiplier = 10;

  // ---- SSTable format

  // Uncompressed bytes per data block (1 KiB .. 4 MiB).
  size_t block_size = 4096;
  // Bloom filter bits per key; 0 writes no filters. 10 bits: ~1% false
  // positives.
  int bloom_bits_per_key = 10;
  // Codec for SSTable blocks (the seed's compression_type; kNone is the
  // seed's compression_enabled = false). A block is stored raw when the codec
  // saves less than 12.5%.
  CompressionType compression = CompressionType::kLz4;

  // ---- B+Tree (the bottom level)

  // Page size of a new database's tree file: a power of two, 4 KiB .. 64
  // KiB. An existing database keeps the page size it was created with. Leaf
  // pages are compressed with `compression` when that saves space.
  uint32_t page_size = 4096;
  // Reads of the tree go through a read-only memory map of its file, this
  // long to begin with (address space, not memory); it is replaced by one
  // twice as long when the file outgrows it. 0: read with pread instead.
  uint64_t mmap_size = uint64_t{1} << 30;

  // ---- Memory

  // The engine's own memory (memtables, the block/page cache, and the
  // indexes and bloom filters of open SSTables) in bytes; 0: no overall
  // budget, each part is sized by its own option. Works from 10 MiB (and is
  // accepted from 4 MiB). When set, it overrides memtable_size (budget / 8),
  // max_immutable_memtables (1), cache_size (budget / 2) and caps
  // target_file_size at budget / 16 and max_bytes_for_level_base at budget; open SSTables are limited by the memory
  // they hold (budget / 4) instead of by max_open_files. stats().memory_usage
  // reports the total. Tree pages read through the memory map live in the OS
  // page cache, which the kernel manages; they are not the engine's memory.
  uint64_t memory_budget = 0;

  // ---- Transactions

  // Transactions (begin_transaction) that may be active at once (>= 1); one
  // more is refused with Busy.
  int max_active_transactions = 1000;

  // ---- Caches

  // Bytes of decompressed SSTable blocks and tree pages kept in memory (one
  // ARC cache). Uncompressed tree pages read through the memory map are used
  // in place, not cached (the OS page cache holds them); compressed ones are
  // cached decompressed, and without mmap pages are cached as read. 0
  // disables caching.
  size_t cache_size = 64u << 20;
  // SSTables kept open (file descriptor, index and bloom filter in memory).
  // >= 16.
  int max_open_files = 1000;
};

struct ReadOptions {
  // Read as of this snapshot (Database::snapshot()); nullptr: as of the
  // moment of the call (for iterators and scans: of their creation). The
  // snapshot must belong to the database read (else InvalidArgument) and be
  // kept alive by the caller for the duration of the call.
  const Snapshot* snapshot = nullptr;
};

// How durable one write is when it returns (the seed's ConsistencyLevel).
// Whatever the level, log records are written in commit order and each is
// checksummed, so a crash never leaves a torn or reordered write: recovery
// yields a prefix of the commits.
enum class ConsistencyLevel {
  // As Options::wal_sync_mode says.
  kDefault,
  // fsynced before the call returns: survives a process crash and power
  // loss. Concurrent Strong writes share one fsync (group commit).
  kStrong,
  // Handed to the OS (write(2)) before the call returns: survives a process
  // crash, not a power loss (the log is fsynced in the background every
  // wal_sync_interval_ms unless wal_sync_mode is kOff).
  kQuorum,
  // Buffered in the process and handed to the OS within
  // wal_sync_interval_ms (or when the buffer fills, or by the next Strong or
  // Quorum write): a process crash may lose the most recent Eventual writes.
  kEventual,
};

struct WriteOptions {
  // true: this write is fsynced before returning (kStrong), whatever
  // consistency and wal_sync_mode say.
  bool sync = false;
  ConsistencyLevel consistency = ConsistencyLevel::kDefault;
};

}  // namespace lightning

#endif  // LIGHTNING_OPTIONS_H_
