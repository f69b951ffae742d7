// Copyright (c) Lightning authors. MIT License.
//
// Compaction: which tables merge, and where the result goes. Leveled, as in
// LevelDB, with level sizes derived from the B+Tree below them (as RocksDB's
// level_compaction_dynamic_level_bytes derives them from the last level):
//
//   level 6 may hold max(max_bytes_for_level_base, tree bytes / multiplier);
//   each level above may hold 1/multiplier of the one below, down to the
//   first level whose target would fall under max_bytes_for_level_base. That
//   level is the base level; the levels above it stay empty.
//
// Level 0 fills up with flushed tables whose ranges overlap; when
// level0_file_num_compaction_trigger of them exist, all of them merge with
// the base-level tables they overlap. A level n >= 1 is compacted once its
// bytes exceed its target: one of its tables, chosen round-robin through the
// key space, merges with the overlapping tables of level n+1 — or, from
// level 6, into the tree (output_level kTreeLevel), which rewrites only the
// leaves whose key ranges receive data. A table that overlaps nothing below
// moves down by a manifest change alone (a trivial move), never into the tree.
//
// Several compactions may run at once (max_background_compactions) as long
// as they share no input table and do not write overlapping key ranges into
// the same level; only one involves level 0 at a time, which keeps level 0's
// newest-first order intact.
//
// Thread-safety: PickCompaction reads being_compacted flags and must run
// under the database mutex, as must marking/unmarking inputs.
#ifndef LIGHTNING_DB_COMPACTION_H_
#define LIGHTNING_DB_COMPACTION_H_

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "db/version.h"
#include "lightning/options.h"

namespace lightning {

// The output level of a merge into the B+Tree.
inline constexpr int kTreeLevel = kNumLevels;

struct Compaction {
  int level = 0;         // inputs[0] come from here
  int output_level = 1;  // inputs[1] come from here, outputs go here
  std::array<FileList, 2> inputs;
  std::string smallest_user_key, largest_user_key;  // of all inputs
  bool manual = false;

  // One table overlapping nothing below moves by a manifest change. Never for
  // a manual compaction: compact() promises to drop tombstones, which a move
  // would carry down unchanged.
  bool is_trivial_move() const {
    return !manual && output_level != kTreeLevel && inputs[0].size() == 1 && inputs[1].empty();
  }
  uint64_t input_bytes() const;
  void mark_inputs(bool being_compacted) const;
};

// The size targets of levels 1..6 for a version (see above); 0 for a level
// above the base level.
struct LevelTargets {
  int base_level = kNumLevels - 1;
  std::array<uint64_t, kNumLevels> max_bytes{};
};
LevelTargets ComputeLevelTargets(const Options& options, const Version& version);

// The most urgent compaction that can run now beside the running ones, or
// null. Advances (*compact_pointers)[level] for a level >= 1.
std::unique_ptr<Compaction> PickCompaction(const Options& options, const InternalKeyComparator& icmp,
                                           const Version& version,
                                           const std::vector<const Compaction*>& running,
                                           std::array<std::string, kNumLevels>* compact_pointers);

// Every table of `level` with the overlapping tables of output_level (> level;
// kTreeLevel: into the tree; the levels between must be empty); null if
// level is empty or one of those tables is in a running compaction.
std::unique_ptr<Compaction> PickLevelCompaction(const InternalKeyComparator& icmp, const Version& version, int level,
                                                int output_level, const std::vector<const Compaction*>& running);

// A manual merge of the first level-6 table that is not being compacted
// into the tree; null if there is none.
std::unique_ptr<Compaction> PickTreeMergeOfFirstTable(const InternalKeyComparator& icmp, const Version& version,
                                                      const std::vector<const Compaction*>& running);

}  // namespace lightning

#endif  // LIGHTNING_DB_COMPACTION_H_
