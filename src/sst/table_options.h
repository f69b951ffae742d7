// Copyright (c) Lightning authors. MIT License.
//
// TableOptions: how an SSTable is written (TableBuilder) and read (Table).
// A reader must be given the same comparator the table was written with; the
// other write-side fields are recorded in the file and need not match.
//
// Thread-safety: a plain value. Lifetime: the comparator must outlive every
// builder and table using these options.
#ifndef LIGHTNING_SST_TABLE_OPTIONS_H_
#define LIGHTNING_SST_TABLE_OPTIONS_H_

#include <cstddef>
#include <string>

#include "lightning/comparator.h"
#include "lightning/options.h"
#include "lightning/prefix_extractor.h"
#include "sst/bloom.h"

namespace lightning {

struct TableOptions {
  // The order of the keys: the InternalKeyComparator for the engine's tables.
  // Keys must be internal keys (user key + 8-byte tag): the bloom filter is
  // built over and probed with their user keys. Required.
  const Comparator* comparator = nullptr;

  // Target uncompressed size of a data block. A block is cut once it reaches
  // this size, so a block holds at least one entry and an entry larger than
  // block_size gets a block of its own.
  size_t block_size = 4096;

  // Entries between restart points in data blocks (>= 1). Smaller: faster
  // seeks, bigger blocks. Index blocks always use 1.
  int restart_interval = 16;

  // Bloom filter size; <= 0 writes no filter (every key "may match").
  int bloom_bits_per_key = kDefaultBloomBitsPerKey;
  // Optional: the filter also holds the prefix of every user key in its
  // domain, and the table records the extractor's name, so that
  // Table::prefix_may_match can answer for it. Must outlive the table.
  const PrefixExtractor* prefix_extractor = nullptr;

  // Codec for data, index and properties blocks. A block is stored
  // compressed only when that saves at least 12.5%; the filter is never
  // compressed (random bits do not compress).
  CompressionType compression = CompressionType::kNone;

  // The table's file name, used only in error messages.
  std::string file_name;
};

}  // namespace lightning

#endif  // LIGHTNING_SST_TABLE_OPTIONS_H_
