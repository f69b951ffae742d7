// Copyright (c) Lightning authors. MIT License.
//
// The workloads. Every engine sees the same operations in the same order:
// keys and values come from keys.h, random choices from generators seeded by
// (--seed, the workload's position in --benchmarks, thread number).
//
// Correctness first: the runner tracks which keys should exist (one byte per
// key) and fails the engine's run if a read misses a key that was written, finds
// one that was never written or was deleted, or returns a value that is not
// exactly what was written (size and stamp on every read, the full bytes on
// one read in 16).
//
// Speed: nothing is allocated in the measured loops. Keys are formatted into
// a per-thread buffer, values assembled in a per-thread scratch buffer, reads
// land in a reused std::string. Each operation costs the harness one clock
// read and one histogram increment; the null engine measures the total.
// Full scans (readseq, readreverse) read the clock per entry only with
// --histogram=1, as db_bench does.
//
// Scans are checked too: every entry must be a stored key's format, in order,
// with the right value, and (when the harness knows the contents) live, with
// no live key skipped between two entries or before the end.
#include "runner.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "histogram.h"
#include "keys.h"
#include "report.h"

namespace lightning::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Presence states of a key, as the harness believes.
constexpr uint8_t kAbsent = 0;
constexpr uint8_t kPresent = 1;
constexpr uint8_t kWriting = 2;  // a put is in flight: either answer is right

struct ThreadStats {
  Histogram hist;
  uint64_t ops = 0;
  uint64_t found = 0;
  uint64_t not_found = 0;
  uint64_t bytes = 0;
  uint64_t entries = 0;  // entries read by scans
  uint64_t max_write_ns = 0;
  uint64_t writes = 0;  // writes among ops (readrandomwriterandom)
  double seconds = 0;
};

// A worker thread's private tools.
struct ThreadContext {
  ThreadContext(size_t key_size, const std::string* value_source, size_t value_size, uint64_t seed)
      : keys(key_size), values(value_source, value_size), rnd(seed) {}
  KeyFormatter keys;
  ValueGenerator values;
  Random rnd;
  std::string read_value;
  std::string error;
};

enum class Kind {
  kFillSeq,
  kFillRandom,
  kFillSync,
  kFillBatch,
  kFill100K,
  kOverwrite,
  kDeleteRandom,
  kReadRandom,
  kReadMissing,
  kReadHot,
  kReadRandom100K,
  kReadWhileWriting,
  kReadRandomWriteRandom,
  kReadSeq,
  kReadReverse,
  kSeekRandom,
  kCompact,
  kTxnLow,
  kTxnHigh,
};

Kind kind_of(const std::string& name) {
  if (name == "fillseq") return Kind::kFillSeq;
  if (name == "fillrandom") return Kind::kFillRandom;
  if (name == "fillsync") return Kind::kFillSync;
  if (name == "fillbatch") return Kind::kFillBatch;
  if (name == "fill100K") return Kind::kFill100K;
  if (name == "readrandom100K") return Kind::kReadRandom100K;
  if (name == "readrandomwriterandom") return Kind::kReadRandomWriteRandom;
  if (name == "overwrite") return Kind::kOverwrite;
  if (name == "deleterandom") return Kind::kDeleteRandom;
  if (name == "readrandom") return Kind::kReadRandom;
  if (name == "readmissing") return Kind::kReadMissing;
  if (name == "readhot") return Kind::kReadHot;
  if (name == "readseq") return Kind::kReadSeq;
  if (name == "readreverse") return Kind::kReadReverse;
  if (name == "seekrandom") return Kind::kSeekRandom;
  if (name == "compact") return Kind::kCompact;
  if (name == "txnlow") return Kind::kTxnLow;
  if (name == "txnhigh") return Kind::kTxnHigh;
  return Kind::kReadWhileWriting;
}

bool is_scan(Kind k) { return k == Kind::kReadSeq || k == Kind::kReadReverse || k == Kind::kSeekRandom; }

bool is_fill(Kind k) {
  return k == Kind::kFillSeq || k == Kind::kFillRandom || k == Kind::kFillSync || k == Kind::kFillBatch ||
         k == Kind::kFill100K;
}
bool is_txn(Kind k) { return k == Kind::kTxnLow || k == Kind::kTxnHigh; }
bool is_write(Kind k) {
  return is_fill(k) || k == Kind::kOverwrite || k == Kind::kDeleteRandom || is_txn(k) ||
         k == Kind::kReadRandomWriteRandom;
}

// fill100K (db_bench's name): num/1000 entries of 100 KB values, reported in MB/s.
constexpr size_t kLargeValueSize = 100 * 1024;
constexpr uint64_t kLargeValueDivisor = 1000;
// fillsync: num/1000 synced writes, as db_bench.
constexpr uint64_t kSyncDivisor = 1000;
// readrandom100K: reads/100 gets of the 100 KB values.
constexpr uint64_t kLargeReadDivisor = 100;
// txnlow / txnhigh: reads/10 transactions.
constexpr uint64_t kTxnDivisor = 10;

// [begin, end) of thread t's share of `total` operations.
void share(uint64_t total, int threads, int t, uint64_t* begin, uint64_t* end) {
  *begin = total * static_cast<uint64_t>(t) / static_cast<uint64_t>(threads);
  *end = total * static_cast<uint64_t>(t + 1) / static_cast<uint64_t>(threads);
}

