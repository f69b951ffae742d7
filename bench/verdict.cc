// Copyright (c) Lightning authors. MIT License.
#include "verdict.h"

#include <algorithm>
#include <map>

namespace lightning::bench {
namespace {

constexpr const char* kLightning = "lightning";

std::string base_name(const std::string& entry) { return entry.substr(0, entry.find('@')); }

// Large-value workloads are compared in MB/s (db_bench reports fill100K so);
// the ratio is the same as for ops/sec since every engine moves the same bytes.
bool in_mb_per_sec(const std::string& entry) {
  const std::string name = base_name(entry);
  return name.size() > 4 && name.compare(name.size() - 4, 4, "100K") == 0;
}

// compact is one operation: compared by its duration (lower is better).
bool is_compact(const std::string& entry) { return base_name(entry) == "compact"; }

// A workload's throughput (compact: its duration in seconds) on one engine; -1 when it did not run there, was
// skipped, or the engine failed (a failed engine's numbers are not trusted).
double throughput(const EngineResult& e, const std::string& entry, size_t occurrence) {
  if (!e.ok) return -1;
  const WorkloadResult* w = find_workload(e, entry, occurrence);
  if (w == nullptr || w->skipped || w->ops == 0) return -1;
  if (is_compact(entry)) return w->wall_seconds;
  return in_mb_per_sec(entry) ? w->mb_per_sec : w->ops_per_sec;
}

double p999(const EngineResult& e, const std::string& entry) {
  if (!e.ok) return -1;
  const WorkloadResult* w = find_workload(e, entry, 0);
  if (w == nullptr || w->skipped || w->lat_count == 0) return -1;
  return w->lat_p999;
}

std::string ratio_text(double r) {
  if (r < 0) return "-";
  if (r < 0.001) return "<0.001x";
  return fmt(r < 0.1 ? "%.3fx" : "%.2fx", r);
}

std::string value_text(double v, const std::string& unit) {
  if (v < 0) return "-";
  if (unit == "bytes") return human_bytes(static_cast<int64_t>(v));
  if (unit == "us") return fmt("%.1f us", v);
  if (unit == "x raw") return fmt("%.2fx raw", v);
  if (unit == "x") return fmt("%.2fx", v);
  if (unit == "MB/s") return fmt("%.1f MB/s", v);
  if (unit == "s") return fmt("%.3f s", v);
  return thousands(v) + " " + unit;
}

// Fills the peer comparisons of a row whose lightning and peer_value are set.
void compare(RatioRow* row, const std::vector<std::string>& peers) {
  row->vs_peer.assign(peers.size(), -1);
  double best = -1;
  for (size_t i = 0; i < peers.size(); ++i) {
    const double p = row->peer_value[i];
    if (p <= 0) continue;
    if (row->lightning >= 0) row->vs_peer[i] = row->lightning / p;
    if (best < 0 || (row->higher_is_better ? p > best : p < best)) {
      best = p;
      row->best_peer = peers[i];
    }
  }
  if (best > 0 && row->lightning >= 0) {
    row->vs_best = row->lightning / best;
    if (row->higher_is_better) row->advantage = row->vs_best;
    else if (row->lightning > 0) row->advantage = best / row->lightning;
  }
}

// The bar judges ratio `value` against `target` (at least, or at most).
void judge(RatioRow* row, const std::string& words, double value, double target) {
  row->bar = words;
  row->bar_target = target;
  row->bar_value = value;
  if (value < 0) {
    row->result = BarResult::kUnknown;
  } else {
    const bool met = row->higher_is_better ? value >= target : value <= target;
    row->result = met ? BarResult::kMet : BarResult::kMissed;
  }
}

int peer_index(const std::vector<std::string>& peers, const std::string& name) {
  for (size_t i = 0; i < peers.size(); ++i) {
    if (peers[i] == name) return static_cast<int>(i);
  }
  return -1;
}

// Issue 7's bar for a throughput row, if it sets one.
void apply_throughput_bar(const std::string& entry, const std::vector<std::string>& peers,
                          const std::vector<RatioRow>& rows, RatioRow* row) {
  if (entry == "fillseq" || entry == "fillrandom" || entry == "overwrite" || entry == "fillbatch") {
    double best = -1;
    for (const char* name : {"rocksdb", "leveldb"}) {
      const int i = peer_index(peers, name);
      if (i >= 0) best = std::max(best, row->peer_value[static_cast<size_t>(i)]);
    }
    judge(row, ">= 1.5x best of rocksdb/leveldb", best > 0 && row->lightning >= 0 ? row->lightning / best : -1,
          1.5);
  } else if (entry == "readrandom" || entry == "readmissing" || entry == "readseq" || entry == "readreverse" ||
             entry == "seekrandom") {
    const int i = peer_index(peers, "lmdb");
    const double lmdb = i >= 0 ? row->peer_value[static_cast<size_t>(i)] : -1;
    judge(row, ">= lmdb", lmdb > 0 && row->lightning >= 0 ? row->lightning / lmdb : -1, 1.0);
  } else if (entry == "fillsync") {
    judge(row, ">= best peer", row->vs_best, 1.0);
  } else if (entry == "fillsync@4") {
    // Group commit: four synced writers against Lightning's own one.
    double one = -1;
    for (const RatioRow& r : rows) {
      if (r.label == "fillsync") one = r.lightning;
    }
    judge(row, ">= 3x lightning's fillsync (1 thread)", one > 0 && row->lightning >= 0 ? row->lightning / one : -1,
          3.0);
  }
}

}  // namespace

Verdict compute_verdict(const Flags& flags, const std::vector<EngineResult>& engines) {
  Verdict v;
  const EngineResult* lightning = nullptr;
  std::vector<const EngineResult*> peers;
  for (const EngineResult& e : engines) {
    if (e.name == kLightning) lightning = &e;
    else if (e.name != "null") peers.push_back(&e);
  }
  v.have_lightning = lightning != nullptr;
  for (const EngineResult* p : peers) v.peers.push_back(p->name);
  if (lightning == nullptr) return v;

  // The seed's headline: first occurrence of each workload.
  const std::pair<const char*, const char*> headline[] = {
      {"cached read", "readhot"}, {"write", "fillrandom"}, {"batch write", "fillbatch"}, {"range scan", "readseq"}};
  for (const auto& [label, workload] : headline) {
    if (std::find(flags.benchmarks.begin(), flags.benchmarks.end(), workload) == flags.benchmarks.end()) continue;
    HeadlineRow row;
    row.label = label;
    row.workload = workload;
    row.lightning = throughput(*lightning, workload, 0);
    for (const EngineResult* p : peers) row.peer_value.push_back(throughput(*p, workload, 0));
    v.headline.push_back(std::move(row));
  }

  // One row per --benchmarks entry (repeats numbered as in the other tables).
  std::map<std::string, size_t> occurrences;
  for (const std::string& entry : flags.benchmarks) {
    const size_t occurrence = occurrences[entry]++;
    RatioRow row;
    row.label = entry + (occurrence > 0 ? " #" + std::to_string(occurrence + 1) : std::string());
    row.unit = is_compact(entry) ? "s" : in_mb_per_sec(entry) ? "MB/s" : "ops/sec";
    row.higher_is_better = !is_compact(entry);
    row.lightning = throughput(*lightning, entry, occurrence);
    for (const EngineResult* p : peers) row.peer_value.push_back(throughput(*p, entry, occurrence));
    compare(&row, v.peers);
    apply_throughput_bar(entry, v.peers, v.rows, &row);
    v.rows.push_back(std::move(row));
  }

  // Footprint rows.
  const bool compacted = std::find(flags.benchmarks.begin(), flags.benchmarks.end(), "compact") != flags.benchmarks.end();
  if (compacted) {
    RatioRow row;
    row.label = "space after fill + compact";
    row.unit = "x raw";
    row.higher_is_better = false;
    const auto amp = [](const EngineResult& e) {
      return e.ok && e.disk_after_compact >= 0 && e.space_amp_after_compact > 0 ? e.space_amp_after_compact : -1.0;
    };
    row.lightning = amp(*lightning);
    for (const EngineResult* p : peers) row.peer_value.push_back(amp(*p));
    compare(&row, v.peers);
    if (flags.compression == Compression::kNone) {
      judge(&row, "<= 1.10x raw data (no compression)", row.lightning, 1.1);
    } else {
      row.bar = "(1.10x raw applies without compression)";
    }
    v.rows.push_back(std::move(row));
  }
  {
    RatioRow row;
    row.label = "peak RSS";
    row.unit = "bytes";
    row.higher_is_better = false;
    const auto rss = [](const EngineResult& e) {
      return e.ok && e.peak_rss_kb > 0 ? static_cast<double>(e.peak_rss_kb) * 1024 : -1.0;
    };
    row.lightning = rss(*lightning);
    for (const EngineResult* p : peers) row.peer_value.push_back(rss(*p));
    compare(&row, v.peers);
    judge(&row, "<= lowest peer's", row.vs_best, 1.0);
    v.rows.push_back(std::move(row));
  }
  for (const char* entry : {"fillrandom", "readwhilewriting"}) {
    if (std::find(flags.benchmarks.begin(), flags.benchmarks.end(), entry) == flags.benchmarks.end()) continue;
    RatioRow row;
    row.label = std::string(entry) + " p99.9";
    row.unit = "us";
    row.higher_is_better = false;
    row.lightning = p999(*lightning, entry);
    for (const EngineResult* p : peers) row.peer_value.push_back(p999(*p, entry));
    compare(&row, v.peers);
    judge(&row, "<= best peer's", row.vs_best, 1.0);
    v.rows.push_back(std::move(row));
  }

  // The three worst: lowest advantage over the best peer.
  std::vector<size_t> order;
  for (size_t i = 0; i < v.rows.size(); ++i) {
    if (v.rows[i].advantage > 0) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return v.rows[a].advantage < v.rows[b].advantage; });
  if (order.size() > 3) order.resize(3);
  v.worst = order;
  return v;
}

