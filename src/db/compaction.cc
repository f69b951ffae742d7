// Copyright (c) Lightning authors. MIT License.
#include "db/compaction.h"

#include <algorithm>
#include <utility>

namespace lightning {
namespace {

bool AnyBeingCompacted(const FileList& files) {
  return std::any_of(files.begin(), files.end(), [](const auto& f) { return f->being_compacted; });
}

// Completes c (inputs[0] and level set): adds the overlapping tables of the
// output level and the key range; false if that conflicts with a running
// compaction.
bool Expand(const InternalKeyComparator& icmp, const Version& version, const std::vector<const Compaction*>& running,
            int output_level, Compaction* c) {
  if (c->inputs[0].empty() || AnyBeingCompacted(c->inputs[0])) return false;
  c->output_level = output_level;
  std::string smallest, largest;
  KeyRange(icmp, c->inputs[0], &smallest, &largest);
  if (output_level == kTreeLevel) {
    // One merge into the tree at a time: each commits the tree, and the
    // MANIFEST must record it before the next begins (pager.h).
    for (const Compaction* r : running) {
      if (r->output_level == kTreeLevel) return false;
    }
    c->inputs[1].clear();
  } else {
    c->inputs[1] = version.overlapping(c->output_level, smallest, largest);
  }
  if (AnyBeingCompacted(c->inputs[1])) return false;
  FileList all = c->inputs[0];
  all.insert(all.end(), c->inputs[1].begin(), c->inputs[1].end());
  KeyRange(icmp, all, &c->smallest_user_key, &c->largest_user_key);
  const Comparator* ucmp = icmp.user_comparator();
  for (const Compaction* r : running) {
    if (c->level == 0 && r->level == 0) return false;
    if (r->output_level != c->output_level) continue;
    const bool disjoint = ucmp->compare(r->largest_user_key, c->smallest_user_key) < 0 ||
                          ucmp->compare(c->largest_user_key, r->smallest_user_key) < 0;
    if (!disjoint) return false;
  }
  return true;
}

}  // namespace

uint64_t Compaction::input_bytes() const {
  uint64_t sum = 0;
  for (const auto& list : inputs) {
    for (const auto& f : list) sum += f->file_size;
  }
  return sum;
}

void Compaction::mark_inputs(bool being_compacted) const {
  for (const auto& list : inputs) {
    for (const auto& f : list) f->being_compacted = being_compacted;
  }
}

LevelTargets ComputeLevelTargets(const Options& options, const Version& version) {
  const double base = static_cast<double>(options.max_bytes_for_level_base);
  const double mult = options.level_size_multiplier;
  constexpr int kLast = kNumLevels - 1;
  LevelTargets t;
  double bytes = std::max(base, static_cast<double>(version.tree()->data_bytes()) / mult);
  auto clamp = [](double b) { return b >= 1.8e19 ? UINT64_MAX : static_cast<uint64_t>(b); };
  t.max_bytes[kLast] = clamp(bytes);
  t.base_level = kLast;
  for (int level = kLast - 1; level >= 1; level--) {
    bytes /= mult;
    if (bytes < base) break;
    t.max_bytes[level] = clamp(bytes);
    t.base_level = level;
  }
  // Level 0 must never compact below data already in a higher level (the
  // tree shrank, say): the base level is at most the first non-empty one.
  for (int level = 1; level < t.base_level; level++) {
    if (version.num_files(level) > 0) {
      for (int l = level; l < t.base_level; l++) t.max_bytes[l] = static_cast<uint64_t>(base);
      t.base_level = level;
      break;
    }
  }
  return t;
}

std::unique_ptr<Compaction> PickCompaction(const Options& options, const InternalKeyComparator& icmp,
                                           const Version& version,
                                           const std::vector<const Compaction*>& running,
                                           std::array<std::string, kNumLevels>* compact_pointers) {
  // Levels in order of urgency: score = size / target (count / trigger for
  // level 0); only scores >= 1 need work.
  const LevelTargets targets = ComputeLevelTargets(options, version);
  std::vector<std::pair<double, int>> scored;
  scored.emplace_back(static_cast<double>(version.num_files(0)) / options.level0_file_num_compaction_trigger, 0);
  for (int level = 1; level < kNumLevels; level++) {
    const uint64_t bytes = version.level_bytes(level);
    if (bytes == 0) continue;
    // A non-empty level above the base level (left by a larger tree) drains.
    const double target = targets.max_bytes[level] > 0 ? static_cast<double>(targets.max_bytes[level]) : 1.0;
    scored.emplace_back(static_cast<double>(bytes) / target, level);
  }
  std::sort(scored.begin(), scored.end(), [](const auto& a, const auto& b) { return a.first > b.first; });

  for (const auto& [score, level] : scored) {
    if (score < 1) break;
    if (level == 0) {
      auto c = std::make_unique<Compaction>();
      c->level = 0;
      c->inputs[0] = version.files(0);
      if (Expand(icmp, version, running, targets.base_level, c.get())) return c;
      continue;
    }
    // Round-robin: start after the table compacted last time at this level.
    const FileList& files = version.files(level);
    std::string& pointer = (*compact_pointers)[level];
    size_t start = 0;
    if (!pointer.empty()) {
      while (start < files.size() && icmp.compare(files[start]->largest, pointer) <= 0) start++;
    }
    for (size_t k = 0; k < files.size(); k++) {
      const auto& f = files[(start + k) % files.size()];
      auto c = std::make_unique<Compaction>();
      c->level = level;
      c->inputs[0] = {f};
      if (Expand(icmp, version, running, level + 1 == kNumLevels ? kTreeLevel : level + 1, c.get())) {
        pointer = f->largest;
        return c;
      }
    }
  }
  return nullptr;
}

std::unique_ptr<Compaction> PickLevelCompaction(const InternalKeyComparator& icmp, const Version& version, int level,
                                                int output_level, const std::vector<const Compaction*>& running) {
  auto c = std::make_unique<Compaction>();
  c->level = level;
  c->manual = true;
  c->inputs[0] = version.files(level);
  if (!Expand(icmp, version, running, output_level, c.get())) return nullptr;
  return c;
}

std::unique_ptr<Compaction> PickTreeMergeOfFirstTable(const InternalKeyComparator& icmp, const Version& version,
                                                      const std::vector<const Compaction*>& running) {
  for (const auto& f : version.files(kNumLevels - 1)) {
    if (f->being_compacted) continue;
    auto c = std::make_unique<Compaction>();
    c->level = kNumLevels - 1;
    c->manual = true;
    c->inputs[0] = {f};
    if (Expand(icmp, version, running, kTreeLevel, c.get())) return c;
    return nullptr;  // another merge into the tree is running
  }
  return nullptr;
}

}  // namespace lightning
