// Copyright (c) Lightning authors. MIT License.
//
// The POSIX Env. Writable files buffer in user space and write(2) on flush();
// sync() is fdatasync(2); prefill_zeros() pwrite(2)s zeros past the append
// position. Random read-write files pwrite(2)/pread(2) directly
// (no buffer); map_file() is a read-only MAP_SHARED mmap(2). Locks are flock(2) locks, which conflict between
// open file descriptions, so a second open of the same database in this
// process is refused just like one from another process.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "lightning/env.h"

namespace lightning {
namespace {

Status PosixError(const std::string& context, int err) {
  const std::string detail = std::strerror(err);
  if (err == ENOENT) return Status::NotFound(context, detail);
  return Status::IOError(context, detail);
}

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string fname, int fd) : fname_(std::move(fname)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status read(size_t n, Slice* result, char* scratch) override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = ::read(fd_, scratch + done, n - done);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("read " + fname_, errno);
      }
      if (r == 0) break;
      done += static_cast<size_t>(r);
    }
    *result = Slice(scratch, done);
    return Status::OK();
  }

  Status skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) == static_cast<off_t>(-1)) {
      return PosixError("seek " + fname_, errno);
    }
    return Status::OK();
  }

 private:
  const std::string fname_;
  const int fd_;
};

// Reads up to n bytes at offset, retrying on EINTR and short reads; fewer
// than n only at end of file.
Status PreadFully(const std::string& fname, int fd, uint64_t offset, size_t n, Slice* result, char* scratch) {
  size_t done = 0;
  while (done < n) {
    const ssize_t r = ::pread(fd, scratch + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return PosixError("pread " + fname, errno);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *result = Slice(scratch, done);
  return Status::OK();
}

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string fname, int fd) : fname_(std::move(fname)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
    return PreadFully(fname_, fd_, offset, n, result, scratch);
  }

 private:
  const std::string fname_;
  const int fd_;
};

class PosixWritableFile final : public WritableFile {
 public:
  // truncated: the file was created empty (O_TRUNC), so its size is known and
  // prefill_zeros() can write past it; not for O_APPEND files.
  PosixWritableFile(std::string fname, int fd, bool truncated)
      : fname_(std::move(fname)), fd_(fd), can_prefill_(truncated) {}
  // Flushes like close(), but leaves prefilled zeros in place (see env.h).
  ~PosixWritableFile() override {
    if (fd_ < 0) return;
    (void)flush();
    ::close(fd_);
  }

  Status append(const Slice& data) override {
    if (fd_ < 0) return Status::IOError("append to closed file " + fname_);
    // Large writes bypass the buffer to avoid a copy.
    if (buffer_.size() + data.size() > kBufferSize) {
      Status s = flush();
      if (!s.ok()) return s;
      if (data.size() > kBufferSize / 2) return write_all(data.data(), data.size());
    }
    buffer_.append(data.data(), data.size());
    return Status::OK();
  }

  Status flush() override {
    if (buffer_.empty()) return Status::OK();
    Status s = write_all(buffer_.data(), buffer_.size());
    buffer_.clear();
    return s;
  }

  Status sync() override {
    Status s = flush();
    if (!s.ok()) return s;
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync " + fname_, errno);
    return Status::OK();
  }

  // Touches only the descriptor, never buffer_: safe beside append()/flush().
  Status sync_flushed() override {
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync " + fname_, errno);
    return Status::OK();
  }