std::string verdict_markdown(const Verdict& v) {
  if (!v.have_lightning) return std::string();
  std::string md;
  if (!v.headline.empty()) {
    md += "### Headline (the seed's table)\n\n| | workload | lightning |";
    for (const std::string& p : v.peers) md += " " + p + " |";
    for (const std::string& p : v.peers) md += " lightning / " + p + " |";
    md += "\n|---|---|---:|";
    for (size_t i = 0; i < 2 * v.peers.size(); ++i) md += "---:|";
    md += "\n";
    for (const HeadlineRow& h : v.headline) {
      md += "| " + h.label + " | " + h.workload + " | " + value_text(h.lightning, "ops/sec") + " |";
      for (double p : h.peer_value) md += " " + value_text(p, "ops/sec") + " |";
      for (double p : h.peer_value) md += " " + ratio_text(p > 0 && h.lightning >= 0 ? h.lightning / p : -1) + " |";
      md += "\n";
    }
    md += "\n";
  }

  md += "### Lightning against each peer\n\n";
  md += "Ratios are lightning / peer: above 1 is better for throughput, below 1 for space, RSS and latency.\n\n";
  md += "| | lightning |";
  for (const std::string& p : v.peers) md += " / " + p + " |";
  md += " / best peer | bar | met |\n|---|---:|";
  for (size_t i = 0; i < v.peers.size(); ++i) md += "---:|";
  md += "---:|---|---|\n";
  std::vector<std::string> missed;
  for (const RatioRow& r : v.rows) {
    md += "| " + r.label + " | " + value_text(r.lightning, r.unit) + " |";
    for (double x : r.vs_peer) md += " " + ratio_text(x) + " |";
    md += " " + (r.vs_best < 0 ? std::string("-") : ratio_text(r.vs_best) + " (" + r.best_peer + ")") + " | ";
    md += (r.bar.empty() ? std::string("-") : r.bar) + " | ";
    switch (r.result) {
      case BarResult::kNoBar: md += "-"; break;
      case BarResult::kUnknown: md += "n/a"; break;
      case BarResult::kMet: md += "yes (" + fmt(r.unit == "x raw" ? "%.2fx raw" : "%.2fx", r.bar_value) + ")"; break;
      case BarResult::kMissed:
        md += "**no** (" + fmt(r.unit == "x raw" ? "%.2fx raw" : "%.2fx", r.bar_value) + ")";
        missed.push_back(r.label);
        break;
    }
    md += " |\n";
  }
  md += "\n";
  if (!v.worst.empty()) {
    md += "Worst ratios to the best peer:";
    for (size_t k = 0; k < v.worst.size(); ++k) {
      const RatioRow& r = v.rows[v.worst[k]];
      md += std::string(k ? ";" : "") + " " + std::to_string(k + 1) + ". " + r.label + " " + ratio_text(r.vs_best) +
            " " + r.best_peer;
      if (!r.higher_is_better) md += " (lower is better)";
    }
    md += "\n\n";
  }
  if (!missed.empty()) {
    md += "Bars missed:";
    for (size_t k = 0; k < missed.size(); ++k) md += std::string(k ? "," : "") + " " + missed[k];
    md += "\n\n";
  }
  return md;
}

