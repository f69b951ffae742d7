// Copyright (c) Lightning authors. MIT License.
#include "sst/table.h"

#include <algorithm>
#include <cassert>
#include <vector>

#include "db/dbformat.h"
#include "sst/bloom.h"
#include "util/coding.h"
#include "util/compression.h"

namespace lightning {
namespace {

// Footer errors are Corruption or NotSupported; add the file name, keep the code.
Status WithFileName(const Status& s, const std::string& file_name) {
  const std::string where = file_name.empty() ? std::string("<table>") : file_name;
  if (s.IsNotSupported()) return Status::NotSupported(s.message(), where);
  return Status::Corruption(s.message(), where);
}

void DeleteCachedBlock(const Slice& /*key*/, void* value) { delete static_cast<Block*>(value); }

}  // namespace

// Keeps a data block alive: either pinned in the block cache or owned (an
// owned Block may be a view of the table's memory map, kept by the Table).
class Table::BlockRef {
 public:
  BlockRef() = default;
  ~BlockRef() { reset(); }
  BlockRef(const BlockRef&) = delete;
  BlockRef& operator=(const BlockRef&) = delete;

  const Block* get() const { return block_; }

  void reset() {
    if (handle_ != nullptr) cache_->release(handle_);
    handle_ = nullptr;
    cache_ = nullptr;
    owned_.reset();
    block_ = nullptr;
  }
  void set_owned(std::unique_ptr<Block> block) {
    reset();
    owned_ = std::move(block);
    block_ = owned_.get();
  }
  void set_cached(Cache* cache, Cache::Handle* handle) {
    reset();
    cache_ = cache;
    handle_ = handle;
    block_ = static_cast<const Block*>(cache->value(handle));
  }

 private:
  const Block* block_ = nullptr;
  std::unique_ptr<Block> owned_;
  Cache* cache_ = nullptr;
  Cache::Handle* handle_ = nullptr;
};

// Index block -> data blocks. The data iterator is positioned within the
// block the index iterator points at. An error reading a block stops the
// iteration there (it is never skipped over, which would silently hide data);
// the next seek/seek_to_* starts afresh.
class Table::TwoLevelIterator final : public InternalIterator {
 public:
  TwoLevelIterator(const Table* table, bool verify_checksums)
      : table_(table),
        cmp_(table->options_.comparator),
        verify_checksums_(verify_checksums),
        index_iter_(table->index_block_->new_iterator(table->options_.comparator)) {}

  ~TwoLevelIterator() override { clear_data(); }

  bool valid() const override { return status_.ok() && data_iter_ != nullptr && data_iter_->valid(); }
  Slice key() const override { return data_iter_->key(); }
  Slice value() const override { return data_iter_->value(); }

  Status status() const override {
    if (!status_.ok()) return status_;
    if (!index_iter_->status().ok()) return index_iter_->status();
    if (data_iter_ != nullptr && !data_iter_->status().ok()) return data_iter_->status();
    return Status::OK();
  }

  void seek_to_first() override {
    status_ = Status::OK();
    index_iter_->seek_to_first();
    load_data_block();
    if (data_iter_ != nullptr) data_iter_->seek_to_first();
    skip_empty_forward();
  }

  void seek_to_last() override {
    status_ = Status::OK();
    index_iter_->seek_to_last();
    load_data_block();
    if (data_iter_ != nullptr) data_iter_->seek_to_last();
    skip_empty_backward();
  }

  void seek(const Slice& target) override {
    status_ = Status::OK();
    // The first index entry >= target names the first block that can hold
    // a key >= target (index keys separate blocks).
    index_iter_->seek(target);
    load_data_block();
    if (data_iter_ != nullptr) data_iter_->seek(target);
    skip_empty_forward();
  }

  void seek_for_prev(const Slice& target) override {
    status_ = Status::OK();
    // The last key <= target is in the first block whose index key is >=
    // target, or in an earlier one; past every index key, in the last block.
    index_iter_->seek(target);
    if (!index_iter_->valid() && index_iter_->status().ok()) index_iter_->seek_to_last();
    load_data_block();
    if (data_iter_ != nullptr) data_iter_->seek_for_prev(target);
    skip_empty_backward();
  }

  void next() override {
    assert(valid());
    data_iter_->next();
    skip_empty_forward();
  }

  void prev() override {
    assert(valid());
    data_iter_->prev();
    skip_empty_backward();
  }

