// Copyright (c) Lightning authors. MIT License.
//
// Database::checkpoint and the LiveFiles capture it shares with backups
// (docs/ARCHITECTURE.md, "Checkpoints and backups").
#include "db/db_impl.h"
#include "db/filenames.h"
#include "util/no_throw.h"

namespace lightning {

Status DBImpl::capture_live_files(LiveFiles* live) {
  if (closed()) return Status::Closed("the database is closed");
  // After this every write acknowledged before the call is in a table listed
  // by current_ (flushes install memtables in order, each with its manifest
  // edit), so the copy needs no log.
  Status s = flush_memtables();
  if (!s.ok()) return s;
  port::MutexLock l(&mu_);
  if (!bg_error_.ok()) return bg_error_;
  if (current_ == nullptr) return Status::Closed("the database is closed");
  // current_ and manifest_last_sequence_ change together (apply_edit), so
  // the tables hold exactly the sequences up to it. Holding the version
  // keeps its tables from deletion and its tree commit's pages from reuse.
  live->version = current_;
  ManifestState& m = live->manifest;
  m = ManifestState();
  m.comparator_name = icmp_.user_comparator()->name();
  m.last_sequence = manifest_last_sequence_;
  for (int level = 0; level < kNumLevels; level++) {
    for (const auto& f : current_->files(level)) {
      ManifestState::Table t;
      t.level = level;
      t.meta = *f;
      t.meta.being_compacted = false;
      m.tables.push_back(std::move(t));
    }
  }
  live->tree = current_->tree()->meta();
  m.tree_epoch = live->tree.epoch;
  // A number above every file of the copy: no log of it is live.
  m.next_file_number = next_file_number_.load();
  m.log_number = m.next_file_number;
  return Status::OK();
}

Status DBImpl::checkpoint(const std::string& dir) {
  return NoThrow([&]() -> Status {
    if (closed()) return Status::Closed("the database is closed");
    if (dir.empty()) return Status::InvalidArgument("empty checkpoint path");
    bool empty = false;
    Status s = IsEmptyOrMissingDir(env_, dir, &empty);
    if (!s.ok()) return s;
    if (!empty) return Status::InvalidArgument(dir, "the checkpoint directory exists and is not empty");
    s = env_->create_dir_if_missing(dir);
    if (!s.ok()) return s;

    LiveFiles live;
    s = capture_live_files(&live);
    // Tables are immutable once listed: a hard link shares them safely. The
    // first refused link (another filesystem, an Env without links) switches
    // to copying.
    bool try_link = true;
    for (size_t i = 0; s.ok() && i < live.manifest.tables.size(); i++) {
      const FileMetaData& f = live.manifest.tables[i].meta;
      const std::string src = TableFileName(dbname_, f.number), dst = TableFileName(dir, f.number);
      if (try_link) {
        Status ls = env_->link_file(src, dst);
        if (ls.ok()) {
          uint64_t size = 0;
          s = env_->get_file_size(dst, &size);
          if (s.ok() && size != f.file_size) s = Status::Corruption(src, "size differs from the MANIFEST's");
          continue;
        }
        try_link = false;
      }
      s = CopyFile(env_, src, dst, f.file_size, nullptr, nullptr);
    }
    if (s.ok() && live.tree.epoch != 0) {
      s = CopyTreeCommit(env_, TreeFileName(dbname_), live.tree, TreeFileName(dir), nullptr, nullptr);
    }
    // Written last (and synced, with the directory): a copy interrupted
    // before this point has no MANIFEST and is not a database.
    if (s.ok()) s = WriteManifest(env_, dir, live.manifest);
    if (s.ok()) s = env_->sync_dir(dir);
    if (!s.ok()) (void)RemoveDirAndFiles(env_, dir);
    return s;
  });
}

}  // namespace lightning
