// Copyright (c) Lightning authors. MIT License.
//
// WriteSetIterator: the Iterator a transaction shows its user. It merges the
// database's view at the transaction's snapshot (the base iterator) with the
// transaction's own uncommitted writes (the write set), in the order of the
// user comparator:
//
//   - a key in both shows the write set's value (the transaction's newest);
//   - a write-set removal hides the base key, and is itself never shown;
//   - everything else shows as it is in whichever side holds it.
//
// It is bidirectional; the direction may change at any point.
//
// Positions: the iterator's position is its current key (a copy, key_).
//   forward  (after seek, seek_to_first, next): the base is at the first base
//            key >= key(), or at its end;
//   reverse  (after seek_for_prev, seek_to_last, prev): the base is at the
//            last base key <= key(), or before its front.
// The write-set side holds no position between calls: every move looks up
// key() in the write set again (one O(log n) map search per move). That is
// what makes write-set changes between calls safe (below).
//
// Contract:
//
//   Lifetime: the iterator owns base. cmp, writes and observer must outlive
//   it. writes must be ordered by cmp (WriteSetLess with the same order).
//   key() and value() stay valid and unchanged until the next move (any
//   seek*, next or prev) or the destruction of the iterator, even if the
//   write set changes meanwhile: key() is always a copy, and a value that
//   comes from the write set is a copy too (a value from the base points
//   into the base iterator, which only moves when this iterator moves).
//
//   Write-set changes: the transaction may put, remove, or even erase
//   entries of the write set between calls (never during one). The iterator
//   is not invalidated: each call reads the write set as it is at that call.
//   A seek positions as usual; next() moves to the first key > key() of the
//   merged view as it is now, prev() to the last key < key(), whether or not
//   key() itself is still visible (valid() and key()/value() keep describing
//   the entry shown by the last move until the next move).
//
//   Errors: status() is the base iterator's error (or the iterator's own:
//   an exception thrown inside a call, e.g. out of memory or by the
//   observer, becomes an IOError; no exception escapes). When the base stops
//   on an error the iterator becomes !valid() at once, without showing any
//   further entry of either side (what the base would have shown there is
//   unknown). A later seek*() starts afresh.
//
//   Read-range observation (serializable validation, phantom protection):
//   with an observer, every move reports, before it returns, the closed
//   interval of the base key space it depended on, in comparator order:
//
//     seek(t)           [t, K]        or [t, +inf) if it found nothing
//     seek_for_prev(t)  [K, t]        or (-inf, t]
//     seek_to_first()   (-inf, K]     or (-inf, +inf)
//     seek_to_last()    [K, +inf)     or (-inf, +inf)
//     next() from K0    [K0, K]       or [K0, +inf)
//     prev() from K0    [K, K0]       or (-inf, K0]
//
//   where K is the key the move landed on (nullopt = unbounded). A move
//   that stops on a base error reports as if it had reached the end in its
//   direction (a superset). The reports of one run of moves chain (each
//   starts or ends at the previous one's landing key), so an observer can
//   coalesce them into one interval per run. Because reports are made per
//   move, a transaction may validate while its iterators are still alive:
//   everything its user has seen so far has been reported. The destructor
//   reports nothing more. If the observer throws, the move ends !valid()
//   with an IOError status (nothing unreported is ever shown).
//
// Thread-safety: one thread at a time per iterator, and the write set must
// not be changed concurrently with a call.
#ifndef LIGHTNING_TXN_WRITE_SET_ITERATOR_H_
#define LIGHTNING_TXN_WRITE_SET_ITERATOR_H_

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "lightning/comparator.h"
#include "lightning/iterator.h"

namespace lightning {

// Orders write-set keys by the user comparator.
struct WriteSetLess {
  const Comparator* cmp;
  bool operator()(const std::string& a, const std::string& b) const { return cmp->compare(a, b) < 0; }
};

// The transaction's pending writes: key -> value, or std::nullopt for a
// removal. Ordered by the user comparator.
using WriteSet = std::map<std::string, std::optional<std::string>, WriteSetLess>;

// Observes the key ranges an iterator's user has read (for serializable
// validation). Called by the iterator (see the contract above).
class ReadRangeObserver {
 public:
  virtual ~ReadRangeObserver();
  // The closed interval [lo, hi] of the base (lo <= hi under the user
  // comparator); nullopt = unbounded on that side.
  virtual void on_range_read(const std::optional<std::string>& lo, const std::optional<std::string>& hi) = 0;
};

// The merged iterator over base (owned) and *writes. observer may be null.
// May throw std::bad_alloc (construction only).
std::unique_ptr<Iterator> NewWriteSetIterator(const Comparator* cmp, std::unique_ptr<Iterator> base,
                                              const WriteSet* writes, ReadRangeObserver* observer);

}  // namespace lightning

#endif  // LIGHTNING_TXN_WRITE_SET_ITERATOR_H_