  // Within a block, one call into it; at a block's end, next() / prev()'s
  // move to the neighbouring block.
  bool next_entry(Slice* key, Slice* value) override {
    assert(valid());
    if (data_iter_->next_entry(key, value)) return true;
    skip_empty_forward();
    return current_entry(key, value);
  }
  bool prev_entry(Slice* key, Slice* value) override {
    assert(valid());
    if (data_iter_->prev_entry(key, value)) return true;
    skip_empty_backward();
    return current_entry(key, value);
  }

 private:
  void clear_data() {
    data_iter_.reset();  // before the block it points into
    block_.reset();
  }

  void fail(const Status& s) {
    if (status_.ok()) status_ = s;
    clear_data();
  }

  // Makes data_iter_ an (unpositioned) iterator over the block the index
  // iterator points at; none if the index iterator is not valid.
  void load_data_block() {
    if (!index_iter_->valid()) {
      clear_data();
      return;
    }
    Slice encoded = index_iter_->value();
    BlockHandle handle;
    if (!handle.decode_from(&encoded).ok()) {
      fail(Status::Corruption("bad block handle in index", table_->options_.file_name));
      return;
    }
    if (data_iter_ != nullptr && handle.offset == block_offset_) return;  // already loaded
    clear_data();
    Status s = table_->read_data_block(handle, verify_checksums_, &block_);
    if (!s.ok()) {
      fail(s);
      return;
    }
    data_iter_ = block_.get()->new_iterator(cmp_);
    block_offset_ = handle.offset;
  }

  // Returns true if the loop should stop because of an error or the end.
  bool stop_at_boundary() {
    if (!status_.ok()) return true;
    if (data_iter_ != nullptr && !data_iter_->status().ok()) {
      fail(data_iter_->status());
      return true;
    }
    if (!index_iter_->valid()) {
      if (!index_iter_->status().ok()) fail(index_iter_->status());
      clear_data();
      return true;
    }
    return false;
  }

  void skip_empty_forward() {
    while (data_iter_ == nullptr || !data_iter_->valid()) {
      if (stop_at_boundary()) return;
      index_iter_->next();
      load_data_block();
      if (data_iter_ != nullptr) data_iter_->seek_to_first();
    }
  }

  void skip_empty_backward() {
    while (data_iter_ == nullptr || !data_iter_->valid()) {
      if (stop_at_boundary()) return;
      index_iter_->prev();
      load_data_block();
      if (data_iter_ != nullptr) data_iter_->seek_to_last();
    }
  }

