/* Copyright (c) Lightning authors. MIT License.
 *
 * lightning_db.h: the C API of Lightning, a thin shim over lightning::Database
 * (include/lightning/db.h). Pure C99: this header needs only <stddef.h> and
 * <stdint.h>, declares no structs (every object is an opaque handle) and
 * passes keys and values as (const char*, size_t) pairs, so embedded NUL
 * bytes are fine. capi/README.md gives an overview.
 *
 * ---- Errors
 * Every fallible call returns an int: LIGHTNING_OK (0) or one of the
 * LIGHTNING_* codes below. Codes 0..9 are lightning::Status codes, one to
 * one and stable; lightning_strerror() names each. Calls that reach the
 * engine also take `char** errmsg` as their last argument: when errmsg is
 * not NULL, *errmsg is set to NULL on success and, on failure, to a
 * malloc'd, NUL-terminated message that the caller frees with
 * lightning_free(). (Free it before passing the same variable again: it is
 * overwritten, not freed.) Calls that can fail only on a bad argument (option
 * setters, iterator accessors) return the code alone. There is no hidden
 * "last error" state, thread-local or otherwise: every error comes back from
 * the call that failed.
 *
 * Argument checks: every entry point checks its arguments. A NULL handle or
 * a NULL pointer where one is required returns LIGHTNING_INVALID_ARGUMENT; a
 * key pointer may be NULL only when its length is 0 (an empty key is then
 * rejected by the engine with INVALID_ARGUMENT), a value pointer likewise.
 * A handle of a closed database, or of an object the database closed under
 * it, returns LIGHTNING_CLOSED. No C++ exception crosses this boundary; out
 * of memory is reported as LIGHTNING_IO_ERROR ("out of memory"), as the
 * engine does. (A handle that was already destroyed cannot be detected: using
 * one is undefined behaviour, as with free().)
 *
 * ---- Ownership
 * - A *_create/_open/_begin call returns a handle the caller owns and must
 *   release with the matching *_destroy (NULL is accepted and ignored).
 * - Strings returned as `char*` (values, messages) are malloc'd and owned by
 *   the caller: release them with lightning_free() (lightning_db_free_value()
 *   is the same for values).
 * - `const char*` results (iterator keys and values, scan entries,
 *   lightning_strerror, lightning_version_string) are borrowed: valid for
 *   the time each function's comment states, never freed by the caller.
 * - Input byte ranges are only read during the call; nothing keeps a pointer
 *   to them afterwards (except where a comment says otherwise).
 *
 * ---- Database close and the objects made from it
 * lightning_db_close() (and lightning_db_destroy(), which closes) first
 * waits for calls in progress on the database and on its iterators, scans
 * and transactions, then ends those objects: afterwards every call on them
 * returns LIGHTNING_CLOSED (iterators report !valid). Their handles stay
 * allocated until destroyed; destroying them before or after the database
 * handle is fine. Snapshots keep working as values (their sequence number)
 * after the database closes. Subscriptions first receive the events already
 * queued for them (calls their callbacks make on the database meanwhile
 * return CLOSED), then end; their handles too stay until destroyed.
 *
 * ---- Threads
 * Database handles: every function may be called from any thread,
 * concurrently, including lightning_db_close() (it waits for the calls in
 * progress; calls that start after it return CLOSED). lightning_db_destroy()
 * must not race with other calls on the same handle (it frees it).
 * Backup engines and subscriptions: likewise any thread, concurrently;
 * only their *_destroy must not race with other calls on the handle.
 * Options (all kinds), write batches, iterators, scans, transactions, stats,
 * verify and repair reports and backup lists: one thread at a time per
 * handle; distinct handles may be used concurrently. A transaction and the
 * iterators/scans made from it count as one handle for this rule. Snapshots
 * and comparators may be shared by any number of threads. Subscription
 * callbacks run on their own threads (see lightning_change_fn for what they
 * may call). No call remembers which thread called it, so a caller may move
 * between threads between calls (as Go goroutines do).
 */
#ifndef LIGHTNING_LIGHTNING_DB_H_
#define LIGHTNING_LIGHTNING_DB_H_

#include <stddef.h>
#include <stdint.h>

/* Symbols of this API are exported from libLightning.so even though the
 * library is built with hidden visibility. */
#if defined(_WIN32)
#if defined(LIGHTNING_BUILDING_LIBRARY)
#define LIGHTNING_C_API __declspec(dllexport)
#else
#define LIGHTNING_C_API
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define LIGHTNING_C_API __attribute__((visibility("default")))
#else
#define LIGHTNING_C_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ======================================================================
 * Error codes, messages and the version
 * ====================================================================== */

#define LIGHTNING_OK 0
#define LIGHTNING_NOT_FOUND 1        /* the key does not exist */
#define LIGHTNING_CORRUPTION 2       /* a checksum or format check failed; no data returned */
#define LIGHTNING_NOT_SUPPORTED 3    /* the operation or format version is not supported */
#define LIGHTNING_INVALID_ARGUMENT 4 /* NULL handle/pointer, bad key, option out of range */
#define LIGHTNING_IO_ERROR 5         /* the OS reported an error (also: out of memory) */
#define LIGHTNING_BUSY 6             /* held by someone else (database lock, transaction limit) */
#define LIGHTNING_CONFLICT 7         /* a transaction lost a race: retry it */
#define LIGHTNING_CLOSED 8           /* the database was closed or the transaction finished */
#define LIGHTNING_ABORTED 9          /* the operation was cancelled */
/* C API only: lightning_db_get_into() was given a buffer smaller than the
 * value (the value's length is reported). */
#define LIGHTNING_BUFFER_TOO_SMALL 100

/* A static, NUL-terminated English name of code ("not found", ...), distinct
 * for every code above; "unknown error code" for others. Never NULL, never
 * freed. Thread-safe. */
LIGHTNING_C_API const char* lightning_strerror(int code);

/* Frees what this API returned as `char*` (error messages, values). NULL is
 * ignored. Thread-safe. */
LIGHTNING_C_API void lightning_free(void* ptr);

