// Copyright (c) Lightning authors. MIT License.
//
// TableBuilder: writes a sorted run of internal keys into an SSTable file
// (format: docs/SSTABLE.md). Usage:
//
//   TableBuilder b(options, file);
//   for (...) b.add(ikey, value);     // strictly ascending by options.comparator
//   Status s = b.finish();            // or b.abandon()
//   then file->sync() / close() as the caller's durability needs dictate.
//
// Errors are sticky: after a failed add (out-of-order or short key, or an I/O
// error), status() is non-OK, further adds are ignored and finish() returns
// that status.
//
// Thread-safety: one thread at a time. Lifetime: file and options.comparator
// must outlive the builder; the builder neither syncs nor closes the file.
#ifndef LIGHTNING_SST_TABLE_BUILDER_H_
#define LIGHTNING_SST_TABLE_BUILDER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "lightning/env.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "sst/block_builder.h"
#include "sst/bloom.h"
#include "sst/format.h"
#include "sst/table_options.h"
#include "sst/table_properties.h"

namespace lightning {

class TableBuilder {
 public:
  TableBuilder(const TableOptions& options, WritableFile* file);
  // REQUIRES: finish() or abandon() was called (asserted in debug builds).
  ~TableBuilder();

  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  // Adds an entry. key must be an internal key (>= 8 bytes) greater than
  // every key added before; otherwise status() becomes InvalidArgument.
  void add(const Slice& key, const Slice& value);

  // Writes the remaining data block, filter, properties, metaindex, index
  // and footer. No adds after this.
  Status finish();

  // Gives up: nothing more is written. The caller deletes the partial file.
  void abandon();

  uint64_t num_entries() const { return props_.num_entries; }
  // Bytes written so far; after a successful finish(), the file size.
  uint64_t file_size() const { return offset_; }
  Status status() const { return status_; }
  // Complete after finish().
  const TableProperties& properties() const { return props_; }

 private:
  void flush_data_block();
  void add_prefix_to_filter(const Slice& user_key);
  // Compresses per options (if compress) and writes contents as a block.
  void write_block(const Slice& contents, bool compress, BlockHandle* handle);

  const TableOptions options_;
  WritableFile* const file_;
  uint64_t offset_ = 0;
  Status status_;
  bool closed_ = false;

  BlockBuilder data_block_;
  BlockBuilder index_block_;
  std::unique_ptr<BloomFilterBuilder> filter_;  // null: no filter
  std::string last_key_;
  std::string last_user_key_;  // last key given to the filter
  std::string last_prefix_;    // last prefix given to the filter
  bool have_last_prefix_ = false;
  TableProperties props_;

  // After a data block is flushed its index entry waits for the next key, so
  // the separator can be shorter than the block's last key.
  bool pending_index_entry_ = false;
  BlockHandle pending_handle_;

  std::string compressed_;  // scratch for block compression
};

}  // namespace lightning

#endif  // LIGHTNING_SST_TABLE_BUILDER_H_
