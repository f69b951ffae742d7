// Copyright (c) Lightning authors. MIT License.
//
// Helpers for the checkpoint, backup and verify/repair tests: small LSM
// options (many flushes, compactions and tree merges per megabyte), a full
// dump of a database, and byte flips in files.
#ifndef LIGHTNING_TESTS_UTIL_MAINT_TEST_UTIL_H_
#define LIGHTNING_TESTS_UTIL_MAINT_TEST_UTIL_H_

#include <map>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "lightning/db.h"
#include "lightning/env.h"

namespace lightning::test {

inline Options SmallMaintOptions() {
  Options o;
  o.memtable_size = 64 << 10;
  o.max_immutable_memtables = 2;
  o.target_file_size = 64 << 10;
  o.max_bytes_for_level_base = 256 << 10;
  o.level_size_multiplier = 4;
  o.level0_file_num_compaction_trigger = 2;
  o.level0_slowdown_writes_trigger = 8;
  o.level0_stop_writes_trigger = 12;
  o.max_background_compactions = 2;
  o.cache_size = 1 << 20;
  return o;
}

// Every key and value, through an iterator. *status: the iterator's status.
inline std::map<std::string, std::string> DumpDb(Database* db, Status* status = nullptr) {
  std::map<std::string, std::string> out;
  auto it = db->new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) out[it->key().ToString()] = it->value().ToString();
  if (status != nullptr) *status = it->status();
  return out;
}

// XORs the byte at offset of fname with mask (through env: read whole, write whole).
inline void FlipByte(Env* env, const std::string& fname, uint64_t offset, unsigned char mask = 0x40) {
  std::string data;
  ASSERT_TRUE(ReadFileToString(env, fname, &data).ok()) << fname;
  ASSERT_LT(offset, data.size()) << fname;
  data[offset] = static_cast<char>(data[offset] ^ mask);
  ASSERT_TRUE(WriteStringToFile(env, data, fname, true).ok()) << fname;
}

inline uint64_t FileSize(Env* env, const std::string& fname) {
  uint64_t size = 0;
  EXPECT_TRUE(env->get_file_size(fname, &size).ok()) << fname;
  return size;
}

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_MAINT_TEST_UTIL_H_
