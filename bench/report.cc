// Copyright (c) Lightning authors. MIT License.
#include "report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "verdict.h"

namespace lightning::bench {
namespace {

// ---- line encoding -------------------------------------------------------

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      ++i;
      out += s[i] == 't' ? '\t' : s[i] == 'n' ? '\n' : s[i];
    } else {
      out += s[i];
    }
  }
  return out;
}

class LineWriter {
 public:
  explicit LineWriter(const char* kind) : line_(kind) {}
  LineWriter& add(const char* key, const std::string& v) {
    line_ += '\t';
    line_ += key;
    line_ += '=';
    line_ += escape(v);
    return *this;
  }
  LineWriter& add(const char* key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return add(key, std::string(buf));
  }
  LineWriter& add(const char* key, uint64_t v) { return add(key, std::to_string(v)); }
  LineWriter& add(const char* key, int64_t v) { return add(key, std::to_string(v)); }
  LineWriter& add(const char* key, bool v) { return add(key, std::string(v ? "1" : "0")); }
  std::string done() { return line_ + '\n'; }

 private:
  std::string line_;
};

// The fields of a WorkloadResult, in one table so encode and decode agree.
struct WorkloadField {
  const char* key;
  enum Kind { kStr, kBool, kU64, kI64, kDbl } kind;
  std::string WorkloadResult::*s = nullptr;
  bool WorkloadResult::*b = nullptr;
  uint64_t WorkloadResult::*u = nullptr;
  int64_t WorkloadResult::*i = nullptr;
  double WorkloadResult::*d = nullptr;
};

WorkloadField str_field(const char* k, std::string WorkloadResult::*m) {
  WorkloadField f{k, WorkloadField::kStr};
  f.s = m;
  return f;
}
WorkloadField bool_field(const char* k, bool WorkloadResult::*m) {
  WorkloadField f{k, WorkloadField::kBool};
  f.b = m;
  return f;
}
WorkloadField u64_field(const char* k, uint64_t WorkloadResult::*m) {
  WorkloadField f{k, WorkloadField::kU64};
  f.u = m;
  return f;
}
WorkloadField i64_field(const char* k, int64_t WorkloadResult::*m) {
  WorkloadField f{k, WorkloadField::kI64};
  f.i = m;
  return f;
}
WorkloadField dbl_field(const char* k, double WorkloadResult::*m) {
  WorkloadField f{k, WorkloadField::kDbl};
  f.d = m;
  return f;
}

const std::vector<WorkloadField>& workload_fields() {
  static const std::vector<WorkloadField> fields = {
      str_field("name", &WorkloadResult::name),
      u64_field("threads", &WorkloadResult::threads),
      u64_field("value_size", &WorkloadResult::value_size),
      bool_field("skipped", &WorkloadResult::skipped),
      str_field("message", &WorkloadResult::message),
      u64_field("ops", &WorkloadResult::ops),
      u64_field("found", &WorkloadResult::found),
      u64_field("not_found", &WorkloadResult::not_found),
      u64_field("bytes", &WorkloadResult::bytes),
      u64_field("entries", &WorkloadResult::entries),
      dbl_field("wall_seconds", &WorkloadResult::wall_seconds),
      dbl_field("thread_seconds", &WorkloadResult::thread_seconds),
      dbl_field("micros_per_op", &WorkloadResult::micros_per_op),
      dbl_field("ops_per_sec", &WorkloadResult::ops_per_sec),
      dbl_field("mb_per_sec", &WorkloadResult::mb_per_sec),
      u64_field("lat_count", &WorkloadResult::lat_count),
      dbl_field("lat_avg", &WorkloadResult::lat_avg),
      dbl_field("lat_p50", &WorkloadResult::lat_p50),
      dbl_field("lat_p75", &WorkloadResult::lat_p75),
      dbl_field("lat_p99", &WorkloadResult::lat_p99),
      dbl_field("lat_p999", &WorkloadResult::lat_p999),
      dbl_field("lat_p9999", &WorkloadResult::lat_p9999),
      dbl_field("lat_max", &WorkloadResult::lat_max),
      bool_field("is_write", &WorkloadResult::is_write),
      bool_field("is_sync", &WorkloadResult::is_sync),
      dbl_field("max_write_micros", &WorkloadResult::max_write_micros),
      u64_field("writer_ops", &WorkloadResult::writer_ops),
      dbl_field("writer_ops_per_sec", &WorkloadResult::writer_ops_per_sec),
      i64_field("disk_bytes", &WorkloadResult::disk_bytes),
      i64_field("allocated_bytes", &WorkloadResult::allocated_bytes),
      u64_field("live_keys", &WorkloadResult::live_keys),
      i64_field("peak_rss_kb", &WorkloadResult::peak_rss_kb),
      i64_field("cache_hits", &WorkloadResult::cache_hits),
      i64_field("cache_misses", &WorkloadResult::cache_misses),
      str_field("engine_stats", &WorkloadResult::engine_stats),
  };
  return fields;
}

