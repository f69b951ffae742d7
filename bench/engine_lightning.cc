// Copyright (c) Lightning authors. MIT License.
//
// Lightning adapter: lightning::Database with WalSyncMode::kNormal (each
// commit reaches the OS before it returns, the log is fsynced in the
// background), and WriteOptions::sync for the synced workloads. That matches
// what the peers get: a write(2) per commit, an fsync only when asked for.
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "lightning/db.h"
#include "lightning/options.h"
#include "lightning/write_batch.h"

#ifndef LIGHTNING_BENCH_LIGHTNING_VERSION
#define LIGHTNING_BENCH_LIGHTNING_VERSION "unknown"
#endif

namespace lightning::bench {
namespace {

class LightningEngine final : public Engine {
 public:
  const char* name() const override { return "lightning"; }
  std::string version() const override { return LIGHTNING_BENCH_LIGHTNING_VERSION; }
  // Write batches (Database::write); no iterators or transactions in the
  // public API yet.
  uint32_t capabilities() const override { return kCapWriteBatch; }
  std::vector<std::string> settings() const override { return settings_; }

  bool open(const EngineConfig& config, std::string* error) override {
    Options options;
    options.wal_sync_mode = WalSyncMode::kNormal;
    options.create_if_missing = config.create_fresh;
    options.error_if_exists = config.create_fresh;
    settings_.clear();
    settings_.push_back("wal_sync_mode=kNormal (write(2) per commit, background fsync every " +
                        std::to_string(options.wal_sync_interval_ms) + " ms); WriteOptions::sync for synced writes");
    // Only report what is really applied: Options has no knob for these yet.
    settings_.push_back("cache: engine default (Options has no cache size yet; --cache_size not applied)");
    if (config.write_buffer_size != 0) {
      settings_.push_back("--write_buffer_size not applied (Options has no memtable size yet)");
    }
    settings_.push_back("bloom filter: engine default (--bloom_bits not applied)");
    if (config.compression != Compression::kNone) {
      settings_.push_back(std::string("compression: NOT APPLIED (--compression=") +
                          compression_name(config.compression) +
                          " requested, but Options has no compression setting yet; data is stored as the engine "
                          "defaults)");
    } else {
      settings_.push_back("compression: none requested (Options has no compression setting; engine default applies)");
    }
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

  bool sync(std::string* error) override {
    Status s = db_->sync_wal();
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

 private:
  std::unique_ptr<Database> db_;
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_lightning_engine() { return std::make_unique<LightningEngine>(); }

}  // namespace lightning::bench
