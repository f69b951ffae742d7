// Copyright (c) Lightning authors. MIT License.
#include "cache/cache.h"

namespace lightning {

// Out of line so the vtable and type info are emitted in exactly one object.
Cache::~Cache() = default;

}  // namespace lightning
