// Copyright (c) Lightning authors. MIT License.
#include "db/db_impl.h"

#include <algorithm>
#include <exception>
#include <new>
#include <vector>

#include "db/filenames.h"
#include "db/write_batch_internal.h"
#include "lightning/comparator.h"
#include "memtable/memtable.h"
#include "wal/wal_reader.h"
#include "wal/wal_writer.h"

namespace lightning {

namespace {

// A group grows to at most this many bytes, and much less when the leader's
// own batch is small, so that a small write is not delayed behind a big group.
constexpr size_t kMaxGroupBytes = 1 << 20;
constexpr size_t kSmallBatchBytes = 128 << 10;

// Runs fn, turning an escaping exception (in practice std::bad_alloc) into a
// Status: no exception crosses the public API.
template <typename Fn>
Status NoThrow(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::IOError("out of memory");
  } catch (const std::exception& e) {
    return Status::IOError("unexpected exception", e.what());
  }
}

Status ClosedError() { return Status::Closed("the database is closed"); }

}  // namespace

struct DBImpl::Writer {
  explicit Writer(port::Mutex* mu) : cv(mu) {}
  const WriteBatch* batch = nullptr;  // nullptr: only a flush/sync request
  Durability durability = Durability::kBuffered;
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
    if (options.wal_sync_interval_ms == 0) return Status::InvalidArgument("wal_sync_interval_ms must be > 0");
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
      options_(options),
      dbname_(std::move(dbname)),
      icmp_(options.comparator != nullptr ? options.comparator : BytewiseComparator()),
      bg_cv_(&mu_) {}

DBImpl::~DBImpl() { (void)close(); }

DBImpl::Durability DBImpl::durability_for(const WriteOptions& write_options) const {
  if (write_options.sync) return Durability::kSynced;
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
  std::shared_ptr<MemTable> mem;
  SequenceNumber max_sequence = 0;
  s = recover(&state, &mem, &max_sequence);
  if (!s.ok()) return s;

  // A fresh log for new writes; the replayed ones stay live (their data is
  // only in the memtable) until a flush retires them.
  const uint64_t log_number = state.next_file_number++;
  s = wal::WalWriter::create(env_, LogFileName(dbname_, log_number), log_number, &log_);
  if (s.ok()) s = log_->sync();
  if (!s.ok()) return s;
  if (mem->empty()) state.log_number = log_number;
  s = WriteManifest(env_, dbname_, state);
  if (!s.ok()) return s;

  // Logs below log_number hold nothing the manifest needs any more.
  std::vector<std::string> children;
  if (env_->get_children(dbname_, &children).ok()) {
    for (const auto& name : children) {
      uint64_t number = 0;
      const FileType type = ParseFileName(name, &number);
      if ((type == FileType::kLog && number < state.log_number) || type == FileType::kTempManifest) {
        (void)env_->remove_file(dbname_ + "/" + name);
      }
    }
  }

  {
    port::MutexLock l(&mu_);
    mem_ = std::move(mem);
  }
  last_sequence_.store(max_sequence, std::memory_order_release);
  if (options_.wal_sync_mode != WalSyncMode::kFull) sync_thread_ = std::thread([this] { sync_thread_main(); });
  return Status::OK();
}

Status DBImpl::recover(ManifestState* state, std::shared_ptr<MemTable>* mem, SequenceNumber* max_sequence) {
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
  state->next_file_number = std::max(state->next_file_number, max_number + 1);

  *mem = std::make_shared<MemTable>(icmp_);
  *max_sequence = state->last_sequence;
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
    s = recover_log(number, mem->get(), max_sequence, &stop);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

Status DBImpl::recover_log(uint64_t number, MemTable* mem, SequenceNumber* max_sequence, bool* stop) {
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
        s = WriteBatchInternal::insert_into(batch, sequence, mem);
        if (!s.ok()) return s;
        const uint32_t n = WriteBatchInternal::count(batch);
        if (n > 0) *max_sequence = sequence + n - 1;
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

DBImpl::Writer* DBImpl::build_group(Slice* payload, uint32_t* count, Durability* durability) {
  Writer* const first = writers_.front();
  *durability = first->durability;
  const size_t first_size = first->batch ? WriteBatchInternal::byte_size(*first->batch) : 0;
  const size_t max_size = first_size <= kSmallBatchBytes ? first_size + kSmallBatchBytes : kMaxGroupBytes;

  Writer* last = first;
  group_batches_.clear();
  if (first->batch != nullptr) group_batches_.push_back(first->batch);
  const WriteBatch* only = first->batch;
  int batches = first->batch ? 1 : 0;
  size_t size = first_size;
  for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
    Writer* w = *it;
    // A follower that needs an fsync does not join a leader that would not
    // do one: it would add fsync latency to the leader's write.
    if (w->durability == Durability::kSynced && *durability != Durability::kSynced) break;
    if (w->batch != nullptr) {
      size += WriteBatchInternal::byte_size(*w->batch);
      if (size > max_size) break;
      if (batches == 1 && only != nullptr) {
        group_scratch_.clear();
        WriteBatchInternal::append(&group_scratch_, *only);
      }
      if (batches >= 1) WriteBatchInternal::append(&group_scratch_, *w->batch);
      else only = w->batch;
      batches++;
      group_batches_.push_back(w->batch);
    }
    *durability = std::max(*durability, w->durability);
    last = w;
  }
  const WriteBatch* group = batches <= 1 ? only : &group_scratch_;
  *payload = group ? WriteBatchInternal::contents(*group) : Slice();
  *count = group ? WriteBatchInternal::count(*group) : 0;
  return last;
}

Status DBImpl::write_impl(const WriteBatch* batch, Durability durability) {
  Writer w(&mu_);
  w.batch = batch;
  w.durability = durability;

  port::MutexLock l(&mu_);
  writers_.push_back(&w);
  while (!w.done && &w != writers_.front()) w.cv.wait();
  if (w.done) return w.status;

  // This thread is the leader: it writes the whole group to the log.
  Status s = bg_error_;
  Writer* last = &w;
  if (s.ok()) {
    Slice payload;
    uint32_t count = 0;
    Durability group_durability;
    last = build_group(&payload, &count, &group_durability);
    const SequenceNumber first_seq = last_sequence_.load(std::memory_order_relaxed) + 1;
    std::shared_ptr<MemTable> mem = mem_;
    {
      // Other writers queue up behind this one meanwhile; readers go on.
      mu_.unlock();
      if (count > 0) s = log_->add_record(first_seq, payload);
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
      if (count > 0) last_sequence_.store(first_seq + count - 1, std::memory_order_release);
      if (group_durability == Durability::kSynced) {
        unflushed_ = unsynced_ = false;
      } else if (group_durability == Durability::kFlushed) {
        unflushed_ = false;
        unsynced_ = unsynced_ || count > 0;
      } else if (count > 0) {
        unflushed_ = unsynced_ = true;
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
      ready->status = s;
      ready->done = true;
      ready->cv.signal();
    }
    if (ready == last) break;
  }
  if (!writers_.empty()) writers_.front()->cv.signal();
  return s;
}

void DBImpl::sync_thread_main() {
  const uint64_t interval_us = uint64_t{options_.wal_sync_interval_ms} * 1000;
  const bool sync = options_.wal_sync_mode == WalSyncMode::kNormal;
  bool can_sync_beside_writers = true;
  port::MutexLock l(&mu_);
  while (!shutting_down_) {
    bg_cv_.wait_for_micros(interval_us);
    if (shutting_down_) break;
    const bool pending = sync ? unsynced_ : unflushed_;
    if (!pending || !bg_error_.ok()) continue;
    if (sync && can_sync_beside_writers) {
      // In kNormal every commit is already in the OS, so the fsync can run
      // beside the writers instead of holding up the write queue for its
      // whole duration. A commit racing with it sets unsynced_ again.
      unsynced_ = false;
      mu_.unlock();
      Status s = log_->sync_flushed();
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
    (void)NoThrow([&] { return write_impl(nullptr, sync ? Durability::kSynced : Durability::kFlushed); });
    mu_.lock();
  }
}

// ---------------------------------------------------------------- reads

Status DBImpl::get(const Slice& key, std::string* value, const ReadOptions& /*read_options*/) {
  if (closed_.load(std::memory_order_acquire)) return ClosedError();
  if (value == nullptr) return Status::InvalidArgument("get: value must not be null");
  Status ks = CheckKey(key);
  if (!ks.ok()) return ks;
  return NoThrow([&] {
    std::shared_ptr<MemTable> mem;
    {
      port::MutexLock l(&mu_);
      mem = mem_;
    }
    // Read the sequence after taking the memtable: every entry at or below
    // it is already in that memtable.
    const SequenceNumber seq = last_sequence_.load(std::memory_order_acquire);
    LookupKey lkey(key, seq);
    Status s;
    if (mem->get(lkey, value, &s)) return s;
    return Status::NotFound(Slice());
  });
}

// ---------------------------------------------------------------- close

Status DBImpl::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return Status::OK();
  if (db_lock_ == nullptr) return Status::OK();  // open failed before taking the lock
  {
    port::MutexLock l(&mu_);
    shutting_down_ = true;
    bg_cv_.signal_all();
  }
  if (sync_thread_.joinable()) sync_thread_.join();

  Status s;
  {
    port::MutexLock l(&mu_);
    s = bg_error_;
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
