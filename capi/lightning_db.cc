// Copyright (c) Lightning authors. MIT License.
//
// The C API (capi/include/lightning/lightning_db.h) over lightning::Database.
//
// Lifetimes: the engine requires iterators, scans and transactions to be
// destroyed before their Database, and close() not to race with other calls.
// C callers cannot be trusted with either, so every database handle shares a
// DbState with the objects made from it:
//  - `lifecycle` is held shared by every call that touches the engine
//    (database, iterator, scan, transaction) and exclusively by close while
//    it ends the children and takes the engine database out of the state,
//    so close waits for calls in progress and no call starts on a
//    half-closed database. The engine's close() then runs outside the lock:
//    it delivers the subscriptions' last events, and their callbacks may
//    call in (and get CLOSED);
//  - `children` records the live iterators, scans and transactions (a
//    transaction records its own iterators and scans), so close can end them
//    (destroy their engine objects, innermost first) before the Database.
// A handle whose engine object was ended answers CLOSED. The DbState itself
// lives until the database handle and every child handle are destroyed, so
// a child destroyed after its database still finds the lock.
//
// No exception crosses the boundary: every entry point runs its body in a
// try block and turns what escapes into IOError, as util/no_throw.h does.
#include "lightning/lightning_db.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "lightning/backup.h"
#include "lightning/comparator.h"
#include "lightning/db.h"
#include "lightning/env.h"
#include "lightning/maintenance.h"
#include "lightning/prefix_extractor.h"
#include "lightning/subscription.h"
#include "util/no_throw.h"

namespace {

using lightning::Slice;
using lightning::Status;

// The public codes are the engine's, one to one; the header spells them out
// as macros, so pin each here.
static_assert(LIGHTNING_OK == static_cast<int>(Status::Code::kOk));
static_assert(LIGHTNING_NOT_FOUND == static_cast<int>(Status::Code::kNotFound));
static_assert(LIGHTNING_CORRUPTION == static_cast<int>(Status::Code::kCorruption));
static_assert(LIGHTNING_NOT_SUPPORTED == static_cast<int>(Status::Code::kNotSupported));
static_assert(LIGHTNING_INVALID_ARGUMENT == static_cast<int>(Status::Code::kInvalidArgument));
static_assert(LIGHTNING_IO_ERROR == static_cast<int>(Status::Code::kIOError));
static_assert(LIGHTNING_BUSY == static_cast<int>(Status::Code::kBusy));
static_assert(LIGHTNING_CONFLICT == static_cast<int>(Status::Code::kConflict));
static_assert(LIGHTNING_CLOSED == static_cast<int>(Status::Code::kClosed));
static_assert(LIGHTNING_ABORTED == static_cast<int>(Status::Code::kAborted));

// A malloc'd, NUL-terminated copy (so C callers may free it), or nullptr
// when memory runs out.
char* MallocCopy(const char* data, size_t size) {
  char* copy = static_cast<char*>(std::malloc(size + 1));
  if (copy == nullptr) return nullptr;
  if (size > 0) std::memcpy(copy, data, size);
  copy[size] = '\0';
  return copy;
}

// Stores s's message in *errmsg (NULL when OK) and returns its code.
int Report(const Status& s, char** errmsg) {
  if (errmsg != nullptr) {
    if (s.ok()) {
      *errmsg = nullptr;
    } else {
      const std::string text = s.ToString();
      *errmsg = MallocCopy(text.data(), text.size());
    }
  }
  return static_cast<int>(s.code());
}

int InvalidArgument(const char* what, char** errmsg) { return Report(Status::InvalidArgument(what), errmsg); }

// Runs body (returning Status) with exceptions turned into IOError, and
// reports the result.
template <typename Body>
int Guarded(char** errmsg, Body&& body) {
  // Report itself allocates; if even that throws, say only the code.
  try {
    return Report(lightning::NoThrow(std::forward<Body>(body)), errmsg);
  } catch (...) {
    if (errmsg != nullptr) *errmsg = nullptr;
    return LIGHTNING_IO_ERROR;
  }
}

// A key or value argument: NULL is allowed only with length 0.
bool BadBytes(const char* data, size_t size) { return data == nullptr && size != 0; }
Slice BytesOf(const char* data, size_t size) { return data == nullptr ? Slice() : Slice(data, size); }

Status ClosedDatabase() { return Status::Closed("the database is closed"); }

}  // namespace

// ---------------------------------------------------------------------------
// Comparators

struct lightning_comparator_t final : public lightning::Comparator {
  lightning_comparator_t(void* state, lightning_destructor_fn destructor, lightning_compare_fn compare_fn,
                         std::string name)
      : state_(state), destructor_(destructor), compare_(compare_fn), name_(std::move(name)) {}
  ~lightning_comparator_t() override {
    if (destructor_ != nullptr) destructor_(state_);
  }

  int compare(const Slice& a, const Slice& b) const override {
    return compare_(state_, a.data(), a.size(), b.data(), b.size());
  }
  const char* name() const override { return name_.c_str(); }

  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 private:
  std::atomic<long> refs_{1};
  void* const state_;
  const lightning_destructor_fn destructor_;
  const lightning_compare_fn compare_;
  const std::string name_;
};

namespace {

// One reference to a comparator (or none).
class ComparatorRef {
 public:
  ComparatorRef() = default;
  explicit ComparatorRef(lightning_comparator_t* c) : c_(c) {
    if (c_ != nullptr) c_->Ref();
  }
  ComparatorRef(const ComparatorRef& other) : ComparatorRef(other.c_) {}
  ComparatorRef& operator=(const ComparatorRef& other) {
    ComparatorRef copy(other);
    std::swap(c_, copy.c_);
    return *this;
  }
  ~ComparatorRef() { reset(); }
  void reset() {
    if (c_ != nullptr) c_->Unref();
    c_ = nullptr;
  }
  lightning_comparator_t* get() const { return c_; }

 private:
  lightning_comparator_t* c_ = nullptr;
};

}  // namespace

extern "C" lightning_comparator_t* lightning_comparator_create(void* state, lightning_destructor_fn destructor,
                                                               lightning_compare_fn compare, const char* name) {
  if (compare == nullptr || name == nullptr || name[0] == '\0') return nullptr;
  try {
    return new lightning_comparator_t(state, destructor, compare, name);
  } catch (...) {
    return nullptr;
  }
}

extern "C" void lightning_comparator_destroy(lightning_comparator_t* comparator) {
  if (comparator != nullptr) comparator->Unref();
}

// ---------------------------------------------------------------------------
// Options

struct lightning_options_t {
  lightning::Options options;
  ComparatorRef comparator;
  size_t prefix_length = 0;
  bool in_memory = false;
  std::shared_ptr<lightning::Env> memory_env;  // made by the first set_in_memory(1)
};

struct lightning_readoptions_t {
  const lightning_snapshot_t* snapshot = nullptr;
};

struct lightning_writeoptions_t {
  lightning::WriteOptions options;
};

struct lightning_snapshot_t {
  std::shared_ptr<const lightning::Snapshot> snapshot;
};

