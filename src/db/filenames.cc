// Copyright (c) Lightning authors. MIT License.
#include "db/filenames.h"

#include <cinttypes>
#include <cstdio>

namespace lightning {
namespace {

std::string NumberedName(const std::string& dbname, uint64_t number, const char* suffix) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "/%06" PRIu64 ".%s", number, suffix);
  return dbname + buf;
}

// Parses a decimal number of at least one digit that fills `digits` exactly.
bool ParseNumber(const std::string& digits, uint64_t* number) {
  if (digits.empty() || digits.size() > 19) return false;
  uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *number = v;
  return true;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

std::string LogFileName(const std::string& dbname, uint64_t number) { return NumberedName(dbname, number, "log"); }
std::string TableFileName(const std::string& dbname, uint64_t number) { return NumberedName(dbname, number, "sst"); }
std::string ManifestFileName(const std::string& dbname) { return dbname + "/MANIFEST"; }
std::string TempManifestFileName(const std::string& dbname) { return dbname + "/MANIFEST.tmp"; }
std::string TreeFileName(const std::string& dbname) { return dbname + "/TREE"; }
std::string LockFileName(const std::string& dbname) { return dbname + "/LOCK"; }
std::string LostDirName(const std::string& dbname) { return dbname + "/lost"; }

FileType ParseFileName(const std::string& name, uint64_t* number) {
  if (name == "MANIFEST") return FileType::kManifest;
  if (name == "MANIFEST.tmp") return FileType::kTempManifest;
  if (name == "LOCK") return FileType::kLock;
  if (name == "TREE") return FileType::kTree;
  if (EndsWith(name, ".log") && ParseNumber(name.substr(0, name.size() - 4), number)) return FileType::kLog;
  if (EndsWith(name, ".sst") && ParseNumber(name.substr(0, name.size() - 4), number)) return FileType::kTable;
  return FileType::kUnknown;
}

}  // namespace lightning
