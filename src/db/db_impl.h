// Copyright (c) Lightning authors. MIT License.
//
// DBImpl: the Database implementation. See docs/ARCHITECTURE.md for the
// write path (group commit), the read path and recovery.
#ifndef LIGHTNING_DB_DB_IMPL_H_
#define LIGHTNING_DB_DB_IMPL_H_

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "btree/btree.h"
#include "btree/pager.h"
#include "cache/cache.h"
#include "db/compaction.h"
#include "db/db_iter.h"
#include "db/dbformat.h"
#include "db/file_util.h"
#include "db/manifest.h"
#include "db/table_cache.h"
#include "db/version.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/options.h"
#include "lightning/stats.h"
#include "db/snapshot.h"
#include "txn/conflict_check.h"
#include "db/sorted_run_builder.h"
#include "db/subscriptions.h"
#include "port/mutex.h"
#include "sst/table_options.h"

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
  std::vector<Result<std::string>> get_batch(const std::vector<Slice>& keys,
                                             const ReadOptions& read_options) override;
  using Database::get_batch;
  // A DBIter (db/db_iter.h) over read_sources(); after close() one that is
  // !valid() with status Closed.
  std::unique_ptr<Iterator> new_iterator(const ReadOptions& read_options) override;
  std::shared_ptr<const Snapshot> snapshot() override;
  // A Scan over a DBIter that, for a prefix, skips tables by their prefix
  // filters.
  Scan new_scan(const ScanOptions& scan_options, const ReadOptions& read_options) override;
  Result<std::unique_ptr<Transaction>> begin_transaction(const TransactionOptions& options) override;
  // Registers under mu_ (see SubscriptionHub for why).
  Result<std::unique_ptr<Subscription>> subscribe(ChangeCallback callback, const SubscribeOptions& options) override;
  using Database::subscribe;

  // For TransactionImpl: writes batch if check passes (else Conflict);
  // releases an active-transaction slot; the user key order.
  Status commit_transaction(const WriteBatch& batch, const ConflictCheck& check, const WriteOptions& write_options);
  void transaction_finished() { active_transactions_.fetch_sub(1, std::memory_order_acq_rel); }
  const Comparator* user_comparator() const { return icmp_.user_comparator(); }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  Status sync_wal() override;
  Status flush() override;
  Status compact() override;
  DatabaseStats stats() override;
  Status close() override;

  // Maintenance (db/checkpoint.cc, db/verify.cc).
  Status checkpoint(const std::string& dir) override;
  Status verify(VerifyReport* report) override;
  // Flushes the memtables (every write acknowledged before the call reaches
  // a table), then pins the current version and describes it (LiveFiles).
  // For checkpoints and backups. Closed after close().
  Status capture_live_files(LiveFiles* live);
  Env* env() const { return env_; }
  const std::string& dbname() const { return dbname_; }
  const InternalKeyComparator& internal_comparator() const { return icmp_; }
  const TableOptions& table_options() const { return table_options_; }

  // Locks the directory, reads or creates the manifest, replays the logs
  // (writing what they hold to level-0 tables) and starts a fresh log.
  // Called once, before the object is shared.
  Status open_impl();

 private:
  struct Writer;
  enum class Durability { kBuffered, kFlushed, kSynced };
  // A memtable that is full and waits for (or is in) its flush.
  struct Immutable {
    std::shared_ptr<MemTable> mem;
    uint64_t log_number;            // the log holding its records
    SequenceNumber first_sequence;  // no entry of an older memtable is at or above this
    SequenceNumber last_sequence;   // its newest entry
    uint64_t log_size = 0;          // the log's records (its file may hold prefilled zeros after them)
  };
  struct Counters {
    std::atomic<uint64_t> user_bytes_written{0}, wal_bytes_written{0}, flushes{0}, flush_bytes_written{0},
        compactions{0}, trivial_moves{0}, compaction_bytes_read{0}, compaction_bytes_written{0}, tree_merges{0},
        tree_bytes_read{0}, tree_bytes_written{0}, prefix_filter_skips{0},
        write_slowdowns{0}, write_stops{0}, write_stall_micros{0};
  };

  // The write path shared by put/remove/write and by WAL flush/sync requests
  // (batch == nullptr) and memtable switches (force_switch).
  // A batch with a check (a transaction's commit) is written only if the
  // check passes; otherwise its status is the Conflict (or read error).
  Status write_impl(const WriteBatch* batch, Durability durability, bool force_switch = false,
                    const ConflictCheck* check = nullptr);
  // Picks the writers that join the leader's group (group_members_: those
  // with a batch); returns the last one.
  Writer* build_group(Durability* durability) REQUIRES(mu_);
  // Runs the conflict checks of the group's members in order, against
  // `latest` (every commit numbered before the group) and the keys of the
  // members ahead; marks the failures rejected. Leader only, without mu_.
  void validate_group(const DBIterSources& latest);
  // Merges the batches of the members not rejected (group_batches_) into
  // one payload. Leader only.
  void compose_group(Slice* payload, uint32_t* count);
  // Run by the write leader before its group: delays or waits while level 0
  // or the immutable memtables are backed up, and switches to a fresh
  // memtable and log when the current one is full (or force is set).
  Status make_room_for_write(bool force) REQUIRES(mu_);
  Status switch_memtable() REQUIRES(mu_);
  // flush() without the closed check (close() uses it too).
  Status flush_memtables();

  Status recover(ManifestState* state, SequenceNumber* max_sequence);
  Status recover_log(uint64_t number, ManifestState* state, std::shared_ptr<MemTable>* mem,
                     SequenceNumber* max_sequence, bool* stop);
  // Writes mem to a level-0 table during recovery and lists it in state.
  Status recovery_flush(const MemTable& mem, ManifestState* state);
  Status rewrite_log_without_damage(uint64_t number, SequenceNumber floor);
  Status set_aside(const std::string& fname, uint64_t from_offset);
  void sync_thread_main();
  // What a read sees: the sequence (the snapshot's, or the last published
  // one) and the memtables and version, taken together under mu_ so that
  // every entry at or below the sequence is in one of them (a flush moves a
  // memtable into a table under mu_). Closed after close(); InvalidArgument
  // for a snapshot of another database.
  Status read_sources(const ReadOptions& read_options, DBIterSources* sources) EXCLUDES(mu_);
  // The memtables, version and last published sequence as they are now.
  void current_sources(DBIterSources* sources) REQUIRES(mu_);
  // A DBIter over read_sources() (prefix: see DBIterSources::prefix), or an
  // error iterator.
  std::unique_ptr<Iterator> new_db_iterator(const ReadOptions& read_options, const std::string& prefix);
  Durability durability_for(const WriteOptions& write_options) const;

  // Background work.
  void flush_thread_main();
  void compaction_thread_main();
  Status open_outputs(const SortedRunResult& result);
  void remove_outputs(const SortedRunResult& result);
  Status flush_front_memtable() REQUIRES(mu_);
  // Marks c's inputs as in use, runs it, then unmarks them and deletes the
  // tables it made obsolete. Releases mu_ while merging.
  Status run_compaction(std::unique_ptr<Compaction> c) REQUIRES(mu_);
  // The merge (or move) itself and its manifest edit.
  Status do_compaction_work(const Compaction& c) REQUIRES(mu_);
  // A compaction from level 6 into the tree: merge, commit the tree, then
  // the manifest edit that records the commit and retires the tables.
  Status merge_into_tree(const Compaction& c, const std::vector<std::pair<int, uint64_t>>& removed) REQUIRES(mu_);
  // Writes a manifest for current_ with removed/added tables applied and
  // installs the new version; `flushed` (the front immutable memtable, now in
  // `added`) also advances the log number and last sequence. Serialized by
  // manifest_busy_; releases mu_ while writing. Failure is a sticky
  // background error.
  Status apply_edit(const std::vector<std::pair<int, uint64_t>>& removed,
                    const std::vector<std::pair<int, FileMetaData>>& added, const Immutable* flushed,
                    std::shared_ptr<const btree::TreeVersion> tree = nullptr) REQUIRES(mu_);
  // Deletes logs below the manifest's log number and tables no live version
  // lists any more.
  void delete_obsolete_files() REQUIRES(mu_);
  // Flushes and compactions keep every version visible at or above this
  // sequence: the oldest live snapshot's, else the last published one
  // (iterators pin their own sources and need no such protection).
  SequenceNumber smallest_snapshot() const { return snapshots_->oldest(); }
  void set_background_error(const Status& s, const char* what) REQUIRES(mu_);
  SortedRunSpec run_spec();
  uint64_t new_file_number() { return next_file_number_.fetch_add(1, std::memory_order_relaxed); }

  Env* const env_;
  const Options options_;
  const std::string dbname_;
  const InternalKeyComparator icmp_;
  const TableOptions table_options_;
  std::unique_ptr<FileLock> db_lock_;
  std::unique_ptr<Cache> block_cache_;
  std::unique_ptr<Cache> tree_cache_;  // only when caching is off (capacity 0)
  std::unique_ptr<TableCache> table_cache_;
  // Declared after the caches it reads through; every TreeVersion (held by
  // versions) must be gone before it is destroyed.
  std::unique_ptr<btree::BTreePager> tree_pager_;
  std::string comparator_name_;

  port::Mutex mu_;
  std::shared_ptr<MemTable> mem_ GUARDED_BY(mu_);
  uint64_t mem_log_number_ GUARDED_BY(mu_) = 0;
  // Every write with this sequence or later went into mem_.
  SequenceNumber mem_first_sequence_ GUARDED_BY(mu_) = 1;
  std::deque<Immutable> imm_ GUARDED_BY(mu_);  // oldest first
  bool flush_running_ GUARDED_BY(mu_) = false;
  std::shared_ptr<const Version> current_ GUARDED_BY(mu_);
  // What the MANIFEST on disk says besides the tables.
  uint64_t manifest_log_number_ GUARDED_BY(mu_) = 0;
  SequenceNumber manifest_last_sequence_ GUARDED_BY(mu_) = 0;
  bool manifest_busy_ GUARDED_BY(mu_) = false;
  // Every log below this number has been deleted (flush() waits for it).
  uint64_t logs_deleted_below_ GUARDED_BY(mu_) = 0;
  // Tables dropped from the current version, deleted once unreferenced.
  FileList obsolete_tables_ GUARDED_BY(mu_);
  std::vector<const Compaction*> running_compactions_ GUARDED_BY(mu_);
  std::array<std::string, kNumLevels> compact_pointers_ GUARDED_BY(mu_);
  std::deque<Writer*> writers_ GUARDED_BY(mu_);
  // Set by the first failed write, fsync, flush or compaction; every later
  // write returns it.
  Status bg_error_ GUARDED_BY(mu_);
  bool unflushed_ GUARDED_BY(mu_) = false;  // log bytes still in our buffer
  bool unsynced_ GUARDED_BY(mu_) = false;   // log bytes not yet fsynced
  // Wakes background threads, waiting writers, and flush()/compact() callers.
  port::CondVar bg_cv_;
  // Read by long-running background loops without the mutex.
  std::atomic<bool> shutting_down_{false};

  // Written by the current write leader under mu_ (at a memtable switch) and
  // otherwise used by it without mu_; the sync thread copies it under mu_.
  std::shared_ptr<wal::WalWriter> log_;
  WriteBatch group_scratch_;                      // the group's batches, merged
  std::vector<Writer*> group_members_;            // the group's writers with a batch, in order
  std::vector<const WriteBatch*> group_batches_;  // the batches written, in order

  // The last sequence number whose batch is fully in the memtable; reads use it.
  std::atomic<SequenceNumber> last_sequence_{0};
  // Reads last_sequence_ (declared before it).
  const std::shared_ptr<SnapshotList> snapshots_;
  std::atomic<uint64_t> next_file_number_{1};
  std::atomic<bool> closed_{false};
  std::atomic<int> active_transactions_{0};
  // Change subscriptions; the write leader hands it each committed group.
  const std::shared_ptr<SubscriptionHub> subscriptions_;
  bool opened_ = false;  // open_impl() succeeded; set before the object is shared
  Counters counters_;
  std::thread sync_thread_;
  std::thread flush_thread_;
  std::vector<std::thread> compaction_threads_;
};

}  // namespace lightning

#endif  // LIGHTNING_DB_DB_IMPL_H_