/* The library's version, as major * 10000 + minor * 100 + patch, and as a
 * static "major.minor.patch" string (never freed). The macros give the
 * version of this header, so a caller can check it matches the library it
 * loaded. Thread-safe. */
#define LIGHTNING_VERSION_MAJOR 0
#define LIGHTNING_VERSION_MINOR 1
#define LIGHTNING_VERSION_PATCH 0
LIGHTNING_C_API uint32_t lightning_version_number(void);
LIGHTNING_C_API const char* lightning_version_string(void);

/* ======================================================================
 * Handles (all opaque)
 * ====================================================================== */

typedef struct lightning_db_t lightning_db_t;
typedef struct lightning_options_t lightning_options_t;
typedef struct lightning_readoptions_t lightning_readoptions_t;
typedef struct lightning_writeoptions_t lightning_writeoptions_t;
typedef struct lightning_writebatch_t lightning_writebatch_t;
typedef struct lightning_iterator_t lightning_iterator_t;
typedef struct lightning_scan_t lightning_scan_t;
typedef struct lightning_snapshot_t lightning_snapshot_t;
typedef struct lightning_transaction_t lightning_transaction_t;
typedef struct lightning_comparator_t lightning_comparator_t;
typedef struct lightning_stats_t lightning_stats_t;
typedef struct lightning_verify_report_t lightning_verify_report_t;
typedef struct lightning_repair_report_t lightning_repair_report_t;
typedef struct lightning_backup_engine_t lightning_backup_engine_t;
typedef struct lightning_backup_list_t lightning_backup_list_t;
typedef struct lightning_subscribeoptions_t lightning_subscribeoptions_t;
typedef struct lightning_subscription_t lightning_subscription_t;
typedef struct lightning_change_event_t lightning_change_event_t;

/* ======================================================================
 * Comparators (include/lightning/comparator.h)
 * ====================================================================== */

/* compare(state, a, a_len, b, b_len): <0, 0 or >0 as a sorts before, with or
 * after b; a strict total order. It is called from many threads at once
 * (readers, writers, background compaction) and must be thread-safe; it must
 * not call back into this API. */
typedef int (*lightning_compare_fn)(void* state, const char* a, size_t a_len, const char* b, size_t b_len);
/* Called once, with state, when the last reference to the comparator is
 * dropped. May be NULL. */
typedef void (*lightning_destructor_fn)(void* state);

/* A comparator calling compare with state. name (copied) is stored in the
 * database, which refuses to open under a comparator of another name: change
 * it whenever the order changes. NULL (and *comparator untouched) if compare
 * or name is NULL, name is empty, or memory runs out.
 * Ownership: reference counted. The caller holds one reference, released by
 * lightning_comparator_destroy(); lightning_options_set_comparator() takes
 * one for the options, and every database opened with it takes one until it
 * is closed. So the caller may destroy its handle (and the options) right
 * after opening: destructor(state) runs when the last holder lets go. */
LIGHTNING_C_API lightning_comparator_t* lightning_comparator_create(void* state, lightning_destructor_fn destructor,
                                                                    lightning_compare_fn compare, const char* name);
/* Drops the caller's reference. NULL is ignored. Thread-safe. */
LIGHTNING_C_API void lightning_comparator_destroy(lightning_comparator_t* comparator);

/* ======================================================================
 * Options (include/lightning/options.h); not thread-safe per handle
 * ====================================================================== */

#define LIGHTNING_COMPRESSION_NONE 0
#define LIGHTNING_COMPRESSION_ZSTD 1
#define LIGHTNING_COMPRESSION_LZ4 2
#define LIGHTNING_COMPRESSION_SNAPPY 3

#define LIGHTNING_WAL_SYNC_FULL 0   /* fsync every commit (group commit) */
#define LIGHTNING_WAL_SYNC_NORMAL 1 /* write(2) every commit, fsync every interval */
#define LIGHTNING_WAL_SYNC_OFF 2    /* buffer commits, write out every interval */

#define LIGHTNING_WAL_RECOVERY_STRICT 0
#define LIGHTNING_WAL_RECOVERY_POINT_IN_TIME 1
#define LIGHTNING_WAL_RECOVERY_SKIP_CORRUPTED 2

/* Options with the engine's defaults (create_if_missing on). NULL if memory
 * runs out. Destroy with lightning_options_destroy() (any time: a database
 * copies what it needs at open). */
LIGHTNING_C_API lightning_options_t* lightning_options_create(void);
LIGHTNING_C_API void lightning_options_destroy(lightning_options_t* options);

/* Setters: INVALID_ARGUMENT for a NULL options or an unknown enum value.
 * Numeric limits are checked when the database opens (open() then fails with
 * INVALID_ARGUMENT naming the option). Booleans: 0 is false, anything else
 * true. */
LIGHTNING_C_API int lightning_options_set_create_if_missing(lightning_options_t* options, int value);
LIGHTNING_C_API int lightning_options_set_error_if_exists(lightning_options_t* options, int value);
/* Bytes of the block/page cache; 0 disables it. */
LIGHTNING_C_API int lightning_options_set_cache_size(lightning_options_t* options, size_t bytes);
/* Bytes of memtable before it is flushed to a table (>= 64 KiB). */
LIGHTNING_C_API int lightning_options_set_memtable_size(lightning_options_t* options, size_t bytes);
/* Overall memory budget of the engine (0: none; see Options::memory_budget). */
LIGHTNING_C_API int lightning_options_set_memory_budget(lightning_options_t* options, uint64_t bytes);
/* LIGHTNING_COMPRESSION_*. */
LIGHTNING_C_API int lightning_options_set_compression(lightning_options_t* options, int compression);
/* LIGHTNING_WAL_SYNC_*, and the background sync/flush period. */
LIGHTNING_C_API int lightning_options_set_wal_sync_mode(lightning_options_t* options, int mode);
LIGHTNING_C_API int lightning_options_set_wal_sync_interval_ms(lightning_options_t* options, uint32_t ms);
/* LIGHTNING_WAL_RECOVERY_*. */
LIGHTNING_C_API int lightning_options_set_wal_recovery_mode(lightning_options_t* options, int mode);
LIGHTNING_C_API int lightning_options_set_block_size(lightning_options_t* options, size_t bytes);
LIGHTNING_C_API int lightning_options_set_bloom_bits_per_key(lightning_options_t* options, int bits);
LIGHTNING_C_API int lightning_options_set_page_size(lightning_options_t* options, uint32_t bytes);
LIGHTNING_C_API int lightning_options_set_mmap_size(lightning_options_t* options, uint64_t bytes);
LIGHTNING_C_API int lightning_options_set_target_file_size(lightning_options_t* options, uint64_t bytes);
LIGHTNING_C_API int lightning_options_set_max_open_files(lightning_options_t* options, int count);
LIGHTNING_C_API int lightning_options_set_max_background_compactions(lightning_options_t* options, int count);
LIGHTNING_C_API int lightning_options_set_max_active_transactions(lightning_options_t* options, int count);
/* Group keys by their first `length` bytes for prefix scans' bloom filters
 * (lightning::NewFixedPrefixExtractor); 0: none (the default). */