// *used: per file, the smaller of its size and its allocated blocks, so that
// neither holes in a sparse file nor space fallocate()d ahead of the data
// (RocksDB preallocates its WAL) count as data. *allocated: what du reports.
void disk_usage(const std::string& dir, int64_t* used, int64_t* allocated) {
  *used = 0;
  *allocated = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    struct stat st;
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      const int64_t blocks = static_cast<int64_t>(st.st_blocks) * 512;
      *allocated += blocks;
      *used += std::min<int64_t>(blocks, static_cast<int64_t>(st.st_size));
    }
  }
}

class EngineRun {
 public:
  EngineRun(const Flags& flags, std::unique_ptr<Engine> engine, std::string dir, int result_fd, int command_fd)
      : flags_(flags),
        engine_(std::move(engine)),
        dir_(std::move(dir)),
        result_fd_(result_fd),
        command_fd_(command_fd) {}

  int run();

 private:
  bool open_db(bool fresh);
  bool close_db();
  void fail(const std::string& message);
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  uint64_t workload_seed(size_t ordinal) const { return mix64(flags_.seed ^ mix64(ordinal + 1)); }
  std::unique_ptr<ThreadContext> make_context(uint64_t seed) const {
    return std::make_unique<ThreadContext>(flags_.key_size, &value_source_, db_value_size_, seed);
  }
  // A fill decides the database's shape: its key space and value size (both
  // from the flags, except fill100K's). Rebuilds the value source on change.
  void set_shape(uint64_t num, size_t value_size);

  // Runs body(t, stats) on n threads released together; returns wall seconds.
  template <typename Body>
  double run_threads(int n, std::vector<ThreadStats>* stats, Body body);

  // The measured loop: op(i) for i in [0, count), each timed; is_write(i)
  // says whether op i was a write (for the longest write).
  template <typename IsWrite, typename Op>
  void timed_loop_mixed(ThreadStats* st, uint64_t count, IsWrite is_write, Op op);
  template <typename Op>
  void timed_loop(ThreadStats* st, uint64_t count, bool write, Op op) {
    timed_loop_mixed(st, count, [write](uint64_t) { return write; }, op);
  }

  bool read_one(ThreadContext* c, ThreadStats* st, uint64_t index, std::string_view key, bool missing, bool full);
  bool write_one(ThreadContext* c, ThreadStats* st, uint64_t index, uint32_t epoch, bool sync, bool concurrent);

  // Scans. key_index: the index of a key a cursor returned (fails the run if
  // it is not a stored key's format or is outside the key space).
  bool key_index(std::string_view key, uint64_t* index);
  // One scan entry at `index`, checked against *bound (forward: index >=
  // *bound, which then becomes index + 1; backward: index < *bound, which
  // then becomes index). When tracking, the key must be live and no live key
  // may lie between it and the previous entry.
  bool scan_entry(ThreadContext* c, ThreadStats* st, std::string_view key, std::string_view value, uint64_t index,
                  bool forward, uint64_t* bound, bool full);
  // When tracking: fails unless no key in [from, to) is live.
  bool check_no_live(uint64_t from, uint64_t to, const char* what);
  // Thread t of `threads`' share of a full scan (readseq / readreverse).
  void full_scan(ThreadContext* c, ThreadStats* st, int t, int threads, bool forward);
  // One seekrandom operation: a fresh cursor, a seek, up to --seek_nexts entries.
  bool seek_one(ThreadContext* c, ThreadStats* st, uint64_t op);

  // *histogram_text gets db_bench's latency block (printed with --histogram).
  WorkloadResult run_workload(size_t ordinal, const std::string& name, std::string* histogram_text);
  void send(const std::string& record);
  // Interleaved runs: blocks until the parent gives this engine its next
  // step (one byte on command_fd_). False (the run failed) if the parent
  // closed the pipe instead. Sequential runs (command_fd_ < 0): true.
  bool wait_for_turn();

  const Flags& flags_;
  std::unique_ptr<Engine> engine_;
  const std::string dir_;
  const int result_fd_;
  const int command_fd_;

  EngineConfig config_;
  std::string value_source_;
  std::unique_ptr<std::atomic<uint8_t>[]> presence_;
  bool tracking_ = false;  // presence_ is authoritative (not with --use_existing_db)
  bool open_ = false;
  bool dirty_ = false;  // written since it was created fresh
  uint32_t max_epoch_ = 0;
  // The current database's shape (see set_shape): keys [0, db_num_) with
  // values of db_value_size_ bytes. presence_ has room for --num keys.
  uint64_t db_num_ = 0;
  size_t db_value_size_ = 0;

  std::atomic<bool> failed_{false};
  std::mutex error_mu_;
  std::string error_;
};

void EngineRun::fail(const std::string& message) {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!failed_.load()) {
    error_ = message;
    failed_.store(true);
  }
}

void EngineRun::send(const std::string& record) {
  const char* p = record.data();
  size_t left = record.size();
  while (left > 0) {
    const ssize_t n = ::write(result_fd_, p, left);
    if (n <= 0) return;  // the parent is gone; stdout still has the lines
    p += n;
    left -= static_cast<size_t>(n);
  }
}

