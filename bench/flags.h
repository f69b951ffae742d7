// Copyright (c) Lightning authors. MIT License.
//
// Command-line flags, in db_bench's spelling (--name=value).
#ifndef LIGHTNING_BENCH_FLAGS_H_
#define LIGHTNING_BENCH_FLAGS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "engine.h"

namespace lightning::bench {

// One entry of --benchmarks: a workload name, optionally with "@N" to run
// it on N client threads instead of --threads ("fillsync@4").
struct WorkloadEntry {
  std::string name;  // the workload: "fillsync"
  int threads = 0;   // 0: --threads
};

// Parses "name" or "name@N" (N in 1..1024; name must be a known workload).
// Returns false and fills *error otherwise.
bool parse_workload_entry(const std::string& entry, WorkloadEntry* out, std::string* error);

// The standard suite, run when --benchmarks is not given (see README.md).
const std::vector<std::string>& standard_suite();

struct Flags {
  std::vector<std::string> benchmarks = standard_suite();
  uint64_t num = 1000000;
  int64_t reads = -1;  // -1: same as num
  size_t value_size = 100;
  size_t key_size = 16;
  int threads = 1;
  size_t batch_size = 1000;  // entries per batch in fillbatch (db_bench's fillbatch: 1000)
  int readwritepercent = 90;  // readrandomwriterandom: percent of operations that are reads
  uint64_t seek_nexts = 10;  // entries read after each seek in seekrandom
  Compression compression = Compression::kNone;
  size_t cache_size = 8u << 20;
  size_t write_buffer_size = 0;
  int bloom_bits = 10;
  bool sync = false;
  bool histogram = false;
  bool statistics = false;  // RocksDB keeps Statistics (block cache hit rate)
  // Engines take turns workload by workload, the others stopped (SIGSTOP)
  // meanwhile; false: each engine runs the whole list in turn.
  bool interleave = true;
  std::string db;  // empty: a fresh directory under /tmp
  bool use_existing_db = false;
  uint64_t seed = 301;
  std::vector<std::string> engines;  // empty: lightning plus every compiled-in peer
  std::string json;
  std::string markdown;

  uint64_t effective_reads() const { return reads < 0 ? num : static_cast<uint64_t>(reads); }
  // The most client threads any entry of --benchmarks runs (readwhilewriting
  // adds its writer on top).
  int max_threads() const;
};

// Parses argv into *flags. On error fills *error (the caller prints usage).
// *help is set for --help.
bool parse_flags(int argc, char** argv, Flags* flags, bool* help, std::string* error);

std::string usage();

// Every workload name lightning_bench knows.
const std::vector<std::string>& known_workloads();

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_FLAGS_H_