LIGHTNING_C_API int lightning_options_set_prefix_length(lightning_options_t* options, size_t length);
/* The key order; NULL: bytewise (the default). Takes a reference to
 * comparator (and drops the one on a comparator set before). */
LIGHTNING_C_API int lightning_options_set_comparator(lightning_options_t* options,
                                                     lightning_comparator_t* comparator);
/* Nonzero: keep the database's files in memory, in a file system that
 * belongs to these options. Databases opened with the same options handle
 * (at the same path) see the same files, also after a close and reopen; the
 * files are gone when the options and every database opened with them are
 * destroyed. 0 (the default): the real file system. */
LIGHTNING_C_API int lightning_options_set_in_memory(lightning_options_t* options, int value);

/* Read options: which snapshot to read. NULL if memory runs out. */
LIGHTNING_C_API lightning_readoptions_t* lightning_readoptions_create(void);
LIGHTNING_C_API void lightning_readoptions_destroy(lightning_readoptions_t* options);
/* Read as of snapshot (NULL: as of each call). The read options borrow the
 * snapshot: keep it alive while these options are used. A snapshot of
 * another database makes reads fail with INVALID_ARGUMENT. */
LIGHTNING_C_API int lightning_readoptions_set_snapshot(lightning_readoptions_t* options,
                                                       const lightning_snapshot_t* snapshot);

#define LIGHTNING_CONSISTENCY_DEFAULT 0  /* as the wal sync mode says */
#define LIGHTNING_CONSISTENCY_STRONG 1   /* fsynced before the call returns */
#define LIGHTNING_CONSISTENCY_QUORUM 2   /* handed to the OS before the call returns */
#define LIGHTNING_CONSISTENCY_EVENTUAL 3 /* buffered; written within the sync interval */

/* Write options: durability of one write. NULL if memory runs out. */
LIGHTNING_C_API lightning_writeoptions_t* lightning_writeoptions_create(void);
LIGHTNING_C_API void lightning_writeoptions_destroy(lightning_writeoptions_t* options);
/* Nonzero: fsync before returning, whatever the consistency says. */
LIGHTNING_C_API int lightning_writeoptions_set_sync(lightning_writeoptions_t* options, int value);
/* LIGHTNING_CONSISTENCY_*. */
LIGHTNING_C_API int lightning_writeoptions_set_consistency(lightning_writeoptions_t* options, int level);

/* ======================================================================
 * Opening and closing
 * ====================================================================== */

/* Opens the database in directory path with options (NULL: the defaults,
 * which create it if missing) and stores the handle in *db (on failure *db
 * is set to NULL). Errors: NOT_FOUND (missing and create_if_missing off),
 * INVALID_ARGUMENT (exists and error_if_exists on; bad option; another
 * comparator name), BUSY (already open, in this or another process),
 * IO_ERROR, CORRUPTION. Recovery replays the write-ahead log first. */
LIGHTNING_C_API int lightning_db_open(const char* path, const lightning_options_t* options, lightning_db_t** db,
                                      char** errmsg);

/* The short form: lightning_db_open() returning the handle, or NULL on any
 * error (use lightning_db_open() to learn which). With NULL options it opens
 * the database at path, creating it if missing. */
LIGHTNING_C_API lightning_db_t* lightning_db_create(const char* path, const lightning_options_t* options);

/* Closes the database: waits for calls in progress, ends its iterators,
 * scans and transactions (see the top of this file), delivers the events
 * queued for its subscriptions and ends them, flushes the memtable, syncs
 * the log and releases the lock. The handle stays allocated (every later
 * call returns CLOSED; closing again returns OK, once the first close has
 * finished) until lightning_db_destroy(). Returns the first error met while
 * closing. From a subscription callback of this database: INVALID_ARGUMENT,
 * nothing done. */
LIGHTNING_C_API int lightning_db_close(lightning_db_t* db, char** errmsg);

/* Closes the database if it is open (dropping any error: call
 * lightning_db_close() to see it) and frees the handle. NULL is ignored.
 * Not from a subscription callback of this database. */
LIGHTNING_C_API void lightning_db_destroy(lightning_db_t* db);

/* ======================================================================
 * Writes
 * ====================================================================== */

/* Sets key to value with the default write options. Returns the code only.
 * Keys are 1..4096 bytes, values 0..64 MiB; beyond that INVALID_ARGUMENT. */
LIGHTNING_C_API int lightning_db_put(lightning_db_t* db, const char* key, size_t key_len, const char* value,
                                     size_t value_len);
/* Removes key (a missing key is not an error), default write options. */
LIGHTNING_C_API int lightning_db_delete(lightning_db_t* db, const char* key, size_t key_len);

/* The full forms: write_options may be NULL (the defaults). */
LIGHTNING_C_API int lightning_db_put_ex(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                        const char* key, size_t key_len, const char* value, size_t value_len,
                                        char** errmsg);
LIGHTNING_C_API int lightning_db_delete_ex(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                           const char* key, size_t key_len, char** errmsg);

/* Flushes buffered log records and fsyncs the log. */
LIGHTNING_C_API int lightning_db_sync_wal(lightning_db_t* db, char** errmsg);

/* ======================================================================
 * Write batches (include/lightning/write_batch.h): applied atomically
 * ====================================================================== */

