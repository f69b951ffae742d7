// Copyright (c) Lightning authors. MIT License.
#include "util/temp_dir.h"

#include <stdlib.h>  // mkdtemp

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace lightning::test {

TempDir::TempDir(const std::string& prefix) {
  std::string base;
  if (const char* tmp = std::getenv("TMPDIR"); tmp != nullptr && *tmp != '\0') base = tmp;
  else base = "/tmp";
  while (base.size() > 1 && base.back() == '/') base.pop_back();

  std::string name = prefix.empty() ? std::string("lightning") : prefix;
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  std::string templ = base + "/" + name + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp(%s) failed: %s\n", templ.c_str(), std::strerror(errno));
    std::abort();
  }
  // Absolute, so that a test that changes directory still finds it.
  std::error_code ec;
  const auto abs = std::filesystem::absolute(buf.data(), ec);
  path_ = ec ? std::string(buf.data()) : abs.string();
}

TempDir::~TempDir() {
  if (const char* keep = std::getenv("LIGHTNING_KEEP_TEST_DIRS"); keep != nullptr && *keep != '\0') {
    std::fprintf(stderr, "TempDir: keeping %s\n", path_.c_str());
    return;
  }
  std::error_code ec;  // never throw from a destructor; a leftover dir is harmless
  std::filesystem::remove_all(path_, ec);
  if (ec) std::fprintf(stderr, "TempDir: cannot remove %s: %s\n", path_.c_str(), ec.message().c_str());
}

}  // namespace lightning::test
