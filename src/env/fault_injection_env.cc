// Copyright (c) Lightning authors. MIT License.
#include "env/fault_injection_env.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <utility>

namespace lightning {
namespace {

// SplitMix64 step: enough randomness for fault injection, deterministic per
// seed. (The engine has no PRNG of its own to reuse, and this must not depend
// on the test utilities.)
uint64_t NextRandom(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform in [0, n); n > 0.
uint64_t UniformRandom(uint64_t* state, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(NextRandom(state)) * n) >> 64);
}

std::string TrimSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The directory whose sync_dir() makes an entry for path durable.
std::string DirOf(const std::string& path) {
  const std::string p = TrimSlashes(path);
  const size_t pos = p.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return p.substr(0, pos);
}

Status InactiveError(const std::string& what) {
  return Status::IOError("filesystem inactive (simulated crash)", what);
}

Status DeadHandleError(const std::string& fname) {
  return Status::IOError("file handle predates a simulated power loss", fname);
}

// The unit a disk writes atomically: a write may tear between sectors only.
constexpr uint64_t kSectorSize = 512;

// A set of disjoint half-open byte ranges [begin, end), keyed by begin.
using RangeSet = std::map<uint64_t, uint64_t>;

void AddRange(RangeSet* set, uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = set->upper_bound(begin);
  if (it != set->begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) {  // overlaps or touches: merge into prev
      begin = prev->first;
      end = std::max(end, prev->second);
      it = set->erase(prev);
    }
  }
  while (it != set->end() && it->first <= end) {
    end = std::max(end, it->second);
    it = set->erase(it);
  }
  (*set)[begin] = end;
}

// The parts of [begin, end) not covered by set, in order.
std::vector<std::pair<uint64_t, uint64_t>> Uncovered(const RangeSet& set, uint64_t begin, uint64_t end) {
  std::vector<std::pair<uint64_t, uint64_t>> out;
  auto it = set.upper_bound(begin);
  if (it != set.begin()) {
    auto prev = std::prev(it);
    if (prev->second > begin) begin = prev->second;
  }
  for (; begin < end && it != set.end() && it->first < end; ++it) {
    if (it->first > begin) out.emplace_back(begin, it->first);
    begin = std::max(begin, it->second);
  }
  if (begin < end) out.emplace_back(begin, end);
  return out;
}

}  // namespace

// Buffers appends itself (rather than leaning on the target's buffer) so that
// data never reaches the target except through a counted, checked flush/sync:
// a dead or crashed handle can then be destroyed without writing anything.
class FaultInjectionEnv::File final : public WritableFile {
 public:
  File(FaultInjectionEnv* env, std::string fname, std::shared_ptr<FileState> state,
       std::unique_ptr<WritableFile> target, uint64_t epoch)
      : env_(env), fname_(std::move(fname)), state_(std::move(state)), target_(std::move(target)), epoch_(epoch) {}

  ~File() override {
    if (closed_) return;
    port::MutexLock l(&env_->mu_);
    // Not a counted call: the engine did not ask for it. If the handle may
    // still write, behave like a real file's destructor (flush); otherwise
    // lose the buffer like a dead process would.
    if (env_->active_ && epoch_ == env_->epoch_) (void)write_buffer_locked();
    buffer_.clear();
    // The target is destroyed with this handle, without close(): like any
    // file destroyed unclosed, it keeps prefilled zeros.
  }

