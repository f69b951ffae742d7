// Copyright (c) Lightning authors. MIT License.
#include "wal/wal_writer.h"

#include "util/coding.h"
#include "util/hash.h"
#include "wal/wal_format.h"

namespace lightning::wal {

Status WalWriter::create(Env* env, const std::string& fname, uint64_t log_number,
                         std::unique_ptr<WalWriter>* result, uint64_t prefill_bytes) {
  std::unique_ptr<WritableFile> file;
  Status s = env->new_writable_file(fname, &file);
  if (!s.ok()) return s;
  char header[kFileHeaderSize];
  EncodeFixed64(header, kWalFileMagic);
  EncodeFixed32(header + 8, kWalFormatVersion);
  EncodeFixed64(header + 12, log_number);
  EncodeFixed32(header + 20, Checksum32(header, 20));
  s = file->append(Slice(header, sizeof(header)));
  if (!s.ok()) return s;
  std::unique_ptr<WalWriter> writer(new WalWriter(std::move(file), log_number, prefill_bytes));
  writer->size_ = kFileHeaderSize;
  s = writer->prefill_through(kFileHeaderSize);
  if (!s.ok()) return s;
  *result = std::move(writer);
  return Status::OK();
}

WalWriter::WalWriter(std::unique_ptr<WritableFile> file, uint64_t log_number, uint64_t prefill_bytes)
    : file_(std::move(file)), log_number_(log_number), prefill_bytes_(prefill_bytes) {}

Status WalWriter::prefill_through(uint64_t end) {
  if (prefill_bytes_ == 0 || end <= prefilled_end_) return Status::OK();
  // Whole 4 KiB blocks: a partly zeroed last block would grow the file again
  // when a record reaches into it.
  static constexpr uint64_t kBlock = 4096;
  const uint64_t target = (end + prefill_bytes_ + kBlock - 1) / kBlock * kBlock;
  Status s = file_->prefill_zeros(target);
  if (s.IsNotSupported()) {
    prefill_bytes_ = 0;
    return Status::OK();
  }
  if (s.ok()) prefilled_end_ = target;
  return s;
}

// Destroying file_ flushes and closes it without cutting the zeros off.
WalWriter::~WalWriter() = default;

Status WalWriter::add_record(uint64_t sequence, const Slice& payload) {
  if (payload.size() > kMaxPayloadSize) return Status::InvalidArgument("write-ahead log record too large");
  // Zeros first, so that the record overwrites space the file already has.
  const uint64_t size = size_.load(std::memory_order_relaxed);
  Status s = prefill_through(size + kRecordHeaderSize + payload.size());
  if (!s.ok()) return s;
  char header[kRecordHeaderSize];
  EncodeFixed32(header, kWalRecordMagic);
  EncodeFixed32(header + 4, static_cast<uint32_t>(payload.size()));
  EncodeFixed64(header + 8, sequence);
  EncodeFixed32(header + 16, Checksum32(payload.data(), payload.size()));
  EncodeFixed32(header + 20, Checksum32(header, 20));
  s = file_->append(Slice(header, sizeof(header)));
  if (s.ok()) s = file_->append(payload);
  if (s.ok()) size_.store(size + kRecordHeaderSize + payload.size(), std::memory_order_relaxed);
  return s;
}

Status WalWriter::flush() {
  Status s = file_->flush();
  if (s.ok()) flushed_size_.store(size_.load(std::memory_order_relaxed), std::memory_order_release);
  return s;
}

Status WalWriter::sync() {
  Status s = file_->sync();
  if (s.ok()) flushed_size_.store(size_.load(std::memory_order_relaxed), std::memory_order_release);
  return s;
}

Status WalWriter::sync_flushed() { return file_->sync_flushed(); }

Status WalWriter::close() {
  if (!file_) return Status::OK();
  Status s = file_->close();
  file_.reset();
  return s;
}

}  // namespace lightning::wal
