// Copyright (c) Lightning authors. MIT License.
//
// TableProperties: facts about an SSTable, written by TableBuilder into the
// properties block and read back by Table::open.
//
// Encoding: a block (BlockBuilder format, restart interval 1) of name ->
// value entries in bytewise order of the names. Numbers are varint64;
// smallest/largest keys are raw bytes. Readers ignore names they do not know,
// so properties can be added without a format version change.
//
// Thread-safety: a plain value.
#ifndef LIGHTNING_SST_TABLE_PROPERTIES_H_
#define LIGHTNING_SST_TABLE_PROPERTIES_H_

#include <cstdint>
#include <string>

#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class Block;

struct TableProperties {
  uint64_t num_entries = 0;
  uint64_t num_data_blocks = 0;
  uint64_t raw_key_size = 0;    // sum of the sizes of all keys added
  uint64_t raw_value_size = 0;  // sum of the sizes of all values added
  uint64_t data_size = 0;       // bytes of data blocks as stored, trailers included
  uint64_t index_size = 0;      // bytes of the index block as stored
  uint64_t filter_size = 0;     // bytes of the bloom filter (0: none)
  uint64_t bloom_bits_per_key = 0;
  uint64_t compression = 0;     // the requested CompressionType
  std::string comparator_name;  // Comparator::name() of the table's order
  std::string prefix_extractor_name;  // PrefixExtractor::name() of the prefixes in the filter; empty: none
  std::string smallest_key;     // first key; empty iff num_entries == 0
  std::string largest_key;      // last key; empty iff num_entries == 0

  // The contents of a properties block.
  std::string encode() const;
  // Parses a properties block. Corruption if an entry is malformed.
  Status decode_from(const Block& block);
};

}  // namespace lightning

#endif  // LIGHTNING_SST_TABLE_PROPERTIES_H_
