// Copyright (c) Lightning authors. MIT License.
//
// Crash at every step of the LSM tier's work:
//   (a) Flush                 db->flush() of a memtable of overwrites/deletes
//   (b) Compaction            db->compact(): three level-0 tables into level 1
//   (c) RecoveryFlush         open() replaying ~2.5 memtables of log into tables
//   (d) BackgroundFlush       a write finding the memtable full, more writes
//                             beside the background flush it starts
//   (e) BackgroundCompaction  flush() of the fourth level-0 table, which starts
//                             a compaction on the compaction thread
//
// For each operation the test learns how many mutating Env calls of each kind
// the operation and the close() after it make (N, printed), then, for i in
// 1..N, rebuilds the same starting state, arms
// FaultInjectionEnv::fail_nth_call(kind, i) and runs the operation again.
// On the memory Env every step is tried for kAny under power loss and single
// error, and for sync, rename and sync_dir under power loss, process crash
// and single error; elsewhere a strided sample that always includes the
// first and last four steps (MemorySweeps(), PosixSweeps()). The faults:
//
//   power loss       a crash at step i, then drop_unsynced_data()
//   process crash    a crash at step i, nothing dropped
//   torn power loss  a crash at step i, then drop_random_unsynced_data()
//   single error     step i fails, the process lives on: the operation fails,
//                    or the database refuses later writes with an IOError
//                    naming the fault; reads stay correct meanwhile
//
// Every write is made with sync = true (WalSyncMode::kFull), so everything
// acknowledged is durable. After each run the database must reopen and equal
// the model of the acknowledged writes (a write that failed may or may not
// have happened), and its directory must hold no debris: exactly the tables
// stats() reports, one log, no MANIFEST.tmp -- after reopen, after a
// compact(), and after close(). A failure names the run, e.g.
//   "power loss at any #9 [append 000007.log (24 bytes)]: after reopen: ..."
// (the bracket is the traced call at that step). LIGHTNING_LSM_CRASH_VERBOSE=1
// prints every run.
//
// Most runs use an in-memory Env (fast); each operation is also swept, more
// sparsely, over the POSIX Env in a temporary directory.
//
// The sweeps found two engine bugs; minimal reproductions are at the end of
// this file (LsmCrashBugTest, "KNOWN BUG 1/2"). Until they are fixed, the
// BackgroundFlush sweeps fail with lost acknowledged writes after a power
// loss (bug 1), and the Flush, Compaction and BackgroundCompaction sweeps
// (and a close()-time flush in BackgroundFlush) fail their single-error runs
// at the MANIFEST's sync_dir with "listed in the MANIFEST but missing" (bug 2).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "env/fault_injection_env.h"
#include "lightning/db.h"
#include "lightning/write_batch.h"
#include "util/db_test_util.h"
#include "util/temp_dir.h"

namespace lightning {
namespace {

using OpKind = FaultInjectionEnv::OpKind;

std::string Key(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%05d", i);
  return buf;
}

// A value that names its key and version in a readable prefix.
std::string Value(const std::string& key, int version, size_t size) {
  std::string v = key + "/v" + std::to_string(version) + "/";
  if (v.size() < size) v += test::MakeValue(key, static_cast<uint64_t>(version), size - v.size());
  return v;
}

std::string Describe(const std::optional<std::string>& v) {
  if (!v.has_value()) return "<absent>";
  size_t printable = 0;
  while (printable < v->size() && printable < 24 && (*v)[printable] >= 0x20 && (*v)[printable] < 0x7f) printable++;
  return "\"" + v->substr(0, printable) + (printable < v->size() ? "...\"" : "\"") + " (" +
         std::to_string(v->size()) + " bytes)";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// ---------------------------------------------------------------- model

// What the database must hold: the acknowledged writes, plus, per key, the
// outcomes of failed writes (which may or may not have reached the log).
class Model {
 public:
  void record(const std::string& key, std::optional<std::string> value, const Status& s) {
    if (s.ok()) {
      acked_[key] = std::move(value);
      maybe_.erase(key);
    } else {
      maybe_[key].push_back(std::move(value));
    }
  }

  // "" if every key ever written (and a few never written) reads as the
  // model says; else the first mismatch.
  std::string check(Database* db) const {
    std::set<std::string> keys;
    for (const auto& [key, value] : acked_) keys.insert(key);
    for (const auto& [key, values] : maybe_) keys.insert(key);
    for (int j = 0; j < 3; j++) keys.insert(Key(99990 + j));
    std::string got;
    for (const auto& key : keys) {
      Status s = db->get(key, &got);
      std::optional<std::string> actual;
      if (s.ok()) {
        actual = got;
      } else if (!s.IsNotFound()) {
        return "get(" + key + ") failed: " + s.ToString();
      }
      const auto it = acked_.find(key);
      const std::optional<std::string> expected = it == acked_.end() ? std::nullopt : it->second;
      if (actual == expected) continue;
      const auto m = maybe_.find(key);
      if (m != maybe_.end() && std::find(m->second.begin(), m->second.end(), actual) != m->second.end()) continue;
      std::string msg = "get(" + key + ") returned " + Describe(actual) + ", expected " + Describe(expected);
      if (m != maybe_.end()) {
        msg += " (or the outcome of one of " + std::to_string(m->second.size()) + " failed writes)";
      }
      return msg;
    }
    return "";
  }

 private:
  std::map<std::string, std::optional<std::string>> acked_;
  std::map<std::string, std::vector<std::optional<std::string>>> maybe_;
};

WriteOptions Synced() {
  WriteOptions wo;
  wo.sync = true;
  return wo;
}

Status Put(Database* db, Model* model, const std::string& key, const std::string& value) {
  Status s = db->put(key, value, Synced());
  model->record(key, value, s);
  return s;
}

Status Remove(Database* db, Model* model, const std::string& key) {
  Status s = db->remove(key, Synced());
  model->record(key, std::nullopt, s);
  return s;
}

// Puts (a value) and removes (nullopt), in order.
using Ops = std::vector<std::pair<std::string, std::optional<std::string>>>;

// One synced batch of ops.
Status WriteBatchOf(Database* db, Model* model, const Ops& ops) {
  WriteBatch batch;
  for (const auto& [key, value] : ops) {
    Status bs = value.has_value() ? batch.put(key, *value) : batch.remove(key);
    if (!bs.ok()) return bs;
  }
  Status s = db->write(batch, Synced());
  for (const auto& [key, value] : ops) model->record(key, value, s);
  return s;
}

// ---------------------------------------------------------------- tracing

// Records every mutating call, in the order the engine makes them, so that a
// failure message can say what "step i" was. Sits between the database and
// the FaultInjectionEnv and mirrors its counting (kFlush: flush and close).
// Under concurrency the two orders can differ by a swap: labels are a guide.
class TracingEnv final : public EnvWrapper {
 public:
  explicit TracingEnv(Env* target) : EnvWrapper(target) {}

  void clear() {
    std::lock_guard<std::mutex> l(mu_);
    calls_.clear();
  }
  // The n-th (1-based) traced call of kind, e.g. "sync_dir db".
  std::string describe(OpKind kind, uint64_t n) const {
    std::lock_guard<std::mutex> l(mu_);
    uint64_t seen = 0;
    for (const auto& [k, what] : calls_) {
      if (kind == OpKind::kAny || k == kind) {
        if (++seen == n) return std::string(FaultInjectionEnv::op_kind_name(k)) + " " + what;
      }
    }
    return "(not reached)";
  }
  // Every traced call so far, in order.
  std::vector<std::pair<OpKind, std::string>> calls() const {
    std::lock_guard<std::mutex> l(mu_);
    return calls_;
  }

  Status new_writable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    record(OpKind::kCreateFile, f);
    return wrap(f, target()->new_writable_file(f, r), r);
  }
  Status new_appendable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    record(OpKind::kCreateFile, f + " (append)");
    return wrap(f, target()->new_appendable_file(f, r), r);
  }
  Status new_random_rw_file(const std::string& f, std::unique_ptr<RandomRWFile>* r) override {
    if (!target()->file_exists(f)) record(OpKind::kCreateFile, f + " (page file)");
    Status s = target()->new_random_rw_file(f, r);
    if (s.ok()) *r = std::make_unique<RWFile>(this, f, std::move(*r));
    return s;
  }
  Status remove_file(const std::string& f) override {
    record(OpKind::kRemove, f);
    return target()->remove_file(f);
  }
  Status create_dir_if_missing(const std::string& d) override {
    record(OpKind::kCreateFile, d + " (dir)");
    return target()->create_dir_if_missing(d);
  }
  Status remove_dir(const std::string& d) override {
    record(OpKind::kRemove, d + " (dir)");
    return target()->remove_dir(d);
  }
  Status rename_file(const std::string& s, const std::string& t) override {
    record(OpKind::kRename, s + " -> " + t);
    return target()->rename_file(s, t);
  }
  Status truncate_file(const std::string& f, uint64_t size) override {
    record(OpKind::kTruncate, f + " to " + std::to_string(size));
    return target()->truncate_file(f, size);
  }
  Status sync_dir(const std::string& d) override {
    record(OpKind::kSyncDir, d);
    return target()->sync_dir(d);
  }

