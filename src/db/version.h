// Copyright (c) Lightning authors. MIT License.
//
// Version: one immutable arrangement of the SSTables into levels.
//
//   level 0      tables flushed from memtables; their key ranges may overlap;
//                ordered newest first (by file number, which grows with time)
//   levels 1..6  each a sorted run: tables ordered by key, ranges disjoint,
//                and no user key split across two tables of a level
//
//   the tree     below level 6: the B+Tree (btree/btree.h), one committed
//                TreeVersion, holding the bulk of the data
//
// For any user key, data in level 0 is newer than data in level 1, which is
// newer than level 2, and so on down to the tree; within level 0, a higher
// file number is newer. Reads stop at the first version found in that order.
//
// A Version is built once (VersionBuilder) and then shared read-only through
// std::shared_ptr<const Version>: readers take a reference under the
// database mutex and read without it. A table file is deleted only when no
// Version that lists it remains (see DBImpl::delete_obsolete_files).
#ifndef LIGHTNING_DB_VERSION_H_
#define LIGHTNING_DB_VERSION_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "btree/btree.h"
#include "db/dbformat.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class TableCache;

inline constexpr int kNumLevels = 7;

struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  uint64_t num_entries = 0;
  SequenceNumber largest_sequence = 0;  // of any entry in the table
  std::string smallest;  // internal keys
  std::string largest;
  // Set while a compaction has this table among its inputs. Guarded by the
  // database mutex (the only mutable field).
  bool being_compacted = false;
};

using FileList = std::vector<std::shared_ptr<FileMetaData>>;

class Version {
 public:
  explicit Version(const InternalKeyComparator* icmp) : icmp_(icmp) {}

  const FileList& files(int level) const { return files_[level]; }
  int num_files(int level) const { return static_cast<int>(files_[level].size()); }
  uint64_t level_bytes(int level) const;
  int num_tables() const;

  // The B+Tree under the levels (never null; possibly empty).
  const std::shared_ptr<const btree::TreeVersion>& tree() const { return tree_; }

  // Looks key up in the tables, level 0 newest first, then each level, then
  // the tree. A
  // value: *value set, OK, *found = true. A tombstone: NotFound, *found =
  // true. Nothing: *found = false. Errors (damage, I/O) are returned as is.
  Status get(TableCache* tables, const LookupKey& key, std::string* value, bool* found) const;

  // Tables of level whose user-key range intersects [begin, end] (an empty
  // Slice means unbounded on that side).
  FileList overlapping(int level, const Slice& begin, const Slice& end) const;
  // True if some table in a level deeper than `level`, or the tree, may hold
  // user_key. (Any non-empty tree counts: tombstones go down to it.)
  bool key_in_deeper_levels(int level, const Slice& user_key) const;

 private:
  friend class VersionBuilder;
  // Index of the first table of a sorted level whose largest key >= ikey.
  size_t find_file(int level, const Slice& ikey) const;

  const InternalKeyComparator* icmp_;
  std::array<FileList, kNumLevels> files_;
  std::shared_ptr<const btree::TreeVersion> tree_;
};

// Derives a new Version from a base: tables removed, tables added.
class VersionBuilder {
 public:
  VersionBuilder(const InternalKeyComparator* icmp, const Version* base);
  void remove(int level, uint64_t number);
  void add(int level, std::shared_ptr<FileMetaData> file);
  void set_tree(std::shared_ptr<const btree::TreeVersion> tree);
  // Corruption if the result breaks a level invariant (overlapping ranges in
  // a sorted level) — a bug or a damaged manifest, never silently accepted.
  Status finish(std::shared_ptr<const Version>* result);

 private:
  const InternalKeyComparator* icmp_;
  std::shared_ptr<Version> v_;
};

// The user-key range [smallest, largest] covered by a set of tables.
void KeyRange(const InternalKeyComparator& icmp, const FileList& files, std::string* smallest,
              std::string* largest);

}  // namespace lightning

#endif  // LIGHTNING_DB_VERSION_H_