/* An empty batch; NULL if memory runs out. Not thread-safe per handle. */
LIGHTNING_C_API lightning_writebatch_t* lightning_writebatch_create(void);
LIGHTNING_C_API void lightning_writebatch_destroy(lightning_writebatch_t* batch);
/* Adds a put / a removal. INVALID_ARGUMENT (batch unchanged) for a bad key,
 * an oversized value or a batch past 1 GiB. */
LIGHTNING_C_API int lightning_writebatch_put(lightning_writebatch_t* batch, const char* key, size_t key_len,
                                             const char* value, size_t value_len, char** errmsg);
LIGHTNING_C_API int lightning_writebatch_delete(lightning_writebatch_t* batch, const char* key, size_t key_len,
                                                char** errmsg);
LIGHTNING_C_API int lightning_writebatch_clear(lightning_writebatch_t* batch);
/* Operations in the batch, into *count. */
LIGHTNING_C_API int lightning_writebatch_count(const lightning_writebatch_t* batch, uint32_t* count);
/* Applies the batch atomically (all or nothing, also across a crash). The
 * batch is not modified or retained. write_options may be NULL. */
LIGHTNING_C_API int lightning_db_write(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                       const lightning_writebatch_t* batch, char** errmsg);

/* ======================================================================
 * Reads
 * ====================================================================== */

/* The short form: the value of key (malloc'd, not NUL-terminated; free with
 * lightning_db_free_value()) with its length in *value_len, or NULL if the
 * key is absent or on any error (*value_len is then 0). An empty value is
 * returned as a non-NULL pointer with length 0. */
LIGHTNING_C_API char* lightning_db_get(lightning_db_t* db, const char* key, size_t key_len, size_t* value_len);
/* Frees a value returned by this API (same as lightning_free). */
LIGHTNING_C_API void lightning_db_free_value(char* value);

/* The full form: read_options may be NULL. On OK *value is a malloc'd copy
 * (non-NULL even when empty; free with lightning_free) and *value_len its
 * length; otherwise *value is NULL and *value_len 0. NOT_FOUND if absent. */
LIGHTNING_C_API int lightning_db_get_ex(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                        const char* key, size_t key_len, char** value, size_t* value_len,
                                        char** errmsg);

/* Reads into the caller's buffer (no allocation for the value). OK: the
 * value is in buffer[0..*value_len). BUFFER_TOO_SMALL: *value_len is the
 * value's length and the buffer is untouched (retry with a bigger one).
 * buffer may be NULL when buffer_len is 0 (a length query). */
LIGHTNING_C_API int lightning_db_get_into(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                          const char* key, size_t key_len, char* buffer, size_t buffer_len,
                                          size_t* value_len, char** errmsg);

/* Reads num_keys keys at one point in time (the snapshot's, or one moment).
 * For each i: statuses[i] is OK, NOT_FOUND or the error reading keys[i];
 * values[i] is then a malloc'd copy (free each with lightning_free) or NULL,
 * value_lens[i] its length. Returns OK when every key was read (found or
 * NOT_FOUND), else the first other per-key code (with its message). The
 * three output arrays have num_keys elements; num_keys 0 is OK. */
LIGHTNING_C_API int lightning_db_multi_get(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                           size_t num_keys, const char* const* keys, const size_t* key_lens,
                                           char** values, size_t* value_lens, int* statuses, char** errmsg);

/* ======================================================================
 * Snapshots (include/lightning/snapshot.h); thread-safe
 * ====================================================================== */

/* A snapshot of the database as of now, for lightning_readoptions_set_snapshot.
 * While it lives, compaction keeps the versions it sees. It may outlive the
 * database handle (reads with it then fail with CLOSED: the database is). */
LIGHTNING_C_API int lightning_db_snapshot_create(lightning_db_t* db, lightning_snapshot_t** snapshot,
                                                 char** errmsg);
LIGHTNING_C_API void lightning_snapshot_destroy(lightning_snapshot_t* snapshot);
/* The sequence number of the last write the snapshot sees, into *sequence. */
LIGHTNING_C_API int lightning_snapshot_sequence(const lightning_snapshot_t* snapshot, uint64_t* sequence);

/* ======================================================================
 * Iterators (include/lightning/iterator.h); one thread at a time per handle
 * ====================================================================== */

/* An iterator over the database as of now (or read_options' snapshot; may be
 * NULL), unpositioned (!valid) until a seek. It pins the tables it reads:
 * destroy long-lived iterators. */
LIGHTNING_C_API int lightning_db_iterator_create(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                                 lightning_iterator_t** iterator, char** errmsg);
/* Destroys the iterator; fine before or after its database/transaction. */
LIGHTNING_C_API void lightning_iterator_destroy(lightning_iterator_t* iterator);

/* 1 if positioned on an entry, else 0 (also for NULL, ended or closed). */
LIGHTNING_C_API int lightning_iterator_valid(const lightning_iterator_t* iterator);
/* Moves return the iterator's status after the move: OK (check valid() to
 * see whether it found an entry) or the error that stopped it (CORRUPTION,
 * IO_ERROR, CLOSED...). next/prev of an iterator that is not valid return
 * INVALID_ARGUMENT and leave it as it was.
 *   seek: first key >= target; seek_for_prev: last key <= target. */
LIGHTNING_C_API int lightning_iterator_seek_to_first(lightning_iterator_t* iterator, char** errmsg);
LIGHTNING_C_API int lightning_iterator_seek_to_last(lightning_iterator_t* iterator, char** errmsg);
LIGHTNING_C_API int lightning_iterator_seek(lightning_iterator_t* iterator, const char* target, size_t target_len,
                                            char** errmsg);
LIGHTNING_C_API int lightning_iterator_seek_for_prev(lightning_iterator_t* iterator, const char* target,
                                                     size_t target_len, char** errmsg);
LIGHTNING_C_API int lightning_iterator_next(lightning_iterator_t* iterator, char** errmsg);
LIGHTNING_C_API int lightning_iterator_prev(lightning_iterator_t* iterator, char** errmsg);
/* The current key / value, borrowed: valid until the iterator moves or is
 * destroyed. INVALID_ARGUMENT if not valid(), CLOSED if its database was
 * closed. */
