// Copyright (c) Lightning authors. MIT License.
#include "lightning/status.h"

namespace lightning {

Status::Status(Code code, Slice msg, Slice detail) : code_(code) {
  msg_.assign(msg.data(), msg.size());
  if (!detail.empty()) {
    msg_.append(": ");
    msg_.append(detail.data(), detail.size());
  }
}

std::string Status::ToString() const {
  const char* prefix = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: prefix = "NotFound: "; break;
    case Code::kCorruption: prefix = "Corruption: "; break;
    case Code::kNotSupported: prefix = "Not supported: "; break;
    case Code::kInvalidArgument: prefix = "Invalid argument: "; break;
    case Code::kIOError: prefix = "IO error: "; break;
    case Code::kBusy: prefix = "Busy: "; break;
    case Code::kConflict: prefix = "Conflict: "; break;
    case Code::kClosed: prefix = "Closed: "; break;
    case Code::kAborted: prefix = "Aborted: "; break;
  }
  return std::string(prefix) + msg_;
}

}  // namespace lightning
