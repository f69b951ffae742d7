// Copyright (c) Lightning authors. MIT License.
//
// Table: a read-only SSTable (format: docs/SSTABLE.md).
//
// open() reads and verifies the footer, the index block, the bloom filter and
// the properties, and keeps them in memory for the table's lifetime. Data
// blocks are read on demand, checksum-verified, decompressed, and (if a block
// cache is given) shared through it: cache key = fixed64(cache id) |
// fixed64(block offset), value = the decoded Block.
//
// Memory-mapped reads: given a map of the file (open()'s `mapped`), data
// blocks are read from it instead of with pread. An uncompressed block is
// used in place: its checksum is verified the first time this Table reads it
// (remembered per block; a block that fails is never remembered and keeps
// failing) and it bypasses the block cache, whose role the OS page cache
// takes, as for the B+Tree. Compressed blocks are verified and decompressed
// from the map into the block cache as before. Meta blocks (index, filter,
// properties) are read with pread at open in both modes.
//
// Errors: damage anywhere yields Corruption (naming the file and offset), an
// unknown format version NotSupported; damaged data is never returned.
//
// Thread-safety: after open() a Table is immutable; get(), key_may_match(),
// approximate_offset_of() and new_iterator() may be called from many threads
// at once. Each iterator is used by one thread at a time.
// Lifetime: iterators reference the Table, which must outlive them; the
// comparator in the options and the block cache must outlive the Table.
#ifndef LIGHTNING_SST_TABLE_H_
#define LIGHTNING_SST_TABLE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cache/cache.h"
#include "lightning/env.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "sst/block.h"
#include "sst/format.h"
#include "sst/table_options.h"
#include "sst/table_properties.h"
#include "util/function_ref.h"
#include "util/iterator.h"

namespace lightning {

// Table::get's callback: called at most once, during the call.
using GetEntryFn = FunctionRef<void(const Slice& ikey, const Slice& value)>;

class Table {
 public:
  // Opens the table stored in file, whose size is file_size. options must
  // carry the comparator the table was written with (checked by name:
  // InvalidArgument otherwise); block_cache may be null. mapped, if not
  // null, maps (at least) the file's first file_size bytes of this same,
  // immutable file; it is used for data block reads (see above) and ignored
  // if smaller than file_size. The Table keeps both file and mapped.
  static Status open(const TableOptions& options, std::unique_ptr<RandomAccessFile> file, uint64_t file_size,
                     Cache* block_cache, std::unique_ptr<Table>* table,
                     std::unique_ptr<MappedRegion> mapped = nullptr);

  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // False only if the table certainly holds no entry with this user key.
  bool key_may_match(const Slice& user_key) const;
  // False only if the table certainly holds no user key beginning with
  // prefix: its filter was built with extractor (same name) and prefix is a
  // whole prefix of it (in_domain and transform(prefix) == prefix).
  bool prefix_may_match(const Slice& prefix, const PrefixExtractor* extractor) const;

  // Finds the first entry whose key is >= internal_lookup_key and, if there
  // is one, calls fn(key, value) on it (the slices are valid only during the
  // call). The caller checks that the user key matches and inspects the
  // type. Skips the table when the bloom filter excludes the user key, so fn
  // may not be called even though a greater key exists. Returns the error
  // (Corruption, IOError) if a block cannot be read; InvalidArgument if the
  // key is shorter than an internal key's 8-byte tag.
  Status get(const Slice& internal_lookup_key, GetEntryFn fn) const;

  // A cursor over all entries, in both directions. verify_checksums=false
  // skips checksum checks of data blocks not already cached (blocks read
  // that way are not inserted into the cache).
  std::unique_ptr<InternalIterator> new_iterator(bool verify_checksums = true) const;

  // The approximate file offset where key's data is (or would be): the
  // offset of the data block that would hold it; the end of the data blocks
  // for keys past the last.
  uint64_t approximate_offset_of(const Slice& key) const;

  // For repair: reads every data block the index names, in order, past the
  // block cache. The entries of each block that passes its checksum and
  // parses whole are handed to on_entry (slices valid during the call); a
  // block that does not is reported to on_damaged_block(offset, why) and
  // skipped, so nothing from a damaged block is ever returned. Key order
  // across blocks is not checked here. Returns an I/O error that stops the
  // walk; damage is not an error.
  Status salvage_blocks(const std::function<void(const Slice& ikey, const Slice& value)>& on_entry,
                        const std::function<void(uint64_t offset, const Status& why)>& on_damaged_block) const;

  // True if data blocks are read through a memory map.
  bool mapped() const { return mapped_ != nullptr; }

  const TableProperties& properties() const { return properties_; }
  uint64_t file_size() const { return file_size_; }
  // Bytes this open table holds in memory (index block, bloom filter, ...).
  size_t memory_usage() const;

 private:
  class BlockRef;
  class TwoLevelIterator;

  Table(const TableOptions& options, std::unique_ptr<RandomAccessFile> file, uint64_t file_size, Cache* cache,
        std::unique_ptr<MappedRegion> mapped);

  // Checks that a handle lies inside the file's block area.
  Status check_handle(const BlockHandle& handle) const;
  // Reads (or finds in the cache) the data block at handle.
  Status read_data_block(const BlockHandle& handle, bool verify_checksums, BlockRef* ref) const;
  // Mapped reads: the verified in-place bytes of the data block at handle
  // (already checked by check_handle) if it is stored uncompressed, else
  // null (then read_data_block reads it).
  Status mapped_uncompressed_block(const BlockHandle& handle, bool verify_checksums, const char** data) const;
  // Reads a block that is kept by the Table itself (index, metaindex, ...).
  Status read_meta_block(const BlockHandle& handle, std::unique_ptr<Block>* block) const;
  // Lists the data blocks' offsets for the verified-block flags; drops the
  // map (pread from then on) if the index does not list them in order.
  void init_mapped_reads();
  // Mapped reads: checks the checksum of the block at handle in the map,
  // unless an earlier call already did.
  Status verify_mapped_block(const BlockHandle& handle) const;
  Status corruption_at(const Slice& what, uint64_t offset) const;

  const TableOptions options_;
  const std::unique_ptr<RandomAccessFile> file_;
  const uint64_t file_size_;
  Cache* const cache_;
  uint64_t cache_id_ = 0;

  // Mapped reads (null: pread). block_offsets_ lists the data blocks in
  // file order; block_verified_[i] is set once block i's checksum passed.
  std::unique_ptr<MappedRegion> mapped_;
  std::vector<uint64_t> block_offsets_;
  std::unique_ptr<std::atomic<bool>[]> block_verified_;

  std::unique_ptr<Block> index_block_;
  std::string filter_;    // bloom filter bytes; empty: no filter
  bool has_filter_ = false;
  uint64_t data_end_ = 0;  // offset just past the last data block
  TableProperties properties_;
};

}  // namespace lightning

#endif  // LIGHTNING_SST_TABLE_H_