std::map<std::string, std::string> split_fields(const std::string& line, std::string* kind) {
  std::map<std::string, std::string> out;
  size_t pos = line.find('\t');
  *kind = line.substr(0, pos);
  while (pos != std::string::npos) {
    const size_t next = line.find('\t', pos + 1);
    const std::string field = line.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    const size_t eq = field.find('=');
    if (eq != std::string::npos) out[field.substr(0, eq)] = unescape(field.substr(eq + 1));
    pos = next;
  }
  return out;
}

}  // namespace

// ---- formatting helpers (declared in report.h) ---------------------------

std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string human_bytes(int64_t bytes) {
  if (bytes < 0) return "-";
  const double b = static_cast<double>(bytes);
  if (b >= 1024.0 * 1024 * 1024) return fmt("%.2f GiB", b / (1024.0 * 1024 * 1024));
  if (b >= 1024.0 * 1024) return fmt("%.1f MiB", b / (1024.0 * 1024));
  if (b >= 1024.0) return fmt("%.1f KiB", b / 1024.0);
  return std::to_string(bytes) + " B";
}

std::string thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(v)));
  std::string out;
  int n = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (n > 0 && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++n;
  }
  return out;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.6g", v);
  return buf;
}

namespace {

// "cache hits 98.7% (1234/1250)", "cache hits - (no lookups)" or "cache hits n/a".
std::string cache_text(const WorkloadResult& w) {
  if (w.cache_hits < 0 || w.cache_misses < 0) return "cache hits n/a";
  if (w.cache_hits + w.cache_misses == 0) return "cache hits - (no lookups)";
  return "cache hits " + fmt("%.1f%%", w.cache_hit_rate() * 100) + " (" + std::to_string(w.cache_hits) + "/" +
         std::to_string(w.cache_hits + w.cache_misses) + ")";
}

bool is_json_number(const std::string& v) {
  if (v.empty() || v.find_first_not_of("0123456789.-eE") != std::string::npos) return false;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  return end != nullptr && *end == '\0' && std::isfinite(d) && v[0] != '.' && v.back() != '.';
}

// A number as a JSON number, a list of numbers ("4,2,0") as an array,
// anything else as a string.
std::string json_value(const std::string& v) {
  if (is_json_number(v)) return v;
  if (v.find(',') != std::string::npos) {
    std::string out = "[";
    size_t start = 0;
    for (;;) {
      const size_t comma = v.find(',', start);
      const std::string item = v.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (!is_json_number(item)) return json_string(v);
      out += (start ? ", " : "") + item;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return out + "]";
  }
  return json_string(v);
}

// The fills that build the main database (fillsync and fill100K make small
// databases of their own).
bool is_fill(const std::string& entry) {
  const std::string name = entry.substr(0, entry.find('@'));
  return name == "fillseq" || name == "fillrandom" || name == "fillbatch";
}

double raw_bytes(const Flags& flags, const WorkloadResult& w) {
  return static_cast<double>(w.live_keys) * static_cast<double>(flags.key_size + w.value_size);
}

}  // namespace

const WorkloadResult* find_workload(const EngineResult& e, const std::string& name, size_t occurrence) {
  size_t seen = 0;
  for (const WorkloadResult& w : e.workloads) {
    if (w.name == name && seen++ == occurrence) return &w;
  }
  return nullptr;
}

std::string encode_workload(const WorkloadResult& w) {
  LineWriter line("W");
  for (const WorkloadField& f : workload_fields()) {
    switch (f.kind) {
      case WorkloadField::kStr: line.add(f.key, w.*(f.s)); break;
      case WorkloadField::kBool: line.add(f.key, w.*(f.b)); break;
      case WorkloadField::kU64: line.add(f.key, w.*(f.u)); break;
      case WorkloadField::kI64: line.add(f.key, w.*(f.i)); break;
      case WorkloadField::kDbl: line.add(f.key, w.*(f.d)); break;
    }
  }
  return line.done();
}

std::string encode_engine(const EngineResult& e) {
  LineWriter line("E");
  line.add("name", e.name).add("version", e.version).add("ok", e.ok).add("error", e.error);
  line.add("peak_rss_kb", e.peak_rss_kb).add("total_seconds", e.total_seconds);
  std::string settings;
  for (const std::string& s : e.settings) settings += s + "\n";
  line.add("settings", settings);
  return line.done();
}

bool decode_line(const std::string& line, EngineResult* e) {
  std::string kind;
  std::map<std::string, std::string> fields = split_fields(line, &kind);
  if (kind == "W") {
    WorkloadResult w;
    for (const WorkloadField& f : workload_fields()) {
      auto it = fields.find(f.key);
      if (it == fields.end()) return false;
      const std::string& v = it->second;
      switch (f.kind) {
        case WorkloadField::kStr: w.*(f.s) = v; break;
        case WorkloadField::kBool: w.*(f.b) = v == "1"; break;
        case WorkloadField::kU64: w.*(f.u) = std::strtoull(v.c_str(), nullptr, 10); break;
        case WorkloadField::kI64: w.*(f.i) = std::strtoll(v.c_str(), nullptr, 10); break;
        case WorkloadField::kDbl: w.*(f.d) = std::strtod(v.c_str(), nullptr); break;
      }
    }
    e->workloads.push_back(std::move(w));
    return true;
  }
  if (kind == "E") {
    e->name = fields["name"];
    e->version = fields["version"];
    e->ok = fields["ok"] == "1";
    e->error = fields["error"];
    e->peak_rss_kb = std::strtoll(fields["peak_rss_kb"].c_str(), nullptr, 10);
    e->total_seconds = std::strtod(fields["total_seconds"].c_str(), nullptr);
    e->settings.clear();
    const std::string& s = fields["settings"];
    size_t start = 0;
    for (size_t nl; (nl = s.find('\n', start)) != std::string::npos; start = nl + 1) {
      e->settings.push_back(s.substr(start, nl - start));
    }
    return true;
  }
  return false;
}

void finish_summary(const Flags& flags, EngineResult* e) {
  e->disk_after_fill = -1;
  e->allocated_after_fill = -1;
  e->space_amp = 0;
  e->max_write_stall_micros = 0;
  e->disk_after_compact = -1;
  e->space_amp_after_compact = 0;
  const WorkloadResult* fill = nullptr;
  const WorkloadResult* any_write = nullptr;
  const WorkloadResult* compact = nullptr;
  double stall_unsynced = 0, stall_synced = 0;
  for (const WorkloadResult& w : e->workloads) {
    if (w.skipped) continue;
    if (w.name == "compact" && w.disk_bytes >= 0) compact = &w;
    if (w.is_write && w.disk_bytes >= 0) {
      any_write = &w;
      if (is_fill(w.name)) fill = &w;
    }
    if (w.is_sync) stall_synced = std::max(stall_synced, w.max_write_micros);
    else stall_unsynced = std::max(stall_unsynced, w.max_write_micros);
  }
  if (fill == nullptr) fill = any_write;
  if (fill != nullptr) {
    e->disk_after_fill = fill->disk_bytes;
    e->allocated_after_fill = fill->allocated_bytes;
    e->fill_workload = fill->name;
    const double raw = raw_bytes(flags, *fill);
    e->space_amp = raw > 0 ? static_cast<double>(fill->disk_bytes) / raw : 0;
  }
  if (compact != nullptr) {
    e->disk_after_compact = compact->disk_bytes;
    const double raw = raw_bytes(flags, *compact);
    e->space_amp_after_compact = raw > 0 ? static_cast<double>(compact->disk_bytes) / raw : 0;
  }
  // A synced write waits for an fsync by design; only report it as the
  // longest write when nothing unsynced ran.
  e->max_write_stall_micros = stall_unsynced > 0 ? stall_unsynced : stall_synced;
}

std::string encode_engine_stats(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::string out;
  for (const auto& kv : extra) {
    if (!out.empty()) out += ';';
    out += kv.first + '=' + kv.second;
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> decode_engine_stats(const std::string& s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(';', start);
    if (end == std::string::npos) end = s.size();
    const std::string item = s.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq != std::string::npos) out.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    start = end + 1;
  }
  return out;
}

std::string format_stats_line(const WorkloadResult& w) {
  if (w.skipped) return std::string();
  std::string line = std::string(15, ' ') + "disk " + human_bytes(w.disk_bytes) + ", peak RSS " +
                     human_bytes(w.peak_rss_kb < 0 ? -1 : w.peak_rss_kb * 1024) + ", " + cache_text(w);
  if (!w.engine_stats.empty()) {
    line += ";";
    for (const auto& kv : decode_engine_stats(w.engine_stats)) line += " " + kv.first + "=" + kv.second;
  }
  return line + "\n";
}

std::string format_db_bench_line(const WorkloadResult& w) {
  char buf[128];
  if (w.skipped) {
    std::snprintf(buf, sizeof(buf), "%-12s : ", w.name.c_str());
    return buf + w.message + "\n";
  }
  std::string extra;
  if (w.bytes > 0) extra = fmt(" %6.1f MB/s", w.mb_per_sec);
  if (!w.message.empty()) extra += " " + w.message;
  std::snprintf(buf, sizeof(buf), "%-12s : %11.3f micros/op %.0f ops/sec;", w.name.c_str(), w.micros_per_op,
                w.ops_per_sec);
  return buf + extra + "\n";
}

std::string markdown_report(const Flags& flags, const RunInfo& info, const std::vector<EngineResult>& engines) {
  std::string md;
  md += "## lightning_bench results\n\n";
  md += "`" + info.command_line + "`\n\n";
  md += "- Date: " + info.date + "; CPU: " + info.cpu + " (" + std::to_string(info.cpus) + " cpus); kernel " +
        info.kernel + "; load average at start " + info.load_average + "\n";
  md += "- Keys " + std::to_string(flags.key_size) + " B, values " + std::to_string(flags.value_size) +
        " B, num " + std::to_string(flags.num) + ", reads " + std::to_string(flags.effective_reads()) +
        ", threads " + std::to_string(flags.threads) + ", compression " + compression_name(flags.compression) +
        ", cache " + human_bytes(static_cast<int64_t>(flags.cache_size)) + ", bloom_bits " +
        std::to_string(flags.bloom_bits) + ", sync " + (flags.sync ? "1" : "0") + ", seek_nexts " +
        std::to_string(flags.seek_nexts) + ", statistics " + (flags.statistics ? "1" : "0") + ", seed " +
        std::to_string(flags.seed) + "\n";
  for (const EngineResult& e : engines) {
    md += "- " + e.name + " " + e.version + ": ";
    for (size_t i = 0; i < e.settings.size(); ++i) md += (i ? "; " : "") + e.settings[i];
    if (!e.ok) md += " — **FAILED: " + e.error + "**";
    md += "\n";
  }
  md += "\n";

  // Throughput table: workloads x engines.
  const bool have_lightning =
      std::any_of(engines.begin(), engines.end(), [](const EngineResult& e) { return e.name == "lightning"; });
  const bool have_peer = std::any_of(engines.begin(), engines.end(), [](const EngineResult& e) {
    return e.name != "lightning" && e.name != "null";
  });
  const bool ratio = have_lightning && have_peer;
  md += "| workload (ops/sec; compact: seconds; *100K: MB/s) |";
  for (const EngineResult& e : engines) md += " " + e.name + " |";
  if (ratio) md += " lightning / best peer |";
  md += "\n|---|";
  for (size_t i = 0; i < engines.size(); ++i) md += "---:|";
  if (ratio) md += "---:|";
  md += "\n";
  std::map<std::string, size_t> occurrences;
  for (const std::string& name : flags.benchmarks) {
    const size_t occurrence = occurrences[name]++;
    md += "| " + name + (occurrence > 0 ? " #" + std::to_string(occurrence + 1) : std::string()) + " |";
    double lightning = -1, best_peer = -1;
    std::string best_name;
    for (const EngineResult& e : engines) {
      const WorkloadResult* w = find_workload(e, name, occurrence);
      if (w == nullptr) {
        md += e.ok ? " - |" : " failed |";
        continue;
      }
      if (w->skipped) {
        md += " n/a |";
        continue;
      }
      // compact is one operation: its duration says more than 1/duration.
      const bool large = name.find("100K") != std::string::npos;
      const double speed = large ? w->mb_per_sec : w->ops_per_sec;
      md += " " +
            (name == "compact" ? fmt("%.3f s", w->wall_seconds)
                               : large ? fmt("%.1f MB/s", w->mb_per_sec) : thousands(w->ops_per_sec)) +
            " |";
      if (e.name == "lightning") lightning = speed;
      else if (e.name != "null" && speed > best_peer) {
        best_peer = speed;
        best_name = e.name;
      }
    }
    if (ratio) {
      if (lightning > 0 && best_peer > 0) md += " " + fmt("%.2f", lightning / best_peer) + "x (" + best_name + ") |";
      else md += " - |";
    }
    md += "\n";
  }
  md += "\n";

  md += "| per engine | disk after fill | space amp | allocated (du) | disk after compact | space amp | peak RSS | "
        "longest write (us) | total time (s) |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const EngineResult& e : engines) {
    md += "| " + e.name + " | " + human_bytes(e.disk_after_fill) +
          (e.fill_workload.empty() ? "" : " (" + e.fill_workload + ")") + " | " +
          (e.space_amp > 0 ? fmt("%.2f", e.space_amp) : std::string("-")) + " | " +
          human_bytes(e.allocated_after_fill) + " | " + human_bytes(e.disk_after_compact) + " | " +
          (e.space_amp_after_compact > 0 ? fmt("%.2f", e.space_amp_after_compact) : std::string("-")) + " | " +
          human_bytes(e.peak_rss_kb < 0 ? -1 : e.peak_rss_kb * 1024) + " | " +
          (e.max_write_stall_micros > 0 ? thousands(e.max_write_stall_micros) : std::string("-")) + " | " +
          fmt("%.1f", e.total_seconds) + " |\n";
  }
  md += "\n";

