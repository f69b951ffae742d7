// Copyright (c) Lightning authors. MIT License.
//
// BackupEngine: incremental backups of a live database into a backup root
// directory, and restores from them (docs/ARCHITECTURE.md, "Backups").
//
//   auto engine = BackupEngine::open("/backups/mydb");
//   Result<uint64_t> id = engine.value()->create_backup(*db);  // db keeps running
//   engine.value()->restore(id.value(), "/data/mydb-restored");
//
// A backup is one consistent point in time of the database (as a
// checkpoint: every write acknowledged before create_backup is in it).
// SSTables are immutable, so they are stored once under shared/ and shared by
// every backup that holds them: a new backup copies only the tables the root
// does not have yet. The tree file and the MANIFEST are copied whole for each
// backup. Every backup is described by a checksummed metadata file listing
// its files with their sizes and checksums, written (and fsynced) last: a
// backup interrupted by a crash has none, is never listed, and its debris is
// removed by the next open().
//
// Thread-safety: the methods of one BackupEngine may be called from several
// threads (they are serialized). Only one BackupEngine at a time may use a
// backup root: open() takes root/LOCK (Busy otherwise, also across
// processes). After close() every method returns Closed.
// Lifetime: the Env must outlive the engine; a Database passed to
// create_backup must stay open for the duration of the call.
#ifndef LIGHTNING_BACKUP_H_
#define LIGHTNING_BACKUP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lightning/db.h"
#include "lightning/export.h"
#include "lightning/env.h"
#include "lightning/status.h"

namespace lightning {

struct BackupInfo {
  uint64_t id = 0;             // 1, 2, ... in creation order; never reused by a root
  uint64_t timestamp = 0;      // seconds since the Unix epoch when it was made
  uint64_t size = 0;           // bytes of its files, shared ones included
  uint32_t file_count = 0;     // its files: tables, tree, MANIFEST
  uint64_t last_sequence = 0;  // the newest write it holds
};

class LIGHTNING_EXPORT BackupEngine {
 public:
  // Opens (creating if needed) the backup root. env: nullptr means
  // Env::Default(); it must be the Env the backed-up databases use. Removes
  // the debris of backups interrupted by a crash (files of a backup with no
  // metadata, unreferenced shared tables). Busy if another engine has the
  // root open; IOError if it cannot be created.
  static Result<std::unique_ptr<BackupEngine>> open(const std::string& backup_root, Env* env = nullptr);

  // Closes the engine if close() was not called.
  ~BackupEngine();
  BackupEngine(const BackupEngine&) = delete;
  BackupEngine& operator=(const BackupEngine&) = delete;

  // Backs up db (flushing its memtable first; readers and writers go on) and
  // returns the new backup's id. InvalidArgument if db was opened on another
  // Env; Closed if db is closed; the database's error if its flush fails.
  // On failure nothing is listed and the partial files are removed.
  Result<uint64_t> create_backup(Database& db);

  // The valid backups, oldest first.
  Result<std::vector<BackupInfo>> list_backups();

  // Reads every file of backup id and checks its size and checksum, and the
  // metadata's own checksum. Corruption naming the file; NotFound for an
  // unknown id.
  Status verify_backup(uint64_t id);

  // Deletes backup id (its metadata first, so a crash midway never leaves a
  // listed but incomplete backup), then the shared tables no remaining
  // backup refers to. NotFound for an unknown id.
  Status delete_backup(uint64_t id);

  // Deletes the oldest backups until at most keep_n remain.
  Status purge_old_backups(size_t keep_n);

  // Restores backup id into db_dir, checking every file's checksum as it is
  // copied (Corruption, and nothing left behind that open() would accept, if
  // one fails). db_dir is created if missing. If it holds anything besides
  // an empty LOCK file, restore refuses with InvalidArgument unless
  // overwrite is true, in which case the database files found there (logs,
  // tables, MANIFEST, TREE) are deleted first; other entries are left. Busy
  // if a database is open in db_dir. The restored database opens and holds
  // exactly the backup's data.
  Status restore(uint64_t id, const std::string& db_dir, bool overwrite = false);

  // Releases the root's lock. Later calls return Closed; calling it again
  // is OK.
  Status close();

 private:
  class Impl;
  explicit BackupEngine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lightning

#endif  // LIGHTNING_BACKUP_H_
