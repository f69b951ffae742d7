// Copyright (c) Lightning authors. MIT License.
//
// LevelDB adapter. Defaults except: an LRU block cache of --cache_size, a
// bloom filter of --bloom_bits, compression off unless --compression=snappy
// (the only codec LevelDB has), WriteOptions::sync only for synced workloads.
// Scans use leveldb::Iterator with default ReadOptions; "compact" is
// CompactRange(nullptr, nullptr). LevelDB does not count block cache hits.
#include <memory>
#include <string>
#include <vector>

#include "engine.h"
#include "leveldb/cache.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"

namespace lightning::bench {
namespace {

class LevelDbCursor final : public Cursor {
 public:
  explicit LevelDbCursor(leveldb::Iterator* it) : it_(it) {}
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek_to_last() override { it_->SeekToLast(); }
  void seek(std::string_view target) override { it_->Seek(leveldb::Slice(target.data(), target.size())); }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override {
    const leveldb::Slice k = it_->key();
    return std::string_view(k.data(), k.size());
  }
  std::string_view value() const override {
    const leveldb::Slice v = it_->value();
    return std::string_view(v.data(), v.size());
  }
  bool status(std::string* error) const override {
    const leveldb::Status s = it_->status();
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

 private:
  std::unique_ptr<leveldb::Iterator> it_;
};

class LevelDbEngine final : public Engine {
 public:
  ~LevelDbEngine() override {
    std::string ignored;
    close(&ignored);
  }

  const char* name() const override { return "leveldb"; }
  std::string version() const override {
    return std::to_string(leveldb::kMajorVersion) + "." + std::to_string(leveldb::kMinorVersion);
  }
  uint32_t capabilities() const override { return kCapWriteBatch | kCapIterator; }
  std::vector<std::string> settings() const override { return settings_; }

  bool open(const EngineConfig& config, std::string* error) override {
    leveldb::Options options;
    options.create_if_missing = config.create_fresh;
    options.error_if_exists = config.create_fresh;
    cache_.reset(leveldb::NewLRUCache(config.cache_size));
    options.block_cache = cache_.get();
    if (config.bloom_bits > 0) {
      filter_.reset(leveldb::NewBloomFilterPolicy(config.bloom_bits));
      options.filter_policy = filter_.get();
    }
    if (config.write_buffer_size != 0) options.write_buffer_size = config.write_buffer_size;
    settings_.clear();
    if (config.compression == Compression::kSnappy) {
      options.compression = leveldb::kSnappyCompression;
      settings_.push_back("compression=snappy");
    } else {
      options.compression = leveldb::kNoCompression;
      settings_.push_back(config.compression == Compression::kNone
                              ? std::string("compression=none")
                              : std::string("compression=none: LevelDB has no ") +
                                    compression_name(config.compression) + " codec (NOT APPLIED)");
    }
    settings_.push_back("block_cache=LRU " + std::to_string(config.cache_size) + " bytes; bloom_bits=" +
                        std::to_string(config.bloom_bits) + "; write_buffer_size=" +
                        std::to_string(options.write_buffer_size) +
                        (config.write_buffer_size == 0 ? " (default)" : ""));
    settings_.push_back("log written per commit, WriteOptions::sync for synced writes");

    leveldb::DB* db = nullptr;
    leveldb::Status s = leveldb::DB::Open(options, config.path, &db);
    if (!s.ok()) {
      *error = s.ToString();
      return false;
    }
    db_.reset(db);
    return true;
  }

  bool close(std::string* error) override {
    // The DB must go before the cache and filter it points to.
    db_.reset();
    cache_.reset();
    filter_.reset();
    return true;
  }

  bool put(std::string_view key, std::string_view value, bool sync, std::string* error) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Put(wo, leveldb::Slice(key.data(), key.size()), leveldb::Slice(value.data(), value.size())),
                 error);
  }

  bool remove(std::string_view key, bool sync, std::string* error) override {
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Delete(wo, leveldb::Slice(key.data(), key.size())), error);
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    leveldb::Status s = db_->Get(leveldb::ReadOptions(), leveldb::Slice(key.data(), key.size()), value);
    if (s.ok()) return GetResult::kFound;
    if (s.IsNotFound()) return GetResult::kNotFound;
    *error = s.ToString();
    return GetResult::kError;
  }

  bool write_batch(const std::string_view* keys, const std::string_view* values, size_t n, bool sync,
                   std::string* error) override {
    leveldb::WriteBatch batch;
    for (size_t i = 0; i < n; ++i) {
      batch.Put(leveldb::Slice(keys[i].data(), keys[i].size()), leveldb::Slice(values[i].data(), values[i].size()));
    }
    leveldb::WriteOptions wo;
    wo.sync = sync;
    return check(db_->Write(wo, &batch), error);
  }

  // LevelDB has no SyncWAL(): a synced empty batch appends an empty record to
  // the log and fsyncs it, which makes every earlier write durable.
  bool sync(std::string* error) override {
    leveldb::WriteBatch empty;
    leveldb::WriteOptions wo;
    wo.sync = true;
    return check(db_->Write(wo, &empty), error);
  }

  std::unique_ptr<Cursor> new_cursor(std::string* error) override {
    leveldb::Iterator* it = db_->NewIterator(leveldb::ReadOptions());
    if (it == nullptr) {
      *error = "NewIterator returned null";
      return nullptr;
    }
    return std::make_unique<LevelDbCursor>(it);
  }

  // Compacts the memtable, then every level overlapping the range.
  CompactResult compact(std::string* error) override {
    db_->CompactRange(nullptr, nullptr);
    return CompactResult::kDone;
  }

  EngineStats stats() override {
    EngineStats st;
    std::string files;
    for (int level = 0; level < 7; ++level) {  // leveldb::config::kNumLevels (not in the public headers)
      std::string v;
      if (!db_->GetProperty("leveldb.num-files-at-level" + std::to_string(level), &v)) v = "?";
      files += (level ? "," : "") + v;
    }
    st.extra.emplace_back("level_files", files);
    return st;
  }

 private:
  static bool check(const leveldb::Status& s, std::string* error) {
    if (s.ok()) return true;
    *error = s.ToString();
    return false;
  }

  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;  // declared last: destroyed first
  std::vector<std::string> settings_;
};

}  // namespace

std::unique_ptr<Engine> new_leveldb_engine() { return std::make_unique<LevelDbEngine>(); }

}  // namespace lightning::bench
