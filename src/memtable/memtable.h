// Copyright (c) Lightning authors. MIT License.
//
// MemTable: the in-memory, sorted buffer of recent writes. Every version of
// every key written (values and deletion markers) is kept, ordered by
// internal key, until the whole memtable is flushed and dropped.
//
// Key filter: optionally (filter_bytes > 0) a blocked bloom filter over the
// user keys added (values and deletions alike), sized once at construction,
// so that get() skips the skiplist search -- a chain of cache misses -- for
// most keys the memtable does not hold. Every probe of a key falls in one
// 64-byte line. A key whose add() finished before a get() began always
// passes the filter; the filter never changes answers, only their cost.
//
// Entry format (one arena allocation per entry, never moved or freed):
//   varint32(internal_key_len) | user_key | fixed64(seq << 8 | type)
//   | varint32(value_len) | value
//
// Thread-safety:
//   * add() needs external synchronisation: one writer at a time (the DB's
//     write path serialises writers).
//   * get(), new_iterator() and the iterators they return, and the size
//     accessors are lock-free and safe concurrently with each other and with
//     the writer. A reader sees every entry whose add() finished before the
//     read began; entries added concurrently may or may not be seen, so
//     readers filter by sequence number for a consistent snapshot.
// Lifetime: a memtable is shared by the writer, readers and the flush job
// through std::shared_ptr<MemTable>; whoever reads holds a shared_ptr for the
// duration of the read. An iterator from new_iterator() additionally holds a
// reference to the memtable itself when the memtable is owned by a
// std::shared_ptr (the normal case), so it may outlive the caller's pointer;
// for a memtable not owned by a shared_ptr (e.g. on the stack in a test) the
// caller must keep the memtable alive for as long as the iterator exists.
// The user comparator inside cmp must outlive the memtable.
#ifndef LIGHTNING_MEMTABLE_MEMTABLE_H_
#define LIGHTNING_MEMTABLE_MEMTABLE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "db/dbformat.h"
#include "lightning/slice.h"
#include "lightning/status.h"
#include "memtable/arena.h"
#include "memtable/skiplist.h"
#include "util/iterator.h"

namespace lightning {

class MemTable : public std::enable_shared_from_this<MemTable> {
 public:
  // cmp is copied; its user comparator must outlive the memtable.
  // filter_bytes: size of the key filter (rounded down to whole 64-byte
  // lines); 0 for none.
  explicit MemTable(const InternalKeyComparator& cmp, size_t filter_bytes = 0);

  // The key filter size the database gives a memtable that is flushed at
  // memtable_size bytes: about 1/64 of it (1 MiB for the default 64 MiB),
  // ~20 bits per entry for entries of ~150 bytes.
  static size_t FilterBytesFor(size_t memtable_size) { return memtable_size / 64; }
  ~MemTable();
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Records user_key -> value at sequence number seq. For kTypeDeletion the
  // value is still stored but never returned; callers pass an empty one.
  // REQUIRES: one writer at a time; (user_key, seq) not already present;
  // user_key.size() + 8 and value.size() fit in 32 bits (the DB enforces far
  // smaller limits: kMaxKeySize, kMaxValueSize).
  void add(SequenceNumber seq, ValueType type, const Slice& user_key, const Slice& value);

  // Looks up the newest entry for key.user_key() with sequence <= the lookup
  // sequence. A value: copies it into *value, sets *s = OK, returns true. A
  // deletion: sets *s = NotFound, returns true. No such entry: returns false
  // and leaves *value and *s untouched (older data lives elsewhere).
  bool get(const LookupKey& key, std::string* value, Status* s) const;

  // An iterator over all entries in internal-key order. key() is the internal
  // key, value() the value; seek() and seek_for_prev() take internal keys.
  // Keeps working (never invalidated) while a writer adds concurrently.
  // Seek targets must be well-formed internal keys (at least 8 bytes).
  std::unique_ptr<InternalIterator> new_iterator() const;

  // Bytes of arena memory held plus the key filter; thread-safe, used to
  // decide when to flush.
  size_t approximate_memory_usage() const { return arena_.memory_usage() + filter_lines_ * kFilterLineBytes; }
  // Entries added (values and deletions); thread-safe.
  uint64_t num_entries() const { return num_entries_.load(std::memory_order_relaxed); }
  bool empty() const { return num_entries() == 0; }

 private:
  class Iterator;

  // Orders entries (pointers to varint32-prefixed internal keys) by internal
  // key.
  struct KeyComparator {
    InternalKeyComparator comparator;
    explicit KeyComparator(const InternalKeyComparator& c) : comparator(c) {}
    int operator()(const char* a, const char* b) const;
  };
  using Table = SkipList<const char*, KeyComparator>;

  static constexpr size_t kFilterLineBytes = 64;
  static constexpr size_t kFilterLineWords = kFilterLineBytes / sizeof(uint64_t);
  static constexpr int kFilterProbes = 6;

  // The filter line and the first bit probe for user_key.
  void filter_position(const Slice& user_key, size_t* line, uint32_t* probe) const;
  void filter_add(const Slice& user_key);
  bool filter_may_contain(const Slice& user_key) const;

  const KeyComparator comparator_;
  // filter_lines_ lines of kFilterLineWords words; set bits are never cleared.
  const size_t filter_lines_;
  std::unique_ptr<std::atomic<uint64_t>[]> filter_;
  Arena arena_;
  Table table_;
  std::atomic<uint64_t> num_entries_{0};
};

}  // namespace lightning

#endif  // LIGHTNING_MEMTABLE_MEMTABLE_H_
