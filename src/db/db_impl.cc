// Copyright (c) Lightning authors. MIT License.
#include "db/db_impl.h"

#include <algorithm>
#include <exception>
#include <new>
#include <vector>

#include "cache/arc_cache.h"
#include "db/db_iter.h"
#include "db/filenames.h"
#include "db/scan_options.h"
#include "db/write_batch_internal.h"
#include "txn/transaction_impl.h"
#include "util/no_throw.h"
#include "lightning/comparator.h"
#include "memtable/memtable.h"
#include "util/concatenating_iterator.h"
#include "util/merging_iterator.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning {

namespace {

// A group grows to at most this many bytes, and much less when the leader's
// own batch is small, so that a small write is not delayed behind a big group.
constexpr size_t kMaxGroupBytes = 1 << 20;
constexpr size_t kSmallBatchBytes = 128 << 10;

Status ClosedError() { return Status::Closed("the database is closed"); }

// memory_budget, when set, decides the sizes it overrides (options.h).
Options ApplyMemoryBudget(Options o) {
  if (o.memory_budget == 0) return o;
  o.memtable_size = static_cast<size_t>(o.memory_budget / 8);
  o.max_immutable_memtables = 1;
  o.cache_size = static_cast<size_t>(o.memory_budget / 2);
  // Small tables keep each one's index and filter a small part of the
  // budget share for open tables.
  o.target_file_size = std::min<uint64_t>(o.target_file_size, std::max<uint64_t>(64u << 10, o.memory_budget / 16));
  // ...and few of them: the tree, not the SSTable levels, holds the bulk.
  o.max_bytes_for_level_base = std::min<uint64_t>(o.max_bytes_for_level_base, o.memory_budget);
  return o;
}

Status ValidateOptions(const Options& o) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument("Options", what); };
  if (o.memory_budget != 0 && o.memory_budget < (4u << 20)) return bad("memory_budget must be 0 or >= 4 MiB");
  if (o.wal_sync_interval_ms == 0) return bad("wal_sync_interval_ms must be > 0");
  if (o.wal_prefill_bytes > (256u << 20)) return bad("wal_prefill_bytes must be <= 256 MiB");
  if (o.memtable_size < (64u << 10)) return bad("memtable_size must be >= 64 KiB");
  if (o.max_immutable_memtables < 1) return bad("max_immutable_memtables must be >= 1");
  if (o.level0_file_num_compaction_trigger < 1 ||
      o.level0_slowdown_writes_trigger < o.level0_file_num_compaction_trigger ||
      o.level0_stop_writes_trigger < o.level0_slowdown_writes_trigger) {
    return bad("need 1 <= level0_file_num_compaction_trigger <= level0_slowdown_writes_trigger <= "
               "level0_stop_writes_trigger");
  }
  if (o.max_background_compactions < 1 || o.max_background_compactions > 64) {
    return bad("max_background_compactions must be in 1..64");
  }
  if (o.target_file_size < (64u << 10)) return bad("target_file_size must be >= 64 KiB");
  if (o.max_bytes_for_level_base < (64u << 10)) return bad("max_bytes_for_level_base must be >= 64 KiB");
  if (o.level_size_multiplier < 2) return bad("level_size_multiplier must be >= 2");
  if (o.block_size < 1024 || o.block_size > (4u << 20)) return bad("block_size must be in 1 KiB..4 MiB");
  if (o.page_size < btree::kMinPageSize || o.page_size > btree::kMaxPageSize || (o.page_size & (o.page_size - 1)) != 0) {
    return bad("page_size must be a power of two in 4 KiB..64 KiB");
  }
  if (o.bloom_bits_per_key < 0 || o.bloom_bits_per_key > 64) return bad("bloom_bits_per_key must be in 0..64");
  switch (o.compression) {
    case CompressionType::kNone:
    case CompressionType::kZstd:
    case CompressionType::kLz4:
    case CompressionType::kSnappy:
      break;
    default:
      return bad("unknown compression type");
  }
  if (o.max_open_files < 16) return bad("max_open_files must be >= 16");
  if (o.max_active_transactions < 1) return bad("max_active_transactions must be >= 1");
  return Status::OK();
}

TableOptions MakeTableOptions(const Options& o, const Comparator* icmp) {
  TableOptions t;
  t.comparator = icmp;
  t.block_size = o.block_size;
  t.bloom_bits_per_key = o.bloom_bits_per_key;
  t.compression = o.compression;
  t.prefix_extractor = o.prefix_extractor;
  return t;
}

}  // namespace

struct DBImpl::Writer {
  explicit Writer(port::Mutex* mu) : cv(mu) {}
  const WriteBatch* batch = nullptr;  // nullptr: only a flush/sync request
  // A memtable switch (flush()): must lead its own group, since a leader
  // serving it as a follower would not switch.
  bool force_switch = false;
  Durability durability = Durability::kBuffered;
  // A transaction's commit: validated by the leader before it is numbered.
  const ConflictCheck* check = nullptr;
  bool rejected = false;  // failed its check (status says why); not written
  bool done = false;
  Status status;
  port::CondVar cv;
};

Database::~Database() = default;

Result<std::string> Database::get(const Slice& key, const ReadOptions& read_options) {
  std::string value;
  Status s = get(key, &value, read_options);
  if (!s.ok()) return s;
  return value;
}

std::vector<Result<std::string>> Database::get_batch(const std::vector<std::string>& keys,
                                                     const ReadOptions& read_options) {
  std::vector<Slice> slices(keys.begin(), keys.end());
  return get_batch(slices, read_options);
}

Scan Database::scan(std::optional<Slice> start, std::optional<Slice> end, size_t limit,
                    const ReadOptions& read_options) {
  return new_scan(RangeScanOptions(start, end, limit, /*reverse=*/false), read_options);
}

Scan Database::scan_reverse(std::optional<Slice> start, std::optional<Slice> end, size_t limit,
                            const ReadOptions& read_options) {
  return new_scan(RangeScanOptions(start, end, limit, /*reverse=*/true), read_options);
}

Scan Database::scan_prefix(const Slice& prefix, size_t limit, const ReadOptions& read_options) {
  return new_scan(PrefixScanOptions(prefix, limit), read_options);
}

Status Database::put_batch(const std::vector<std::pair<std::string, std::string>>& entries,
                           const WriteOptions& write_options) {
  WriteBatch batch;
  for (const auto& [key, value] : entries) {
    Status s = batch.put(key, value);
    if (!s.ok()) return s;
  }
  return write(batch, write_options);
}

Status Database::delete_batch(const std::vector<std::string>& keys, const WriteOptions& write_options) {
  WriteBatch batch;
  for (const auto& key : keys) {
    Status s = batch.remove(key);
    if (!s.ok()) return s;
  }
  return write(batch, write_options);
}

Status Database::put_with_consistency(const Slice& key, const Slice& value, ConsistencyLevel level) {
  WriteOptions o;
  o.consistency = level;
  return put(key, value, o);
}

Result<std::unique_ptr<Subscription>> Database::subscribe(ChangeCallbackFn fn, void* state,
                                                        const SubscribeOptions& options) {
  if (fn == nullptr) return Status::InvalidArgument("subscribe: the callback function is null");
  return subscribe(ChangeCallback([fn, state](const ChangeEvent& event) { fn(state, &event); }), options);
}

Result<std::unique_ptr<Database>> Database::create(const std::string& path, const Options& options) {
  Options o = options;
  o.create_if_missing = true;
  o.error_if_exists = true;
  return open(path, o);
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path, const Options& options) {
  std::unique_ptr<Database> db;
  Status s = NoThrow([&] {
    if (path.empty()) return Status::InvalidArgument("empty database path");
    Status vs = ValidateOptions(ApplyMemoryBudget(options));
    if (!vs.ok()) return vs;
    auto impl = std::make_unique<DBImpl>(options, path);
    Status st = impl->open_impl();
    if (st.ok()) db = std::move(impl);
    return st;
  });
  if (!s.ok()) return s;
  return db;
}

