// Copyright (c) Lightning authors. MIT License.
#include "util/db_test_util.h"

#include "util/hash.h"

namespace lightning::test {

std::vector<DbConfig> StandardDbConfigs() {
  return {
      {"PosixFull", false, WalSyncMode::kFull},
      {"PosixNormal", false, WalSyncMode::kNormal},
      {"PosixOff", false, WalSyncMode::kOff},
      {"MemoryNormal", true, WalSyncMode::kNormal},
  };
}

std::string CheckAgainstModel(Database* db, const std::map<std::string, std::string>& model,
                              const std::vector<std::string>& absent) {
  std::string value;
  for (const auto& [key, expected] : model) {
    Status s = db->get(key, &value);
    if (!s.ok()) return "get(" + key + ") failed: " + s.ToString();
    if (value != expected) {
      return "get(" + key + ") returned a wrong value of " + std::to_string(value.size()) + " bytes (expected " +
             std::to_string(expected.size()) + ")";
    }
  }
  for (const auto& key : absent) {
    if (model.count(key)) continue;
    Status s = db->get(key, &value);
    if (!s.IsNotFound()) return "get(" + key + ") should be NotFound, got " + s.ToString();
  }
  return "";
}

std::string MakeValue(const std::string& key, uint64_t version, size_t size) {
  std::string v;
  v.reserve(size);
  uint64_t h = Hash64(key, version);
  while (v.size() < size) {
    const char c = static_cast<char>(h & 0xff);
    v.push_back(c);
    h = h * 6364136223846793005ull + 1442695040888963407ull;
  }
  return v;
}

}  // namespace lightning::test