namespace {

template <typename T>
T* NewOrNull() {
  try {
    return new T();
  } catch (...) {
    return nullptr;
  }
}

lightning::ReadOptions ReadOptionsOf(const lightning_readoptions_t* read_options) {
  lightning::ReadOptions ro;
  if (read_options != nullptr && read_options->snapshot != nullptr) {
    ro.snapshot = read_options->snapshot->snapshot.get();
  }
  return ro;
}

lightning::WriteOptions WriteOptionsOf(const lightning_writeoptions_t* write_options) {
  return write_options == nullptr ? lightning::WriteOptions() : write_options->options;
}

// The body of a setter: INVALID_ARGUMENT for NULL options.
template <typename Options, typename Set>
int SetOption(Options* options, Set&& set) {
  if (options == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  return set(*options);
}

}  // namespace

extern "C" lightning_options_t* lightning_options_create(void) { return NewOrNull<lightning_options_t>(); }
extern "C" void lightning_options_destroy(lightning_options_t* options) { delete options; }

extern "C" int lightning_options_set_create_if_missing(lightning_options_t* options, int value) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.create_if_missing = value != 0;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_error_if_exists(lightning_options_t* options, int value) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.error_if_exists = value != 0;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_cache_size(lightning_options_t* options, size_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.cache_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_memtable_size(lightning_options_t* options, size_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.memtable_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_memory_budget(lightning_options_t* options, uint64_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.memory_budget = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_compression(lightning_options_t* options, int compression) {
  return SetOption(options, [&](lightning_options_t& o) {
    switch (compression) {
      case LIGHTNING_COMPRESSION_NONE: o.options.compression = lightning::CompressionType::kNone; break;
      case LIGHTNING_COMPRESSION_ZSTD: o.options.compression = lightning::CompressionType::kZstd; break;
      case LIGHTNING_COMPRESSION_LZ4: o.options.compression = lightning::CompressionType::kLz4; break;
      case LIGHTNING_COMPRESSION_SNAPPY: o.options.compression = lightning::CompressionType::kSnappy; break;
      default: return LIGHTNING_INVALID_ARGUMENT;
    }
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_wal_sync_mode(lightning_options_t* options, int mode) {
  return SetOption(options, [&](lightning_options_t& o) {
    switch (mode) {
      case LIGHTNING_WAL_SYNC_FULL: o.options.wal_sync_mode = lightning::WalSyncMode::kFull; break;
      case LIGHTNING_WAL_SYNC_NORMAL: o.options.wal_sync_mode = lightning::WalSyncMode::kNormal; break;
      case LIGHTNING_WAL_SYNC_OFF: o.options.wal_sync_mode = lightning::WalSyncMode::kOff; break;
      default: return LIGHTNING_INVALID_ARGUMENT;
    }
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_wal_sync_interval_ms(lightning_options_t* options, uint32_t ms) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.wal_sync_interval_ms = ms;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_wal_recovery_mode(lightning_options_t* options, int mode) {
  return SetOption(options, [&](lightning_options_t& o) {
    switch (mode) {
      case LIGHTNING_WAL_RECOVERY_STRICT: o.options.wal_recovery_mode = lightning::WalRecoveryMode::kStrict; break;
      case LIGHTNING_WAL_RECOVERY_POINT_IN_TIME:
        o.options.wal_recovery_mode = lightning::WalRecoveryMode::kPointInTime;
        break;
      case LIGHTNING_WAL_RECOVERY_SKIP_CORRUPTED:
        o.options.wal_recovery_mode = lightning::WalRecoveryMode::kSkipCorrupted;
        break;
      default: return LIGHTNING_INVALID_ARGUMENT;
    }
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_block_size(lightning_options_t* options, size_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.block_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_bloom_bits_per_key(lightning_options_t* options, int bits) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.bloom_bits_per_key = bits;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_page_size(lightning_options_t* options, uint32_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.page_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_mmap_size(lightning_options_t* options, uint64_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.mmap_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_target_file_size(lightning_options_t* options, uint64_t bytes) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.target_file_size = bytes;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_max_open_files(lightning_options_t* options, int count) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.max_open_files = count;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_max_background_compactions(lightning_options_t* options, int count) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.max_background_compactions = count;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_max_active_transactions(lightning_options_t* options, int count) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.options.max_active_transactions = count;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_prefix_length(lightning_options_t* options, size_t length) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.prefix_length = length;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_comparator(lightning_options_t* options, lightning_comparator_t* comparator) {
  return SetOption(options, [&](lightning_options_t& o) {
    o.comparator = ComparatorRef(comparator);
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_options_set_in_memory(lightning_options_t* options, int value) {
  return SetOption(options, [&](lightning_options_t& o) {
    if (value != 0 && o.memory_env == nullptr) {
      try {
        o.memory_env = lightning::NewMemoryEnv();
      } catch (...) {
        return LIGHTNING_IO_ERROR;
      }
    }
    o.in_memory = value != 0;
    return LIGHTNING_OK;
  });
}

extern "C" lightning_readoptions_t* lightning_readoptions_create(void) {
  return NewOrNull<lightning_readoptions_t>();
}
extern "C" void lightning_readoptions_destroy(lightning_readoptions_t* options) { delete options; }
extern "C" int lightning_readoptions_set_snapshot(lightning_readoptions_t* options,
                                                  const lightning_snapshot_t* snapshot) {
  return SetOption(options, [&](lightning_readoptions_t& o) {
    o.snapshot = snapshot;
    return LIGHTNING_OK;
  });
}

extern "C" lightning_writeoptions_t* lightning_writeoptions_create(void) {
  return NewOrNull<lightning_writeoptions_t>();
}
extern "C" void lightning_writeoptions_destroy(lightning_writeoptions_t* options) { delete options; }
extern "C" int lightning_writeoptions_set_sync(lightning_writeoptions_t* options, int value) {
  return SetOption(options, [&](lightning_writeoptions_t& o) {
    o.options.sync = value != 0;
    return LIGHTNING_OK;
  });
}
extern "C" int lightning_writeoptions_set_consistency(lightning_writeoptions_t* options, int level) {
  return SetOption(options, [&](lightning_writeoptions_t& o) {
    switch (level) {
      case LIGHTNING_CONSISTENCY_DEFAULT: o.options.consistency = lightning::ConsistencyLevel::kDefault; break;
      case LIGHTNING_CONSISTENCY_STRONG: o.options.consistency = lightning::ConsistencyLevel::kStrong; break;
      case LIGHTNING_CONSISTENCY_QUORUM: o.options.consistency = lightning::ConsistencyLevel::kQuorum; break;
      case LIGHTNING_CONSISTENCY_EVENTUAL: o.options.consistency = lightning::ConsistencyLevel::kEventual; break;
      default: return LIGHTNING_INVALID_ARGUMENT;
    }
    return LIGHTNING_OK;
  });
}

// ---------------------------------------------------------------------------
// Database state shared with the objects made from it

namespace {

struct DbState;

// An iterator, scan or transaction handle: something close must end first.
struct Child {
  explicit Child(std::shared_ptr<DbState> s) : state(std::move(s)) {}
  virtual ~Child() = default;
  // Destroys the engine object (and, for a transaction, its children's
  // first); later calls answer CLOSED with reason. Called with the state's
  // lifecycle lock exclusive, or shared by the thread that owns the
  // transaction, and registry_mu held.
  virtual void End(const char* reason) = 0;

  const std::shared_ptr<DbState> state;
  // The set this child is registered in (its database's or its
  // transaction's); null once that owner ended it. Guarded by registry_mu.
  std::unordered_set<Child*>* registry = nullptr;
  const char* end_reason = nullptr;  // why the engine object is gone
};

struct DbState {
  ~DbState() { db.reset(); }  // before the comparator, env and extractor it uses

  std::shared_mutex lifecycle;
  // What the database uses; released when it closes.
  ComparatorRef comparator;
  std::shared_ptr<lightning::Env> env;
  std::shared_ptr<const lightning::PrefixExtractor> prefix_extractor;
  std::unique_ptr<lightning::Database> db;  // null once closed

  std::mutex registry_mu;
  std::unordered_set<Child*> children;  // guarded by registry_mu

  std::mutex close_mu;  // serializes CloseState
};

constexpr const char* kDatabaseClosed = "the database was closed";
constexpr const char* kTransactionDestroyed = "its transaction was destroyed";

void Register(Child* child, std::unordered_set<Child*>* registry) {
  std::lock_guard<std::mutex> l(child->state->registry_mu);
  registry->insert(child);
  child->registry = registry;
}

void Unregister(Child* child) {
  std::lock_guard<std::mutex> l(child->state->registry_mu);
  if (child->registry != nullptr) child->registry->erase(child);
  child->registry = nullptr;
}

// Ends every child in registry (registry_mu held) and empties it.
void EndAll(std::unordered_set<Child*>* registry, const char* reason) {
  for (Child* child : *registry) {
    child->End(reason);
    child->registry = nullptr;
  }
  registry->clear();
}

Status EndedStatus(const Child& child) {
  return Status::Closed(child.end_reason != nullptr ? child.end_reason : kDatabaseClosed);
}

// The database whose subscription callback the calling thread is running,
// if any (set around every callback by the subscription trampoline).
thread_local const DbState* t_callback_state = nullptr;

// Ends the children, closes and destroys the engine database. OK if it was
// closed already; a second close waits for the first to finish.
Status CloseState(DbState* state) {
  // The engine refuses close() from a callback, but only after this layer
  // would have ended the children: refuse first.
  if (t_callback_state == state) {
    return Status::InvalidArgument("lightning_db_close: called from a subscription callback of this database");
  }
  std::lock_guard<std::mutex> serialize(state->close_mu);
  // Released after the database that uses them (reverse declaration order).
  ComparatorRef comparator;
  std::shared_ptr<lightning::Env> env;
  std::shared_ptr<const lightning::PrefixExtractor> prefix_extractor;
  std::unique_ptr<lightning::Database> db;
  {
    std::unique_lock<std::shared_mutex> lock(state->lifecycle);
    if (state->db == nullptr) return Status::OK();
    {
      std::lock_guard<std::mutex> l(state->registry_mu);
      EndAll(&state->children, kDatabaseClosed);
    }
    // From here every call on the handle answers CLOSED.
    db = std::move(state->db);
    prefix_extractor = std::move(state->prefix_extractor);
    env = std::move(state->env);
    comparator = state->comparator;
    state->comparator.reset();
  }
  // Outside the lock: close() first delivers the events queued for
  // subscriptions, and their callbacks may call into this API (and get
  // CLOSED); holding the lock here, they would wait for close and close for
  // them.
  return db->close();
}

}  // namespace

struct lightning_db_t {
  std::shared_ptr<DbState> state;
};

struct lightning_iterator_t final : Child {
  using Child::Child;
  void End(const char* reason) override {
    iterator.reset();
    end_reason = reason;
  }
  std::unique_ptr<lightning::Iterator> iterator;
};

struct lightning_scan_t final : Child {
  using Child::Child;
  void End(const char* reason) override {
    scan.reset();
    end_reason = reason;
  }
  std::unique_ptr<lightning::Scan> scan;
};

struct lightning_transaction_t final : Child {
  using Child::Child;
  void End(const char* reason) override {
    EndAll(&children, reason);
    txn.reset();
    end_reason = reason;
  }
  std::unique_ptr<lightning::Transaction> txn;
  std::unordered_set<Child*> children;  // its iterators and scans; guarded by state->registry_mu
};

// ---------------------------------------------------------------------------
// Errors and version

extern "C" const char* lightning_strerror(int code) {
  switch (code) {
    case LIGHTNING_OK: return "OK";
    case LIGHTNING_NOT_FOUND: return "not found";
    case LIGHTNING_CORRUPTION: return "corruption";
    case LIGHTNING_NOT_SUPPORTED: return "not supported";
    case LIGHTNING_INVALID_ARGUMENT: return "invalid argument";
    case LIGHTNING_IO_ERROR: return "I/O error";
    case LIGHTNING_BUSY: return "busy";
    case LIGHTNING_CONFLICT: return "conflict";
    case LIGHTNING_CLOSED: return "closed";
    case LIGHTNING_ABORTED: return "aborted";
    case LIGHTNING_BUFFER_TOO_SMALL: return "buffer too small";
    default: return "unknown error code";
  }
}

extern "C" void lightning_free(void* ptr) { std::free(ptr); }

#define LIGHTNING_STRINGIFY_(x) #x
#define LIGHTNING_STRINGIFY(x) LIGHTNING_STRINGIFY_(x)

extern "C" uint32_t lightning_version_number(void) {
  return LIGHTNING_VERSION_MAJOR * 10000u + LIGHTNING_VERSION_MINOR * 100u + LIGHTNING_VERSION_PATCH;
}

extern "C" const char* lightning_version_string(void) {
  return LIGHTNING_STRINGIFY(LIGHTNING_VERSION_MAJOR) "." LIGHTNING_STRINGIFY(
      LIGHTNING_VERSION_MINOR) "." LIGHTNING_STRINGIFY(LIGHTNING_VERSION_PATCH);
}

// ---------------------------------------------------------------------------
// Open and close

extern "C" int lightning_db_open(const char* path, const lightning_options_t* options, lightning_db_t** db,
                                 char** errmsg) {
  if (db == nullptr) return InvalidArgument("lightning_db_open: db is NULL", errmsg);
  *db = nullptr;
  if (path == nullptr) return InvalidArgument("lightning_db_open: path is NULL", errmsg);
  return Guarded(errmsg, [&]() -> Status {
    auto state = std::make_shared<DbState>();
    lightning::Options engine_options;
    if (options != nullptr) {
      engine_options = options->options;
      state->comparator = options->comparator;
      if (options->in_memory) state->env = options->memory_env;
      if (options->prefix_length > 0) {
        state->prefix_extractor = lightning::NewFixedPrefixExtractor(options->prefix_length);
      }
    }
    engine_options.comparator = state->comparator.get();
    engine_options.env = state->env.get();
    engine_options.prefix_extractor = state->prefix_extractor.get();
    auto opened = lightning::Database::open(path, engine_options);
    if (!opened.ok()) return opened.status();
    state->db = std::move(opened).value();
    auto handle = std::make_unique<lightning_db_t>();
    handle->state = std::move(state);
    *db = handle.release();
    return Status::OK();
  });
}

extern "C" lightning_db_t* lightning_db_create(const char* path, const lightning_options_t* options) {
  lightning_db_t* db = nullptr;
  (void)lightning_db_open(path, options, &db, nullptr);
  return db;
}

extern "C" int lightning_db_close(lightning_db_t* db, char** errmsg) {
  if (db == nullptr) return InvalidArgument("lightning_db_close: db is NULL", errmsg);
  return Guarded(errmsg, [&] { return CloseState(db->state.get()); });
}

extern "C" void lightning_db_destroy(lightning_db_t* db) {
  if (db == nullptr) return;
  (void)lightning_db_close(db, nullptr);
  delete db;
}

// ---------------------------------------------------------------------------
// Calls on an open database

namespace {

// Runs body(Database&) under the shared lifecycle lock; CLOSED if closed.
template <typename Body>
int WithDb(lightning_db_t* db, const char* fn_name, char** errmsg, Body&& body) {
  if (db == nullptr) return Report(Status::InvalidArgument(fn_name, "db is NULL"), errmsg);
  return Guarded(errmsg, [&]() -> Status {
    std::shared_lock<std::shared_mutex> lock(db->state->lifecycle);
    if (db->state->db == nullptr) return ClosedDatabase();
    return body(*db->state->db);
  });
}

// Stores a malloc'd copy of value in *out (non-null even when empty).
Status CopyOut(const std::string& value, char** out, size_t* out_len) {
  char* copy = MallocCopy(value.data(), value.size());
  if (copy == nullptr) return Status::IOError("out of memory");
  *out = copy;
  *out_len = value.size();
  return Status::OK();
}

}  // namespace

extern "C" int lightning_db_put_ex(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                   const char* key, size_t key_len, const char* value, size_t value_len,
                                   char** errmsg) {
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_db_put: key is NULL", errmsg);
  if (BadBytes(value, value_len)) return InvalidArgument("lightning_db_put: value is NULL", errmsg);
  return WithDb(db, "lightning_db_put", errmsg, [&](lightning::Database& d) {
    return d.put(BytesOf(key, key_len), BytesOf(value, value_len), WriteOptionsOf(write_options));
  });
}

extern "C" int lightning_db_put(lightning_db_t* db, const char* key, size_t key_len, const char* value,
                                size_t value_len) {
  return lightning_db_put_ex(db, nullptr, key, key_len, value, value_len, nullptr);
}

extern "C" int lightning_db_delete_ex(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                      const char* key, size_t key_len, char** errmsg) {
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_db_delete: key is NULL", errmsg);
  return WithDb(db, "lightning_db_delete", errmsg, [&](lightning::Database& d) {
    return d.remove(BytesOf(key, key_len), WriteOptionsOf(write_options));
  });
}

extern "C" int lightning_db_delete(lightning_db_t* db, const char* key, size_t key_len) {
  return lightning_db_delete_ex(db, nullptr, key, key_len, nullptr);
}

extern "C" int lightning_db_sync_wal(lightning_db_t* db, char** errmsg) {
  return WithDb(db, "lightning_db_sync_wal", errmsg, [](lightning::Database& d) { return d.sync_wal(); });
}

extern "C" int lightning_db_flush(lightning_db_t* db, char** errmsg) {
  return WithDb(db, "lightning_db_flush", errmsg, [](lightning::Database& d) { return d.flush(); });
}

extern "C" int lightning_db_compact(lightning_db_t* db, char** errmsg) {
  return WithDb(db, "lightning_db_compact", errmsg, [](lightning::Database& d) { return d.compact(); });
}

// ---------------------------------------------------------------------------
// Write batches

struct lightning_writebatch_t {
  lightning::WriteBatch batch;
};

extern "C" lightning_writebatch_t* lightning_writebatch_create(void) { return NewOrNull<lightning_writebatch_t>(); }
extern "C" void lightning_writebatch_destroy(lightning_writebatch_t* batch) { delete batch; }

extern "C" int lightning_writebatch_put(lightning_writebatch_t* batch, const char* key, size_t key_len,
                                        const char* value, size_t value_len, char** errmsg) {
  if (batch == nullptr) return InvalidArgument("lightning_writebatch_put: batch is NULL", errmsg);
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_writebatch_put: key is NULL", errmsg);
  if (BadBytes(value, value_len)) return InvalidArgument("lightning_writebatch_put: value is NULL", errmsg);
  return Guarded(errmsg, [&] { return batch->batch.put(BytesOf(key, key_len), BytesOf(value, value_len)); });
}

extern "C" int lightning_writebatch_delete(lightning_writebatch_t* batch, const char* key, size_t key_len,
                                           char** errmsg) {
  if (batch == nullptr) return InvalidArgument("lightning_writebatch_delete: batch is NULL", errmsg);
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_writebatch_delete: key is NULL", errmsg);
  return Guarded(errmsg, [&] { return batch->batch.remove(BytesOf(key, key_len)); });
}

extern "C" int lightning_writebatch_clear(lightning_writebatch_t* batch) {
  if (batch == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  batch->batch.clear();
  return LIGHTNING_OK;
}

extern "C" int lightning_writebatch_count(const lightning_writebatch_t* batch, uint32_t* count) {
  if (batch == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = batch->batch.count();
  return LIGHTNING_OK;
}

extern "C" int lightning_db_write(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                  const lightning_writebatch_t* batch, char** errmsg) {
  if (batch == nullptr) return InvalidArgument("lightning_db_write: batch is NULL", errmsg);
  return WithDb(db, "lightning_db_write", errmsg,
                [&](lightning::Database& d) { return d.write(batch->batch, WriteOptionsOf(write_options)); });
}

// ---------------------------------------------------------------------------
// Reads

extern "C" int lightning_db_get_ex(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                   const char* key, size_t key_len, char** value, size_t* value_len,
                                   char** errmsg) {
  if (value == nullptr || value_len == nullptr) {
    return InvalidArgument("lightning_db_get: value or value_len is NULL", errmsg);
  }
  *value = nullptr;
  *value_len = 0;
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_db_get: key is NULL", errmsg);
  return WithDb(db, "lightning_db_get", errmsg, [&](lightning::Database& d) {
    std::string result;
    Status s = d.get(BytesOf(key, key_len), &result, ReadOptionsOf(read_options));
    if (!s.ok()) return s;
    return CopyOut(result, value, value_len);
  });
}

extern "C" char* lightning_db_get(lightning_db_t* db, const char* key, size_t key_len, size_t* value_len) {
  char* value = nullptr;
  size_t len = 0;
  (void)lightning_db_get_ex(db, nullptr, key, key_len, &value, &len, nullptr);
  if (value_len != nullptr) {
    *value_len = len;
  } else if (value != nullptr) {
    // Without a length the caller could not use the value: refuse, free it.
    std::free(value);
    value = nullptr;
  }
  return value;
}

extern "C" void lightning_db_free_value(char* value) { std::free(value); }

extern "C" int lightning_db_get_into(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                     const char* key, size_t key_len, char* buffer, size_t buffer_len,
                                     size_t* value_len, char** errmsg) {
  if (value_len == nullptr) return InvalidArgument("lightning_db_get_into: value_len is NULL", errmsg);
  *value_len = 0;
  if (buffer == nullptr && buffer_len != 0) return InvalidArgument("lightning_db_get_into: buffer is NULL", errmsg);
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_db_get_into: key is NULL", errmsg);
  bool too_small = false;
  int code = WithDb(db, "lightning_db_get_into", errmsg, [&](lightning::Database& d) {
    std::string result;
    Status s = d.get(BytesOf(key, key_len), &result, ReadOptionsOf(read_options));
    if (!s.ok()) return s;
    *value_len = result.size();
    if (result.size() > buffer_len) {
      too_small = true;
    } else if (!result.empty()) {
      std::memcpy(buffer, result.data(), result.size());
    }
    return Status::OK();
  });
  if (code == LIGHTNING_OK && too_small) {
    // Not an engine status: the C API's own code.
    if (errmsg != nullptr) *errmsg = MallocCopy("buffer too small", std::strlen("buffer too small"));
    return LIGHTNING_BUFFER_TOO_SMALL;
  }
  return code;
}

extern "C" int lightning_db_multi_get(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                      size_t num_keys, const char* const* keys, const size_t* key_lens,
                                      char** values, size_t* value_lens, int* statuses, char** errmsg) {
  if (num_keys > 0 &&
      (keys == nullptr || key_lens == nullptr || values == nullptr || value_lens == nullptr || statuses == nullptr)) {
    return InvalidArgument("lightning_db_multi_get: an array argument is NULL", errmsg);
  }
  for (size_t i = 0; i < num_keys; i++) {
    values[i] = nullptr;
    value_lens[i] = 0;
    statuses[i] = LIGHTNING_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < num_keys; i++) {
    if (BadBytes(keys[i], key_lens[i])) return InvalidArgument("lightning_db_multi_get: a key is NULL", errmsg);
  }
  bool read_keys = false;  // whether statuses hold per-key results
  int code = WithDb(db, "lightning_db_multi_get", errmsg, [&](lightning::Database& d) -> Status {
    std::vector<Slice> key_slices;
    key_slices.reserve(num_keys);
    for (size_t i = 0; i < num_keys; i++) key_slices.push_back(BytesOf(keys[i], key_lens[i]));
    std::vector<lightning::Result<std::string>> results = d.get_batch(key_slices, ReadOptionsOf(read_options));
    if (results.size() != num_keys) return Status::IOError("out of memory");
    Status first_error;
    read_keys = true;
    for (size_t i = 0; i < num_keys; i++) {
      Status s = results[i].ok() ? CopyOut(results[i].value(), &values[i], &value_lens[i]) : results[i].status();
      statuses[i] = static_cast<int>(s.code());
      if (!s.ok() && !s.IsNotFound() && first_error.ok()) first_error = s;
    }
    return first_error;
  });
  if (!read_keys) {
    // The whole call failed (closed database, foreign snapshot): every key
    // carries its error.
    for (size_t i = 0; i < num_keys; i++) statuses[i] = code;
  }
  return code;
}

// ---------------------------------------------------------------------------
// Snapshots

extern "C" int lightning_db_snapshot_create(lightning_db_t* db, lightning_snapshot_t** snapshot, char** errmsg) {
  if (snapshot == nullptr) return InvalidArgument("lightning_db_snapshot_create: snapshot is NULL", errmsg);
  *snapshot = nullptr;
  return WithDb(db, "lightning_db_snapshot_create", errmsg, [&](lightning::Database& d) {
    auto handle = std::make_unique<lightning_snapshot_t>();
    handle->snapshot = d.snapshot();
    *snapshot = handle.release();
    return Status::OK();
  });
}

extern "C" void lightning_snapshot_destroy(lightning_snapshot_t* snapshot) { delete snapshot; }

extern "C" int lightning_snapshot_sequence(const lightning_snapshot_t* snapshot, uint64_t* sequence) {
  if (snapshot == nullptr || sequence == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *sequence = snapshot->snapshot->sequence();
  return LIGHTNING_OK;
}

// ---------------------------------------------------------------------------
// Iterators

namespace {

// Runs body(Iterator&) under the shared lifecycle lock, then reports the
// iterator's status. CLOSED if the iterator was ended.
template <typename Body>
int WithIterator(lightning_iterator_t* iterator, const char* fn_name, char** errmsg, Body&& body) {
  if (iterator == nullptr) return Report(Status::InvalidArgument(fn_name, "iterator is NULL"), errmsg);
  return Guarded(errmsg, [&]() -> Status {
    std::shared_lock<std::shared_mutex> lock(iterator->state->lifecycle);
    if (iterator->iterator == nullptr) return EndedStatus(*iterator);
    Status s = body(*iterator->iterator);
    if (!s.ok()) return s;
    return iterator->iterator->status();
  });
}

// Registers a new child of db (or of txn when not null) made by make(child)
// under the lifecycle lock; CLOSED if db (or txn) is gone.
template <typename Handle, typename Make>
Status MakeChild(const std::shared_ptr<DbState>& state, lightning_transaction_t* txn, Handle** out, Make&& make) {
  std::shared_lock<std::shared_mutex> lock(state->lifecycle);
  if (state->db == nullptr) return ClosedDatabase();
  if (txn != nullptr && txn->txn == nullptr) return EndedStatus(*txn);
  auto handle = std::make_unique<Handle>(state);
  Status s = make(handle.get());
  if (!s.ok()) return s;
  Register(handle.get(), txn != nullptr ? &txn->children : &state->children);
  *out = handle.release();
  return Status::OK();
}

// Destroys a child's engine object under the lifecycle lock (so close
// cannot run beside it), then the handle.
template <typename Handle>
void DestroyChild(Handle* handle) {
  if (handle == nullptr) return;
  std::shared_ptr<DbState> state = handle->state;  // outlives the handle
  std::shared_lock<std::shared_mutex> lock(state->lifecycle);
  Unregister(handle);
  delete handle;
}

lightning::ScanOptions ScanOptionsOf(const char* start, size_t start_len, const char* end, size_t end_len,
                                     const char* prefix, size_t prefix_len, int reverse, size_t limit) {
  lightning::ScanOptions options;
  if (start != nullptr) options.start.emplace(start, start_len);
  if (end != nullptr) options.end.emplace(end, end_len);
  if (prefix_len > 0) options.prefix.assign(prefix, prefix_len);
  options.reverse = reverse != 0;
  options.limit = limit;
  return options;
}

}  // namespace

extern "C" int lightning_db_iterator_create(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                            lightning_iterator_t** iterator, char** errmsg) {
  if (iterator == nullptr) return InvalidArgument("lightning_db_iterator_create: iterator is NULL", errmsg);
  *iterator = nullptr;
  if (db == nullptr) return InvalidArgument("lightning_db_iterator_create: db is NULL", errmsg);
  return Guarded(errmsg, [&] {
    return MakeChild(db->state, nullptr, iterator, [&](lightning_iterator_t* it) {
      it->iterator = db->state->db->new_iterator(ReadOptionsOf(read_options));
      // A foreign snapshot yields an iterator that says so: refuse it here.
      return it->iterator->status();
    });
  });
}

extern "C" void lightning_iterator_destroy(lightning_iterator_t* iterator) {
  try {
    DestroyChild(iterator);
  } catch (...) {
    // Only a failing lock can throw; the handle is leaked rather than
    // destroyed unlocked.
  }
}

extern "C" int lightning_iterator_valid(const lightning_iterator_t* iterator) {
  if (iterator == nullptr) return 0;
  try {
    std::shared_lock<std::shared_mutex> lock(iterator->state->lifecycle);
    return iterator->iterator != nullptr && iterator->iterator->valid() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

extern "C" int lightning_iterator_seek_to_first(lightning_iterator_t* iterator, char** errmsg) {
  return WithIterator(iterator, "lightning_iterator_seek_to_first", errmsg, [](lightning::Iterator& it) {
    it.seek_to_first();
    return Status::OK();
  });
}

extern "C" int lightning_iterator_seek_to_last(lightning_iterator_t* iterator, char** errmsg) {
  return WithIterator(iterator, "lightning_iterator_seek_to_last", errmsg, [](lightning::Iterator& it) {
    it.seek_to_last();
    return Status::OK();
  });
}

extern "C" int lightning_iterator_seek(lightning_iterator_t* iterator, const char* target, size_t target_len,
                                       char** errmsg) {
  if (BadBytes(target, target_len)) return InvalidArgument("lightning_iterator_seek: target is NULL", errmsg);
  return WithIterator(iterator, "lightning_iterator_seek", errmsg, [&](lightning::Iterator& it) {
    it.seek(BytesOf(target, target_len));
    return Status::OK();
  });
}

extern "C" int lightning_iterator_seek_for_prev(lightning_iterator_t* iterator, const char* target,
                                                size_t target_len, char** errmsg) {
  if (BadBytes(target, target_len)) {
    return InvalidArgument("lightning_iterator_seek_for_prev: target is NULL", errmsg);
  }
  return WithIterator(iterator, "lightning_iterator_seek_for_prev", errmsg, [&](lightning::Iterator& it) {
    it.seek_for_prev(BytesOf(target, target_len));
    return Status::OK();
  });
}

extern "C" int lightning_iterator_next(lightning_iterator_t* iterator, char** errmsg) {
  return WithIterator(iterator, "lightning_iterator_next", errmsg, [](lightning::Iterator& it) {
    if (!it.valid()) return Status::InvalidArgument("lightning_iterator_next: the iterator is not valid");
    it.next();
    return Status::OK();
  });
}

extern "C" int lightning_iterator_prev(lightning_iterator_t* iterator, char** errmsg) {
  return WithIterator(iterator, "lightning_iterator_prev", errmsg, [](lightning::Iterator& it) {
    if (!it.valid()) return Status::InvalidArgument("lightning_iterator_prev: the iterator is not valid");
    it.prev();
    return Status::OK();
  });
}

namespace {

template <typename Get>
int IteratorBytes(const lightning_iterator_t* iterator, const char** data, size_t* size, Get&& get) {
  if (iterator == nullptr || data == nullptr || size == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *data = nullptr;
  *size = 0;
  try {
    std::shared_lock<std::shared_mutex> lock(iterator->state->lifecycle);
    if (iterator->iterator == nullptr) return LIGHTNING_CLOSED;
    if (!iterator->iterator->valid()) return LIGHTNING_INVALID_ARGUMENT;
    Slice bytes = get(*iterator->iterator);
    *data = bytes.data();
    *size = bytes.size();
    return LIGHTNING_OK;
  } catch (...) {
    return LIGHTNING_IO_ERROR;
  }
}

}  // namespace

extern "C" int lightning_iterator_key(const lightning_iterator_t* iterator, const char** key, size_t* key_len) {
  return IteratorBytes(iterator, key, key_len, [](const lightning::Iterator& it) { return it.key(); });
}

extern "C" int lightning_iterator_value(const lightning_iterator_t* iterator, const char** value,
                                        size_t* value_len) {
  return IteratorBytes(iterator, value, value_len, [](const lightning::Iterator& it) { return it.value(); });
}

extern "C" int lightning_iterator_status(const lightning_iterator_t* iterator, char** errmsg) {
  if (iterator == nullptr) return InvalidArgument("lightning_iterator_status: iterator is NULL", errmsg);
  return Guarded(errmsg, [&]() -> Status {
    std::shared_lock<std::shared_mutex> lock(iterator->state->lifecycle);
    if (iterator->iterator == nullptr) return EndedStatus(*iterator);
    return iterator->iterator->status();
  });
}

// ---------------------------------------------------------------------------
// Scans

extern "C" int lightning_db_scan_create(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                        const char* start, size_t start_len, const char* end, size_t end_len,
                                        const char* prefix, size_t prefix_len, int reverse, size_t limit,
                                        lightning_scan_t** scan, char** errmsg) {
  if (scan == nullptr) return InvalidArgument("lightning_db_scan_create: scan is NULL", errmsg);
  *scan = nullptr;
  if (db == nullptr) return InvalidArgument("lightning_db_scan_create: db is NULL", errmsg);
  if (BadBytes(prefix, prefix_len)) return InvalidArgument("lightning_db_scan_create: prefix is NULL", errmsg);
  return Guarded(errmsg, [&] {
    return MakeChild(db->state, nullptr, scan, [&](lightning_scan_t* s) {
      s->scan = std::make_unique<lightning::Scan>(db->state->db->new_scan(
          ScanOptionsOf(start, start_len, end, end_len, prefix, prefix_len, reverse, limit),
          ReadOptionsOf(read_options)));
      return s->scan->status();
    });
  });
}

extern "C" void lightning_scan_destroy(lightning_scan_t* scan) {
  try {
    DestroyChild(scan);
  } catch (...) {
    // As lightning_iterator_destroy.
  }
}

extern "C" int lightning_scan_next(lightning_scan_t* scan, int* has_entry, const char** key, size_t* key_len,
                                   const char** value, size_t* value_len, char** errmsg) {
  if (has_entry == nullptr) return InvalidArgument("lightning_scan_next: has_entry is NULL", errmsg);
  *has_entry = 0;
  if (scan == nullptr) return InvalidArgument("lightning_scan_next: scan is NULL", errmsg);
  return Guarded(errmsg, [&]() -> Status {
    std::shared_lock<std::shared_mutex> lock(scan->state->lifecycle);
    if (scan->scan == nullptr) return EndedStatus(*scan);
    lightning::Scan::Entry entry;
    if (!scan->scan->next(&entry)) return scan->scan->status();
    *has_entry = 1;
    if (key != nullptr) *key = entry.key.data();
    if (key_len != nullptr) *key_len = entry.key.size();
    if (value != nullptr) *value = entry.value.data();
    if (value_len != nullptr) *value_len = entry.value.size();
    return Status::OK();
  });
}

// ---------------------------------------------------------------------------
// Transactions

extern "C" int lightning_transaction_begin(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                           int isolation, lightning_transaction_t** txn, char** errmsg) {
  if (txn == nullptr) return InvalidArgument("lightning_transaction_begin: txn is NULL", errmsg);
  *txn = nullptr;
  if (db == nullptr) return InvalidArgument("lightning_transaction_begin: db is NULL", errmsg);
  lightning::TransactionOptions options;
  switch (isolation) {
    case LIGHTNING_ISOLATION_SNAPSHOT: options.isolation = lightning::IsolationLevel::kSnapshot; break;
    case LIGHTNING_ISOLATION_SERIALIZABLE: options.isolation = lightning::IsolationLevel::kSerializable; break;
    default: return InvalidArgument("lightning_transaction_begin: unknown isolation level", errmsg);
  }
  options.write_options = WriteOptionsOf(write_options);
  return Guarded(errmsg, [&] {
    return MakeChild(db->state, nullptr, txn, [&](lightning_transaction_t* t) -> Status {
      auto begun = db->state->db->begin_transaction(options);
      if (!begun.ok()) return begun.status();
      t->txn = std::move(begun).value();
      return Status::OK();
    });
  });
}

extern "C" void lightning_transaction_destroy(lightning_transaction_t* txn) {
  if (txn == nullptr) return;
  try {
    std::shared_ptr<DbState> state = txn->state;
    std::shared_lock<std::shared_mutex> lock(state->lifecycle);
    {
      std::lock_guard<std::mutex> l(state->registry_mu);
      if (txn->registry != nullptr) txn->registry->erase(txn);
      txn->registry = nullptr;
      txn->End(kTransactionDestroyed);  // its iterators and scans first, then the engine's (aborting it)
    }
    delete txn;
  } catch (...) {
    // As lightning_iterator_destroy.
  }
}

namespace {

template <typename Body>
int WithTxn(lightning_transaction_t* txn, const char* fn_name, char** errmsg, Body&& body) {
  if (txn == nullptr) return Report(Status::InvalidArgument(fn_name, "txn is NULL"), errmsg);
  return Guarded(errmsg, [&]() -> Status {
    std::shared_lock<std::shared_mutex> lock(txn->state->lifecycle);
    if (txn->txn == nullptr) return EndedStatus(*txn);
    return body(*txn->txn);
  });
}

}  // namespace

extern "C" int lightning_transaction_get(lightning_transaction_t* txn, const char* key, size_t key_len,
                                         char** value, size_t* value_len, char** errmsg) {
  if (value == nullptr || value_len == nullptr) {
    return InvalidArgument("lightning_transaction_get: value or value_len is NULL", errmsg);
  }
  *value = nullptr;
  *value_len = 0;
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_transaction_get: key is NULL", errmsg);
  return WithTxn(txn, "lightning_transaction_get", errmsg, [&](lightning::Transaction& t) {
    std::string result;
    Status s = t.get(BytesOf(key, key_len), &result);
    if (!s.ok()) return s;
    return CopyOut(result, value, value_len);
  });
}

extern "C" int lightning_transaction_put(lightning_transaction_t* txn, const char* key, size_t key_len,
                                         const char* value, size_t value_len, char** errmsg) {
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_transaction_put: key is NULL", errmsg);
  if (BadBytes(value, value_len)) return InvalidArgument("lightning_transaction_put: value is NULL", errmsg);
  return WithTxn(txn, "lightning_transaction_put", errmsg, [&](lightning::Transaction& t) {
    return t.put(BytesOf(key, key_len), BytesOf(value, value_len));
  });
}

extern "C" int lightning_transaction_delete(lightning_transaction_t* txn, const char* key, size_t key_len,
                                            char** errmsg) {
  if (BadBytes(key, key_len)) return InvalidArgument("lightning_transaction_delete: key is NULL", errmsg);
  return WithTxn(txn, "lightning_transaction_delete", errmsg,
                 [&](lightning::Transaction& t) { return t.remove(BytesOf(key, key_len)); });
}

extern "C" int lightning_transaction_commit(lightning_transaction_t* txn, char** errmsg) {
  return WithTxn(txn, "lightning_transaction_commit", errmsg, [](lightning::Transaction& t) { return t.commit(); });
}

extern "C" int lightning_transaction_abort(lightning_transaction_t* txn, char** errmsg) {
  return WithTxn(txn, "lightning_transaction_abort", errmsg, [](lightning::Transaction& t) { return t.abort(); });
}

extern "C" int lightning_transaction_snapshot_sequence(const lightning_transaction_t* txn, uint64_t* sequence) {
  if (txn == nullptr || sequence == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  try {
    std::shared_lock<std::shared_mutex> lock(txn->state->lifecycle);
    if (txn->txn == nullptr) return LIGHTNING_CLOSED;
    *sequence = txn->txn->snapshot_sequence();
    return LIGHTNING_OK;
  } catch (...) {
    return LIGHTNING_IO_ERROR;
  }
}

extern "C" int lightning_transaction_iterator_create(lightning_transaction_t* txn, lightning_iterator_t** iterator,
                                                     char** errmsg) {
  if (iterator == nullptr) return InvalidArgument("lightning_transaction_iterator_create: iterator is NULL", errmsg);
  *iterator = nullptr;
  if (txn == nullptr) return InvalidArgument("lightning_transaction_iterator_create: txn is NULL", errmsg);
  return Guarded(errmsg, [&] {
    return MakeChild(txn->state, txn, iterator, [&](lightning_iterator_t* it) {
      it->iterator = txn->txn->new_iterator();
      return it->iterator->status();
    });
  });
}

extern "C" int lightning_transaction_scan_create(lightning_transaction_t* txn, const char* start, size_t start_len,
                                                 const char* end, size_t end_len, const char* prefix,
                                                 size_t prefix_len, int reverse, size_t limit,
                                                 lightning_scan_t** scan, char** errmsg) {
  if (scan == nullptr) return InvalidArgument("lightning_transaction_scan_create: scan is NULL", errmsg);
  *scan = nullptr;
  if (txn == nullptr) return InvalidArgument("lightning_transaction_scan_create: txn is NULL", errmsg);
  if (BadBytes(prefix, prefix_len)) {
    return InvalidArgument("lightning_transaction_scan_create: prefix is NULL", errmsg);
  }
  return Guarded(errmsg, [&] {
    return MakeChild(txn->state, txn, scan, [&](lightning_scan_t* s) {
      s->scan = std::make_unique<lightning::Scan>(
          txn->txn->new_scan(ScanOptionsOf(start, start_len, end, end_len, prefix, prefix_len, reverse, limit)));
      return s->scan->status();
    });
  });
}

// ---------------------------------------------------------------------------
// Statistics

struct lightning_stats_t {
  std::vector<std::pair<std::string, uint64_t>> entries;
};

namespace {

void FillStats(const lightning::DatabaseStats& st, lightning_stats_t* out) {
  auto& e = out->entries;
  for (size_t level = 0; level < st.levels.size(); level++) {
    const std::string prefix = "level" + std::to_string(level);
    e.emplace_back(prefix + ".files", static_cast<uint64_t>(st.levels[level].files));
    e.emplace_back(prefix + ".bytes", st.levels[level].bytes);
  }
#define LIGHTNING_STAT(field) e.emplace_back(#field, static_cast<uint64_t>(st.field))
  LIGHTNING_STAT(memtable_bytes);
  LIGHTNING_STAT(immutable_memtables);
  LIGHTNING_STAT(wal_bytes);
  LIGHTNING_STAT(block_cache_bytes);
  LIGHTNING_STAT(block_cache_capacity);
  LIGHTNING_STAT(table_memory_bytes);
  LIGHTNING_STAT(memory_usage);
  LIGHTNING_STAT(tree_height);
  LIGHTNING_STAT(tree_entries);
  LIGHTNING_STAT(tree_bytes);
  LIGHTNING_STAT(tree_file_bytes);
  LIGHTNING_STAT(tree_free_bytes);
  LIGHTNING_STAT(live_snapshots);
  LIGHTNING_STAT(user_bytes_written);
  LIGHTNING_STAT(wal_bytes_written);
  LIGHTNING_STAT(flushes);
  LIGHTNING_STAT(flush_bytes_written);
  LIGHTNING_STAT(compactions);
  LIGHTNING_STAT(trivial_moves);
  LIGHTNING_STAT(compaction_bytes_read);
  LIGHTNING_STAT(compaction_bytes_written);
  LIGHTNING_STAT(tree_merges);
  LIGHTNING_STAT(tree_bytes_read);
  LIGHTNING_STAT(tree_bytes_written);
  LIGHTNING_STAT(write_slowdowns);
  LIGHTNING_STAT(write_stops);
  LIGHTNING_STAT(write_stall_micros);
  LIGHTNING_STAT(block_cache_hits);
  LIGHTNING_STAT(block_cache_misses);
  LIGHTNING_STAT(tree_pages_read_in_place);
  LIGHTNING_STAT(prefix_filter_skips);
#undef LIGHTNING_STAT
}

}  // namespace

extern "C" int lightning_db_stats(lightning_db_t* db, lightning_stats_t** stats, char** errmsg) {
  if (stats == nullptr) return InvalidArgument("lightning_db_stats: stats is NULL", errmsg);
  *stats = nullptr;
  return WithDb(db, "lightning_db_stats", errmsg, [&](lightning::Database& d) {
    auto handle = std::make_unique<lightning_stats_t>();
    FillStats(d.stats(), handle.get());
    *stats = handle.release();
    return Status::OK();
  });
}

extern "C" void lightning_stats_destroy(lightning_stats_t* stats) { delete stats; }

extern "C" int lightning_stats_get(const lightning_stats_t* stats, const char* name, uint64_t* value) {
  if (stats == nullptr || name == nullptr || value == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  for (const auto& [entry_name, entry_value] : stats->entries) {
    if (entry_name == name) {
      *value = entry_value;
      return LIGHTNING_OK;
    }
  }
  return LIGHTNING_NOT_FOUND;
}

extern "C" int lightning_stats_count(const lightning_stats_t* stats, size_t* count) {
  if (stats == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = stats->entries.size();
  return LIGHTNING_OK;
}

extern "C" int lightning_stats_entry(const lightning_stats_t* stats, size_t index, const char** name,
                                     uint64_t* value) {
  if (stats == nullptr || name == nullptr || value == nullptr || index >= stats->entries.size()) {
    return LIGHTNING_INVALID_ARGUMENT;
  }
  *name = stats->entries[index].first.c_str();
  *value = stats->entries[index].second;
  return LIGHTNING_OK;
}

// ---------------------------------------------------------------------------
// Checkpoints and verification

struct lightning_verify_report_t {
  lightning::VerifyReport report;
};

namespace {

// The report's fields by name, in declaration order: the table behind
// lightning_verify_report_get/_count/_entry.
struct VerifyField {
  const char* name;
  uint64_t lightning::VerifyReport::*field;
};

constexpr VerifyField kVerifyFields[] = {
    {"manifest_bytes", &lightning::VerifyReport::manifest_bytes},
    {"wal_files", &lightning::VerifyReport::wal_files},
    {"wal_records", &lightning::VerifyReport::wal_records},
    {"wal_bytes", &lightning::VerifyReport::wal_bytes},
    {"wal_torn_tail_bytes", &lightning::VerifyReport::wal_torn_tail_bytes},
    {"table_files", &lightning::VerifyReport::table_files},
    {"table_entries", &lightning::VerifyReport::table_entries},
    {"table_bytes", &lightning::VerifyReport::table_bytes},
    {"tree_epoch", &lightning::VerifyReport::tree_epoch},
    {"tree_pages", &lightning::VerifyReport::tree_pages},
    {"tree_entries", &lightning::VerifyReport::tree_entries},
    {"tree_file_bytes", &lightning::VerifyReport::tree_file_bytes},
};
// VerifyReport holds only uint64_t counts; a field added there without a row
// here would go unreported.
static_assert(sizeof(lightning::VerifyReport) == sizeof(kVerifyFields) / sizeof(kVerifyFields[0]) * sizeof(uint64_t),
              "every VerifyReport field needs a row in kVerifyFields");

// The engine options (Env, comparator, prefix extractor) of a C options
// handle, for calls that read a database directory without opening it.
// The pointers stay valid while options does.
lightning::Options EngineOptionsOf(const lightning_options_t* options) {
  lightning::Options engine_options;
  if (options != nullptr) {
    engine_options = options->options;
    engine_options.comparator = options->comparator.get();
    engine_options.env = options->in_memory ? options->memory_env.get() : nullptr;
  }
  return engine_options;
}

}  // namespace

extern "C" int lightning_db_checkpoint(lightning_db_t* db, const char* dir, char** errmsg) {
  if (dir == nullptr) return InvalidArgument("lightning_db_checkpoint: dir is NULL", errmsg);
  return WithDb(db, "lightning_db_checkpoint", errmsg, [&](lightning::Database& d) { return d.checkpoint(dir); });
}

extern "C" lightning_verify_report_t* lightning_verify_report_create(void) {
  return NewOrNull<lightning_verify_report_t>();
}

extern "C" void lightning_verify_report_destroy(lightning_verify_report_t* report) { delete report; }

extern "C" int lightning_verify_report_get(const lightning_verify_report_t* report, const char* name,
                                           uint64_t* value) {
  if (report == nullptr || name == nullptr || value == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  for (const VerifyField& f : kVerifyFields) {
    if (std::strcmp(f.name, name) == 0) {
      *value = report->report.*f.field;
      return LIGHTNING_OK;
    }
  }
  return LIGHTNING_NOT_FOUND;
}

extern "C" int lightning_verify_report_count(const lightning_verify_report_t* report, size_t* count) {
  if (report == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = sizeof(kVerifyFields) / sizeof(kVerifyFields[0]);
  return LIGHTNING_OK;
}

extern "C" int lightning_verify_report_entry(const lightning_verify_report_t* report, size_t index,
                                             const char** name, uint64_t* value) {
  if (report == nullptr || name == nullptr || value == nullptr ||
      index >= sizeof(kVerifyFields) / sizeof(kVerifyFields[0])) {
    return LIGHTNING_INVALID_ARGUMENT;
  }
  *name = kVerifyFields[index].name;
  *value = report->report.*kVerifyFields[index].field;
  return LIGHTNING_OK;
}

extern "C" int lightning_db_verify(lightning_db_t* db, lightning_verify_report_t* report, char** errmsg) {
  if (report != nullptr) report->report = lightning::VerifyReport();
  return WithDb(db, "lightning_db_verify", errmsg, [&](lightning::Database& d) {
    return d.verify(report != nullptr ? &report->report : nullptr);
  });
}

extern "C" int lightning_verify_database(const char* path, const lightning_options_t* options,
                                         lightning_verify_report_t* report, char** errmsg) {
  if (report != nullptr) report->report = lightning::VerifyReport();
  if (path == nullptr) return InvalidArgument("lightning_verify_database: path is NULL", errmsg);
  return Guarded(errmsg, [&] {
    return lightning::VerifyDatabase(path, EngineOptionsOf(options),
                                     report != nullptr ? &report->report : nullptr);
  });
}

// ---------------------------------------------------------------------------
// Repair

struct lightning_repair_report_t {
  lightning::RepairReport report;
};

namespace {

uint64_t ManifestRebuilt(const lightning::RepairReport& r) { return r.manifest_rebuilt ? 1 : 0; }
uint64_t TablesKept(const lightning::RepairReport& r) { return r.tables_kept; }
uint64_t TablesSalvaged(const lightning::RepairReport& r) { return r.tables_salvaged; }
uint64_t TablesDropped(const lightning::RepairReport& r) { return r.tables_dropped; }
uint64_t TreeKept(const lightning::RepairReport& r) { return r.tree_kept ? 1 : 0; }
uint64_t TreeRebuilt(const lightning::RepairReport& r) { return r.tree_rebuilt ? 1 : 0; }
uint64_t EntriesSalvaged(const lightning::RepairReport& r) { return r.entries_salvaged; }
uint64_t EntriesLost(const lightning::RepairReport& r) { return r.entries_lost; }
uint64_t WalRecordsKept(const lightning::RepairReport& r) { return r.wal_records_kept; }
uint64_t WalRecordsDropped(const lightning::RepairReport& r) { return r.wal_records_dropped; }
uint64_t FilesMovedToLost(const lightning::RepairReport& r) { return r.files_moved_to_lost; }

// The report's scalar fields by name, in declaration order (flags as 0/1).
struct RepairField {
  const char* name;
  uint64_t (*get)(const lightning::RepairReport&);
};

constexpr RepairField kRepairFields[] = {
    {"manifest_rebuilt", ManifestRebuilt},
    {"tables_kept", TablesKept},
    {"tables_salvaged", TablesSalvaged},
    {"tables_dropped", TablesDropped},
    {"tree_kept", TreeKept},
    {"tree_rebuilt", TreeRebuilt},
    {"entries_salvaged", EntriesSalvaged},
    {"entries_lost", EntriesLost},
    {"wal_records_kept", WalRecordsKept},
    {"wal_records_dropped", WalRecordsDropped},
    {"files_moved_to_lost", FilesMovedToLost},
};
constexpr size_t kRepairFieldCount = sizeof(kRepairFields) / sizeof(kRepairFields[0]);

}  // namespace

extern "C" lightning_repair_report_t* lightning_repair_report_create(void) {
  return NewOrNull<lightning_repair_report_t>();
}

extern "C" void lightning_repair_report_destroy(lightning_repair_report_t* report) { delete report; }

extern "C" int lightning_repair_report_get(const lightning_repair_report_t* report, const char* name,
                                           uint64_t* value) {
  if (report == nullptr || name == nullptr || value == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  for (const RepairField& f : kRepairFields) {
    if (std::strcmp(f.name, name) == 0) {
      *value = f.get(report->report);
      return LIGHTNING_OK;
    }
  }
  return LIGHTNING_NOT_FOUND;
}

extern "C" int lightning_repair_report_count(const lightning_repair_report_t* report, size_t* count) {
  if (report == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = kRepairFieldCount;
  return LIGHTNING_OK;
}

extern "C" int lightning_repair_report_entry(const lightning_repair_report_t* report, size_t index,
                                             const char** name, uint64_t* value) {
  if (report == nullptr || name == nullptr || value == nullptr || index >= kRepairFieldCount) {
    return LIGHTNING_INVALID_ARGUMENT;
  }
  *name = kRepairFields[index].name;
  *value = kRepairFields[index].get(report->report);
  return LIGHTNING_OK;
}

extern "C" int lightning_repair_report_dropped_count(const lightning_repair_report_t* report, size_t* count) {
  if (report == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = report->report.dropped.size();
  return LIGHTNING_OK;
}

extern "C" int lightning_repair_report_dropped(const lightning_repair_report_t* report, size_t index,
                                               const char** line) {
  if (report == nullptr || line == nullptr || index >= report->report.dropped.size()) {
    return LIGHTNING_INVALID_ARGUMENT;
  }
  *line = report->report.dropped[index].c_str();
  return LIGHTNING_OK;
}

extern "C" int lightning_repair_database(const char* path, const lightning_options_t* options,
                                         lightning_repair_report_t* report, char** errmsg) {
  if (report != nullptr) report->report = lightning::RepairReport();
  if (path == nullptr) return InvalidArgument("lightning_repair_database: path is NULL", errmsg);
  return Guarded(errmsg, [&] {
    return lightning::RepairDatabase(path, EngineOptionsOf(options), report != nullptr ? &report->report : nullptr);
  });
}

// ---------------------------------------------------------------------------
// Backups

struct lightning_backup_engine_t {
  // Declared first so it is destroyed last: the engine uses it.
  std::shared_ptr<lightning::Env> env;  // the options' in-memory file system, or null
  std::unique_ptr<lightning::BackupEngine> engine;
};

struct lightning_backup_list_t {
  std::vector<lightning::BackupInfo> backups;
};

namespace {

// Runs body(BackupEngine&). The engine serializes its own calls and answers
// Closed after close(), so no lock is needed here.
template <typename Body>
int WithBackupEngine(lightning_backup_engine_t* engine, const char* fn_name, char** errmsg, Body&& body) {
  if (engine == nullptr) return Report(Status::InvalidArgument(fn_name, "engine is NULL"), errmsg);
  return Guarded(errmsg, [&]() -> Status { return body(*engine->engine); });
}

}  // namespace

extern "C" int lightning_backup_engine_open(const char* backup_root, const lightning_options_t* options,
                                            lightning_backup_engine_t** engine, char** errmsg) {
  if (engine == nullptr) return InvalidArgument("lightning_backup_engine_open: engine is NULL", errmsg);
  *engine = nullptr;
  if (backup_root == nullptr) return InvalidArgument("lightning_backup_engine_open: backup_root is NULL", errmsg);
  return Guarded(errmsg, [&]() -> Status {
    auto handle = std::make_unique<lightning_backup_engine_t>();
    if (options != nullptr && options->in_memory) handle->env = options->memory_env;
    auto opened = lightning::BackupEngine::open(backup_root, handle->env.get());
    if (!opened.ok()) return opened.status();
    handle->engine = std::move(opened).value();
    *engine = handle.release();
    return Status::OK();
  });
}

extern "C" int lightning_backup_engine_close(lightning_backup_engine_t* engine, char** errmsg) {
  return WithBackupEngine(engine, "lightning_backup_engine_close", errmsg,
                          [](lightning::BackupEngine& e) { return e.close(); });
}

extern "C" void lightning_backup_engine_destroy(lightning_backup_engine_t* engine) {
  if (engine == nullptr) return;
  try {
    (void)engine->engine->close();
  } catch (...) {
    // The destructor closes too (and does not throw).
  }
  delete engine;
}

extern "C" int lightning_backup_engine_create_backup(lightning_backup_engine_t* engine, lightning_db_t* db,
                                                     uint64_t* backup_id, char** errmsg) {
  if (backup_id != nullptr) *backup_id = 0;
  if (engine == nullptr) return InvalidArgument("lightning_backup_engine_create_backup: engine is NULL", errmsg);
  // Under the database's shared lifecycle lock, so close waits for the
  // backup (the engine needs the database open throughout).
  return WithDb(db, "lightning_backup_engine_create_backup", errmsg, [&](lightning::Database& d) -> Status {
    auto created = engine->engine->create_backup(d);
    if (!created.ok()) return created.status();
    if (backup_id != nullptr) *backup_id = created.value();
    return Status::OK();
  });
}

extern "C" int lightning_backup_engine_list_backups(lightning_backup_engine_t* engine,
                                                    lightning_backup_list_t** list, char** errmsg) {
  if (list == nullptr) return InvalidArgument("lightning_backup_engine_list_backups: list is NULL", errmsg);
  *list = nullptr;
  return WithBackupEngine(engine, "lightning_backup_engine_list_backups", errmsg,
                          [&](lightning::BackupEngine& e) -> Status {
                            auto listed = e.list_backups();
                            if (!listed.ok()) return listed.status();
                            auto handle = std::make_unique<lightning_backup_list_t>();
                            handle->backups = std::move(listed).value();
                            *list = handle.release();
                            return Status::OK();
                          });
}

extern "C" void lightning_backup_list_destroy(lightning_backup_list_t* list) { delete list; }

extern "C" int lightning_backup_list_count(const lightning_backup_list_t* list, size_t* count) {
  if (list == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = list->backups.size();
  return LIGHTNING_OK;
}

extern "C" int lightning_backup_list_get(const lightning_backup_list_t* list, size_t index, uint64_t* id,
                                         uint64_t* timestamp, uint64_t* size, uint64_t* file_count,
                                         uint64_t* last_sequence) {
  if (list == nullptr || index >= list->backups.size()) return LIGHTNING_INVALID_ARGUMENT;
  const lightning::BackupInfo& info = list->backups[index];
  if (id != nullptr) *id = info.id;
  if (timestamp != nullptr) *timestamp = info.timestamp;
  if (size != nullptr) *size = info.size;
  if (file_count != nullptr) *file_count = info.file_count;
  if (last_sequence != nullptr) *last_sequence = info.last_sequence;
  return LIGHTNING_OK;
}

extern "C" int lightning_backup_engine_verify_backup(lightning_backup_engine_t* engine, uint64_t backup_id,
                                                     char** errmsg) {
  return WithBackupEngine(engine, "lightning_backup_engine_verify_backup", errmsg,
                          [&](lightning::BackupEngine& e) { return e.verify_backup(backup_id); });
}

extern "C" int lightning_backup_engine_delete_backup(lightning_backup_engine_t* engine, uint64_t backup_id,
                                                     char** errmsg) {
  return WithBackupEngine(engine, "lightning_backup_engine_delete_backup", errmsg,
                          [&](lightning::BackupEngine& e) { return e.delete_backup(backup_id); });
}

extern "C" int lightning_backup_engine_purge_old_backups(lightning_backup_engine_t* engine, size_t keep,
                                                         char** errmsg) {
  return WithBackupEngine(engine, "lightning_backup_engine_purge_old_backups", errmsg,
                          [&](lightning::BackupEngine& e) { return e.purge_old_backups(keep); });
}

extern "C" int lightning_backup_engine_restore(lightning_backup_engine_t* engine, uint64_t backup_id,
                                               const char* db_dir, int overwrite, char** errmsg) {
  if (db_dir == nullptr) return InvalidArgument("lightning_backup_engine_restore: db_dir is NULL", errmsg);
  return WithBackupEngine(engine, "lightning_backup_engine_restore", errmsg,
                          [&](lightning::BackupEngine& e) { return e.restore(backup_id, db_dir, overwrite != 0); });
}

// ---------------------------------------------------------------------------
// Change subscriptions

static_assert(LIGHTNING_CHANGE_PUT == static_cast<int>(lightning::ChangeType::kPut));
static_assert(LIGHTNING_CHANGE_DELETE == static_cast<int>(lightning::ChangeType::kDelete));
static_assert(LIGHTNING_CHANGE_LOST == static_cast<int>(lightning::ChangeType::kLost));
static_assert(LIGHTNING_OVERFLOW_DROP_AND_REPORT == static_cast<int>(lightning::OverflowPolicy::kDropAndReport));
static_assert(LIGHTNING_OVERFLOW_BLOCK_WRITERS == static_cast<int>(lightning::OverflowPolicy::kBlockWriters));

struct lightning_subscribeoptions_t {
  lightning::SubscribeOptions options;
};

struct lightning_subscription_t {
  std::unique_ptr<lightning::Subscription> subscription;
};

// Lives on the delivery thread's stack for one callback.
struct lightning_change_event_t {
  const lightning::ChangeEvent* event;
};

namespace {

// Marks the calling thread as running a callback of state's database for
// the duration of the callback (see CloseState).
class CallbackScope {
 public:
  explicit CallbackScope(const DbState* state) : previous_(t_callback_state) { t_callback_state = state; }
  ~CallbackScope() { t_callback_state = previous_; }
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  const DbState* const previous_;
};

}  // namespace

extern "C" lightning_subscribeoptions_t* lightning_subscribeoptions_create(void) {
  return NewOrNull<lightning_subscribeoptions_t>();
}

extern "C" void lightning_subscribeoptions_destroy(lightning_subscribeoptions_t* options) { delete options; }

extern "C" int lightning_subscribeoptions_set_prefix(lightning_subscribeoptions_t* options, const char* prefix,
                                                     size_t prefix_len) {
  if (BadBytes(prefix, prefix_len)) return LIGHTNING_INVALID_ARGUMENT;
  return SetOption(options, [&](lightning_subscribeoptions_t& o) {
    try {
      o.options.prefix.assign(BytesOf(prefix, prefix_len).data(), prefix_len);
    } catch (...) {
      return LIGHTNING_IO_ERROR;
    }
    return LIGHTNING_OK;
  });
}

extern "C" int lightning_subscribeoptions_set_range(lightning_subscribeoptions_t* options, const char* start,
                                                    size_t start_len, const char* end, size_t end_len) {
  return SetOption(options, [&](lightning_subscribeoptions_t& o) {
    try {
      if (start != nullptr) {
        o.options.start.emplace(start, start_len);
      } else {
        o.options.start.reset();
      }
      if (end != nullptr) {
        o.options.end.emplace(end, end_len);
      } else {
        o.options.end.reset();
      }
    } catch (...) {
      return LIGHTNING_IO_ERROR;
    }
    return LIGHTNING_OK;
  });
}

extern "C" int lightning_subscribeoptions_set_max_pending_events(lightning_subscribeoptions_t* options,
                                                                 size_t count) {
  return SetOption(options, [&](lightning_subscribeoptions_t& o) {
    o.options.max_pending_events = count;
    return LIGHTNING_OK;
  });
}

extern "C" int lightning_subscribeoptions_set_overflow(lightning_subscribeoptions_t* options, int policy) {
  return SetOption(options, [&](lightning_subscribeoptions_t& o) {
    switch (policy) {
      case LIGHTNING_OVERFLOW_DROP_AND_REPORT: o.options.overflow = lightning::OverflowPolicy::kDropAndReport; break;
      case LIGHTNING_OVERFLOW_BLOCK_WRITERS: o.options.overflow = lightning::OverflowPolicy::kBlockWriters; break;
      default: return LIGHTNING_INVALID_ARGUMENT;
    }
    return LIGHTNING_OK;
  });
}

extern "C" int lightning_db_subscribe(lightning_db_t* db, const lightning_subscribeoptions_t* options,
                                      lightning_change_fn callback, void* state,
                                      lightning_subscription_t** subscription, char** errmsg) {
  if (subscription == nullptr) return InvalidArgument("lightning_db_subscribe: subscription is NULL", errmsg);
  *subscription = nullptr;
  if (callback == nullptr) return InvalidArgument("lightning_db_subscribe: callback is NULL", errmsg);
  return WithDb(db, "lightning_db_subscribe", errmsg, [&](lightning::Database& d) -> Status {
    auto handle = std::make_unique<lightning_subscription_t>();
    // The callback runs only while the engine database exists, which the
    // DbState owns, so the raw pointer (used only to mark the thread) is
    // never stale when read. A C callback cannot throw.
    const DbState* owner = db->state.get();
    auto trampoline = [callback, state, owner](const lightning::ChangeEvent& event) {
      CallbackScope scope(owner);
      const lightning_change_event_t c_event{&event};
      callback(state, &c_event);
    };
    auto subscribed =
        d.subscribe(trampoline, options != nullptr ? options->options : lightning::SubscribeOptions());
    if (!subscribed.ok()) return subscribed.status();
    handle->subscription = std::move(subscribed).value();
    *subscription = handle.release();
    return Status::OK();
  });
}

extern "C" void lightning_subscription_destroy(lightning_subscription_t* subscription) {
  // The engine's handle unsubscribes in its destructor (returning at once
  // when called from its own callback) and does not throw.
  delete subscription;
}

extern "C" int lightning_subscription_unsubscribe(lightning_subscription_t* subscription) {
  if (subscription == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  try {
    subscription->subscription->unsubscribe();
  } catch (...) {
    return LIGHTNING_IO_ERROR;
  }
  return LIGHTNING_OK;
}

extern "C" int lightning_subscription_active(const lightning_subscription_t* subscription) {
  if (subscription == nullptr) return 0;
  try {
    return subscription->subscription->active() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

extern "C" int lightning_subscription_status(const lightning_subscription_t* subscription, char** errmsg) {
  if (subscription == nullptr) return InvalidArgument("lightning_subscription_status: subscription is NULL", errmsg);
  return Guarded(errmsg, [&] { return subscription->subscription->status(); });
}

extern "C" int lightning_subscription_events_delivered(const lightning_subscription_t* subscription,
                                                       uint64_t* count) {
  if (subscription == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = subscription->subscription->events_delivered();
  return LIGHTNING_OK;
}

extern "C" int lightning_subscription_events_lost(const lightning_subscription_t* subscription, uint64_t* count) {
  if (subscription == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = subscription->subscription->events_lost();
  return LIGHTNING_OK;
}

extern "C" int lightning_change_event_type(const lightning_change_event_t* event, int* type) {
  if (event == nullptr || type == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *type = static_cast<int>(event->event->type);
  return LIGHTNING_OK;
}

extern "C" int lightning_change_event_sequence(const lightning_change_event_t* event, uint64_t* sequence) {
  if (event == nullptr || sequence == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *sequence = event->event->sequence;
  return LIGHTNING_OK;
}

extern "C" int lightning_change_event_key(const lightning_change_event_t* event, const char** key,
                                          size_t* key_len) {
  if (event == nullptr || key == nullptr || key_len == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *key = event->event->key.data();
  *key_len = event->event->key.size();
  return LIGHTNING_OK;
}

extern "C" int lightning_change_event_value(const lightning_change_event_t* event, const char** value,
                                            size_t* value_len) {
  if (event == nullptr || value == nullptr || value_len == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *value = event->event->value.data();
  *value_len = event->event->value.size();
  return LIGHTNING_OK;
}

extern "C" int lightning_change_event_lost_events(const lightning_change_event_t* event, uint64_t* count) {
  if (event == nullptr || count == nullptr) return LIGHTNING_INVALID_ARGUMENT;
  *count = event->event->lost_events;
  return LIGHTNING_OK;
}
