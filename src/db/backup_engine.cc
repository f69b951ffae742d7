// Copyright (c) Lightning authors. MIT License.
//
// BackupEngine (include/lightning/backup.h). Layout of a backup root:
//
//   LOCK                      held while an engine has the root open
//   meta/<id>                 a backup's metadata; its presence makes the backup exist
//   meta/<id>.tmp             metadata being written (debris after a crash)
//   meta/LAST_ID              the last id handed out (ids are never reused)
//   private/<id>/TREE         the tree as of the backup's commit
//   private/<id>/MANIFEST     a manifest describing the backup's tables and tree
//   shared/<n>_<size>_<hash>.sst   table n of some database, shared by every backup holding it
//
// Metadata file (little-endian; docs/ARCHITECTURE.md, "Backups"):
//   u64 magic "LTNBCKUP" | u32 format_version (1) | u32 body_length | body | u64 XXH3-64 of everything before
//   body := varint64 id | varint64 timestamp (s) | varint64 last_sequence | varint32 file count | file*
//   file := length-prefixed path in the root | length-prefixed name in the database |
//           varint64 size | fixed64 XXH3-64 of the contents
#include "lightning/backup.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <set>

#include "db/db_impl.h"
#include "db/file_util.h"
#include "db/filenames.h"
#include "port/mutex.h"
#include "util/coding.h"
#include "util/hash.h"
#include "util/no_throw.h"

namespace lightning {
namespace {

constexpr uint64_t kBackupMagic = 0x50554B43424E544Cull;  // "LTNBCKUP" little-endian
constexpr uint32_t kBackupFormatVersion = 1;
constexpr size_t kPrefixSize = 16;

struct BackupFile {
  std::string path;     // relative to the root
  std::string db_name;  // name in the database directory
  uint64_t size = 0;
  uint64_t hash = 0;
};

struct BackupMeta {
  uint64_t id = 0;
  uint64_t timestamp = 0;
  uint64_t last_sequence = 0;
  std::vector<BackupFile> files;
};

std::string EncodeBackupMeta(const BackupMeta& m) {
  std::string body;
  PutVarint64(&body, m.id);
  PutVarint64(&body, m.timestamp);
  PutVarint64(&body, m.last_sequence);
  PutVarint32(&body, static_cast<uint32_t>(m.files.size()));
  for (const auto& f : m.files) {
    PutLengthPrefixedSlice(&body, f.path);
    PutLengthPrefixedSlice(&body, f.db_name);
    PutVarint64(&body, f.size);
    PutFixed64(&body, f.hash);
  }
  std::string out;
  PutFixed64(&out, kBackupMagic);
  PutFixed32(&out, kBackupFormatVersion);
  PutFixed32(&out, static_cast<uint32_t>(body.size()));
  out.append(body);
  PutFixed64(&out, Hash64(out));
  return out;
}

// A name is safe if it stays inside its directory.
bool SafeName(const Slice& name) {
  if (name.empty() || name == Slice(".") || name == Slice("..")) return false;
  for (size_t i = 0; i < name.size(); i++) {
    if (name[i] == '/' || name[i] == '\0') return false;
  }
  return true;
}

Status DecodeBackupMeta(const std::string& fname, const std::string& data, BackupMeta* m) {
  if (data.size() < kPrefixSize + 8 || DecodeFixed64(data.data()) != kBackupMagic) {
    return Status::Corruption(fname, "not a backup metadata file (bad magic or too short)");
  }
  if (DecodeFixed64(data.data() + data.size() - 8) != Hash64(data.data(), data.size() - 8)) {
    return Status::Corruption(fname, "checksum mismatch");
  }
  const uint32_t version = DecodeFixed32(data.data() + 8);
  if (version != kBackupFormatVersion) {
    return Status::NotSupported(fname, "backup format version " + std::to_string(version) + " is not supported");
  }
  const uint32_t body_length = DecodeFixed32(data.data() + 12);
  if (kPrefixSize + uint64_t{body_length} + 8 != data.size()) return Status::Corruption(fname, "body length mismatch");
  Slice in(data.data() + kPrefixSize, body_length);
  uint32_t count = 0;
  bool ok = GetVarint64(&in, &m->id) && GetVarint64(&in, &m->timestamp) && GetVarint64(&in, &m->last_sequence) &&
            GetVarint32(&in, &count);
  for (uint32_t i = 0; ok && i < count; i++) {
    BackupFile f;
    Slice path, name;
    ok = GetLengthPrefixedSlice(&in, &path) && GetLengthPrefixedSlice(&in, &name) && GetVarint64(&in, &f.size) &&
         in.size() >= 8;
    if (!ok) break;
    f.hash = DecodeFixed64(in.data());
    in.remove_prefix(8);
    // Paths are "shared/<name>" or "private/<id>/<name>": never outside the root.
    const std::string p = path.ToString();
    const size_t slash = p.rfind('/');
    ok = SafeName(name) && slash != std::string::npos && SafeName(Slice(p.data() + slash + 1, p.size() - slash - 1)) &&
         (p.compare(0, 7, "shared/") == 0 || p.compare(0, 8, "private/") == 0) && p.find("..") == std::string::npos;
    f.path = p;
    f.db_name = name.ToString();
    m->files.push_back(std::move(f));
  }
  if (!ok || !in.empty()) return Status::Corruption(fname, "malformed body");
  return Status::OK();
}

bool ParseId(const std::string& name, uint64_t* id) {
  if (name.empty() || name.size() > 19) return false;
  uint64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *id = v;
  return v > 0;
}

std::string SharedTableName(uint64_t number, uint64_t size, uint64_t hash) {
  char buf[80];
  std::snprintf(buf, sizeof(buf), "%06" PRIu64 "_%" PRIu64 "_%016" PRIx64 ".sst", number, size, hash);
  return buf;
}

}  // namespace

class BackupEngine::Impl {
 public:
  Impl(Env* env, std::string root) : env_(env), root_(std::move(root)) {}