  // After each workload: footprint, memory, cache, the engine's own figures.
  md += "| after workload | engine | disk | peak RSS | cache hit rate | engine stats |\n";
  md += "|---|---|---:|---:|---:|---|\n";
  occurrences.clear();
  for (const std::string& name : flags.benchmarks) {
    const size_t occurrence = occurrences[name]++;
    const std::string label = name + (occurrence > 0 ? " #" + std::to_string(occurrence + 1) : std::string());
    for (const EngineResult& e : engines) {
      const WorkloadResult* w = find_workload(e, name, occurrence);
      if (w == nullptr || w->skipped) continue;
      std::string hit = "n/a";
      if (w->cache_hits >= 0 && w->cache_misses >= 0) {
        hit = w->cache_hit_rate() >= 0 ? fmt("%.1f%%", w->cache_hit_rate() * 100) : std::string("- (no lookups)");
      }
      std::string extra;
      for (const auto& kv : decode_engine_stats(w->engine_stats)) {
        extra += (extra.empty() ? "" : " ") + kv.first + "=" + kv.second;
      }
      md += "| " + label + " | " + e.name + " | " + human_bytes(w->disk_bytes) + " | " +
            human_bytes(w->peak_rss_kb < 0 ? -1 : w->peak_rss_kb * 1024) + " | " + hit + " | " +
            (extra.empty() ? std::string("-") : extra) + " |\n";
    }
  }
  md += "\n";
  if (flags.histogram) {
    md += "| workload | engine | P50 us | P99 us | P99.9 us | P99.99 us | max us |\n";
    md += "|---|---|---:|---:|---:|---:|---:|\n";
    // Each workload name once, in --benchmarks order.
    std::vector<std::string> names;
    for (const std::string& b : flags.benchmarks) {
      if (std::find(names.begin(), names.end(), b) == names.end()) names.push_back(b);
    }
    for (const std::string& name : names) {
      for (const EngineResult& e : engines) {
        for (const WorkloadResult& w : e.workloads) {
          if (w.name != name || w.skipped || w.lat_count == 0) continue;
          md += "| " + name + " | " + e.name + " | " + fmt("%.2f", w.lat_p50) + " | " + fmt("%.2f", w.lat_p99) +
                " | " + fmt("%.2f", w.lat_p999) + " | " + fmt("%.2f", w.lat_p9999) + " | " +
                fmt("%.0f", w.lat_max) + " |\n";
        }
      }
    }
    md += "\n";
  }
  md += verdict_markdown(compute_verdict(flags, engines));
  return md;
}