DBImpl::DBImpl(const Options& options, std::string dbname)
    : env_(options.env != nullptr ? options.env : Env::Default()),
      options_(ApplyMemoryBudget(options)),
      dbname_(std::move(dbname)),
      icmp_(options.comparator != nullptr ? options.comparator : BytewiseComparator()),
      table_options_(MakeTableOptions(options, &icmp_)),
      bg_cv_(&mu_),
      snapshots_(std::make_shared<SnapshotList>(&last_sequence_)),
      subscriptions_(std::make_shared<SubscriptionHub>(icmp_.user_comparator())) {
  if (options_.cache_size > 0) block_cache_ = NewArcCache(options_.cache_size);
  // The tree reads through a cache even when caching is off (capacity 0).
  if (block_cache_ == nullptr) tree_cache_ = NewArcCache(0);
  table_cache_ = std::make_unique<TableCache>(env_, dbname_, table_options_, options_.max_open_files,
                                              block_cache_.get(),
                                              static_cast<size_t>(options_.memory_budget / 4));
}

DBImpl::~DBImpl() { (void)close(); }

DBImpl::Durability DBImpl::durability_for(const WriteOptions& write_options) const {
  if (write_options.sync) return Durability::kSynced;
  switch (write_options.consistency) {
    case ConsistencyLevel::kStrong: return Durability::kSynced;
    case ConsistencyLevel::kQuorum: return Durability::kFlushed;
    case ConsistencyLevel::kEventual: return Durability::kBuffered;
    case ConsistencyLevel::kDefault: break;
  }
  switch (options_.wal_sync_mode) {
    case WalSyncMode::kFull: return Durability::kSynced;
    case WalSyncMode::kNormal: return Durability::kFlushed;
    case WalSyncMode::kOff: return Durability::kBuffered;
  }
  return Durability::kSynced;
}

// ---------------------------------------------------------------- open

Status DBImpl::open_impl() {
  bool is_dir = false;
  Status s = env_->is_directory(dbname_, &is_dir);
  if (s.ok() && !is_dir) return Status::InvalidArgument(dbname_, "the path exists and is not a directory");
  if (s.IsNotFound()) {
    if (!options_.create_if_missing) {
      return Status::NotFound(dbname_, "no database here (create_if_missing is false)");
    }
    s = env_->create_dir_if_missing(dbname_);
  }
  if (!s.ok()) return s;

  s = env_->lock_file(LockFileName(dbname_), &db_lock_);
  if (!s.ok()) return s;

  ManifestState state;
  SequenceNumber max_sequence = 0;
  s = recover(&state, &max_sequence);
  if (!s.ok()) return s;

  // The tree at the commit the MANIFEST names (a newer one, made just before
  // a crash that kept the MANIFEST from recording it, is ignored).
  btree::PagerOptions po;
  po.env = env_;
  po.fname = TreeFileName(dbname_);
  po.page_size = options_.page_size;
  po.compression = options_.compression;
  po.cache = block_cache_ != nullptr ? block_cache_.get() : tree_cache_.get();
  po.mmap_size = options_.mmap_size;
  s = btree::BTreePager::Open(po, state.tree_epoch, &tree_pager_);
  if (!s.ok()) return s;
  auto tree = std::make_shared<btree::TreeVersion>(tree_pager_.get(), &icmp_, tree_pager_->committed(),
                                                   tree_pager_->mapping());

  // Every replayed record is now in a table: a fresh log takes new writes
  // and the manifest retires the old ones.
  const uint64_t log_number = new_file_number();
  std::unique_ptr<wal::WalWriter> log;
  s = wal::WalWriter::create(env_, LogFileName(dbname_, log_number), log_number, &log, options_.wal_prefill_bytes);
  if (s.ok()) s = log->sync();
  if (!s.ok()) return s;
  state.log_number = log_number;
  state.last_sequence = max_sequence;
  state.next_file_number = next_file_number_.load();
  s = WriteManifest(env_, dbname_, state);
  if (!s.ok()) return s;

  VersionBuilder builder(&icmp_, nullptr);
  for (const auto& t : state.tables) builder.add(t.level, std::make_shared<FileMetaData>(t.meta));
  builder.set_tree(std::move(tree));
  std::shared_ptr<const Version> version;
  s = builder.finish(&version);
  if (!s.ok()) return Status::Corruption(ManifestFileName(dbname_), s.ToString());

  port::MutexLock l(&mu_);
  log_ = std::move(log);
  mem_ = std::make_shared<MemTable>(icmp_, MemTable::FilterBytesFor(options_.memtable_size));
  mem_first_sequence_ = max_sequence + 1;
  mem_log_number_ = log_number;
  current_ = std::move(version);
  manifest_log_number_ = state.log_number;
  manifest_last_sequence_ = state.last_sequence;
  logs_deleted_below_ = state.log_number;
  last_sequence_.store(max_sequence, std::memory_order_release);

  // Whatever the manifest does not list is debris of an interrupted flush,
  // compaction or manifest write.
  std::vector<std::string> children;
  if (env_->get_children(dbname_, &children).ok()) {
    std::vector<uint64_t> live;
    for (const auto& t : state.tables) live.push_back(t.meta.number);
    for (const auto& name : children) {
      uint64_t number = 0;
      const FileType type = ParseFileName(name, &number);
      const bool dead = (type == FileType::kLog && number < state.log_number) ||
                        (type == FileType::kTable && std::find(live.begin(), live.end(), number) == live.end()) ||
                        type == FileType::kTempManifest;
      if (dead) (void)env_->remove_file(dbname_ + "/" + name);
    }
  }

  opened_ = true;
  // Runs in every mode: per-write consistency levels can leave buffered or
  // unsynced log bytes whatever wal_sync_mode is.
  sync_thread_ = std::thread([this] { sync_thread_main(); });
  flush_thread_ = std::thread([this] { flush_thread_main(); });
  for (int i = 0; i < options_.max_background_compactions; i++) {
    compaction_threads_.emplace_back([this] { compaction_thread_main(); });
  }
  return Status::OK();
}