 private:
  class File final : public WritableFile {
   public:
    File(TracingEnv* env, std::string name, std::unique_ptr<WritableFile> target)
        : env_(env), name_(std::move(name)), target_(std::move(target)) {}
    Status append(const Slice& data) override {
      env_->record(OpKind::kAppend, name_ + " (" + std::to_string(data.size()) + " bytes)");
      return target_->append(data);
    }
    Status flush() override {
      env_->record(OpKind::kFlush, name_);
      return target_->flush();
    }
    Status sync() override {
      env_->record(OpKind::kSync, name_);
      return target_->sync();
    }
    Status sync_flushed() override {
      env_->record(OpKind::kSync, name_ + " (sync_flushed)");
      return target_->sync_flushed();
    }
    Status close() override {
      if (closed_) return target_->close();  // not counted again by the FaultInjectionEnv
      closed_ = true;
      env_->record(OpKind::kFlush, name_ + " (close)");
      return target_->close();
    }

   private:
    TracingEnv* const env_;
    const std::string name_;
    const std::unique_ptr<WritableFile> target_;
    bool closed_ = false;
  };

  class RWFile final : public RandomRWFile {
   public:
    RWFile(TracingEnv* env, std::string name, std::unique_ptr<RandomRWFile> target)
        : env_(env), name_(std::move(name)), target_(std::move(target)) {}
    Status write(uint64_t offset, const Slice& data) override {
      env_->record(OpKind::kWrite, name_ + " (" + std::to_string(data.size()) + " bytes at " + std::to_string(offset) +
                                       ")");
      return target_->write(offset, data);
    }
    Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
      return target_->read(offset, n, result, scratch);
    }
    Status sync() override {
      env_->record(OpKind::kSync, name_);
      return target_->sync();
    }
    Status close() override { return target_->close(); }

   private:
    TracingEnv* const env_;
    const std::string name_;
    const std::unique_ptr<RandomRWFile> target_;
  };

  Status wrap(const std::string& f, Status s, std::unique_ptr<WritableFile>* r) {
    if (s.ok()) *r = std::make_unique<File>(this, f, std::move(*r));
    return s;
  }
  void record(OpKind kind, const std::string& what) {
    // File names without their directory: "000012.sst", "MANIFEST.tmp -> MANIFEST".
    std::string short_what;
    for (size_t pos = 0; pos <= what.size();) {
      size_t end = what.find(' ', pos);
      if (end == std::string::npos) end = what.size();
      std::string word = what.substr(pos, end - pos);
      const size_t slash = word.rfind('/');
      if (slash != std::string::npos && slash + 1 < word.size()) word = word.substr(slash + 1);
      short_what += (short_what.empty() ? "" : " ") + word;
      pos = end + 1;
    }
    std::lock_guard<std::mutex> l(mu_);
    calls_.emplace_back(kind, std::move(short_what));
  }

  mutable std::mutex mu_;
  std::vector<std::pair<OpKind, std::string>> calls_;
};

// ---------------------------------------------------------------- setup

// Small, deterministic LSM settings: 64 KiB memtables and tables, no
// compression, and no background compaction (the triggers are out of reach),
// so that the number of steps of each operation is the same on every run.
Options CrashOptions(Env* env) {
  Options o;
  o.env = env;
  o.wal_sync_mode = WalSyncMode::kFull;
  o.memtable_size = 64u << 10;
  o.max_immutable_memtables = 2;
  o.level0_file_num_compaction_trigger = 50;
  o.level0_slowdown_writes_trigger = 50;
  o.level0_stop_writes_trigger = 50;
  o.max_background_compactions = 1;
  o.target_file_size = 64u << 10;
  o.max_bytes_for_level_base = 64u << 20;
  o.compression = CompressionType::kNone;
  o.block_size = 8u << 10;
  o.cache_size = 1u << 20;
  return o;
}