std::string json_report(const Flags& flags, const RunInfo& info, const std::vector<EngineResult>& engines) {
  std::string j = "{\n";
  j += "  \"command_line\": " + json_string(info.command_line) + ",\n";
  j += "  \"machine\": {\"date\": " + json_string(info.date) + ", \"cpu\": " + json_string(info.cpu) +
       ", \"cpus\": " + std::to_string(info.cpus) + ", \"kernel\": " + json_string(info.kernel) +
       ", \"load_average\": " + json_string(info.load_average) + ", \"db\": " + json_string(info.db_dir) + "},\n";
  std::string benchmarks;
  for (const std::string& b : flags.benchmarks) benchmarks += (benchmarks.empty() ? "" : ", ") + json_string(b);
  j += "  \"config\": {\"benchmarks\": [" + benchmarks + "], \"num\": " + std::to_string(flags.num) +
       ", \"reads\": " + std::to_string(flags.effective_reads()) + ", \"key_size\": " +
       std::to_string(flags.key_size) + ", \"value_size\": " + std::to_string(flags.value_size) +
       ", \"threads\": " + std::to_string(flags.threads) + ", \"batch_size\": " + std::to_string(flags.batch_size) +
       ", \"readwritepercent\": " + std::to_string(flags.readwritepercent) +
       ", \"seek_nexts\": " + std::to_string(flags.seek_nexts) +
       ", \"statistics\": " + (flags.statistics ? "true" : "false") +
       ", \"compression\": " + json_string(compression_name(flags.compression)) + ", \"cache_size\": " +
       std::to_string(flags.cache_size) + ", \"write_buffer_size\": " + std::to_string(flags.write_buffer_size) +
       ", \"bloom_bits\": " + std::to_string(flags.bloom_bits) + ", \"sync\": " + (flags.sync ? "true" : "false") +
       ", \"use_existing_db\": " + (flags.use_existing_db ? "true" : "false") +
       ", \"seed\": " + std::to_string(flags.seed) + "},\n";
  j += "  \"engines\": [\n";
  for (size_t i = 0; i < engines.size(); ++i) {
    const EngineResult& e = engines[i];
    j += "    {\"name\": " + json_string(e.name) + ", \"version\": " + json_string(e.version) +
         ", \"ok\": " + (e.ok ? "true" : "false") + ", \"error\": " + json_string(e.error) + ",\n";
    std::string settings;
    for (const std::string& s : e.settings) settings += (settings.empty() ? "" : ", ") + json_string(s);
    j += "     \"settings\": [" + settings + "],\n";
    j += "     \"peak_rss_bytes\": " + std::to_string(e.peak_rss_kb < 0 ? -1 : e.peak_rss_kb * 1024) +
         ", \"disk_after_fill_bytes\": " + std::to_string(e.disk_after_fill) +
         ", \"fill_workload\": " + json_string(e.fill_workload) +
         ", \"allocated_after_fill_bytes\": " + std::to_string(e.allocated_after_fill) + ", \"space_amplification\": " +
         json_number(e.space_amp) + ", \"disk_after_compact_bytes\": " + std::to_string(e.disk_after_compact) +
         ", \"space_amplification_after_compact\": " + json_number(e.space_amp_after_compact) +
         ", \"longest_write_micros\": " + json_number(e.max_write_stall_micros) +
         ", \"total_seconds\": " + json_number(e.total_seconds) + ",\n";
    j += "     \"workloads\": [\n";
    for (size_t k = 0; k < e.workloads.size(); ++k) {
      const WorkloadResult& w = e.workloads[k];
      j += "       {\"name\": " + json_string(w.name) + ", \"threads\": " + std::to_string(w.threads) +
           ", \"value_size\": " + std::to_string(w.value_size) + ", \"skipped\": " + (w.skipped ? "true" : "false") +
           ", \"message\": " + json_string(w.message);
      if (!w.skipped) {
        j += ", \"ops\": " + std::to_string(w.ops) + ", \"found\": " + std::to_string(w.found) +
             ", \"not_found\": " + std::to_string(w.not_found) + ", \"wall_seconds\": " +
             json_number(w.wall_seconds) + ", \"micros_per_op\": " + json_number(w.micros_per_op) +
             ", \"ops_per_sec\": " + json_number(w.ops_per_sec) + ", \"mb_per_sec\": " +
             json_number(w.mb_per_sec) + ", \"latency_micros\": ";
        if (w.lat_count == 0) {
          j += "null";  // a full scan without --histogram=1 does not time single entries
        } else {
          j += "{\"samples\": " + std::to_string(w.lat_count) + ", \"avg\": " + json_number(w.lat_avg) +
               ", \"p50\": " + json_number(w.lat_p50) + ", \"p75\": " + json_number(w.lat_p75) +
               ", \"p99\": " + json_number(w.lat_p99) + ", \"p99.9\": " + json_number(w.lat_p999) +
               ", \"p99.99\": " + json_number(w.lat_p9999) + ", \"max\": " + json_number(w.lat_max) + "}";
        }
        if (w.is_write || w.writer_ops > 0) j += ", \"longest_write_micros\": " + json_number(w.max_write_micros);
        if (w.writer_ops > 0) {
          j += ", \"writer_ops\": " + std::to_string(w.writer_ops) +
               ", \"writer_ops_per_sec\": " + json_number(w.writer_ops_per_sec);
        }
        if (w.entries > 0) j += ", \"entries\": " + std::to_string(w.entries);
        if (w.disk_bytes >= 0) {
          j += ", \"disk_bytes\": " + std::to_string(w.disk_bytes) + ", \"allocated_bytes\": " +
               std::to_string(w.allocated_bytes) + ", \"live_keys\": " + std::to_string(w.live_keys);
        }
        j += ", \"peak_rss_bytes\": " + std::to_string(w.peak_rss_kb < 0 ? -1 : w.peak_rss_kb * 1024);
        if (w.cache_hits >= 0 && w.cache_misses >= 0) {
          j += ", \"cache_hits\": " + std::to_string(w.cache_hits) + ", \"cache_misses\": " +
               std::to_string(w.cache_misses) + ", \"cache_hit_rate\": " +
               (w.cache_hit_rate() >= 0 ? json_number(w.cache_hit_rate()) : std::string("null"));
        } else {
          j += ", \"cache_hit_rate\": null";
        }
        std::string engine_stats;
        for (const auto& kv : decode_engine_stats(w.engine_stats)) {
          engine_stats += (engine_stats.empty() ? "" : ", ") + json_string(kv.first) + ": " + json_value(kv.second);
        }
        j += ", \"engine_stats\": {" + engine_stats + "}";
      }
      j += std::string("}") + (k + 1 < e.workloads.size() ? "," : "") + "\n";
    }
    j += std::string("     ]}") + (i + 1 < engines.size() ? "," : "") + "\n";
  }
  j += "  ],\n" + verdict_json(compute_verdict(flags, engines)) + "\n}\n";
  return j;
}

}  // namespace lightning::bench