Status DBImpl::recover(ManifestState* state, SequenceNumber* max_sequence) {
  const Comparator* user_cmp = icmp_.user_comparator();
  std::vector<std::string> children;
  Status s = env_->get_children(dbname_, &children);
  if (!s.ok()) return s;
  std::vector<uint64_t> logs;
  uint64_t max_number = 0;
  bool has_engine_files = false;
  for (const auto& name : children) {
    uint64_t number = 0;
    const FileType type = ParseFileName(name, &number);
    if (type == FileType::kLog) logs.push_back(number);
    if (type == FileType::kLog || type == FileType::kTable) {
      has_engine_files = true;
      max_number = std::max(max_number, number);
    }
  }

  if (env_->file_exists(ManifestFileName(dbname_))) {
    if (options_.error_if_exists) return Status::InvalidArgument(dbname_, "a database already exists here");
    s = ReadManifest(env_, dbname_, state);
    if (!s.ok()) return s;
    if (state->comparator_name != user_cmp->name()) {
      return Status::InvalidArgument(dbname_, "the database was created with comparator '" +
                                                  state->comparator_name + "', not '" + user_cmp->name() + "'");
    }
    // A listed table that is gone or cut short cannot be read later; say so
    // now rather than at the first read that needs it.
    for (const auto& t : state->tables) {
      uint64_t size = 0;
      const std::string fname = TableFileName(dbname_, t.meta.number);
      Status fs = env_->get_file_size(fname, &size);
      if (fs.IsNotFound()) return Status::Corruption(fname, "listed in the MANIFEST but missing");
      if (!fs.ok()) return fs;
      if (size != t.meta.file_size) {
        return Status::Corruption(fname, "has " + std::to_string(size) + " bytes; the MANIFEST says " +
                                             std::to_string(t.meta.file_size));
      }
    }
  } else {
    if (!options_.create_if_missing) {
      return Status::NotFound(dbname_, "no database here (create_if_missing is false)");
    }
    if (has_engine_files) {
      return Status::Corruption(dbname_, "the directory holds log or table files but no MANIFEST; "
                                         "it is not a database this library can open safely");
    }
    state->comparator_name = user_cmp->name();
    state->next_file_number = 1;
    state->log_number = 0;
    state->last_sequence = 0;
  }
  // Never reuse a number that a file in the directory already has.
  next_file_number_.store(std::max(state->next_file_number, max_number + 1));

  auto mem = std::make_shared<MemTable>(icmp_, MemTable::FilterBytesFor(options_.memtable_size));
  // The manifest's last sequence covers every table; the max is a second
  // line of defence, since reusing a sequence number would let old data
  // shadow new writes.
  *max_sequence = state->last_sequence;
  for (const auto& t : state->tables) *max_sequence = std::max(*max_sequence, t.meta.largest_sequence);
  std::sort(logs.begin(), logs.end());
  bool stop = false;
  for (uint64_t number : logs) {
    if (number < state->log_number) continue;
    const std::string fname = LogFileName(dbname_, number);
    if (stop) {
      // Point-in-time recovery stopped at earlier damage: later logs are
      // after that point, so they are set aside, not replayed.
      s = set_aside(fname, 0);
      if (s.ok()) s = env_->remove_file(fname);
      if (!s.ok()) return s;
      continue;
    }
    s = recover_log(number, state, &mem, max_sequence, &stop);
    if (!s.ok()) return s;
  }
  if (!mem->empty()) s = recovery_flush(*mem, state);
  return s;
}

Status DBImpl::recovery_flush(const MemTable& mem, ManifestState* state) {
  SortedRunSpec spec = run_spec();
  spec.smallest_snapshot = kMaxSequenceNumber;  // no reader exists yet
  SortedRunResult result;
  auto it = mem.new_iterator();
  Status s = WriteSortedRun(spec, it.get(), &result);
  if (!s.ok()) return s;
  for (const auto& meta : result.outputs) {
    state->tables.push_back({0, meta});
    counters_.flush_bytes_written += meta.file_size;
  }
  return Status::OK();
}

Status DBImpl::recover_log(uint64_t number, ManifestState* state, std::shared_ptr<MemTable>* mem,
                           SequenceNumber* max_sequence, bool* stop) {
  const std::string fname = LogFileName(dbname_, number);
  std::unique_ptr<wal::WalReader> reader;
  Status s = wal::WalReader::open(env_, fname, number, &reader);
  if (!s.ok()) return s;

  const WalRecoveryMode mode = options_.wal_recovery_mode;
  WriteBatch batch;
  Slice payload;
  uint64_t sequence = 0;
  bool skipped_damage = false;
  const SequenceNumber floor = *max_sequence;
  for (;;) {
    while (reader->read_record(&payload, &sequence)) {
      // An intact record whose contents still do not fit (a bad batch, or a
      // sequence number that goes backwards) is damage too.
      std::string problem;
      if (sequence <= *max_sequence || sequence > kMaxSequenceNumber) {
        problem = "sequence number " + std::to_string(sequence) + " does not follow " + std::to_string(*max_sequence);
      } else if (Status bs = WriteBatchInternal::set_contents(&batch, payload); !bs.ok()) {
        problem = bs.message();
      }
      if (problem.empty()) {
        s = WriteBatchInternal::insert_into(batch, sequence, mem->get());
        if (!s.ok()) return s;
        const uint32_t n = WriteBatchInternal::count(batch);
        if (n > 0) *max_sequence = sequence + n - 1;
        if ((*mem)->approximate_memory_usage() >= options_.memtable_size) {
          s = recovery_flush(**mem, state);
          if (!s.ok()) return s;
          *mem = std::make_shared<MemTable>(icmp_, MemTable::FilterBytesFor(options_.memtable_size));
        }
        continue;
      }
      if (mode == WalRecoveryMode::kSkipCorrupted) {
        skipped_damage = true;
        continue;
      }
      return Status::Corruption(fname, problem + "; reopen with WalRecoveryMode::kSkipCorrupted to drop it");
    }

    switch (reader->end()) {
      case wal::WalReader::End::kNotYet:
      case wal::WalReader::End::kClean:
        break;
      case wal::WalReader::End::kIOError:
        return reader->io_status();
      case wal::WalReader::End::kTornTail:
        // An interrupted append: drop it so that later appends to other logs
        // cannot be mistaken for data after it.
        if (reader->valid_end() < reader->file_size()) {
          s = env_->truncate_file(fname, reader->valid_end());
          if (!s.ok()) return s;
        }
        break;
      case wal::WalReader::End::kCorruption: {
        const std::string where = fname + " at offset " + std::to_string(reader->damage_offset());
        if (mode == WalRecoveryMode::kStrict) {
          return Status::Corruption(where, reader->damage_reason() +
                                               "; nothing was changed on disk. Reopen with "
                                               "WalRecoveryMode::kPointInTime or kSkipCorrupted to salvage "
                                               "the intact records");
        }
        if (mode == WalRecoveryMode::kPointInTime) {
          s = set_aside(fname, reader->damage_offset());
          if (s.ok()) s = env_->truncate_file(fname, reader->damage_offset());
          if (!s.ok()) return s;
          *stop = true;
          return Status::OK();
        }
        skipped_damage = true;
        reader->skip_damage();
        continue;
      }
    }
    break;
  }
  if (skipped_damage) return rewrite_log_without_damage(number, floor);
  return Status::OK();
}

// Skip-corrupted recovery keeps the intact records, so the next open must not
// meet the same damage again: the log is rewritten with only those records,
// after the original has been set aside.
Status DBImpl::rewrite_log_without_damage(uint64_t number, SequenceNumber floor) {
  const std::string fname = LogFileName(dbname_, number);
  Status s = set_aside(fname, 0);
  if (!s.ok()) return s;
  std::unique_ptr<wal::WalReader> reader;
  s = wal::WalReader::open(env_, fname, number, &reader);
  if (!s.ok()) return s;
  const std::string tmp = fname + ".rewrite";
  std::unique_ptr<wal::WalWriter> writer;
  s = wal::WalWriter::create(env_, tmp, number, &writer);
  Slice payload;
  uint64_t sequence = 0;
  WriteBatch batch;
  SequenceNumber last = floor;
  while (s.ok()) {
    while (s.ok() && reader->read_record(&payload, &sequence)) {
      if (sequence <= last || !WriteBatchInternal::set_contents(&batch, payload).ok()) continue;
      s = writer->add_record(sequence, payload);
      const uint32_t n = WriteBatchInternal::count(batch);
      if (n > 0) last = sequence + n - 1;
    }
    if (reader->end() != wal::WalReader::End::kCorruption) break;
    reader->skip_damage();
  }
  if (s.ok() && reader->end() == wal::WalReader::End::kIOError) s = reader->io_status();
  if (s.ok()) s = writer->sync();
  if (s.ok()) s = writer->close();
  if (s.ok()) s = env_->rename_file(tmp, fname);
  if (s.ok()) s = env_->sync_dir(dbname_);
  return s;
}

// Copies fname's bytes from from_offset on into lost/ before recovery drops
// them, so that lenient recovery never destroys the only copy of anything.
Status DBImpl::set_aside(const std::string& fname, uint64_t from_offset) {
  std::string contents;
  Status s = ReadFileToString(env_, fname, &contents);
  if (!s.ok()) return s;
  if (from_offset >= contents.size()) return Status::OK();
  const std::string dir = LostDirName(dbname_);
  s = env_->create_dir_if_missing(dir);
  if (!s.ok()) return s;
  const std::string base = fname.substr(fname.rfind('/') + 1);
  const std::string target = dir + "/" + base + "." + std::to_string(from_offset) + "-" +
                             std::to_string(env_->now_micros()) + ".lost";
  s = WriteStringToFile(env_, Slice(contents.data() + from_offset, contents.size() - from_offset), target, true);
  if (s.ok()) s = env_->sync_dir(dir);
  return s;
}

