// Copyright (c) Lightning authors. MIT License.
//
// The engine's view of a WriteBatch: its encoded form is exactly the payload of
// one write-ahead log record.
#ifndef LIGHTNING_DB_WRITE_BATCH_INTERNAL_H_
#define LIGHTNING_DB_WRITE_BATCH_INTERNAL_H_

#include "db/dbformat.h"
#include "lightning/write_batch.h"

namespace lightning {

class MemTable;

class WriteBatchInternal {
 public:
  static constexpr size_t kHeaderSize = 4;

  static uint32_t count(const WriteBatch& b);
  static void set_count(WriteBatch* b, uint32_t n);

  static Slice contents(const WriteBatch& b) { return Slice(b.rep_); }
  static size_t byte_size(const WriteBatch& b) { return b.rep_.size(); }
  // Replaces b's contents with an encoded batch read from the log, after
  // checking that it parses. Corruption if it does not.
  static Status set_contents(WriteBatch* b, const Slice& contents);

  // Appends src's operations to dst.
  static void append(WriteBatch* dst, const WriteBatch& src);

  // Inserts the batch into mem, numbering its operations from first_sequence.
  static Status insert_into(const WriteBatch& b, SequenceNumber first_sequence, MemTable* mem);
};

// Checks the user-visible limits on a key (and value).
Status CheckKey(const Slice& key);
Status CheckKeyValue(const Slice& key, const Slice& value);

}  // namespace lightning

#endif  // LIGHTNING_DB_WRITE_BATCH_INTERNAL_H_