int TotalTables(const DatabaseStats& st) {
  int n = 0;
  for (const auto& level : st.levels) n += level.files;
  return n;
}

// "" if the directory holds exactly MANIFEST, LOCK, one log, `tables` tables
// and perhaps the TREE: no table the database does not use, no MANIFEST.tmp,
// nothing else.
std::string CheckFiles(Env* env, const std::string& path, int tables) {
  std::vector<std::string> children;
  Status s = env->get_children(path, &children);
  if (!s.ok()) return "get_children: " + s.ToString();
  std::sort(children.begin(), children.end());
  int ssts = 0, logs = 0;
  bool manifest = false, unexpected = false;
  std::string listing;
  for (const auto& name : children) {
    listing += " " + name;
    if (name == "MANIFEST") {
      manifest = true;
    } else if (name == "LOCK" || name == "TREE") {
    } else if (EndsWith(name, ".sst")) {
      ssts++;
    } else if (EndsWith(name, ".log")) {
      logs++;
    } else {
      unexpected = true;  // MANIFEST.tmp, lost/, a .rewrite, ...
    }
  }
  if (manifest && logs == 1 && ssts == tables && !unexpected) return "";
  return "the directory holds [" + listing + " ]; expected MANIFEST, LOCK, one log and the " +
         std::to_string(tables) + " tables the database reports";
}

// Everything one run works with. Members are destroyed bottom-up: the
// database before the Envs it uses.
struct Ctx {
  Env* base = nullptr;
  std::unique_ptr<FaultInjectionEnv> fault;
  std::unique_ptr<TracingEnv> trace;
  std::string path;
  Options options;
  Model model;
  int next_key = 0;  // scenario scratch
  std::unique_ptr<Database> db;

  Status open() {
    db.reset();
    auto r = Database::open(path, options);
    if (!r.ok()) return r.status();
    db = std::move(r.value());
    return Status::OK();
  }
  Status close() {
    Status s = db ? db->close() : Status::OK();
    db.reset();
    return s;
  }
  void reset_counters() {
    fault->reset_counters();
    trace->clear();
  }
};

struct Scenario {
  std::string name;
  // Changes to CrashOptions() for the scenario's runs (reopening to verify
  // uses plain CrashOptions(): no background compaction races the checks).
  std::function<void(Options*)> tune;
  // Builds the starting directory (closing the database at the end) and the
  // model of its contents. Runs once.
  std::function<std::string(Ctx&)> build;
  // From the restored directory: the live state right before the operation
  // (usually: open, then some synced writes). Runs before every fault.
  std::function<std::string(Ctx&)> prepare;
  // The operation under test.
  std::function<Status(Ctx&)> op;
  // After the operation ran without a fault: "" if it did what the scenario
  // is about (so that the sweeps really exercise it).
  std::function<std::string(Ctx&)> did_its_work;
};

std::string Check(const Status& s, const char* what) {
  return s.ok() ? "" : std::string(what) + ": " + s.ToString();
}

#define RETURN_IF_ERROR(expr)          \
  do {                                 \
    std::string e_ = (expr);           \
    if (!e_.empty()) return e_;        \
  } while (0)

// Writes keys [0, 10 * batches) at version 1, ten per batch.
std::string FillBatches(Ctx& c, int batches, size_t value_size) {
  for (int b = 0; b < batches; b++) {
    Ops ops;
    for (int j = 0; j < 10; j++) ops.emplace_back(Key(b * 10 + j), Value(Key(b * 10 + j), 1, value_size));
    RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
  }
  return "";
}

// ---- (a) a flush: db->flush() over a memtable of overwrites and deletes,
// in a database of a few memtables' worth of tables.
Scenario FlushScenario() {
  Scenario sc;
  sc.name = "Flush";
  sc.build = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 24, 700));
    for (int i = 0; i < 240; i += 7) RETURN_IF_ERROR(Check(Remove(c.db.get(), &c.model, Key(i)), "remove"));
    RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    if (TotalTables(c.db->stats()) < 3) return "expected at least 3 tables after the build";
    return Check(c.close(), "close");
  };
  sc.prepare = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    // Just under one memtable: overwrites, deletes and new keys.
    for (int b = 0; b < 14; b++) {
      Ops ops;
      for (int j = 0; j < 4; j++) {
        const int n = b * 4 + j;
        if (n % 6 == 5) {
          ops.emplace_back(Key(n * 3), std::nullopt);
        } else {
          const std::string key = Key(n % 2 == 0 ? n * 3 : 300 + n);
          ops.emplace_back(key, Value(key, 2, 900));
        }
      }
      RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.flushes != 0 || st.immutable_memtables != 0) return "prepare: the writes did not fit one memtable";
    return "";
  };
  sc.op = [](Ctx& c) { return c.db->flush(); };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.flushes != 1 || st.immutable_memtables != 0) return "flush() wrote no table";
    return "";
  };
  return sc;
}

// ---- (b) a compaction: db->compact() over three level-0 tables of
// overwrites, deletes and new keys, on top of data in the tree: a merge of
// level 0 into level 6, then of level 6 into the tree.
Scenario CompactionScenario() {
  Scenario sc;
  sc.name = "Compaction";
  sc.build = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 30, 500));
    RETURN_IF_ERROR(Check(c.db->compact(), "compact"));  // everything in the tree
    for (int round = 0; round < 3; round++) {
      Ops ops;
      for (int j = 0; j < 40; j++) {
        const std::string key = Key(round * 90 + j * 2);
        ops.emplace_back(key, Value(key, 2 + round, 500));  // overwrites
      }
      for (int j = 0; j < 12; j++) ops.emplace_back(Key(round * 90 + j * 7 + 1), std::nullopt);  // deletes
      for (int j = 0; j < 20; j++) {
        const std::string key = Key(1000 + round * 20 + j);
        ops.emplace_back(key, Value(key, 1, 500));  // new keys
      }
      ops.emplace_back(Key(1000 + round), std::nullopt);  // a key both new and deleted
      RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
      RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.levels[0].files != 3 || TotalTables(st) != 3 || st.tree_entries == 0) {
      return "build: expected 3 level-0 tables over the tree, got " + std::to_string(TotalTables(st)) +
             " tables and " + std::to_string(st.tree_entries) + " tree entries";
    }
    return Check(c.close(), "close");
  };
  sc.prepare = [](Ctx& c) -> std::string { return Check(c.open(), "open"); };
  sc.op = [](Ctx& c) { return c.db->compact(); };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.compactions < 1 || st.tree_merges < 1 || TotalTables(st) != 0) return "compact() merged nothing";
    return "";
  };
  return sc;
}