bool EngineRun::open_db(bool fresh) {
  std::string error;
  if (fresh) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    std::filesystem::create_directories(dir_, ec);
    if (ec) {
      fail("cannot create " + dir_ + ": " + ec.message());
      return false;
    }
    for (uint64_t i = 0; i < flags_.num; ++i) presence_[i].store(kAbsent, std::memory_order_relaxed);
    dirty_ = false;
  }
  config_.create_fresh = fresh;
  if (!engine_->open(config_, &error)) {
    fail(std::string("open failed: ") + error);
    return false;
  }
  open_ = true;
  return true;
}

bool EngineRun::close_db() {
  if (!open_) return true;
  open_ = false;
  std::string error;
  if (!engine_->close(&error)) {
    fail("close failed: " + error);
    return false;
  }
  return true;
}

template <typename Body>
double EngineRun::run_threads(int n, std::vector<ThreadStats>* stats, Body body) {
  stats->clear();
  stats->resize(static_cast<size_t>(n));
  std::mutex mu;
  std::condition_variable cv;
  int ready = 0;
  bool go = false;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n));
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      engine_->thread_begin();
      {
        std::unique_lock<std::mutex> lock(mu);
        ++ready;
        cv.notify_all();
        cv.wait(lock, [&] { return go; });
      }
      body(t, &(*stats)[static_cast<size_t>(t)]);
      engine_->thread_end();
    });
  }
  Clock::time_point start;
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return ready == n; });
    start = Clock::now();
    go = true;
  }
  cv.notify_all();
  for (std::thread& th : threads) th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void EngineRun::set_shape(uint64_t num, size_t value_size) {
  db_num_ = num;
  if (value_size != db_value_size_) {
    db_value_size_ = value_size;
    value_source_ = make_value_source(value_size, flags_.seed);
  }
}

template <typename IsWrite, typename Op>
void EngineRun::timed_loop_mixed(ThreadStats* st, uint64_t count, IsWrite is_write, Op op) {
  const Clock::time_point start = Clock::now();
  Clock::time_point prev = start;
  uint64_t done = 0;
  while (done < count && !failed()) {
    if (!op(done)) break;
    const bool write = is_write(done);
    ++done;
    // One clock read per op: the latency includes the harness's own few
    // tens of nanoseconds (key formatting, checks), which the null engine
    // shows.
    const Clock::time_point now = Clock::now();
    const uint64_t ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count());
    prev = now;
    st->hist.add(ns);
    if (write && ns > st->max_write_ns) st->max_write_ns = ns;
  }
  st->ops += done;
  st->seconds += std::chrono::duration<double>(prev - start).count();
}

bool EngineRun::read_one(ThreadContext* c, ThreadStats* st, uint64_t index, std::string_view key, bool missing,
                         bool full) {
  const uint8_t before = tracking_ && !missing ? presence_[index].load(std::memory_order_relaxed) : kAbsent;
  const GetResult r = engine_->get(key, &c->read_value, &c->error);
  if (r == GetResult::kError) {
    fail("get(" + std::string(key) + ") failed: " + c->error);
    return false;
  }
  if (r == GetResult::kFound) {
    ++st->found;
    st->bytes += key.size() + c->read_value.size();
    if (missing) {
      fail("get(" + std::string(key) + ") found a key that was never written");
      return false;
    }
    const ValueGenerator::Check check = c->values.check(index, c->read_value, max_epoch_, full);
    if (check != ValueGenerator::Check::kOk) {
      fail("get(" + std::string(key) + ") returned wrong data: " + ValueGenerator::check_name(check) + " (" +
           std::to_string(c->read_value.size()) + " bytes)");
      return false;
    }
    // Re-read the state: a concurrent writer may have added the key.
    if (tracking_ && before == kAbsent && presence_[index].load(std::memory_order_relaxed) == kAbsent) {
      fail("get(" + std::string(key) + ") found a key that was never written or was deleted");
      return false;
    }
  } else {
    ++st->not_found;
    if (tracking_ && before == kPresent) {
      fail("get(" + std::string(key) + ") did not find a key that was written (lost write)");
      return false;
    }
  }
  return true;
}

bool EngineRun::write_one(ThreadContext* c, ThreadStats* st, uint64_t index, uint32_t epoch, bool sync,
                          bool concurrent) {
  const std::string_view key = c->keys.key(index);
  const std::string_view value = c->values.value(index, epoch);
  // With concurrent readers, flag the put of an absent key as in flight
  // first so a reader that sees the new key is not mistaken. An overwrite of
  // a live key keeps it live throughout (no concurrent workload deletes), so
  // readers must keep finding it.
  if (concurrent && presence_[index].load(std::memory_order_relaxed) != kPresent) {
    presence_[index].store(kWriting, std::memory_order_relaxed);
  }
  if (!engine_->put(key, value, sync, &c->error)) {
    fail("put(" + std::string(key) + ") failed: " + c->error);
    return false;
  }
  presence_[index].store(kPresent, std::memory_order_relaxed);
  st->bytes += key.size() + value.size();
  return true;
}