  const Table* const table_;
  const Comparator* const cmp_;
  const bool verify_checksums_;
  std::unique_ptr<InternalIterator> index_iter_;
  BlockRef block_;                                 // declared before data_iter_:
  std::unique_ptr<InternalIterator> data_iter_;    // destroyed first
  uint64_t block_offset_ = 0;
  Status status_;
};

Table::Table(const TableOptions& options, std::unique_ptr<RandomAccessFile> file, uint64_t file_size, Cache* cache,
             std::unique_ptr<MappedRegion> mapped)
    : options_(options), file_(std::move(file)), file_size_(file_size), cache_(cache), mapped_(std::move(mapped)) {
  if (mapped_ != nullptr && (mapped_->data() == nullptr || mapped_->size() < file_size_)) mapped_.reset();
}

Table::~Table() = default;

Status Table::open(const TableOptions& options, std::unique_ptr<RandomAccessFile> file, uint64_t file_size,
                   Cache* block_cache, std::unique_ptr<Table>* table, std::unique_ptr<MappedRegion> mapped) {
  table->reset();
  if (options.comparator == nullptr) return Status::InvalidArgument("TableOptions::comparator is required");
  if (file_size < Footer::kEncodedLength) {
    return WithFileName(Status::Corruption("file too short to be an SSTable"), options.file_name);
  }
  char footer_space[Footer::kEncodedLength];
  Slice footer_input;
  Status s = file->read(file_size - Footer::kEncodedLength, Footer::kEncodedLength, &footer_input, footer_space);
  if (!s.ok()) return s;
  if (footer_input.size() != Footer::kEncodedLength) {
    return WithFileName(Status::Corruption("truncated SSTable footer"), options.file_name);
  }
  Footer footer;
  s = footer.decode_from(footer_input);
  if (!s.ok()) return WithFileName(s, options.file_name);

  std::unique_ptr<Table> t(new Table(options, std::move(file), file_size, block_cache, std::move(mapped)));
  // Until the meta blocks are known, anything before the footer is fair game.
  t->data_end_ = file_size - Footer::kEncodedLength;

  s = t->read_meta_block(footer.index_handle, &t->index_block_);
  if (!s.ok()) return s;
  std::unique_ptr<Block> metaindex;
  s = t->read_meta_block(footer.metaindex_handle, &metaindex);
  if (!s.ok()) return s;

  uint64_t data_end = std::min(footer.index_handle.offset, footer.metaindex_handle.offset);
  bool has_properties = false;
  std::unique_ptr<InternalIterator> it = metaindex->new_iterator(BytewiseComparator());
  for (it->seek_to_first(); it->valid(); it->next()) {
    const Slice name = it->key();
    const bool is_filter = name == Slice(kBloomFilterBlockName);
    const bool is_properties = name == Slice(kPropertiesBlockName);
    if (!is_filter && !is_properties) continue;  // a meta block of a later writer: not needed to read
    Slice encoded = it->value();
    BlockHandle handle;
    if (!handle.decode_from(&encoded).ok()) {
      return WithFileName(Status::Corruption("bad handle in metaindex"), options.file_name);
    }
    data_end = std::min(data_end, handle.offset);
    if (is_filter) {
      s = t->check_handle(handle);
      BlockContents contents;
      if (s.ok()) s = ReadBlock(t->file_.get(), handle, /*verify_checksum=*/true, &contents, options.file_name);
      if (!s.ok()) return s;
      t->filter_ = std::move(contents.data);
      t->has_filter_ = true;
    } else {
      std::unique_ptr<Block> props;
      s = t->read_meta_block(handle, &props);
      if (s.ok()) s = t->properties_.decode_from(*props);
      if (!s.ok()) return WithFileName(s, options.file_name);
      has_properties = true;
    }
  }
  if (!it->status().ok()) return WithFileName(it->status(), options.file_name);
  if (!has_properties) return WithFileName(Status::Corruption("SSTable has no properties block"), options.file_name);
  // Reading with another order would give wrong answers, not errors.
  if (t->properties_.comparator_name != options.comparator->name()) {
    return Status::InvalidArgument("SSTable was written with comparator " + t->properties_.comparator_name +
                                       ", opened with " + options.comparator->name(),
                                   options.file_name);
  }
  t->data_end_ = data_end;
  if (t->mapped_ != nullptr) t->init_mapped_reads();

  if (block_cache != nullptr) t->cache_id_ = block_cache->new_id();
  *table = std::move(t);
  return Status::OK();
}

Status Table::check_handle(const BlockHandle& handle) const {
  // Bounds allocations by the file size and keeps data blocks out of the
  // meta area, whatever an index entry claims.
  if (handle.offset > data_end_ || handle.size > data_end_ - handle.offset ||
      kBlockTrailerSize > data_end_ - handle.offset - handle.size) {
    return Status::Corruption("block handle out of range",
                              (options_.file_name.empty() ? std::string("<table>") : options_.file_name) +
                                  " at offset " + std::to_string(handle.offset));
  }
  return Status::OK();
}

void Table::init_mapped_reads() {
  std::unique_ptr<InternalIterator> it = index_block_->new_iterator(options_.comparator);
  for (it->seek_to_first(); it->valid(); it->next()) {
    Slice encoded = it->value();
    BlockHandle handle;
    // A bad handle is reported when a read reaches it; out-of-order offsets
    // would break the binary search: both just mean no map.
    if (!handle.decode_from(&encoded).ok() || (!block_offsets_.empty() && handle.offset <= block_offsets_.back())) {
      block_offsets_.clear();
      mapped_.reset();
      return;
    }
    block_offsets_.push_back(handle.offset);
  }
  if (!it->status().ok()) {
    block_offsets_.clear();
    mapped_.reset();
    return;
  }
  block_offsets_.shrink_to_fit();
  block_verified_.reset(new std::atomic<bool>[block_offsets_.size()]());
}

Status Table::corruption_at(const Slice& what, uint64_t offset) const {
  return Status::Corruption(what, (options_.file_name.empty() ? std::string("<table>") : options_.file_name) +
                                      " at offset " + std::to_string(offset));
}

Status Table::verify_mapped_block(const BlockHandle& handle) const {
  const auto pos = std::lower_bound(block_offsets_.begin(), block_offsets_.end(), handle.offset);
  std::atomic<bool>* verified = nullptr;
  if (pos != block_offsets_.end() && *pos == handle.offset) {
    verified = &block_verified_[static_cast<size_t>(pos - block_offsets_.begin())];
    if (verified->load(std::memory_order_acquire)) return Status::OK();
  }
  // (A handle the index listing does not hold is verified on every read.)
  const char* stored = mapped_->data() + handle.offset;
  const size_t n = static_cast<size_t>(handle.size);
  const uint8_t type = static_cast<uint8_t>(stored[n]);
  if (DecodeFixed32(stored + n + 1) != BlockChecksum(Slice(stored, n), type)) {
    return corruption_at("block checksum mismatch", handle.offset);
  }
  if (verified != nullptr) verified->store(true, std::memory_order_release);
  return Status::OK();
}

Status Table::mapped_uncompressed_block(const BlockHandle& handle, bool verify_checksums, const char** data) const {
  *data = nullptr;
  if (mapped_ == nullptr) return Status::OK();
  // check_handle keeps the block and its trailer inside the mapped bytes.
  const char* stored = mapped_->data() + handle.offset;
  // The type byte is read before the checksum check, but only picks the
  // path: the checksum covers it.
  if (static_cast<uint8_t>(stored[handle.size]) != static_cast<uint8_t>(CompressionType::kNone)) return Status::OK();
  if (verify_checksums) {
    Status s = verify_mapped_block(handle);
    if (!s.ok()) return s;
  }
  *data = stored;
  return Status::OK();
}

Status Table::read_meta_block(const BlockHandle& handle, std::unique_ptr<Block>* block) const {
  Status s = check_handle(handle);
  BlockContents contents;
  if (s.ok()) s = ReadBlock(file_.get(), handle, /*verify_checksum=*/true, &contents, options_.file_name);
  if (!s.ok()) return s;
  auto b = std::make_unique<Block>(std::move(contents.data));
  if (!b->status().ok()) return WithFileName(b->status(), options_.file_name);
  *block = std::move(b);
  return Status::OK();
}

Status Table::read_data_block(const BlockHandle& handle, bool verify_checksums, BlockRef* ref) const {
  Status s = check_handle(handle);
  if (!s.ok()) return s;
  const char* in_place = nullptr;
  s = mapped_uncompressed_block(handle, verify_checksums, &in_place);
  if (!s.ok()) return s;
  if (in_place != nullptr) {
    auto view = std::make_unique<Block>(in_place, static_cast<size_t>(handle.size));
    if (!view->status().ok()) return corruption_at(view->status().message(), handle.offset);
    ref->set_owned(std::move(view));
    return Status::OK();
  }
  const char* mapped_block = mapped_ != nullptr ? mapped_->data() + handle.offset : nullptr;
  char key_space[16];
  EncodeFixed64(key_space, cache_id_);
  EncodeFixed64(key_space + 8, handle.offset);
  const Slice cache_key(key_space, sizeof(key_space));
  if (cache_ != nullptr) {
    if (Cache::Handle* h = cache_->lookup(cache_key)) {
      ref->set_cached(cache_, h);
      return Status::OK();
    }
  }
  BlockContents contents;
  if (mapped_block != nullptr) {
    s = DecodeStoredBlock(mapped_block, handle, verify_checksums, &contents, options_.file_name);
  } else {
    s = ReadBlock(file_.get(), handle, verify_checksums, &contents, options_.file_name);
  }
  if (!s.ok()) return s;
  auto block = std::make_unique<Block>(std::move(contents.data));
  if (!block->status().ok()) return corruption_at(block->status().message(), handle.offset);
  // Only verified blocks are shared: a reader that asked for checksums must
  // never be handed a block someone else read without them.
  if (cache_ != nullptr && verify_checksums) {
    const size_t charge = block->size() + sizeof(Block);
    Cache::Handle* h = cache_->insert(cache_key, block.release(), charge, &DeleteCachedBlock);
    ref->set_cached(cache_, h);
  } else {
    ref->set_owned(std::move(block));
  }
  return Status::OK();
}

Status Table::salvage_blocks(const std::function<void(const Slice& ikey, const Slice& value)>& on_entry,
                             const std::function<void(uint64_t offset, const Status& why)>& on_damaged_block) const {
  const std::string where = options_.file_name.empty() ? std::string("<table>") : options_.file_name;
  std::unique_ptr<InternalIterator> index = index_block_->new_iterator(options_.comparator);
  std::vector<std::pair<std::string, std::string>> entries;
  for (index->seek_to_first(); index->valid(); index->next()) {
    Slice encoded = index->value();
    BlockHandle handle;
    Status s = handle.decode_from(&encoded);
    if (s.ok()) s = check_handle(handle);
    if (!s.ok()) {
      on_damaged_block(0, Status::Corruption(where, "bad block handle in index: " + s.message()));
      continue;
    }
    BlockContents contents;
    // Past the cache: a cached copy would not prove the bytes on disk intact.
    s = ReadBlock(file_.get(), handle, /*verify_checksums=*/true, &contents, options_.file_name);
    if (!s.ok() && !s.IsCorruption()) return s;
    entries.clear();
    if (s.ok()) {
      Block block(std::move(contents.data));
      s = block.status();
      if (s.ok()) {
        // A block's entries are kept only if all of it parses: a partial
        // block could end anywhere in the damage.
        std::unique_ptr<InternalIterator> it = block.new_iterator(options_.comparator);
        for (it->seek_to_first(); it->valid(); it->next()) {
          entries.emplace_back(it->key().ToString(), it->value().ToString());
        }
        s = it->status();
      }
    }
    if (!s.ok()) {
      on_damaged_block(handle.offset, s);
      continue;
    }
    for (const auto& e : entries) on_entry(e.first, e.second);
  }
  return index->status();
}

bool Table::key_may_match(const Slice& user_key) const {
  return !has_filter_ || BloomFilterMayMatch(Slice(filter_), user_key);
}

bool Table::prefix_may_match(const Slice& prefix, const PrefixExtractor* extractor) const {
  if (!has_filter_ || extractor == nullptr || properties_.prefix_extractor_name != extractor->name()) return true;
  if (!extractor->in_domain(prefix) || extractor->transform(prefix) != prefix) return true;
  return BloomFilterMayMatch(Slice(filter_), prefix);
}

Status Table::get(const Slice& internal_lookup_key, GetEntryFn fn) const {
  if (internal_lookup_key.size() < 8) return Status::InvalidArgument("Table::get needs an internal key");
  if (!key_may_match(ExtractUserKey(internal_lookup_key))) return Status::OK();
  std::unique_ptr<InternalIterator> index = index_block_->new_iterator(options_.comparator);
  // Normally the first block tried holds the answer; the loop only moves on
  // when the lookup key falls between a block's last key and its separator.
  for (index->seek(internal_lookup_key); index->valid(); index->next()) {
    Slice encoded = index->value();
    BlockHandle handle;
    if (!handle.decode_from(&encoded).ok()) {
      return Status::Corruption("bad block handle in index", options_.file_name);
    }
    // Returns true if the search is over (found, or an error in *s).
    auto search = [&](const Block& block, Status* s) {
      std::unique_ptr<InternalIterator> it = block.new_iterator(options_.comparator);
      it->seek(internal_lookup_key);
      if (it->valid()) {
        fn(it->key(), it->value());
        return true;
      }
      *s = it->status();
      return !s->ok();
    };
    Status s = check_handle(handle);
    if (!s.ok()) return s;
    const char* in_place = nullptr;
    s = mapped_uncompressed_block(handle, /*verify_checksums=*/true, &in_place);
    if (!s.ok()) return s;
    if (in_place != nullptr) {
      // The common case with a map: a Block over the mapped bytes, on the
      // stack.
      const Block block(in_place, static_cast<size_t>(handle.size));
      if (!block.status().ok()) return corruption_at(block.status().message(), handle.offset);
      if (search(block, &s)) return s;
      continue;
    }
    BlockRef ref;
    s = read_data_block(handle, /*verify_checksums=*/true, &ref);
    if (!s.ok()) return s;
    if (search(*ref.get(), &s)) return s;
  }
  return index->status();
}

std::unique_ptr<InternalIterator> Table::new_iterator(bool verify_checksums) const {
  return std::make_unique<TwoLevelIterator>(this, verify_checksums);
}

uint64_t Table::approximate_offset_of(const Slice& key) const {
  std::unique_ptr<InternalIterator> index = index_block_->new_iterator(options_.comparator);
  index->seek(key);
  if (index->valid()) {
    Slice encoded = index->value();
    BlockHandle handle;
    if (handle.decode_from(&encoded).ok()) return handle.offset;
  }
  return data_end_;
}

size_t Table::memory_usage() const {
  return sizeof(Table) + (index_block_ != nullptr ? index_block_->size() : 0) + filter_.capacity() +
         options_.file_name.capacity() + block_offsets_.capacity() * (sizeof(uint64_t) + sizeof(std::atomic<bool>));
}

}  // namespace lightning
