// Copyright (c) Lightning authors. MIT License.
//
// WriteSortedRun: the one loop that turns a sorted stream of internal keys
// (a memtable being flushed, or the merged inputs of a compaction) into
// SSTables, dropping what no reader can see any more:
//
//  - a version hidden by a newer version of the same user key, when that
//    newer version is at or below smallest_snapshot (so every reader, present
//    or future, sees the newer one);
//  - a tombstone at or below smallest_snapshot, when may_drop_tombstone says
//    no older data for its key can exist below the output (nothing to hide).
//
// Output tables are cut once they reach max_output_size, and only between
// user keys, so a user key never spans two tables. Each output is synced and
// closed, and the directory synced, before this returns OK; the caller then
// records the outputs in the manifest. On any error (including cancellation)
// the partial outputs are deleted and nothing is reported.
//
// Thread-safety: a pure function of its arguments; spec's callbacks must be
// safe to call from the calling thread.
#ifndef LIGHTNING_DB_SORTED_RUN_BUILDER_H_
#define LIGHTNING_DB_SORTED_RUN_BUILDER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "db/dbformat.h"
#include "db/version.h"
#include "lightning/env.h"
#include "lightning/status.h"
#include "sst/table_options.h"
#include "util/iterator.h"

namespace lightning {

struct SortedRunSpec {
  Env* env = nullptr;
  std::string dbname;
  TableOptions table_options;  // comparator: the InternalKeyComparator
  SequenceNumber smallest_snapshot = kMaxSequenceNumber;
  uint64_t max_output_size = UINT64_MAX;
  // null: tombstones are always kept (a flush: older data may be in tables).
  std::function<bool(const Slice& user_key)> may_drop_tombstone;
  // Allocates the number of the next output table.
  std::function<uint64_t()> new_file_number;
  // Checked every few thousand entries: true aborts with Status::Aborted.
  const std::atomic<bool>* cancel = nullptr;
};

struct SortedRunResult {
  std::vector<FileMetaData> outputs;
  uint64_t bytes_written = 0;
  uint64_t entries_read = 0;
  uint64_t entries_dropped = 0;
};

Status WriteSortedRun(const SortedRunSpec& spec, InternalIterator* input, SortedRunResult* result);

}  // namespace lightning

#endif  // LIGHTNING_DB_SORTED_RUN_BUILDER_H_
