// Copyright (c) Lightning authors. MIT License.
//
// LMDB adapter. One write transaction per put/remove (LMDB's unit of
// commit). Unsynced workloads run with MDB_NOSYNC (commits reach the OS page
// cache, no fsync), synced ones without it, so each synced write is a real
// durable LMDB commit. Reads reuse one read-only transaction per thread via
// mdb_txn_reset/mdb_txn_renew, the idiomatic fast path. LMDB has no cache of
// its own (it reads through mmap and the OS page cache) and no compression.
// Scans use an MDB_cursor opened in the thread's read transaction (renewed
// for the cursor's lifetime), so key() and value() point into the map with no
// copy. LMDB has no compaction: the "compact" workload is not applicable.
#include <lmdb.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine.h"

namespace lightning::bench {
namespace {

// The calling thread's reusable read transaction (thread_begin/thread_end).
thread_local MDB_txn* tls_read_txn = nullptr;

// A cursor in the calling thread's read transaction, which it renews when
// created and resets when destroyed (one cursor per thread at a time).
class LmdbCursor final : public Cursor {
 public:
  LmdbCursor(MDB_txn* txn, MDB_cursor* cursor) : txn_(txn), cursor_(cursor) {}
  ~LmdbCursor() override {
    mdb_cursor_close(cursor_);
    mdb_txn_reset(txn_);
  }
  void seek_to_first() override { get(MDB_FIRST); }
  void seek_to_last() override { get(MDB_LAST); }
  void seek(std::string_view target) override {
    key_ = MDB_val{target.size(), const_cast<char*>(target.data())};
    get(MDB_SET_RANGE);
  }
  void next() override { get(MDB_NEXT); }
  void prev() override { get(MDB_PREV); }
  bool valid() const override { return valid_; }
  std::string_view key() const override {
    return std::string_view(static_cast<const char*>(key_.mv_data), key_.mv_size);
  }
  std::string_view value() const override {
    return std::string_view(static_cast<const char*>(value_.mv_data), value_.mv_size);
  }
  bool status(std::string* error) const override {
    if (rc_ == 0 || rc_ == MDB_NOTFOUND) return true;
    *error = std::string("mdb_cursor_get: ") + mdb_strerror(rc_);
    return false;
  }

 private:
  void get(MDB_cursor_op op) {
    rc_ = mdb_cursor_get(cursor_, &key_, &value_, op);
    valid_ = rc_ == 0;
  }

  MDB_txn* const txn_;
  MDB_cursor* const cursor_;
  MDB_val key_{0, nullptr};
  MDB_val value_{0, nullptr};
  int rc_ = 0;
  bool valid_ = false;
};

class LmdbEngine final : public Engine {
 public:
  ~LmdbEngine() override {
    std::string ignored;
    close(&ignored);
  }

  const char* name() const override { return "lmdb"; }
  std::string version() const override {
    return std::to_string(MDB_VERSION_MAJOR) + "." + std::to_string(MDB_VERSION_MINOR) + "." +
           std::to_string(MDB_VERSION_PATCH);
  }
  uint32_t capabilities() const override { return kCapWriteBatch | kCapIterator | kCapTransaction; }
  std::vector<std::string> settings() const override { return settings_; }

