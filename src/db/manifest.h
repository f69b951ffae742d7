// Copyright (c) Lightning authors. MIT License.
//
// The MANIFEST holds the database's metadata. It is small and rewritten whole
// on every change, never edited in place: write MANIFEST.tmp, fsync it, rename
// it over MANIFEST, fsync the directory. After a crash at any step, MANIFEST
// is either the old or the new version, intact.
//
// Format (little-endian):
//   u64 magic | u32 format_version | u32 body_length | body | u64 checksum
// body is a sequence of (varint32 tag, field) pairs; checksum is XXH3-64 over
// everything before it. A table field is varint32 level | varint64 number |
// varint64 file size | varint64 entries | varint64 largest sequence |
// length-prefixed smallest and largest
// internal keys; there is one per live table. The tree epoch field names the
// B+Tree commit (meta page) that goes with these tables: the tree file may
// hold one newer commit, made just before a crash, which open ignores.
// Format versions 1 (no tables) and 2 (no tree: epoch 0) are still read.
#ifndef LIGHTNING_DB_MANIFEST_H_
#define LIGHTNING_DB_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "db/dbformat.h"
#include "db/version.h"
#include "lightning/env.h"
#include "lightning/status.h"

namespace lightning {

struct ManifestState {
  // name() of the comparator the database was created with.
  std::string comparator_name;
  // The next number to give a log or table file; numbers are never reused.
  uint64_t next_file_number = 1;
  // Write-ahead logs numbered >= log_number are live and replayed at open.
  uint64_t log_number = 0;
  // No sequence number at or below this is in a live log (all are in tables).
  SequenceNumber last_sequence = 0;
  // Every live SSTable and its level. being_compacted is not stored.
  struct Table {
    int level = 0;
    FileMetaData meta;
  };
  std::vector<Table> tables;
  // The B+Tree commit the database uses; 0: the tree is empty (no file yet).
  uint64_t tree_epoch = 0;
};

// Atomically replaces dbname/MANIFEST with state.
Status WriteManifest(Env* env, const std::string& dbname, const ManifestState& state);

// Reads dbname/MANIFEST. Corruption if it fails its checks; NotSupported for
// an unknown format version.
Status ReadManifest(Env* env, const std::string& dbname, ManifestState* state);

}  // namespace lightning

#endif  // LIGHTNING_DB_MANIFEST_H_
