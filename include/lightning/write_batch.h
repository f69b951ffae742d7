// Copyright (c) Lightning authors. MIT License.
//
// WriteBatch: a group of puts and removes applied atomically by
// Database::write(): after a crash, recovery sees all of a batch or none.
// Operations apply in the order they were added (a later put of the same key
// wins).
//
// Thread-safety: a batch is a plain value; mutate it from one thread at a time.
// The database does not keep a reference after write() returns.
#ifndef LIGHTNING_WRITE_BATCH_H_
#define LIGHTNING_WRITE_BATCH_H_

#include <cstdint>
#include <string>

#include "lightning/export.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

class LIGHTNING_EXPORT WriteBatch {
 public:
  WriteBatch();

  // Adds a put. InvalidArgument (and the batch unchanged) for an empty or
  // oversized key, an oversized value, or a batch that would exceed kMaxBatchSize.
  Status put(const Slice& key, const Slice& value);
  // Adds a removal, with the same key checks.
  Status remove(const Slice& key);
  // Empties the batch.
  void clear();

  // Number of operations in the batch.
  uint32_t count() const;
  // Bytes of the encoded batch (what the log record will carry).
  size_t approximate_size() const { return rep_.size(); }

  // Calls handler for each operation, in order.
  class LIGHTNING_EXPORT Handler {
   public:
    virtual ~Handler();
    virtual void put(const Slice& key, const Slice& value) = 0;
    virtual void remove(const Slice& key) = 0;
  };
  Status iterate(Handler* handler) const;

 private:
  friend class WriteBatchInternal;
  // fixed32 count | records, where (the sequence number lives in the log
  // record header, so a caller's batch is never modified by write())
  // record := kTypeValue varstring(key) varstring(value) | kTypeDeletion varstring(key)
  std::string rep_;
};

}  // namespace lightning

#endif  // LIGHTNING_WRITE_BATCH_H_