  bool open(const EngineConfig& config, std::string* error) override {
    int rc = mdb_env_create(&env_);
    if (rc != 0) return fail("mdb_env_create", rc, error);
    // Room for every key with B+tree and free-list overhead, at least 1 GiB.
    // The file is sparse, so a generous map costs address space, not disk.
    const uint64_t per_entry = config.key_size + config.value_size + 64;
    uint64_t map_size = std::max<uint64_t>(uint64_t{1} << 30, config.num * per_entry * 4);
    map_size = (map_size + (uint64_t{1} << 20) - 1) & ~((uint64_t{1} << 20) - 1);
    rc = mdb_env_set_mapsize(env_, map_size);
    if (rc != 0) return fail("mdb_env_set_mapsize", rc, error);
    rc = mdb_env_set_maxreaders(env_, static_cast<unsigned>(config.threads) + 16);
    if (rc != 0) return fail("mdb_env_set_maxreaders", rc, error);
    rc = mdb_env_open(env_, config.path.c_str(), MDB_NOSYNC, 0644);
    if (rc != 0) return fail("mdb_env_open", rc, error);
    nosync_ = true;

    MDB_txn* txn = nullptr;
    rc = mdb_txn_begin(env_, nullptr, 0, &txn);
    if (rc != 0) return fail("mdb_txn_begin", rc, error);
    rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
    if (rc != 0) {
      mdb_txn_abort(txn);
      return fail("mdb_dbi_open", rc, error);
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return fail("mdb_txn_commit", rc, error);

    settings_.clear();
    settings_.push_back("map_size=" + std::to_string(map_size) + " bytes (sparse); no cache of its own: reads go "
                        "through mmap and the OS page cache (--cache_size cannot be applied)");
    settings_.push_back("MDB_NOSYNC for unsynced writes, a synced commit for synced writes; one write txn per op");
    settings_.push_back(config.compression == Compression::kNone
                            ? std::string("compression=none")
                            : std::string("compression=none: LMDB has no compression (--compression=") +
                                  compression_name(config.compression) + " NOT APPLIED)");
    return true;
  }

  bool close(std::string* error) override {
    if (env_ == nullptr) return true;
    // Unsynced commits are only in the page cache; close durably like the
    // other engines' close does.
    mdb_env_sync(env_, 1);
    mdb_env_close(env_);  // also closes dbi_
    env_ = nullptr;
    return true;
  }

  void thread_begin() override {
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) == 0) {
      mdb_txn_reset(txn);
      tls_read_txn = txn;
    }
  }

  void thread_end() override {
    if (tls_read_txn != nullptr) {
      mdb_txn_abort(tls_read_txn);
      tls_read_txn = nullptr;
    }
  }

  // One write transaction per put, as a one-entry batch.
  bool put(std::string_view key, std::string_view value, bool sync, std::string* error) override {
    return write_batch(&key, &value, 1, sync, error);
  }

