// Copyright (c) Lightning authors. MIT License.
#include "wal/wal_writer.h"

#include "util/coding.h"
#include "util/hash.h"
#include "wal/wal_format.h"

namespace lightning::wal {

Status WalWriter::create(Env* env, const std::string& fname, uint64_t log_number,
                         std::unique_ptr<WalWriter>* result) {
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
  std::unique_ptr<WalWriter> writer(new WalWriter(std::move(file), log_number));
  writer->size_ = kFileHeaderSize;
  *result = std::move(writer);
  return Status::OK();
}

WalWriter::WalWriter(std::unique_ptr<WritableFile> file, uint64_t log_number)
    : file_(std::move(file)), log_number_(log_number) {}

WalWriter::~WalWriter() {
  if (file_) (void)file_->close();
}

Status WalWriter::add_record(uint64_t sequence, const Slice& payload) {
  if (payload.size() > kMaxPayloadSize) return Status::InvalidArgument("write-ahead log record too large");
  char header[kRecordHeaderSize];
  EncodeFixed32(header, kWalRecordMagic);
  EncodeFixed32(header + 4, static_cast<uint32_t>(payload.size()));
  EncodeFixed64(header + 8, sequence);
  EncodeFixed32(header + 16, Checksum32(payload.data(), payload.size()));
  EncodeFixed32(header + 20, Checksum32(header, 20));
  Status s = file_->append(Slice(header, sizeof(header)));
  if (s.ok()) s = file_->append(payload);
  if (s.ok()) size_ += kRecordHeaderSize + payload.size();
  return s;
}

Status WalWriter::flush() { return file_->flush(); }
Status WalWriter::sync() { return file_->sync(); }
Status WalWriter::sync_flushed() { return file_->sync_flushed(); }

Status WalWriter::close() {
  if (!file_) return Status::OK();
  Status s = file_->close();
  file_.reset();
  return s;
}

}  // namespace lightning::wal
