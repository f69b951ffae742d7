// Copyright (c) Lightning authors. MIT License.
#include "flags.h"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "keys.h"

namespace lightning::bench {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

bool parse_u64(const std::string& name, const std::string& v, uint64_t* out, std::string* error) {
  if (v.empty() || v[0] == '-') {
    *error = "--" + name + " needs a non-negative integer, got '" + v + "'";
    return false;
  }
  errno = 0;
  char* end = nullptr;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (errno != 0 || end == v.c_str() || *end != '\0') {
    *error = "--" + name + " needs a non-negative integer, got '" + v + "'";
    return false;
  }
  *out = x;
  return true;
}

bool parse_bool(const std::string& name, const std::string& v, bool* out, std::string* error) {
  if (v == "1" || v == "true") {
    *out = true;
  } else if (v == "0" || v == "false") {
    *out = false;
  } else {
    *error = "--" + name + " needs 0 or 1, got '" + v + "'";
    return false;
  }
  return true;
}

}  // namespace

const std::vector<std::string>& known_workloads() {
  static const std::vector<std::string> names = {
      "fillseq",     "fillrandom",   "overwrite",        "fillsync",         "fillbatch",      "fill100K",
      "readrandom",  "readmissing",  "readhot",          "readrandom100K",   "deleterandom",   "readwhilewriting",
      "readrandomwriterandom",       "readseq",          "readreverse",      "seekrandom",     "compact",
      "txnlow",      "txnhigh"};
  return names;
}

const std::vector<std::string>& standard_suite() {
  // Fills that build the main database first (fillrandom last, so "disk after
  // fill" is the random-order fill's), then every read and mixed workload on
  // it, a full compaction and the reads again on the compacted data, then the
  // workloads that make a database of their own.
  static const std::vector<std::string> names = {
      "fillseq",     "fillbatch",          "fillrandom",  "overwrite",        "readrandom",
      "readmissing", "readhot",            "readseq",     "readreverse",      "seekrandom",
      "readwhilewriting",                  "readrandomwriterandom@2",         "txnlow@2",
      "txnhigh@2",   "compact",            "readrandom",  "readseq",          "seekrandom",
      "deleterandom", "fillsync",          "fillsync@4",  "fill100K",         "readrandom100K"};
  return names;
}

bool parse_workload_entry(const std::string& entry, WorkloadEntry* out, std::string* error) {
  const size_t at = entry.find('@');
  out->name = entry.substr(0, at);
  out->threads = 0;
  const auto& known = known_workloads();
  if (std::find(known.begin(), known.end(), out->name) == known.end()) {
    *error = "unknown benchmark '" + out->name + "'";
    return false;
  }
  if (at == std::string::npos) return true;
  const std::string n = entry.substr(at + 1);
  uint64_t threads = 0;
  if (!parse_u64("benchmarks", n, &threads, error) || threads < 1 || threads > 1024) {
    *error = "benchmark '" + entry + "': the thread count after '@' must be 1..1024";
    return false;
  }
  out->threads = static_cast<int>(threads);
  return true;
}

int Flags::max_threads() const {
  int most = threads;
  for (const std::string& b : benchmarks) {
    WorkloadEntry entry;
    std::string error;
    if (parse_workload_entry(b, &entry, &error)) most = std::max(most, entry.threads);
  }
  return most;
}

