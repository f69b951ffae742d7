// Copyright (c) Lightning authors. MIT License.
//
// The engine registry and the null engine. The null engine does no work at
// all, so a run against it measures the harness alone: key formatting, value
// stamping, timing and histogram recording. Its numbers bound the harness
// overhead included in every other engine's numbers.
#include <memory>
#include <string>
#include <vector>

#include "engine.h"

namespace lightning::bench {

const char* compression_name(Compression c) {
  switch (c) {
    case Compression::kNone: return "none";
    case Compression::kZstd: return "zstd";
    case Compression::kLz4: return "lz4";
    case Compression::kSnappy: return "snappy";
  }
  return "?";
}

namespace {

class NullEngine final : public Engine {
 public:
  const char* name() const override { return "null"; }
  std::string version() const override { return "-"; }
  uint32_t capabilities() const override { return kCapWriteBatch | kCapStoresNothing; }
  std::vector<std::string> settings() const override {
    return {"stores nothing: measures the harness overhead only"};
  }
  bool open(const EngineConfig&, std::string*) override { return true; }
  bool close(std::string*) override { return true; }
  bool put(std::string_view, std::string_view, bool, std::string*) override { return true; }
  bool remove(std::string_view, bool, std::string*) override { return true; }
  GetResult get(std::string_view, std::string*, std::string*) override { return GetResult::kNotFound; }
  bool write_batch(const std::string_view*, const std::string_view*, size_t, bool, std::string*) override {
    return true;
  }
  bool sync(std::string*) override { return true; }
};

}  // namespace

std::unique_ptr<Engine> new_null_engine() { return std::make_unique<NullEngine>(); }

const std::vector<EngineInfo>& compiled_engines() {
  static const std::vector<EngineInfo> engines = {
#ifdef LIGHTNING_BENCH_HAVE_LIGHTNING
      {"lightning", &new_lightning_engine, true},
#endif
#ifdef LIGHTNING_BENCH_HAVE_ROCKSDB
      {"rocksdb", &new_rocksdb_engine, true},
#endif
#ifdef LIGHTNING_BENCH_HAVE_LEVELDB
      {"leveldb", &new_leveldb_engine, true},
#endif
#ifdef LIGHTNING_BENCH_HAVE_LMDB
      {"lmdb", &new_lmdb_engine, true},
#endif
      {"null", &new_null_engine, false},
  };
  return engines;
}

}  // namespace lightning::bench
