// Copyright (c) Lightning authors. MIT License.
//
// Offline maintenance of a database directory: verification (every byte of
// every live file checked) and repair (salvaging what is intact after
// damage). The online forms are Database::verify() and Database::checkpoint()
// (db.h); backups are in backup.h.
//
// Thread-safety: VerifyDatabase and RepairDatabase take the database's LOCK
// (Busy while the database is open anywhere), so they never race with a
// Database on the same directory; distinct directories may be processed
// concurrently. Reports are plain values.
#ifndef LIGHTNING_MAINTENANCE_H_
#define LIGHTNING_MAINTENANCE_H_

#include <cstdint>
#include <string>
#include <vector>

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

// What a repair found and did.
struct RepairReport {
  // The MANIFEST was missing or failed its checks and was rebuilt from the
  // files found (every table found was then merged into the tree).
  bool manifest_rebuilt = false;
  uint64_t tables_kept = 0;      // verified intact, left as they are
  uint64_t tables_salvaged = 0;  // damaged: their intact blocks were rewritten into new tables
  uint64_t tables_dropped = 0;   // missing, or nothing of them readable
  bool tree_kept = false;        // the tree commit verified and is used as it is
  bool tree_rebuilt = false;     // damaged: its readable leaves were written into a fresh tree
  // Entries copied out of damaged tables and a damaged tree.
  uint64_t entries_salvaged = 0;
  // Entries known to be lost: what the MANIFEST or the tree's meta page
  // counted in a damaged file minus what was salvaged from it. Damage whose
  // size cannot be known (a lost MANIFEST, an unreadable meta page or table
  // index) adds nothing here; see `dropped`.
  uint64_t entries_lost = 0;
  uint64_t wal_records_kept = 0;     // intact records in live logs
  uint64_t wal_records_dropped = 0;  // intact records that did not fit (bad batch, sequence out of order)
  uint64_t files_moved_to_lost = 0;  // damaged originals copied (never deleted) into lost/
  // One line per thing dropped: which file, which block, page or offset, why.
  std::vector<std::string> dropped;
};

// Salvages the database in directory `path` after damage, offline, so that
// Database::open succeeds and VerifyDatabase passes afterwards:
//   - every live SSTable is verified; an intact one is kept; from a damaged
//     one the data blocks that pass their checksums are rewritten into a new
//     table at the same level (level 0: merged with the other level-0 tables
//     into one run, so that newest-first order by sequence number holds);
//   - the tree commit is kept if it verifies; otherwise the entries of every
//     leaf still reachable and intact (walking from the root, skipping
//     damaged internal pages' subtrees) are written, with their internal keys,
//     into a fresh tree;
//   - in every live log the intact records are kept (as
//     WalRecoveryMode::kSkipCorrupted recovery does) and the damage dropped;
//   - a missing or damaged MANIFEST is rebuilt from the files found: the
//     comparator from options, the next file number and last sequence from
//     the largest found, the newest intact tree commit, and every table
//     found merged into the tree (by sequence number, so the newest version
//     of a key wins wherever it was).
// Sequence numbers are kept, so where data survived the newest version of a
// key wins exactly as before. Keys in a damaged region are lost, and an
// older version of such a key that survived elsewhere becomes visible again
// (LevelDB's RepairDB has the same property); `report` lists every damaged
// region dropped. Damaged originals are copied into `path`/lost/ (never
// deleted) and leave the database only after the new MANIFEST is durable.
// Nothing damaged is ever returned as data. Repair of an intact database
// changes nothing. A crash or kill -9 during a repair loses nothing that was
// intact: run RepairDatabase again and it finishes the job (the database may
// refuse to open until then).
// Returns Busy if the database is open; NotFound if `path` holds no
// database files; InvalidArgument if it is not a directory or the MANIFEST
// names a comparator other than options'; NotSupported for a format this
// library cannot read; an I/O error from the Env. `report` may be null.
// Runs on the calling thread; distinct directories may be repaired
// concurrently.
LIGHTNING_EXPORT Status RepairDatabase(const std::string& path, const Options& options, RepairReport* report = nullptr);

}  // namespace lightning

#endif  // LIGHTNING_MAINTENANCE_H_
