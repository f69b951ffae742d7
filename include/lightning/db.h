// Copyright (c) Lightning authors. MIT License.
//
// lightning::Database: an embedded, persistent, ordered key-value store.
//
// Keys and values are arbitrary byte strings (embedded NULs allowed). Keys are
// 1..kMaxKeySize bytes, values 0..kMaxValueSize bytes (options.h).
//
// Thread-safety: every method of a Database may be called concurrently from
// any number of threads, except that close() and the destructor must not race
// with other calls on the same object.
// Errors: no exception escapes; every fallible method returns Status or Result.
#ifndef LIGHTNING_DB_H_
#define LIGHTNING_DB_H_

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lightning/export.h"
#include "lightning/iterator.h"
#include "lightning/maintenance.h"
#include "lightning/options.h"
#include "lightning/scan.h"
#include "lightning/slice.h"
#include "lightning/snapshot.h"
#include "lightning/stats.h"
#include "lightning/status.h"
#include "lightning/subscription.h"
#include "lightning/transaction.h"
#include "lightning/write_batch.h"

namespace lightning {

class LIGHTNING_EXPORT Database {
 public:
  // Opens the database in directory `path`.
  // - If none exists there: creates it when options.create_if_missing (the
  //   default), else fails with NotFound.
  // - If one exists: fails with InvalidArgument when options.error_if_exists.
  // - Busy if another process (or another open Database in this process)
  //   holds it; InvalidArgument if path is not a directory; IOError if the
  //   directory cannot be created or written; Corruption if its files fail
  //   their checksums (see Options::wal_recovery_mode); InvalidArgument if it
  //   was created with a comparator of another name.
  // Recovery replays the write-ahead log before open() returns.
  static Result<std::unique_ptr<Database>> open(const std::string& path, const Options& options = Options());

  // Creates a new database in `path` (the directory may exist but must not
  // hold a database): open() with create_if_missing and error_if_exists set.
  static Result<std::unique_ptr<Database>> create(const std::string& path, const Options& options = Options());

  // Closes the database if close() was not called (errors are dropped; call
  // close() to see them).
  virtual ~Database();

  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Sets key to value. Durable as options.wal_sync_mode and write_options.sync
  // say. InvalidArgument for an empty or oversized key or an oversized value.
  // After a failed log write or fsync the database refuses all further writes
  // with the original error (reads keep working): reopen to recover.
  virtual Status put(const Slice& key, const Slice& value, const WriteOptions& write_options = WriteOptions()) = 0;

  // Removes key. Removing a missing key is not an error.
  virtual Status remove(const Slice& key, const WriteOptions& write_options = WriteOptions()) = 0;

  // Applies every operation of batch atomically: readers and recovery see
  // all of them or none. The batch is not modified. An empty batch is a no-op
  // (with sync, it still makes earlier writes durable).
  virtual Status write(const WriteBatch& batch, const WriteOptions& write_options = WriteOptions()) = 0;

  // Conveniences (the seed's put_batch / delete_batch /
  // put_with_consistency): one atomic batch of puts, one of removals, and a
  // put with a consistency level (options.h: kStrong fsynced, kQuorum in the
  // OS, kEventual buffered).
  Status put_batch(const std::vector<std::pair<std::string, std::string>>& entries,
                   const WriteOptions& write_options = WriteOptions());
  Status delete_batch(const std::vector<std::string>& keys, const WriteOptions& write_options = WriteOptions());
  Status put_with_consistency(const Slice& key, const Slice& value, ConsistencyLevel level);

  // Starts an optimistic transaction (transaction.h) reading a snapshot of
  // now. Busy when Options::max_active_transactions are already active;
  // Closed after close(). The transaction must be destroyed before the
  // Database.
  virtual Result<std::unique_ptr<Transaction>> begin_transaction(
      const TransactionOptions& options = TransactionOptions()) = 0;

  // Subscribes callback to the puts and removals committed from now on
  // (subscription.h: delivery model, ordering, overflow, what callbacks may
  // do). Only changes whose keys match options' prefix/range are delivered.
  // Destroying the returned handle unsubscribes. InvalidArgument for an empty
  // callback or bad options; Closed after close(). Safe to call from any
  // thread, callbacks included.
  virtual Result<std::unique_ptr<Subscription>> subscribe(ChangeCallback callback,
                                                          const SubscribeOptions& options = SubscribeOptions()) = 0;
  // The C form: fn(state, event) on the delivery thread; state is passed
  // through untouched and must stay valid until the subscription ends.
  // InvalidArgument if fn is null.
  Result<std::unique_ptr<Subscription>> subscribe(ChangeCallbackFn fn, void* state,
                                                  const SubscribeOptions& options = SubscribeOptions());

  // Reads the value of key into *value: the latest committed one, or the one
  // read_options.snapshot sees. NotFound if absent. InvalidArgument for a bad
  // key or a snapshot of another database.
  virtual Status get(const Slice& key, std::string* value, const ReadOptions& read_options = ReadOptions()) = 0;

