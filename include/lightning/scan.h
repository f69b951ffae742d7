// Copyright (c) Lightning authors. MIT License.
//
// Scan: a bounded, optionally reversed and limited walk over a database's
// keys, usable in a range-for loop:
//
//   lightning::Scan scan = db->scan("user:", "user;");
//   for (const auto& [key, value] : scan) { ... }
//   if (!scan.status().ok()) { ... the walk stopped early on an error ... }
//
// Obtain one from Database::scan(), scan_prefix() or scan_reverse(). It reads
// a consistent view: the database as of its creation, or as of
// ReadOptions::snapshot.
//
// Bounds use the database's comparator: start is inclusive, end exclusive,
// either may be absent. A prefix (bytes) keeps only keys that begin with it.
// In the default bytewise order those keys are adjacent and the scan reads
// only them; under another comparator they may be scattered, so the scan
// walks the whole [start, end) range and skips the others (correct, but it
// reads the range).
//
// Lifetime: key and value slices of an entry stay valid until the scan
// advances or is destroyed. A Scan pins what it reads like an Iterator
// (iterator.h) and must be destroyed before its Database. Errors: iteration
// stops at a damaged block or an I/O error and status() says why; an error
// is never presented as an entry.
// Thread-safety: one thread at a time per Scan.
#ifndef LIGHTNING_SCAN_H_
#define LIGHTNING_SCAN_H_

#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <string>

#include "lightning/export.h"
#include "lightning/iterator.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class Comparator;

struct ScanOptions {
  std::optional<std::string> start;  // smallest key included; none: from the first key
  std::optional<std::string> end;    // first key excluded; none: through the last key
  std::string prefix;                // only keys beginning with these bytes; empty: all
  bool reverse = false;              // descending order (from the end towards start)
  size_t limit = 0;                  // stop after this many entries; 0: no limit
};

class LIGHTNING_EXPORT Scan {
 public:
  struct Entry {
    Slice key;
    Slice value;
  };

  // An input iterator: one pass, advancing it advances the Scan.
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Entry;
    using difference_type = std::ptrdiff_t;
    using pointer = const Entry*;
    using reference = const Entry&;

    iterator() = default;
    reference operator*() const { return scan_->entry_; }
    pointer operator->() const { return &scan_->entry_; }
    iterator& operator++() {
      scan_->advance();
      if (!scan_->valid_) scan_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& other) const { return scan_ == other.scan_; }
    bool operator!=(const iterator& other) const { return scan_ != other.scan_; }

   private:
    friend class Scan;
    explicit iterator(Scan* scan) : scan_(scan) {}
    Scan* scan_ = nullptr;  // null: the end
  };

  // Builds a scan over it (positioned by the first begin()/next()). cmp is
  // the order of it's keys. Database::scan() is the usual way to get one.
  Scan(std::unique_ptr<Iterator> it, const Comparator* cmp, ScanOptions options);
  ~Scan();
  Scan(Scan&&) noexcept;
  Scan& operator=(Scan&&) noexcept;

  // Positions the scan at its first entry on the first call; later calls
  // return the current position (a Scan is walked once).
  iterator begin();
  iterator end() { return iterator(); }

  // The explicit form: moves to the next entry (the first on the first
  // call) and returns whether there is one; *entry is then valid until the
  // next call.
  bool next(Entry* entry);

  // OK, or the error that ended the walk early.
  Status status() const;

 private:
  void position();
  void advance();
  // Checks the current position against the bounds, the prefix and the
  // limit, and publishes it as entry_ (or ends the scan).
  void settle();

  std::unique_ptr<Iterator> it_;
  const Comparator* cmp_ = nullptr;
  ScanOptions options_;
  bool prefix_is_range_ = false;  // bytewise order: a prefix's keys are adjacent
  bool started_ = false;
  bool valid_ = false;
  size_t count_ = 0;
  Entry entry_;
};

}  // namespace lightning

#endif  // LIGHTNING_SCAN_H_