// ---------------------------------------------------------------- writes

Status DBImpl::put(const Slice& key, const Slice& value, const WriteOptions& write_options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return NoThrow([&] {
    WriteBatch batch;
    Status s = batch.put(key, value);
    if (!s.ok()) return s;
    return write_impl(&batch, durability_for(write_options));
  });
}

Status DBImpl::remove(const Slice& key, const WriteOptions& write_options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return NoThrow([&] {
    WriteBatch batch;
    Status s = batch.remove(key);
    if (!s.ok()) return s;
    return write_impl(&batch, durability_for(write_options));
  });
}

Status DBImpl::write(const WriteBatch& batch, const WriteOptions& write_options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return NoThrow([&] {
    const WriteBatch* b = batch.count() > 0 ? &batch : nullptr;
    const Durability d = durability_for(write_options);
    if (b == nullptr && d != Durability::kSynced) return Status::OK();
    return write_impl(b, d);
  });
}

Status DBImpl::sync_wal() {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return NoThrow([&] { return write_impl(nullptr, Durability::kSynced); });
}

DBImpl::Writer* DBImpl::build_group(Durability* durability) {
  Writer* const first = writers_.front();
  *durability = first->durability;
  const size_t first_size = first->batch ? WriteBatchInternal::byte_size(*first->batch) : 0;
  const size_t max_size = first_size <= kSmallBatchBytes ? first_size + kSmallBatchBytes : kMaxGroupBytes;

  Writer* last = first;
  group_members_.clear();
  if (first->batch != nullptr) group_members_.push_back(first);
  size_t size = first_size;
  for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
    Writer* w = *it;
    if (w->force_switch) break;
    // A follower that needs an fsync does not join a leader that would not
    // do one: it would add fsync latency to the leader's write.
    if (w->durability == Durability::kSynced && *durability != Durability::kSynced) break;
    if (w->batch != nullptr) {
      size += WriteBatchInternal::byte_size(*w->batch);
      if (size > max_size) break;
      group_members_.push_back(w);
    }
    *durability = std::max(*durability, w->durability);
    last = w;
  }
  return last;
}

void DBImpl::validate_group(const DBIterSources& sources) {
  size_t last_checked = 0;  // one past the last member with a check
  for (size_t i = 0; i < group_members_.size(); i++) {
    if (group_members_[i]->check != nullptr) last_checked = i + 1;
  }
  if (last_checked == 0) return;
  // Keys written by the members ahead, which are not in the memtable yet.
  UserKeySet written(WriteSetLess{icmp_.user_comparator()});
  for (size_t i = 0; i < last_checked; i++) {
    Writer* w = group_members_[i];
    if (w->check != nullptr) {
      Status s = GroupConflicts(*w->check, icmp_.user_comparator(), written);
      if (s.ok()) s = CheckConflicts(*w->check, icmp_, table_cache_.get(), sources);
      if (!s.ok()) {
        // Only this member fails (a read error too: its commit is refused,
        // nothing is written, the others go on).
        w->rejected = true;
        w->status = s;
        continue;
      }
    }
    if (i + 1 < last_checked) {
      Status s = AddBatchKeys(*w->batch, &written);
      if (!s.ok()) {
        w->rejected = true;
        w->status = s;
      }
    }
  }
}

void DBImpl::compose_group(Slice* payload, uint32_t* count) {
  group_batches_.clear();
  for (Writer* w : group_members_) {
    if (!w->rejected) group_batches_.push_back(w->batch);
  }
  const WriteBatch* group = nullptr;
  if (group_batches_.size() == 1) {
    group = group_batches_[0];
  } else if (group_batches_.size() > 1) {
    group_scratch_.clear();
    for (const WriteBatch* b : group_batches_) WriteBatchInternal::append(&group_scratch_, *b);
    group = &group_scratch_;
  }
  *payload = group ? WriteBatchInternal::contents(*group) : Slice();
  *count = group ? WriteBatchInternal::count(*group) : 0;
}

