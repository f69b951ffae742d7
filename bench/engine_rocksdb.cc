// Copyright (c) Lightning authors. MIT License.
//
// RocksDB adapter. Defaults except: an LRU block cache of --cache_size, a
// full bloom filter of --bloom_bits, the requested compression (none by
// default, bottommost level included), and WriteOptions::sync only for the
// synced workloads (the WAL is written per commit but not fsynced otherwise).
// Scans use rocksdb::Iterator with default ReadOptions; "compact" is
// CompactRange(nullptr, nullptr) with default CompactRangeOptions (as
// db_bench's compact). With --statistics=1 RocksDB keeps its Statistics and
// the block cache hit rate is reported; without it (the default: statistics
// cost RocksDB a few percent) the hit rate is n/a.
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/statistics.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/optimistic_transaction_db.h"
#include "rocksdb/utilities/transaction.h"
#include "rocksdb/version.h"
#include "rocksdb/write_batch.h"

namespace lightning::bench {
namespace {

class RocksDbCursor final : public Cursor {
 public:
  explicit RocksDbCursor(rocksdb::Iterator* it) : it_(it) {}
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek_to_last() override { it_->SeekToLast(); }
  void seek(std::string_view target) override { it_->Seek(rocksdb::Slice(target.data(), target.size())); }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override {
    const rocksdb::Slice k = it_->key();
    return std::string_view(k.data(), k.size());
  }
  std::string_view value() const override {
    const rocksdb::Slice v = it_->value();
    return std::string_view(v.data(), v.size());
  }
  bool status(std::string* error) const override {
    const rocksdb::Status s = it_->status();
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

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
    statistics_.reset();
    if (config.statistics) {
      statistics_ = rocksdb::CreateDBStatistics();
      options.statistics = statistics_;
    }
    num_levels_ = options.num_levels;

    settings_.clear();
    settings_.push_back("block_cache=LRU " + std::to_string(config.cache_size) + " bytes; bloom_bits=" +
                        std::to_string(config.bloom_bits) + " (full filter)");
    settings_.push_back("write_buffer_size=" + std::to_string(options.write_buffer_size) +
                        (config.write_buffer_size == 0 ? " (default)" : "") +
                        "; max_background_jobs=" + std::to_string(options.max_background_jobs) + " (default)");
    settings_.push_back(std::string("compression=") + compression_name(config.compression) +
                        " (all levels); WAL written per commit, WriteOptions::sync for synced writes");
    settings_.push_back("opened as an OptimisticTransactionDB (txnlow/txnhigh use its transactions)");
    settings_.push_back(config.statistics ? "statistics=on (--statistics=1; block cache hit rate reported)"
                                          : "statistics=off (block cache hit rate n/a; --statistics=1 enables it)");

    // Opened as an OptimisticTransactionDB (RocksDB's counterpart of
    // Lightning's transactions) for txnlow/txnhigh; other workloads go
    // through it to the base DB unchanged.
    rocksdb::OptimisticTransactionDB* db = nullptr;
    rocksdb::Status s = rocksdb::OptimisticTransactionDB::Open(options, config.path, &db);
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    txn_db_ = db;
    db_.reset(db);
    return true;
  }

  TxnResult read_modify_write(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                              std::string* error) override {
    rocksdb::WriteOptions wo;
    wo.sync = sync;
    std::unique_ptr<rocksdb::Transaction> txn(txn_db_->BeginTransaction(wo));
    std::string value;
    for (size_t i = 0; i < n; ++i) {
      rocksdb::Status s = txn->Get(rocksdb::ReadOptions(), rocksdb::Slice(keys[i].data(), keys[i].size()), &value);
      if (!s.ok() && !s.IsNotFound()) {
        *error = s.ToString();
        return TxnResult::kError;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      rocksdb::Status s = txn->Put(rocksdb::Slice(keys[i].data(), keys[i].size()),
                                   rocksdb::Slice(values[i].data(), values[i].size()));
      if (!s.ok()) {
        *error = s.ToString();
        return TxnResult::kError;
      }
    }
    rocksdb::Status s = txn->Commit();
    if (s.ok()) return TxnResult::kCommitted;
    if (s.IsBusy() || s.IsTryAgain()) return TxnResult::kConflict;
    *error = s.ToString();
    return TxnResult::kError;
  }

  bool close(std::string* error) override {
    if (!db_) return true;
    txn_db_ = nullptr;
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

  std::unique_ptr<Cursor> new_cursor(std::string* error) override {
    rocksdb::Iterator* it = db_->NewIterator(rocksdb::ReadOptions());
    if (it == nullptr) {
      *error = "NewIterator returned null";
      return nullptr;
    }
    return std::make_unique<RocksDbCursor>(it);
  }

  CompactResult compact(std::string* error) override {
    return check(db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), error) ? CompactResult::kDone
                                                                                            : CompactResult::kError;
  }

  EngineStats stats() override {
    EngineStats st;
    if (statistics_) {
      st.cache_hits = static_cast<int64_t>(statistics_->getTickerCount(rocksdb::BLOCK_CACHE_HIT));
      st.cache_misses = static_cast<int64_t>(statistics_->getTickerCount(rocksdb::BLOCK_CACHE_MISS));
    }
    std::string files;
    for (int level = 0; level < num_levels_; ++level) {
      std::string v;
      if (!db_->GetProperty("rocksdb.num-files-at-level" + std::to_string(level), &v)) v = "?";
      files += (level ? "," : "") + v;
    }
    st.extra.emplace_back("level_files", files);
    return st;
  }

 private:
  static bool check(const rocksdb::Status& s, std::string* error) {
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  std::shared_ptr<rocksdb::Statistics> statistics_;
  int num_levels_ = 7;
  rocksdb::OptimisticTransactionDB* txn_db_ = nullptr;  // db_, as what it is
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_rocksdb_engine() { return std::make_unique<RocksDbEngine>(); }

}  // namespace lightning::bench
