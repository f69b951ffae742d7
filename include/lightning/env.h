// Copyright (c) Lightning authors. MIT License.
//
// Env: the one interface between the engine and the operating system. Every
// file and clock call the engine makes goes through an Env, so that tests can
// substitute an in-memory or fault-injecting implementation, and so that a
// purely in-memory database is just a database opened on NewMemoryEnv().
//
// Thread-safety: an Env is safe to use from many threads at once. A file
// object is used by one thread at a time unless its comment says otherwise.
// Lifetime: an Env must outlive every Database and file object created on it.
// Env::Default() lives for the whole process.
#ifndef LIGHTNING_ENV_H_
#define LIGHTNING_ENV_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lightning/export.h"
#include "lightning/slice.h"
#include "lightning/status.h"

namespace lightning {

// A file read from start to end.
class LIGHTNING_EXPORT SequentialFile {
 public:
  virtual ~SequentialFile();
  // Reads up to n bytes. *result points into scratch (or into the file's own
  // memory). A short read (fewer than n bytes, possibly 0) means end of file.
  virtual Status read(size_t n, Slice* result, char* scratch) = 0;
  virtual Status skip(uint64_t n) = 0;
};

// A file read at arbitrary offsets. Safe for concurrent reads.
class LIGHTNING_EXPORT RandomAccessFile {
 public:
  virtual ~RandomAccessFile();
  // Reads up to n bytes at offset. *result points into scratch or into the
  // file's own memory, which stays valid while the file object lives.
  virtual Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const = 0;
};

// A file written sequentially. Data reaches the OS on flush() and stable
// storage on sync(). close() flushes, but does not sync.
class LIGHTNING_EXPORT WritableFile {
 public:
  virtual ~WritableFile();
  virtual Status append(const Slice& data) = 0;
  virtual Status flush() = 0;
  // Durably persists the data appended so far (fdatasync).
  virtual Status sync() = 0;
  // Durably persists the data that flush() had handed to the OS before this
  // call. Unlike the other methods it may run concurrently with append() and
  // flush() from another thread, so a background fsync need not stop the
  // writer. Default: NotSupported (use sync() instead).
  virtual Status sync_flushed();
  // Makes the file at least `size` bytes long by filling the space past the
  // bytes appended so far with zeros; the append position does not move, so
  // later appends overwrite the zeros in place. For an append-only log with
  // frequent syncs: on POSIX the zeros are really written (not just reserved
  // with fallocate), so that once a sync() has made them durable, a sync() of
  // appends within them flushes data only and commits no file-size or extent
  // change -- the slow part of an fdatasync that grows a file. A reader of
  // such a file sees the zeros after the appended bytes, and must take them
  // for the end. close() cuts the file back to the bytes appended; a file
  // destroyed without close() keeps its zeros, as after a crash. Same
  // threading contract as append(). Default: NotSupported (callers just
  // append); so do files from new_appendable_file().
  virtual Status prefill_zeros(uint64_t size);
  virtual Status close() = 0;
};

// A file read and written in place at arbitrary offsets: the B+Tree page
// file. Writes reach the OS at once (no user-space buffer); sync() makes
// every write made before it durable. Safe for concurrent read()s, and for
// read()s concurrent with a write() of a different range.
class LIGHTNING_EXPORT RandomRWFile {
 public:
  virtual ~RandomRWFile();
  virtual Status write(uint64_t offset, const Slice& data) = 0;
  // Reads up to n bytes at offset into scratch. A short read means end of file.
  virtual Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const = 0;
  virtual Status sync() = 0;
  virtual Status close() = 0;
};

// A read-only shared memory map of a file's first size() bytes. Bytes past
// the file's end must not be touched (the OS may fault); writes made to the
// file after mapping (by RandomRWFile::write) become visible through it.
// Thread-safety: immutable; any number of threads may read through it.
class LIGHTNING_EXPORT MappedRegion {
 public:
  virtual ~MappedRegion();
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
  // A hint that [offset, offset + length), all within the file, will be
  // read soon: an implementation may map those pages into the process now,
  // so that the reads do not take page faults. Best effort, never fails.
  // Default: nothing.
  virtual void populate(size_t offset, size_t length) const;
};

// A held lock on a file; release it with Env::unlock_file.
class LIGHTNING_EXPORT FileLock {
 public:
  virtual ~FileLock();
};

class LIGHTNING_EXPORT Env {
 public:
  virtual ~Env();

  // The POSIX environment. Never deleted.
  static Env* Default();