  Status open() {
    port::MutexLock l(&mu_);
    Status s = env_->create_dir_if_missing(root_);
    for (const char* sub : {"/meta", "/private", "/shared"}) {
      if (s.ok()) s = env_->create_dir_if_missing(root_ + sub);
    }
    if (s.ok()) s = env_->lock_file(root_ + "/LOCK", &lock_);
    if (s.ok()) s = load();
    if (s.ok()) s = remove_debris();
    return s;
  }

  Status close() {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return Status::OK();
    return env_->unlock_file(std::move(lock_));
  }

  Result<uint64_t> create_backup(Database& db) {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    auto* impl = dynamic_cast<DBImpl*>(&db);
    if (impl == nullptr) return Status::InvalidArgument("create_backup", "not a database opened by this library");
    if (impl->env() != env_) {
      return Status::InvalidArgument("create_backup", "the database and the backup root must use the same Env");
    }
    LiveFiles live;
    Status s = impl->capture_live_files(&live);
    if (!s.ok()) return s;
    BackupMeta meta;
    meta.id = next_id_++;
    // Recorded before the backup exists, so that its id is never handed out
    // again, even once every backup is deleted.
    s = WriteStringToFile(env_, std::to_string(meta.id), root_ + "/meta/LAST_ID.tmp", /*sync=*/true);
    if (s.ok()) s = env_->rename_file(root_ + "/meta/LAST_ID.tmp", root_ + "/meta/LAST_ID");
    if (s.ok()) s = env_->sync_dir(root_ + "/meta");
    if (!s.ok()) return s;
    meta.timestamp = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
    meta.last_sequence = live.manifest.last_sequence;
    const std::string private_rel = "private/" + std::to_string(meta.id);
    const std::string private_dir = root_ + "/" + private_rel;
    s = env_->create_dir_if_missing(private_dir);
    for (size_t i = 0; s.ok() && i < live.manifest.tables.size(); i++) {
      const FileMetaData& t = live.manifest.tables[i].meta;
      const std::string src = TableFileName(impl->dbname(), t.number);
      BackupFile f;
      f.db_name = src.substr(src.rfind('/') + 1);
      // Named by content, so a table already in the root (from an earlier
      // backup of this database) is not copied again.
      s = HashFile(env_, src, &f.size, &f.hash);
      if (s.ok() && f.size != t.file_size) s = Status::Corruption(src, "size differs from the MANIFEST's");
      if (!s.ok()) break;
      f.path = "shared/" + SharedTableName(t.number, f.size, f.hash);
      const std::string dst = root_ + "/" + f.path;
      if (!env_->file_exists(dst)) {
        uint64_t size = 0, hash = 0;
        s = CopyFile(env_, src, dst + ".tmp", f.size, &size, &hash);
        if (s.ok() && hash != f.hash) s = Status::IOError(src, "changed while being backed up");
        if (s.ok()) s = env_->rename_file(dst + ".tmp", dst);
      }
      meta.files.push_back(std::move(f));
    }
    if (s.ok() && live.tree.epoch != 0) {
      BackupFile f;
      f.db_name = "TREE";
      f.path = private_rel + "/TREE";
      s = CopyTreeCommit(env_, TreeFileName(impl->dbname()), live.tree, root_ + "/" + f.path, &f.size, &f.hash);
      meta.files.push_back(std::move(f));
    }
    if (s.ok()) {
      BackupFile f;
      f.db_name = "MANIFEST";
      f.path = private_rel + "/MANIFEST";
      s = WriteManifest(env_, private_dir, live.manifest);
      if (s.ok()) s = HashFile(env_, root_ + "/" + f.path, &f.size, &f.hash);
      meta.files.push_back(std::move(f));
    }
    if (s.ok()) s = env_->sync_dir(root_ + "/shared");
    if (s.ok()) s = env_->sync_dir(private_dir);
    if (s.ok()) s = env_->sync_dir(root_ + "/private");
    // The metadata makes the backup exist; everything it lists is durable.
    const std::string meta_name = meta_file(meta.id);
    if (s.ok()) s = WriteStringToFile(env_, EncodeBackupMeta(meta), meta_name + ".tmp", /*sync=*/true);
    if (s.ok()) s = env_->rename_file(meta_name + ".tmp", meta_name);
    if (s.ok()) s = env_->sync_dir(root_ + "/meta");
    if (!s.ok()) {
      (void)env_->remove_file(meta_name + ".tmp");
      (void)RemoveDirAndFiles(env_, private_dir);
      (void)remove_unreferenced_shared();
      return s;
    }
    const uint64_t id = meta.id;
    backups_[id] = std::move(meta);
    return id;
  }