  Status append(const Slice& data) override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kAppend, fname_);
    if (s.ok()) s = check_usable_locked();
    if (!s.ok()) return s;
    buffer_.append(data.data(), data.size());
    if (buffer_.size() >= kBufferSize) s = write_buffer_locked();
    return s;
  }

  Status flush() override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kFlush, fname_);
    if (s.ok()) s = check_usable_locked();
    if (!s.ok()) return s;
    return write_buffer_locked();
  }

  Status sync() override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kSync, fname_);
    if (s.ok()) s = check_usable_locked();
    if (!s.ok()) return s;
    s = write_buffer_locked();
    if (s.ok()) s = target_->sync();
    if (s.ok()) mark_synced(state_.get());
    return s;
  }

  // Makes durable what earlier flushes wrote to the target (not this
  // wrapper's own buffer). Every call holds env_->mu_, so it is also safe
  // beside append()/flush() from another thread.
  Status sync_flushed() override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kSync, fname_);
    if (s.ok()) s = check_usable_locked();
    if (s.ok()) s = target_->sync();  // the target's own buffer is always empty
    if (s.ok()) mark_synced(state_.get());
    return s;
  }

  // On failure the buffered data is lost (as after a failed close(2)), and
  // the target file is released when the handle is destroyed.
  Status close() override {
    port::MutexLock l(&env_->mu_);
    if (closed_) return Status::OK();  // like the real files: closing twice is fine
    Status s = env_->begin_op(OpKind::kFlush, fname_);
    if (s.ok()) s = check_usable_locked();
    if (s.ok()) s = write_buffer_locked();
    buffer_.clear();
    if (s.ok()) {
      // Cuts prefilled zeros off: a shrink, durable at once here (as for
      // truncate_file). A failed close leaves the target to the destructor.
      s = target_->close();  // the target's own buffer is empty
      state_->zero_end = 0;
      state_->zero_synced = 0;
    }
    closed_ = true;
    return s;
  }

  // The buffer goes to the target first, so that the zeros land after it.
  Status prefill_zeros(uint64_t size) override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kAppend, fname_);
    if (s.ok()) s = check_usable_locked();
    if (s.ok()) s = write_buffer_locked();
    if (s.ok()) s = target_->prefill_zeros(size);
    if (s.ok()) state_->zero_end = std::max(state_->zero_end, size);
    return s;
  }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  Status check_usable_locked() REQUIRES(env_->mu_) {
    if (closed_) return Status::IOError("file already closed", fname_);
    if (epoch_ != env_->epoch_) return DeadHandleError(fname_);
    return Status::OK();
  }

  Status write_buffer_locked() REQUIRES(env_->mu_) {
    if (buffer_.empty()) return Status::OK();
    Status s = target_->append(buffer_);
    if (s.ok()) s = target_->flush();
    // On failure the bytes may or may not have reached the target; size is
    // then an underestimate, which only makes a later drop more thorough.
    if (s.ok()) state_->size += buffer_.size();
    buffer_.clear();
    return s;
  }

  FaultInjectionEnv* const env_;
  const std::string fname_;  // the name at open time, for messages
  const std::shared_ptr<FileState> state_;
  const std::unique_ptr<WritableFile> target_;
  const uint64_t epoch_;
  // Only touched by the thread using the handle (plus the destructor), so
  // not guarded; the env mutex is held anyway whenever they change.
  std::string buffer_;
  bool closed_ = false;
};

// Writes go straight to the target (no buffer), each after saving the bytes
// it overwrites in the file's undo log. Reads are not serialised.
class FaultInjectionEnv::RWFile final : public RandomRWFile {
 public:
  RWFile(FaultInjectionEnv* env, std::string fname, std::shared_ptr<FileState> state,
         std::unique_ptr<RandomRWFile> target, uint64_t epoch)
      : env_(env), fname_(std::move(fname)), state_(std::move(state)), target_(std::move(target)), epoch_(epoch) {}

  // Nothing is buffered, so destruction writes nothing; the target closes
  // itself.
  ~RWFile() override = default;

  Status write(uint64_t offset, const Slice& data) override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kWrite, fname_);
    if (s.ok()) s = check_usable_locked();
    if (!s.ok() || data.empty()) return s;

    UndoRecord record;
    record.offset = offset;
    record.length = data.size();
    record.size_before = state_->size;
    if (offset < state_->size) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), state_->size - offset));
      std::string scratch(n, '\0');
      Slice old;
      s = target_->read(offset, n, &old, scratch.data());
      if (!s.ok()) return s;  // nothing written yet
      record.old_data.assign(old.data(), old.size());
      // A short read: the file is shorter than we thought.
      if (old.size() < n) record.size_before = offset + old.size();
    }
    s = target_->write(offset, data);
    // A failed write may have written part of the data: log it either way,
    // and always revert it on a drop.
    record.failed = !s.ok();
    state_->undo.push_back(std::move(record));
    if (s.ok()) state_->size = std::max<uint64_t>(state_->size, offset + data.size());
    return s;
  }

  Status read(uint64_t offset, size_t n, Slice* result, char* scratch) const override {
    return target_->read(offset, n, result, scratch);
  }

  Status sync() override {
    port::MutexLock l(&env_->mu_);
    Status s = env_->begin_op(OpKind::kSync, fname_);
    if (s.ok()) s = check_usable_locked();
    if (s.ok()) s = target_->sync();
    if (s.ok()) mark_synced(state_.get());
    return s;
  }

  // Writes nothing: not counted, never injected. Closing twice is fine.
  Status close() override {
    if (closed_) return Status::OK();
    closed_ = true;
    return target_->close();
  }

 private:
  Status check_usable_locked() REQUIRES(env_->mu_) {
    if (closed_) return Status::IOError("file already closed", fname_);
    if (epoch_ != env_->epoch_) return DeadHandleError(fname_);
    return Status::OK();
  }

  FaultInjectionEnv* const env_;
  const std::string fname_;  // the name at open time, for messages
  const std::shared_ptr<FileState> state_;
  const std::unique_ptr<RandomRWFile> target_;
  const uint64_t epoch_;
  // Only changed by close(), which does not run beside other calls.
  bool closed_ = false;
};

