// Copyright (c) Lightning authors. MIT License.
//
// Database::verify (online) and VerifyDatabase (offline): every byte of every
// live file is read past the caches and checked (docs/ARCHITECTURE.md,
// "Verification").
#include <algorithm>

#include "btree/btree.h"
#include "cache/arc_cache.h"
#include "db/db_impl.h"
#include "db/filenames.h"
#include "db/verify_internal.h"
#include "db/write_batch_internal.h"
#include "sst/table.h"
#include "util/no_throw.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning {

Verifier::Verifier(Env* env, std::string dbname, const InternalKeyComparator* icmp, const TableOptions& table_options,
                   VerifyReport* report)
    : env_(env), dbname_(std::move(dbname)), icmp_(icmp), table_options_(table_options), report_(report) {}

Status Verifier::check_manifest(ManifestState* state) {
  const std::string fname = ManifestFileName(dbname_);
  Status s = ReadManifest(env_, dbname_, state);
  if (!s.ok()) return s;
  uint64_t size = 0;
  if (env_->get_file_size(fname, &size).ok()) report_->manifest_bytes = size;
  const char* expected = icmp_->user_comparator()->name();
  if (state->comparator_name != expected) {
    return Status::InvalidArgument(dbname_, "the database was created with comparator '" + state->comparator_name +
                                                "', not '" + expected + "'");
  }
  // The level invariants (sorted, disjoint runs in levels 1..6).
  VersionBuilder builder(icmp_, nullptr);
  for (const auto& t : state->tables) {
    if (t.meta.number >= state->next_file_number) {
      return Status::Corruption(fname, "table " + std::to_string(t.meta.number) + " is not below next_file_number");
    }
    if (icmp_->compare(t.meta.smallest, t.meta.largest) > 0) {
      return Status::Corruption(fname, "table " + std::to_string(t.meta.number) + " has smallest > largest");
    }
    builder.add(t.level, std::make_shared<FileMetaData>(t.meta));
  }
  std::shared_ptr<const Version> version;
  s = builder.finish(&version);
  if (!s.ok()) return Status::Corruption(fname, s.ToString());
  return Status::OK();
}

Status Verifier::check_table(const FileMetaData& meta, TableEntryFn on_entry) {
  const std::string fname = TableFileName(dbname_, meta.number);
  uint64_t size = 0;
  Status s = env_->get_file_size(fname, &size);
  if (s.IsNotFound()) return Status::Corruption(fname, "listed in the MANIFEST but missing");
  if (!s.ok()) return s;
  if (size != meta.file_size) {
    return Status::Corruption(fname, "has " + std::to_string(size) + " bytes; the MANIFEST says " +
                                         std::to_string(meta.file_size));
  }
  std::unique_ptr<RandomAccessFile> file;
  s = env_->new_random_access_file(fname, &file);
  if (!s.ok()) return s;
  TableOptions options = table_options_;
  options.file_name = fname;
  std::unique_ptr<Table> table;
  // No block cache: every block is read from the file and checksummed.
  s = Table::open(options, std::move(file), size, nullptr, &table);
  if (!s.ok()) return s;
  auto it = table->new_iterator(/*verify_checksums=*/true);
  std::string prev;
  uint64_t entries = 0;
  SequenceNumber max_sequence = 0;
  for (it->seek_to_first(); it->valid(); it->next()) {
    const Slice key = it->key();
    if (key.size() < 8) return Status::Corruption(fname, "entry " + std::to_string(entries) + ": short key");
    if (entries == 0 && icmp_->compare(key, meta.smallest) != 0) {
      return Status::Corruption(fname, "first key differs from the MANIFEST's smallest key");
    }
    if (entries > 0 && icmp_->compare(prev, key) >= 0) {
      return Status::Corruption(fname, "keys out of order at entry " + std::to_string(entries));
    }
    ParsedInternalKey parsed;
    if (!ParseInternalKey(key, &parsed)) {
      return Status::Corruption(fname, "entry " + std::to_string(entries) + ": malformed internal key");
    }
    max_sequence = std::max(max_sequence, parsed.sequence);
    if (on_entry) on_entry(key, it->value());
    prev.assign(key.data(), key.size());
    ++entries;
  }
  s = it->status();
  if (!s.ok()) return s;
  if (entries == 0) return Status::Corruption(fname, "holds no entries");
  if (icmp_->compare(prev, meta.largest) != 0) {
    return Status::Corruption(fname, "last key differs from the MANIFEST's largest key");
  }
  if (entries != meta.num_entries) {
    return Status::Corruption(fname, "holds " + std::to_string(entries) + " entries; the MANIFEST says " +
                                         std::to_string(meta.num_entries));
  }
  if (max_sequence > meta.largest_sequence) {
    return Status::Corruption(fname, "holds sequence " + std::to_string(max_sequence) +
                                         ", above the MANIFEST's largest " + std::to_string(meta.largest_sequence));
  }
  report_->table_files++;
  report_->table_entries += entries;
  report_->table_bytes += size;
  return Status::OK();
}