  bool remove(std::string_view key, bool sync, std::string* error) override {
    MDB_txn* txn = nullptr;
    int rc = begin_write(sync, &txn);
    if (rc != 0) return fail("mdb_txn_begin", rc, error);
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    rc = mdb_del(txn, dbi_, &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) {
      mdb_txn_abort(txn);
      return fail("mdb_del", rc, error);
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return fail("mdb_txn_commit", rc, error);
    return true;
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    MDB_txn* txn = tls_read_txn;
    if (txn == nullptr) {
      *error = "lmdb: get() outside thread_begin()/thread_end()";
      return GetResult::kError;
    }
    int rc = mdb_txn_renew(txn);
    if (rc != 0) {
      fail("mdb_txn_renew", rc, error);
      return GetResult::kError;
    }
    MDB_val k{key.size(), const_cast<char*>(key.data())};
    MDB_val v{0, nullptr};
    rc = mdb_get(txn, dbi_, &k, &v);
    GetResult result = GetResult::kFound;
    if (rc == 0) {
      // Copy out like every other engine does: the mapped bytes are only
      // valid while the transaction is live.
      value->assign(static_cast<const char*>(v.mv_data), v.mv_size);
    } else if (rc == MDB_NOTFOUND) {
      result = GetResult::kNotFound;
    } else {
      fail("mdb_get", rc, error);
      result = GetResult::kError;
    }
    mdb_txn_reset(txn);
    return result;
  }

  bool write_batch(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                   std::string* error) override {
    MDB_txn* txn = nullptr;
    int rc = begin_write(sync, &txn);
    if (rc != 0) return fail("mdb_txn_begin", rc, error);
    for (size_t i = 0; i < n; ++i) {
      MDB_val k{keys[i].size(), const_cast<char*>(keys[i].data())};
      MDB_val v{values[i].size(), const_cast<char*>(values[i].data())};
      rc = mdb_put(txn, dbi_, &k, &v, 0);
      if (rc != 0) {
        mdb_txn_abort(txn);
        return fail("mdb_put", rc, error);
      }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) return fail("mdb_txn_commit", rc, error);
    return true;
  }

  // LMDB serializes write transactions (one writer at a time), so a
  // transaction never conflicts.
  TxnResult read_modify_write(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                              std::string* error) override {
    MDB_txn* txn = nullptr;
    int rc = begin_write(sync, &txn);
    if (rc != 0) {
      fail("mdb_txn_begin", rc, error);
      return TxnResult::kError;
    }
    for (size_t i = 0; i < n; ++i) {
      MDB_val k{keys[i].size(), const_cast<char*>(keys[i].data())};
      MDB_val v{0, nullptr};
      rc = mdb_get(txn, dbi_, &k, &v);
      if (rc != 0 && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        fail("mdb_get", rc, error);
        return TxnResult::kError;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      MDB_val k{keys[i].size(), const_cast<char*>(keys[i].data())};
      MDB_val v{values[i].size(), const_cast<char*>(values[i].data())};
      rc = mdb_put(txn, dbi_, &k, &v, 0);
      if (rc != 0) {
        mdb_txn_abort(txn);
        fail("mdb_put", rc, error);
        return TxnResult::kError;
      }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
      fail("mdb_txn_commit", rc, error);
      return TxnResult::kError;
    }
    return TxnResult::kCommitted;
  }

  bool sync(std::string* error) override {
    int rc = mdb_env_sync(env_, 1);
    if (rc != 0) return fail("mdb_env_sync", rc, error);
    return true;
  }

  std::unique_ptr<Cursor> new_cursor(std::string* error) override {
    MDB_txn* txn = tls_read_txn;
    if (txn == nullptr) {
      *error = "lmdb: new_cursor() outside thread_begin()/thread_end()";
      return nullptr;
    }
    int rc = mdb_txn_renew(txn);
    if (rc != 0) {
      fail("mdb_txn_renew", rc, error);
      return nullptr;
    }
    MDB_cursor* cursor = nullptr;
    rc = mdb_cursor_open(txn, dbi_, &cursor);
    if (rc != 0) {
      mdb_txn_reset(txn);
      fail("mdb_cursor_open", rc, error);
      return nullptr;
    }
    return std::make_unique<LmdbCursor>(txn, cursor);
  }

  CompactResult compact(std::string* error) override {
    *error = "LMDB has no compaction (a B+tree updated in place; freed pages are reused)";
    return CompactResult::kNotApplicable;
  }

  // The B+tree's shape, named like Lightning's tree figures.
  EngineStats stats() override {
    EngineStats st;
    MDB_txn* txn = nullptr;
    if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return st;
    MDB_stat ms;
    if (mdb_stat(txn, dbi_, &ms) == 0) {
      const uint64_t pages = ms.ms_branch_pages + ms.ms_leaf_pages + ms.ms_overflow_pages;
      st.extra.emplace_back("tree_height", std::to_string(ms.ms_depth));
      st.extra.emplace_back("tree_entries", std::to_string(ms.ms_entries));
      st.extra.emplace_back("tree_bytes", std::to_string(pages * ms.ms_psize));
    }
    mdb_txn_abort(txn);
    MDB_envinfo info;
    MDB_stat es;
    if (mdb_env_info(env_, &info) == 0 && mdb_env_stat(env_, &es) == 0) {
      st.extra.emplace_back("tree_file_bytes", std::to_string((info.me_last_pgno + 1) * es.ms_psize));
    }
    return st;
  }

 private:
  // Begins a write transaction and, while holding LMDB's writer lock (so no
  // other commit reads the flags concurrently), switches MDB_NOSYNC to match
  // the write. Workloads never mix synced and unsynced writes, so this
  // switches at most once per workload.
  int begin_write(bool sync, MDB_txn** txn) {
    int rc = mdb_txn_begin(env_, nullptr, 0, txn);
    if (rc != 0) return rc;
    if (nosync_ == sync) {
      rc = mdb_env_set_flags(env_, MDB_NOSYNC, sync ? 0 : 1);
      if (rc != 0) {
        mdb_txn_abort(*txn);
        return rc;
      }
      nosync_ = !sync;
    }
    return 0;
  }

  static bool fail(const char* what, int rc, std::string* error) {
    *error = std::string(what) + ": " + mdb_strerror(rc);
    return false;
  }

  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;
  bool nosync_ = true;  // guarded by LMDB's writer lock (see begin_write)
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_lmdb_engine() { return std::make_unique<LmdbEngine>(); }

}  // namespace lightning::bench