void FaultInjectionEnv::mark_synced(FileState* state) {
  state->synced = std::max(state->synced, state->size);
  state->zero_synced = std::max(state->zero_synced, state->zero_end);
  state->undo.clear();
}

const char* FaultInjectionEnv::op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kAppend: return "append";
    case OpKind::kFlush: return "flush";
    case OpKind::kSync: return "sync";
    case OpKind::kRename: return "rename";
    case OpKind::kRemove: return "remove";
    case OpKind::kTruncate: return "truncate";
    case OpKind::kCreateFile: return "create";
    case OpKind::kSyncDir: return "sync_dir";
    case OpKind::kWrite: return "write";
    case OpKind::kAny: return "any";
  }
  return "unknown";
}

FaultInjectionEnv::FaultInjectionEnv(Env* target) : target_(target) {}
FaultInjectionEnv::~FaultInjectionEnv() = default;

Status FaultInjectionEnv::begin_op(OpKind kind, const std::string& what) {
  ++counts_[static_cast<int>(kind)];
  ++counts_[static_cast<int>(OpKind::kAny)];
  if (!active_) return InactiveError(what);

  bool fail = false;
  if (nth_armed_ && (nth_kind_ == kind || nth_kind_ == OpKind::kAny)) {
    if (--nth_remaining_ == 0) {
      nth_armed_ = false;
      fail = true;
      if (nth_deactivate_) active_ = false;
    }
  }
  if (!fail && error_p_ > 0.0 && (error_kind_ == kind || error_kind_ == OpKind::kAny)) {
    // 53 random bits -> a double in [0, 1).
    const double r = static_cast<double>(NextRandom(&error_rng_) >> 11) * (1.0 / 9007199254740992.0);
    fail = r < error_p_;
  }
  if (!fail) return Status::OK();
  ++injected_errors_;
  return Status::IOError(std::string("injected fault (") + op_kind_name(kind) + ")", what);
}

// ---- Pass-through reads ----

Status FaultInjectionEnv::map_file(const std::string& fname, size_t length, std::unique_ptr<MappedRegion>* result) {
  return target_->map_file(fname, length, result);
}

Status FaultInjectionEnv::new_sequential_file(const std::string& fname, std::unique_ptr<SequentialFile>* result) {
  return target_->new_sequential_file(fname, result);
}

Status FaultInjectionEnv::new_random_access_file(const std::string& fname,
                                                 std::unique_ptr<RandomAccessFile>* result) {
  return target_->new_random_access_file(fname, result);
}

bool FaultInjectionEnv::file_exists(const std::string& fname) { return target_->file_exists(fname); }

Status FaultInjectionEnv::is_directory(const std::string& path, bool* is_dir) {
  return target_->is_directory(path, is_dir);
}

Status FaultInjectionEnv::get_children(const std::string& dir, std::vector<std::string>* result) {
  return target_->get_children(dir, result);
}

Status FaultInjectionEnv::get_file_size(const std::string& fname, uint64_t* size) {
  return target_->get_file_size(fname, size);
}

Status FaultInjectionEnv::lock_file(const std::string& fname, std::unique_ptr<FileLock>* lock) {
  return target_->lock_file(fname, lock);
}

