// Copyright (c) Lightning authors. MIT License.
//
// FaultInjectionEnv: an Env that wraps another Env (POSIX or in-memory) and
// can simulate, on demand, the three ways storage lets an engine down:
//
//  1. Power loss. The Env remembers, for every file written through it, how
//     many bytes sync() made durable, and which directory entries (files
//     created, files renamed into place) were not yet made durable by a
//     sync_dir() of their directory. For a file written in place (a
//     RandomRWFile) it also keeps an undo log of the writes made since the
//     file's last sync(): per write, the offset, the length, the bytes it
//     overwrote and the file's size before it. drop_unsynced_data() then
//     rewinds the files on the target Env to what a power cut would have left:
//       - every file written through this Env is truncated to its last synced
//         size (bytes appended but not yet flush()ed are lost as well); if
//         a sync() had made zeros from WritableFile::prefill_zeros durable
//         past that size, the file keeps them: appends over them are
//         reverted to zeros;
//       - every unsynced RandomRWFile write is reverted, newest first (the
//         overwritten bytes are put back), before that truncation;
//       - a file created since the last sync_dir() of its directory is removed;
//       - a rename since the last sync_dir() of the target's directory is
//         undone: the file goes back to its old name and the previous target,
//         if any, comes back with the content it had durably.
//     drop_random_unsynced_data() instead keeps a random prefix of each file's
//     unsynced (flushed) bytes -- a torn write -- and a random prefix of the
//     pending directory operations, as an ordered metadata journal would.
//     For a file with RandomRWFile writes in its undo log it models a disk
//     with atomic 512-byte sectors instead: each unsynced write independently
//     (one third each) survives whole, is reverted whole, or is torn -- a
//     random non-empty, non-full subset of the 512-byte file sectors it
//     touches survives and the rest is reverted (a write within one sector
//     cannot tear, so it survives or is reverted, half each). Reverting puts
//     back the overwritten bytes, and zeros where the write had extended the
//     file, except where a newer write's piece survived: every byte ends up
//     as the newest surviving write covering it left it, or as it was at the
//     last sync. The file then ends at its synced size or at the end of the
//     last surviving piece of a write, whichever is larger. A write the
//     target reported as failed is always reverted.
//  2. Crash. set_filesystem_active(false) makes every later mutating call fail
//     with IOError("filesystem inactive (simulated crash)") without touching
//     the target: the on-disk state is frozen as of that moment (all mutating
//     calls are serialised, so nothing is in flight once it returns).
//  3. I/O errors. fail_nth_call() fails the n-th call of one OpKind from now
//     on; set_error_probability() fails each call of a kind with probability p
//     (seeded, so reproducible). Injected errors are IOErrors and write nothing.
//
// A typical crash test:
//
//   FaultInjectionEnv env(Env::Default());    // or a NewMemoryEnv()
//   ... open a database on &env, write, some of it synced ...
//   env.set_filesystem_active(false);         // the "process dies" here
//   ... close/destroy the database (its writes now fail and are discarded) ...
//   ASSERT_TRUE(env.drop_unsynced_data().ok());  // the "power" is cut
//   env.set_filesystem_active(true);
//   ... reopen and check that everything acknowledged as durable is there ...
//
// To fail every step of an operation in turn: run it once after
// reset_counters() and read call_count(kind) = N; then, for i in 1..N, set up
// the same state, call fail_nth_call(kind, i, /*deactivate_filesystem=*/true)
// (a crash right at step i) or with false (a single failed I/O), and re-run.
//
// What is counted and what may fail (the mutating calls):
//   kAppend      WritableFile::append, WritableFile::prefill_zeros
//   kFlush       WritableFile::flush, WritableFile::close (close flushes)
//   kSync        WritableFile::sync, WritableFile::sync_flushed,
//                RandomRWFile::sync
//   kRename      Env::rename_file
//   kRemove      Env::remove_file, Env::remove_dir
//   kTruncate    Env::truncate_file
//   kCreateFile  Env::new_writable_file, Env::new_appendable_file,
//                Env::create_dir_if_missing, and Env::new_random_rw_file when
//                the file does not exist yet (opening an existing one is not
//                counted and works even on an inactive filesystem)
//   kSyncDir     Env::sync_dir
//   kWrite       RandomRWFile::write
//   kAny         all of the above (as a counter, and as a fail_nth_call kind)
// A WritableFile destroyed without close() flushes its buffer like a real
// file would (not counted, never injected) -- unless the filesystem is
// inactive or the handle is dead, in which case the buffer is lost -- and
// keeps any prefilled zeros.
// RandomRWFile::close writes nothing, so it is not counted and never fails
// here. Reads (RandomRWFile::read included), map_file, file_exists,
// is_directory, get_children, get_file_size, lock_file, unlock_file and the
// clock pass straight through and never fail here (a test must be able to
// release the database lock even after a "crash").
//
// Model limits (deliberate simplifications):
//   - Removals (remove_file, remove_dir) are durable at once; a power cut does
//     not bring removed files back. Directory creation is durable at once.
//   - new_writable_file on an existing file truncates it durably; the file
//     then counts as having 0 synced bytes.
//   - Files not written through this Env (e.g. created before it wrapped the
//     target) count as fully durable, as does truncate_file on them.
//   - Durability is tracked per file, not per handle; two handles appending to
//     one file at once is not modelled exactly (the engine never does it).
//   - A rename over an existing file copies the old target's durable content
//     into memory so that it can be restored; fine for CURRENT-style files.
//   - A cross-directory rename becomes durable with a sync_dir() of the
//     target's directory.
//   - RandomRWFile writes that share a 512-byte sector without covering it
//     whole are torn/reverted independently by drop_random_unsynced_data(),
//     so such a sector can end up as a mix no sector-atomic disk would
//     produce. Sector-aligned writes (B+Tree pages) are modelled exactly.
//   - truncate_file on a file with an undo log forgets the logged bytes past
//     the new end (a shrink is durable, as for appended files).
//   - A file both appended to (WritableFile) and written in place is not
//     modelled exactly: with a non-empty undo log, the random drop ends the
//     file as described above and loses appended bytes past that point.
//   - Paths are compared as strings: "dir//x" and "dir/./x" are not "dir/x".
//
// Thread-safety: safe to use from many threads at once, like any Env. All
// mutating calls (including the target's I/O for them) are serialised by one
// mutex, which is fine for tests. Reads are not serialised.
// Lifetime: the target Env must outlive this Env, and this Env must outlive
// every file object created through it. File objects created before a
// drop_*_unsynced_data() call are dead afterwards: every mutating call on them
// fails and their destruction writes nothing (the process they belonged to
// "died" in the power cut).
#ifndef LIGHTNING_ENV_FAULT_INJECTION_ENV_H_
#define LIGHTNING_ENV_FAULT_INJECTION_ENV_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lightning/env.h"
#include "port/mutex.h"
#include "port/thread_annotations.h"

