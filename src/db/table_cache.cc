// Copyright (c) Lightning authors. MIT License.
#include "db/table_cache.h"

#include <utility>

#include "cache/arc_cache.h"
#include "db/filenames.h"
#include "sst/table.h"
#include "util/coding.h"

namespace lightning {
namespace {

void DeleteTable(const Slice& /*key*/, void* value) { delete static_cast<Table*>(value); }

// Keeps the table pinned in the cache for as long as the iterator lives.
class PinnedTableIterator final : public InternalIterator {
 public:
  PinnedTableIterator(std::unique_ptr<InternalIterator> it, Cache* cache, Cache::Handle* handle)
      : it_(std::move(it)), cache_(cache), handle_(handle) {}
  ~PinnedTableIterator() override {
    it_.reset();
    cache_->release(handle_);
  }
  bool valid() const override { return it_->valid(); }
  void seek_to_first() override { it_->seek_to_first(); }
  void seek_to_last() override { it_->seek_to_last(); }
  void seek(const Slice& target) override { it_->seek(target); }
  void seek_for_prev(const Slice& target) override { it_->seek_for_prev(target); }
  void next() override { it_->next(); }
  void prev() override { it_->prev(); }
  bool next_entry(Slice* key, Slice* value) override { return it_->next_entry(key, value); }
  bool prev_entry(Slice* key, Slice* value) override { return it_->prev_entry(key, value); }
  Slice key() const override { return it_->key(); }
  Slice value() const override { return it_->value(); }
  Status status() const override { return it_->status(); }

 private:
  std::unique_ptr<InternalIterator> it_;
  Cache* const cache_;
  Cache::Handle* const handle_;
};

// The table cache key of table number: its fixed64 encoding, in space.
Slice CacheKey(uint64_t number, char (&space)[8]) {
  EncodeFixed64(space, number);
  return Slice(space, sizeof(space));
}

// A read-only map of the table's first file_size bytes for Table's mapped
// reads, or null (then the table reads with pread): on 32-bit builds, whose
// address space is too small for whole tables; when the Env cannot map; and
// when the file is shorter than the manifest says (touching mapped bytes
// past the end of a file faults, a short pread is a clean Corruption).
std::unique_ptr<MappedRegion> MapTableFile(Env* env, const std::string& fname, uint64_t file_size) {
  std::unique_ptr<MappedRegion> mapped;
  if (sizeof(void*) < 8 || file_size == 0) return mapped;
  uint64_t actual_size = 0;
  if (!env->get_file_size(fname, &actual_size).ok() || actual_size < file_size) return mapped;
  if (!env->map_file(fname, static_cast<size_t>(file_size), &mapped).ok()) mapped.reset();
  return mapped;
}

}  // namespace

TableCache::TableCache(Env* env, std::string dbname, const TableOptions& options, int max_open_files,
                       Cache* block_cache, size_t memory_limit)
    : env_(env),
      dbname_(std::move(dbname)),
      options_(options),
      block_cache_(block_cache),
      memory_limit_(memory_limit),
      // Charged by memory, one shard: a table's charge is a good fraction of
      // the limit, too much for a shard of a sharded cache.
      cache_(memory_limit > 0 ? NewArcCache(memory_limit, 0) : NewArcCache(static_cast<size_t>(max_open_files))) {}

TableCache::~TableCache() = default;

Status TableCache::find(uint64_t number, uint64_t file_size, Cache::Handle** handle) {
  char key_space[8];
  const Slice key = CacheKey(number, key_space);
  *handle = cache_->lookup(key);
  if (*handle != nullptr) return Status::OK();
  // Two threads missing at once both open the table; the second insert
  // replaces the first, which closes when its last user lets go.
  const std::string fname = TableFileName(dbname_, number);
  std::unique_ptr<RandomAccessFile> file;
  Status s = env_->new_random_access_file(fname, &file);
  if (!s.ok()) return s;
  TableOptions options = options_;
  options.file_name = fname;
  std::unique_ptr<Table> table;
  s = Table::open(options, std::move(file), file_size, block_cache_, &table, MapTableFile(env_, fname, file_size));
  if (!s.ok()) return s;
  const size_t charge = memory_limit_ > 0 ? table->memory_usage() : 1;
  *handle = cache_->insert(key, table.release(), charge, &DeleteTable);
  return Status::OK();
}

Status TableCache::get(const FileMetaData& file, const Slice& internal_key, GetEntryFn fn) {
  Cache::Handle* handle = nullptr;
  Status s = find(file.number, file.file_size, &handle);
  if (!s.ok()) return s;
  s = static_cast<Table*>(cache_->value(handle))->get(internal_key, fn);
  cache_->release(handle);
  return s;
}

std::unique_ptr<InternalIterator> TableCache::new_iterator(const FileMetaData& file, bool verify_checksums) {
  Cache::Handle* handle = nullptr;
  Status s = find(file.number, file.file_size, &handle);
  if (!s.ok()) return NewEmptyIterator(s);
  auto it = static_cast<Table*>(cache_->value(handle))->new_iterator(verify_checksums);
  return std::make_unique<PinnedTableIterator>(std::move(it), cache_.get(), handle);
}

std::unique_ptr<InternalIterator> TableCache::new_prefix_iterator(const FileMetaData& file, const Slice& prefix,
                                                                  std::atomic<uint64_t>* skips) {
  Cache::Handle* handle = nullptr;
  Status s = find(file.number, file.file_size, &handle);
  if (!s.ok()) return NewEmptyIterator(s);
  const auto* table = static_cast<Table*>(cache_->value(handle));
  if (!table->prefix_may_match(prefix, options_.prefix_extractor)) {
    cache_->release(handle);
    skips->fetch_add(1, std::memory_order_relaxed);
    return NewEmptyIterator(Status::OK());
  }
  return std::make_unique<PinnedTableIterator>(table->new_iterator(), cache_.get(), handle);
}

Status TableCache::open_table(uint64_t number, uint64_t file_size) {
  Cache::Handle* handle = nullptr;
  Status s = find(number, file_size, &handle);
  if (s.ok()) cache_->release(handle);
  return s;
}

void TableCache::evict(uint64_t number) {
  char key_space[8];
  cache_->erase(CacheKey(number, key_space));
}

}  // namespace lightning
