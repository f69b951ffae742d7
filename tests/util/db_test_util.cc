// Copyright (c) Lightning authors. MIT License.
#include "util/db_test_util.h"

#include <algorithm>
#include <cstdio>

#include "util/model_db_test.h"

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

DirSnapshot SnapshotDir(Env* env, const std::string& dir) {
  DirSnapshot snapshot;
  std::vector<std::string> children;
  EXPECT_TRUE(env->get_children(dir, &children).ok());
  for (const auto& name : children) {
    bool is_dir = false;
    if (env->is_directory(dir + "/" + name, &is_dir).ok() && is_dir) continue;
    std::string contents;
    EXPECT_TRUE(ReadFileToString(env, dir + "/" + name, &contents).ok()) << name;
    snapshot[name] = contents;
  }
  return snapshot;
}

void RestoreDir(Env* env, const std::string& dir, const DirSnapshot& snapshot) {
  const std::string lost = dir + "/lost";
  std::vector<std::string> children;
  if (env->get_children(lost, &children).ok()) {
    for (const auto& name : children) EXPECT_TRUE(env->remove_file(lost + "/" + name).ok());
    EXPECT_TRUE(env->remove_dir(lost).ok());
  }
  EXPECT_TRUE(env->get_children(dir, &children).ok());
  for (const auto& name : children) EXPECT_TRUE(env->remove_file(dir + "/" + name).ok()) << name;
  for (const auto& [name, contents] : snapshot) {
    EXPECT_TRUE(WriteStringToFile(env, contents, dir + "/" + name, false).ok()) << name;
  }
}

std::vector<std::string> LogFiles(Env* env, const std::string& dir) {
  std::vector<std::string> children, logs;
  EXPECT_TRUE(env->get_children(dir, &children).ok());
  for (const auto& name : children) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".log") == 0) logs.push_back(name);
  }
  std::sort(logs.begin(), logs.end());
  return logs;
}

std::string Printable(const Slice& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(static_cast<char>(c));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    }
  }
  if (out.size() > 80) out = out.substr(0, 80) + "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

}  // namespace lightning::test