// ---- (c) the open-time recovery flush: a log holding about two and a half
// memtables of overwrites, deletes and new keys is replayed into level-0
// tables by open().
Scenario RecoveryFlushScenario() {
  Scenario sc;
  sc.name = "RecoveryFlush";
  sc.build = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 12, 600));
    RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    RETURN_IF_ERROR(Check(c.close(), "close"));
    // With a big memtable the next writes stay in the log only.
    const Options small = c.options;
    c.options.memtable_size = 1u << 20;
    RETURN_IF_ERROR(Check(c.open(), "open"));
    for (int b = 0; b < 40; b++) {
      Ops ops;
      for (int j = 0; j < 5; j++) {
        const int n = b * 5 + j;
        if (n % 9 == 4) {
          ops.emplace_back(Key(n % 120), std::nullopt);
        } else {
          const std::string key = Key(n < 120 ? n : 200 + n);
          ops.emplace_back(key, Value(key, 2, 700));
        }
      }
      RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.flushes != 0 || st.immutable_memtables != 0) return "build: the log data was flushed";
    // Crash rather than close (close() would flush): every write was synced,
    // so the log keeps it all.
    c.fault->set_filesystem_active(false);
    c.db.reset();
    c.fault->set_filesystem_active(true);
    c.options = small;
    return "";
  };
  sc.prepare = [](Ctx&) -> std::string { return ""; };
  sc.op = [](Ctx& c) { return c.open(); };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.levels[0].files < 3 || st.flush_bytes_written < (100u << 10)) {
      return "open() did not write the log data to at least two tables (level 0 holds " +
             std::to_string(st.levels[0].files) + ")";
    }
    return "";
  };
  return sc;
}

// Waits until background work is done (done(stats) is true), or failed (seen
// through sync_wal() once a fault was injected), or the simulated crash
// happened.
Status WaitForBackgroundWork(Ctx& c, const std::function<bool(const DatabaseStats&)>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    if (done(c.db->stats())) return Status::OK();
    if (!c.fault->filesystem_active()) return Status::IOError("test: crashed during background work");
    if (c.fault->injected_error_count() > 0) {
      Status s = c.db->sync_wal();
      if (!s.ok()) return s;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Aborted("test: background work neither finished nor failed within 20 s");
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
}

// ---- (d) a background flush started by a write that finds the memtable
// full; three more writes go to the new memtable and log beside the flush.
Scenario BackgroundFlushScenario() {
  Scenario sc;
  sc.name = "BackgroundFlush";
  sc.build = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 10, 600));
    RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    return Check(c.close(), "close");
  };
  sc.prepare = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    // Fill the memtable exactly: the next write switches it.
    c.next_key = 500;
    while (c.db->stats().memtable_bytes < c.options.memtable_size) {
      const int n = c.next_key++;
      const std::string key = n % 5 == 0 ? Key(n % 100) : Key(n);  // some overwrites of table data
      RETURN_IF_ERROR(Check(Put(c.db.get(), &c.model, key, Value(key, 3, 1000)), "put"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.flushes != 0 || st.immutable_memtables != 0) return "prepare: the memtable was switched early";
    return "";
  };
  sc.op = [](Ctx& c) -> Status {
    const int n = c.next_key;
    Status s = Put(c.db.get(), &c.model, Key(n), Value(Key(n), 1, 1000));  // switches the memtable
    if (s.ok()) s = Put(c.db.get(), &c.model, Key(7), Value(Key(7), 4, 300));
    if (s.ok()) s = Remove(c.db.get(), &c.model, Key(n - 1));
    if (s.ok()) s = Put(c.db.get(), &c.model, Key(n + 1), Value(Key(n + 1), 1, 300));
    if (!s.ok()) return s;
    return WaitForBackgroundWork(
        c, [](const DatabaseStats& st) { return st.flushes >= 1 && st.immutable_memtables == 0; });
  };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.flushes != 1) return "no background flush";
    return "";
  };
  return sc;
}

// ---- (e) a background compaction: flush() makes the fourth level-0 table,
// which starts a compaction of level 0 into level 1 on the compaction thread.
Scenario BackgroundCompactionScenario() {
  Scenario sc;
  sc.name = "BackgroundCompaction";
  sc.tune = [](Options* o) {
    o->level0_file_num_compaction_trigger = 4;
    o->level0_slowdown_writes_trigger = 8;
    o->level0_stop_writes_trigger = 12;
  };
  sc.build = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 20, 500));
    RETURN_IF_ERROR(Check(c.db->compact(), "compact"));  // everything in the tree
    for (int round = 0; round < 3; round++) {
      Ops ops;
      for (int j = 0; j < 30; j++) {
        const std::string key = Key(round * 60 + j * 2);
        ops.emplace_back(key, Value(key, 2 + round, 400));
      }
      for (int j = 0; j < 8; j++) ops.emplace_back(Key(round * 60 + j * 7 + 1), std::nullopt);
      RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
      RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.levels[0].files != 3 || st.tree_entries == 0 || st.compactions != 1) {
      return "build: expected 3 level-0 tables over the tree and no background compaction";
    }
    return Check(c.close(), "close");
  };
  sc.prepare = [](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    Ops ops;
    for (int j = 0; j < 30; j++) {
      const std::string key = Key(j * 5);
      ops.emplace_back(key, j % 4 == 3 ? std::nullopt : std::optional<std::string>(Value(key, 9, 400)));
    }
    RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, ops), "write"));
    if (c.db->stats().levels[0].files != 3) return "prepare: expected 3 level-0 tables";
    return "";
  };
  sc.op = [](Ctx& c) -> Status {
    Status s = c.db->flush();
    if (!s.ok()) return s;
    return WaitForBackgroundWork(
        c, [](const DatabaseStats& st) { return st.compactions >= 1 && st.levels[0].files == 0; });
  };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.compactions != 1 || st.levels[0].files != 0) return "no background compaction";
    return "";
  };
  return sc;
}