  // Convenience form of get(): the value, or NotFound.
  Result<std::string> get(const Slice& key, const ReadOptions& read_options = ReadOptions());

  // Reads several keys at one point in time (the snapshot's, or one moment:
  // no write lands between two of the reads). Result i is keys[i]'s value,
  // NotFound, or the error reading it (an invalid key fails alone). If the
  // whole call fails (closed database, foreign snapshot) every result
  // carries that error; only when memory runs out may the vector be shorter
  // than keys.
  virtual std::vector<Result<std::string>> get_batch(const std::vector<Slice>& keys,
                                                     const ReadOptions& read_options = ReadOptions()) = 0;
  std::vector<Result<std::string>> get_batch(const std::vector<std::string>& keys,
                                             const ReadOptions& read_options = ReadOptions());

  // An iterator over the database as of now, or as of read_options.snapshot
  // (iterator.h). Never null: after close(), or given a snapshot of another
  // database, it is !valid() and status() says why.
  virtual std::unique_ptr<Iterator> new_iterator(const ReadOptions& read_options = ReadOptions()) = 0;

  // Takes a snapshot of the database as it is now (snapshot.h): reads given
  // it in ReadOptions::snapshot see exactly the writes acknowledged before
  // this call. Released when the last shared_ptr to it is dropped. Never
  // null (after close() it is a snapshot that reads refuse with Closed).
  virtual std::shared_ptr<const Snapshot> snapshot() = 0;

  // Scans (scan.h): range-for friendly walks over a key range, as of now or
  // as of read_options.snapshot. start is inclusive, end exclusive, either
  // may be std::nullopt; limit 0 means no limit. On errors (closed database,
  // foreign snapshot) the scan yields nothing and its status() says why.
  //   scan: ascending keys in [start, end).
  //   scan_reverse: the same keys, descending.
  //   scan_prefix: ascending keys that begin with prefix; with
  //     Options::prefix_extractor set, tables whose bloom filter excludes the
  //     prefix are skipped unread.
  //   new_scan: the general form (ScanOptions combines all of the above).
  Scan scan(std::optional<Slice> start, std::optional<Slice> end, size_t limit = 0,
            const ReadOptions& read_options = ReadOptions());
  Scan scan_reverse(std::optional<Slice> start, std::optional<Slice> end, size_t limit = 0,
                    const ReadOptions& read_options = ReadOptions());
  Scan scan_prefix(const Slice& prefix, size_t limit = 0, const ReadOptions& read_options = ReadOptions());
  virtual Scan new_scan(const ScanOptions& scan_options, const ReadOptions& read_options = ReadOptions()) = 0;

  // Writes out buffered log records and fsyncs the log: after it returns OK,
  // every write acknowledged before the call survives power loss.
  virtual Status sync_wal() = 0;

  // Writes the current memtable out to a level-0 SSTable and waits until it
  // (and every memtable before it) is in a table and recorded in the
  // manifest, so its log can be retired. OK at once if the memtable is empty.
  // Returns the background error if a flush failed.
  virtual Status flush() = 0;

  // Flushes, then merges every SSTable level into the next non-empty one and
  // the last into the B+Tree (one table per tree commit), until all data is
  // in the tree, dropping overwritten versions and tombstones. Waits for the result; runs beside
  // background compactions (waiting for any whose tables it needs).
  virtual Status compact() = 0;

  // Writes a consistent, openable copy of the database as of this call into
  // directory `dir` (which must not exist, or be empty; InvalidArgument
  // otherwise), while readers and writers go on. Every write acknowledged
  // before the call is in the copy (the memtable is flushed first); later
  // ones may or may not be. SSTables are hard-linked when the Env can (same
  // filesystem), else copied; the tree is copied as of one commit, which is
  // kept from being reused or overwritten meanwhile; every file and the
  // directory are fsynced before OK. On failure the partial copy is removed.
  // Open the copy with the same comparator. Closed after close().
  virtual Status checkpoint(const std::string& dir) = 0;

  // Reads every byte of every live file of the open database -- the
  // MANIFEST, the live logs, every block of every SSTable of the current
  // version and every page of its tree commit -- bypassing the caches, and
  // checks checksums and structure (see VerifyDatabase in maintenance.h).
  // Corruption names the file and offset or page. Runs beside readers and
  // writers. `report` may be null. Closed after close().
  virtual Status verify(VerifyReport* report = nullptr) = 0;

  // Counters and gauges (stats.h). Cheap; safe to call often.
  virtual DatabaseStats stats() = 0;

  // Writes the memtable to a table (so the next open has no log to replay;
  // if that fails the log still holds the data), syncs the log, stops
  // background work and releases the lock. A compaction in progress is
  // abandoned (its partial output is deleted; the inputs stay).
  // Subscriptions first receive every event already queued for them, then
  // end (status Closed); close() from a subscription callback is refused
  // with InvalidArgument.
  // Afterwards every method returns Closed. Calling close() again is OK.
  virtual Status close() = 0;

 protected:
  Database() = default;
};

}  // namespace lightning

#endif  // LIGHTNING_DB_H_
