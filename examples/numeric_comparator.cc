// Copyright (c) Lightning authors. MIT License.
//
// A database whose keys are numbers, ordered by value with a custom
// comparator (numeric_comparator.h): "9" < "10" < "100", where the default
// bytewise order would give "10" < "100" < "9". Built and run by CTest
// (examples_numeric_comparator).
//
// Usage: numeric_comparator <directory>
//   The directory must not hold a database created with another comparator
//   (CTest removes it first).
//
// Exit code 0 when every expectation holds; otherwise 1, with a message on
// stderr.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lightning/db.h"
#include "numeric_comparator.h"

namespace {

// Prints what failed and returns false, so main() can `return Fail(...)`.
bool Fail(const std::string& what) {
  std::fprintf(stderr, "FAILED: %s\n", what.c_str());
  return false;
}

bool Check(const lightning::Status& s, const char* what) {
  if (!s.ok()) return Fail(std::string(what) + ": " + s.ToString());
  return true;
}

// Walks a scan, printing its keys on one line, and returns them (nullopt if
// the scan stopped on an error).
std::optional<std::vector<std::string>> Collect(const char* title, lightning::Scan scan) {
  std::vector<std::string> keys;
  std::printf("%-28s", title);
  for (const auto& [key, value] : scan) {  // key and value are Slices
    std::printf(" %s", key.ToString().c_str());
    keys.push_back(key.ToString());
  }
  std::printf("\n");
  if (!scan.status().ok()) {  // a scan ends early on an error: always check
    Fail(std::string(title) + ": " + scan.status().ToString());
    return std::nullopt;
  }
  return keys;
}

// The numbers from..to as keys.
std::vector<std::string> Range(int from, int to) {
  std::vector<std::string> keys;
  for (int i = from; i <= to; i++) keys.push_back(std::to_string(i));
  return keys;
}

// Every check of the ordering, run once over the memtable and again once the
// data is in the SSTables and in the B+Tree.
bool CheckOrder(lightning::Database* db) {
  // Every key, ascending by value.
  std::vector<std::string> expected = Range(1, 20);
  expected.push_back("100");
  auto all = Collect("scan():", db->scan(std::nullopt, std::nullopt));
  if (!all || *all != expected) return Fail("a full scan is not in numeric order");

  // Bounds use the comparator too: [9, 20) is 9, 10, ..., 19.
  auto bounded = Collect("scan(\"9\", \"20\"):", db->scan("9", "20"));
  if (!bounded || *bounded != Range(9, 19)) return Fail("scan(\"9\", \"20\") is wrong");

  // The same keys, descending; with a limit of 3 entries.
  auto reverse = Collect("scan_reverse(\"9\", \"20\", 3):", db->scan_reverse("9", "20", 3));
  if (!reverse || *reverse != std::vector<std::string>{"19", "18", "17"}) {
    return Fail("scan_reverse(\"9\", \"20\", 3) is wrong");
  }

  // An iterator's seek() finds the first key >= the target, by value.
  std::unique_ptr<lightning::Iterator> it = db->new_iterator();
  it->seek("21");
  if (!it->valid() || it->key().ToString() != "100") return Fail("seek(\"21\") did not land on 100");
  return true;
}

bool Run(const std::string& path) {
  // The comparator must outlive every Database opened with it.
  static const lightning_examples::NumericComparator numeric;

  lightning::Options options;
  options.comparator = &numeric;
  auto opened = lightning::Database::open(path, options);
  if (!opened.ok()) return Fail("open: " + opened.status().ToString());
  std::unique_ptr<lightning::Database> db = std::move(opened.value());

  // Write the keys in an order that is neither numeric nor bytewise.
  for (const char* key : {"100", "9", "10"}) {
    if (!Check(db->put(key, std::string("value of ") + key), "put")) return false;
  }
  for (int i = 1; i <= 20; i++) {
    const std::string key = std::to_string(i);
    if (!Check(db->put(key, "value of " + key), "put")) return false;
  }
  auto nine = db->get("9");
  if (!nine.ok() || nine.value() != "value of 9") return Fail("get(\"9\")");

  std::printf("-- from the memtable\n");
  if (!CheckOrder(db.get())) return false;

  // flush() writes the memtable to an SSTable; compact() then merges every
  // table into the B+Tree. The order must not depend on where data lives.
  if (!Check(db->flush(), "flush")) return false;
  std::printf("-- from an SSTable\n");
  if (!CheckOrder(db.get())) return false;
  if (!Check(db->compact(), "compact")) return false;
  const lightning::DatabaseStats stats = db->stats();
  std::printf("-- from the B+Tree (%llu entries)\n", static_cast<unsigned long long>(stats.tree_entries));
  if (stats.tree_entries == 0) return Fail("compact() left the tree empty");
  if (!CheckOrder(db.get())) return false;
  if (!Check(db->close(), "close")) return false;
  db.reset();

  // The database remembers its comparator's name: the data on disk is sorted
  // by it, so opening with another comparator (here the default, bytewise
  // one) is refused with InvalidArgument rather than misreading the data.
  auto wrong = lightning::Database::open(path, lightning::Options());
  if (wrong.ok()) return Fail("opening with the default comparator was not refused");
  std::printf("-- reopening with the default comparator: %s\n", wrong.status().ToString().c_str());
  if (!wrong.status().IsInvalidArgument()) return Fail("expected InvalidArgument");

  // With the right comparator it opens, and the data is all there.
  auto reopened = lightning::Database::open(path, options);
  if (!reopened.ok()) return Fail("reopen: " + reopened.status().ToString());
  db = std::move(reopened.value());
  std::printf("-- after reopening with the numeric comparator\n");
  if (!CheckOrder(db.get())) return false;
  return Check(db->close(), "close");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <directory>\n", argv[0]);
    return 2;
  }
  if (!Run(argv[1])) return 1;
  std::printf("OK\n");
  return 0;
}
