// Copyright (c) Lightning authors. MIT License.
//
// Comparator: the total order of user keys. The default orders keys as
// unsigned bytes (memcmp order, shorter first on a tie).
//
// A database remembers the name() of the comparator it was created with and
// refuses to open with a comparator of another name, because the data on disk
// is sorted by it. Change the name whenever the order changes.
//
// Thread-safety: implementations must be safe to call from many threads at
// once (they are called concurrently by readers, writers and compaction).
// Lifetime: the comparator must outlive every Database opened with it.
#ifndef LIGHTNING_COMPARATOR_H_
#define LIGHTNING_COMPARATOR_H_

#include <string>

#include "lightning/export.h"
#include "lightning/slice.h"

namespace lightning {

class LIGHTNING_EXPORT Comparator {
 public:
  virtual ~Comparator();

  // <0 if a < b, 0 if a == b, >0 if a > b. Must be a strict total order.
  virtual int compare(const Slice& a, const Slice& b) const = 0;

  // A stable identifier stored in the database, e.g. "myapp.NumericComparator.v1".
  virtual const char* name() const = 0;

  // Optional space savers used when building index entries. If *start < limit,
  // may change *start to a shorter string in [*start, limit). The default
  // leaves *start unchanged, which is always correct.
  virtual void find_shortest_separator(std::string* start, const Slice& limit) const;

  // Optional: may change *key to a shorter string >= *key. Default: unchanged.
  virtual void find_short_successor(std::string* key) const;
};

// The default comparator: lexicographic order of unsigned bytes. Its name is
// "lightning.BytewiseComparator". The returned object lives forever.
LIGHTNING_EXPORT const Comparator* BytewiseComparator();

}  // namespace lightning

#endif  // LIGHTNING_COMPARATOR_H_
