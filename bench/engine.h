// Copyright (c) Lightning authors. MIT License.
//
// Engine: the small interface lightning_bench drives. One adapter per storage
// engine (Lightning, RocksDB, LevelDB, LMDB, and a "null" engine that measures
// the harness itself). Adapters translate the shared EngineConfig into each
// engine's own settings; bench/README.md documents the mapping so the tables
// can be judged fair or not.
//
// Thread-safety: after open() and until close(), put/get/remove/write_batch/
// sync/new_cursor may be called concurrently from any number of threads, each
// of which brackets its calls with thread_begin()/thread_end(); a Cursor is
// used by the thread that made it and destroyed before that thread's
// thread_end(). open(), close(), compact() and stats() are called from one
// thread with no other call in flight.
//
// Errors: no exceptions. Calls return false (or GetResult::kError) and fill
// *error; the harness treats every engine error as fatal for that engine.
#ifndef LIGHTNING_BENCH_ENGINE_H_
#define LIGHTNING_BENCH_ENGINE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lightning::bench {

enum class Compression { kNone, kZstd, kLz4, kSnappy };

const char* compression_name(Compression c);

// Everything an adapter needs to configure its engine. The same values go to
// every engine; an adapter that cannot honour one says so in its notes.
struct EngineConfig {
  std::string path;            // directory owned by this engine's run
  bool create_fresh = true;    // false: open an existing database (--use_existing_db)
  uint64_t num = 0;            // key-space size; LMDB sizes its map from it
  size_t key_size = 16;
  size_t value_size = 100;
  size_t cache_size = 8u << 20;        // bytes of block/page cache
  size_t write_buffer_size = 0;        // 0: engine default
  int bloom_bits = 10;                 // bits per key; 0: no filter
  Compression compression = Compression::kNone;
  int threads = 1;                     // concurrent client threads (LMDB reader slots)
  bool statistics = false;             // --statistics: RocksDB keeps its Statistics (block cache hit rate)
};

// Optional features. Workloads needing a missing one are skipped with a
// "not supported by <engine> yet" line instead of being emulated.
enum Capability : uint32_t {
  kCapWriteBatch = 1u << 0,   // atomic multi-key writes (fillbatch)
  kCapIterator = 1u << 1,     // ordered scans: new_cursor() (readseq, readreverse, seekrandom)
  kCapTransaction = 1u << 2,  // read-modify-write transactions (txnlow, txnhigh)
  // The engine stores nothing (the null engine): reads are not checked.
  kCapStoresNothing = 1u << 31,
};

enum class GetResult { kFound, kNotFound, kError };

enum class TxnResult { kCommitted, kConflict, kError };

// An ordered cursor over the live keys (kCapIterator). Each adapter wraps its
// engine's own iterator with one virtual call per operation and no copies:
// key() and value() point into the engine's buffers (or LMDB's map) and stay
// valid until the cursor moves or is destroyed. Like the engines' iterators,
// it sees the data as of its creation (or, for LMDB, of its read txn).
class Cursor {
 public:
  virtual ~Cursor() = default;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  virtual void seek(std::string_view target) = 0;  // first key >= target
  virtual void next() = 0;                         // REQUIRES: valid()
  virtual void prev() = 0;                         // REQUIRES: valid()
  virtual bool valid() const = 0;
  virtual std::string_view key() const = 0;    // REQUIRES: valid()
  virtual std::string_view value() const = 0;  // REQUIRES: valid()
  // false (and *error filled) if the cursor stopped on an error rather than
  // at the end of the data.
  virtual bool status(std::string* error) const = 0;
};

enum class CompactResult { kDone, kNotApplicable, kError };

// Engine-specific state after a workload, for the reports. Taken outside the
// measured time.
struct EngineStats {
  // Block cache lookups since open; -1 when the engine cannot tell (the
  // harness reports the workload's own hit rate from the difference).
  int64_t cache_hits = -1;
  int64_t cache_misses = -1;
  // Further figures in the engine's own terms, in print order. Values are
  // numbers or short comma-separated lists (no '=', ';', tab or newline).
  std::vector<std::pair<std::string, std::string>> extra;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Short lowercase name used in --engines and in tables: "rocksdb".
  virtual const char* name() const = 0;
  // Library version, e.g. "7.8.3".
  virtual std::string version() const = 0;
  virtual uint32_t capabilities() const = 0;

  // Human-readable lines describing the settings actually applied, including
  // any requested setting the engine cannot honour. Valid after open().
  virtual std::vector<std::string> settings() const = 0;

  // Opens (creating when config.create_fresh) the database in config.path.
  virtual bool open(const EngineConfig& config, std::string* error) = 0;
  // Closes; a later open() may follow. Must be safe after a failed open().
  virtual bool close(std::string* error) = 0;

  // Per-thread hooks, called by every worker thread before its first and
  // after its last operation (LMDB keeps a reusable read transaction there).
  virtual void thread_begin() {}
  virtual void thread_end() {}

  // sync == true: the write is durable (fsynced) before the call returns.
  virtual bool put(std::string_view key, std::string_view value, bool sync, std::string* error) = 0;
  virtual bool remove(std::string_view key, bool sync, std::string* error) = 0;
  // Fills *value (reusing its capacity) when found.
  virtual GetResult get(std::string_view key, std::string* value, std::string* error) = 0;

  // kCapWriteBatch only: writes n pairs atomically.
  virtual bool write_batch(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                           std::string* error) {
    *error = "write batches not supported";
    return false;
  }

  // kCapTransaction only: one transaction that reads keys[0..n) and then
  // writes values[i] to keys[i], isolated (at least snapshot isolation) and
  // atomic. kConflict: an optimistic engine lost a race and applied nothing;
  // the harness retries.
  virtual TxnResult read_modify_write(const std::string_view* keys, const std::string_view* values, size_t n,
                                      bool sync, std::string* error) {
    *error = "transactions not supported";
    return TxnResult::kError;
  }

  // Makes every acknowledged write durable (log fsync).
  virtual bool sync(std::string* error) = 0;

  // kCapIterator only: a cursor over the current data, unpositioned. Called
  // between thread_begin() and thread_end(); nullptr (and *error) on failure.
  virtual std::unique_ptr<Cursor> new_cursor(std::string* error) {
    *error = "iterators not supported";
    return nullptr;
  }

  // Compacts the whole key range and waits for it (the "compact" workload).
  // kNotApplicable: the engine has nothing to compact (*error says why).
  virtual CompactResult compact(std::string* error) {
    *error = "no manual compaction";
    return CompactResult::kNotApplicable;
  }

  // See EngineStats. Cheap; called after every workload.
  virtual EngineStats stats() { return {}; }
};

// Factories. Peers exist only when found at configure time.
std::unique_ptr<Engine> new_null_engine();
#ifdef LIGHTNING_BENCH_HAVE_LIGHTNING
std::unique_ptr<Engine> new_lightning_engine();
#endif
#ifdef LIGHTNING_BENCH_HAVE_ROCKSDB
std::unique_ptr<Engine> new_rocksdb_engine();
#endif
#ifdef LIGHTNING_BENCH_HAVE_LEVELDB
std::unique_ptr<Engine> new_leveldb_engine();
#endif
#ifdef LIGHTNING_BENCH_HAVE_LMDB
std::unique_ptr<Engine> new_lmdb_engine();
#endif

struct EngineInfo {
  const char* name;
  std::unique_ptr<Engine> (*make)();
  bool in_default_set;  // part of the default --engines list
};

// Every engine compiled into this binary, lightning first.
const std::vector<EngineInfo>& compiled_engines();

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_ENGINE_H_