std::string verdict_json(const Verdict& v) {
  const auto number = [](double x) { return x < 0 ? std::string("null") : json_number(x); };
  std::string j = "  \"headline\": [";
  for (size_t i = 0; i < v.headline.size(); ++i) {
    const HeadlineRow& h = v.headline[i];
    j += std::string(i ? "," : "") + "\n    {\"label\": " + json_string(h.label) +
         ", \"workload\": " + json_string(h.workload) + ", \"ops_per_sec\": {\"lightning\": " + number(h.lightning);
    for (size_t p = 0; p < v.peers.size(); ++p) j += ", " + json_string(v.peers[p]) + ": " + number(h.peer_value[p]);
    j += "}, \"lightning_over\": {";
    for (size_t p = 0; p < v.peers.size(); ++p) {
      const double r = h.peer_value[p] > 0 && h.lightning >= 0 ? h.lightning / h.peer_value[p] : -1;
      j += std::string(p ? ", " : "") + json_string(v.peers[p]) + ": " + number(r);
    }
    j += "}}";
  }
  j += "\n  ],\n  \"ratios\": [";
  std::string missed;
  for (size_t i = 0; i < v.rows.size(); ++i) {
    const RatioRow& r = v.rows[i];
    j += std::string(i ? "," : "") + "\n    {\"label\": " + json_string(r.label) + ", \"unit\": " +
         json_string(r.unit) + ", \"higher_is_better\": " + (r.higher_is_better ? "true" : "false") +
         ", \"lightning\": " + number(r.lightning) + ", \"peers\": {";
    for (size_t p = 0; p < v.peers.size(); ++p) {
      j += std::string(p ? ", " : "") + json_string(v.peers[p]) + ": " + number(r.peer_value[p]);
    }
    j += "}, \"lightning_over\": {";
    for (size_t p = 0; p < v.peers.size(); ++p) {
      j += std::string(p ? ", " : "") + json_string(v.peers[p]) + ": " + number(r.vs_peer[p]);
    }
    j += "}, \"best_peer\": " + (r.best_peer.empty() ? std::string("null") : json_string(r.best_peer)) +
         ", \"lightning_over_best\": " + number(r.vs_best) + ", \"bar\": " +
         (r.bar.empty() ? std::string("null") : json_string(r.bar));
    const char* met = "null";
    if (r.result == BarResult::kMet) met = "true";
    if (r.result == BarResult::kMissed) met = "false";
    j += ", \"bar_value\": " + number(r.bar_value) + ", \"bar_met\": " + met + "}";
    if (r.result == BarResult::kMissed) missed += (missed.empty() ? "" : ", ") + json_string(r.label);
  }
  j += "\n  ],\n  \"worst_ratios\": [";
  for (size_t k = 0; k < v.worst.size(); ++k) j += (k ? ", " : "") + json_string(v.rows[v.worst[k]].label);
  j += "],\n  \"bars_missed\": [" + missed + "]";
  return j;
}

}  // namespace lightning::bench