LIGHTNING_C_API int lightning_iterator_key(const lightning_iterator_t* iterator, const char** key, size_t* key_len);
LIGHTNING_C_API int lightning_iterator_value(const lightning_iterator_t* iterator, const char** value,
                                             size_t* value_len);
/* OK, or why the iterator stopped (CLOSED after its database closed or its
 * transaction was destroyed). */
LIGHTNING_C_API int lightning_iterator_status(const lightning_iterator_t* iterator, char** errmsg);

/* ======================================================================
 * Scans (include/lightning/scan.h): bounded walks; one thread at a time
 * ====================================================================== */

/* A walk over keys in [start, end) in the database's order (start NULL:
 * from the first key; end NULL: through the last), keeping only keys that
 * begin with prefix (prefix_len 0: all), descending if reverse is nonzero,
 * stopping after limit entries (0: no limit). Reads as of now or
 * read_options' snapshot (may be NULL). Bounds are copied. */
LIGHTNING_C_API int lightning_db_scan_create(lightning_db_t* db, const lightning_readoptions_t* read_options,
                                             const char* start, size_t start_len, const char* end, size_t end_len,
                                             const char* prefix, size_t prefix_len, int reverse, size_t limit,
                                             lightning_scan_t** scan, char** errmsg);
LIGHTNING_C_API void lightning_scan_destroy(lightning_scan_t* scan);
/* Moves to the next entry (the first on the first call). OK with *has_entry
 * 1: key/value (borrowed, valid until the next call or destroy) are set; OK
 * with *has_entry 0: the walk is over; otherwise the error that ended it
 * (*has_entry 0). key, key_len, value and value_len may each be NULL when
 * not wanted. */
LIGHTNING_C_API int lightning_scan_next(lightning_scan_t* scan, int* has_entry, const char** key, size_t* key_len,
                                        const char** value, size_t* value_len, char** errmsg);

/* ======================================================================
 * Transactions (include/lightning/transaction.h); one thread at a time
 * ====================================================================== */

#define LIGHTNING_ISOLATION_SNAPSHOT 0     /* first committer wins on written keys */
#define LIGHTNING_ISOLATION_SERIALIZABLE 1 /* also fails if what it read changed */

/* Begins an optimistic transaction reading a snapshot of now. write_options
 * (may be NULL) say how durable its commit is; isolation is
 * LIGHTNING_ISOLATION_*. BUSY when max_active_transactions are active. */
LIGHTNING_C_API int lightning_transaction_begin(lightning_db_t* db, const lightning_writeoptions_t* write_options,
                                                int isolation, lightning_transaction_t** txn, char** errmsg);
/* Aborts the transaction if it is active and frees it; its iterators and
 * scans then return CLOSED (they still need destroying). */
LIGHTNING_C_API void lightning_transaction_destroy(lightning_transaction_t* txn);
/* Reads key: the transaction's own write, else the value at its snapshot.
 * As lightning_db_get_ex. */
LIGHTNING_C_API int lightning_transaction_get(lightning_transaction_t* txn, const char* key, size_t key_len,
                                              char** value, size_t* value_len, char** errmsg);
/* Buffer a write; nothing is visible to others before commit. */
LIGHTNING_C_API int lightning_transaction_put(lightning_transaction_t* txn, const char* key, size_t key_len,
                                              const char* value, size_t value_len, char** errmsg);
LIGHTNING_C_API int lightning_transaction_delete(lightning_transaction_t* txn, const char* key, size_t key_len,
                                                 char** errmsg);
/* Validates and applies the writes atomically. OK: committed. CONFLICT:
 * another commit since the snapshot conflicts; nothing was applied, run the
 * whole transaction again in a new one. Either way the transaction is
 * finished: later calls return CLOSED. */
LIGHTNING_C_API int lightning_transaction_commit(lightning_transaction_t* txn, char** errmsg);
/* Discards the writes; CLOSED if already finished. */
LIGHTNING_C_API int lightning_transaction_abort(lightning_transaction_t* txn, char** errmsg);
/* The sequence number of the snapshot it reads, into *sequence. */
LIGHTNING_C_API int lightning_transaction_snapshot_sequence(const lightning_transaction_t* txn,
                                                            uint64_t* sequence);
/* An iterator / scan over the snapshot with the transaction's writes on top
 * (re-seek to see writes made after a seek). Same functions as above. */
LIGHTNING_C_API int lightning_transaction_iterator_create(lightning_transaction_t* txn,
                                                          lightning_iterator_t** iterator, char** errmsg);
LIGHTNING_C_API int lightning_transaction_scan_create(lightning_transaction_t* txn, const char* start,
                                                      size_t start_len, const char* end, size_t end_len,
                                                      const char* prefix, size_t prefix_len, int reverse,
                                                      size_t limit, lightning_scan_t** scan, char** errmsg);

/* ======================================================================
 * Maintenance and statistics (include/lightning/stats.h)
 * ====================================================================== */

/* Writes the memtable to a level-0 table and waits for it. */
LIGHTNING_C_API int lightning_db_flush(lightning_db_t* db, char** errmsg);
/* Flushes, then merges every table level down into the B+Tree. */
LIGHTNING_C_API int lightning_db_compact(lightning_db_t* db, char** errmsg);

/* A copy of the database's counters and gauges as of now (a plain value:
 * one thread at a time per handle, independent of the database afterwards). */
LIGHTNING_C_API int lightning_db_stats(lightning_db_t* db, lightning_stats_t** stats, char** errmsg);
LIGHTNING_C_API void lightning_stats_destroy(lightning_stats_t* stats);
/* The value of the named statistic: the field names of
 * lightning::DatabaseStats ("memtable_bytes", "flushes", "tree_height",
 * "block_cache_hits", ...) and, per SSTable level n, "level<n>.files" and
 * "level<n>.bytes". NOT_FOUND for an unknown name. */
LIGHTNING_C_API int lightning_stats_get(const lightning_stats_t* stats, const char* name, uint64_t* value);
/* Enumeration: the number of statistics, and the name (borrowed, valid
 * while stats lives) and value of the index-th. INVALID_ARGUMENT past the
 * end. */
