// Copyright (c) Lightning authors. MIT License.
//
// The README's quick start, built and run by CTest (examples_basic_usage).
// Usage: basic_usage [directory]
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "lightning/db.h"

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : "/tmp/lightning-example";

  lightning::Options options;
  options.wal_sync_mode = lightning::WalSyncMode::kNormal;  // the default
  auto opened = lightning::Database::open(path, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "open: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  std::unique_ptr<lightning::Database> db = std::move(opened.value());

  if (auto s = db->put("hello", "world"); !s.ok()) {
    std::fprintf(stderr, "put: %s\n", s.ToString().c_str());
    return 1;
  }
  auto value = db->get("hello");
  if (!value.ok() || value.value() != "world") return 1;

  // A batch is applied atomically: after a crash, all of it or none.
  lightning::WriteBatch batch;
  (void)batch.put("user:1", "Alice");
  (void)batch.put("user:2", "Bob");
  (void)batch.remove("hello");
  lightning::WriteOptions durable;
  durable.sync = true;  // fsynced before write() returns
  if (auto s = db->write(batch, durable); !s.ok()) return 1;

  if (!db->get("hello").status().IsNotFound()) return 1;
  std::printf("user:1 = %s\n", db->get("user:1").value().c_str());

  // Scans are range-for friendly; a snapshot fixes the point in time read.
  int users = 0;
  for (const auto& [key, name] : db->scan_prefix("user:")) {
    std::printf("%s = %s\n", key.ToString().c_str(), name.ToString().c_str());
    users++;
  }
  if (users != 2) return 1;
  auto snap = db->snapshot();
  if (!db->put("user:3", "Carol").ok()) return 1;
  lightning::ReadOptions at_snap;
  at_snap.snapshot = snap.get();
  std::string newest;
  lightning::Scan before = db->scan_reverse(std::nullopt, "user:9", 10, at_snap);
  for (const auto& entry : before) {
    if (newest.empty()) newest = entry.key.ToString();
  }
  if (!before.status().ok() || newest != "user:2") return 1;  // user:3 came after the snapshot
  auto both = db->get_batch(std::vector<std::string>{"user:1", "user:3"});
  if (!both[0].ok() || !both[1].ok()) return 1;
  if (!db->remove("user:3").ok()) return 1;  // so that a rerun finds two users again

  // Errors are values, never exceptions or crashes.
  lightning::Status bad = db->put("", "empty keys are rejected");
  std::printf("empty key: %s\n", bad.ToString().c_str());

  return db->close().ok() ? 0 : 1;
}
