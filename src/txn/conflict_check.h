// Copyright (c) Lightning authors. MIT License.
//
// ConflictCheck: what optimistic validation of a transaction must prove at
// commit: that no write committed after the transaction's snapshot touched
// any of its keys (its writes; under serializable isolation also its reads)
// or any key inside a range it scanned (serializable).
//
// The check runs in the write leader just before the transaction's batch is
// numbered and logged (DBImpl::write_impl), so every commit numbered before
// it is already in the memtables and tables it reads, and nothing can be
// numbered between the check and the write. Batches earlier in the same
// write group are not in the memtable yet; the leader checks those against
// the keys of the group's earlier batches itself (GroupConflicts).
//
// Thread-safety: plain values and free functions; CheckConflicts reads
// pinned sources and may run beside flushes and compactions.
#ifndef LIGHTNING_TXN_CONFLICT_CHECK_H_
#define LIGHTNING_TXN_CONFLICT_CHECK_H_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "db/db_iter.h"
#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/status.h"
#include "txn/write_set_iterator.h"

namespace lightning {

class TableCache;
class WriteBatch;

// A closed interval [lo, hi] of user keys; nullopt is unbounded.
struct ReadRange {
  std::optional<std::string> lo;
  std::optional<std::string> hi;
};

struct ConflictCheck {
  SequenceNumber snapshot = 0;    // writes above this conflict
  std::vector<std::string> keys;  // keys that must not have been written since
  std::vector<ReadRange> ranges;  // ranges no key of which may have been written since
};

// User keys ordered by the user comparator.
using UserKeySet = std::set<std::string, WriteSetLess>;

// Conflict if some entry of sources (all versions, every tier) with a
// sequence above check.snapshot has a key in check.keys or check.ranges; OK
// if none; the read error otherwise. Reads only the memtables when they hold
// every write after the snapshot (sources.memtables_first_sequence).
Status CheckConflicts(const ConflictCheck& check, const InternalKeyComparator& icmp, TableCache* tables,
                      const DBIterSources& sources);

// Conflict if a key of `written` (the keys of batches ahead in the same
// write group) is in check.keys or check.ranges.
Status GroupConflicts(const ConflictCheck& check, const Comparator* ucmp, const UserKeySet& written);

// Adds the keys batch writes to *written.
Status AddBatchKeys(const WriteBatch& batch, UserKeySet* written);

}  // namespace lightning

#endif  // LIGHTNING_TXN_CONFLICT_CHECK_H_
