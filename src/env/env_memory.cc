// Copyright (c) Lightning authors. MIT License.
//
// An Env whose files live in process memory. Paths are plain strings; a
// directory is a name in a set, and its children are the entries whose path is
// "<dir>/<name>". File objects share the file's state, so data appended
// through one handle is visible to readers opened before or after. Every
// access to a file's bytes holds that file's mutex, which also makes
// RandomRWFile reads safe beside writes. map_file() stays NotSupported (a
// std::string cannot be mapped stably while it grows).
#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "lightning/env.h"
#include "port/mutex.h"

namespace lightning {
namespace {

struct MemFile {
  port::Mutex mu;
  std::string data GUARDED_BY(mu);
};

std::string TrimSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

std::string ParentOf(const std::string& path) {
  const size_t pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

class MemSequentialFile final : public SequentialFile {
 public:
  explicit MemSequentialFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}
  Status read(size_t n, Slice* result, char* scratch) override {
    port::MutexLock l(&file_->mu);
    const size_t avail = pos_ < file_->data.size() ? file_->data.size() - pos_ : 0;
    n = std::min(n, avail);
    if (n > 0) std::memcpy(scratch, file_->data.data() + pos_, n);
    pos_ += n;
    *result = Slice(scratch, n);
    return Status::OK();
  }
  Status skip(uint64_t n) override {
    pos_ += n;
    return Status::OK();
  }

 private:
  std::shared_ptr<MemFile> file_;
  uint64_t pos_ = 0;
};

class MemRandomAccessFile final : public RandomAccessFile {
 public:
  explicit MemRandomAccessFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}
  Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
    port::MutexLock l(&file_->mu);
    const size_t size = file_->data.size();
    const size_t avail = offset < size ? size - offset : 0;
    n = std::min(n, avail);
    if (n > 0) std::memcpy(scratch, file_->data.data() + offset, n);
    *result = Slice(scratch, n);
    return Status::OK();
  }

 private:
  std::shared_ptr<MemFile> file_;
};

class MemWritableFile final : public WritableFile {
 public:
  explicit MemWritableFile(std::shared_ptr<MemFile> file) : file_(std::move(file)) {}
  Status append(const Slice& data) override {
    port::MutexLock l(&file_->mu);
    if (!prefilled_) {
      file_->data.append(data.data(), data.size());
      return Status::OK();
    }
    // Over the zeros; a gap left by an outside truncation reads as zeros.
    const size_t end = append_pos_ + data.size();
    if (end > file_->data.size()) file_->data.resize(end, '\0');
    if (!data.empty()) std::memcpy(&file_->data[append_pos_], data.data(), data.size());
    append_pos_ = end;
    return Status::OK();
  }
  Status flush() override { return Status::OK(); }
  Status sync() override { return Status::OK(); }
  Status sync_flushed() override { return Status::OK(); }
  Status prefill_zeros(uint64_t size) override {
    port::MutexLock l(&file_->mu);
    if (!prefilled_) {
      prefilled_ = true;
      append_pos_ = file_->data.size();
    }
    if (size > file_->data.size()) file_->data.resize(static_cast<size_t>(size), '\0');
    return Status::OK();
  }
  Status close() override {
    port::MutexLock l(&file_->mu);
    if (prefilled_ && file_->data.size() > append_pos_) file_->data.resize(append_pos_);
    prefilled_ = false;
    return Status::OK();
  }

 private:
  std::shared_ptr<MemFile> file_;
  // After the first prefill_zeros(), appends go to append_pos_ instead of
  // the end of the data.
  bool prefilled_ = false;
  size_t append_pos_ = 0;
};

class MemRandomRWFile final : public RandomRWFile {
 public:
  MemRandomRWFile(std::string fname, std::shared_ptr<MemFile> file)
      : fname_(std::move(fname)), file_(std::move(file)) {}

