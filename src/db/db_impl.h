// Copyright (c) Lightning authors. MIT License.
//
// DBImpl: the Database implementation. See docs/ARCHITECTURE.md for the
// write path (group commit), the read path and recovery.
#ifndef LIGHTNING_DB_DB_IMPL_H_
#define LIGHTNING_DB_DB_IMPL_H_

#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "db/dbformat.h"
#include "db/manifest.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/options.h"
#include "port/mutex.h"

namespace lightning {

class MemTable;
namespace wal {
class WalWriter;
}

class DBImpl final : public Database {
 public:
  DBImpl(const Options& options, std::string dbname);
  ~DBImpl() override;

  Status put(const Slice& key, const Slice& value, const WriteOptions& write_options) override;
  Status remove(const Slice& key, const WriteOptions& write_options) override;
  Status write(const WriteBatch& batch, const WriteOptions& write_options) override;
  Status get(const Slice& key, std::string* value, const ReadOptions& read_options) override;
  using Database::get;
  Status sync_wal() override;
  Status close() override;

  // Locks the directory, reads or creates the manifest, replays the logs and
  // starts a fresh log. Called once, before the object is shared.
  Status open_impl();

 private:
  struct Writer;
  enum class Durability { kBuffered, kFlushed, kSynced };

  // The write path shared by put/remove/write and by WAL flush/sync requests
  // (batch == nullptr).
  Status write_impl(const WriteBatch* batch, Durability durability);
  // Picks the writers that join the leader's group; returns the last one.
  Writer* build_group(Slice* payload, uint32_t* count, Durability* durability) REQUIRES(mu_);

  Status recover(ManifestState* state, std::shared_ptr<MemTable>* mem, SequenceNumber* max_sequence);
  Status recover_log(uint64_t number, MemTable* mem, SequenceNumber* max_sequence, bool* stop);
  Status rewrite_log_without_damage(uint64_t number, SequenceNumber floor);
  Status set_aside(const std::string& fname, uint64_t from_offset);
  void sync_thread_main();
  Durability durability_for(const WriteOptions& write_options) const;

  Env* const env_;
  const Options options_;
  const std::string dbname_;
  const InternalKeyComparator icmp_;
  std::unique_ptr<FileLock> db_lock_;

  port::Mutex mu_;
  std::shared_ptr<MemTable> mem_ GUARDED_BY(mu_);
  std::deque<Writer*> writers_ GUARDED_BY(mu_);
  // Set by the first failed log write or fsync; every later write returns it.
  Status bg_error_ GUARDED_BY(mu_);
  bool unflushed_ GUARDED_BY(mu_) = false;  // log bytes still in our buffer
  bool unsynced_ GUARDED_BY(mu_) = false;   // log bytes not yet fsynced
  bool shutting_down_ GUARDED_BY(mu_) = false;
  port::CondVar bg_cv_;

  // Touched only by the current write leader (or by open/close, alone),
  // except log_->sync_flushed(), which the sync thread calls beside it.
  std::unique_ptr<wal::WalWriter> log_;
  WriteBatch group_scratch_;                      // the group's batches, merged
  std::vector<const WriteBatch*> group_batches_;  // the group's batches, in order

  // The last sequence number whose batch is fully in the memtable; reads use it.
  std::atomic<SequenceNumber> last_sequence_{0};
  std::atomic<bool> closed_{false};
  std::thread sync_thread_;
};

}  // namespace lightning

#endif  // LIGHTNING_DB_DB_IMPL_H_
