// Copyright (c) Lightning authors. MIT License.
//
// A C++ program outside the Lightning tree, built by tests/install/run.sh
// against an installed Lightning (find_package and pkg-config, shared and
// static) and through add_subdirectory. Besides opening a database and a
// put/get, it derives from an exported class (a Comparator: its vtable and
// typeinfo must be exported from libLightning.so), reads an error Status and
// reopens the database.
// Usage: lightning_install_consumer <empty directory>
#include <lightning/comparator.h>
#include <lightning/db.h>

#include <cstdio>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

namespace {

// Descending bytewise order, defined here rather than in the library.
class ReverseComparator : public lightning::Comparator {
 public:
  int compare(const lightning::Slice& a, const lightning::Slice& b) const override { return b.compare(a); }
  const char* name() const override { return "install_consumer.Reverse"; }
};

int Fail(const char* what, const lightning::Status& status) {
  std::fprintf(stderr, "install consumer: %s: %s\n", what, status.ToString().c_str());
  return 1;
}

int Fail(const char* what) {
  std::fprintf(stderr, "install consumer: %s\n", what);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return Fail("usage: lightning_install_consumer <directory>");
  const std::string path = argv[1];
  ReverseComparator reverse;
  lightning::Options options;
  options.comparator = &reverse;

  {
    auto opened = lightning::Database::open(path, options);
    if (!opened.ok()) return Fail("open", opened.status());
    std::unique_ptr<lightning::Database> db = std::move(opened.value());
    for (const char* key : {"a", "b", "c"}) {
      if (auto s = db->put(key, std::string("value-") + key); !s.ok()) return Fail("put", s);
    }
    auto value = db->get("b");
    if (!value.ok()) return Fail("get", value.status());
    if (value.value() != "value-b") return Fail("get returned the wrong value");

    auto missing = db->get("zzz");
    if (!missing.status().IsNotFound()) return Fail("get of an absent key", missing.status());
    lightning::Status bad = db->put("", "x");
    if (!bad.IsInvalidArgument() || bad.message().empty() || bad.ToString().find(bad.message()) == std::string::npos) {
      return Fail("an empty key was not InvalidArgument", bad);
    }
    if (auto s = db->close(); !s.ok()) return Fail("close", s);
  }

  // Reopen: the writes are there, in the consumer's own order.
  auto reopened = lightning::Database::open(path, options);
  if (!reopened.ok()) return Fail("reopen", reopened.status());
  std::unique_ptr<lightning::Database> db = std::move(reopened.value());
  std::vector<std::string> keys;
  for (const auto& entry : db->scan(std::nullopt, std::nullopt)) keys.push_back(entry.key.ToString());
  if (keys != std::vector<std::string>{"c", "b", "a"}) return Fail("scan order is not the custom comparator's");
  // The library's typeinfo of an exported class is the consumer's.
  const lightning::Comparator* bytewise = lightning::BytewiseComparator();
  if (dynamic_cast<const ReverseComparator*>(bytewise) != nullptr) return Fail("dynamic_cast across the library");
  if (typeid(*options.comparator) != typeid(ReverseComparator)) return Fail("typeid of the consumer's comparator");
  if (auto s = db->close(); !s.ok()) return Fail("close after reopen", s);

  std::printf("install consumer: ok\n");
  return 0;
}
