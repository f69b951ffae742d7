// Copyright (c) Lightning authors. MIT License.
//
// DBIter: the public Iterator (lightning/iterator.h) of a database. It reads
// one internal MergingIterator over every source of the database, newest
// first:
//
//   the active memtable, the immutable memtables (newest first), each level-0
//   table (newest first), one concatenating iterator per level 1..6 (opening
//   its tables lazily through the TableCache), and the B+Tree
//
// (empty memtables and an empty tree are left out: they hold nothing at or
// below the snapshot; a single remaining source is read without a merge)
// and turns that stream of internal keys (every version of every key) into
// the user's view as of one sequence number S, fixed at creation: entries
// with a sequence above S are skipped, of each user key only the newest
// version at or below S counts, and a key whose newest version is a
// tombstone is hidden. key() is the user key.
//
// Positions (the LevelDB scheme):
//   forward  (after seek, seek_to_first, next): the internal iterator is at
//            the entry yielded, the newest visible version of key(); key()
//            and value() point into it.
//   reverse  (after seek_for_prev, seek_to_last, prev): the internal
//            iterator is just before every entry of key() (or exhausted);
//            key() is a copy, and so is value() unless the internal
//            iterator pinned it (InternalIterator::value_pinned(): a value
//            in a B+Tree page read in place through the mapping, which the
//            pinned TreeVersion keeps), when value() points at it.
// A change of direction walks the internal iterator over the entries of the
// current key once.
//
// Pinning: the DBIter holds shared_ptrs to the memtables and to the Version
// it was created with. The memtables' arenas stay alive (their iterators also
// pin them); the Version keeps its FileMetaData alive, so none of its tables
// is deleted (DBImpl::delete_obsolete_files deletes a table only once the
// obsolete list holds its last reference), and its TreeVersion, which keeps
// the tree pages of that commit from being reused. Later flushes, compactions
// and tree merges therefore never change what the iterator reads, and every
// entry at or below S is in one of its sources (the DB takes S and the sources
// under one lock). Table iterators additionally pin their open tables in the
// TableCache.
//
// Errors: a child that stops on an error (damage, I/O) stops the merged
// iterator (MergingIterator never goes on without a child), and a malformed
// internal key is Corruption: either way the DBIter becomes !valid() and
// status() says why. A later seek*() starts afresh. An exception (out of
// memory) inside a method is caught and becomes an IOError status.
//
// Lifetime: icmp and the TableCache (and the tree's pager, reached through
// the TreeVersion) belong to the database: the DBIter must be destroyed
// before the database is.
// Thread-safety: one thread at a time per DBIter.
#ifndef LIGHTNING_DB_DB_ITER_H_
#define LIGHTNING_DB_DB_ITER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "db/dbformat.h"
#include "lightning/iterator.h"
#include "lightning/status.h"

namespace lightning {

class InternalIterator;
class MemTable;
class TableCache;
class Version;

// What a DBIter reads, taken together under the database mutex.
struct DBIterSources {
  std::shared_ptr<MemTable> mem;                 // the active memtable
  std::vector<std::shared_ptr<MemTable>> imms;  // immutable memtables, newest first
  std::shared_ptr<const Version> version;        // tables and tree
  SequenceNumber sequence = 0;                   // the snapshot: the last published sequence
  // Every entry with this sequence or later is in mem or imms (older ones
  // may be too).
  SequenceNumber memtables_first_sequence = 0;
  // Non-empty: the iterator will only be used for keys beginning with
  // prefix (a Scan over them stops at the first other key), so SSTables whose
  // prefix filter excludes it are left out (TableCache::new_prefix_iterator,
  // counting them in *prefix_skips). Keys outside the prefix may then show
  // wrongly (a tombstone in a skipped table is missed): never use such an
  // iterator beyond the prefix.
  std::string prefix;
  std::atomic<uint64_t>* prefix_skips = nullptr;
};

// The merged stream of internal keys (every version) of sources, newest
// source first; without include_tables only the memtables. Borrows sources'
// memtables and Version, which must outlive it. May throw std::bad_alloc.
std::unique_ptr<InternalIterator> NewInternalIterator(const InternalKeyComparator* icmp, TableCache* tables,
                                                      const DBIterSources& sources, bool include_tables);

// A DBIter over sources. icmp and tables must outlive it. May throw
// std::bad_alloc (the caller turns that into a Status).
std::unique_ptr<Iterator> NewDBIterator(const InternalKeyComparator* icmp, TableCache* tables,
                                        DBIterSources sources);

// The DBIter logic alone, over any stream of internal keys (ordered by the
// internal key comparator of user_cmp) read at sequence: for tests, and for
// callers that build and pin the sources themselves.
std::unique_ptr<Iterator> NewDBIterator(const Comparator* user_cmp, SequenceNumber sequence,
                                        std::unique_ptr<InternalIterator> internal);

// An iterator over nothing whose status() is s (e.g. Closed).
std::unique_ptr<Iterator> NewErrorIterator(Status s);

}  // namespace lightning

#endif  // LIGHTNING_DB_DB_ITER_H_
