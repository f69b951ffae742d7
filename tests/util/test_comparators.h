// Copyright (c) Lightning authors. MIT License.
//
// Comparators for tests that must not assume bytewise order.
#ifndef LIGHTNING_TESTS_UTIL_TEST_COMPARATORS_H_
#define LIGHTNING_TESTS_UTIL_TEST_COMPARATORS_H_

#include "lightning/comparator.h"

namespace lightning::test {

// Bytewise order backwards ("test.ReverseBytewise"): catches code that
// orders with Slice::compare instead of the comparator it was given. Lives
// forever.
const Comparator* ReverseBytewise();

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_TEST_COMPARATORS_H_
