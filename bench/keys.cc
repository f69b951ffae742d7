// Copyright (c) Lightning authors. MIT License.
#include "keys.h"

namespace lightning::bench {

Permutation::Permutation(uint64_t n, uint64_t seed) : n_(n) {
  int bits = 2;
  while (bits < 64 && (uint64_t{1} << bits) < n) ++bits;
  if (bits % 2 != 0) ++bits;
  half_bits_ = bits / 2;
  half_mask_ = (uint64_t{1} << half_bits_) - 1;
  for (int i = 0; i < 4; ++i) keys_[i] = mix64(seed + 0x51ed270b27 * (i + 1));
}

size_t KeyFormatter::digits_for(uint64_t n) {
  size_t digits = 1;
  for (uint64_t max = n == 0 ? 0 : n - 1; max >= 10; max /= 10) ++digits;
  return digits;
}

ValueGenerator::Check ValueGenerator::check(uint64_t index, std::string_view v, uint32_t max_epoch,
                                            bool full) const {
  const size_t n = scratch_.size();
  if (v.size() != n) return Check::kWrongSize;
  if (n < kStampSize) {
    // Too short to stamp: the body is derived from the index at epoch 1..max.
    for (uint32_t e = 1; e <= max_epoch; ++e) {
      if (std::memcmp(v.data(), body(index, e), n) == 0) return Check::kOk;
    }
    return Check::kWrongBytes;
  }
  uint64_t stored_index;
  uint32_t epoch;
  std::memcpy(&stored_index, v.data(), 8);
  std::memcpy(&epoch, v.data() + 8, 4);
  if (stored_index != index) return Check::kWrongKey;
  if (epoch == 0 || epoch > max_epoch) return Check::kBadEpoch;
  if (full && std::memcmp(v.data() + kStampSize, body(index, epoch), n - kStampSize) != 0) return Check::kWrongBytes;
  return Check::kOk;
}

const char* ValueGenerator::check_name(Check c) {
  switch (c) {
    case Check::kOk: return "ok";
    case Check::kWrongSize: return "value has the wrong size";
    case Check::kWrongKey: return "value belongs to another key";
    case Check::kBadEpoch: return "value carries an epoch never written";
    case Check::kWrongBytes: return "value bytes differ from what was written";
  }
  return "?";
}

std::string make_value_source(size_t value_size, uint64_t seed) {
  Random rnd(seed ^ 0x76616c756573ULL);
  const size_t size = (size_t{128} << 10) + value_size + 1;
  std::string data;
  data.reserve(size + 100);
  while (data.size() < size) {
    char piece[100];
    for (int i = 0; i < 50; ++i) piece[i] = static_cast<char>(' ' + rnd.uniform(95));
    for (int i = 50; i < 100; ++i) piece[i] = piece[i - 50];
    data.append(piece, sizeof(piece));
  }
  data.resize(size);
  return data;
}

}  // namespace lightning::bench
