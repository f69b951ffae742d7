// Copyright (c) Lightning authors. MIT License.
#include "util/internal_key_test_util.h"

#include <gtest/gtest.h>

#include <cstdio>

namespace lightning::test {

const InternalKeyComparator* Icmp() {
  static const InternalKeyComparator* const kIcmp = new InternalKeyComparator(BytewiseComparator());
  return kIcmp;
}

Model NewModel() { return Model(ModelLess{Icmp()}); }

std::string IKey(const std::string& user_key, SequenceNumber seq, ValueType type) {
  std::string k;
  AppendInternalKey(&k, ParsedInternalKey{user_key, seq, type});
  return k;
}

std::string RandomIKey(Random* rnd, std::string (*user_key)(Random*)) {
  return IKey(user_key(rnd), rnd->uniform(1000), rnd->one_in(4) ? kTypeDeletion : kTypeValue);
}

std::string Hex(const Slice& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    char buf[4];
    std::snprintf(buf, sizeof(buf), "%02x", static_cast<unsigned char>(s[i]));
    out += buf;
  }
  return out;
}

void CheckScansAgainstModel(InternalIterator* it, const Model& model) {
  // Forward.
  auto m = model.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++m) {
    ASSERT_TRUE(m != model.end()) << "extra key " << Hex(it->key());
    ASSERT_EQ(Hex(it->key()), Hex(m->first));
    ASSERT_TRUE(it->value() == Slice(m->second)) << "value of " << Hex(m->first);
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  ASSERT_TRUE(m == model.end()) << "missing key " << Hex(m->first);
  // Backward.
  auto r = model.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++r) {
    ASSERT_TRUE(r != model.rend());
    ASSERT_EQ(Hex(it->key()), Hex(r->first));
    ASSERT_TRUE(it->value() == Slice(r->second));
  }
  ASSERT_TRUE(it->status().ok()) << it->status().ToString();
  ASSERT_TRUE(r == model.rend());
}

void CheckSeeksAgainstModel(InternalIterator* it, const Model& model, const std::vector<std::string>& targets,
                            const std::function<void(const std::string& target)>& per_target) {
  for (const std::string& target : targets) {
    SCOPED_TRACE("target " + Hex(target));
    it->seek(target);
    auto lb = model.lower_bound(target);
    for (int step = 0; step < 3; step++) {
      if (lb == model.end()) {
        ASSERT_FALSE(it->valid());
        break;
      }
      ASSERT_TRUE(it->valid());
      ASSERT_EQ(Hex(it->key()), Hex(lb->first));
      ASSERT_TRUE(it->value() == Slice(lb->second));
      it->next();
      ++lb;
    }
    ASSERT_TRUE(it->status().ok());

    it->seek_for_prev(target);
    auto ub = model.upper_bound(target);  // first > target; the answer precedes it
    for (int step = 0; step < 3; step++) {
      if (ub == model.begin()) {
        ASSERT_FALSE(it->valid());
        break;
      }
      --ub;
      ASSERT_TRUE(it->valid());
      ASSERT_EQ(Hex(it->key()), Hex(ub->first));
      ASSERT_TRUE(it->value() == Slice(ub->second));
      it->prev();
    }
    ASSERT_TRUE(it->status().ok());

    if (per_target) {
      ASSERT_NO_FATAL_FAILURE(per_target(target));
    }
  }
}

}  // namespace lightning::test