  // The zeros go in with pwrite(2), which leaves the descriptor's offset (the
  // append position) alone.
  Status prefill_zeros(uint64_t size) override {
    if (fd_ < 0) return Status::IOError("prefill of closed file " + fname_);
    if (!can_prefill_) return Status::NotSupported("prefill_zeros", "file opened for appending");
    Status s = flush();
    if (!s.ok()) return s;
    static const char kZeros[64 * 1024] = {};
    uint64_t offset = std::max(file_end_, written_);
    while (offset < size) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(kZeros), size - offset));
      const ssize_t r = ::pwrite(fd_, kZeros, n, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("pwrite " + fname_, errno);
      }
      offset += static_cast<uint64_t>(r);
      file_end_ = offset;
    }
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    Status s = flush();
    // Zeros past the appended bytes are cut off; were the cut lost in a
    // crash, readers take them for the end anyway.
    if (s.ok() && file_end_ > written_ && ::ftruncate(fd_, static_cast<off_t>(written_)) != 0) {
      s = PosixError("ftruncate " + fname_, errno);
    }
    if (::close(fd_) != 0 && s.ok()) s = PosixError("close " + fname_, errno);
    fd_ = -1;
    return s;
  }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  Status write_all(const char* p, size_t n) {
    while (n > 0) {
      const ssize_t r = ::write(fd_, p, n);
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("write " + fname_, errno);
      }
      p += r;
      n -= static_cast<size_t>(r);
      written_ += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  const std::string fname_;
  int fd_;
  const bool can_prefill_;
  std::string buffer_;
  // Bytes written at the append position (meaningful when can_prefill_), and
  // the end of the zeros prefill_zeros() wrote past them.
  uint64_t written_ = 0;
  uint64_t file_end_ = 0;
};

class PosixRandomRWFile final : public RandomRWFile {
 public:
  PosixRandomRWFile(std::string fname, int fd) : fname_(std::move(fname)), fd_(fd) {}
  ~PosixRandomRWFile() override {
    if (fd_ >= 0) (void)close();
  }

  Status write(uint64_t offset, const Slice& data) override {
    if (fd_ < 0) return Status::IOError("write to closed file " + fname_);
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      const ssize_t r = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
      if (r < 0) {
        if (errno == EINTR) continue;
        return PosixError("pwrite " + fname_, errno);
      }
      p += r;
      left -= static_cast<size_t>(r);
      offset += static_cast<uint64_t>(r);
    }
    return Status::OK();
  }

  Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
    if (fd_ < 0) return Status::IOError("read from closed file " + fname_);
    return PreadFully(fname_, fd_, offset, n, result, scratch);
  }

  Status sync() override {
    if (fd_ < 0) return Status::IOError("sync of closed file " + fname_);
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync " + fname_, errno);
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    Status s;
    if (::close(fd_) != 0) s = PosixError("close " + fname_, errno);
    fd_ = -1;
    return s;
  }

 private:
  const std::string fname_;
  int fd_;
};

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(void* base, size_t size) : base_(base), size_(size) {}
  ~PosixMappedRegion() override {
    if (base_ != nullptr) (void)::munmap(base_, size_);
  }
  const char* data() const override { return static_cast<const char*>(base_); }
  size_t size() const override { return size_; }
  void populate(size_t offset, size_t length) const override {
#ifdef MADV_POPULATE_READ
    // Maps the pages (reading any the page cache lacks) in one call instead
    // of a fault per few pages on first touch. Errors only leave the pages
    // to be faulted in as usual (EINVAL before Linux 5.14).
    if (base_ == nullptr || offset >= size_) return;
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t begin = offset / page * page;
    const size_t end = std::min(size_, offset + length);
    (void)::madvise(static_cast<char*>(base_) + begin, end - begin, MADV_POPULATE_READ);
#else
    (void)offset;
    (void)length;
#endif
  }

 private:
  void* const base_;  // nullptr for an empty region
  const size_t size_;
};

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(int lock_fd, std::string lock_name) : fd(lock_fd), fname(std::move(lock_name)) {}
  const int fd;
  const std::string fname;
};

class PosixEnv final : public Env {
 public:
  Status new_sequential_file(const std::string& fname, std::unique_ptr<SequentialFile>* result) override {
    const int fd = ::open(fname.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + fname, errno);
    *result = std::make_unique<PosixSequentialFile>(fname, fd);
    return Status::OK();
  }

  Status new_random_access_file(const std::string& fname, std::unique_ptr<RandomAccessFile>* result) override {
    const int fd = ::open(fname.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + fname, errno);
    *result = std::make_unique<PosixRandomAccessFile>(fname, fd);
    return Status::OK();
  }

  Status new_writable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override {
    return open_writable(fname, O_TRUNC, result);
  }

  Status new_appendable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override {
    return open_writable(fname, O_APPEND, result);
  }