Status FaultInjectionEnv::unlock_file(std::unique_ptr<FileLock> lock) { return target_->unlock_file(std::move(lock)); }

uint64_t FaultInjectionEnv::now_micros() { return target_->now_micros(); }

void FaultInjectionEnv::sleep_for_micros(uint64_t micros) { target_->sleep_for_micros(micros); }

// ---- Mutating calls ----

Status FaultInjectionEnv::new_writable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) {
  return open_writable(fname, /*append=*/false, result);
}

Status FaultInjectionEnv::new_appendable_file(const std::string& fname, std::unique_ptr<WritableFile>* result) {
  return open_writable(fname, /*append=*/true, result);
}

Status FaultInjectionEnv::open_writable(const std::string& fname, bool append,
                                        std::unique_ptr<WritableFile>* result) {
  std::unique_ptr<WritableFile> wrapped;
  Status s = new_wrapped_file(fname, append, &wrapped);
  // Assigned outside mu_: it destroys whatever file *result held before, and a
  // File's destructor takes mu_.
  if (s.ok()) *result = std::move(wrapped);
  return s;
}

Status FaultInjectionEnv::new_wrapped_file(const std::string& fname, bool append,
                                               std::unique_ptr<WritableFile>* result) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kCreateFile, fname);
  if (!s.ok()) return s;
  const bool existed = target_->file_exists(fname);
  std::unique_ptr<WritableFile> file;
  s = append ? target_->new_appendable_file(fname, &file) : target_->new_writable_file(fname, &file);
  if (!s.ok()) return s;

  std::shared_ptr<FileState>& state = files_[fname];
  if (!append || !state) {
    // A fresh (or freshly truncated) file has nothing unsynced; an existing
    // file not written through this Env counts as durable up to its size.
    // A tracked file reopened for append keeps its synced size.
    uint64_t size = 0;
    if (append && existed) (void)target_->get_file_size(fname, &size);
    state = std::make_shared<FileState>();
    state->size = size;
    state->synced = size;
  } else {
    (void)target_->get_file_size(fname, &state->size);
  }
  if (!existed) pending_.push_back(PendingDirOp{PendingDirOp::Type::kCreate, DirOf(fname), fname, "", false, ""});
  *result = std::make_unique<File>(this, fname, state, std::move(file), epoch_);
  return Status::OK();
}

Status FaultInjectionEnv::new_random_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) {
  std::unique_ptr<RandomRWFile> wrapped;
  Status s = new_wrapped_rw_file(fname, &wrapped);
  if (s.ok()) *result = std::move(wrapped);  // outside mu_, like open_writable
  return s;
}

Status FaultInjectionEnv::new_wrapped_rw_file(const std::string& fname, std::unique_ptr<RandomRWFile>* result) {
  port::MutexLock l(&mu_);
  // Only creating the file is a mutating call; opening an existing one is
  // not counted and works on an inactive filesystem (its writes will not).
  const bool existed = target_->file_exists(fname);
  Status s;
  if (!existed) s = begin_op(OpKind::kCreateFile, fname);
  if (!s.ok()) return s;
  std::unique_ptr<RandomRWFile> file;
  s = target_->new_random_rw_file(fname, &file);
  if (!s.ok()) return s;

  uint64_t size = 0;
  if (existed) (void)target_->get_file_size(fname, &size);
  std::shared_ptr<FileState>& state = files_[fname];
  if (!state || !existed) {
    // A new file has nothing unsynced; an existing file not written through
    // this Env counts as durable up to its size.
    state = std::make_shared<FileState>();
    state->size = size;
    state->synced = size;
  } else {
    state->size = size;  // a tracked file keeps its synced size and undo log
  }
  if (!existed) pending_.push_back(PendingDirOp{PendingDirOp::Type::kCreate, DirOf(fname), fname, "", false, ""});
  *result = std::make_unique<RWFile>(this, fname, state, std::move(file), epoch_);
  return Status::OK();
}

Status FaultInjectionEnv::remove_file(const std::string& fname) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kRemove, fname);
  if (s.ok()) s = target_->remove_file(fname);
  if (s.ok()) files_.erase(fname);
  return s;
}

Status FaultInjectionEnv::create_dir_if_missing(const std::string& dir) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kCreateFile, dir);
  if (s.ok()) s = target_->create_dir_if_missing(dir);
  return s;
}

