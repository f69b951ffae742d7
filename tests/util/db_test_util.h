// Copyright (c) Lightning authors. MIT License.
//
// Helpers shared by the engine-level tests: option sets to run one test body
// under, and small assertion helpers.
#ifndef LIGHTNING_TESTS_UTIL_DB_TEST_UTIL_H_
#define LIGHTNING_TESTS_UTIL_DB_TEST_UTIL_H_

#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lightning/db.h"
#include "lightning/env.h"

namespace lightning::test {

// One configuration a test body runs under.
struct DbConfig {
  std::string name;  // for the test's name: [A-Za-z0-9_] only
  bool memory_env = false;
  WalSyncMode sync_mode = WalSyncMode::kNormal;
};

// The configurations engine tests run under: POSIX and in-memory Envs, each
// WAL sync mode.
std::vector<DbConfig> StandardDbConfigs();

// Prints a DbConfig by name in test output.
inline void PrintTo(const DbConfig& config, std::ostream* os) { *os << config.name; }

// Names parameterised tests after their DbConfig.
inline std::string DbConfigName(const ::testing::TestParamInfo<DbConfig>& param_info) {
  return param_info.param.name;
}

// Reads every key of model from db and checks value equality, and that each
// key of absent is NotFound. Returns a description of the first mismatch, or
// "" if all match.
std::string CheckAgainstModel(Database* db, const std::map<std::string, std::string>& model,
                              const std::vector<std::string>& absent = {});

// Makes a value of the given size whose bytes depend on key and version, so a
// value returned for the wrong key or version is detected.
std::string MakeValue(const std::string& key, uint64_t version, size_t size);

// The files of a directory (not recursive) and their contents.
using DirSnapshot = std::map<std::string, std::string>;
DirSnapshot SnapshotDir(Env* env, const std::string& dir);
// Makes dir hold exactly the files of snapshot (and removes its lost/ folder).
void RestoreDir(Env* env, const std::string& dir, const DirSnapshot& snapshot);
// The names of the write-ahead logs in dir, in number order.
std::vector<std::string> LogFiles(Env* env, const std::string& dir);

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_DB_TEST_UTIL_H_