  Status write(uint64_t offset, const Slice& data) override {
    if (closed_) return Status::IOError("write to closed file " + fname_);
    if (data.empty()) return Status::OK();
    port::MutexLock l(&file_->mu);
    const uint64_t end = offset + data.size();
    if (end > file_->data.size()) file_->data.resize(static_cast<size_t>(end), '\0');  // a hole reads as zeros
    std::memcpy(&file_->data[static_cast<size_t>(offset)], data.data(), data.size());
    return Status::OK();
  }

  Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
    if (closed_) return Status::IOError("read from closed file " + fname_);
    port::MutexLock l(&file_->mu);
    const size_t size = file_->data.size();
    const size_t avail = offset < size ? size - static_cast<size_t>(offset) : 0;
    n = std::min(n, avail);
    if (n > 0) std::memcpy(scratch, file_->data.data() + offset, n);
    *result = Slice(scratch, n);
    return Status::OK();
  }

  Status sync() override {
    if (closed_) return Status::IOError("sync of closed file " + fname_);
    return Status::OK();
  }

  Status close() override {
    closed_ = true;
    return Status::OK();
  }

 private:
  const std::string fname_;
  std::shared_ptr<MemFile> file_;
  // Only changed by close(), which must not run beside other calls.
  bool closed_ = false;
};

class MemFileLock final : public FileLock {
 public:
  explicit MemFileLock(std::string n) : name(std::move(n)) {}
  const std::string name;
};

class MemoryEnv final : public Env {
 public:
  Status new_sequential_file(const std::string& fname, std::unique_ptr<SequentialFile>* result) override {
    port::MutexLock l(&mu_);
    auto it = files_.find(fname);
    if (it == files_.end()) return Status::NotFound("open " + fname, "no such file");
    *result = std::make_unique<MemSequentialFile>(it->second);
    return Status::OK();
  }

  Status new_random_access_file(const std::string& fname, std::unique_ptr<RandomAccessFile>* result) override {
    port::MutexLock l(&mu_);
    auto it = files_.find(fname);
    if (it == files_.end()) return Status::NotFound("open " + fname, "no such file");
    *result = std::make_unique<MemRandomAccessFile>(it->second);
    return Status::OK();
  }

  Status new_writable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override {
    port::MutexLock l(&mu_);
    Status s = check_parent(fname);
    if (!s.ok()) return s;
    auto file = std::make_shared<MemFile>();
    files_[fname] = file;  // truncates by replacing
    *result = std::make_unique<MemWritableFile>(file);
    return Status::OK();
  }

  Status new_appendable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override {
    port::MutexLock l(&mu_);
    Status s = check_parent(fname);
    if (!s.ok()) return s;
    auto& file = files_[fname];
    if (!file) file = std::make_shared<MemFile>();
    *result = std::make_unique<MemWritableFile>(file);
    return Status::OK();
  }

