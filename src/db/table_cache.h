// Copyright (c) Lightning authors. MIT License.
//
// TableCache: the database's open SSTables, by file number. Opening a table
// costs a file descriptor plus reading and verifying its footer, index,
// bloom filter and properties, so up to max_open_files of them stay open in a
// cache (ARC, one unit of charge per table; or, with a memory limit, the
// bytes each table holds in memory); the least useful are closed.
// Data blocks go through the shared block cache handed to each Table, or,
// where the Env can map files (64-bit POSIX), are read in place through a
// memory map of the table (see Table: mapped reads).
//
// Thread-safety: every method may be called concurrently.
// Lifetime: env, the table options' comparator and the block cache must
// outlive the TableCache. An iterator pins its table until destroyed.
#ifndef LIGHTNING_DB_TABLE_CACHE_H_
#define LIGHTNING_DB_TABLE_CACHE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "cache/cache.h"
#include "db/version.h"
#include "lightning/env.h"
#include "lightning/status.h"
#include "sst/table.h"
#include "sst/table_options.h"
#include "util/iterator.h"

namespace lightning {

class TableCache {
 public:
  // memory_limit > 0: tables are charged by memory_usage() against it,
  // instead of one unit each against max_open_files.
  TableCache(Env* env, std::string dbname, const TableOptions& options, int max_open_files, Cache* block_cache,
             size_t memory_limit = 0);
  ~TableCache();
  TableCache(const TableCache&) = delete;
  TableCache& operator=(const TableCache&) = delete;

  // Table::get on table `file`, opening it if needed.
  Status get(const FileMetaData& file, const Slice& internal_key, GetEntryFn fn);
  // An iterator over table `file`; on failure to open, an empty iterator
  // carrying the error.
  std::unique_ptr<InternalIterator> new_iterator(const FileMetaData& file, bool verify_checksums = true);
  // new_iterator() for a walk over keys beginning with prefix only: an
  // empty iterator (and *skips incremented) if the table's filter shows it
  // holds none (Table::prefix_may_match with the options' prefix extractor).
  std::unique_ptr<InternalIterator> new_prefix_iterator(const FileMetaData& file, const Slice& prefix,
                                                        std::atomic<uint64_t>* skips);
  // Opens the table (if not open) and checks its footer, index and filter.
  Status open_table(uint64_t number, uint64_t file_size);
  // Closes table number (if open), e.g. before its file is deleted.
  void evict(uint64_t number);

  const TableOptions& table_options() const { return options_; }
  // Bytes held by open tables (0 when charged by count).
  size_t memory_usage() const { return memory_limit_ > 0 ? cache_->total_charge() : 0; }

 private:
  Status find(uint64_t number, uint64_t file_size, Cache::Handle** handle);

  Env* const env_;
  const std::string dbname_;
  const TableOptions options_;
  Cache* const block_cache_;
  const size_t memory_limit_;
  std::unique_ptr<Cache> cache_;
};

}  // namespace lightning

#endif  // LIGHTNING_DB_TABLE_CACHE_H_