bool EngineRun::key_index(std::string_view key, uint64_t* index) {
  if (!KeyFormatter::parse(key, flags_.key_size, index)) {
    fail("scan returned a key that was never written: '" + std::string(key) + "'");
    return false;
  }
  if (*index >= db_num_) {
    fail("scan returned key " + std::string(key) + ", outside the key space [0, " + std::to_string(db_num_) + ")" +
         (flags_.use_existing_db ? " (was the database made with another --num?)" : ""));
    return false;
  }
  return true;
}

bool EngineRun::check_no_live(uint64_t from, uint64_t to, const char* what) {
  if (!tracking_) return true;
  for (uint64_t i = from; i < to; ++i) {
    if (presence_[i].load(std::memory_order_relaxed) == kPresent) {
      KeyFormatter keys(flags_.key_size);
      fail(std::string(what) + " skipped key " + std::string(keys.key(i)) + ", which was written (lost write)");
      return false;
    }
  }
  return true;
}

bool EngineRun::scan_entry(ThreadContext* c, ThreadStats* st, std::string_view key, std::string_view value,
                           uint64_t index, bool forward, uint64_t* bound, bool full) {
  if (forward ? index < *bound : index >= *bound) {
    fail("scan returned key " + std::string(key) + " out of order");
    return false;
  }
  if (tracking_) {
    if (presence_[index].load(std::memory_order_relaxed) != kPresent) {
      fail("scan returned key " + std::string(key) + ", which was never written or was deleted");
      return false;
    }
    if (!(forward ? check_no_live(*bound, index, "scan") : check_no_live(index + 1, *bound, "scan"))) return false;
  }
  const ValueGenerator::Check check = c->values.check(index, value, max_epoch_, full);
  if (check != ValueGenerator::Check::kOk) {
    fail("scan returned wrong data for " + std::string(key) + ": " + ValueGenerator::check_name(check) + " (" +
         std::to_string(value.size()) + " bytes)");
    return false;
  }
  ++st->entries;
  st->bytes += key.size() + value.size();
  *bound = forward ? index + 1 : index;
  return true;
}

void EngineRun::full_scan(ThreadContext* c, ThreadStats* st, int t, int threads, bool forward) {
  uint64_t begin, end;
  share(db_num_, threads, t, &begin, &end);
  if (begin == end) return;  // more threads than keys
  std::unique_ptr<Cursor> cursor = engine_->new_cursor(&c->error);
  if (!cursor) {
    fail("new_cursor failed: " + c->error);
    return;
  }
  // Several threads split the key space: each scans [begin, end).
  const bool per_entry = flags_.histogram;
  const Clock::time_point start = Clock::now();
  Clock::time_point prev = start;
  uint64_t bound = forward ? begin : end;
  if (forward) {
    if (t == 0) cursor->seek_to_first();
    else cursor->seek(c->keys.key(begin));
  } else if (t == threads - 1) {
    cursor->seek_to_last();
  } else {
    cursor->seek(c->keys.key(end));
    if (cursor->valid()) cursor->prev();
    else cursor->seek_to_last();
  }
  uint64_t n = 0;
  bool reached_end = true;  // stopped at the end of the data or of the range (not on a failure)
  while (cursor->valid()) {
    const std::string_view key = cursor->key();
    uint64_t index;
    if (!key_index(key, &index)) {
      reached_end = false;
      break;
    }
    if (forward ? index >= end : index < begin) break;
    if (!scan_entry(c, st, key, cursor->value(), index, forward, &bound, (n & 15) == 0)) {
      reached_end = false;
      break;
    }
    ++n;
    if (forward) cursor->next();
    else cursor->prev();
    if (per_entry) {
      const Clock::time_point now = Clock::now();
      st->hist.add(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count()));
      prev = now;
    }
  }
  const Clock::time_point stop = per_entry ? prev : Clock::now();
  st->ops += n;
  st->found += n;
  st->seconds += std::chrono::duration<double>(stop - start).count();
  if (!reached_end) return;
  if (!cursor->status(&c->error)) {
    fail(std::string(forward ? "readseq" : "readreverse") + " iterator error: " + c->error);
    return;
  }
  // Nothing live may follow the last entry (precede it, backwards).
  if (forward) check_no_live(bound, end, "readseq");
  else check_no_live(begin, bound, "readreverse");
}

bool EngineRun::seek_one(ThreadContext* c, ThreadStats* st, uint64_t op) {
  const uint64_t index = c->rnd.uniform(db_num_);
  const std::string_view target = c->keys.key(index);
  // A fresh cursor per seek, as db_bench's seekrandom: it sees the latest data.
  std::unique_ptr<Cursor> cursor = engine_->new_cursor(&c->error);
  if (!cursor) {
    fail("new_cursor failed: " + c->error);
    return false;
  }
  cursor->seek(target);
  if (cursor->valid() && cursor->key() == target) {
    ++st->found;
  } else {
    ++st->not_found;
    if (tracking_ && presence_[index].load(std::memory_order_relaxed) == kPresent) {
      fail("seek(" + std::string(target) + ") did not find a key that was written (lost write)");
      return false;
    }
  }
  // db_bench's loop: read an entry, step; --seek_nexts times.
  uint64_t bound = index;
  for (uint64_t j = 0; j < flags_.seek_nexts && cursor->valid(); ++j) {
    const std::string_view key = cursor->key();
    uint64_t key_idx;
    if (!key_index(key, &key_idx)) return false;
    if (!scan_entry(c, st, key, cursor->value(), key_idx, true, &bound, j == 0 && (op & 15) == 0)) return false;
    cursor->next();
  }
  if (!cursor->status(&c->error)) {
    fail("seek(" + std::string(c->keys.key(index)) + ") iterator error: " + c->error);
    return false;
  }
  // At the end of the data: nothing live may follow.
  if (!cursor->valid()) return check_no_live(bound, db_num_, "seekrandom");
  return true;
}

