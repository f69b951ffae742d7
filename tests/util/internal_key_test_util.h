// Copyright (c) Lightning authors. MIT License.
//
// Helpers for tests of internal-key structures (blocks, tables): the
// InternalKeyComparator over bytewise user keys, internal-key construction,
// random internal keys, hex printing, a std::map model ordered like the
// structure under test, and checks of an InternalIterator against that model.
#ifndef LIGHTNING_TESTS_UTIL_INTERNAL_KEY_TEST_UTIL_H_
#define LIGHTNING_TESTS_UTIL_INTERNAL_KEY_TEST_UTIL_H_

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "db/dbformat.h"
#include "lightning/comparator.h"
#include "lightning/slice.h"
#include "util/iterator.h"
#include "util/random.h"

namespace lightning::test {

// Orders model keys with a (usually internal-key) comparator.
struct ModelLess {
  const Comparator* cmp;
  bool operator()(const std::string& a, const std::string& b) const { return cmp->compare(a, b) < 0; }
};
// Internal key -> value, in the order of the comparator.
using Model = std::map<std::string, std::string, ModelLess>;

// The process-wide InternalKeyComparator over BytewiseComparator().
const InternalKeyComparator* Icmp();

// An empty model ordered by Icmp().
Model NewModel();

// The internal key (user_key, seq, type).
std::string IKey(const std::string& user_key, SequenceNumber seq, ValueType type);

// A random internal key: user key from user_key(rnd), a sequence number in
// [0, 1000), and kTypeDeletion with probability 1/4 (else kTypeValue).
std::string RandomIKey(Random* rnd, std::string (*user_key)(Random*));

// s as lowercase hex, two digits per byte (binary keys in messages).
std::string Hex(const Slice& s);

// Full forward (seek_to_first + next) and backward (seek_to_last + prev)
// scans of it must give exactly the model's entries, with an ok status.
// Stops at the first fatal failure.
void CheckScansAgainstModel(InternalIterator* it, const Model& model);

// For each target (under SCOPED_TRACE "target <hex>"): seek(target) must land
// on the model's lower_bound and agree for 3 next() steps; seek_for_prev must
// land on the last entry <= target and agree for 3 prev() steps; status stays
// ok. per_target, if given, then runs for the target under the same trace.
// Stops at the first fatal failure (including one inside per_target).
void CheckSeeksAgainstModel(InternalIterator* it, const Model& model, const std::vector<std::string>& targets,
                            const std::function<void(const std::string& target)>& per_target = nullptr);

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_INTERNAL_KEY_TEST_UTIL_H_
