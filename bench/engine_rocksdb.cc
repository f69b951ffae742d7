// Copyright (c) Lightning authors. MIT License.
//
// RocksDB adapter. Defaults except: an LRU block cache of --cache_size, a
// full bloom filter of --bloom_bits, the requested compression (none by
// default, bottommost level included), and WriteOptions::sync only for the
// synced workloads (the WAL is written per commit but not fsynced otherwise).
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/version.h"
#include "rocksdb/write_batch.h"

namespace lightning::bench {
namespace {

class RocksDbEngine final : public Engine {
 public:
  const char* name() const override { return "rocksdb"; }
  std::string version() const override {
    return std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) + "." + std::to_string(ROCKSDB_PATCH);
  }
  uint32_t capabilities() const override { return kCapWriteBatch | kCapIterator | kCapTransaction; }
  std::vector<std::string> settings() const override { return settings_; }

  bool open(const EngineConfig& config, std::string* error) override {
    rocksdb::Options options;
    options.create_if_missing = config.create_fresh;
    options.error_if_exists = config.create_fresh;
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = rocksdb::NewLRUCache(config.cache_size);
    if (config.bloom_bits > 0) {
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(config.bloom_bits, /*use_block_based_builder=*/false));
    }
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    if (config.write_buffer_size != 0) options.write_buffer_size = config.write_buffer_size;
    rocksdb::CompressionType ct = rocksdb::kNoCompression;
    switch (config.compression) {
      case Compression::kNone: ct = rocksdb::kNoCompression; break;
      case Compression::kZstd: ct = rocksdb::kZSTD; break;
      case Compression::kLz4: ct = rocksdb::kLZ4Compression; break;
      case Compression::kSnappy: ct = rocksdb::kSnappyCompression; break;
    }
    // RocksDB defaults to snappy and may pick another codec per level: pin one.
    options.compression = ct;
    options.bottommost_compression = ct;
    options.compression_per_level.clear();

    settings_.clear();
    settings_.push_back("block_cache=LRU " + std::to_string(config.cache_size) + " bytes; bloom_bits=" +
                        std::to_string(config.bloom_bits) + " (full filter)");
    settings_.push_back("write_buffer_size=" + std::to_string(options.write_buffer_size) +
                        (config.write_buffer_size == 0 ? " (default)" : "") +
                        "; max_background_jobs=" + std::to_string(options.max_background_jobs) + " (default)");
    settings_.push_back(std::string("compression=") + compression_name(config.compression) +
                        " (all levels); WAL written per commit, WriteOptions::sync for synced writes");

    rocksdb::DB* db = nullptr;
    rocksdb::Status s = rocksdb::DB::Open(options, config.path, &db);
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    db_.reset(db);
    return true;
  }

  bool close(std::string* error) override {
    if (!db_) return true;
    rocksdb::Status s = db_->Close();
    db_.reset();
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    return true;
  }

  bool put(std::string_view key, std::string_view value, bool sync, std::string* error) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Put(wo, rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(value.data(), value.size())),
                 error);
  }

  bool remove(std::string_view key, bool sync, std::string* error) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Delete(wo, rocksdb::Slice(key.data(), key.size())), error);
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value);
    if (s.ok()) return GetResult::kFound;
    if (s.IsNotFound()) return GetResult::kNotFound;
    *error = s.ToString();
    return GetResult::kError;
  }

  bool write_batch(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                   std::string* error) override {
    rocksdb::WriteBatch batch;
    for (size_t i = 0; i < n; ++i) {
      rocksdb::Status s = batch.Put(rocksdb::Slice(keys[i].data(), keys[i].size()),
                                    rocksdb::Slice(values[i].data(), values[i].size()));
      if (!s.ok()) return check(s, error);
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Write(wo, &batch), error);
  }

  bool sync(std::string* error) override { return check(db_->SyncWAL(), error); }

 private:
  static bool check(const rocksdb::Status& s, std::string* error) {
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_rocksdb_engine() { return std::make_unique<RocksDbEngine>(); }

}  // namespace lightning::bench