  Status new_random_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) override {
    const int fd = ::open(fname.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open " + fname, errno);
    *result = std::make_unique<PosixRandomRWFile>(fname, fd);
    return Status::OK();
  }

  // The mapping outlives the descriptor (mmap keeps its own reference).
  Status map_file(const std::string& fname, size_t length, std::unique_ptr<MappedRegion>* result) override {
    result->reset();
    const int fd = ::open(fname.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("open " + fname, errno);
    void* base = nullptr;
    if (length > 0) {  // mmap(2) refuses a zero length
      base = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
      if (base == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        return PosixError("mmap " + fname, err);
      }
    }
    ::close(fd);
    *result = std::make_unique<PosixMappedRegion>(base, length);
    return Status::OK();
  }

  bool file_exists(const std::string& fname) override { return ::access(fname.c_str(), F_OK) == 0; }

  Status is_directory(const std::string& path, bool* is_dir) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat " + path, errno);
    *is_dir = S_ISDIR(st.st_mode);
    return Status::OK();
  }

  Status get_children(const std::string& dir, std::vector<std::string>* result) override {
    result->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir " + dir, errno);
    while (struct dirent* entry = ::readdir(d)) {
      if (std::strcmp(entry->d_name, ".") == 0 || std::strcmp(entry->d_name, "..") == 0) continue;
      result->emplace_back(entry->d_name);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status remove_file(const std::string& fname) override {
    if (::unlink(fname.c_str()) != 0) return PosixError("unlink " + fname, errno);
    return Status::OK();
  }

  Status create_dir_if_missing(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0) return Status::OK();
    const int err = errno;
    if (err == EEXIST) {
      bool is_dir = false;
      Status s = is_directory(dir, &is_dir);
      if (!s.ok()) return s;
      if (is_dir) return Status::OK();
      return Status::InvalidArgument(dir, "exists and is not a directory");
    }
    return PosixError("mkdir " + dir, err);
  }

  Status remove_dir(const std::string& dir) override {
    if (::rmdir(dir.c_str()) != 0) return PosixError("rmdir " + dir, errno);
    return Status::OK();
  }

  Status get_file_size(const std::string& fname, uint64_t* size) override {
    struct stat st;
    if (::stat(fname.c_str(), &st) != 0) return PosixError("stat " + fname, errno);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status link_file(const std::string& src, const std::string& target) override {
    if (::link(src.c_str(), target.c_str()) != 0) return PosixError("link " + src + " to " + target, errno);
    return Status::OK();
  }
  Status rename_file(const std::string& src, const std::string& target) override {
    if (::rename(src.c_str(), target.c_str()) != 0) return PosixError("rename " + src + " to " + target, errno);
    return Status::OK();
  }

  Status truncate_file(const std::string& fname, uint64_t size) override {
    if (::truncate(fname.c_str(), static_cast<off_t>(size)) != 0) return PosixError("truncate " + fname, errno);
    return Status::OK();
  }

  Status sync_dir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("open directory " + dir, errno);
    Status s;
    if (::fsync(fd) != 0) s = PosixError("fsync directory " + dir, errno);
    ::close(fd);
    return s;
  }

  Status lock_file(const std::string& fname, std::unique_ptr<FileLock>* lock) override {
    const int fd = ::open(fname.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("open lock file " + fname, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Busy(fname, "the database is locked by another process (or another open handle)");
      }
      return PosixError("lock " + fname, err);
    }
    *lock = std::make_unique<PosixFileLock>(fd, fname);
    return Status::OK();
  }

  Status unlock_file(std::unique_ptr<FileLock> lock) override {
    auto* l = static_cast<PosixFileLock*>(lock.get());
    Status s;
    if (::flock(l->fd, LOCK_UN) != 0) s = PosixError("unlock " + l->fname, errno);
    ::close(l->fd);
    return s;
  }

  uint64_t now_micros() override {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }

  void sleep_for_micros(uint64_t micros) override { std::this_thread::sleep_for(std::chrono::microseconds(micros)); }

 private:
  static Status open_writable(const std::string& fname, int extra_flags, std::unique_ptr<WritableFile>* result) {
    const int fd = ::open(fname.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags, 0644);
    if (fd < 0) return PosixError("open " + fname, errno);
    *result = std::make_unique<PosixWritableFile>(fname, fd, (extra_flags & O_TRUNC) != 0);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* const kDefault = new PosixEnv();
  return kDefault;
}

}  // namespace lightning