Status DBImpl::write_impl(const WriteBatch* batch, Durability durability, bool force_switch,
                          const ConflictCheck* check) {
  // A kBlockWriters callback's write could wait for that very callback.
  if (subscriptions_->has_subscribers() && subscriptions_->called_from_blocking_callback()) {
    return Status::InvalidArgument("writes (and flush/sync_wal/compact) are not allowed from a kBlockWriters "
                                   "subscription callback");
  }
  Writer w(&mu_);
  w.batch = batch;
  w.durability = durability;
  w.check = check;
  w.force_switch = force_switch;

  port::MutexLock l(&mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait();
  if (w.done) return w.status;

  // This thread is the leader: it writes the whole group to the log.
  Status s = bg_error_;
  if (s.ok() && (batch != nullptr || force_switch)) s = make_room_for_write(force_switch);
  Writer* last = &w;
  if (s.ok() && !force_switch) {
    Durability group_durability;
    last = build_group(&group_durability);
    const SequenceNumber first_seq = last_sequence_.load(std::memory_order_relaxed) + 1;
    std::shared_ptr<MemTable> mem = mem_;
    // What conflict checks read: every commit numbered so far is in these.
    DBIterSources latest;
    const bool any_check = std::any_of(group_members_.begin(), group_members_.end(),
                                       [](const Writer* m) { return m->check != nullptr; });
    if (any_check) current_sources(&latest);
    Slice payload;
    uint32_t count = 0;
    {
      // Other writers queue up behind this one meanwhile; readers go on.
      mu_.unlock();
      const Status vs = NoThrow([&] {
        if (any_check) validate_group(latest);
        compose_group(&payload, &count);
        return Status::OK();
      });
      if (!vs.ok()) {
        // Out of memory before anything was logged: the group fails, the
        // database does not.
        for (Writer* m : group_members_) {
          m->rejected = true;
          m->status = vs;
        }
        group_batches_.clear();
        count = 0;
      }
      if (s.ok() && count > 0) s = log_->add_record(first_seq, payload);
      if (s.ok() && group_durability == Durability::kSynced) {
        s = log_->sync();
      } else if (s.ok() && group_durability == Durability::kFlushed) {
        s = log_->flush();
      }
      if (s.ok() && count > 0) {
        // Insert each batch of the group in order, numbering on from first_seq.
        s = NoThrow([&] {
          SequenceNumber seq = first_seq;
          for (const WriteBatch* member : group_batches_) {
            Status is = WriteBatchInternal::insert_into(*member, seq, mem.get());
            if (!is.ok()) return is;
            seq += WriteBatchInternal::count(*member);
          }
          return Status::OK();
        });
      }
      mu_.lock();
    }
    if (s.ok()) {
      if (count > 0) {
        last_sequence_.store(first_seq + count - 1, std::memory_order_release);
        counters_.wal_bytes_written += payload.size();
        for (const WriteBatch* member : group_batches_) {
          counters_.user_bytes_written += WriteBatchInternal::byte_size(*member);
        }
      }
      if (group_durability == Durability::kSynced) {
        unflushed_ = unsynced_ = false;
      } else if (group_durability == Durability::kFlushed) {
        unflushed_ = false;
        unsynced_ = unsynced_ || count > 0;
      } else if (count > 0) {
        unflushed_ = unsynced_ = true;
      }
      if (count > 0 && subscriptions_->has_subscribers()) {
        // Visible now, acknowledged only after this: the next leader cannot
        // start before this one hands over, so groups reach the subscribers
        // in commit order; mu_ is released so readers (and callbacks that
        // read) go on meanwhile.
        const WriteBatch& group = group_batches_.size() == 1 ? *group_batches_[0] : group_scratch_;
        mu_.unlock();
        subscriptions_->deliver(group, first_seq);
        mu_.lock();
      }
    } else {
      // The log may now hold a partial or unsynced record that later writes
      // would follow: refuse every further write rather than pretend.
      bg_error_ = Status::IOError("write-ahead log write or sync failed; the database refuses further writes "
                                  "until it is reopened",
                                  s.ToString());
      s = bg_error_;
    }
  }

  for (;;) {
    Writer* ready = writers_.front();
    writers_.pop_front();
    if (ready != &w) {
      // A member whose conflict check failed keeps its own status.
      if (!ready->rejected) ready->status = s;
      ready->done = true;
      ready->cv.signal();
    }
    if (ready == last) break;
  }
  if (!writers_.empty()) writers_.front()->cv.signal();
  return w.rejected ? w.status : s;
}

Status DBImpl::make_room_for_write(bool force) {
  bool allow_delay = !force;
  uint64_t stall_start = 0;
  Status s;
  for (;;) {
    if (!bg_error_.ok()) {
      s = bg_error_;
      break;
    }
    if (shutting_down_.load(std::memory_order_relaxed)) {
      s = ClosedError();
      break;
    }
    const int level0 = current_->num_files(0);
    if (allow_delay && level0 >= options_.level0_slowdown_writes_trigger) {
      // Gradual backpressure: the delay grows with the backlog, from a
      // fraction of a millisecond at the slowdown trigger to 1 ms just
      // before the stop trigger, and happens once per write group.
      const int span = options_.level0_stop_writes_trigger - options_.level0_slowdown_writes_trigger + 1;
      const uint64_t delay_us = 1000u * static_cast<uint64_t>(level0 - options_.level0_slowdown_writes_trigger + 1) /
                                static_cast<uint64_t>(span);
      mu_.unlock();
      env_->sleep_for_micros(delay_us);
      mu_.lock();
      counters_.write_slowdowns++;
      counters_.write_stall_micros += delay_us;
      allow_delay = false;
      continue;
    }
    const bool full = mem_->approximate_memory_usage() >= options_.memtable_size;
    if (!full && !(force && !mem_->empty())) break;
    if (static_cast<int>(imm_.size()) >= options_.max_immutable_memtables ||
        level0 >= options_.level0_stop_writes_trigger) {
      // Flushes or level-0 compaction cannot keep up: wait for them.
      if (stall_start == 0) {
        stall_start = env_->now_micros();
        counters_.write_stops++;
      }
      bg_cv_.wait();
      continue;
    }
    s = switch_memtable();
    break;
  }
  if (stall_start != 0) counters_.write_stall_micros += env_->now_micros() - stall_start;
  return s;
}

Status DBImpl::switch_memtable() {
  const uint64_t number = new_file_number();
  std::shared_ptr<wal::WalWriter> old_log = log_;
  std::unique_ptr<wal::WalWriter> new_log;
  mu_.unlock();
  // The old log is synced before the new one gets records, so that after a
  // power loss the surviving commits are still a prefix of all commits.
  Status s = old_log->sync();
  if (s.ok()) {
    s = wal::WalWriter::create(env_, LogFileName(dbname_, number), number, &new_log, options_.wal_prefill_bytes);
  }
  // The new log's directory entry must be durable before a synced write in
  // it is acknowledged.
  if (s.ok()) s = env_->sync_dir(dbname_);
  mu_.lock();
  if (!s.ok()) {
    new_log.reset();
    (void)env_->remove_file(LogFileName(dbname_, number));
    set_background_error(s, "switching to a new write-ahead log");
    return bg_error_;
  }
  imm_.push_back(Immutable{mem_, mem_log_number_, mem_first_sequence_, last_sequence_.load(std::memory_order_relaxed),
                           old_log->size()});
  mem_ = std::make_shared<MemTable>(icmp_, MemTable::FilterBytesFor(options_.memtable_size));
  mem_first_sequence_ = last_sequence_.load(std::memory_order_relaxed) + 1;
  mem_log_number_ = number;
  log_ = std::move(new_log);
  unflushed_ = unsynced_ = false;
  bg_cv_.signal_all();
  return Status::OK();
}

void DBImpl::set_background_error(const Status& s, const char* what) {
  if (!bg_error_.ok()) return;
  bg_error_ = Status::IOError(std::string(what) + " failed; the database refuses further writes until it is reopened",
                              s.ToString());
  bg_cv_.signal_all();
}

void DBImpl::sync_thread_main() {
  const uint64_t interval_us = uint64_t{options_.wal_sync_interval_ms} * 1000;
  // kOff never fsyncs (except at close); the other modes fsync what Quorum
  // and Eventual writes (or kNormal's commits) left unsynced.
  const bool sync = options_.wal_sync_mode != WalSyncMode::kOff;
  bool can_sync_beside_writers = true;
  port::MutexLock l(&mu_);
  while (!shutting_down_.load()) {
    bg_cv_.wait_for_micros(interval_us);
    if (shutting_down_.load()) break;
    const bool need_sync = sync && unsynced_;
    if ((!need_sync && !unflushed_) || !bg_error_.ok()) continue;
    if (need_sync && !unflushed_ && can_sync_beside_writers) {
      // Every commit is already in the OS, so the fsync can run beside the
      // writers instead of holding up the write queue for its whole
      // duration. A commit racing with it sets unsynced_ again.
      unsynced_ = false;
      std::shared_ptr<wal::WalWriter> log = log_;
      mu_.unlock();
      Status s = log->sync_flushed();
      mu_.lock();
      if (s.ok()) continue;
      unsynced_ = true;
      if (!s.IsNotSupported()) {
        bg_error_ = Status::IOError("background fsync of the write-ahead log failed; the database refuses "
                                    "further writes until it is reopened",
                                    s.ToString());
        continue;
      }
      can_sync_beside_writers = false;
    }
    mu_.unlock();
    // Through the write queue; a failure becomes the sticky error there.
    (void)NoThrow([&] { return write_impl(nullptr, need_sync ? Durability::kSynced : Durability::kFlushed); });
    mu_.lock();
  }
}

// ---------------------------------------------------------------- reads

Status DBImpl::read_sources(const ReadOptions& read_options, DBIterSources* sources) {
  if (read_options.snapshot != nullptr && !snapshots_->owns(read_options.snapshot)) {
    return Status::InvalidArgument("ReadOptions::snapshot was taken from another database");
  }
  port::MutexLock l(&mu_);
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  current_sources(sources);
  if (read_options.snapshot != nullptr) sources->sequence = read_options.snapshot->sequence();
  return Status::OK();
}

void DBImpl::current_sources(DBIterSources* sources) {
  sources->sequence = last_sequence_.load(std::memory_order_acquire);
  sources->mem = mem_;
  sources->imms.clear();
  for (auto it = imm_.rbegin(); it != imm_.rend(); ++it) sources->imms.push_back(it->mem);
  sources->version = current_;
  sources->memtables_first_sequence = imm_.empty() ? mem_first_sequence_ : imm_.front().first_sequence;
}

namespace {

// Looks key up in sources at their sequence: memtables newest first, then
// the tables and the tree.
Status GetFromSources(const DBIterSources& sources, TableCache* tables, const Slice& key, std::string* value) {
  LookupKey lkey(key, sources.sequence);
  Status s;
  if (sources.mem->get(lkey, value, &s)) return s;
  for (const auto& imm : sources.imms) {
    if (imm->get(lkey, value, &s)) return s;
  }
  bool found = false;
  s = sources.version->get(tables, lkey, value, &found);
  if (!s.ok() || found) return s;
  return Status::NotFound(Slice());
}

}  // namespace

Status DBImpl::get(const Slice& key, std::string* value, const ReadOptions& read_options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  if (value == nullptr) return Status::InvalidArgument("get: value must not be null");
  Status ks = CheckKey(key);
  if (!ks.ok()) return ks;
  return NoThrow([&] {
    DBIterSources sources;
    Status s = read_sources(read_options, &sources);
    if (!s.ok()) return s;
    return GetFromSources(sources, table_cache_.get(), key, value);
  });
}

std::vector<Result<std::string>> DBImpl::get_batch(const std::vector<Slice>& keys,
                                                   const ReadOptions& read_options) {
  std::vector<Result<std::string>> results;
  Status s = NoThrow([&] {
    results.reserve(keys.size());
    DBIterSources sources;
    Status rs = read_sources(read_options, &sources);
    if (!rs.ok()) return rs;
    // One set of sources and one sequence for every key: a consistent view.
    std::string value;
    for (const Slice& key : keys) {
      Status ks = CheckKey(key);
      if (ks.ok()) ks = GetFromSources(sources, table_cache_.get(), key, &value);
      if (ks.ok()) {
        results.emplace_back(value);
      } else {
        results.emplace_back(std::move(ks));
      }
    }
    return Status::OK();
  });
  if (!s.ok()) {
    // The whole call failed (closed, foreign snapshot, out of memory): every
    // key gets the error.
    try {
      results.clear();
      results.assign(keys.size(), Result<std::string>(s));
    } catch (...) {
      results.clear();  // out of memory even for the errors: header says so
    }
  }
  return results;
}

std::unique_ptr<Iterator> DBImpl::new_db_iterator(const ReadOptions& read_options, const std::string& prefix) {
  if (closed_.load(std::memory_order_acquire)) return NewErrorIterator(ClosedError());
  std::unique_ptr<Iterator> result;
  Status s = NoThrow([&] {
    DBIterSources sources;
    Status rs = read_sources(read_options, &sources);
    if (!rs.ok()) return rs;
    if (!prefix.empty() && table_options_.prefix_extractor != nullptr) {
      sources.prefix = prefix;
      sources.prefix_skips = &counters_.prefix_filter_skips;
    }
    result = NewDBIterator(&icmp_, table_cache_.get(), std::move(sources));
    return Status::OK();
  });
  if (!s.ok()) return NewErrorIterator(s);
  return result;
}

std::unique_ptr<Iterator> DBImpl::new_iterator(const ReadOptions& read_options) {
  return new_db_iterator(read_options, std::string());
}

std::shared_ptr<const Snapshot> DBImpl::snapshot() { return snapshots_->take(); }

Result<std::unique_ptr<Transaction>> DBImpl::begin_transaction(const TransactionOptions& options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  const int limit = options_.max_active_transactions;
  // Claims a slot only below the limit, so a refused begin never makes
  // another one fail.
  int active = active_transactions_.load(std::memory_order_acquire);
  do {
    if (active >= limit) {
      return Status::Busy("too many active transactions (Options::max_active_transactions = " +
                          std::to_string(limit) + "); commit or abort some first");
    }
  } while (!active_transactions_.compare_exchange_weak(active, active + 1, std::memory_order_acq_rel));
  try {
    return std::unique_ptr<Transaction>(std::make_unique<TransactionImpl>(this, options, snapshots_->take()));
  } catch (const std::bad_alloc&) {
    active_transactions_.fetch_sub(1, std::memory_order_acq_rel);
    return Status::IOError("out of memory");
  }
}

Result<std::unique_ptr<Subscription>> DBImpl::subscribe(ChangeCallback callback, const SubscribeOptions& options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  std::shared_ptr<SubscriptionState> state;
  Status s = NoThrow([&] { return subscriptions_->create(std::move(callback), options, &state); });
  if (!s.ok()) return s;
  port::MutexLock l(&mu_);
  return subscriptions_->register_subscription(state, last_sequence_.load(std::memory_order_acquire));
}

Status DBImpl::commit_transaction(const WriteBatch& batch, const ConflictCheck& check,
                                  const WriteOptions& write_options) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return NoThrow([&] { return write_impl(&batch, durability_for(write_options), false, &check); });
}