std::string usage() {
  std::string engines;
  for (const EngineInfo& e : compiled_engines()) {
    if (!engines.empty()) engines += ",";
    engines += e.name;
  }
  std::string workloads;
  for (const std::string& w : known_workloads()) {
    if (!workloads.empty()) workloads += ",";
    workloads += w;
  }
  std::string suite;
  for (const std::string& w : standard_suite()) {
    if (!suite.empty()) suite += ",";
    suite += w;
  }
  return "usage: lightning_bench [--flag=value ...]\n"
         "  --benchmarks=LIST      comma-separated workloads, run in order; NAME@N runs NAME on\n"
         "                         N client threads instead of --threads (default: the standard\n"
         "                         suite: " + suite + ")\n"
         "                         known: " + workloads + "\n"
         "  --engines=LIST         engines to run, each in its own process (default: every\n"
         "                         compiled-in engine except null); compiled in: " + engines + "\n"
         "  --num=N                keys in the key space / writes per fill (1000000)\n"
         "  --reads=N              reads per read workload (default: --num)\n"
         "  --value_size=N         value bytes (100)\n"
         "  --key_size=N           key bytes, zero-padded decimal index (16)\n"
         "  --threads=N            client threads; --num/--reads are split across them (1);\n"
         "                         NAME@N in --benchmarks overrides it for one entry\n"
         "  --batch_size=N         entries per write batch for fillbatch (1000, as db_bench's fillbatch)\n"
         "  --readwritepercent=P   readrandomwriterandom: P% reads, the rest writes (90)\n"
         "  --seek_nexts=N         entries read after each seek in seekrandom (10)\n"
         "  --compression=C        none|zstd|lz4|snappy, for engines that support it (none)\n"
         "  --cache_size=BYTES     block cache per engine (8388608)\n"
         "  --write_buffer_size=B  memtable bytes for lightning/rocksdb/leveldb; 0 = engine default (0)\n"
         "  --bloom_bits=N         bloom filter bits per key for lightning/rocksdb/leveldb; 0 = none (10)\n"
         "  --sync=0|1             fsync every write (0)\n"
         "  --histogram=0|1        print latency percentiles (0)\n"
         "  --statistics=0|1       rocksdb keeps its Statistics: block cache hit rate reported (0)\n"
         "  --interleave=0|1       run the engines workload by workload, the others paused (1), or\n"
         "                         each engine through the whole list in turn (0)\n"
         "  --db=DIR               parent directory; each engine uses DIR/<engine>\n"
         "                         (default: a fresh /tmp/lightning_bench.XXXXXX, removed at exit)\n"
         "  --use_existing_db=0|1  reuse DIR/<engine>; fill workloads are skipped (0)\n"
         "  --seed=N               seed of every random sequence (301)\n"
         "  --json=FILE            write all results as JSON\n"
         "  --markdown=FILE        write the summary tables as Markdown\n"
         "  --help                 this text\n";
}

