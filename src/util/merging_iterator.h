// Copyright (c) Lightning authors. MIT License.
//
// Merging iterator: the sorted union of several InternalIterators (memtables,
// the files of level 0, one concatenating iterator per deeper level, the
// inputs of a compaction), in both directions.
//
// Order: the merged sequence is sorted by (key in cmp order, child index).
// On equal keys the child with the lower index comes first going forward and
// last going backward, so prev() retraces next() exactly. Callers pass the
// newest source first; internal keys never repeat across sources, so the tie
// rule only makes the order deterministic, it carries no meaning. Each child
// must itself be strictly increasing.
//
// Cost: with k children, next() and prev() cost O(log k) key comparisons
// (a binary heap ordered for the current direction). seek*() and the first
// next()/prev() after a change of direction reposition all k children.
//
// Errors: a child that is found !valid() with a non-OK status (on any seek or
// step) makes the merged iterator !valid(), and status() reports that error.
// The merged view never goes on without that child, which would silently
// hide its data. The next seek*() starts afresh. status() is the first error
// seen, else the first non-OK status among the children (in index order).
//
// Thread-safety: one thread at a time.
// Lifetime: the merged iterator owns the children; cmp must outlive it.
#ifndef LIGHTNING_UTIL_MERGING_ITERATOR_H_
#define LIGHTNING_UTIL_MERGING_ITERATOR_H_

#include <memory>
#include <vector>

#include "lightning/comparator.h"
#include "util/iterator.h"

namespace lightning {

// No children gives an empty iterator and one child is returned as is; no
// child may be null.
std::unique_ptr<InternalIterator> NewMergingIterator(const Comparator* cmp,
                                                     std::vector<std::unique_ptr<InternalIterator>> children);

}  // namespace lightning

#endif  // LIGHTNING_UTIL_MERGING_ITERATOR_H_