// ---- (f) a background merge into the tree: with a tiny level budget, the
// flush that brings level 0 to its trigger sets off a compaction into level
// 6, which then exceeds its target and merges a table into the tree.
Scenario BackgroundTreeMergeScenario() {
  Scenario sc;
  sc.name = "BackgroundTreeMerge";
  sc.tune = [](Options* o) {
    o->level0_file_num_compaction_trigger = 4;
    o->level0_slowdown_writes_trigger = 8;
    o->level0_stop_writes_trigger = 12;
    o->max_bytes_for_level_base = 64u << 10;
  };
  auto round_ops = [](int round) {
    Ops ops;
    for (int j = 0; j < 50; j++) {
      const std::string key = Key(round * 37 + j * 3);
      ops.emplace_back(key, j % 9 == 4 ? std::nullopt : std::optional<std::string>(Value(key, 2 + round, 500)));
    }
    return ops;
  };
  sc.build = [round_ops](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(FillBatches(c, 30, 500));
    RETURN_IF_ERROR(Check(c.db->compact(), "compact"));  // everything in the tree
    for (int round = 0; round < 3; round++) {
      RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, round_ops(round)), "write"));
      RETURN_IF_ERROR(Check(c.db->flush(), "flush"));
    }
    const DatabaseStats st = c.db->stats();
    if (st.levels[0].files != 3 || TotalTables(st) != 3 || st.tree_entries == 0) {
      return "build: expected 3 level-0 tables over the tree and no background work; got " +
             std::to_string(st.levels[0].files) + " level-0 tables, " + std::to_string(TotalTables(st)) +
             " tables, " + std::to_string(st.tree_entries) + " tree entries, " + std::to_string(st.tree_merges) +
             " merges";
    }
    return Check(c.close(), "close");
  };
  sc.prepare = [round_ops](Ctx& c) -> std::string {
    RETURN_IF_ERROR(Check(c.open(), "open"));
    RETURN_IF_ERROR(Check(WriteBatchOf(c.db.get(), &c.model, round_ops(3)), "write"));
    if (c.db->stats().levels[0].files != 3) return "prepare: expected 3 level-0 tables";
    return "";
  };
  sc.op = [](Ctx& c) -> Status {
    Status s = c.db->flush();
    if (!s.ok()) return s;
    return WaitForBackgroundWork(c, [](const DatabaseStats& st) {
      return st.tree_merges >= 1 && st.levels[0].files == 0 && st.compactions >= 1;
    });
  };
  sc.did_its_work = [](Ctx& c) -> std::string {
    const DatabaseStats st = c.db->stats();
    if (st.tree_merges < 1 || st.levels[0].files != 0) return "no background merge into the tree";
    return "";
  };
  return sc;
}

// ---------------------------------------------------------------- runner

enum class Fault { kPowerLoss, kProcessCrash, kTornPowerLoss, kSingleError };

const char* FaultName(Fault f) {
  switch (f) {
    case Fault::kPowerLoss: return "power loss";
    case Fault::kProcessCrash: return "process crash";
    case Fault::kTornPowerLoss: return "torn power loss";
    case Fault::kSingleError: return "single error";
  }
  return "?";
}

// Kinds whose failure must never pass unnoticed: the operation fails or the
// database refuses later writes. (A failed remove of an obsolete file, or a
// failed close of an already synced log, may rightly be ignored; kAny can be
// either.)
bool MustSurface(OpKind kind) {
  return kind == OpKind::kAppend || kind == OpKind::kSync || kind == OpKind::kRename ||
         kind == OpKind::kCreateFile || kind == OpKind::kSyncDir || kind == OpKind::kTruncate ||
         kind == OpKind::kWrite;
}

// One sweep: the fault mode, the kind counted, and how many steps to try
// (0: every step).
struct Sweep {
  OpKind kind;
  Fault fault;
  size_t max_points;
};

// Steps 1..n, or a strided sample with the first and last four.
std::vector<uint64_t> Steps(uint64_t n, size_t max_points, uint64_t offset) {
  std::set<uint64_t> steps;
  if (max_points == 0 || n <= max_points) {
    for (uint64_t i = 1; i <= n; i++) steps.insert(i);
  } else {
    for (uint64_t i = 1; i <= 4; i++) steps.insert(i);
    for (uint64_t i = n - 3; i <= n; i++) steps.insert(i);
    const uint64_t stride = std::max<uint64_t>(1, n / (max_points > 9 ? max_points - 8 : 1));
    for (uint64_t i = 5 + offset % stride; i < n - 3; i += stride) steps.insert(i);
  }
  return {steps.begin(), steps.end()};
}

class Runner {
 public:
  Runner(Scenario sc, Env* base, std::string path) : sc_(std::move(sc)), base_(base), path_(std::move(path)) {}

  // Builds the starting directory once and keeps a copy of it.
  std::string build() {
    auto c = new_ctx();
    std::string e = sc_.build(*c);
    if (!e.empty()) return "build: " + e;
    (void)c->close();
    snapshot_ = test::SnapshotDir(base_, path_);
    model_ = c->model;
    return "";
  }

  // The run without a fault: counts the calls of each kind that the
  // operation and the close() after it make, and checks the result like any
  // other run.
  std::string learn(std::map<OpKind, uint64_t>* counts) {
    auto c = start();
    RETURN_IF_ERROR(c.second);
    Ctx& ctx = *c.first;
    ctx.reset_counters();
    RETURN_IF_ERROR(Check(sc_.op(ctx), "the operation without a fault"));
    RETURN_IF_ERROR(sc_.did_its_work(ctx));
    RETURN_IF_ERROR(Check(ctx.close(), "close without a fault"));
    for (int k = 0; k < FaultInjectionEnv::kNumOpKinds; k++) {
      (*counts)[static_cast<OpKind>(k)] = ctx.fault->call_count(static_cast<OpKind>(k));
    }
    return verify_after_reopen(ctx);
  }

  // One run with a fault at the i-th call of kind. "" if all is well.
  std::string run(OpKind kind, uint64_t i, Fault fault) {
    auto c = start();
    if (!c.second.empty()) return "prepare: " + c.second;
    Ctx& ctx = *c.first;
    ctx.reset_counters();
    ctx.fault->fail_nth_call(kind, i, /*deactivate_filesystem=*/fault != Fault::kSingleError);
    const Status s = sc_.op(ctx);
    std::string e;
    if (fault == Fault::kSingleError) {
      e = check_live_after_error(ctx, kind, s);
      (void)ctx.close();  // a fault not yet injected may hit close()'s flush
      ctx.fault->clear_error_injection();
    } else {
      // Whatever the operation left undone happens after the crash: close()
      // and the destructor write nothing any more.
      (void)ctx.close();
      ctx.fault->set_filesystem_active(false);
      Status ds;
      if (fault == Fault::kPowerLoss) ds = ctx.fault->drop_unsynced_data();
      if (fault == Fault::kTornPowerLoss) ds = ctx.fault->drop_random_unsynced_data(i * 7919 + 17);
      if (!ds.ok()) e = "dropping unsynced data: " + ds.ToString();
      ctx.fault->set_filesystem_active(true);
      ctx.fault->clear_error_injection();
    }
    label_ = ctx.trace->describe(kind, i);
    if (!e.empty()) return e;
    return verify_after_reopen(ctx);
  }