namespace lightning {

class FaultInjectionEnv final : public Env {
 public:
  enum class OpKind : int {
    kAppend = 0,
    kFlush,
    kSync,
    kRename,
    kRemove,
    kTruncate,
    kCreateFile,
    kSyncDir,
    kWrite,
    kAny,  // keep last
  };
  static constexpr int kNumOpKinds = static_cast<int>(OpKind::kAny) + 1;
  // "append", "flush", ..., "write", "any". For messages and test names.
  static const char* op_kind_name(OpKind kind);

  // target is not owned and must outlive this Env.
  explicit FaultInjectionEnv(Env* target);
  ~FaultInjectionEnv() override;

  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  Env* target() const noexcept { return target_; }

  // ---- Env ----
  Status new_sequential_file(const std::string& fname, std::unique_ptr<SequentialFile>* result) override;
  Status new_random_access_file(const std::string& fname, std::unique_ptr<RandomAccessFile>* result) override;
  Status new_writable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override;
  Status new_appendable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) override;
  Status new_random_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) override;
  Status map_file(const std::string& fname, size_t length, std::unique_ptr<MappedRegion>* result) override;
  bool file_exists(const std::string& fname) override;
  Status is_directory(const std::string& path, bool* is_dir) override;
  Status get_children(const std::string& dir, std::vector<std::string>* result) override;
  Status remove_file(const std::string& fname) override;
  Status create_dir_if_missing(const std::string& dir) override;
  Status remove_dir(const std::string& dir) override;
  Status get_file_size(const std::string& fname, uint64_t* size) override;
  Status rename_file(const std::string& src, const std::string& target) override;
  Status truncate_file(const std::string& fname, uint64_t size) override;
  Status sync_dir(const std::string& dir) override;
  Status lock_file(const std::string& fname, std::unique_ptr<FileLock>* lock) override;
  Status unlock_file(std::unique_ptr<FileLock> lock) override;
  uint64_t now_micros() override;
  void sleep_for_micros(uint64_t micros) override;

  // ---- Power loss ----
  // Rewinds the target to what survives a power cut now (see the file
  // comment). Works whether or not the filesystem is active. Returns the
  // first error of the target while doing so (it still tries everything).
  Status drop_unsynced_data() EXCLUDES(mu_);
  // Like drop_unsynced_data(), but each file keeps synced + uniform(unsynced+1)
  // bytes (a file with unsynced RandomRWFile writes: each write survives,
  // is reverted or is torn at sector boundaries; see the file comment), and
  // a random prefix of the pending directory operations survives.
  // The same seed and the same history give the same result.
  Status drop_random_unsynced_data(uint64_t seed) EXCLUDES(mu_);
  // Declares everything currently on the target durable (e.g. after building
  // a fixture): synced sizes become the current sizes, undo logs are
  // cleared, pending directory operations are forgotten. Data still
  // buffered in open files is not included.
  void mark_all_durable() EXCLUDES(mu_);

  // ---- Crash ----
  void set_filesystem_active(bool active) EXCLUDES(mu_);
  bool filesystem_active() const EXCLUDES(mu_);

  // ---- Error injection ----
  // The n-th (n >= 1) call of kind made from now on, while the filesystem is
  // active, fails with IOError and has no effect. One-shot: later calls
  // succeed again, unless deactivate_filesystem, in which case the failing
  // call also sets the filesystem inactive (a crash exactly at that step).
  // Replaces an earlier fail_nth_call that has not fired yet.
  void fail_nth_call(OpKind kind, uint64_t n, bool deactivate_filesystem = false) EXCLUDES(mu_);
  // Every call of kind (kAny: every mutating call) fails with probability p,
  // drawn from a PRNG seeded with seed. p <= 0 turns it off.
  void set_error_probability(OpKind kind, double p, uint64_t seed) EXCLUDES(mu_);
  // Disarms fail_nth_call and set_error_probability.
  void clear_error_injection() EXCLUDES(mu_);
  // Errors injected (by either mechanism) since construction/reset_counters().
  uint64_t injected_error_count() const EXCLUDES(mu_);

  // ---- Counters ----
  // Calls of kind made since construction or reset_counters(), whether they
  // succeeded, failed, or were refused because the filesystem was inactive.
  // call_count(kAny) is the sum over all kinds.
  uint64_t call_count(OpKind kind) const EXCLUDES(mu_);
  void reset_counters() EXCLUDES(mu_);

 private:
  class File;    // the WritableFile wrapper
  class RWFile;  // the RandomRWFile wrapper

  // One RandomRWFile::write not yet made durable by a sync of its file.
  struct UndoRecord {
    uint64_t offset = 0;
    uint64_t length = 0;
    uint64_t size_before = 0;  // the file's size just before the write
    // The bytes the write overwrote: [offset, min(offset + length,
    // size_before)). What lay at or past size_before was not in the file.
    std::string old_data;
    bool failed = false;  // the target reported an error: always reverted
  };

  // Durability state of one file written through this Env, shared with the
  // open handles of the file (so that it follows the file through renames).
  // Guarded by mu_ (of the owning Env).
  struct FileState {
    uint64_t size = 0;    // bytes that reached the target (flushed/written)
    uint64_t synced = 0;  // bytes made durable by sync() (size at last sync)
    // WritableFile::prefill_zeros: the end of the zeros written past size,
    // and of those a sync() made durable (0: none). A drop reverts unsynced
    // appends inside durable zeros to zeros, as a power cut would.
    uint64_t zero_end = 0;
    uint64_t zero_synced = 0;
    // RandomRWFile writes since the last sync, oldest first.
    std::vector<UndoRecord> undo;
  };

  // A directory operation not yet made durable by sync_dir(dir).
  struct PendingDirOp {
    enum class Type { kCreate, kRename } type;
    std::string dir;    // sync_dir(dir) makes it durable
    std::string name;   // kCreate: the new file; kRename: the source
    std::string target;  // kRename: the destination
    bool had_old_target = false;  // kRename: the destination existed before
    std::string old_target_content;  // ... with this durable content
  };

  // After a successful sync of the file: everything written is durable.
  static void mark_synced(FileState* state);
  // Counts the call and decides whether it may go ahead: the inactive-
  // filesystem error, an injected error, or OK.
  Status begin_op(OpKind kind, const std::string& what) REQUIRES(mu_);
  Status open_writable(const std::string& fname, bool append, std::unique_ptr<WritableFile>* result)
      EXCLUDES(mu_);
  Status new_wrapped_file(const std::string& fname, bool append, std::unique_ptr<WritableFile>* result)
      EXCLUDES(mu_);
  Status new_wrapped_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) EXCLUDES(mu_);
  // Shared by both drop_* functions; rng == nullptr means "drop everything".
  Status drop_unsynced_locked(uint64_t* rng_state) REQUIRES(mu_);
  // Rewinds one file with a non-empty undo log; *kept is its new size.
  Status drop_rw_file_locked(const std::string& name, const FileState& state, uint64_t actual, uint64_t* rng_state,
                             uint64_t* kept) REQUIRES(mu_);
  Status undo_dir_op(const PendingDirOp& op) REQUIRES(mu_);

  Env* const target_;

  mutable port::Mutex mu_;
  bool active_ GUARDED_BY(mu_) = true;
  // Bumped by drop_*: file handles from an older epoch are dead.
  uint64_t epoch_ GUARDED_BY(mu_) = 0;
  std::map<std::string, std::shared_ptr<FileState>> files_ GUARDED_BY(mu_);
  std::vector<PendingDirOp> pending_ GUARDED_BY(mu_);

  uint64_t counts_[kNumOpKinds] GUARDED_BY(mu_) = {};
  uint64_t injected_errors_ GUARDED_BY(mu_) = 0;

  // fail_nth_call: fires when nth_remaining_ drops to 0.
  bool nth_armed_ GUARDED_BY(mu_) = false;
  OpKind nth_kind_ GUARDED_BY(mu_) = OpKind::kAny;
  uint64_t nth_remaining_ GUARDED_BY(mu_) = 0;
  bool nth_deactivate_ GUARDED_BY(mu_) = false;

  // set_error_probability.
  double error_p_ GUARDED_BY(mu_) = 0.0;
  OpKind error_kind_ GUARDED_BY(mu_) = OpKind::kAny;
  uint64_t error_rng_ GUARDED_BY(mu_) = 0;
};

}  // namespace lightning

#endif  // LIGHTNING_ENV_FAULT_INJECTION_ENV_H_
