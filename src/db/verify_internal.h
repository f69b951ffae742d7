// Copyright (c) Lightning authors. MIT License.
//
// Verifier: the checks behind Database::verify, VerifyDatabase and
// RepairDatabase, one live file at a time. Every read bypasses the caches
// (tables are opened without a block cache, the tree through a pager of its
// own with a capacity-0 cache and no mmap), so every byte is checksummed.
//
// Thread-safety: one thread at a time; it adds to the VerifyReport it was
// given, which must outlive it.
#ifndef LIGHTNING_DB_VERIFY_INTERNAL_H_
#define LIGHTNING_DB_VERIFY_INTERNAL_H_

#include <functional>
#include <memory>
#include <string>

#include "btree/btree.h"
#include "db/dbformat.h"
#include "db/manifest.h"
#include "db/version.h"
#include "lightning/env.h"
#include "lightning/maintenance.h"
#include "sst/table_options.h"

namespace lightning {

class Verifier {
 public:
  using TableEntryFn = std::function<void(const Slice& ikey, const Slice& value)>;
  using TreeVersionFn = std::function<Status(const std::shared_ptr<const btree::TreeVersion>&)>;

  Verifier(Env* env, std::string dbname, const InternalKeyComparator* icmp, const TableOptions& table_options,
           VerifyReport* report);

  // Reads the MANIFEST: checksum, fields, comparator name, level invariants.
  Status check_manifest(ManifestState* state);
  // Reads every block of the table: checksums, key order, and agreement with
  // meta (size, first and last key, entry count, largest sequence). Calls
  // on_entry (if set) with each entry as it goes.
  Status check_table(const FileMetaData& meta, TableEntryFn on_entry = nullptr);
  // Reads every record of log `number`: checksums, batch format, sequence
  // numbers above *last_sequence and increasing (*last_sequence advances).
  // A torn tail is counted in the report, not an error. Reads no further
  // than max_size bytes (the live log's flushed part).
  Status check_log(uint64_t number, SequenceNumber* last_sequence, uint64_t max_size = UINT64_MAX);
  // Checks every page reachable from tree commit meta and its free list
  // (CheckTree). from_meta_page: the commit is read from its meta page
  // (offline); otherwise meta is trusted (a live, pinned commit whose slot
  // a later commit may have overwritten). Then calls on_version, if set,
  // with the verified version (still open).
  Status check_tree(const btree::TreeMeta& meta, bool from_meta_page, TreeVersionFn on_version = nullptr);

 private:
  Env* const env_;
  const std::string dbname_;
  const InternalKeyComparator* const icmp_;
  const TableOptions table_options_;
  VerifyReport* const report_;
};

}  // namespace lightning

#endif  // LIGHTNING_DB_VERIFY_INTERNAL_H_
