// Copyright (c) Lightning authors. MIT License.
//
// The end-of-run verdict: the seed's headline table (cached read, write,
// batch write, range scan: Lightning beside each peer) and the ratio table
// (per workload, Lightning's figure against each peer and the best peer,
// with issue 7's bar where it sets one, whether it is met, and the three
// worst ratios). Computed in the parent from the engines' results; pure
// functions of their arguments, so callable from any thread.
#ifndef LIGHTNING_BENCH_VERDICT_H_
#define LIGHTNING_BENCH_VERDICT_H_

#include <string>
#include <vector>

#include "flags.h"
#include "report.h"

namespace lightning::bench {

enum class BarResult { kNoBar, kMet, kMissed, kUnknown };

// One row of the ratio table: a workload's throughput, or one of the
// footprint rows (space after compaction, peak RSS, p99.9 latency, group
// commit) appended after the workloads.
struct RatioRow {
  std::string label;              // "readrandom #2", "peak RSS", "fillrandom p99.9"
  std::string unit;               // "ops/sec", "MB/s", "x raw", "bytes", "us", "x"
  bool higher_is_better = true;   // throughput: yes; RSS, latency, space: no
  double lightning = -1;          // Lightning's figure; -1: not measured
  std::vector<double> peer_value;  // per Verdict::peers; -1: not measured
  // Lightning's figure / the peer's (so > 1 is better only when
  // higher_is_better); -1 when either is missing.
  std::vector<double> vs_peer;
  double vs_best = -1;  // against the peer with the best figure
  std::string best_peer;
  // Lightning's advantage over the best peer, oriented so that > 1 is
  // better for Lightning whatever the unit; -1 when unknown. Orders the
  // worst ratios.
  double advantage = -1;

  std::string bar;          // the bar in words, empty when the issue sets none
  double bar_value = -1;    // the figure the bar judges (a ratio, or the space amp itself)
  double bar_target = 0;
  BarResult result = BarResult::kNoBar;
};

struct HeadlineRow {
  std::string label;     // "cached read"
  std::string workload;  // "readhot"
  double lightning = -1;
  std::vector<double> peer_value;  // per Verdict::peers, -1: not measured
};

struct Verdict {
  bool have_lightning = false;
  std::vector<std::string> peers;  // every engine but lightning and null, in run order
  std::vector<HeadlineRow> headline;
  std::vector<RatioRow> rows;
  std::vector<size_t> worst;  // indices into rows: up to three lowest advantages, worst first
};

Verdict compute_verdict(const Flags& flags, const std::vector<EngineResult>& engines);

// The headline and ratio tables as Markdown (empty without Lightning), and as
// JSON members ("headline": [...], "ratios": [...], "worst_ratios": [...],
// "bars_missed": [...]) without the enclosing braces, each line indented.
std::string verdict_markdown(const Verdict& v);
std::string verdict_json(const Verdict& v);

}  // namespace lightning::bench

#endif  // LIGHTNING_BENCH_VERDICT_H_