Status FaultInjectionEnv::remove_dir(const std::string& dir) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kRemove, dir);
  if (s.ok()) s = target_->remove_dir(dir);
  return s;
}

Status FaultInjectionEnv::rename_file(const std::string& src, const std::string& target) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kRename, src + " -> " + target);
  if (!s.ok()) return s;

  PendingDirOp op{PendingDirOp::Type::kRename, DirOf(target), src, target, false, ""};
  if (src != target && target_->file_exists(target)) {
    bool is_dir = false;
    if (target_->is_directory(target, &is_dir).ok() && !is_dir) {
      // Remember what a power cut would bring back: the durable content.
      s = ReadFileToString(target_, target, &op.old_target_content);
      if (!s.ok()) return s;
      auto it = files_.find(target);
      if (it != files_.end()) {
        // Undo its unsynced in-place writes, newest first, then cut it to
        // its synced size.
        const FileState& state = *it->second;
        std::string& content = op.old_target_content;
        for (auto r = state.undo.rbegin(); r != state.undo.rend(); ++r) {
          if (r->offset >= content.size()) continue;
          const size_t n = std::min<size_t>(r->old_data.size(), content.size() - static_cast<size_t>(r->offset));
          content.replace(static_cast<size_t>(r->offset), n, r->old_data, 0, n);
        }
        if (content.size() > state.synced) content.resize(static_cast<size_t>(state.synced));
      }
      op.had_old_target = true;
    }
  }

  s = target_->rename_file(src, target);
  if (!s.ok()) return s;
  if (src == target) return s;
  auto it = files_.find(src);
  if (it != files_.end()) {
    files_[target] = std::move(it->second);
    files_.erase(src);
  } else {
    files_.erase(target);  // an untracked file is durable as a whole
  }
  pending_.push_back(std::move(op));
  return s;
}

Status FaultInjectionEnv::truncate_file(const std::string& fname, uint64_t size) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kTruncate, fname);
  if (s.ok()) s = target_->truncate_file(fname, size);
  if (s.ok()) {
    auto it = files_.find(fname);
    if (it != files_.end()) {
      // Bytes past the new end are gone; zeros added by growing are unsynced.
      FileState& state = *it->second;
      state.size = size;
      state.synced = std::min(state.synced, size);
      if (state.zero_end > size) state.zero_end = size;
      if (state.zero_synced > size) state.zero_synced = size;
      // Logged writes past the new end have nothing left to revert.
      for (UndoRecord& r : state.undo) {
        if (r.offset + r.length > size) r.length = size > r.offset ? size - r.offset : 0;
        if (r.old_data.size() > r.length) r.old_data.resize(static_cast<size_t>(r.length));
        r.size_before = std::min(r.size_before, size);
      }
      state.undo.erase(std::remove_if(state.undo.begin(), state.undo.end(),
                                      [](const UndoRecord& r) { return r.length == 0; }),
                       state.undo.end());
    }
  }
  return s;
}

Status FaultInjectionEnv::sync_dir(const std::string& dir) {
  port::MutexLock l(&mu_);
  Status s = begin_op(OpKind::kSyncDir, dir);
  if (s.ok()) s = target_->sync_dir(dir);
  if (s.ok()) {
    const std::string d = TrimSlashes(dir);
    pending_.erase(std::remove_if(pending_.begin(), pending_.end(),
                                  [&d](const PendingDirOp& op) { return op.dir == d; }),
                   pending_.end());
  }
  return s;
}

// ---- Power loss ----

Status FaultInjectionEnv::drop_unsynced_data() {
  port::MutexLock l(&mu_);
  return drop_unsynced_locked(nullptr);
}

Status FaultInjectionEnv::drop_random_unsynced_data(uint64_t seed) {
  port::MutexLock l(&mu_);
  uint64_t rng = seed;
  return drop_unsynced_locked(&rng);
}

