// Copyright (c) Lightning authors. MIT License.
//
// Results of a run, how they travel from an engine's child process to the
// parent (one text record per line over a pipe), and the final reports:
// Markdown tables and JSON.
#ifndef LIGHTNING_BENCH_REPORT_H_
#define LIGHTNING_BENCH_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "flags.h"

namespace lightning::bench {

struct WorkloadResult {
  std::string name;  // the --benchmarks entry, "@N" included ("fillsync@4")
  uint64_t threads = 0;     // client threads it ran on (readwhilewriting: readers)
  uint64_t value_size = 0;  // value bytes of the database it ran on (fill100K's: 100 KiB)
  bool skipped = false;
  std::string message;  // skip reason, or db_bench's trailing "(... found)" note

  uint64_t ops = 0;        // operations (entries for fillbatch)
  uint64_t found = 0;      // reads that found their key
  uint64_t not_found = 0;  // reads that did not
  uint64_t bytes = 0;      // key+value bytes written or read (for MB/s)
  uint64_t entries = 0;    // entries a scan read (readseq, readreverse, seekrandom)
  double wall_seconds = 0;
  double thread_seconds = 0;  // busy time summed over the measured threads

  double micros_per_op = 0;  // thread_seconds / ops, db_bench's definition
  double ops_per_sec = 0;    // ops / wall_seconds
  double mb_per_sec = 0;     // bytes / wall_seconds, MiB

  // Latency per operation (per batch for fillbatch), microseconds, from
  // lat_count samples (0 for full scans without --histogram=1).
  uint64_t lat_count = 0;
  double lat_avg = 0, lat_p50 = 0, lat_p75 = 0, lat_p99 = 0, lat_p999 = 0, lat_p9999 = 0, lat_max = 0;
  bool is_write = false;
  bool is_sync = false;
  double max_write_micros = 0;  // longest single write (writer thread for readwhilewriting)

  uint64_t writer_ops = 0;  // readwhilewriting: the writer's operations
  double writer_ops_per_sec = 0;

  // After every workload that ran: bytes of data on disk (per file, the
  // smaller of size and allocated blocks), bytes allocated (what du says,
  // including preallocation), and live keys the harness believes are stored.
  int64_t disk_bytes = -1;
  int64_t allocated_bytes = -1;
  uint64_t live_keys = 0;
  // The engine's child process's peak RSS so far (ru_maxrss, KiB).
  int64_t peak_rss_kb = -1;
  // Block cache hits and misses during this workload; -1: the engine does
  // not say (see Engine::stats()).
  int64_t cache_hits = -1;
  int64_t cache_misses = -1;
  // The engine's own figures after the workload, encode_engine_stats() form.
  std::string engine_stats;

  // hits / (hits + misses), or -1 when unknown or no lookups.
  double cache_hit_rate() const {
    if (cache_hits < 0 || cache_misses < 0 || cache_hits + cache_misses == 0) return -1;
    return static_cast<double>(cache_hits) / static_cast<double>(cache_hits + cache_misses);
  }
};

struct EngineResult {
  std::string name;
  std::string version;
  std::vector<std::string> settings;
  bool ok = false;
  std::string error;  // why the run failed (ok == false)
  int64_t peak_rss_kb = -1;
  double total_seconds = 0;
  std::vector<WorkloadResult> workloads;

  // Summary derived by finish_summary().
  int64_t disk_after_fill = -1;       // data bytes (see WorkloadResult::disk_bytes)
  int64_t allocated_after_fill = -1;  // du bytes, preallocation included
  double space_amp = 0;               // disk_after_fill / live key+value bytes
  std::string fill_workload;  // which workload disk_after_fill was taken after
  int64_t disk_after_compact = -1;    // data bytes after the last "compact" that ran (-1: none)
  double space_amp_after_compact = 0;  // disk_after_compact / live key+value bytes
  double max_write_stall_micros = 0;
};

// One record per line; fields are tab-separated key=value, with tab, newline
// and backslash escaped. "W" records carry a WorkloadResult, "E" the engine's own fields.
std::string encode_workload(const WorkloadResult& w);
std::string encode_engine(const EngineResult& e);
// Applies one received line to *e. Returns false on a malformed line.
bool decode_line(const std::string& line, EngineResult* e);

// EngineStats::extra as one string, "name=value;name=value", and back.
std::string encode_engine_stats(const std::vector<std::pair<std::string, std::string>>& extra);
std::vector<std::pair<std::string, std::string>> decode_engine_stats(const std::string& s);

// The line printed under a workload's db_bench line: disk, peak RSS, cache
// hit rate and the engine's figures, e.g.
// "             disk 2.6 MiB, peak RSS 38.2 MiB, cache hits 99.1%; tree_height=2 ...".
std::string format_stats_line(const WorkloadResult& w);

// Fills the summary fields of *e from its workloads.
void finish_summary(const Flags& flags, EngineResult* e);

// db_bench's per-workload line, e.g.
// "fillrandom   :       3.456 micros/op 289352 ops/sec;   32.0 MB/s".
std::string format_db_bench_line(const WorkloadResult& w);

struct RunInfo {
  std::string command_line;
  std::string date;
  std::string cpu;
  int cpus = 0;
  std::string kernel;
  std::string load_average;
  std::string db_dir;
};

// Formatting helpers shared by the reports.
std::string fmt(const char* format, double v);  // snprintf of one double
std::string human_bytes(int64_t bytes);         // "12.3 MiB"; "-" when negative
std::string thousands(double v);                // "1,234,567"
std::string json_string(const std::string& s);  // quoted and escaped
std::string json_number(double v);              // null when not finite

// The occurrence'th (0-based) result of --benchmarks entry `name`, or nullptr.
const WorkloadResult* find_workload(const EngineResult& e, const std::string& name, size_t occurrence);

std::string markdown_report(const Flags& flags, const RunInfo& info, const std::vector<EngineResult>& engines);
std::string json_report(const Flags& flags, const RunInfo& info, const std::vector<EngineResult>& engines);

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_REPORT_H_