  // What step i was in the last run (as traced).
  const std::string& label() const { return label_; }

 private:
  std::unique_ptr<Ctx> new_ctx() {
    auto c = std::make_unique<Ctx>();
    c->base = base_;
    c->fault = std::make_unique<FaultInjectionEnv>(base_);
    c->trace = std::make_unique<TracingEnv>(c->fault.get());
    c->path = path_;
    c->options = CrashOptions(c->trace.get());
    if (sc_.tune) sc_.tune(&c->options);
    return c;
  }

  // The starting directory restored, fresh Envs over it (files not written
  // through a FaultInjectionEnv count as durable), and the scenario's
  // prepare step done.
  std::pair<std::unique_ptr<Ctx>, std::string> start() {
    test::RestoreDir(base_, path_, snapshot_);
    auto c = new_ctx();
    c->model = model_;
    std::string e = sc_.prepare(*c);
    return {std::move(c), e};
  }

  // Single error, process alive: the error surfaced (the operation failed
  // with it, or later writes are refused with it), and reads are right.
  std::string check_live_after_error(Ctx& c, OpKind kind, const Status& s) {
    const bool fired = c.fault->injected_error_count() > 0;
    if (!s.ok()) {
      if (!s.IsIOError()) return "the operation failed with a status that is no IOError: " + s.ToString();
      if (s.ToString().find("injected fault") == std::string::npos) {
        return "the operation's error does not name the injected fault: " + s.ToString();
      }
    }
    if (c.db == nullptr) return "";  // open() failed
    std::string e = c.model.check(c.db.get());
    if (!e.empty()) return "reads after the fault: " + e;
    Status p = Put(c.db.get(), &c.model, Key(99000), "written after the fault");
    if (!p.ok()) {
      if (!p.IsIOError() || p.message().find("refuses further writes") == std::string::npos ||
          p.ToString().find("injected fault") == std::string::npos) {
        return "a write after the fault failed, but not with the sticky IOError naming the fault: " + p.ToString();
      }
      Status p2 = Remove(c.db.get(), &c.model, Key(99001));
      if (p2.ok()) return "a write succeeded after the database had refused one with: " + p.ToString();
      e = c.model.check(c.db.get());
      if (!e.empty()) return "reads after the refused writes: " + e;
    } else if (fired && s.ok() && MustSurface(kind)) {
      return std::string("an injected ") + FaultInjectionEnv::op_kind_name(kind) +
             " error went unnoticed: the operation and a later write both succeeded";
    }
    return "";
  }

  // Reopen; the database equals the model and holds no debris; compact()
  // works and keeps both true; close() too.
  std::string verify_after_reopen(Ctx& c) {
    c.options = CrashOptions(c.trace.get());
    Status s = c.open();
    if (!s.ok()) return "reopen failed: " + s.ToString();
    std::string e = c.model.check(c.db.get());
    if (!e.empty()) return "after reopen: " + e;
    e = CheckFiles(c.base, path_, TotalTables(c.db->stats()));
    if (!e.empty()) return "after reopen: " + e;
    s = c.db->compact();
    if (!s.ok()) return "compact() after reopen failed: " + s.ToString();
    e = c.model.check(c.db.get());
    if (!e.empty()) return "after reopen and compact(): " + e;
    const int tables = TotalTables(c.db->stats());
    e = CheckFiles(c.base, path_, tables);
    if (!e.empty()) return "after reopen and compact(): " + e;
    s = c.close();
    if (!s.ok()) return "close() after reopen failed: " + s.ToString();
    e = CheckFiles(c.base, path_, tables);
    if (!e.empty()) return "after reopen, compact() and close(): " + e;
    return "";
  }

  const Scenario sc_;
  Env* const base_;
  const std::string path_;
  test::DirSnapshot snapshot_;
  Model model_;
  std::string label_;
};

const OpKind kKinds[] = {OpKind::kAny,     OpKind::kAppend, OpKind::kSync,   OpKind::kRename, OpKind::kCreateFile,
                         OpKind::kSyncDir, OpKind::kRemove, OpKind::kFlush, OpKind::kWrite};

// The memory-Env sweeps: every step of sync, rename and sync_dir in each
// mode; strided samples of the other kinds and of all calls.
std::vector<Sweep> MemorySweeps() {
  std::vector<Sweep> sweeps = {
      {OpKind::kAny, Fault::kPowerLoss, 0},      {OpKind::kAny, Fault::kProcessCrash, 40},
      {OpKind::kAny, Fault::kTornPowerLoss, 24}, {OpKind::kAny, Fault::kSingleError, 0},
  };
  for (OpKind kind : {OpKind::kSync, OpKind::kRename, OpKind::kSyncDir}) {
    for (Fault f : {Fault::kPowerLoss, Fault::kProcessCrash, Fault::kSingleError}) sweeps.push_back({kind, f, 0});
  }
  // Page writes of merges into the tree, torn ones included.
  for (Fault f : {Fault::kPowerLoss, Fault::kTornPowerLoss, Fault::kSingleError}) {
    sweeps.push_back({OpKind::kWrite, f, 16});
  }
  for (OpKind kind : {OpKind::kAppend, OpKind::kCreateFile, OpKind::kRemove, OpKind::kFlush}) {
    sweeps.push_back({kind, Fault::kPowerLoss, 10});
    sweeps.push_back({kind, Fault::kProcessCrash, 9});
    sweeps.push_back({kind, Fault::kSingleError, 10});
  }
  return sweeps;
}

// The POSIX sweeps: fewer steps (real fsyncs are slow), but every sync_dir
// and rename under power loss.
std::vector<Sweep> PosixSweeps() {
  return {
      {OpKind::kAny, Fault::kPowerLoss, 14},     {OpKind::kAny, Fault::kProcessCrash, 9},
      {OpKind::kAny, Fault::kSingleError, 9},    {OpKind::kSyncDir, Fault::kPowerLoss, 0},
      {OpKind::kRename, Fault::kPowerLoss, 0},   {OpKind::kSync, Fault::kSingleError, 10},
  };
}