Scan DBImpl::new_scan(const ScanOptions& scan_options, const ReadOptions& read_options) {
  return Scan(new_db_iterator(read_options, scan_options.prefix), icmp_.user_comparator(), scan_options);
}

// ---------------------------------------------------------------- flush and compaction

SortedRunSpec DBImpl::run_spec() {
  SortedRunSpec spec;
  spec.env = env_;
  spec.dbname = dbname_;
  spec.table_options = table_options_;
  spec.new_file_number = [this] { return new_file_number(); };
  spec.cancel = &shutting_down_;
  return spec;
}

Status DBImpl::flush() {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  return flush_memtables();
}

Status DBImpl::flush_memtables() {
  return NoThrow([&] {
    Status s = write_impl(nullptr, Durability::kBuffered, /*force_switch=*/true);
    if (!s.ok()) return s;
    port::MutexLock l(&mu_);
    // Every memtable older than the current one must reach a table.
    const uint64_t target = mem_log_number_;
    while (logs_deleted_below_ < target && bg_error_.ok() && !shutting_down_.load()) bg_cv_.wait();
    if (!bg_error_.ok()) return bg_error_;
    if (logs_deleted_below_ < target) return ClosedError();
    return Status::OK();
  });
}

Status DBImpl::compact() {
  Status s = flush();
  if (!s.ok()) return s;
  return NoThrow([&] {
    port::MutexLock l(&mu_);
    // Each level in turn is merged whole into the next non-empty level below
    // it (the ones between are empty), and level 6 into the tree.
    for (int level = 0; level < kNumLevels; level++) {
      for (;;) {
        if (!bg_error_.ok()) return bg_error_;
        if (shutting_down_.load()) return ClosedError();
        if (current_->num_files(level) == 0) break;
        int output = level + 1;
        while (output < kNumLevels - 1 && current_->num_files(output) == 0) output++;
        std::unique_ptr<Compaction> c;
        if (level == kNumLevels - 1) {
          // Into the tree one table per commit, so that pages freed by one
          // merge are reused by the next instead of growing the file.
          c = PickTreeMergeOfFirstTable(icmp_, *current_, running_compactions_);
        } else {
          c = PickLevelCompaction(icmp_, *current_, level, output, running_compactions_);
        }
        if (c == nullptr) {
          bg_cv_.wait();  // a background compaction holds some of the tables
          continue;
        }
        Status cs = run_compaction(std::move(c));
        if (!cs.ok()) return cs;
      }
    }
    return Status::OK();
  });
}

void DBImpl::flush_thread_main() {
  port::MutexLock l(&mu_);
  for (;;) {
    while (!shutting_down_.load() && (imm_.empty() || !bg_error_.ok())) bg_cv_.wait();
    if (shutting_down_.load()) break;
    Status s = NoThrow([&] {
      mu_.assert_held();
      return flush_front_memtable();
    });
    if (!s.ok() && !s.IsAborted()) set_background_error(s, "flushing a memtable");
    bg_cv_.signal_all();
  }
}

Status DBImpl::flush_front_memtable() {
  const Immutable imm = imm_.front();
  SortedRunSpec spec = run_spec();
  spec.smallest_snapshot = smallest_snapshot();
  flush_running_ = true;
  mu_.unlock();
  SortedRunResult result;
  auto it = imm.mem->new_iterator();
  Status s = WriteSortedRun(spec, it.get(), &result);
  it.reset();
  if (s.ok()) s = open_outputs(result);
  mu_.lock();
  flush_running_ = false;
  if (s.ok()) {
    std::vector<std::pair<int, FileMetaData>> added;
    for (const auto& meta : result.outputs) added.emplace_back(0, meta);
    s = apply_edit({}, added, &imm);
    if (s.ok()) {
      imm_.pop_front();
      counters_.flushes++;
      counters_.flush_bytes_written += result.bytes_written;
      delete_obsolete_files();
    }
    // If the manifest write failed, the MANIFEST on disk may be the new one
    // that lists the outputs: they stay; the next open removes them if not.
    return s;
  }
  remove_outputs(result);
  return s;
}