WorkloadResult EngineRun::run_workload(size_t ordinal, const std::string& name, std::string* histogram_text) {
  WorkloadResult result;
  result.name = name;
  WorkloadEntry entry;
  std::string entry_error;
  if (!parse_workload_entry(name, &entry, &entry_error)) {  // parse_flags checked it already
    fail(entry_error);
    return result;
  }
  const Kind kind = kind_of(entry.name);
  const int threads = entry.threads > 0 ? entry.threads : flags_.threads;
  result.threads = static_cast<uint64_t>(threads);
  const uint32_t caps = engine_->capabilities();

  if (kind == Kind::kFillBatch && (caps & kCapWriteBatch) == 0) {
    result.skipped = true;
    result.message = std::string("not supported by ") + engine_->name() +
                     " yet (needs write batches); the database is left as it was";
    return result;
  }
  if (is_txn(kind) && (caps & kCapTransaction) == 0) {
    result.skipped = true;
    result.message = std::string("not supported by ") + engine_->name() + " (no transactions)";
    return result;
  }
  if (is_scan(kind) && (caps & kCapIterator) == 0) {
    result.skipped = true;
    result.message = std::string("not supported by ") + engine_->name() + " yet (needs iterators)";
    return result;
  }
  if (is_fill(kind) && flags_.use_existing_db) {
    result.skipped = true;
    result.message = "skipped: --use_existing_db=1 keeps the existing data";
    return result;
  }
  // Fills start from an empty database, as in db_bench. The reset is not timed.
  if (is_fill(kind) && dirty_) {
    if (!close_db() || !open_db(/*fresh=*/true)) return result;
  }
  if (kind == Kind::kFill100K) {
    set_shape(std::max<uint64_t>(1, flags_.num / kLargeValueDivisor), kLargeValueSize);
  } else if (is_fill(kind)) {
    set_shape(flags_.num, flags_.value_size);
  }
  result.value_size = db_value_size_;
  if (is_write(kind) || kind == Kind::kReadWhileWriting) dirty_ = true;
  const size_t value_size = db_value_size_;

  const uint32_t epoch = static_cast<uint32_t>(ordinal + 1);
  if (!flags_.use_existing_db) max_epoch_ = std::max(max_epoch_, epoch);
  const uint64_t seed = workload_seed(ordinal);
  const uint64_t num = db_num_;
  const uint64_t reads = kind == Kind::kReadRandom100K
                             ? std::max<uint64_t>(1, flags_.effective_reads() / kLargeReadDivisor)
                             : flags_.effective_reads();
  const bool sync = flags_.sync || kind == Kind::kFillSync;
  const uint64_t hot_range = std::max<uint64_t>(1, num / 100);
  const uint64_t sync_count = std::max<uint64_t>(1, num / kSyncDivisor);
  const Permutation perm(num, seed);
  const auto fmt_seconds = [](double seconds) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "(%.3f s)", seconds);
    return std::string(buf);
  };

  std::vector<ThreadStats> stats;
  std::vector<ThreadStats> writer_stats(1);
  double wall = 0;
  result.is_write = is_write(kind);
  result.is_sync = sync && result.is_write;
  // Cache counters before the workload (after any reset), for its hit rate.
  const EngineStats stats_before = engine_->stats();

  switch (kind) {
    case Kind::kFillSeq:
    case Kind::kFillRandom:
    case Kind::kFillSync:
    case Kind::kFill100K: {
      const uint64_t total = kind == Kind::kFillSync ? sync_count : num;
      const bool sequential = kind == Kind::kFillSeq;
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(total, threads, t, &begin, &end);
        timed_loop(st, end - begin, true, [&](uint64_t i) {
          const uint64_t index = sequential ? begin + i : perm.at(begin + i);
          return write_one(c.get(), st, index, epoch, sync, false);
        });
      });
      break;
    }
    case Kind::kFillBatch: {
      const size_t batch = flags_.batch_size;
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        std::string key_buf(batch * flags_.key_size, '\0');
        std::string value_buf(batch * value_size, '\0');
        std::vector<std::string_view> keys(batch), values(batch);
        uint64_t begin, end;
        share(num, threads, t, &begin, &end);
        const uint64_t batches = (end - begin + batch - 1) / batch;
        uint64_t entries = 0;
        timed_loop(st, batches, true, [&](uint64_t b) {
          const uint64_t first = begin + b * batch;
          const size_t n = static_cast<size_t>(std::min<uint64_t>(batch, end - first));
          for (size_t k = 0; k < n; ++k) {
            char* kp = key_buf.data() + k * flags_.key_size;
            char* vp = value_buf.data() + k * value_size;
            const std::string_view key = c->keys.key(first + k);
            const std::string_view value = c->values.value(first + k, epoch);
            std::copy(key.begin(), key.end(), kp);
            std::copy(value.begin(), value.end(), vp);
            keys[k] = std::string_view(kp, key.size());
            values[k] = std::string_view(vp, value.size());
          }
          if (!engine_->write_batch(keys.data(), values.data(), n, sync, &c->error)) {
            fail("write_batch failed: " + c->error);
            return false;
          }
          for (size_t k = 0; k < n; ++k) presence_[first + k].store(kPresent, std::memory_order_relaxed);
          st->bytes += n * (flags_.key_size + value_size);
          entries += n;
          return true;
        });
        st->ops = entries;  // count entries, not batches, like db_bench
      });
      break;
    }
    case Kind::kTxnLow:
    case Kind::kTxnHigh: {
      // Each operation: one transaction reading two distinct keys and writing
      // both (a transfer), retried until it commits. Low contention: keys
      // from the whole key space; high: from the first 16 keys. reads/10
      // transactions (each is four operations, and the slowest engines run
      // ~10k per second): keeps the standard suite short.
      const uint64_t range = kind == Kind::kTxnHigh ? std::min<uint64_t>(num, 16) : num;
      const uint64_t transactions = std::max<uint64_t>(1, reads / kTxnDivisor);
      std::atomic<uint64_t> conflicts{0};
      if (range < 2) {
        fail("txnlow/txnhigh need --num >= 2");
        break;
      }
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(transactions, threads, t, &begin, &end);
        std::string key_buf(2 * flags_.key_size, '\0');
        std::string value_buf;
        timed_loop(st, end - begin, true, [&](uint64_t) {
          uint64_t index[2];
          index[0] = c->rnd.uniform(range);
          do {
            index[1] = c->rnd.uniform(range);
          } while (index[1] == index[0]);
          std::string_view keys[2], values[2];
          for (int k = 0; k < 2; ++k) {
            const std::string_view key = c->keys.key(index[k]);
            std::copy(key.begin(), key.end(), key_buf.data() + k * flags_.key_size);
            keys[k] = std::string_view(key_buf.data() + k * flags_.key_size, key.size());
          }
          value_buf.assign(c->values.value(index[0], epoch));
          values[0] = value_buf;
          values[1] = c->values.value(index[1], epoch);
          for (int attempt = 0;; ++attempt) {
            const TxnResult r = engine_->read_modify_write(keys, values, 2, sync, &c->error);
            if (r == TxnResult::kCommitted) break;
            if (r == TxnResult::kError) {
              fail("transaction failed: " + c->error);
              return false;
            }
            conflicts.fetch_add(1, std::memory_order_relaxed);
            if (attempt >= 100000) {
              fail("a transaction kept conflicting (100000 retries)");
              return false;
            }
          }
          for (int k = 0; k < 2; ++k) presence_[index[k]].store(kPresent, std::memory_order_relaxed);
          st->bytes += 2 * (flags_.key_size + value_size);
          return true;
        });
      });
      result.message = "(" + std::to_string(conflicts.load()) + " conflicts retried; 2 keys per transaction" +
                       (kind == Kind::kTxnHigh ? ", 16 hot keys)" : ")");
      break;
    }
    case Kind::kOverwrite: {
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(num, threads, t, &begin, &end);
        timed_loop(st, end - begin, true, [&](uint64_t) {
          return write_one(c.get(), st, c->rnd.uniform(num), epoch, sync, false);
        });
      });
      break;
    }
    case Kind::kDeleteRandom: {
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(num, threads, t, &begin, &end);
        timed_loop(st, end - begin, true, [&](uint64_t) {
          const uint64_t index = c->rnd.uniform(num);
          const std::string_view key = c->keys.key(index);
          if (!engine_->remove(key, sync, &c->error)) {
            fail("remove(" + std::string(key) + ") failed: " + c->error);
            return false;
          }
          presence_[index].store(kAbsent, std::memory_order_relaxed);
          return true;
        });
      });
      break;
    }
    case Kind::kReadRandomWriteRandom: {
      // db_bench's readrandomwriterandom: each thread's operations go in
      // blocks of 100, --readwritepercent reads then the rest writes
      // (overwrites of random keys; other threads read concurrently).
      const uint64_t read_percent = static_cast<uint64_t>(flags_.readwritepercent);
      const auto op_is_write = [read_percent](uint64_t i) { return i % 100 >= read_percent; };
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(reads, threads, t, &begin, &end);
        timed_loop_mixed(st, end - begin, op_is_write, [&](uint64_t i) {
          const uint64_t index = c->rnd.uniform(num);
          if (op_is_write(i)) {
            ++st->writes;
            return write_one(c.get(), st, index, epoch, sync, true);
          }
          return read_one(c.get(), st, index, c->keys.key(index), false, (i & 15) == 0);
        });
      });
      break;
    }
    case Kind::kReadRandom:
    case Kind::kReadMissing:
    case Kind::kReadHot:
    case Kind::kReadRandom100K:
    case Kind::kReadWhileWriting: {
      const bool missing = kind == Kind::kReadMissing;
      const uint64_t range = kind == Kind::kReadHot ? hot_range : num;
      const bool with_writer = kind == Kind::kReadWhileWriting;
      std::atomic<int> readers_left{threads};
      wall = run_threads(threads + (with_writer ? 1 : 0), &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        if (t == threads) {
          // The writer: overwrites random keys until every reader is done.
          timed_loop(&writer_stats[0], UINT64_MAX, true, [&](uint64_t) {
            if (readers_left.load(std::memory_order_acquire) == 0) return false;
            return write_one(c.get(), &writer_stats[0], c->rnd.uniform(num), epoch, flags_.sync, true);
          });
          return;
        }
        uint64_t begin, end;
        share(reads, threads, t, &begin, &end);
        timed_loop(st, end - begin, false, [&](uint64_t i) {
          const uint64_t index = c->rnd.uniform(range);
          const std::string_view key = missing ? c->keys.missing_key(index) : c->keys.key(index);
          return read_one(c.get(), st, index, key, missing, (i & 15) == 0);
        });
        readers_left.fetch_sub(1, std::memory_order_release);
      });
      if (with_writer) stats.resize(static_cast<size_t>(threads));  // report the readers
      break;
    }
    case Kind::kReadSeq:
    case Kind::kReadReverse: {
      const bool forward = kind == Kind::kReadSeq;
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        full_scan(c.get(), st, t, threads, forward);
      });
      break;
    }
    case Kind::kSeekRandom: {
      wall = run_threads(threads, &stats, [&](int t, ThreadStats* st) {
        auto c = make_context(mix64(seed + static_cast<uint64_t>(t)));
        uint64_t begin, end;
        share(reads, threads, t, &begin, &end);
        timed_loop(st, end - begin, false, [&](uint64_t i) { return seek_one(c.get(), st, i); });
      });
      break;
    }
    case Kind::kCompact: {
      // One operation, timed from this thread: the engine compacts everything
      // and returns when done.
      std::string error;
      const Clock::time_point start = Clock::now();
      const CompactResult r = engine_->compact(&error);
      const Clock::time_point stop = Clock::now();
      if (r == CompactResult::kError) {
        fail("compact failed: " + error);
        return result;
      }
      if (r == CompactResult::kNotApplicable) {
        result.skipped = true;
        result.message = std::string("not applicable to ") + engine_->name() + ": " + error + " (0 s)";
        return result;
      }
      wall = std::chrono::duration<double>(stop - start).count();
      stats.resize(1);
      stats[0].ops = 1;
      stats[0].seconds = wall;
      stats[0].hist.add(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(stop - start).count()));
      break;
    }
  }

  // Merge the threads.
  Histogram hist;
  uint64_t max_write_ns = 0;
  uint64_t writes = 0;
  for (const ThreadStats& st : stats) {
    hist.merge(st.hist);
    writes += st.writes;
    result.ops += st.ops;
    result.found += st.found;
    result.not_found += st.not_found;
    result.bytes += st.bytes;
    result.entries += st.entries;
    result.thread_seconds += st.seconds;
    max_write_ns = std::max(max_write_ns, st.max_write_ns);
  }
  result.wall_seconds = wall;
  if (kind == Kind::kReadWhileWriting) {
    result.writer_ops = writer_stats[0].ops;
    result.writer_ops_per_sec = wall > 0 ? static_cast<double>(writer_stats[0].ops) / wall : 0;
    max_write_ns = writer_stats[0].max_write_ns;
  }
  result.max_write_micros = static_cast<double>(max_write_ns) / 1e3;
  result.micros_per_op = result.ops > 0 ? result.thread_seconds * 1e6 / static_cast<double>(result.ops) : 0;
  result.ops_per_sec = wall > 0 ? static_cast<double>(result.ops) / wall : 0;
  result.mb_per_sec = wall > 0 ? static_cast<double>(result.bytes) / 1048576.0 / wall : 0;
  result.lat_count = hist.count();
  result.lat_avg = hist.average() / 1e3;
  result.lat_p50 = hist.percentile(50) / 1e3;
  result.lat_p75 = hist.percentile(75) / 1e3;
  result.lat_p99 = hist.percentile(99) / 1e3;
  result.lat_p999 = hist.percentile(99.9) / 1e3;
  result.lat_p9999 = hist.percentile(99.99) / 1e3;
  result.lat_max = static_cast<double>(hist.max()) / 1e3;

  if (kind == Kind::kReadSeq || kind == Kind::kReadReverse) {
    result.message = "(" + std::to_string(result.entries) + " entries)";
  } else if (kind == Kind::kSeekRandom) {
    result.message = "(" + std::to_string(result.found) + " of " + std::to_string(result.ops) + " found, " +
                     std::to_string(result.entries) + " entries read, seek_nexts " +
                     std::to_string(flags_.seek_nexts) + ")";
  } else if (kind == Kind::kCompact) {
    result.message = fmt_seconds(wall);
  } else if (kind == Kind::kReadRandomWriteRandom) {
    // db_bench's wording.
    result.message = "( reads:" + std::to_string(result.ops - writes) + " writes:" + std::to_string(writes) +
                     " total:" + std::to_string(result.ops) + " found:" + std::to_string(result.found) + ")";
  } else if (!result.is_write) {
    result.message = "(" + std::to_string(result.found) + " of " + std::to_string(result.ops) + " found)";
    if (kind == Kind::kReadWhileWriting) {
      char buf[96];
      std::snprintf(buf, sizeof(buf), " (writer: %.0f ops/sec, longest write %.0f us)", result.writer_ops_per_sec,
                    result.max_write_micros);
      result.message += buf;
    }
  }
  if (kind == Kind::kReadHot) result.message += " (hot set: first " + std::to_string(hot_range) + " keys)";
  if (!failed()) {
    // After every workload (untimed): the footprint, once everything
    // acknowledged is in the files (after writes the log is synced;
    // background compaction may still run), the process's peak RSS so far
    // (this process runs this engine only), and the engine's own figures.
    std::string error;
    if (result.is_write && !engine_->sync(&error)) fail("sync failed: " + error);
    disk_usage(dir_, &result.disk_bytes, &result.allocated_bytes);
    if (tracking_) {
      for (uint64_t i = 0; i < db_num_; ++i) {
        if (presence_[i].load(std::memory_order_relaxed) != kAbsent) ++result.live_keys;
      }
    }
    struct rusage usage;
    if (::getrusage(RUSAGE_SELF, &usage) == 0) result.peak_rss_kb = usage.ru_maxrss;  // KiB on Linux
    const EngineStats after = engine_->stats();
    if (after.cache_hits >= 0 && after.cache_misses >= 0 && stats_before.cache_hits >= 0 &&
        stats_before.cache_misses >= 0) {
      // Counters are since open; a fill's reset reopened before stats_before.
      result.cache_hits = std::max<int64_t>(0, after.cache_hits - stats_before.cache_hits);
      result.cache_misses = std::max<int64_t>(0, after.cache_misses - stats_before.cache_misses);
    }
    result.engine_stats = encode_engine_stats(after.extra);
  }
  *histogram_text = hist.to_string();
  return result;
}

