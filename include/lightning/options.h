// Copyright (c) Lightning authors. MIT License.
//
// Options: how a database is opened (the seed's LightningDbConfig). Every field
// here changes behaviour; none is accepted and silently ignored.
//
// ReadOptions / WriteOptions: per-call settings.
//
// Thread-safety: plain values. Lifetime: pointers held by Options (env,
// comparator) must outlive the Database opened with them.
#ifndef LIGHTNING_OPTIONS_H_
#define LIGHTNING_OPTIONS_H_

#include <cstddef>
#include <cstdint>

namespace lightning {

class Comparator;
class Env;

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
};

struct ReadOptions {
  // Reserved for snapshots (issue: reading). Reads see the latest commit.
};

struct WriteOptions {
  // true: this write is fsynced before returning, whatever wal_sync_mode says.
  bool sync = false;
};

}  // namespace lightning

#endif  // LIGHTNING_OPTIONS_H_
