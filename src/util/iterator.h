// Copyright (c) Lightning authors. MIT License.
//
// InternalIterator: the cursor every internal sorted source implements
// (memtable, SSTable block, SSTable, B+Tree, merging iterator). Keys are
// whatever the source stores (internal keys for memtables and tables).
//
// key() and value() stay valid until the iterator is moved or destroyed.
// Errors: a source that hits corruption or an I/O error becomes !valid() and
// reports it through status(); it never yields damaged data.
// Thread-safety: one thread at a time per iterator.
#ifndef LIGHTNING_UTIL_ITERATOR_H_
#define LIGHTNING_UTIL_ITERATOR_H_

#include <memory>

#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class InternalIterator {
 public:
  InternalIterator() = default;
  virtual ~InternalIterator() = default;
  InternalIterator(const InternalIterator&) = delete;
  InternalIterator& operator=(const InternalIterator&) = delete;

  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  // Positions at the first entry with key >= target.
  virtual void seek(const Slice& target) = 0;
  // Positions at the last entry with key <= target.
  virtual void seek_for_prev(const Slice& target) = 0;
  virtual void next() = 0;  // REQUIRES: valid()
  virtual void prev() = 0;  // REQUIRES: valid()
  virtual Slice key() const = 0;    // REQUIRES: valid()
  virtual Slice value() const = 0;  // REQUIRES: valid()
  // True if the bytes of value() stay valid and unchanged after the iterator
  // moves, until it is destroyed (e.g. a value in a mapped B+Tree page the
  // iterator keeps mapped), so a caller may keep the Slice instead of a
  // copy. Default: false. REQUIRES: valid()
  virtual bool value_pinned() const { return false; }
  virtual Status status() const = 0;

  // next() (prev()) and, when the iterator is still valid(), its key() and
  // value() in *key and *value, in one call: true then, false at the end or
  // on an error (status() says which; *key and *value are unchanged). The
  // scans' per-entry step: one virtual call instead of four. Iterators on
  // the hot paths override these with their step inlined; the result must
  // equal the default's. REQUIRES: valid()
  virtual bool next_entry(Slice* key, Slice* value) {
    next();
    return current_entry(key, value);
  }
  virtual bool prev_entry(Slice* key, Slice* value) {
    prev();
    return current_entry(key, value);
  }

 protected:
  bool current_entry(Slice* key, Slice* value) const {
    if (!valid()) return false;
    *key = this->key();
    *value = this->value();
    return true;
  }
};

// The base of a final iterator on a scan's hot path: next_entry() and
// prev_entry() are its own next()/prev() and entry() (the current key and
// value as current_entry() gives them) called directly, so the compiler can
// inline the step. Derived befriends this class if entry() is private.
template <class Derived>
class InlineEntryIterator : public InternalIterator {
 public:
  bool next_entry(Slice* key, Slice* value) final {
    Derived* self = static_cast<Derived*>(this);
    self->Derived::next();
    return self->entry(key, value);
  }
  bool prev_entry(Slice* key, Slice* value) final {
    Derived* self = static_cast<Derived*>(this);
    self->Derived::prev();
    return self->entry(key, value);
  }
};

// An iterator over nothing, carrying status s (OK for plainly empty).
std::unique_ptr<InternalIterator> NewEmptyIterator(Status s = Status::OK());

}  // namespace lightning

#endif  // LIGHTNING_UTIL_ITERATOR_H_
