// Copyright (c) Lightning authors. MIT License.
//
// PrefixExtractor: maps a key to the prefix that groups it with its
// neighbours (e.g. the table name "user:" of "user:42"). Set as
// Options::prefix_extractor, it makes every SSTable's bloom filter also hold
// the prefixes of the table's keys, so that Database::scan_prefix(p) skips
// the tables that certainly hold no key beginning with p, instead of reading
// a block of each.
//
// Contract (the filters are only correct if it holds): for every key k with
// in_domain(k), p = transform(k) is a prefix of k, and every key that begins
// with p is in the domain and transforms to p. A fixed-length prefix
// satisfies it (NewFixedPrefixExtractor). scan_prefix(p) consults the filters
// only when in_domain(p) and transform(p) == p; other prefixes scan without
// them (always correct, just not accelerated).
//
// The name is stored in every table written with the extractor; a table
// written with another extractor (or none) is never skipped, so the
// extractor may change between opens of a database.
//
// Thread-safety: implementations must be callable from many threads at once.
// Lifetime: must outlive every Database opened with it.
#ifndef LIGHTNING_PREFIX_EXTRACTOR_H_
#define LIGHTNING_PREFIX_EXTRACTOR_H_

#include <cstddef>
#include <memory>

#include "lightning/export.h"
#include "lightning/slice.h"

namespace lightning {

class LIGHTNING_EXPORT PrefixExtractor {
 public:
  virtual ~PrefixExtractor();

  // A stable identifier, stored in the tables, e.g. "myapp.TablePrefix.v1".
  virtual const char* name() const = 0;
  // Whether key has a prefix under this extractor.
  virtual bool in_domain(const Slice& key) const = 0;
  // key's prefix: a leading part of key. REQUIRES: in_domain(key).
  virtual Slice transform(const Slice& key) const = 0;
};

// The first `length` bytes of a key (keys shorter than that have no prefix).
// Its name is "lightning.FixedPrefix.<length>".
LIGHTNING_EXPORT std::unique_ptr<PrefixExtractor> NewFixedPrefixExtractor(size_t length);

}  // namespace lightning

#endif  // LIGHTNING_PREFIX_EXTRACTOR_H_
