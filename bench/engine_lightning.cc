// Copyright (c) Lightning authors. MIT License.
//
// Lightning adapter: lightning::Database with WalSyncMode::kNormal (each
// commit reaches the OS before it returns, the log is fsynced in the
// background), and WriteOptions::sync for the synced workloads. That matches
// what the peers get: a write(2) per commit, an fsync only when asked for.
// Scans use the public Iterator (Database::new_iterator), "compact" is
// Database::compact(), and stats() reports DatabaseStats.
#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine.h"
#include "lightning/db.h"
#include "lightning/iterator.h"
#include "lightning/options.h"
#include "lightning/stats.h"
#include "lightning/write_batch.h"

#ifndef LIGHTNING_BENCH_LIGHTNING_VERSION
#define LIGHTNING_BENCH_LIGHTNING_VERSION "unknown"
#endif

namespace lightning::bench {
namespace {

class LightningCursor final : public Cursor {
 public:
  explicit LightningCursor(std::unique_ptr<Iterator> it) : it_(std::move(it)) {}
  void seek_to_first() override { it_->seek_to_first(); }
  void seek_to_last() override { it_->seek_to_last(); }
  void seek(std::string_view target) override { it_->seek(Slice(target)); }
  void next() override { it_->next(); }
  void prev() override { it_->prev(); }
  bool valid() const override { return it_->valid(); }
  std::string_view key() const override {
    const Slice k = it_->key();
    return std::string_view(k.data(), k.size());
  }
  std::string_view value() const override {
    const Slice v = it_->value();
    return std::string_view(v.data(), v.size());
  }
  bool status(std::string* error) const override {
    const Status s = it_->status();
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

 private:
  std::unique_ptr<Iterator> it_;
};

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

class LightningEngine final : public Engine {
 public:
  const char* name() const override { return "lightning"; }
  std::string version() const override { return LIGHTNING_BENCH_LIGHTNING_VERSION; }
  // Write batches (Database::write) and iterators; no transactions in the
  // public API yet.
  uint32_t capabilities() const override { return kCapWriteBatch | kCapIterator | kCapTransaction; }
  std::vector<std::string> settings() const override { return settings_; }

  bool open(const EngineConfig& config, std::string* error) override {
    Options options;
    options.wal_sync_mode = WalSyncMode::kNormal;
    options.create_if_missing = config.create_fresh;
    options.error_if_exists = config.create_fresh;
    settings_.clear();
    settings_.push_back("wal_sync_mode=kNormal (write(2) per commit, background fsync every " +
                        std::to_string(options.wal_sync_interval_ms) + " ms); WriteOptions::sync for synced writes");
    options.cache_size = config.cache_size;
    if (config.write_buffer_size != 0) options.memtable_size = config.write_buffer_size;
    options.bloom_bits_per_key = config.bloom_bits;
    switch (config.compression) {
      case Compression::kNone: options.compression = CompressionType::kNone; break;
      case Compression::kZstd: options.compression = CompressionType::kZstd; break;
      case Compression::kLz4: options.compression = CompressionType::kLz4; break;
      case Compression::kSnappy: options.compression = CompressionType::kSnappy; break;
    }
    settings_.push_back("cache_size=" + std::to_string(options.cache_size) + " (ARC block cache); bloom_bits_per_key=" +
                        std::to_string(options.bloom_bits_per_key));
    settings_.push_back("memtable_size=" + std::to_string(options.memtable_size) +
                        (config.write_buffer_size == 0 ? " (default)" : "") +
                        "; max_background_compactions=" + std::to_string(options.max_background_compactions));
    settings_.push_back(std::string("compression=") + compression_name(config.compression));
    auto result = Database::open(config.path, options);
    if (!result.ok()) {
      *error = result.status().ToString();
      return false;
    }
    db_ = std::move(result).value();
    return true;
  }

  bool close(std::string* error) override {
    if (!db_) return true;
    Status s = db_->close();
    db_.reset();
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    return true;
  }