Status FaultInjectionEnv::drop_unsynced_locked(uint64_t* rng) {
  Status result;
  auto keep_first_error = [&result](const Status& s) {
    if (result.ok() && !s.ok()) result = s;
  };

  // 1. File contents. (Before the directory undo, which renames tracked files
  //    back and recreates old rename targets with their durable content.)
  for (auto& [name, state] : files_) {
    uint64_t actual = 0;
    Status s = target_->get_file_size(name, &actual);
    if (s.IsNotFound()) {
      state->undo.clear();
      continue;
    }
    if (!s.ok()) {
      keep_first_error(s);
      continue;
    }
    uint64_t keep = 0;
    if (!state->undo.empty()) {
      keep_first_error(drop_rw_file_locked(name, *state, actual, rng, &keep));
    } else {
      // Past state->size lie only prefilled zeros: no data to tear there.
      const uint64_t data_end = std::min(actual, std::max(state->size, state->synced));
      keep = std::min(actual, state->synced);
      if (rng != nullptr && data_end > keep) keep += UniformRandom(rng, data_end - keep + 1);
      if (keep < actual) keep_first_error(target_->truncate_file(name, keep));
      // Durable zeros stay: the reverted appends read as zeros again.
      if (state->zero_synced > keep) keep_first_error(target_->truncate_file(name, state->zero_synced));
    }
    // What survived the power cut is durable by definition.
    state->size = keep;
    state->synced = keep;
    state->zero_end = state->zero_synced = state->zero_synced > keep ? state->zero_synced : 0;
    state->undo.clear();
  }

  // 2. Directory entries: undo the pending operations newest first. With an
  //    rng, a prefix of them (in order, like a metadata journal) survives.
  size_t survivors = 0;
  if (rng != nullptr) survivors = static_cast<size_t>(UniformRandom(rng, pending_.size() + 1));
  for (size_t i = pending_.size(); i > survivors; --i) keep_first_error(undo_dir_op(pending_[i - 1]));
  pending_.clear();

  // 3. Every open handle belonged to the process that "died".
  ++epoch_;
  return result;
}

Status FaultInjectionEnv::drop_rw_file_locked(const std::string& name, const FileState& state, uint64_t actual,
                                              uint64_t* rng, uint64_t* kept) {
  const std::vector<UndoRecord>& undo = state.undo;

  // 1. Decide, oldest write first, which sector pieces of each write survive
  //    (with no rng: none). The file ends at the synced size or at the end of
  //    the last surviving piece.
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> survivors(undo.size());
  uint64_t end_of_file = state.synced;
  for (size_t i = 0; i < undo.size(); ++i) {
    const UndoRecord& r = undo[i];
    if (rng == nullptr || r.failed || r.length == 0) continue;
    const uint64_t begin = r.offset;
    const uint64_t end = r.offset + r.length;
    const uint64_t first_sector = begin / kSectorSize;
    const uint64_t sectors = (end - 1) / kSectorSize - first_sector + 1;
    // 0: survives whole, 1: reverted whole, 2: torn (needs two sectors).
    const uint64_t outcome = UniformRandom(rng, sectors >= 2 ? 3 : 2);
    std::vector<char> keep(static_cast<size_t>(sectors), outcome == 0 ? 1 : 0);
    if (outcome == 2) {
      for (char& k : keep) k = static_cast<char>(NextRandom(rng) & 1);
      if (std::all_of(keep.begin(), keep.end(), [&keep](char k) { return k == keep[0]; })) {
        const size_t flip = static_cast<size_t>(UniformRandom(rng, sectors));
        keep[flip] = static_cast<char>(!keep[flip]);
      }
    }
    for (uint64_t k = 0; k < sectors; ++k) {
      if (!keep[static_cast<size_t>(k)]) continue;
      const uint64_t piece_begin = std::max(begin, (first_sector + k) * kSectorSize);
      const uint64_t piece_end = std::min(end, (first_sector + k + 1) * kSectorSize);
      if (!survivors[i].empty() && survivors[i].back().second == piece_begin) {
        survivors[i].back().second = piece_end;
      } else {
        survivors[i].emplace_back(piece_begin, piece_end);
      }
      end_of_file = std::max(end_of_file, piece_end);
    }
  }
  end_of_file = std::min(end_of_file, actual);

  // 2. Revert, newest write first, every byte below end_of_file that no newer
  //    surviving piece covers: put back what the write overwrote, or zeros
  //    where it had extended the file. A byte thus ends up as the newest
  //    surviving write left it, or as it was at the last sync.
  std::unique_ptr<RandomRWFile> file;
  Status result = target_->new_random_rw_file(name, &file);
  if (!result.ok()) return result;
  RangeSet covered;  // surviving pieces of the writes processed so far
  std::string zeros;
  for (size_t i = undo.size(); i-- > 0;) {
    const UndoRecord& r = undo[i];
    for (const auto& [pb, pe] : survivors[i]) AddRange(&covered, pb, pe);
    const uint64_t old_end = r.offset + r.old_data.size();
    for (auto [b, e] : Uncovered(covered, r.offset, std::min(r.offset + r.length, end_of_file))) {
      if (b < old_end) {
        const uint64_t m = std::min(e, old_end);
        Status s = file->write(b, Slice(r.old_data.data() + (b - r.offset), static_cast<size_t>(m - b)));
        if (result.ok()) result = s;
        b = m;
      }
      if (b < e) {
        zeros.assign(static_cast<size_t>(e - b), '\0');
        Status s = file->write(b, zeros);
        if (result.ok()) result = s;
      }
    }
  }
  Status s = file->close();
  if (result.ok()) result = s;

  // 3. Cut off what lies past the new end.
  if (end_of_file < actual) {
    s = target_->truncate_file(name, end_of_file);
    if (result.ok()) result = s;
  }
  *kept = end_of_file;
  return result;
}

