// Copyright (c) Lightning authors. MIT License.
//
// Status and Result<T>: errors are values. No exception escapes the public API;
// every fallible call returns a Status, or a Result<T> holding either a value or
// a non-OK Status.
//
// Thread-safety: both are plain values. Distinct objects may be used from
// different threads; one object needs external synchronisation if mutated.
#ifndef LIGHTNING_STATUS_H_
#define LIGHTNING_STATUS_H_

#include <cassert>
#include <optional>
#include <string>
#include <utility>

#include "lightning/export.h"
#include "lightning/slice.h"

namespace lightning {

class [[nodiscard]] LIGHTNING_EXPORT Status {
 public:
  // The codes are stable: the C API maps them one-to-one to integers.
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound = 1,         // the key (or file) does not exist
    kCorruption = 2,       // a checksum or format check failed; data is not returned
    kNotSupported = 3,     // the operation or format version is not supported
    kInvalidArgument = 4,  // the caller passed something outside the documented limits
    kIOError = 5,          // the operating system reported an error
    kBusy = 6,             // a resource is held by someone else (e.g. the database lock)
    kConflict = 7,         // an optimistic transaction lost a race; retry it
    kClosed = 8,           // the handle was closed or the transaction finished
    kAborted = 9,          // the operation was cancelled
  };

  Status() noexcept = default;

  static Status OK() noexcept { return Status(); }
  static Status NotFound(Slice msg, Slice detail = Slice()) { return Status(Code::kNotFound, msg, detail); }
  static Status Corruption(Slice msg, Slice detail = Slice()) { return Status(Code::kCorruption, msg, detail); }
  static Status NotSupported(Slice msg, Slice detail = Slice()) { return Status(Code::kNotSupported, msg, detail); }
  static Status InvalidArgument(Slice msg, Slice detail = Slice()) {
    return Status(Code::kInvalidArgument, msg, detail);
  }
  static Status IOError(Slice msg, Slice detail = Slice()) { return Status(Code::kIOError, msg, detail); }
  static Status Busy(Slice msg, Slice detail = Slice()) { return Status(Code::kBusy, msg, detail); }
  static Status Conflict(Slice msg, Slice detail = Slice()) { return Status(Code::kConflict, msg, detail); }
  static Status Closed(Slice msg, Slice detail = Slice()) { return Status(Code::kClosed, msg, detail); }
  static Status Aborted(Slice msg, Slice detail = Slice()) { return Status(Code::kAborted, msg, detail); }

  bool ok() const noexcept { return code_ == Code::kOk; }
  bool IsNotFound() const noexcept { return code_ == Code::kNotFound; }
  bool IsCorruption() const noexcept { return code_ == Code::kCorruption; }
  bool IsNotSupported() const noexcept { return code_ == Code::kNotSupported; }
  bool IsInvalidArgument() const noexcept { return code_ == Code::kInvalidArgument; }
  bool IsIOError() const noexcept { return code_ == Code::kIOError; }
  bool IsBusy() const noexcept { return code_ == Code::kBusy; }
  bool IsConflict() const noexcept { return code_ == Code::kConflict; }
  bool IsClosed() const noexcept { return code_ == Code::kClosed; }
  bool IsAborted() const noexcept { return code_ == Code::kAborted; }

  Code code() const noexcept { return code_; }
  // The message without the code prefix.
  const std::string& message() const noexcept { return msg_; }
  // "Corruption: <message>", or "OK".
  std::string ToString() const;

 private:
  Status(Code code, Slice msg, Slice detail);

  Code code_ = Code::kOk;
  std::string msg_;
};

// Holds either a T or a non-OK Status. Accessing value() of a failed Result
// is a programming error (asserted in debug builds).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    assert(!status_.ok() && "a Result built from a Status must carry an error");
    if (status_.ok()) status_ = Status::InvalidArgument("Result constructed from an OK status");
  }

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  const Status& status() const noexcept { return status_; }

  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace lightning

#endif  // LIGHTNING_STATUS_H_