  virtual Status new_sequential_file(const std::string& fname, std::unique_ptr<SequentialFile>* result) = 0;
  virtual Status new_random_access_file(const std::string& fname, std::unique_ptr<RandomAccessFile>* result) = 0;
  // Creates fname, truncating an existing file.
  virtual Status new_writable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) = 0;
  // Opens fname for appending, creating it if missing.
  virtual Status new_appendable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) = 0;

  // Opens fname for reading and writing in place, creating it (empty) if
  // missing; never truncates.
  virtual Status new_random_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) = 0;
  // Maps the first `length` bytes of fname read-only (length may exceed the
  // file's current size; see MappedRegion). Default: NotSupported, and
  // callers then read through RandomRWFile::read instead.
  virtual Status map_file(const std::string& fname, size_t length, std::unique_ptr<MappedRegion>* result);

  virtual bool file_exists(const std::string& fname) = 0;
  // Sets *is_dir; NotFound if the path does not exist.
  virtual Status is_directory(const std::string& path, bool* is_dir) = 0;
  // The names (not paths) of the entries of dir, without "." and "..".
  virtual Status get_children(const std::string& dir, std::vector<std::string>* result) = 0;
  virtual Status remove_file(const std::string& fname) = 0;
  // Creates dir; OK if it already exists as a directory.
  virtual Status create_dir_if_missing(const std::string& dir) = 0;
  virtual Status remove_dir(const std::string& dir) = 0;
  virtual Status get_file_size(const std::string& fname, uint64_t* size) = 0;
  // Atomically replaces target with src.
  virtual Status rename_file(const std::string& src, const std::string& target) = 0;
  // Shrinks (or extends with zeros) fname to size bytes.
  virtual Status truncate_file(const std::string& fname, uint64_t size) = 0;
  // Creates target as a hard link to src (same filesystem). Default:
  // NotSupported, and callers copy instead.
  virtual Status link_file(const std::string& src, const std::string& target);
  // Makes the creation, removal and renaming of entries of dir durable.
  virtual Status sync_dir(const std::string& dir) = 0;

  // Takes an exclusive advisory lock on fname (created if missing). Busy if
  // another process, or another open Database in this process, holds it.
  virtual Status lock_file(const std::string& fname, std::unique_ptr<FileLock>* lock) = 0;
  virtual Status unlock_file(std::unique_ptr<FileLock> lock) = 0;

  virtual uint64_t now_micros() = 0;
  virtual void sleep_for_micros(uint64_t micros) = 0;
};

// An Env that forwards every call to a target Env; derive from it and
// override only the calls to intercept. The target must outlive it.
class LIGHTNING_EXPORT EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  Status new_sequential_file(const std::string& f, std::unique_ptr<SequentialFile>* r) override {
    return target_->new_sequential_file(f, r);
  }
  Status new_random_access_file(const std::string& f, std::unique_ptr<RandomAccessFile>* r) override {
    return target_->new_random_access_file(f, r);
  }
  Status new_writable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    return target_->new_writable_file(f, r);
  }
  Status new_appendable_file(const std::string& f, std::unique_ptr<WritableFile>* r) override {
    return target_->new_appendable_file(f, r);
  }
  Status new_random_rw_file(const std::string& f, std::unique_ptr<RandomRWFile>* r) override {
    return target_->new_random_rw_file(f, r);
  }
  Status map_file(const std::string& f, size_t length, std::unique_ptr<MappedRegion>* r) override {
    return target_->map_file(f, length, r);
  }
  bool file_exists(const std::string& f) override { return target_->file_exists(f); }
  Status is_directory(const std::string& p, bool* is_dir) override { return target_->is_directory(p, is_dir); }
  Status get_children(const std::string& d, std::vector<std::string>* r) override {
    return target_->get_children(d, r);
  }
  Status remove_file(const std::string& f) override { return target_->remove_file(f); }
  Status create_dir_if_missing(const std::string& d) override { return target_->create_dir_if_missing(d); }
  Status remove_dir(const std::string& d) override { return target_->remove_dir(d); }
  Status get_file_size(const std::string& f, uint64_t* size) override { return target_->get_file_size(f, size); }
  Status rename_file(const std::string& src, const std::string& dst) override { return target_->rename_file(src, dst); }
  Status truncate_file(const std::string& f, uint64_t size) override { return target_->truncate_file(f, size); }
  Status link_file(const std::string& src, const std::string& dst) override { return target_->link_file(src, dst); }
  Status sync_dir(const std::string& d) override { return target_->sync_dir(d); }
  Status lock_file(const std::string& f, std::unique_ptr<FileLock>* lock) override {
    return target_->lock_file(f, lock);
  }
  Status unlock_file(std::unique_ptr<FileLock> lock) override { return target_->unlock_file(std::move(lock)); }
  uint64_t now_micros() override { return target_->now_micros(); }
  void sleep_for_micros(uint64_t micros) override { target_->sleep_for_micros(micros); }

 private:
  Env* const target_;
};

// An Env whose files live in memory: fast, and gone when the Env is
// destroyed. Use it for tests, or for a database that needs no persistence.
// Locks are per Env object.
LIGHTNING_EXPORT std::unique_ptr<Env> NewMemoryEnv();

// Convenience helpers over an Env.
LIGHTNING_EXPORT Status WriteStringToFile(Env* env, const Slice& data, const std::string& fname, bool sync);
LIGHTNING_EXPORT Status ReadFileToString(Env* env, const std::string& fname, std::string* data);

}  // namespace lightning

#endif  // LIGHTNING_ENV_H_
