// Copyright (c) Lightning authors. MIT License.
#include "sst/table_builder.h"

#include <cassert>

#include "db/dbformat.h"

namespace lightning {

TableBuilder::TableBuilder(const TableOptions& options, WritableFile* file)
    : options_(options), file_(file), data_block_(options.restart_interval), index_block_(1) {
  assert(options_.comparator != nullptr);
  if (options_.bloom_bits_per_key > 0) filter_ = std::make_unique<BloomFilterBuilder>(options_.bloom_bits_per_key);
  props_.bloom_bits_per_key = options_.bloom_bits_per_key > 0 ? static_cast<uint64_t>(options_.bloom_bits_per_key) : 0;
  props_.compression = static_cast<uint64_t>(options_.compression);
  props_.comparator_name = options_.comparator->name();
  if (filter_ != nullptr && options_.prefix_extractor != nullptr) {
    props_.prefix_extractor_name = options_.prefix_extractor->name();
  }
}

TableBuilder::~TableBuilder() { assert(closed_ && "TableBuilder destroyed without finish() or abandon()"); }

void TableBuilder::add(const Slice& key, const Slice& value) {
  assert(!closed_);
  if (closed_ || !status_.ok()) return;
  if (key.size() < 8) {
    status_ = Status::InvalidArgument("table keys must be internal keys (at least 8 bytes)");
    return;
  }
  if (props_.num_entries > 0 && options_.comparator->compare(key, Slice(last_key_)) <= 0) {
    status_ = Status::InvalidArgument("table keys must be added in strictly ascending order");
    return;
  }
  if (key.size() > UINT32_MAX || value.size() > UINT32_MAX) {
    status_ = Status::InvalidArgument("table entry too large");
    return;
  }

  if (pending_index_entry_) {
    assert(data_block_.empty());
    options_.comparator->find_shortest_separator(&last_key_, key);
    std::string handle;
    pending_handle_.encode_to(&handle);
    index_block_.add(last_key_, handle);
    pending_index_entry_ = false;
  }

  if (filter_ != nullptr) {
    // Versions of one user key are adjacent; give the filter each user key once.
    const Slice user_key = ExtractUserKey(key);
    if (props_.num_entries == 0 || user_key != Slice(last_user_key_)) {
      filter_->add_key(user_key);
      last_user_key_.assign(user_key.data(), user_key.size());
      add_prefix_to_filter(user_key);
    }
  }

  if (props_.num_entries == 0) props_.smallest_key.assign(key.data(), key.size());
  last_key_.assign(key.data(), key.size());
  props_.num_entries++;
  props_.raw_key_size += key.size();
  props_.raw_value_size += value.size();
  data_block_.add(key, value);

  if (data_block_.current_size_estimate() >= options_.block_size) flush_data_block();
}

void TableBuilder::add_prefix_to_filter(const Slice& user_key) {
  const PrefixExtractor* extractor = options_.prefix_extractor;
  if (extractor == nullptr || !extractor->in_domain(user_key)) return;
  // Keys of one prefix are adjacent (the extractor's contract): add each once.
  const Slice prefix = extractor->transform(user_key);
  if (have_last_prefix_ && prefix == Slice(last_prefix_)) return;
  filter_->add_key(prefix);
  last_prefix_.assign(prefix.data(), prefix.size());
  have_last_prefix_ = true;
}

void TableBuilder::flush_data_block() {
  if (data_block_.empty() || !status_.ok()) return;
  const uint64_t start = offset_;
  write_block(data_block_.finish(), /*compress=*/true, &pending_handle_);
  data_block_.reset();
  if (!status_.ok()) return;
  pending_index_entry_ = true;
  props_.num_data_blocks++;
  props_.data_size += offset_ - start;
  status_ = file_->flush();
}

void TableBuilder::write_block(const Slice& contents, bool compress, BlockHandle* handle) {
  CompressionType type = CompressionType::kNone;
  const Slice stored =
      compress ? MaybeCompressBlock(contents, options_.compression, &compressed_, &type) : contents;
  status_ = WriteStoredBlock(file_, stored, type, &offset_, handle);
  compressed_.clear();
}

Status TableBuilder::finish() {
  assert(!closed_);
  if (closed_) return Status::InvalidArgument("TableBuilder already finished");
  flush_data_block();
  closed_ = true;
  if (!status_.ok()) return status_;
  props_.largest_key = props_.num_entries > 0 ? last_key_ : std::string();

  BlockHandle filter_handle;
  if (filter_ != nullptr) {
    const std::string filter = filter_->finish();
    write_block(filter, /*compress=*/false, &filter_handle);
    if (!status_.ok()) return status_;
    props_.filter_size = filter.size();
  }

  // The index goes last, but the properties record its size: build and
  // compress it now, write it after the properties and metaindex.
  if (pending_index_entry_) {
    options_.comparator->find_short_successor(&last_key_);
    std::string handle;
    pending_handle_.encode_to(&handle);
    index_block_.add(last_key_, handle);
    pending_index_entry_ = false;
  }
  CompressionType index_type = CompressionType::kNone;
  std::string index_compressed;
  const Slice index_stored =
      MaybeCompressBlock(index_block_.finish(), options_.compression, &index_compressed, &index_type);
  props_.index_size = index_stored.size() + kBlockTrailerSize;

  BlockHandle properties_handle;
  write_block(props_.encode(), /*compress=*/true, &properties_handle);
  if (!status_.ok()) return status_;

  // Metaindex entries must be added in bytewise order of their names.
  BlockBuilder metaindex(1);
  std::string encoded;
  if (filter_ != nullptr) {
    filter_handle.encode_to(&encoded);
    metaindex.add(kBloomFilterBlockName, encoded);
  }
  encoded.clear();
  properties_handle.encode_to(&encoded);
  metaindex.add(kPropertiesBlockName, encoded);
  Footer footer;
  write_block(metaindex.finish(), /*compress=*/false, &footer.metaindex_handle);
  if (!status_.ok()) return status_;

  status_ = WriteStoredBlock(file_, index_stored, index_type, &offset_, &footer.index_handle);
  if (!status_.ok()) return status_;

  std::string footer_encoding;
  footer.encode_to(&footer_encoding);
  status_ = file_->append(footer_encoding);
  if (!status_.ok()) return status_;
  offset_ += footer_encoding.size();
  status_ = file_->flush();
  return status_;
}

void TableBuilder::abandon() {
  assert(!closed_);
  closed_ = true;
}

}  // namespace lightning