  Result<std::vector<BackupInfo>> list_backups() {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    std::vector<BackupInfo> result;
    for (const auto& [id, m] : backups_) {
      BackupInfo info;
      info.id = id;
      info.timestamp = m.timestamp;
      info.last_sequence = m.last_sequence;
      info.file_count = static_cast<uint32_t>(m.files.size());
      for (const auto& f : m.files) info.size += f.size;
      result.push_back(info);
    }
    return result;
  }

  Status verify_backup(uint64_t id) {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    if (backups_.count(id) == 0) return Status::NotFound("backup " + std::to_string(id));
    // The metadata is read again: verification is about what is on disk now.
    std::string data;
    BackupMeta m;
    Status s = ReadFileToString(env_, meta_file(id), &data);
    if (s.ok()) s = DecodeBackupMeta(meta_file(id), data, &m);
    for (size_t i = 0; s.ok() && i < m.files.size(); i++) {
      const BackupFile& f = m.files[i];
      const std::string fname = root_ + "/" + f.path;
      uint64_t size = 0, hash = 0;
      s = HashFile(env_, fname, &size, &hash);
      if (s.IsNotFound()) s = Status::Corruption(fname, "missing");
      if (s.ok() && size != f.size) {
        s = Status::Corruption(fname, "has " + std::to_string(size) + " bytes; the backup says " +
                                          std::to_string(f.size));
      }
      if (s.ok() && hash != f.hash) s = Status::Corruption(fname, "checksum mismatch");
    }
    return s;
  }

  Status delete_backup(uint64_t id) {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    return delete_locked(id);
  }