bool EngineRun::wait_for_turn() {
  if (command_fd_ < 0) return true;
  char c;
  for (;;) {
    const ssize_t n = ::read(command_fd_, &c, 1);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR) continue;
    fail("the parent ended the run before this engine's turn");
    return false;
  }
}

int EngineRun::run() {
  EngineResult summary;
  summary.name = engine_->name();
  summary.version = engine_->version();
  double active_seconds = 0;  // this engine's own steps (not the waits for its turn)

  config_.path = dir_;
  config_.num = flags_.num;
  config_.key_size = flags_.key_size;
  config_.value_size = flags_.value_size;
  config_.cache_size = flags_.cache_size;
  config_.write_buffer_size = flags_.write_buffer_size;
  config_.bloom_bits = flags_.bloom_bits;
  config_.compression = flags_.compression;
  config_.threads = flags_.max_threads() + 1;  // readwhilewriting's writer too
  config_.statistics = flags_.statistics;
  set_shape(flags_.num, flags_.value_size);
  presence_.reset(new std::atomic<uint8_t>[flags_.num]);
  tracking_ = !flags_.use_existing_db && (engine_->capabilities() & kCapStoresNothing) == 0;
  if (flags_.use_existing_db) max_epoch_ = UINT32_MAX;

  // Interleaved (command_fd_ >= 0): every step, the open included, starts
  // when the parent says so, and the step's lines are printed under the
  // engine's name, since the engines' lines alternate on the shared stdout.
  for (size_t i = 0; i < flags_.benchmarks.size() && !failed(); ++i) {
    if (!wait_for_turn()) break;
    const Clock::time_point step_start = Clock::now();
    if (i == 0) {
      std::printf("=== %s %s (%s) ===\n", summary.name.c_str(), summary.version.c_str(), dir_.c_str());
      std::fflush(stdout);
      if (!open_db(/*fresh=*/!flags_.use_existing_db)) break;
      summary.settings = engine_->settings();
      for (const std::string& s : summary.settings) std::printf("  %s\n", s.c_str());
    } else if (command_fd_ >= 0) {
      std::printf("=== %s ===\n", summary.name.c_str());
    }
    std::fflush(stdout);
    std::string histogram_text;
    const WorkloadResult w = run_workload(i, flags_.benchmarks[i], &histogram_text);
    if (failed()) break;
    std::fputs(format_db_bench_line(w).c_str(), stdout);
    std::fputs(format_stats_line(w).c_str(), stdout);
    if (flags_.histogram && !w.skipped) std::fputs(histogram_text.c_str(), stdout);
    std::fflush(stdout);
    active_seconds += std::chrono::duration<double>(Clock::now() - step_start).count();
    send(encode_workload(w));
  }
  const Clock::time_point close_start = Clock::now();
  close_db();
  active_seconds += std::chrono::duration<double>(Clock::now() - close_start).count();
  summary.ok = !failed();
  summary.error = error_;
  if (!summary.ok) std::fprintf(stderr, "ERROR: %s: %s\n", summary.name.c_str(), error_.c_str());
  struct rusage usage;
  if (::getrusage(RUSAGE_SELF, &usage) == 0) summary.peak_rss_kb = usage.ru_maxrss;  // KiB on Linux
  summary.total_seconds = active_seconds;
  send(encode_engine(summary));
  std::fflush(stdout);
  std::fflush(stderr);
  return summary.ok ? 0 : 2;
}

}  // namespace

int run_engine(const Flags& flags, const EngineInfo& info, const std::string& dir, int result_fd, int command_fd) {
  EngineRun run(flags, info.make(), dir, result_fd, command_fd);
  return run.run();
}

}  // namespace lightning::bench