// Opens each new table once: proves it readable before the manifest depends
// on it, and warms the table cache.
Status DBImpl::open_outputs(const SortedRunResult& result) {
  for (const auto& meta : result.outputs) {
    Status s = table_cache_->open_table(meta.number, meta.file_size);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

// Only for outputs no MANIFEST can list yet (the edit was never tried).
void DBImpl::remove_outputs(const SortedRunResult& result) {
  for (const auto& meta : result.outputs) (void)env_->remove_file(TableFileName(dbname_, meta.number));
}

void DBImpl::compaction_thread_main() {
  port::MutexLock l(&mu_);
  for (;;) {
    std::unique_ptr<Compaction> c;
    while (!shutting_down_.load()) {
      if (bg_error_.ok()) {
        c = PickCompaction(options_, icmp_, *current_, running_compactions_, &compact_pointers_);
        if (c != nullptr) break;
      }
      bg_cv_.wait();
    }
    if (c == nullptr) break;
    Status s = run_compaction(std::move(c));
    if (!s.ok() && !s.IsAborted()) set_background_error(s, "compaction");
  }
}

Status DBImpl::run_compaction(std::unique_ptr<Compaction> c) {
  c->mark_inputs(true);
  running_compactions_.push_back(c.get());
  Status s = NoThrow([&] {
    mu_.assert_held();  // the lambda runs here, under the lock
    return do_compaction_work(*c);
  });
  c->mark_inputs(false);
  running_compactions_.erase(std::find(running_compactions_.begin(), running_compactions_.end(), c.get()));
  c.reset();  // drops its references to the input tables
  if (s.ok()) delete_obsolete_files();
  bg_cv_.signal_all();
  return s;
}

Status DBImpl::do_compaction_work(const Compaction& c) {
  std::vector<std::pair<int, uint64_t>> removed;
  for (int which = 0; which < 2; which++) {
    const int level = which == 0 ? c.level : c.output_level;
    for (const auto& f : c.inputs[which]) removed.emplace_back(level, f->number);
  }
  if (c.output_level == kTreeLevel) return merge_into_tree(c, removed);
  if (c.is_trivial_move()) {
    const FileMetaData& f = *c.inputs[0][0];
    Status s = apply_edit(removed, {{c.output_level, f}}, nullptr);
    if (s.ok()) counters_.trivial_moves++;
    return s;
  }

  SortedRunSpec spec = run_spec();
  spec.smallest_snapshot = smallest_snapshot();
  spec.max_output_size = options_.target_file_size;
  // The tables as of now, without the tree: a long compaction holding the
  // tree version would keep the tree's freed pages from being reused.
  const bool tree_has_data = !current_->tree()->empty();
  std::shared_ptr<const Version> version;
  {
    VersionBuilder levels_only(&icmp_, current_.get());
    levels_only.set_tree(nullptr);
    Status vs = levels_only.finish(&version);
    if (!vs.ok()) return vs;
  }
  const int output_level = c.output_level;
  spec.may_drop_tombstone = [version, tree_has_data, output_level](const Slice& user_key) {
    return !tree_has_data && !version->key_in_deeper_levels(output_level, user_key);
  };
  mu_.unlock();

  std::vector<std::unique_ptr<InternalIterator>> children;
  for (const auto& f : c.inputs[0]) {
    if (c.level == 0) {
      children.push_back(table_cache_->new_iterator(*f));
    }
  }
  for (int which = c.level == 0 ? 1 : 0; which < 2; which++) {
    const FileList& files = c.inputs[which];
    if (files.empty()) continue;
    std::vector<FileRange> ranges;
    for (const auto& f : files) ranges.push_back(FileRange{f->smallest, f->largest});
    TableCache* tables = table_cache_.get();
    children.push_back(NewConcatenatingIterator(&icmp_, std::move(ranges), [tables, files](size_t i) {
      return tables->new_iterator(*files[i]);
    }));
  }
  auto input = NewMergingIterator(&icmp_, std::move(children));
  SortedRunResult result;
  Status s = WriteSortedRun(spec, input.get(), &result);
  input.reset();
  if (s.ok()) s = open_outputs(result);
  mu_.lock();
  if (s.ok()) {
    std::vector<std::pair<int, FileMetaData>> added;
    for (const auto& meta : result.outputs) added.emplace_back(output_level, meta);
    s = apply_edit(removed, added, nullptr);
    if (s.ok()) {
      counters_.compactions++;
      counters_.compaction_bytes_read += c.input_bytes();
      counters_.compaction_bytes_written += result.bytes_written;
    }
    return s;  // on failure the outputs stay, as in flush_front_memtable()
  }
  remove_outputs(result);
  return s;
}

Status DBImpl::merge_into_tree(const Compaction& c, const std::vector<std::pair<int, uint64_t>>& removed) {
  btree::MergeSpec spec;
  spec.smallest_snapshot = smallest_snapshot();
  spec.cancel = &shutting_down_;
  const std::shared_ptr<const btree::TreeVersion> base = current_->tree();
  const FileList files = c.inputs[0];
  mu_.unlock();
  std::vector<FileRange> ranges;
  for (const auto& f : files) ranges.push_back(FileRange{f->smallest, f->largest});
  TableCache* tables = table_cache_.get();
  auto input = NewConcatenatingIterator(&icmp_, std::move(ranges),
                                        [tables, files](size_t i) { return tables->new_iterator(*files[i]); });
  btree::MergeStats stats;
  std::shared_ptr<const btree::TreeVersion> tree;
  Status s = btree::MergeIntoTree(base, input.get(), spec, &tree, &stats);
  input.reset();
  mu_.lock();
  if (!s.ok()) return s;
  // The tree is committed; the MANIFEST now records that commit and retires
  // the tables in one atomic replace. If that fails, the next open uses the
  // previous commit, which nothing has overwritten.
  s = apply_edit(removed, {}, nullptr, std::move(tree));
  if (s.ok()) {
    counters_.tree_merges++;
    counters_.tree_bytes_read += c.input_bytes();
    counters_.tree_bytes_written += stats.bytes_written;
  }
  return s;
}

Status DBImpl::apply_edit(const std::vector<std::pair<int, uint64_t>>& removed,
                          const std::vector<std::pair<int, FileMetaData>>& added, const Immutable* flushed,
                          std::shared_ptr<const btree::TreeVersion> tree) {
  while (manifest_busy_) bg_cv_.wait();
  if (!bg_error_.ok()) return bg_error_;
  manifest_busy_ = true;
  // Read only now, after waiting: another edit may have advanced them.
  uint64_t log_number = manifest_log_number_;
  SequenceNumber last_sequence = manifest_last_sequence_;
  if (flushed != nullptr) {
    // The next memtable's log is the oldest one still needed.
    log_number = imm_.size() > 1 ? imm_[1].log_number : mem_log_number_;
    last_sequence = flushed->last_sequence;
  }
  FileList dropped;
  VersionBuilder builder(&icmp_, current_.get());
  for (const auto& [level, number] : removed) {
    for (const auto& f : current_->files(level)) {
      if (f->number == number) dropped.push_back(f);
    }
    builder.remove(level, number);
  }
  for (const auto& [level, meta] : added) {
    // A moved table keeps its identity (and in-use marking) across levels.
    const uint64_t number = meta.number;
    auto it = std::find_if(dropped.begin(), dropped.end(), [&](const auto& f) { return f->number == number; });
    if (it != dropped.end()) {
      builder.add(level, *it);
      dropped.erase(it);
    } else {
      builder.add(level, std::make_shared<FileMetaData>(meta));
    }
  }
  if (tree != nullptr) builder.set_tree(std::move(tree));
  std::shared_ptr<const Version> version;
  Status s = builder.finish(&version);

  ManifestState state;
  state.comparator_name = icmp_.user_comparator()->name();
  state.log_number = log_number;
  state.last_sequence = last_sequence;
  if (s.ok()) {
    for (int level = 0; level < kNumLevels; level++) {
      for (const auto& f : version->files(level)) state.tables.push_back({level, *f});
    }
    state.tree_epoch = version->tree()->meta().epoch;
    mu_.unlock();
    state.next_file_number = next_file_number_.load();
    s = WriteManifest(env_, dbname_, state);
    mu_.lock();
  }
  manifest_busy_ = false;
  bg_cv_.signal_all();
  if (!s.ok()) {
    // The manifest on disk may be the old or the new one: neither set of
    // files can be deleted, and no further change is safe.
    set_background_error(s, "writing the MANIFEST");
    return bg_error_;
  }
  current_ = std::move(version);
  manifest_log_number_ = log_number;
  manifest_last_sequence_ = last_sequence;
  obsolete_tables_.insert(obsolete_tables_.end(), dropped.begin(), dropped.end());
  return Status::OK();
}

void DBImpl::delete_obsolete_files() {
  // A table dropped from the current version is deleted once no reader's or
  // compaction's version refers to it: then this list holds the last
  // reference, and no new one can appear (it is in no current version).
  FileList keep;
  std::vector<uint64_t> dead_tables;
  for (auto& f : obsolete_tables_) {
    if (f.use_count() == 1) {
      dead_tables.push_back(f->number);
    } else {
      keep.push_back(std::move(f));
    }
  }
  obsolete_tables_ = std::move(keep);
  const uint64_t log_number = manifest_log_number_;
  // Only a flush advances the log number; other callers skip the listing.
  const bool logs_to_delete = log_number > logs_deleted_below_;
  if (dead_tables.empty() && !logs_to_delete) return;
  mu_.unlock();
  for (uint64_t number : dead_tables) {
    table_cache_->evict(number);
    (void)env_->remove_file(TableFileName(dbname_, number));
  }
  std::vector<std::string> children;
  if (logs_to_delete && env_->get_children(dbname_, &children).ok()) {
    for (const auto& name : children) {
      uint64_t number = 0;
      if (ParseFileName(name, &number) == FileType::kLog && number < log_number) {
        (void)env_->remove_file(dbname_ + "/" + name);
      }
    }
  }
  mu_.lock();
  if (log_number > logs_deleted_below_) {
    logs_deleted_below_ = log_number;
    bg_cv_.signal_all();
  }
}

DatabaseStats DBImpl::stats() {
  DatabaseStats st;
  // Logs written by this process hold prefilled zeros after their records
  // until they are closed or deleted: their sizes come from the writers.
  std::vector<std::pair<uint64_t, uint64_t>> log_sizes;  // number, size
  {
    port::MutexLock l(&mu_);
    if (log_ != nullptr) log_sizes.emplace_back(log_->log_number(), log_->size());
    for (const auto& imm : imm_) log_sizes.emplace_back(imm.log_number, imm.log_size);
    for (int level = 0; level < kNumLevels; level++) {
      st.levels.push_back(LevelStats{current_ ? current_->num_files(level) : 0,
                                     current_ ? current_->level_bytes(level) : 0});
    }
    if (mem_ != nullptr) st.memtable_bytes = mem_->approximate_memory_usage();
    for (const auto& imm : imm_) st.memtable_bytes += imm.mem->approximate_memory_usage();
    st.table_memory_bytes = table_cache_->memory_usage();
    st.immutable_memtables = static_cast<int>(imm_.size());
    if (current_ != nullptr) {
      const btree::TreeMeta& m = current_->tree()->meta();
      st.tree_height = m.height;
      st.tree_entries = m.entries;
      st.tree_bytes = current_->tree()->data_bytes();
      st.tree_file_bytes = current_->tree()->file_bytes();
      st.tree_free_bytes = m.free_pages * m.page_size;
    }
  }
  const Counters& c = counters_;
  st.user_bytes_written = c.user_bytes_written;
  st.wal_bytes_written = c.wal_bytes_written;
  st.flushes = c.flushes;
  st.flush_bytes_written = c.flush_bytes_written;
  st.compactions = c.compactions;
  st.trivial_moves = c.trivial_moves;
  st.compaction_bytes_read = c.compaction_bytes_read;
  st.compaction_bytes_written = c.compaction_bytes_written;
  st.tree_merges = c.tree_merges;
  st.tree_bytes_read = c.tree_bytes_read;
  st.tree_bytes_written = c.tree_bytes_written;
  st.write_slowdowns = c.write_slowdowns;
  st.write_stops = c.write_stops;
  st.write_stall_micros = c.write_stall_micros;
  if (block_cache_ != nullptr) {
    const CacheStats cs = block_cache_->stats();
    st.block_cache_hits = cs.hits;
    st.block_cache_misses = cs.misses;
    st.block_cache_bytes = block_cache_->total_charge();
    st.block_cache_capacity = block_cache_->capacity();
  }
  st.memory_usage = st.memtable_bytes + st.block_cache_bytes + st.table_memory_bytes;
  st.tree_pages_read_in_place = tree_pager_ != nullptr ? tree_pager_->in_place_reads() : 0;
  // A page verified in place on its first read cost a checksum: a miss.
  if (tree_pager_ != nullptr) st.block_cache_misses += tree_pager_->in_place_verifications();
  st.prefix_filter_skips = counters_.prefix_filter_skips.load(std::memory_order_relaxed);
  st.live_snapshots = snapshots_->count();
  std::vector<std::string> children;
  if (env_->get_children(dbname_, &children).ok()) {
    for (const auto& name : children) {
      uint64_t number = 0, size = 0;
      if (ParseFileName(name, &number) != FileType::kLog) continue;
      auto known = std::find_if(log_sizes.begin(), log_sizes.end(),
                                [number](const std::pair<uint64_t, uint64_t>& l) { return l.first == number; });
      if (known != log_sizes.end()) {
        st.wal_bytes += known->second;
      } else if (env_->get_file_size(dbname_ + "/" + name, &size).ok()) {
        st.wal_bytes += size;
      }
    }
  }
  return st;
}

// ---------------------------------------------------------------- close

Status DBImpl::close() {
  if (subscriptions_->called_from_callback()) {
    return Status::InvalidArgument("close() called from a subscription callback; close from another thread");
  }
  if (closed_.exchange(true, std::memory_order_acq_rel)) return Status::OK();
  // No write can commit any more: deliver what is queued, end the rest.
  subscriptions_->close();
  if (db_lock_ == nullptr) return Status::OK();  // open failed before taking the lock
  if (opened_) {
    // Like RocksDB, leave the data in tables rather than in the log: the next
    // open need not replay it. A failure here loses nothing (the log keeps
    // the data) and is reported below through bg_error_ if it is sticky.
    (void)flush_memtables();
  }
  {
    port::MutexLock l(&mu_);
    shutting_down_.store(true);
    bg_cv_.signal_all();
  }
  if (sync_thread_.joinable()) sync_thread_.join();
  if (flush_thread_.joinable()) flush_thread_.join();
  for (auto& t : compaction_threads_) {
    if (t.joinable()) t.join();
  }

  Status s;
  {
    port::MutexLock l(&mu_);
    s = bg_error_;
    if (current_ != nullptr) delete_obsolete_files();
  }
  if (log_ != nullptr) {
    if (s.ok()) s = log_->sync();
    Status cs = log_->close();
    if (s.ok()) s = cs;
    log_.reset();
  }
  Status us = env_->unlock_file(std::move(db_lock_));
  if (s.ok()) s = us;
  return s;
}

}  // namespace lightning