Status Verifier::check_log(uint64_t number, SequenceNumber* last_sequence, uint64_t max_size) {
  const std::string fname = LogFileName(dbname_, number);
  std::unique_ptr<wal::WalReader> reader;
  Status s = wal::WalReader::open(env_, fname, number, &reader, max_size);
  if (!s.ok()) return s;
  Slice payload;
  uint64_t sequence = 0;
  uint64_t records = 0;
  WriteBatch batch;
  while (reader->read_record(&payload, &sequence)) {
    const std::string where = fname + " at offset " + std::to_string(reader->valid_end() - payload.size() - 24);
    if (sequence <= *last_sequence || sequence > kMaxSequenceNumber) {
      return Status::Corruption(where, "sequence number " + std::to_string(sequence) + " does not follow " +
                                           std::to_string(*last_sequence));
    }
    s = WriteBatchInternal::set_contents(&batch, payload);
    if (!s.ok()) return Status::Corruption(where, "record is not a valid write batch: " + s.message());
    const uint32_t n = WriteBatchInternal::count(batch);
    if (n > 0) *last_sequence = sequence + n - 1;
    ++records;
  }
  switch (reader->end()) {
    case wal::WalReader::End::kIOError:
      return reader->io_status();
    case wal::WalReader::End::kCorruption:
      return Status::Corruption(fname + " at offset " + std::to_string(reader->damage_offset()),
                                reader->damage_reason());
    case wal::WalReader::End::kTornTail:
      report_->wal_torn_tail_bytes += reader->data_end() - reader->valid_end();
      break;
    case wal::WalReader::End::kNotYet:
    case wal::WalReader::End::kClean:
      break;
  }
  report_->wal_files++;
  report_->wal_records += records;
  // Zeros the writer prefilled after its last record are not log bytes.
  report_->wal_bytes += reader->data_end();
  return Status::OK();
}

Status Verifier::check_tree(const btree::TreeMeta& meta, bool from_meta_page, TreeVersionFn on_version) {
  report_->tree_epoch = meta.epoch;
  if (meta.epoch == 0) return Status::OK();
  const std::string fname = TreeFileName(dbname_);
  std::unique_ptr<Cache> cache = NewArcCache(0);  // every read is verified
  btree::PagerOptions po;
  po.env = env_;
  po.fname = fname;
  po.page_size = meta.page_size;
  po.cache = cache.get();
  po.mmap_size = 0;
  std::unique_ptr<btree::BTreePager> pager;
  Status s = from_meta_page ? btree::BTreePager::Open(po, meta.epoch, &pager)
                            : btree::BTreePager::OpenCommit(po, meta, &pager);
  if (s.ok()) {
    const btree::TreeMeta m = pager->committed();
    auto version = std::make_shared<btree::TreeVersion>(pager.get(), icmp_, m, nullptr);
    uint64_t entries = 0;
    s = btree::CheckTree(*version, &entries);
    if (s.ok() && on_version) s = on_version(version);
    if (s.ok()) {
      report_->tree_entries = entries;
      report_->tree_pages = m.leaf_pages + m.internal_pages + m.blob_pages;
      report_->tree_file_bytes = m.num_pages * uint64_t{m.page_size};
    }
  }
  if (s.IsCorruption() && s.message().find(fname) == std::string::npos) return Status::Corruption(fname, s.message());
  return s;
}

// ---------------------------------------------------------------- online

