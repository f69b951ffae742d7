// Copyright (c) Lightning authors. MIT License.
//
// Offline maintenance of a database directory: verification (every byte of
// every live file checked). The online forms are Database::verify() and
// Database::checkpoint() (db.h); backups are in backup.h.
//
// Thread-safety: VerifyDatabase takes the database's LOCK
// (Busy while the database is open anywhere), so they never race with a
// Database on the same directory; distinct directories may be processed
// concurrently. Reports are plain values.
#ifndef LIGHTNING_MAINTENANCE_H_
#define LIGHTNING_MAINTENANCE_H_

#include <cstdint>
#include <string>

#include "lightning/export.h"
#include "lightning/options.h"
#include "lightning/status.h"

namespace lightning {

// What a verification read. All counts are of things found intact.
struct VerifyReport {
  uint64_t manifest_bytes = 0;
  uint64_t wal_files = 0;
  uint64_t wal_records = 0;
  uint64_t wal_bytes = 0;
  // Bytes at the end of a log that an interrupted append left (recovery
  // drops them; they were never acknowledged as synced). Not an error.
  uint64_t wal_torn_tail_bytes = 0;
  uint64_t table_files = 0;
  uint64_t table_entries = 0;
  uint64_t table_bytes = 0;
  uint64_t tree_epoch = 0;       // the tree commit checked (0: no tree)
  uint64_t tree_pages = 0;       // leaf, internal and blob pages reached from the root
  uint64_t tree_entries = 0;
  uint64_t tree_file_bytes = 0;  // the commit's logical file size
};

// Checks the database in directory `path` without opening it for writing:
// the MANIFEST (checksum, fields, level invariants, comparator name), every
// live write-ahead log record (checksums, batch format, increasing sequence
// numbers), every block of every live SSTable (checksums; keys sorted; the
// first and last key, entry count and largest sequence agree with the
// MANIFEST) and every page reachable from the tree commit the MANIFEST names
// (checksums, commit epochs, key order, separators, counters) and its free
// list. Returns the first problem as Corruption naming the file and the
// offset or page; NotSupported for an unknown format version; Busy if the
// database is open; NotFound if there is no database. `report` may be null.
// options supplies the Env and the comparator (it must be the one the
// database was created with).
LIGHTNING_EXPORT Status VerifyDatabase(const std::string& path, const Options& options, VerifyReport* report = nullptr);

}  // namespace lightning

#endif  // LIGHTNING_MAINTENANCE_H_
