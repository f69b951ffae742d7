// Copyright (c) Lightning authors. MIT License.
//
// Concatenating ("level") iterator: the entries of a run of disjoint, sorted
// files, one after the other, in both directions, opening each file only when
// the iteration reaches it.
//
// files[i] gives the smallest and largest key of file i in cmp order. The
// ranges must be sorted and must not overlap (files[i].largest <
// files[i + 1].smallest), and every key of file i must lie in its range; the
// ranges are trusted, not checked against the contents (debug builds assert
// that they are sorted). A file may hold no entry at all; it is skipped.
//
// open_file(i) returns an iterator over file i. It is called lazily: seek()
// opens the first file whose largest key is >= the target, seek_for_prev()
// the last file whose smallest key is <= the target, next()/prev() the
// neighbouring file once the current one is exhausted. At most one file
// iterator is open at a time (the previous one is destroyed before the next
// is opened), and a seek that lands in the file already open reuses it.
//
// Errors: if open_file(i) returns an iterator whose status is not OK (the
// file could not be opened), or a file iterator stops on an error, the
// concatenating iterator becomes !valid() and status() reports the error; the
// files after it are not reached, so nothing is silently skipped. The next
// seek*() starts afresh.
//
// Thread-safety: one thread at a time. open_file is only called from the
// thread using the iterator.
// Lifetime: cmp, and whatever open_file refers to, must outlive the iterator.
#ifndef LIGHTNING_UTIL_CONCATENATING_ITERATOR_H_
#define LIGHTNING_UTIL_CONCATENATING_ITERATOR_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lightning/comparator.h"
#include "util/iterator.h"

namespace lightning {

// The key range of one file: its first and last key, both inclusive.
struct FileRange {
  std::string smallest;
  std::string largest;
};

// Opens file index (an index into the files vector). Must not return null.
using FileIteratorFactory = std::function<std::unique_ptr<InternalIterator>(size_t index)>;

std::unique_ptr<InternalIterator> NewConcatenatingIterator(const Comparator* cmp, std::vector<FileRange> files,
                                                           FileIteratorFactory open_file);

}  // namespace lightning

#endif  // LIGHTNING_UTIL_CONCATENATING_ITERATOR_H_