  Status purge_old_backups(size_t keep_n) {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    while (backups_.size() > keep_n) {
      Status s = delete_locked(backups_.begin()->first);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  Status restore(uint64_t id, const std::string& db_dir, bool overwrite) {
    port::MutexLock l(&mu_);
    if (lock_ == nullptr) return closed();
    auto it = backups_.find(id);
    if (it == backups_.end()) return Status::NotFound("backup " + std::to_string(id));
    const BackupMeta& m = it->second;
    if (db_dir.empty()) return Status::InvalidArgument("empty restore path");
    bool is_dir = false;
    Status s = env_->is_directory(db_dir, &is_dir);
    if (s.ok() && !is_dir) return Status::InvalidArgument(db_dir, "exists and is not a directory");
    if (s.IsNotFound()) s = env_->create_dir_if_missing(db_dir);
    if (!s.ok()) return s;
    std::unique_ptr<FileLock> db_lock;
    s = env_->lock_file(LockFileName(db_dir), &db_lock);
    if (!s.ok()) return s;
    s = restore_locked(m, db_dir, overwrite);
    Status us = env_->unlock_file(std::move(db_lock));
    if (s.ok()) s = us;
    return s;
  }

 private:
  static Status closed() { return Status::Closed("the backup engine is closed"); }
  std::string meta_file(uint64_t id) const { return root_ + "/meta/" + std::to_string(id); }

  Status restore_locked(const BackupMeta& m, const std::string& db_dir, bool overwrite) {
    std::vector<std::string> children;
    Status s = env_->get_children(db_dir, &children);
    if (!s.ok()) return s;
    std::vector<std::string> db_files;
    bool other = false;
    for (const auto& name : children) {
      if (name == "LOCK") {
        uint64_t size = 0;
        if (env_->get_file_size(db_dir + "/LOCK", &size).ok() && size == 0) continue;
      }
      uint64_t number = 0;
      const FileType type = ParseFileName(name, &number);
      if (type == FileType::kLog || type == FileType::kTable || type == FileType::kManifest ||
          type == FileType::kTempManifest || type == FileType::kTree) {
        db_files.push_back(name);
      } else {
        other = true;
      }
    }
    if ((!db_files.empty() || other) && !overwrite) {
      return Status::InvalidArgument(db_dir, "the restore target is not empty (pass overwrite to replace a database)");
    }
    // The MANIFEST goes first, so that an interrupted restore is never taken
    // for a database.
    std::sort(db_files.begin(), db_files.end(), [](const std::string& a, const std::string& b) {
      return (a == "MANIFEST") > (b == "MANIFEST");
    });
    for (const auto& name : db_files) {
      s = env_->remove_file(db_dir + "/" + name);
      if (!s.ok()) return s;
    }
    std::vector<std::string> written;
    const BackupFile* manifest = nullptr;
    for (const auto& f : m.files) {
      if (f.db_name == "MANIFEST") {
        manifest = &f;
        continue;
      }
      s = restore_file(f, db_dir + "/" + f.db_name);
      if (!s.ok()) break;
      written.push_back(db_dir + "/" + f.db_name);
    }
    if (s.ok() && manifest == nullptr) s = Status::Corruption(meta_file(m.id), "lists no MANIFEST");
    // Written last, through a temporary name: the database exists only once
    // everything it lists is in place and durable.
    if (s.ok()) s = restore_file(*manifest, TempManifestFileName(db_dir));
    if (s.ok()) s = env_->rename_file(TempManifestFileName(db_dir), ManifestFileName(db_dir));
    if (s.ok()) s = env_->sync_dir(db_dir);
    if (!s.ok()) {
      (void)env_->remove_file(TempManifestFileName(db_dir));
      for (const auto& fname : written) (void)env_->remove_file(fname);
    }
    return s;
  }

  Status restore_file(const BackupFile& f, const std::string& dst) {
    const std::string src = root_ + "/" + f.path;
    uint64_t size = 0, hash = 0;
    Status s = CopyFile(env_, src, dst, f.size, &size, &hash);
    if (s.IsNotFound()) s = Status::Corruption(src, "missing from the backup");
    if (s.ok() && hash != f.hash) {
      (void)env_->remove_file(dst);
      s = Status::Corruption(src, "checksum mismatch");
    }
    return s;
  }

  Status delete_locked(uint64_t id) REQUIRES(mu_) {
    if (backups_.count(id) == 0) return Status::NotFound("backup " + std::to_string(id));
    Status s = env_->remove_file(meta_file(id));
    if (s.ok()) s = env_->sync_dir(root_ + "/meta");
    if (!s.ok()) return s;
    backups_.erase(id);
    s = RemoveDirAndFiles(env_, root_ + "/private/" + std::to_string(id));
    Status gs = remove_unreferenced_shared();
    return s.ok() ? gs : s;
  }

  // Reads every metadata file. An unreadable one is not listed, and it
  // blocks the removal of shared tables (they might be its).
  Status load() REQUIRES(mu_) {
    std::vector<std::string> names;
    Status s = env_->get_children(root_ + "/meta", &names);
    if (!s.ok()) return s;
    for (const auto& name : names) {
      uint64_t id = 0;
      if (!ParseId(name, &id)) continue;
      next_id_ = std::max(next_id_, id + 1);
      std::string data;
      BackupMeta m;
      s = ReadFileToString(env_, meta_file(id), &data);
      if (s.ok()) s = DecodeBackupMeta(meta_file(id), data, &m);
      if (s.ok() && m.id != id) s = Status::Corruption(meta_file(id), "names backup " + std::to_string(m.id));
      if (s.ok()) {
        backups_[id] = std::move(m);
      } else if (s.IsCorruption() || s.IsNotSupported()) {
        unreadable_.insert(id);
      } else {
        return s;
      }
    }
    std::vector<std::string> dirs;
    s = env_->get_children(root_ + "/private", &dirs);
    if (!s.ok()) return s;
    for (const auto& name : dirs) {
      uint64_t id = 0;
      if (ParseId(name, &id)) next_id_ = std::max(next_id_, id + 1);
    }
    // The last id handed out (written before each backup); a missing or
    // unreadable one only loses the guarantee for ids of deleted backups.
    std::string last;
    uint64_t last_id = 0;
    if (ReadFileToString(env_, root_ + "/meta/LAST_ID", &last).ok() && ParseId(last, &last_id)) {
      next_id_ = std::max(next_id_, last_id + 1);
    }
    return Status::OK();
  }

  // A crash during create_backup leaves files of a backup with no metadata
  // (or a temporary one); delete_backup leaves the files of a backup whose
  // metadata is gone. Neither is listed; remove them.
  Status remove_debris() REQUIRES(mu_) {
    std::vector<std::string> names;
    Status s = env_->get_children(root_ + "/meta", &names);
    if (!s.ok()) return s;
    for (const auto& name : names) {
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) {
        (void)env_->remove_file(root_ + "/meta/" + name);
      }
    }
    std::vector<std::string> dirs;
    s = env_->get_children(root_ + "/private", &dirs);
    if (!s.ok()) return s;
    for (const auto& name : dirs) {
      uint64_t id = 0;
      if (ParseId(name, &id) && backups_.count(id) == 0 && unreadable_.count(id) == 0) {
        s = RemoveDirAndFiles(env_, root_ + "/private/" + name);
        if (!s.ok()) return s;
      }
    }
    return remove_unreferenced_shared();
  }

  Status remove_unreferenced_shared() REQUIRES(mu_) {
    std::vector<std::string> names;
    Status s = env_->get_children(root_ + "/shared", &names);
    if (!s.ok()) return s;
    std::set<std::string> used;
    for (const auto& [id, m] : backups_) {
      for (const auto& f : m.files) used.insert(f.path);
    }
    for (const auto& name : names) {
      const bool tmp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
      // With an unreadable metadata file, a table might still be someone's.
      if (tmp || (unreadable_.empty() && used.count("shared/" + name) == 0)) {
        s = env_->remove_file(root_ + "/shared/" + name);
        if (!s.ok()) return s;
      }
    }
    return env_->sync_dir(root_ + "/shared");
  }

  Env* const env_;
  const std::string root_;
  port::Mutex mu_;
  std::unique_ptr<FileLock> lock_ GUARDED_BY(mu_);
  std::map<uint64_t, BackupMeta> backups_ GUARDED_BY(mu_);
  std::set<uint64_t> unreadable_ GUARDED_BY(mu_);
  uint64_t next_id_ GUARDED_BY(mu_) = 1;
};

Result<std::unique_ptr<BackupEngine>> BackupEngine::open(const std::string& backup_root, Env* env) {
  std::unique_ptr<BackupEngine> engine;
  Status s = NoThrow([&] {
    if (backup_root.empty()) return Status::InvalidArgument("empty backup root path");
    auto impl = std::make_unique<Impl>(env != nullptr ? env : Env::Default(), backup_root);
    Status st = impl->open();
    if (!st.ok()) {
      (void)impl->close();
      return st;
    }
    engine.reset(new BackupEngine(std::move(impl)));
    return Status::OK();
  });
  if (!s.ok()) return s;
  return engine;
}

BackupEngine::BackupEngine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BackupEngine::~BackupEngine() { (void)close(); }

Result<uint64_t> BackupEngine::create_backup(Database& db) {
  Result<uint64_t> r = Status::Aborted("create_backup");
  Status s = NoThrow([&] {
    r = impl_->create_backup(db);
    return Status::OK();
  });
  if (!s.ok()) return s;
  return r;
}

Result<std::vector<BackupInfo>> BackupEngine::list_backups() {
  Result<std::vector<BackupInfo>> r = Status::Aborted("list_backups");
  Status s = NoThrow([&] {
    r = impl_->list_backups();
    return Status::OK();
  });
  if (!s.ok()) return s;
  return r;
}

Status BackupEngine::verify_backup(uint64_t id) {
  return NoThrow([&] { return impl_->verify_backup(id); });
}
Status BackupEngine::delete_backup(uint64_t id) {
  return NoThrow([&] { return impl_->delete_backup(id); });
}
Status BackupEngine::purge_old_backups(size_t keep_n) {
  return NoThrow([&] { return impl_->purge_old_backups(keep_n); });
}
Status BackupEngine::restore(uint64_t id, const std::string& db_dir, bool overwrite) {
  return NoThrow([&] { return impl_->restore(id, db_dir, overwrite); });
}
Status BackupEngine::close() { return impl_ != nullptr ? impl_->close() : Status::OK(); }

}  // namespace lightning