bool parse_flags(int argc, char** argv, Flags* flags, bool* help, std::string* error) {
  *help = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      *help = true;
      return true;
    }
    if (arg.rfind("--", 0) != 0) {
      *error = "unexpected argument '" + arg + "'";
      return false;
    }
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
      *error = "flag '" + arg + "' needs a value (--name=value)";
      return false;
    }
    const std::string name = arg.substr(2, eq - 2);
    const std::string value = arg.substr(eq + 1);
    uint64_t u = 0;
    bool ok = true;
    if (name == "benchmarks") {
      flags->benchmarks = split_commas(value);
      for (const std::string& w : flags->benchmarks) {
        WorkloadEntry entry;
        if (!parse_workload_entry(w, &entry, error)) return false;
      }
    } else if (name == "engines") {
      flags->engines = split_commas(value);
      for (const std::string& e : flags->engines) {
        const auto& compiled = compiled_engines();
        if (std::none_of(compiled.begin(), compiled.end(), [&](const EngineInfo& info) { return e == info.name; })) {
          *error = "engine '" + e + "' is not compiled into this lightning_bench";
          return false;
        }
      }
    } else if (name == "num") {
      ok = parse_u64(name, value, &flags->num, error);
    } else if (name == "reads") {
      ok = parse_u64(name, value, &u, error);
      flags->reads = static_cast<int64_t>(u);
    } else if (name == "value_size") {
      ok = parse_u64(name, value, &u, error);
      flags->value_size = u;
    } else if (name == "key_size") {
      ok = parse_u64(name, value, &u, error);
      flags->key_size = u;
    } else if (name == "threads") {
      ok = parse_u64(name, value, &u, error);
      flags->threads = static_cast<int>(std::min<uint64_t>(u, 1024));
    } else if (name == "batch_size") {
      ok = parse_u64(name, value, &u, error);
      flags->batch_size = u;
    } else if (name == "readwritepercent") {
      ok = parse_u64(name, value, &u, error);
      if (ok && u > 100) {
        *error = "--readwritepercent must be 0..100, got " + value;
        return false;
      }
      flags->readwritepercent = static_cast<int>(u);
    } else if (name == "seek_nexts") {
      ok = parse_u64(name, value, &flags->seek_nexts, error);
    } else if (name == "compression") {
      if (value == "none") flags->compression = Compression::kNone;
      else if (value == "zstd") flags->compression = Compression::kZstd;
      else if (value == "lz4") flags->compression = Compression::kLz4;
      else if (value == "snappy") flags->compression = Compression::kSnappy;
      else {
        *error = "--compression must be none, zstd, lz4 or snappy, got '" + value + "'";
        return false;
      }
    } else if (name == "cache_size") {
      ok = parse_u64(name, value, &u, error);
      flags->cache_size = u;
    } else if (name == "write_buffer_size") {
      ok = parse_u64(name, value, &u, error);
      flags->write_buffer_size = u;
    } else if (name == "bloom_bits") {
      ok = parse_u64(name, value, &u, error);
      flags->bloom_bits = static_cast<int>(std::min<uint64_t>(u, 64));
    } else if (name == "sync") {
      ok = parse_bool(name, value, &flags->sync, error);
    } else if (name == "histogram") {
      ok = parse_bool(name, value, &flags->histogram, error);
    } else if (name == "statistics") {
      ok = parse_bool(name, value, &flags->statistics, error);
    } else if (name == "interleave") {
      ok = parse_bool(name, value, &flags->interleave, error);
    } else if (name == "db") {
      flags->db = value;
    } else if (name == "use_existing_db") {
      ok = parse_bool(name, value, &flags->use_existing_db, error);
    } else if (name == "seed") {
      ok = parse_u64(name, value, &flags->seed, error);
    } else if (name == "json") {
      flags->json = value;
    } else if (name == "markdown") {
      flags->markdown = value;
    } else {
      *error = "unknown flag '--" + name + "'";
      return false;
    }
    if (!ok) return false;
  }

  // Cross-flag checks: fail before any engine runs.
  if (flags->num == 0) {
    *error = "--num must be at least 1";
    return false;
  }
  if (flags->threads < 1) {
    *error = "--threads must be at least 1";
    return false;
  }
  if (flags->batch_size < 1) {
    *error = "--batch_size must be at least 1";
    return false;
  }
  if (flags->benchmarks.empty()) {
    *error = "--benchmarks is empty";
    return false;
  }
  // readrandom100K reads what fill100K wrote: the last fill before it must be
  // fill100K (with --use_existing_db the fills are skipped, so it cannot be).
  std::string last_fill;
  for (const std::string& b : flags->benchmarks) {
    WorkloadEntry entry;
    if (!parse_workload_entry(b, &entry, error)) return false;
    if (entry.name.rfind("fill", 0) == 0) last_fill = entry.name;
    if (entry.name == "readrandom100K" && (last_fill != "fill100K" || flags->use_existing_db)) {
      *error = flags->use_existing_db ? "readrandom100K needs fill100K, which --use_existing_db=1 skips"
                                      : "readrandom100K must follow fill100K (the last fill before it)";
      return false;
    }
  }
  // Missing keys use key_size-1 digits plus a '.', so they need one more byte.
  const size_t digits = KeyFormatter::digits_for(flags->num);
  if (flags->key_size < digits + 1) {
    *error = "--key_size=" + std::to_string(flags->key_size) + " is too small for --num=" +
             std::to_string(flags->num) + " (needs " + std::to_string(digits + 1) + ")";
    return false;
  }
  if (flags->key_size > 4096) {
    *error = "--key_size must be at most 4096";
    return false;
  }
  if (flags->value_size > (64u << 20)) {
    *error = "--value_size must be at most 64 MiB";
    return false;
  }
  if (flags->value_size < 1) {
    *error = "--value_size must be at least 1";
    return false;
  }
  return true;
}

}  // namespace lightning::bench
