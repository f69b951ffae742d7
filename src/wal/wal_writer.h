// Copyright (c) Lightning authors. MIT License.
//
// WalWriter appends checksummed records to one log file.
//
// Thread-safety: none, except where a method says so; the database's write
// leader is the only caller at any time. Lifetime: owns the file; close()
// closes it and cuts off prefilled zeros, the destructor closes it and
// leaves them (the log reads the same either way).
#ifndef LIGHTNING_WAL_WAL_WRITER_H_
#define LIGHTNING_WAL_WAL_WRITER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "lightning/env.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning::wal {

class WalWriter {
 public:
  // Creates (truncating) fname and writes the file header. The header is
  // not synced here; the first sync() covers it.
  //
  // prefill_bytes > 0 keeps that many bytes of zeros (WritableFile::
  // prefill_zeros) ahead of the records, topped up by another prefill_bytes
  // whenever a record would pass their end: a sync() then overwrites space
  // the file already has instead of growing it, and the filesystem flushes
  // data without committing a new file size. Readers take the first all-zero
  // record header followed by nothing but zeros for the end (WalReader), and
  // close() cuts the zeros off. Ignored if the Env's file cannot prefill.
  static Status create(Env* env, const std::string& fname, uint64_t log_number, std::unique_ptr<WalWriter>* result,
                       uint64_t prefill_bytes = 0);

  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;
  ~WalWriter();

  // Appends one record. The bytes may stay in a user-space buffer until
  // flush() or sync().
  Status add_record(uint64_t sequence, const Slice& payload);
  // Hands buffered bytes to the OS: survives a process crash.
  Status flush();
  // Flushes and fdatasyncs: survives power loss.
  Status sync();
  // Makes durable what flush() already handed to the OS. The one method that
  // may run concurrently with the leader's add_record()/flush() (see
  // WritableFile::sync_flushed); NotSupported if the Env's file cannot.
  Status sync_flushed();
  Status close();

  uint64_t log_number() const { return log_number_; }
  // Bytes of records written so far, header included; the prefilled zeros
  // after them are not counted. Safe to call from any thread (for stats).
  uint64_t size() const { return size_.load(std::memory_order_relaxed); }
  // The size() as of the last successful flush() or sync(): every byte
  // before it is in the file. Safe to call from any thread; a reader of the
  // live log must stop there, since past it the leader may be writing
  // records over the zeros.
  uint64_t flushed_size() const { return flushed_size_.load(std::memory_order_acquire); }
  // The end of the prefilled zeros (<= size() when there are none).
  uint64_t prefilled_end() const { return prefilled_end_; }

 private:
  WalWriter(std::unique_ptr<WritableFile> file, uint64_t log_number, uint64_t prefill_bytes);

  // Makes sure zeros reach at least `end`; turns prefilling off for good if
  // the file cannot do it.
  Status prefill_through(uint64_t end);

  std::unique_ptr<WritableFile> file_;
  const uint64_t log_number_;
  uint64_t prefill_bytes_;  // 0: plain appends
  std::atomic<uint64_t> size_{0};
  std::atomic<uint64_t> flushed_size_{0};
  uint64_t prefilled_end_ = 0;
};

}  // namespace lightning::wal

#endif  // LIGHTNING_WAL_WAL_WRITER_H_
