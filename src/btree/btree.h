// Copyright (c) Lightning authors. MIT License.
//
// The B+Tree base tier: the bottom level of the database, holding internal
// keys (so snapshots work exactly as in the SSTable levels) in a
// copy-on-write page file (BTreePager).
//
// It is never updated key by key. Compaction hands merge() a sorted stream
// of internal keys (one or more SSTables of the level above); merge() walks
// the tree, and for every leaf whose key range receives input it merges the
// leaf's entries with that input and repacks the result into full new leaves
// (consecutive affected leaves are repacked together). The parents of
// replaced leaves are rebuilt the same way up to a new root, splitting nodes
// that overflow and dropping nodes left empty; the height shrinks when the
// root is left with one child. Untouched subtrees are shared with the old
// version. Since this is the bottom level, a tombstone deletes: it and every
// version it hides are dropped once no snapshot needs them. The new version
// is committed by the pager's meta-page flip.
//
// Thread-safety: TreeVersion is immutable and may be read by any number of
// threads; get() and iterators need only a TreeVersion. merge() calls are
// serialized by the caller.
#ifndef LIGHTNING_BTREE_BTREE_H_
#define LIGHTNING_BTREE_BTREE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "btree/pager.h"
#include "db/dbformat.h"
#include "util/iterator.h"

namespace lightning {
namespace btree {

// One committed tree, pinned (its pages are not reused) while referenced.
class TreeVersion {
 public:
  TreeVersion(BTreePager* pager, const InternalKeyComparator* icmp, const TreeMeta& meta,
              std::shared_ptr<const MappedRegion> map);
  ~TreeVersion();
  TreeVersion(const TreeVersion&) = delete;
  TreeVersion& operator=(const TreeVersion&) = delete;

  const TreeMeta& meta() const { return meta_; }
  bool empty() const { return meta_.height == 0; }
  // Bytes of pages holding the tree (leaves, internal nodes, blobs).
  uint64_t data_bytes() const {
    return (meta_.leaf_pages + meta_.internal_pages + meta_.blob_pages) * uint64_t{meta_.page_size};
  }
  uint64_t file_bytes() const { return meta_.num_pages * uint64_t{meta_.page_size}; }

  // Finds the first entry with internal key >= ikey and calls fn with it
  // (like Table::get); no call if there is none.
  Status get(const Slice& ikey, const std::function<void(const Slice& key, const Slice& value)>& fn) const;

  BTreePager* pager() const { return pager_; }
  const InternalKeyComparator* comparator() const { return icmp_; }
  const std::shared_ptr<const MappedRegion>& mapping() const { return map_; }

 private:
  BTreePager* const pager_;
  const InternalKeyComparator* const icmp_;
  const TreeMeta meta_;
  const std::shared_ptr<const MappedRegion> map_;
};

// An iterator over every entry of the version (internal keys), which it
// keeps alive.
std::unique_ptr<InternalIterator> NewTreeIterator(std::shared_ptr<const TreeVersion> version);

struct MergeSpec {
  // Versions newer than this are all kept; at or below it only the newest
  // version of a key is, and only if it is not a tombstone.
  SequenceNumber smallest_snapshot = kMaxSequenceNumber;
  // Checked between leaves: true aborts with Status::Aborted, nothing changed.
  const std::atomic<bool>* cancel = nullptr;
};

struct MergeStats {
  uint64_t input_entries = 0;
  uint64_t leaves_read = 0;     // existing leaves merged with input
  uint64_t entries_dropped = 0;  // shadowed versions and tombstones
  uint64_t pages_written = 0;
  uint64_t bytes_written = 0;  // including the free list and meta page
};

// Merges input (sorted internal keys; must be non-empty) into base, which
// must be the pager's committed version, and commits. *result is the new
// version; on error nothing is committed and base is unchanged.
Status MergeIntoTree(const std::shared_ptr<const TreeVersion>& base, InternalIterator* input,
                     const MergeSpec& spec, std::shared_ptr<const TreeVersion>* result, MergeStats* stats);

// Walks every page of the version, checking checksums, key order, separator
// bounds and the counters in the meta page. For verify and for tests.
Status CheckTree(const TreeVersion& version, uint64_t* entries = nullptr);

}  // namespace btree
}  // namespace lightning

#endif  // LIGHTNING_BTREE_BTREE_H_