  bool put(std::string_view key, std::string_view value, bool sync, std::string* error) override {
    WriteOptions wo;
    wo.sync = sync;
    Status s = db_->put(Slice(key), Slice(value), wo);
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  bool remove(std::string_view key, bool sync, std::string* error) override {
    WriteOptions wo;
    wo.sync = sync;
    Status s = db_->remove(Slice(key), wo);
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    Status s = db_->get(Slice(key), value, ReadOptions());
    if (s.ok()) return GetResult::kFound;
    if (s.IsNotFound()) return GetResult::kNotFound;
    *error = s.ToString();
    return GetResult::kError;
  }

  bool write_batch(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                   std::string* error) override {
    WriteBatch batch;
    for (size_t i = 0; i < n; ++i) {
      Status s = batch.put(Slice(keys[i]), Slice(values[i]));
      if (!s.ok()) {
        *error = s.ToString();
        return false;
      }
    }
    WriteOptions wo;
    wo.sync = sync;
    Status s = db_->write(batch, wo);
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  TxnResult read_modify_write(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                              std::string* error) override {
    TransactionOptions to;  // snapshot isolation
    to.write_options.sync = sync;
    auto begun = db_->begin_transaction(to);
    if (!begun.ok()) {
      *error = begun.status().ToString();
      return TxnResult::kError;
    }
    Transaction& txn = *begun.value();
    std::string value;
    for (size_t i = 0; i < n; ++i) {
      Status s = txn.get(Slice(keys[i]), &value);
      if (!s.ok() && !s.IsNotFound()) {
        *error = s.ToString();
        return TxnResult::kError;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      Status s = txn.put(Slice(keys[i]), Slice(values[i]));
      if (!s.ok()) {
        *error = s.ToString();
        return TxnResult::kError;
      }
    }
    Status s = txn.commit();
    if (s.ok()) return TxnResult::kCommitted;
    if (s.IsConflict()) return TxnResult::kConflict;
    *error = s.ToString();
    return TxnResult::kError;
  }

  bool sync(std::string* error) override {
    Status s = db_->sync_wal();
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  std::unique_ptr<Cursor> new_cursor(std::string* error) override {
    std::unique_ptr<Iterator> it = db_->new_iterator(ReadOptions());
    if (!it) {
      *error = "new_iterator returned null";
      return nullptr;
    }
    return std::make_unique<LightningCursor>(std::move(it));
  }

  CompactResult compact(std::string* error) override {
    Status s = db_->compact();
    if (s.ok()) return CompactResult::kDone;
    *error = s.ToString();
    return CompactResult::kError;
  }

  EngineStats stats() override {
    EngineStats out;
    const DatabaseStats st = db_->stats();
    out.cache_hits = static_cast<int64_t>(st.block_cache_hits + st.tree_pages_read_in_place);
    out.cache_misses = static_cast<int64_t>(st.block_cache_misses);
    out.extra.emplace_back("tree_height", std::to_string(st.tree_height));
    out.extra.emplace_back("tree_entries", std::to_string(st.tree_entries));
    out.extra.emplace_back("tree_bytes", std::to_string(st.tree_bytes));
    out.extra.emplace_back("tree_file_bytes", std::to_string(st.tree_file_bytes));
    std::string files;
    for (size_t i = 0; i < st.levels.size(); ++i) files += (i ? "," : "") + std::to_string(st.levels[i].files);
    out.extra.emplace_back("level_files", files);
    out.extra.emplace_back("write_amp", fixed2(st.write_amplification()));
    out.extra.emplace_back("tree_write_amp", fixed2(st.tree_write_amplification()));
    out.extra.emplace_back("memory_usage", std::to_string(st.memory_usage));
    return out;
  }

 private:
  std::unique_ptr<Database> db_;
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_lightning_engine() { return std::make_unique<LightningEngine>(); }

}  // namespace lightning::bench
