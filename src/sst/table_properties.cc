// Copyright (c) Lightning authors. MIT License.
#include "sst/table_properties.h"

#include <map>

#include "sst/block.h"
#include "sst/block_builder.h"
#include "util/coding.h"

namespace lightning {
namespace {

struct NumberField {
  const char* name;
  uint64_t TableProperties::*field;
};

constexpr NumberField kNumberFields[] = {
    {"lightning.bloom_bits_per_key", &TableProperties::bloom_bits_per_key},
    {"lightning.compression", &TableProperties::compression},
    {"lightning.data_size", &TableProperties::data_size},
    {"lightning.filter_size", &TableProperties::filter_size},
    {"lightning.index_size", &TableProperties::index_size},
    {"lightning.num_data_blocks", &TableProperties::num_data_blocks},
    {"lightning.num_entries", &TableProperties::num_entries},
    {"lightning.raw_key_size", &TableProperties::raw_key_size},
    {"lightning.raw_value_size", &TableProperties::raw_value_size},
};
constexpr const char* kComparator = "lightning.comparator";
constexpr const char* kLargestKey = "lightning.largest_key";
constexpr const char* kPrefixExtractor = "lightning.prefix_extractor";
constexpr const char* kSmallestKey = "lightning.smallest_key";

}  // namespace

std::string TableProperties::encode() const {
  std::map<std::string, std::string> entries;  // sorted: blocks need ascending keys
  for (const NumberField& f : kNumberFields) {
    std::string v;
    PutVarint64(&v, this->*(f.field));
    entries[f.name] = std::move(v);
  }
  entries[kComparator] = comparator_name;
  entries[kSmallestKey] = smallest_key;
  entries[kLargestKey] = largest_key;
  if (!prefix_extractor_name.empty()) entries[kPrefixExtractor] = prefix_extractor_name;
  BlockBuilder builder(1);
  for (const auto& [name, value] : entries) builder.add(name, value);
  return builder.finish().ToString();
}

Status TableProperties::decode_from(const Block& block) {
  *this = TableProperties();
  std::unique_ptr<InternalIterator> it = block.new_iterator(BytewiseComparator());
  for (it->seek_to_first(); it->valid(); it->next()) {
    const Slice name = it->key();
    if (name == Slice(kSmallestKey)) {
      smallest_key = it->value().ToString();
      continue;
    }
    if (name == Slice(kComparator)) {
      comparator_name = it->value().ToString();
      continue;
    }
    if (name == Slice(kPrefixExtractor)) {
      prefix_extractor_name = it->value().ToString();
      continue;
    }
    if (name == Slice(kLargestKey)) {
      largest_key = it->value().ToString();
      continue;
    }
    for (const NumberField& f : kNumberFields) {
      if (name == Slice(f.name)) {
        Slice v = it->value();
        if (!GetVarint64(&v, &(this->*(f.field))) || !v.empty()) {
          return Status::Corruption("bad table property", name);
        }
        break;
      }
    }
  }
  return it->status();
}

}  // namespace lightning