void RunScenario(const Scenario& sc, Env* base, const std::string& path, const std::string& env_name,
                 const std::vector<Sweep>& sweeps) {
  const auto started = std::chrono::steady_clock::now();
  Runner runner(sc, base, path);
  std::string e = runner.build();
  ASSERT_EQ("", e);
  std::map<OpKind, uint64_t> counts;
  e = runner.learn(&counts);
  ASSERT_EQ("", e) << "the run without a fault";

  std::string summary;
  for (OpKind kind : kKinds) {
    summary += std::string(" ") + FaultInjectionEnv::op_kind_name(kind) + "=" + std::to_string(counts[kind]);
  }
  std::printf("[ %s/%s ] N:%s\n", env_name.c_str(), sc.name.c_str(), summary.c_str());
  ASSERT_GT(counts[OpKind::kSync], 0u);
  ASSERT_GT(counts[OpKind::kSyncDir], 0u);

  // LIGHTNING_LSM_CRASH_VERBOSE=1 prints every run.
  const char* verbose_env = std::getenv("LIGHTNING_LSM_CRASH_VERBOSE");
  const bool verbose = verbose_env != nullptr && *verbose_env != '\0' && *verbose_env != '0';
  int runs = 0;
  std::vector<std::string> failures;
  uint64_t offset = 0;
  for (const Sweep& sw : sweeps) {
    for (uint64_t i : Steps(counts[sw.kind], sw.max_points, offset++)) {
      runs++;
      const std::string f = runner.run(sw.kind, i, sw.fault);
      if (verbose) {
        std::printf("  %s at %s #%" PRIu64 " [%s]: %s\n", FaultName(sw.fault), FaultInjectionEnv::op_kind_name(sw.kind),
                    i, runner.label().c_str(), f.empty() ? "ok" : f.c_str());
      }
      if (!f.empty()) {
        failures.push_back(std::string(FaultName(sw.fault)) + " at " + FaultInjectionEnv::op_kind_name(sw.kind) +
                           " #" + std::to_string(i) + " [" + runner.label() + "]: " + f);
      }
    }
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ %s/%s ] %d runs, %zu failed, %.1f s\n", env_name.c_str(), sc.name.c_str(), runs, failures.size(),
              secs);
  if (!failures.empty()) {
    std::string msg;
    for (size_t k = 0; k < failures.size() && k < 12; k++) msg += "\n  " + failures[k];
    if (failures.size() > 12) msg += "\n  ... and " + std::to_string(failures.size() - 12) + " more";
    ADD_FAILURE() << sc.name << " on the " << env_name << " Env: " << failures.size() << " of " << runs
                  << " runs failed:" << msg;
  }
}

void RunOnMemoryEnv(const Scenario& sc) {
  auto base = NewMemoryEnv();
  RunScenario(sc, base.get(), "/db", "memory", MemorySweeps());
}

void RunOnPosixEnv(const Scenario& sc) {
  test::TempDir dir("lsm_crash_test");
  RunScenario(sc, Env::Default(), dir.path() + "/db", "posix", PosixSweeps());
}

TEST(LsmCrashTest, FlushMemoryEnv) { RunOnMemoryEnv(FlushScenario()); }
TEST(LsmCrashTest, CompactionMemoryEnv) { RunOnMemoryEnv(CompactionScenario()); }
TEST(LsmCrashTest, RecoveryFlushMemoryEnv) { RunOnMemoryEnv(RecoveryFlushScenario()); }
TEST(LsmCrashTest, BackgroundFlushMemoryEnv) { RunOnMemoryEnv(BackgroundFlushScenario()); }
TEST(LsmCrashTest, BackgroundCompactionMemoryEnv) { RunOnMemoryEnv(BackgroundCompactionScenario()); }

TEST(LsmCrashTest, FlushPosixEnv) { RunOnPosixEnv(FlushScenario()); }
TEST(LsmCrashTest, CompactionPosixEnv) { RunOnPosixEnv(CompactionScenario()); }
TEST(LsmCrashTest, RecoveryFlushPosixEnv) { RunOnPosixEnv(RecoveryFlushScenario()); }
TEST(LsmCrashTest, BackgroundFlushPosixEnv) { RunOnPosixEnv(BackgroundFlushScenario()); }
TEST(LsmCrashTest, BackgroundCompactionPosixEnv) { RunOnPosixEnv(BackgroundCompactionScenario()); }
TEST(LsmCrashTest, BackgroundTreeMergeMemoryEnv) { RunOnMemoryEnv(BackgroundTreeMergeScenario()); }
TEST(LsmCrashTest, BackgroundTreeMergePosixEnv) { RunOnPosixEnv(BackgroundTreeMergeScenario()); }

