// Copyright (c) Lightning authors. MIT License.
//
// File-level helpers for checkpoints, backups and repair: whole-file copies
// with a checksum, copying one commit of a live tree file, and what a
// checkpoint or backup needs to know about a live database (LiveFiles).
//
// Thread-safety: the functions keep no state; they may run concurrently on
// different files. Checksums are XXH3-64 (util/hash.h) of the whole file.
#ifndef LIGHTNING_DB_FILE_UTIL_H_
#define LIGHTNING_DB_FILE_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "btree/page.h"
#include "db/manifest.h"
#include "db/version.h"
#include "lightning/env.h"
#include "lightning/status.h"

namespace lightning {

// The files of one consistent state of a live database, pinned: while
// `version` is held its tables are not deleted and its tree commit's pages
// are not reused (DBImpl::capture_live_files).
struct LiveFiles {
  std::shared_ptr<const Version> version;
  // A manifest describing exactly `version`: its tables, its tree commit,
  // the last sequence number they hold, and a log number that no log of
  // the copy has (a copy holds no logs: the memtables were flushed).
  ManifestState manifest;
  btree::TreeMeta tree;  // version's tree commit (epoch 0: no tree file)
};

// Reads the whole of fname; *size and *hash describe its bytes.
Status HashFile(Env* env, const std::string& fname, uint64_t* size, uint64_t* hash);

// Copies src to dst (created, or truncated), fsyncs dst. *size and *hash
// (either may be null) describe the bytes copied. Corruption if src's size
// is not expected_size (UINT64_MAX: any size). On failure dst is removed.
Status CopyFile(Env* env, const std::string& src, const std::string& dst, uint64_t expected_size, uint64_t* size,
                uint64_t* hash);

// Writes dst as a tree file holding exactly commit `meta` of the tree file
// src: pages 2..num_pages copied as they are (pages free at that commit may
// hold anything; nothing reachable from it reads them), the commit's meta
// page in slot epoch % 2 and zeros in the other slot; fsynced. The caller
// keeps the commit pinned (a TreeVersion of it) so that no page it reaches
// is rewritten meanwhile; its meta page is never read from src, since a
// later commit may have overwritten that slot.
Status CopyTreeCommit(Env* env, const std::string& src, const btree::TreeMeta& meta, const std::string& dst,
                      uint64_t* size, uint64_t* hash);

// Removes the entries of dir that are files (and empty subdirectories), then
// dir itself. Best effort: the first error is returned.
Status RemoveDirAndFiles(Env* env, const std::string& dir);

// True if path does not exist or is an empty directory.
Status IsEmptyOrMissingDir(Env* env, const std::string& path, bool* empty);

}  // namespace lightning

#endif  // LIGHTNING_DB_FILE_UTIL_H_