LIGHTNING_C_API int lightning_stats_count(const lightning_stats_t* stats, size_t* count);
LIGHTNING_C_API int lightning_stats_entry(const lightning_stats_t* stats, size_t index, const char** name,
                                          uint64_t* value);

/* ======================================================================
 * Checkpoints, verification and repair (include/lightning/db.h, maintenance.h)
 * ====================================================================== */

/* Writes a consistent, openable copy of the open database into directory
 * dir (which must not exist or be empty: INVALID_ARGUMENT otherwise) while
 * readers and writers go on. Every write acknowledged before the call is in
 * the copy. Tables are hard-linked when possible, else copied; everything is
 * fsynced before OK; on failure the partial copy is removed. Open the copy
 * with the same comparator (and, for an in-memory database, the same
 * options handle: the copy is written to its file system). Any thread. */
LIGHTNING_C_API int lightning_db_checkpoint(lightning_db_t* db, const char* dir, char** errmsg);

/* What a verification read: the counts of things found intact, by name.
 * Caller-owned; one thread at a time per handle. NULL if memory runs out. */
LIGHTNING_C_API lightning_verify_report_t* lightning_verify_report_create(void);
LIGHTNING_C_API void lightning_verify_report_destroy(lightning_verify_report_t* report);
/* The value of the named count: the field names of lightning::VerifyReport
 * ("manifest_bytes", "wal_files", "wal_records", "wal_bytes",
 * "wal_torn_tail_bytes" (bytes an interrupted append left at the end of a
 * log: not an error), "table_files", "table_entries", "table_bytes",
 * "tree_epoch" (0: no tree), "tree_pages", "tree_entries",
 * "tree_file_bytes"). All 0 until a verification fills the report.
 * NOT_FOUND for an unknown name. */
LIGHTNING_C_API int lightning_verify_report_get(const lightning_verify_report_t* report, const char* name,
                                                uint64_t* value);
/* Enumeration, as lightning_stats_count/_entry: name borrowed (static). */
LIGHTNING_C_API int lightning_verify_report_count(const lightning_verify_report_t* report, size_t* count);
LIGHTNING_C_API int lightning_verify_report_entry(const lightning_verify_report_t* report, size_t index,
                                                  const char** name, uint64_t* value);

/* Reads every byte of every live file of the open database (MANIFEST, live
 * logs, every SSTable block, every tree page), bypassing the caches, and
 * checks checksums and structure, beside readers and writers. CORRUPTION
 * names the file and offset or page. report (may be NULL) is reset, then
 * receives the counts -- also on failure, where it holds what was found
 * intact before the problem. Any thread. */
LIGHTNING_C_API int lightning_db_verify(lightning_db_t* db, lightning_verify_report_t* report, char** errmsg);

/* The same check of the database in directory path, which must not be open
 * (BUSY otherwise, in this or another process): NOT_FOUND if there is no
 * database, NOT_SUPPORTED for an unknown format version. options (NULL: the
 * defaults) supply the comparator the database was created with and, when
 * set in-memory, the file system to read. report as for lightning_db_verify.
 * Any thread; distinct directories may be verified concurrently. */
LIGHTNING_C_API int lightning_verify_database(const char* path, const lightning_options_t* options,
                                              lightning_verify_report_t* report, char** errmsg);

/* What a repair found and did (lightning::RepairReport). Caller-owned; one
 * thread at a time per handle. NULL if memory runs out. */
LIGHTNING_C_API lightning_repair_report_t* lightning_repair_report_create(void);
LIGHTNING_C_API void lightning_repair_report_destroy(lightning_repair_report_t* report);
/* The value of the named field: "manifest_rebuilt" (1: the MANIFEST was
 * missing or damaged and was rebuilt from the files found), "tables_kept",
 * "tables_salvaged" (damaged; their intact blocks rewritten into new
 * tables), "tables_dropped" (missing or nothing readable), "tree_kept" (1:
 * the tree commit verified), "tree_rebuilt" (1: its readable leaves were
 * written into a fresh tree), "entries_salvaged", "entries_lost" (known
 * losses only), "wal_records_kept", "wal_records_dropped",
 * "files_moved_to_lost" (damaged originals moved, never deleted, into
 * <path>/lost/). Flags read 0 or 1. NOT_FOUND for an unknown name. */
LIGHTNING_C_API int lightning_repair_report_get(const lightning_repair_report_t* report, const char* name,
                                                uint64_t* value);
/* Enumeration, as lightning_stats_count/_entry: name borrowed (static). */
LIGHTNING_C_API int lightning_repair_report_count(const lightning_repair_report_t* report, size_t* count);
LIGHTNING_C_API int lightning_repair_report_entry(const lightning_repair_report_t* report, size_t index,
                                                  const char** name, uint64_t* value);
/* The damaged regions dropped, one NUL-terminated line each (which file,
 * which block, page or offset, why): their number, and the index-th
 * (borrowed: valid until the report is destroyed or filled again).
 * INVALID_ARGUMENT past the end. */
LIGHTNING_C_API int lightning_repair_report_dropped_count(const lightning_repair_report_t* report, size_t* count);
LIGHTNING_C_API int lightning_repair_report_dropped(const lightning_repair_report_t* report, size_t index,
                                                    const char** line);

/* Salvages the database in directory path after damage, offline, so that it
 * opens and verifies afterwards: intact tables, tree commit and log records
 * are kept; from damaged ones whatever passes its checksums is rewritten
 * (keys in a damaged region are lost, and an older surviving version of
 * such a key becomes visible again); a missing or damaged MANIFEST is
 * rebuilt. Damaged originals are moved into path/lost/. Nothing damaged is
 * ever returned as data; repairing an intact database changes nothing.
 * BUSY if the database is open; NOT_FOUND if path holds no database files;
 * INVALID_ARGUMENT if it is not a directory or the comparator differs from
 * options' (NULL: the defaults; in-memory options name the file system);
 * NOT_SUPPORTED for an unknown format. report (may be NULL) is reset, then
 * filled. Any thread; distinct directories may be repaired concurrently. */