// The checks the sweeps rely on do catch what they are meant to catch.
TEST(LsmCrashTest, ChecksCatchLostWritesWrongValuesAndDebris) {
  auto base = NewMemoryEnv();
  FaultInjectionEnv env(base.get());
  Options o = CrashOptions(&env);
  o.wal_sync_mode = WalSyncMode::kOff;  // nothing is durable before close
  auto r = Database::open("/db", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());
  Model model;
  ASSERT_TRUE(db->put(Key(1), "one").ok());
  model.record(Key(1), std::string("one"), Status::OK());
  EXPECT_EQ("", model.check(db.get()));
  EXPECT_EQ("", CheckFiles(base.get(), "/db", TotalTables(db->stats())));

  // A wrong value, a resurrected key, a key that should not exist.
  Model wrong = model;
  wrong.record(Key(1), std::string("uno"), Status::OK());
  EXPECT_NE("", wrong.check(db.get()));
  Model removed = model;
  removed.record(Key(1), std::nullopt, Status::OK());
  EXPECT_NE("", removed.check(db.get()));
  ASSERT_TRUE(db->put(Key(99991), "never acknowledged").ok());
  EXPECT_NE("", model.check(db.get()));
  // ...unless a failed write may have written it.
  Model maybe = model;
  maybe.record(Key(99991), std::string("never acknowledged"), Status::IOError("failed"));
  EXPECT_EQ("", maybe.check(db.get()));

  // Debris: a table the database does not list, a MANIFEST.tmp, a second log.
  const int tables = TotalTables(db->stats());
  ASSERT_TRUE(WriteStringToFile(base.get(), "x", "/db/000099.sst", false).ok());
  EXPECT_NE("", CheckFiles(base.get(), "/db", tables));
  ASSERT_TRUE(base->remove_file("/db/000099.sst").ok());
  ASSERT_TRUE(WriteStringToFile(base.get(), "x", "/db/MANIFEST.tmp", false).ok());
  EXPECT_NE("", CheckFiles(base.get(), "/db", tables));
  ASSERT_TRUE(base->remove_file("/db/MANIFEST.tmp").ok());
  ASSERT_TRUE(WriteStringToFile(base.get(), "x", "/db/000098.log", false).ok());
  EXPECT_NE("", CheckFiles(base.get(), "/db", tables));
  ASSERT_TRUE(base->remove_file("/db/000098.log").ok());
  EXPECT_EQ("", CheckFiles(base.get(), "/db", tables));

  // A lost acknowledged write: unsynced (kOff) data does not survive a power cut.
  env.set_filesystem_active(false);
  db.reset();
  ASSERT_TRUE(env.drop_unsynced_data().ok());
  env.set_filesystem_active(true);
  r = Database::open("/db", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  db = std::move(r.value());
  EXPECT_NE("", model.check(db.get()));
}

// ---------------------------------------------------------------- known bugs
//
// The two tests below are minimal reproductions of engine bugs the sweeps
// above found. They are enabled on purpose: they fail until src/ is fixed.

// KNOWN BUG 1 -- fix in src/db/db_impl.cc, DBImpl::switch_memtable().
// A memtable switch creates the next log but never syncs the directory, so
// the new log's directory entry only becomes durable at the flush's
// sync_dir. A write acknowledged with sync = true into the new log before
// that (the write that triggered the switch, and any write while the flush
// runs) is lost by a power cut: the whole file disappears. Here the flush's
// table cannot be created (one failed I/O), so no sync_dir ever comes; the
// sweeps hit the same window with a plain crash anywhere in the flush before
// its directory sync. Fix: sync_dir(dbname_) after creating the log (or on
// the new log's first sync, as RocksDB does).
TEST(LsmCrashBugTest, SyncedWriteIntoTheNextLogSurvivesAPowerCut) {
  auto base = NewMemoryEnv();
  FaultInjectionEnv fault(base.get());
  TracingEnv env(&fault);
  Options o = CrashOptions(&env);
  auto r = Database::open("/db", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::unique_ptr<Database> db = std::move(r.value());
  Model model;
  int n = 0;
  while (db->stats().memtable_bytes < o.memtable_size) {
    ASSERT_TRUE(Put(db.get(), &model, Key(n), Value(Key(n), 1, 1000)).ok());
    n++;
  }
  env.clear();
  // create #1: the next log (by the write below); #2: the flush's table.
  fault.fail_nth_call(OpKind::kCreateFile, 2, /*deactivate_filesystem=*/false);
  ASSERT_TRUE(Put(db.get(), &model, Key(n), Value(Key(n), 1, 1000)).ok());  // acknowledged, fsynced
  ASSERT_TRUE(EndsWith(env.describe(OpKind::kCreateFile, 1), ".log")) << env.describe(OpKind::kCreateFile, 1);

  // Power cut.
  fault.set_filesystem_active(false);
  db.reset();
  ASSERT_TRUE(fault.drop_unsynced_data().ok());
  fault.set_filesystem_active(true);
  fault.clear_error_injection();

  r = Database::open("/db", o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  db = std::move(r.value());
  EXPECT_EQ("", model.check(db.get())) << "the write of " << Key(n) << " was acknowledged with sync = true";
}

// KNOWN BUG 2 -- fix in src/db/db_impl.cc, DBImpl::flush_front_memtable()
// and DBImpl::run_compaction().
// When the manifest write fails after its rename (the directory sync fails),
// the new MANIFEST, listing the new tables, is already in place; apply_edit
// rightly makes this a sticky error ("neither set of files can be deleted"),
// but the callers then delete the new tables anyway. The next open refuses
// the database: "Corruption: ...sst: listed in the MANIFEST but missing".
// (A compaction does the same with its outputs.) Fix: once apply_edit has
// been tried, leave the outputs; the next open deletes whatever the
// MANIFEST that survived does not list.
TEST(LsmCrashBugTest, FailedManifestDirSyncKeepsTheTablesTheNewManifestLists) {
  auto setup = [](FaultInjectionEnv* fault, TracingEnv* env, std::unique_ptr<Database>* db, Model* model) {
    auto r = Database::open("/db", CrashOptions(env));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    *db = std::move(r.value());
    for (int i = 0; i < 50; i++) ASSERT_TRUE(Put(db->get(), model, Key(i), Value(Key(i), 1, 500)).ok());
    fault->reset_counters();
    env->clear();
  };
  // A dry run finds the sync_dir that follows the MANIFEST's rename.
  uint64_t manifest_sync_dir = 0;
  {
    auto base = NewMemoryEnv();
    FaultInjectionEnv fault(base.get());
    TracingEnv env(&fault);
    std::unique_ptr<Database> db;
    Model model;
    setup(&fault, &env, &db, &model);
    ASSERT_TRUE(db->flush().ok());
    uint64_t sync_dirs = 0;
    bool renamed = false;
    for (const auto& [kind, what] : env.calls()) {
      if (kind == OpKind::kRename && what == "MANIFEST.tmp -> MANIFEST") renamed = true;
      if (kind == OpKind::kSyncDir) {
        sync_dirs++;
        if (renamed) {
          manifest_sync_dir = sync_dirs;
          break;
        }
      }
    }
    ASSERT_GT(manifest_sync_dir, 0u);
  }

  auto base = NewMemoryEnv();
  FaultInjectionEnv fault(base.get());
  TracingEnv env(&fault);
  std::unique_ptr<Database> db;
  Model model;
  setup(&fault, &env, &db, &model);
  fault.fail_nth_call(OpKind::kSyncDir, manifest_sync_dir, /*deactivate_filesystem=*/false);
  Status s = db->flush();
  EXPECT_TRUE(s.IsIOError()) << s.ToString();
  EXPECT_EQ(1u, fault.injected_error_count());
  (void)db->close();
  db.reset();
  fault.clear_error_injection();

  auto r = Database::open("/db", CrashOptions(&env));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  db = std::move(r.value());
  EXPECT_EQ("", model.check(db.get()));
}

}  // namespace
}  // namespace lightning
