// Copyright (c) Lightning authors. MIT License.
//
// WalReader reads the records of one log file in order and, when it meets
// damage, classifies it:
//
//   kTornTail   - the damage reaches the end of the file and no intact record
//                 follows it: the tail of an interrupted write. Never an
//                 acknowledged synced commit; recovery truncates it.
//   kCorruption - an intact record follows the damage, so the damage is
//                 not the result of an interrupted append: bit rot, a
//                 bad disk or a stray write. Recovery applies
//                 Options::wal_recovery_mode.
//
// A record is intact when its header checksum, payload length and payload
// checksum all verify. Damaged bytes are never returned as a record.
//
// A writer may keep zeros ahead of its records (WalWriter's prefill): where a
// record header would start, zeros that run to the end of the file are the
// clean end of the log (kClean, valid_end() before them). An all-zero header
// can never be a record (the record magic is not zero). Zeros followed by
// an intact record are damage like any other (kCorruption); a damaged record
// followed by zeros is a torn tail.
//
// Thread-safety: one thread at a time. Lifetime: independent of the Env file.
#ifndef LIGHTNING_WAL_WAL_READER_H_
#define LIGHTNING_WAL_WAL_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "lightning/env.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning::wal {

class WalReader {
 public:
  enum class End { kNotYet, kClean, kTornTail, kCorruption, kIOError };

  // Opens fname for reading. NotSupported if the header names an unknown
  // format version; IOError/NotFound from the Env. A damaged header is not an
  // error here: the first read_record() reports it. Reads no further than
  // max_size bytes (for a live log: WalWriter::flushed_size()), which then
  // count as the file's size.
  static Status open(Env* env, const std::string& fname, uint64_t expected_log_number,
                     std::unique_ptr<WalReader>* result, uint64_t max_size = UINT64_MAX);

  // The next intact record: true with *payload (valid until the next call)
  // and *sequence. false at the end or at damage; end() says which.
  bool read_record(Slice* payload, uint64_t* sequence);

  End end() const { return end_; }
  // Offset just past the last intact record read (truncation point).
  uint64_t valid_end() const { return valid_end_; }
  // Where the damage starts (kTornTail, kCorruption) and why.
  uint64_t damage_offset() const { return damage_offset_; }
  const std::string& damage_reason() const { return damage_reason_; }
  // The I/O error behind kIOError.
  const Status& io_status() const { return io_status_; }
  uint64_t file_size() const { return file_size_; }
  // Where the file's bytes end without the zeros a writer prefilled after its
  // last record: file_size() until end() is kClean or kTornTail, then the
  // logical size of the log (for kClean, valid_end()).
  uint64_t data_end() const { return data_end_; }

  // After kCorruption: continues with the next intact record, so that
  // read_record() resumes there. Returns its offset.
  uint64_t skip_damage();

 private:
  WalReader(std::string fname, std::unique_ptr<RandomAccessFile> file, uint64_t file_size,
            uint64_t expected_log_number);

  // Reads exactly n bytes at offset into buf_ (resized); false on I/O error.
  bool read_exact(uint64_t offset, size_t n, std::string* buf);
  // Is there an intact record at offset? Fills payload/sequence if so.
  bool record_at(uint64_t offset, std::string* buf, Slice* payload, uint64_t* sequence, std::string* why);
  // The offset of the first intact record at or after from, or 0 if none.
  uint64_t find_intact_record(uint64_t from);
  // Just past the last non-zero byte at or after from (from if none), or 0
  // after an I/O error.
  uint64_t end_of_nonzero(uint64_t from);
  // Classifies damage at offset: torn tail or corruption (or, at a record
  // boundary with only zeros from there on, the clean end).
  void on_damage(uint64_t offset, std::string why, bool record_boundary);

  const std::string fname_;
  std::unique_ptr<RandomAccessFile> file_;
  const uint64_t file_size_;
  uint64_t data_end_;
  const uint64_t expected_log_number_;
  bool header_checked_ = false;
  uint64_t pos_ = 0;
  uint64_t valid_end_ = 0;
  End end_ = End::kNotYet;
  uint64_t damage_offset_ = 0;
  uint64_t resume_offset_ = 0;
  std::string damage_reason_;
  Status io_status_;
  std::string buf_;
};

}  // namespace lightning::wal

#endif  // LIGHTNING_WAL_WAL_READER_H_