Status DBImpl::verify(VerifyReport* report) {
  VerifyReport local;
  if (report == nullptr) report = &local;
  *report = VerifyReport();
  return NoThrow([&]() -> Status {
    if (closed()) return Status::Closed("the database is closed");
    std::shared_ptr<const Version> version;
    uint64_t log_number = 0;
    std::shared_ptr<wal::WalWriter> live_log;
    {
      port::MutexLock l(&mu_);
      if (current_ == nullptr) return Status::Closed("the database is closed");
      // Holding the version keeps its tables and its tree commit's pages.
      version = current_;
      log_number = manifest_log_number_;
      live_log = log_;
    }
    Verifier v(env_, dbname_, &icmp_, table_options_, report);
    ManifestState state;
    Status s = v.check_manifest(&state);
    for (int level = 0; s.ok() && level < kNumLevels; level++) {
      for (const auto& f : version->files(level)) {
        s = v.check_table(*f);
        if (!s.ok()) break;
      }
    }
    if (s.ok()) s = v.check_tree(version->tree()->meta(), /*from_meta_page=*/false);
    if (!s.ok()) return s;
    // The live logs: a flush may delete the older ones meanwhile (their
    // records are then in tables). The one being written is read only as far
    // as it was flushed: past that, records are going in over its prefilled
    // zeros.
    std::vector<std::string> children;
    s = env_->get_children(dbname_, &children);
    if (!s.ok()) return s;
    std::vector<uint64_t> logs;
    for (const auto& name : children) {
      uint64_t number = 0;
      if (ParseFileName(name, &number) == FileType::kLog && number >= log_number) logs.push_back(number);
    }
    std::sort(logs.begin(), logs.end());
    SequenceNumber last = 0;
    for (uint64_t number : logs) {
      // A log newer than the one being written then was created since (its
      // records are newer than this verification) and is being written now.
      if (live_log != nullptr && number > live_log->log_number()) break;
      const bool writing = live_log != nullptr && number == live_log->log_number();
      s = v.check_log(number, &last, writing ? live_log->flushed_size() : UINT64_MAX);
      if (s.IsNotFound() && !env_->file_exists(LogFileName(dbname_, number))) continue;
      if (!s.ok()) return s;
    }
    return Status::OK();
  });
}

// ---------------------------------------------------------------- offline

Status VerifyDatabase(const std::string& path, const Options& options, VerifyReport* report) {
  VerifyReport local;
  if (report == nullptr) report = &local;
  *report = VerifyReport();
  return NoThrow([&]() -> Status {
    Env* env = options.env != nullptr ? options.env : Env::Default();
    const Comparator* user = options.comparator != nullptr ? options.comparator : BytewiseComparator();
    const InternalKeyComparator icmp(user);
    bool is_dir = false;
    Status s = env->is_directory(path, &is_dir);
    if (s.IsNotFound()) return Status::NotFound(path, "no database here");
    if (!s.ok()) return s;
    if (!is_dir) return Status::InvalidArgument(path, "not a directory");
    if (!env->file_exists(ManifestFileName(path))) return Status::NotFound(path, "no MANIFEST: not a database");
    std::unique_ptr<FileLock> lock;
    s = env->lock_file(LockFileName(path), &lock);
    if (!s.ok()) return s;
    TableOptions table_options;
    table_options.comparator = &icmp;
    Verifier v(env, path, &icmp, table_options, report);
    ManifestState state;
    s = v.check_manifest(&state);
    for (size_t i = 0; s.ok() && i < state.tables.size(); i++) s = v.check_table(state.tables[i].meta);
    if (s.ok() && state.tree_epoch != 0) {
      btree::TreeMeta meta;
      meta.epoch = state.tree_epoch;
      meta.page_size = options.page_size;  // Open reads the real one from the meta page
      s = v.check_tree(meta, /*from_meta_page=*/true);
    } else if (s.ok() && env->file_exists(TreeFileName(path))) {
      // The tree's first commit may exist unrecorded; the MANIFEST's empty
      // tree is what opens. Nothing to check.
    }
    if (s.ok()) {
      std::vector<std::string> children;
      s = env->get_children(path, &children);
      std::vector<uint64_t> logs;
      for (const auto& name : children) {
        uint64_t number = 0;
        if (ParseFileName(name, &number) == FileType::kLog && number >= state.log_number) logs.push_back(number);
      }
      std::sort(logs.begin(), logs.end());
      SequenceNumber last = state.last_sequence;
      for (const auto& t : state.tables) last = std::max(last, t.meta.largest_sequence);
      for (size_t i = 0; s.ok() && i < logs.size(); i++) s = v.check_log(logs[i], &last);
    }
    Status us = env->unlock_file(std::move(lock));
    if (s.ok()) s = us;
    return s;
  });
}

}  // namespace lightning