  Status new_random_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) override {
    port::MutexLock l(&mu_);
    Status s = check_parent(fname);
    if (!s.ok()) return s;
    if (dirs_.count(TrimSlashes(fname)) > 0) return Status::IOError("open " + fname, "is a directory");
    auto& file = files_[fname];
    if (!file) file = std::make_shared<MemFile>();  // never truncates
    *result = std::make_unique<MemRandomRWFile>(fname, file);
    return Status::OK();
  }

  bool file_exists(const std::string& fname) override {
    port::MutexLock l(&mu_);
    return files_.count(fname) > 0 || dirs_.count(TrimSlashes(fname)) > 0;
  }

  Status is_directory(const std::string& path, bool* is_dir) override {
    port::MutexLock l(&mu_);
    if (dirs_.count(TrimSlashes(path)) > 0) {
      *is_dir = true;
    } else if (files_.count(path) > 0) {
      *is_dir = false;
    } else {
      return Status::NotFound("stat " + path, "no such file or directory");
    }
    return Status::OK();
  }

  Status get_children(const std::string& dir, std::vector<std::string>* result) override {
    port::MutexLock l(&mu_);
    result->clear();
    const std::string d = TrimSlashes(dir);
    if (dirs_.count(d) == 0) return Status::NotFound("opendir " + dir, "no such directory");
    const std::string prefix = d + "/";
    auto add_children = [&](const auto& names) {
      for (const auto& entry : names) {
        const std::string& name = key_of(entry);
        if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
            name.find('/', prefix.size()) == std::string::npos) {
          result->push_back(name.substr(prefix.size()));
        }
      }
    };
    add_children(files_);
    add_children(dirs_);
    return Status::OK();
  }

  Status remove_file(const std::string& fname) override {
    port::MutexLock l(&mu_);
    if (files_.erase(fname) == 0) return Status::NotFound("unlink " + fname, "no such file");
    return Status::OK();
  }

  Status create_dir_if_missing(const std::string& dir) override {
    port::MutexLock l(&mu_);
    const std::string d = TrimSlashes(dir);
    if (files_.count(d) > 0) return Status::InvalidArgument(dir, "exists and is not a directory");
    dirs_.insert(d);
    return Status::OK();
  }

  Status remove_dir(const std::string& dir) override {
    port::MutexLock l(&mu_);
    if (dirs_.erase(TrimSlashes(dir)) == 0) return Status::NotFound("rmdir " + dir, "no such directory");
    return Status::OK();
  }

  Status get_file_size(const std::string& fname, uint64_t* size) override {
    std::shared_ptr<MemFile> file;
    {
      port::MutexLock l(&mu_);
      auto it = files_.find(fname);
      if (it == files_.end()) return Status::NotFound("stat " + fname, "no such file");
      file = it->second;
    }
    port::MutexLock fl(&file->mu);
    *size = file->data.size();
    return Status::OK();
  }

  Status rename_file(const std::string& src, const std::string& target) override {
    port::MutexLock l(&mu_);
    auto it = files_.find(src);
    if (it == files_.end()) return Status::NotFound("rename " + src, "no such file");
    auto file = it->second;
    files_.erase(it);
    files_[target] = std::move(file);
    return Status::OK();
  }

  Status truncate_file(const std::string& fname, uint64_t size) override {
    std::shared_ptr<MemFile> file;
    {
      port::MutexLock l(&mu_);
      auto it = files_.find(fname);
      if (it == files_.end()) return Status::NotFound("truncate " + fname, "no such file");
      file = it->second;
    }
    port::MutexLock fl(&file->mu);
    file->data.resize(size, '\0');
    return Status::OK();
  }

  Status sync_dir(const std::string& dir) override {
    port::MutexLock l(&mu_);
    if (dirs_.count(TrimSlashes(dir)) == 0) return Status::NotFound("open directory " + dir, "no such directory");
    return Status::OK();
  }

  Status lock_file(const std::string& fname, std::unique_ptr<FileLock>* lock) override {
    port::MutexLock l(&mu_);
    if (!locks_.insert(fname).second) {
      return Status::Busy(fname, "the database is locked by another open handle");
    }
    if (files_.count(fname) == 0) files_[fname] = std::make_shared<MemFile>();
    *lock = std::make_unique<MemFileLock>(fname);
    return Status::OK();
  }

  Status unlock_file(std::unique_ptr<FileLock> lock) override {
    port::MutexLock l(&mu_);
    locks_.erase(static_cast<MemFileLock*>(lock.get())->name);
    return Status::OK();
  }

  uint64_t now_micros() override { return Env::Default()->now_micros(); }
  void sleep_for_micros(uint64_t micros) override { std::this_thread::sleep_for(std::chrono::microseconds(micros)); }

 private:
  static const std::string& key_of(const std::pair<const std::string, std::shared_ptr<MemFile>>& e) {
    return e.first;
  }
  static const std::string& key_of(const std::string& e) { return e; }

  Status check_parent(const std::string& fname) REQUIRES(mu_) {
    const std::string parent = ParentOf(fname);
    if (parent != "." && parent != "/" && dirs_.count(parent) == 0) {
      return Status::NotFound("open " + fname, "no such directory");
    }
    return Status::OK();
  }

  port::Mutex mu_;
  std::map<std::string, std::shared_ptr<MemFile>> files_ GUARDED_BY(mu_);
  std::set<std::string> dirs_ GUARDED_BY(mu_);
  std::set<std::string> locks_ GUARDED_BY(mu_);
};

}  // namespace

std::unique_ptr<Env> NewMemoryEnv() { return std::make_unique<MemoryEnv>(); }

}  // namespace lightning