Status FaultInjectionEnv::undo_dir_op(const PendingDirOp& op) {
  if (op.type == PendingDirOp::Type::kCreate) {
    files_.erase(op.name);
    Status s = target_->remove_file(op.name);
    return s.IsNotFound() ? Status::OK() : s;  // removed again since: fine
  }
  // kRename: move the file back, then restore the old target.
  Status result;
  if (target_->file_exists(op.target)) {
    result = target_->rename_file(op.target, op.name);
    if (result.ok()) {
      auto it = files_.find(op.target);
      if (it != files_.end()) {
        files_[op.name] = std::move(it->second);
        files_.erase(op.target);
      } else {
        files_.erase(op.name);
      }
    }
  }
  if (op.had_old_target) {
    Status s = WriteStringToFile(target_, op.old_target_content, op.target, /*sync=*/true);
    files_.erase(op.target);  // restored content is durable: untracked
    if (result.ok()) result = s;
  }
  return result;
}

void FaultInjectionEnv::mark_all_durable() {
  port::MutexLock l(&mu_);
  for (auto& [name, state] : files_) {
    uint64_t actual = 0;
    // Past the appended bytes of a prefilled file lie only its zeros.
    if (state->zero_end == 0 && target_->get_file_size(name, &actual).ok()) state->size = actual;
    state->synced = state->size;
    state->zero_synced = state->zero_end;
    state->undo.clear();
  }
  pending_.clear();
}

// ---- Crash ----

void FaultInjectionEnv::set_filesystem_active(bool active) {
  port::MutexLock l(&mu_);
  active_ = active;
}

bool FaultInjectionEnv::filesystem_active() const {
  port::MutexLock l(&mu_);
  return active_;
}

// ---- Error injection and counters ----

void FaultInjectionEnv::fail_nth_call(OpKind kind, uint64_t n, bool deactivate_filesystem) {
  port::MutexLock l(&mu_);
  nth_armed_ = n > 0;
  nth_kind_ = kind;
  nth_remaining_ = n;
  nth_deactivate_ = deactivate_filesystem;
}

void FaultInjectionEnv::set_error_probability(OpKind kind, double p, uint64_t seed) {
  port::MutexLock l(&mu_);
  error_kind_ = kind;
  error_p_ = p > 0.0 ? p : 0.0;
  error_rng_ = seed;
}

void FaultInjectionEnv::clear_error_injection() {
  port::MutexLock l(&mu_);
  nth_armed_ = false;
  error_p_ = 0.0;
}

uint64_t FaultInjectionEnv::injected_error_count() const {
  port::MutexLock l(&mu_);
  return injected_errors_;
}

uint64_t FaultInjectionEnv::call_count(OpKind kind) const {
  port::MutexLock l(&mu_);
  return counts_[static_cast<int>(kind)];
}

void FaultInjectionEnv::reset_counters() {
  port::MutexLock l(&mu_);
  for (uint64_t& c : counts_) c = 0;
  injected_errors_ = 0;
}

}  // namespace lightning
