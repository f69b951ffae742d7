// Copyright (c) Lightning authors. MIT License.
#include "wal/wal_reader.h"

#include <algorithm>

#include "util/coding.h"
#include "util/hash.h"
#include "wal/wal_format.h"

namespace lightning::wal {

Status WalReader::open(Env* env, const std::string& fname, uint64_t expected_log_number,
                       std::unique_ptr<WalReader>* result, uint64_t max_size) {
  uint64_t size = 0;
  Status s = env->get_file_size(fname, &size);
  if (!s.ok()) return s;
  size = std::min(size, max_size);
  std::unique_ptr<RandomAccessFile> file;
  s = env->new_random_access_file(fname, &file);
  if (!s.ok()) return s;
  std::unique_ptr<WalReader> reader(new WalReader(fname, std::move(file), size, expected_log_number));
  // An intact header with an unknown version is a file from a newer release:
  // refuse it rather than misread it.
  std::string header;
  if (size >= kFileHeaderSize && reader->read_exact(0, kFileHeaderSize, &header) &&
      DecodeFixed64(header.data()) == kWalFileMagic &&
      DecodeFixed32(header.data() + 20) == Checksum32(header.data(), 20) &&
      DecodeFixed32(header.data() + 8) != kWalFormatVersion) {
    return Status::NotSupported(fname, "write-ahead log format version " +
                                           std::to_string(DecodeFixed32(header.data() + 8)) +
                                           " is newer than this library supports");
  }
  if (!reader->io_status_.ok()) return reader->io_status_;
  *result = std::move(reader);
  return Status::OK();
}

WalReader::WalReader(std::string fname, std::unique_ptr<RandomAccessFile> file, uint64_t file_size,
                     uint64_t expected_log_number)
    : fname_(std::move(fname)), file_(std::move(file)), file_size_(file_size), data_end_(file_size),
      expected_log_number_(expected_log_number) {}

bool WalReader::read_exact(uint64_t offset, size_t n, std::string* buf) {
  buf->resize(n);
  Slice got;
  Status s = file_->read(offset, n, &got, buf->data());
  if (!s.ok()) {
    io_status_ = s;
    return false;
  }
  if (got.size() != n) {
    io_status_ = Status::IOError(fname_, "short read inside the file's size");
    return false;
  }
  if (got.data() != buf->data()) std::memmove(buf->data(), got.data(), n);
  return true;
}

bool WalReader::record_at(uint64_t offset, std::string* buf, Slice* payload, uint64_t* sequence, std::string* why) {
  if (offset + kRecordHeaderSize > file_size_) {
    *why = "record header cut short by the end of the file";
    return false;
  }
  if (!read_exact(offset, kRecordHeaderSize, buf)) return false;
  const char* h = buf->data();
  if (DecodeFixed32(h) != kWalRecordMagic) {
    *why = "bad record magic";
    return false;
  }
  if (DecodeFixed32(h + 20) != Checksum32(h, 20)) {
    *why = "record header checksum mismatch";
    return false;
  }
  const uint32_t length = DecodeFixed32(h + 4);
  const uint64_t seq = DecodeFixed64(h + 8);
  const uint32_t expected_sum = DecodeFixed32(h + 16);
  if (offset + kRecordHeaderSize + length > file_size_) {
    *why = "record payload cut short by the end of the file";
    return false;
  }
  if (!read_exact(offset + kRecordHeaderSize, length, buf)) return false;
  if (Checksum32(buf->data(), buf->size()) != expected_sum) {
    *why = "record payload checksum mismatch";
    return false;
  }
  *payload = Slice(buf->data(), buf->size());
  *sequence = seq;
  return true;
}

uint64_t WalReader::find_intact_record(uint64_t from) {
  static constexpr size_t kWindow = 64 * 1024;
  std::string window;
  std::string scratch;
  Slice payload;
  uint64_t seq;
  std::string why;
  for (uint64_t base = from; base + kRecordHeaderSize <= file_size_; base += kWindow) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindow + 3, file_size_ - base));
    if (!read_exact(base, n, &window)) return 0;
    for (size_t i = 0; i + 4 <= n && i < kWindow; i++) {
      if (DecodeFixed32(window.data() + i) != kWalRecordMagic) continue;
      if (record_at(base + i, &scratch, &payload, &seq, &why)) return base + i;
      if (!io_status_.ok()) return 0;
    }
  }
  return 0;
}

uint64_t WalReader::end_of_nonzero(uint64_t from) {
  static constexpr size_t kWindow = 64 * 1024;
  std::string window;
  uint64_t end = from;
  for (uint64_t base = from; base < file_size_; base += kWindow) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindow, file_size_ - base));
    if (!read_exact(base, n, &window)) return 0;
    for (size_t i = n; i > 0; i--) {
      if (window[i - 1] != 0) {
        end = base + i;
        break;
      }
    }
  }
  return end;
}

void WalReader::on_damage(uint64_t offset, std::string why, bool record_boundary) {
  damage_offset_ = offset;
  damage_reason_ = std::move(why);
  const uint64_t next = find_intact_record(offset + 1);
  if (!io_status_.ok()) {
    end_ = End::kIOError;
  } else if (next == 0) {
    data_end_ = end_of_nonzero(offset);
    if (!io_status_.ok()) {
      end_ = End::kIOError;
    } else if (record_boundary && data_end_ == offset) {
      // Zeros prefilled by the writer where its next record would have gone.
      end_ = End::kClean;
      damage_offset_ = 0;
      damage_reason_.clear();
    } else {
      end_ = End::kTornTail;
    }
  } else {
    end_ = End::kCorruption;
    resume_offset_ = next;
  }
}

bool WalReader::read_record(Slice* payload, uint64_t* sequence) {
  if (end_ != End::kNotYet) return false;
  if (!header_checked_) {
    header_checked_ = true;
    if (file_size_ < kFileHeaderSize) {
      // A crash right after the file was created: nothing was ever committed here.
      end_ = End::kTornTail;
      damage_reason_ = "file header cut short";
      return false;
    }
    std::string header;
    if (!read_exact(0, kFileHeaderSize, &header)) {
      end_ = End::kIOError;
      return false;
    }
    const bool intact = DecodeFixed64(header.data()) == kWalFileMagic &&
                        DecodeFixed32(header.data() + 20) == Checksum32(header.data(), 20);
    if (!intact) {
      on_damage(0, "damaged file header", /*record_boundary=*/false);
      return false;
    }
    if (DecodeFixed64(header.data() + 12) != expected_log_number_) {
      end_ = End::kCorruption;
      damage_offset_ = 0;
      damage_reason_ = "file header names log " + std::to_string(DecodeFixed64(header.data() + 12));
      resume_offset_ = kFileHeaderSize;
      return false;
    }
    pos_ = valid_end_ = kFileHeaderSize;
  }
  if (pos_ >= file_size_) {
    end_ = End::kClean;
    return false;
  }
  std::string why;
  if (!record_at(pos_, &buf_, payload, sequence, &why)) {
    if (!io_status_.ok()) {
      end_ = End::kIOError;
    } else {
      on_damage(pos_, std::move(why), /*record_boundary=*/true);
    }
    return false;
  }
  pos_ += kRecordHeaderSize + payload->size();
  valid_end_ = pos_;
  return true;
}

uint64_t WalReader::skip_damage() {
  if (end_ == End::kCorruption) {
    pos_ = resume_offset_;
    end_ = End::kNotYet;
    header_checked_ = true;
  }
  return pos_;
}

}  // namespace lightning::wal
