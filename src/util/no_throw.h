// Copyright (c) Lightning authors. MIT License.
//
// NoThrow: runs fn, turning an escaping exception (in practice
// std::bad_alloc, or one thrown by user code such as a comparator) into an
// IOError Status, so that no exception crosses the public API.
#ifndef LIGHTNING_UTIL_NO_THROW_H_
#define LIGHTNING_UTIL_NO_THROW_H_

#include <exception>
#include <new>

#include "lightning/status.h"

namespace lightning {

// fn returns a Status.
template <typename Fn>
Status NoThrow(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Status::IOError("out of memory");
  } catch (const std::exception& e) {
    return Status::IOError("unexpected exception", e.what());
  } catch (...) {
    return Status::IOError("unexpected exception");
  }
}

}  // namespace lightning

#endif  // LIGHTNING_UTIL_NO_THROW_H_