LIGHTNING_C_API int lightning_repair_database(const char* path, const lightning_options_t* options,
                                              lightning_repair_report_t* report, char** errmsg);

/* ======================================================================
 * Backups (include/lightning/backup.h)
 * ====================================================================== */

/* Opens (creating if needed) the backup root directory backup_root and
 * stores the engine in *engine (NULL on failure). options (NULL: the real
 * file system) must be on the file system of the databases it backs up: for
 * in-memory databases, the options handle they were opened with (the engine
 * keeps that file system alive). Removes the debris of backups a crash
 * interrupted. BUSY if another engine (in any process) has the root open.
 * A backup holds the tables it shares with others once (under shared/) and
 * copies the tree and MANIFEST; a backup being made is listed only once it
 * is complete.
 * Threads: every call on an engine may be made from any thread (they run
 * one at a time), lightning_backup_engine_close() included; only
 * lightning_backup_engine_destroy() must not race with other calls on it. */
LIGHTNING_C_API int lightning_backup_engine_open(const char* backup_root, const lightning_options_t* options,
                                                 lightning_backup_engine_t** engine, char** errmsg);
/* Releases the root's lock; later calls on the engine return CLOSED. Closing
 * again is OK. */
LIGHTNING_C_API int lightning_backup_engine_close(lightning_backup_engine_t* engine, char** errmsg);
/* Closes the engine if it is open and frees the handle. NULL is ignored. */
LIGHTNING_C_API void lightning_backup_engine_destroy(lightning_backup_engine_t* engine);

/* Backs up db (flushing its memtable first; its readers and writers go on)
 * and stores the new backup's id in *backup_id (may be NULL). Every write
 * acknowledged before the call is in the backup. CLOSED if the engine or db
 * is closed (lightning_db_close waits for this call); INVALID_ARGUMENT if
 * db is on another file system than the engine. On failure nothing is
 * listed and the partial files are removed. */
LIGHTNING_C_API int lightning_backup_engine_create_backup(lightning_backup_engine_t* engine, lightning_db_t* db,
                                                          uint64_t* backup_id, char** errmsg);

/* The valid backups as of the call, oldest first, as a list the caller owns
 * (a plain value: one thread at a time; it outlives the engine). */
LIGHTNING_C_API int lightning_backup_engine_list_backups(lightning_backup_engine_t* engine,
                                                         lightning_backup_list_t** list, char** errmsg);
LIGHTNING_C_API void lightning_backup_list_destroy(lightning_backup_list_t* list);
LIGHTNING_C_API int lightning_backup_list_count(const lightning_backup_list_t* list, size_t* count);
/* The index-th backup: its id (1, 2, ... in creation order, never reused by
 * a root), timestamp (seconds since the Unix epoch when it was made), size
 * (bytes of its files, shared ones included), file count (tables, tree,
 * MANIFEST) and last sequence (the newest write it holds). Each out-pointer
 * may be NULL when not wanted. INVALID_ARGUMENT past the end. */
LIGHTNING_C_API int lightning_backup_list_get(const lightning_backup_list_t* list, size_t index, uint64_t* id,
                                              uint64_t* timestamp, uint64_t* size, uint64_t* file_count,
                                              uint64_t* last_sequence);

/* Reads every file of backup backup_id and checks its size and checksum.
 * CORRUPTION naming the file; NOT_FOUND for an unknown id. */
LIGHTNING_C_API int lightning_backup_engine_verify_backup(lightning_backup_engine_t* engine, uint64_t backup_id,
                                                          char** errmsg);
/* Deletes backup backup_id, then the shared tables no backup refers to any
 * more; a crash midway never leaves a listed, incomplete backup. NOT_FOUND
 * for an unknown id. */
LIGHTNING_C_API int lightning_backup_engine_delete_backup(lightning_backup_engine_t* engine, uint64_t backup_id,
                                                          char** errmsg);
/* Deletes the oldest backups until at most keep remain. */
LIGHTNING_C_API int lightning_backup_engine_purge_old_backups(lightning_backup_engine_t* engine, size_t keep,
                                                              char** errmsg);
/* Restores backup backup_id into directory db_dir (created if missing),
 * checking every file's checksum as it is copied (CORRUPTION, and nothing
 * left that would open, if one fails). If db_dir holds anything but an
 * empty LOCK file: INVALID_ARGUMENT, unless overwrite is nonzero, in which
 * case the database files there are deleted first. BUSY if a database is
 * open in db_dir. The restored database holds exactly the backup's data. */
LIGHTNING_C_API int lightning_backup_engine_restore(lightning_backup_engine_t* engine, uint64_t backup_id,
                                                    const char* db_dir, int overwrite, char** errmsg);

/* ======================================================================
 * Change subscriptions (include/lightning/subscription.h)
 * ====================================================================== */

/* Event types (lightning::ChangeType). */
#define LIGHTNING_CHANGE_PUT 0    /* key was set to value */
#define LIGHTNING_CHANGE_DELETE 1 /* key was removed (removing a missing key is an event too) */
#define LIGHTNING_CHANGE_LOST 2   /* events were dropped here on overflow (see below) */

/* What a subscription does when its queue of pending events is full. */
#define LIGHTNING_OVERFLOW_DROP_AND_REPORT 0 /* writers go on; the events that do not fit are dropped */
#define LIGHTNING_OVERFLOW_BLOCK_WRITERS 1   /* every writer waits for room; nothing is dropped */

