// Copyright (c) Lightning authors. MIT License.
//
// Iterator: an ordered cursor over a database's live keys, merging the
// memtables, the SSTable levels and the B+Tree; it shows each key's newest
// value as of the moment it was created (its implicit snapshot) and hides
// deleted keys. Obtain one from Database::new_iterator().
//
// Positioning: seek_to_first(), seek_to_last(), seek(target) (first key >=
// target), seek_for_prev(target) (last key <= target). next()/prev() require
// valid(); the direction may change at any point.
//
// Lifetime: key() and value() stay valid until the iterator is moved or
// destroyed. The iterator pins what it reads (the memtables and the version
// of tables and tree it started with): tables it pins are not deleted and
// tree pages it pins are not reused until it is destroyed, so long-lived
// iterators hold disk space. It must be destroyed before its Database.
//
// Errors: a damaged block or page, or an I/O error, makes the iterator
// !valid() with status() saying why; it never yields damaged data.
// Thread-safety: one thread at a time per iterator; any number of iterators
// may be used concurrently with each other and with writes.
#ifndef LIGHTNING_ITERATOR_H_
#define LIGHTNING_ITERATOR_H_

#include "lightning/export.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class LIGHTNING_EXPORT Iterator {
 public:
  Iterator() = default;
  virtual ~Iterator();
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;

  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  virtual void seek(const Slice& target) = 0;
  virtual void seek_for_prev(const Slice& target) = 0;
  virtual void next() = 0;  // REQUIRES: valid()
  virtual void prev() = 0;  // REQUIRES: valid()
  virtual Slice key() const = 0;    // REQUIRES: valid()
  virtual Slice value() const = 0;  // REQUIRES: valid()
  virtual Status status() const = 0;
};

}  // namespace lightning

#endif  // LIGHTNING_ITERATOR_H_