/* The callback of a subscription: called with the state given to
 * lightning_db_subscribe and one event, on the subscription's own delivery
 * thread (never a writer's), one event at a time, in commit order.
 *
 * The event and every pointer read from it (key, value) are valid only
 * until the callback returns: copy what you keep.
 *
 * Delivery: events arrive for the puts and removals committed after
 * lightning_db_subscribe returned, once they are visible to readers (a read
 * of the key from the callback sees at least the event's version); a batch
 * or transaction arrives whole, in order, with consecutive sequence
 * numbers; nothing arrives for a failed write or a conflicting commit.
 *
 * Overflow: with LIGHTNING_OVERFLOW_DROP_AND_REPORT (the default) the
 * events that do not fit are dropped and, in their place, the callback later
 * receives one event of type LIGHTNING_CHANGE_LOST: its lost_events count
 * says how many were dropped, its sequence is that of the last dropped one,
 * its key and value are empty. With LIGHTNING_OVERFLOW_BLOCK_WRITERS every
 * writer waits for the slowest such subscriber, and its callback must not
 * write to the database (puts, deletes, batches, commits, flush, compact
 * and sync return INVALID_ARGUMENT from it).
 *
 * From a callback, the API may be used to read (get, iterators, scans,
 * snapshots, transactions), to subscribe, and to unsubscribe or destroy a
 * subscription, its own included (see lightning_subscription_destroy).
 * Not allowed from a callback: lightning_db_close() on its own database
 * (INVALID_ARGUMENT), lightning_db_destroy() of it (undefined, as for any
 * handle in use), and waiting for another thread's call on its database
 * (that call may be waiting for this callback). While the database is
 * closing, calls on it from a callback return CLOSED. */
typedef void (*lightning_change_fn)(void* state, const lightning_change_event_t* event);

/* Accessors of an event, valid only inside the callback. INVALID_ARGUMENT
 * for a NULL argument. */
/* LIGHTNING_CHANGE_*. */
LIGHTNING_C_API int lightning_change_event_type(const lightning_change_event_t* event, int* type);
/* The change's sequence number (commit order); for LOST that of the last
 * dropped event. */
LIGHTNING_C_API int lightning_change_event_sequence(const lightning_change_event_t* event, uint64_t* sequence);
/* The key (empty for LOST) and the value (the new value for PUT, empty
 * otherwise), borrowed until the callback returns; never NULL. */
LIGHTNING_C_API int lightning_change_event_key(const lightning_change_event_t* event, const char** key,
                                               size_t* key_len);
LIGHTNING_C_API int lightning_change_event_value(const lightning_change_event_t* event, const char** value,
                                                 size_t* value_len);
/* For LOST: how many events were dropped; 0 otherwise. */
LIGHTNING_C_API int lightning_change_event_lost_events(const lightning_change_event_t* event, uint64_t* count);

/* Which changes a subscription receives. Defaults: every key, up to 65536
 * pending events, LIGHTNING_OVERFLOW_DROP_AND_REPORT. NULL if memory runs
 * out. One thread at a time; destroy any time (subscribe copies it). */
LIGHTNING_C_API lightning_subscribeoptions_t* lightning_subscribeoptions_create(void);
LIGHTNING_C_API void lightning_subscribeoptions_destroy(lightning_subscribeoptions_t* options);
/* Only keys beginning with these bytes (compared bytewise, whatever the
 * comparator); prefix_len 0: every key. */
LIGHTNING_C_API int lightning_subscribeoptions_set_prefix(lightning_subscribeoptions_t* options, const char* prefix,
                                                          size_t prefix_len);
/* Only keys in [start, end) in the database's order; a NULL bound is
 * absent. Combined with a prefix, a key must match both. An empty range is
 * refused by lightning_db_subscribe (INVALID_ARGUMENT). */
LIGHTNING_C_API int lightning_subscribeoptions_set_range(lightning_subscribeoptions_t* options, const char* start,
                                                         size_t start_len, const char* end, size_t end_len);
/* Events that may wait in the queue (>= 1; 0 makes lightning_db_subscribe
 * fail with INVALID_ARGUMENT). One write with more matching events than this
 * is still queued whole when the queue is empty. */
LIGHTNING_C_API int lightning_subscribeoptions_set_max_pending_events(lightning_subscribeoptions_t* options,
                                                                      size_t count);
/* LIGHTNING_OVERFLOW_*. */
LIGHTNING_C_API int lightning_subscribeoptions_set_overflow(lightning_subscribeoptions_t* options, int policy);

/* Subscribes callback (with state) to the changes committed from now on
 * that match options (NULL: every change) and stores the handle in
 * *subscription (NULL on failure). state is passed through untouched: it
 * must stay valid until lightning_subscription_destroy() or
 * lightning_subscription_unsubscribe() (called outside the callback)
 * returns, or the database is closed, whichever comes first. CLOSED if the
 * database is closed. Any thread, callbacks included.
 *
 * Closing the database first delivers every event already queued, then ends
 * the subscription: the handle stays (active 0, status CLOSED) until
 * destroyed, before or after the database handle. */
LIGHTNING_C_API int lightning_db_subscribe(lightning_db_t* db, const lightning_subscribeoptions_t* options,
                                           lightning_change_fn callback, void* state,
                                           lightning_subscription_t** subscription, char** errmsg);
/* Unsubscribes and frees the handle. When it returns the callback is not
 * running and never runs again -- except when called from the
 * subscription's own callback: then it returns at once and the callback is
 * not called again after the current call returns. NULL is ignored. Must
 * not race with other calls on the same handle. Do not destroy (or
 * unsubscribe) subscription B from A's callback while B's callback does the
 * same to A: each would wait for the other. */
LIGHTNING_C_API void lightning_subscription_destroy(lightning_subscription_t* subscription);
/* Stops delivery and drops the events still queued, keeping the handle (for
 * its counters); same guarantees as destroy. Again, or after the database
 * closed: nothing happens, OK. */
LIGHTNING_C_API int lightning_subscription_unsubscribe(lightning_subscription_t* subscription);
/* 1 until unsubscribed or the database closed; 0 afterwards (and for
 * NULL). */
LIGHTNING_C_API int lightning_subscription_active(const lightning_subscription_t* subscription);
/* OK while active and after an unsubscribe; CLOSED once the database was
 * closed. */
LIGHTNING_C_API int lightning_subscription_status(const lightning_subscription_t* subscription, char** errmsg);
/* Events passed to the callback so far (LOST events not counted), and
 * events dropped on overflow. */
LIGHTNING_C_API int lightning_subscription_events_delivered(const lightning_subscription_t* subscription,
                                                            uint64_t* count);
LIGHTNING_C_API int lightning_subscription_events_lost(const lightning_subscription_t* subscription,
                                                       uint64_t* count);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* LIGHTNING_LIGHTNING_DB_H_ */
