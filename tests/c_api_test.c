/* Copyright (c) Lightning authors. MIT License.
 *
 * Tests of the C API (capi/include/lightning/lightning_db.h), written in C11
 * and linked against libLightning.so, so they also prove the C symbols are
 * exported. Every function is called, with its error paths: NULL arguments,
 * closed handles, NOT_FOUND, CONFLICT, BUSY, bad options.
 *
 * Usage: c_api_test [case-name-substring]. With no argument every case runs
 * except those named "Concurrent" (CTest runs those separately, so CI's
 * ThreadSanitizer job, which selects tests by that word, picks them up).
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw */

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lightning/lightning_db.h"

static int g_failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      g_failures++;                                                          \
    }                                                                        \
  } while (0)

#define CHECK_CODE(expr, expected)                                                                   \
  do {                                                                                               \
    int check_code_ = (expr);                                                                        \
    if (check_code_ != (expected)) {                                                                 \
      fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__, __LINE__, #expr, \
              check_code_, lightning_strerror(check_code_), (int)(expected),                         \
              lightning_strerror(expected));                                                         \
      g_failures++;                                                                                  \
    }                                                                                                \
  } while (0)

#define CHECK_OK(expr) CHECK_CODE(expr, LIGHTNING_OK)

/* Bytes equal to a NUL-terminated expectation. */
static int bytes_eq(const char* data, size_t len, const char* expected) {
  return data != NULL && len == strlen(expected) && memcmp(data, expected, len) == 0;
}

/* ---- temporary directories */

static char g_root[256];

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tree(const char* path) { (void)nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* A fresh path (not yet existing) under the test's root directory. */
static void fresh_path(char* out, size_t size, const char* name) {
  snprintf(out, size, "%s/%s", g_root, name);
  remove_tree(out);
}

/* An in-memory database with its options (the caller destroys both). */
static lightning_db_t* open_memory_db(lightning_options_t** options_out) {
  lightning_options_t* options = lightning_options_create();
  lightning_db_t* db = NULL;
  CHECK(options != NULL);
  CHECK_OK(lightning_options_set_in_memory(options, 1));
  CHECK_OK(lightning_db_open("/memdb", options, &db, NULL));
  CHECK(db != NULL);
  *options_out = options;
  return db;
}

/* ---- cases */

static void test_version_and_errors(void) {
  static const int codes[] = {LIGHTNING_OK,       LIGHTNING_NOT_FOUND, LIGHTNING_CORRUPTION,
                              LIGHTNING_NOT_SUPPORTED, LIGHTNING_INVALID_ARGUMENT, LIGHTNING_IO_ERROR,
                              LIGHTNING_BUSY,     LIGHTNING_CONFLICT,  LIGHTNING_CLOSED,
                              LIGHTNING_ABORTED,  LIGHTNING_BUFFER_TOO_SMALL};
  const size_t n = sizeof(codes) / sizeof(codes[0]);
  const char* unknown = lightning_strerror(-1);
  char expected_version[32];
  size_t i, j;

  CHECK(unknown != NULL && strcmp(unknown, lightning_strerror(12345)) == 0);
  CHECK(strcmp(lightning_strerror(10), unknown) == 0);
  /* The engine's codes are 0..9, one to one. */
  for (i = 0; i < 10; i++) CHECK(codes[i] == (int)i);
  for (i = 0; i < n; i++) {
    const char* text = lightning_strerror(codes[i]);
    CHECK(text != NULL && text[0] != '\0');
    CHECK(strcmp(text, unknown) != 0);
    for (j = 0; j < i; j++) CHECK(strcmp(text, lightning_strerror(codes[j])) != 0);
  }

  CHECK(lightning_version_number() ==
        (uint32_t)(LIGHTNING_VERSION_MAJOR * 10000 + LIGHTNING_VERSION_MINOR * 100 + LIGHTNING_VERSION_PATCH));
  snprintf(expected_version, sizeof(expected_version), "%d.%d.%d", LIGHTNING_VERSION_MAJOR, LIGHTNING_VERSION_MINOR,
           LIGHTNING_VERSION_PATCH);
  CHECK(strcmp(lightning_version_string(), expected_version) == 0);
#ifdef LIGHTNING_EXPECTED_VERSION
  /* The header's version must follow the project's (CMakeLists.txt). */
  CHECK(strcmp(lightning_version_string(), LIGHTNING_EXPECTED_VERSION) == 0);
#endif
  lightning_free(NULL);
}

/* The seed README's calls, on a real directory. */
static void test_seed_api(void) {
  char path[512];
  size_t len = 99;
  char* value;
  lightning_db_t* db;

  fresh_path(path, sizeof(path), "seed");
  db = lightning_db_create(path, NULL);
  CHECK(db != NULL);
  CHECK_OK(lightning_db_put(db, "key", 3, "value", 5));
  value = lightning_db_get(db, "key", 3, &len);
  CHECK(bytes_eq(value, len, "value"));
  lightning_db_free_value(value);

  /* An empty value is a non-NULL pointer of length 0; absent is NULL. */
  CHECK_OK(lightning_db_put(db, "empty", 5, NULL, 0));
  len = 99;
  value = lightning_db_get(db, "empty", 5, &len);
  CHECK(value != NULL && len == 0);
  lightning_db_free_value(value);
  len = 99;
  CHECK(lightning_db_get(db, "missing", 7, &len) == NULL);
  CHECK(len == 0);
  CHECK(lightning_db_get(db, "key", 3, NULL) == NULL);
  CHECK(lightning_db_get(NULL, "key", 3, &len) == NULL);

  CHECK_OK(lightning_db_delete(db, "key", 3));
  CHECK_OK(lightning_db_delete(db, "key", 3)); /* a missing key is not an error */
  CHECK(lightning_db_get(db, "key", 3, &len) == NULL);
  CHECK_CODE(lightning_db_put(NULL, "k", 1, "v", 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_put(db, NULL, 1, "v", 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_put(db, "", 0, "v", 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_delete(NULL, "k", 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_db_put(db, "kept", 4, "yes", 3));
  lightning_db_destroy(db);

  /* Reopened: the data is there. */
  db = lightning_db_create(path, NULL);
  CHECK(db != NULL);
  value = lightning_db_get(db, "kept", 4, &len);
  CHECK(bytes_eq(value, len, "yes"));
  lightning_db_free_value(value);
  /* A second handle on an open database fails (the lock is held). */
  CHECK(lightning_db_create(path, NULL) == NULL);
  lightning_db_destroy(db);
  lightning_db_destroy(NULL);

  CHECK(lightning_db_create(NULL, NULL) == NULL);
}

static void test_open_errors(void) {
  char path[512];
  char* err = (char*)"stale";
  lightning_db_t* db = (lightning_db_t*)&err;
  lightning_db_t* second = NULL;
  lightning_options_t* options = lightning_options_create();

  fresh_path(path, sizeof(path), "open_errors");
  CHECK_CODE(lightning_db_open(NULL, NULL, &db, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(db == NULL);
  CHECK(err != NULL && strlen(err) > 0);
  lightning_free(err);
  CHECK_CODE(lightning_db_open(path, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);

  /* Missing and create_if_missing off: NOT_FOUND. */
  CHECK_OK(lightning_options_set_create_if_missing(options, 0));
  CHECK_CODE(lightning_db_open(path, options, &db, &err), LIGHTNING_NOT_FOUND);
  CHECK(db == NULL && err != NULL);
  lightning_free(err);

  CHECK_OK(lightning_options_set_create_if_missing(options, 1));
  CHECK_OK(lightning_db_open(path, options, &db, &err));
  CHECK(db != NULL && err == NULL);
  /* Already open: BUSY. */
  CHECK_CODE(lightning_db_open(path, options, &second, &err), LIGHTNING_BUSY);
  CHECK(second == NULL && err != NULL);
  lightning_free(err);
  CHECK_OK(lightning_db_close(db, &err));
  CHECK(err == NULL);
  lightning_db_destroy(db);

  /* Exists and error_if_exists: INVALID_ARGUMENT. */
  CHECK_OK(lightning_options_set_error_if_exists(options, 1));
  CHECK_CODE(lightning_db_open(path, options, &db, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(db == NULL);
  lightning_free(err);
  CHECK_OK(lightning_options_set_error_if_exists(options, 0));

  /* An option out of range is refused at open. */
  CHECK_OK(lightning_options_set_memtable_size(options, 1));
  CHECK_CODE(lightning_db_open(path, options, &db, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(db == NULL && err != NULL);
  lightning_free(err);

  /* A regular file where the directory should be. */
  {
    char file_path[600];
    FILE* f;
    snprintf(file_path, sizeof(file_path), "%s/plain_file", g_root);
    f = fopen(file_path, "w");
    CHECK(f != NULL);
    if (f != NULL) fclose(f);
    CHECK(lightning_db_open(file_path, NULL, &db, &err) != LIGHTNING_OK);
    CHECK(db == NULL && err != NULL);
    lightning_free(err);
  }
  lightning_options_destroy(options);
}

static void test_options(void) {
  lightning_options_t* options = lightning_options_create();
  lightning_readoptions_t* ro = lightning_readoptions_create();
  lightning_writeoptions_t* wo = lightning_writeoptions_create();
  char path[512];
  lightning_db_t* db = NULL;
  char* value = NULL;
  size_t len = 0;

  CHECK(options != NULL && ro != NULL && wo != NULL);
  CHECK_OK(lightning_options_set_create_if_missing(options, 1));
  CHECK_OK(lightning_options_set_error_if_exists(options, 0));
  CHECK_OK(lightning_options_set_cache_size(options, 1u << 20));
  CHECK_OK(lightning_options_set_memtable_size(options, 256u << 10));
  CHECK_OK(lightning_options_set_memory_budget(options, 0));
  CHECK_OK(lightning_options_set_compression(options, LIGHTNING_COMPRESSION_NONE));
  CHECK_OK(lightning_options_set_compression(options, LIGHTNING_COMPRESSION_LZ4));
  CHECK_OK(lightning_options_set_compression(options, LIGHTNING_COMPRESSION_SNAPPY));
  CHECK_OK(lightning_options_set_compression(options, LIGHTNING_COMPRESSION_ZSTD));
  CHECK_CODE(lightning_options_set_compression(options, 4), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_options_set_wal_sync_mode(options, LIGHTNING_WAL_SYNC_NORMAL));
  CHECK_OK(lightning_options_set_wal_sync_mode(options, LIGHTNING_WAL_SYNC_OFF));
  CHECK_OK(lightning_options_set_wal_sync_mode(options, LIGHTNING_WAL_SYNC_FULL));
  CHECK_CODE(lightning_options_set_wal_sync_mode(options, -1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_options_set_wal_sync_interval_ms(options, 50));
  CHECK_OK(lightning_options_set_wal_recovery_mode(options, LIGHTNING_WAL_RECOVERY_SKIP_CORRUPTED));
  CHECK_OK(lightning_options_set_wal_recovery_mode(options, LIGHTNING_WAL_RECOVERY_STRICT));
  CHECK_OK(lightning_options_set_wal_recovery_mode(options, LIGHTNING_WAL_RECOVERY_POINT_IN_TIME));
  CHECK_CODE(lightning_options_set_wal_recovery_mode(options, 3), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_options_set_block_size(options, 8192));
  CHECK_OK(lightning_options_set_bloom_bits_per_key(options, 12));
  CHECK_OK(lightning_options_set_page_size(options, 8192));
  CHECK_OK(lightning_options_set_mmap_size(options, 0));
  CHECK_OK(lightning_options_set_target_file_size(options, 1u << 20));
  CHECK_OK(lightning_options_set_max_open_files(options, 64));
  CHECK_OK(lightning_options_set_max_background_compactions(options, 1));
  CHECK_OK(lightning_options_set_max_active_transactions(options, 8));
  CHECK_OK(lightning_options_set_prefix_length(options, 2));
  CHECK_OK(lightning_options_set_comparator(options, NULL));
  CHECK_OK(lightning_options_set_in_memory(options, 0));

  /* NULL options: INVALID_ARGUMENT from every setter. */
  CHECK_CODE(lightning_options_set_create_if_missing(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_error_if_exists(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_cache_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_memtable_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_memory_budget(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_compression(NULL, 0), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_wal_sync_mode(NULL, 0), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_wal_sync_interval_ms(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_wal_recovery_mode(NULL, 0), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_block_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_bloom_bits_per_key(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_page_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_mmap_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_target_file_size(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_max_open_files(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_max_background_compactions(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_max_active_transactions(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_prefix_length(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_comparator(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_options_set_in_memory(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_readoptions_set_snapshot(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writeoptions_set_sync(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writeoptions_set_consistency(NULL, 0), LIGHTNING_INVALID_ARGUMENT);

  CHECK_OK(lightning_writeoptions_set_sync(wo, 1));
  CHECK_OK(lightning_writeoptions_set_consistency(wo, LIGHTNING_CONSISTENCY_STRONG));
  CHECK_OK(lightning_writeoptions_set_consistency(wo, LIGHTNING_CONSISTENCY_QUORUM));
  CHECK_OK(lightning_writeoptions_set_consistency(wo, LIGHTNING_CONSISTENCY_EVENTUAL));
  CHECK_OK(lightning_writeoptions_set_consistency(wo, LIGHTNING_CONSISTENCY_DEFAULT));
  CHECK_CODE(lightning_writeoptions_set_consistency(wo, 4), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_readoptions_set_snapshot(ro, NULL));

  /* The options take effect: a database with all of them set works. */
  fresh_path(path, sizeof(path), "options");
  CHECK_OK(lightning_db_open(path, options, &db, NULL));
  CHECK_OK(lightning_db_put_ex(db, wo, "ab1", 3, "v", 1, NULL));
  CHECK_OK(lightning_db_flush(db, NULL));
  CHECK_OK(lightning_db_get_ex(db, ro, "ab1", 3, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "v"));
  lightning_free(value);
  lightning_db_destroy(db);

  /* Numeric limits are checked at open. */
  CHECK_OK(lightning_options_set_page_size(options, 3000));
  fresh_path(path, sizeof(path), "options_bad_page");
  CHECK_CODE(lightning_db_open(path, options, &db, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(db == NULL);

  lightning_options_destroy(options);
  lightning_readoptions_destroy(ro);
  lightning_writeoptions_destroy(wo);
  lightning_options_destroy(NULL);
  lightning_readoptions_destroy(NULL);
  lightning_writeoptions_destroy(NULL);
}

static void test_in_memory(void) {
  lightning_options_t* options;
  lightning_options_t* other = lightning_options_create();
  lightning_db_t* db = open_memory_db(&options);
  char* value = NULL;
  size_t len = 0;

  CHECK_OK(lightning_db_put(db, "k", 1, "v", 1));
  lightning_db_destroy(db);
  /* Same options handle: same files. */
  CHECK_OK(lightning_db_open("/memdb", options, &db, NULL));
  CHECK_OK(lightning_db_get_ex(db, NULL, "k", 1, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "v"));
  lightning_free(value);
  /* Another options handle has its own (empty) file system, so no lock
   * conflict either. */
  {
    lightning_db_t* db2 = NULL;
    CHECK_OK(lightning_options_set_in_memory(other, 1));
    CHECK_OK(lightning_db_open("/memdb", other, &db2, NULL));
    CHECK_CODE(lightning_db_get_ex(db2, NULL, "k", 1, &value, &len, NULL), LIGHTNING_NOT_FOUND);
    lightning_db_destroy(db2);
  }
  /* The options may go before the database: it keeps its file system. */
  lightning_options_destroy(options);
  CHECK_OK(lightning_db_get_ex(db, NULL, "k", 1, &value, &len, NULL));
  lightning_free(value);
  lightning_db_destroy(db);
  lightning_options_destroy(other);
}

static void test_reads_and_writes(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_writeoptions_t* wo = lightning_writeoptions_create();
  char* err = NULL;
  char* value = (char*)"stale";
  size_t len = 7;
  char buffer[8];
  char big_key[5000];

  memset(big_key, 'k', sizeof(big_key));
  CHECK_OK(lightning_writeoptions_set_sync(wo, 1));
  CHECK_OK(lightning_db_put_ex(db, wo, "a", 1, "alpha", 5, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_db_put_ex(db, NULL, "b", 1, "bravo-bravo", 11, NULL));
  /* Embedded NULs are bytes like any other. */
  CHECK_OK(lightning_db_put_ex(db, NULL, "n\0n", 3, "x\0y", 3, NULL));
  CHECK_OK(lightning_db_get_ex(db, NULL, "n\0n", 3, &value, &len, NULL));
  CHECK(value != NULL && len == 3 && memcmp(value, "x\0y", 3) == 0);
  lightning_free(value);

  /* Bad arguments. */
  CHECK_CODE(lightning_db_put_ex(NULL, NULL, "a", 1, "v", 1, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_put_ex(db, NULL, "a", 1, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_put_ex(db, NULL, big_key, sizeof(big_key), "v", 1, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_delete_ex(db, NULL, NULL, 2, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_delete_ex(db, NULL, "", 0, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "a", 1, NULL, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "a", 1, &value, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_ex(db, NULL, NULL, 1, &value, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(value == NULL && len == 0);
  CHECK_CODE(lightning_db_get_ex(NULL, NULL, "a", 1, &value, &len, NULL), LIGHTNING_INVALID_ARGUMENT);

  /* NOT_FOUND, with a message. */
  value = (char*)"stale";
  CHECK_CODE(lightning_db_get_ex(db, NULL, "zzz", 3, &value, &len, &err), LIGHTNING_NOT_FOUND);
  CHECK(value == NULL && len == 0 && err != NULL);
  lightning_free(err);

  /* Into a caller buffer. */
  CHECK_OK(lightning_db_get_into(db, NULL, "a", 1, buffer, sizeof(buffer), &len, &err));
  CHECK(bytes_eq(buffer, len, "alpha") && err == NULL);
  memset(buffer, '#', sizeof(buffer));
  CHECK_CODE(lightning_db_get_into(db, NULL, "b", 1, buffer, sizeof(buffer), &len, &err),
             LIGHTNING_BUFFER_TOO_SMALL);
  CHECK(len == 11 && buffer[0] == '#' && err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_get_into(db, NULL, "b", 1, NULL, 0, &len, NULL), LIGHTNING_BUFFER_TOO_SMALL);
  CHECK(len == 11);
  CHECK_CODE(lightning_db_get_into(db, NULL, "zz", 2, buffer, sizeof(buffer), &len, NULL), LIGHTNING_NOT_FOUND);
  CHECK(len == 0);
  CHECK_CODE(lightning_db_get_into(db, NULL, "a", 1, NULL, 4, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_into(db, NULL, "a", 1, buffer, 4, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_into(db, NULL, NULL, 1, buffer, 4, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_get_into(NULL, NULL, "a", 1, buffer, 4, &len, NULL), LIGHTNING_INVALID_ARGUMENT);

  CHECK_OK(lightning_db_delete_ex(db, wo, "a", 1, &err));
  CHECK_CODE(lightning_db_get_ex(db, NULL, "a", 1, &value, &len, NULL), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_db_sync_wal(db, NULL));
  CHECK_CODE(lightning_db_sync_wal(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);

  lightning_writeoptions_destroy(wo);
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

static void test_multi_get(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  const char* keys[4] = {"a", "missing", "", "b"};
  size_t key_lens[4] = {1, 7, 0, 1};
  char* values[4];
  size_t value_lens[4];
  int statuses[4];
  char* err = NULL;
  int i;

  CHECK_OK(lightning_db_put(db, "a", 1, "1", 1));
  CHECK_OK(lightning_db_put(db, "b", 1, "", 0));
  /* The empty key fails alone; the call reports it. */
  CHECK_CODE(lightning_db_multi_get(db, NULL, 4, keys, key_lens, values, value_lens, statuses, &err),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK(statuses[0] == LIGHTNING_OK && bytes_eq(values[0], value_lens[0], "1"));
  CHECK(statuses[1] == LIGHTNING_NOT_FOUND && values[1] == NULL);
  CHECK(statuses[2] == LIGHTNING_INVALID_ARGUMENT && values[2] == NULL);
  CHECK(statuses[3] == LIGHTNING_OK && values[3] != NULL && value_lens[3] == 0);
  for (i = 0; i < 4; i++) lightning_free(values[i]);

  /* Found and absent keys only: OK. */
  CHECK_OK(lightning_db_multi_get(db, NULL, 2, keys, key_lens, values, value_lens, statuses, &err));
  CHECK(err == NULL && statuses[1] == LIGHTNING_NOT_FOUND);
  for (i = 0; i < 2; i++) lightning_free(values[i]);
  CHECK_OK(lightning_db_multi_get(db, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL));
  CHECK_CODE(lightning_db_multi_get(db, NULL, 1, NULL, key_lens, values, value_lens, statuses, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_multi_get(NULL, NULL, 1, keys, key_lens, values, value_lens, statuses, NULL),
             LIGHTNING_INVALID_ARGUMENT);

  CHECK_OK(lightning_db_close(db, NULL));
  CHECK_CODE(lightning_db_multi_get(db, NULL, 2, keys, key_lens, values, value_lens, statuses, NULL),
             LIGHTNING_CLOSED);
  CHECK(statuses[0] == LIGHTNING_CLOSED && statuses[1] == LIGHTNING_CLOSED && values[0] == NULL);
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

static void test_write_batch(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_writebatch_t* batch = lightning_writebatch_create();
  uint32_t count = 99;
  char* err = NULL;
  char* value = NULL;
  size_t len = 0;

  CHECK(batch != NULL);
  CHECK_OK(lightning_db_put(db, "gone", 4, "x", 1));
  CHECK_OK(lightning_writebatch_put(batch, "k1", 2, "v1", 2, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_writebatch_put(batch, "k2", 2, "v2", 2, NULL));
  CHECK_OK(lightning_writebatch_delete(batch, "gone", 4, NULL));
  CHECK_OK(lightning_writebatch_count(batch, &count));
  CHECK(count == 3);
  /* A bad key leaves the batch unchanged. */
  CHECK_CODE(lightning_writebatch_put(batch, "", 0, "v", 1, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_writebatch_delete(batch, "", 0, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_put(batch, NULL, 1, "v", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_put(batch, "k", 1, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_delete(batch, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_put(NULL, "k", 1, "v", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_delete(NULL, "k", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_writebatch_count(batch, &count));
  CHECK(count == 3);
  CHECK_CODE(lightning_writebatch_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_writebatch_count(batch, NULL), LIGHTNING_INVALID_ARGUMENT);

  CHECK_OK(lightning_db_write(db, NULL, batch, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_db_get_ex(db, NULL, "k2", 2, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "v2"));
  lightning_free(value);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "gone", 4, &value, &len, NULL), LIGHTNING_NOT_FOUND);
  /* The batch is not consumed by write. */
  CHECK_OK(lightning_writebatch_count(batch, &count));
  CHECK(count == 3);

  CHECK_OK(lightning_writebatch_clear(batch));
  CHECK_OK(lightning_writebatch_count(batch, &count));
  CHECK(count == 0);
  CHECK_CODE(lightning_writebatch_clear(NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_db_write(db, NULL, batch, NULL)); /* empty: a no-op */
  CHECK_CODE(lightning_db_write(db, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_write(NULL, NULL, batch, NULL), LIGHTNING_INVALID_ARGUMENT);

  lightning_writebatch_destroy(batch);
  lightning_writebatch_destroy(NULL);
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

/* Fills db with keys k0..k9 (value v<i>). */
static void put_ten(lightning_db_t* db) {
  char key[4], val[4];
  int i;
  for (i = 0; i < 10; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    snprintf(val, sizeof(val), "v%d", i);
    CHECK_OK(lightning_db_put(db, key, 2, val, 2));
  }
}

static void check_iterator_at(lightning_iterator_t* it, const char* key, const char* value) {
  const char* k = NULL;
  const char* v = NULL;
  size_t klen = 0, vlen = 0;
  CHECK(lightning_iterator_valid(it));
  CHECK_OK(lightning_iterator_key(it, &k, &klen));
  CHECK_OK(lightning_iterator_value(it, &v, &vlen));
  CHECK(bytes_eq(k, klen, key));
  if (value != NULL) CHECK(bytes_eq(v, vlen, value));
}

static void test_iterators(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_iterator_t* it = NULL;
  const char* k = NULL;
  size_t klen = 0;
  char* err = NULL;
  int n = 0;

  put_ten(db);
  CHECK_OK(lightning_db_iterator_create(db, NULL, &it, &err));
  CHECK(it != NULL && err == NULL);
  CHECK(!lightning_iterator_valid(it)); /* unpositioned */
  CHECK_CODE(lightning_iterator_key(it, &k, &klen), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_next(it, &err), LIGHTNING_INVALID_ARGUMENT);
  lightning_free(err);
  CHECK_CODE(lightning_iterator_prev(it, NULL), LIGHTNING_INVALID_ARGUMENT);

  /* Forward over everything. */
  CHECK_OK(lightning_iterator_seek_to_first(it, NULL));
  while (lightning_iterator_valid(it)) {
    n++;
    CHECK_OK(lightning_iterator_next(it, NULL));
  }
  CHECK(n == 10);
  CHECK_OK(lightning_iterator_status(it, &err));
  CHECK(err == NULL);

  CHECK_OK(lightning_iterator_seek_to_last(it, NULL));
  check_iterator_at(it, "k9", "v9");
  CHECK_OK(lightning_iterator_prev(it, NULL));
  check_iterator_at(it, "k8", "v8");
  CHECK_OK(lightning_iterator_seek(it, "k45", 3, NULL));
  check_iterator_at(it, "k5", "v5");
  CHECK_OK(lightning_iterator_seek_for_prev(it, "k45", 3, NULL));
  check_iterator_at(it, "k4", "v4");
  CHECK_OK(lightning_iterator_next(it, NULL));
  check_iterator_at(it, "k5", NULL);
  CHECK_OK(lightning_iterator_seek(it, "z", 1, NULL));
  CHECK(!lightning_iterator_valid(it));

  /* The iterator reads as of its creation. */
  CHECK_OK(lightning_db_put(db, "k00", 3, "new", 3));
  CHECK_OK(lightning_iterator_seek(it, "k0", 2, NULL));
  CHECK_OK(lightning_iterator_next(it, NULL));
  check_iterator_at(it, "k1", "v1");

  /* Bad arguments. */
  CHECK_CODE(lightning_iterator_seek(it, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_seek_for_prev(it, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_key(it, NULL, &klen), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_value(it, &k, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_seek_to_first(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_seek_to_last(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_seek(NULL, "a", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_seek_for_prev(NULL, "a", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_next(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_prev(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_key(NULL, &k, &klen), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_value(NULL, &k, &klen), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_iterator_status(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(!lightning_iterator_valid(NULL));
  CHECK_CODE(lightning_db_iterator_create(db, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  {
    lightning_iterator_t* none = (lightning_iterator_t*)&n;
    CHECK_CODE(lightning_db_iterator_create(NULL, NULL, &none, NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK(none == NULL);
  }
  lightning_iterator_destroy(it);
  lightning_iterator_destroy(NULL);
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

static void test_snapshots(void) {
  lightning_options_t* options;
  lightning_options_t* other_options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_db_t* other = open_memory_db(&other_options);
  lightning_snapshot_t* snap = NULL;
  lightning_readoptions_t* ro = lightning_readoptions_create();
  lightning_iterator_t* it = NULL;
  uint64_t seq = 0, seq2 = 0;
  char* value = NULL;
  size_t len = 0;
  char* err = NULL;

  CHECK_OK(lightning_db_put(db, "k", 1, "old", 3));
  CHECK_OK(lightning_db_snapshot_create(db, &snap, &err));
  CHECK(snap != NULL && err == NULL);
  CHECK_OK(lightning_snapshot_sequence(snap, &seq));
  CHECK(seq >= 1);
  CHECK_OK(lightning_db_put(db, "k", 1, "new", 3));
  CHECK_OK(lightning_db_put(db, "k2", 2, "later", 5));
  CHECK_OK(lightning_readoptions_set_snapshot(ro, snap));

  CHECK_OK(lightning_db_get_ex(db, ro, "k", 1, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "old"));
  lightning_free(value);
  CHECK_CODE(lightning_db_get_ex(db, ro, "k2", 2, &value, &len, NULL), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_db_iterator_create(db, ro, &it, NULL));
  CHECK_OK(lightning_iterator_seek_to_last(it, NULL));
  check_iterator_at(it, "k", "old");
  lightning_iterator_destroy(it);

  /* A snapshot of another database: INVALID_ARGUMENT. */
  CHECK_CODE(lightning_db_get_ex(other, ro, "k", 1, &value, &len, &err), LIGHTNING_INVALID_ARGUMENT);
  lightning_free(err);
  it = (lightning_iterator_t*)&seq;
  CHECK_CODE(lightning_db_iterator_create(other, ro, &it, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(it == NULL);

  CHECK_CODE(lightning_snapshot_sequence(NULL, &seq2), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_snapshot_sequence(snap, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_snapshot_create(db, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_snapshot_destroy(snap);
  CHECK_CODE(lightning_db_snapshot_create(NULL, &snap, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(snap == NULL);

  /* Outliving the database: the snapshot stays a value; reads of the other
   * database still refuse it. */
  CHECK_OK(lightning_db_snapshot_create(db, &snap, NULL));
  CHECK_OK(lightning_readoptions_set_snapshot(ro, snap));
  lightning_db_destroy(db);
  CHECK_OK(lightning_snapshot_sequence(snap, &seq2));
  CHECK(seq2 > seq);
  CHECK_CODE(lightning_db_get_ex(other, ro, "k", 1, &value, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_snapshot_destroy(snap);
  lightning_snapshot_destroy(NULL);

  lightning_readoptions_destroy(ro);
  lightning_db_destroy(other);
  lightning_options_destroy(options);
  lightning_options_destroy(other_options);
}

/* Collects a scan's keys into out ("k1,k2,"), returns the final code. */
static int collect_scan(lightning_scan_t* scan, char* out, size_t size) {
  int has_entry = 0;
  int rc;
  const char* key = NULL;
  size_t key_len = 0;
  out[0] = '\0';
  for (;;) {
    rc = lightning_scan_next(scan, &has_entry, &key, &key_len, NULL, NULL, NULL);
    if (rc != LIGHTNING_OK || !has_entry) return rc;
    strncat(out, key, key_len < size - strlen(out) - 2 ? key_len : 0);
    strcat(out, ",");
  }
}

static void test_scans(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_scan_t* scan = NULL;
  char keys[256];
  char* err = NULL;
  int has_entry = 1;
  const char* key;
  const char* value;
  size_t key_len, value_len;

  put_ten(db);
  CHECK_OK(lightning_db_put(db, "p:a", 3, "1", 1));
  CHECK_OK(lightning_db_put(db, "p:b", 3, "2", 1));

  CHECK_OK(lightning_db_scan_create(db, NULL, "k3", 2, "k6", 2, NULL, 0, 0, 0, &scan, &err));
  CHECK(err == NULL);
  CHECK_OK(collect_scan(scan, keys, sizeof(keys)));
  CHECK(strcmp(keys, "k3,k4,k5,") == 0);
  /* After the end it stays ended. */
  CHECK_OK(lightning_scan_next(scan, &has_entry, NULL, NULL, NULL, NULL, NULL));
  CHECK(has_entry == 0);
  lightning_scan_destroy(scan);

  CHECK_OK(lightning_db_scan_create(db, NULL, NULL, 0, "k3", 2, NULL, 0, 1, 2, &scan, NULL));
  CHECK_OK(collect_scan(scan, keys, sizeof(keys)));
  CHECK(strcmp(keys, "k2,k1,") == 0);
  lightning_scan_destroy(scan);

  CHECK_OK(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, "p:", 2, 0, 0, &scan, NULL));
  CHECK_OK(lightning_scan_next(scan, &has_entry, &key, &key_len, &value, &value_len, NULL));
  CHECK(has_entry == 1 && bytes_eq(key, key_len, "p:a") && bytes_eq(value, value_len, "1"));
  CHECK_OK(collect_scan(scan, keys, sizeof(keys)));
  CHECK(strcmp(keys, "p:b,") == 0);
  lightning_scan_destroy(scan);

  CHECK_CODE(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, NULL, 2, 0, 0, &scan, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK(scan == NULL);
  CHECK_CODE(lightning_db_scan_create(NULL, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_scan_next(NULL, &has_entry, NULL, NULL, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan, NULL));
  CHECK_CODE(lightning_scan_next(scan, NULL, NULL, NULL, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_scan_destroy(scan);
  lightning_scan_destroy(NULL);

  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

static void test_transactions(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_transaction_t* t1 = NULL;
  lightning_transaction_t* t2 = NULL;
  lightning_iterator_t* it = NULL;
  lightning_scan_t* scan = NULL;
  char* value = NULL;
  size_t len = 0;
  char* err = NULL;
  uint64_t seq = 0;
  char keys[128];

  CHECK_OK(lightning_db_put(db, "x", 1, "0", 1));
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &t1, &err));
  CHECK(t1 != NULL && err == NULL);
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &t2, NULL));
  CHECK_OK(lightning_transaction_snapshot_sequence(t1, &seq));
  CHECK(seq >= 1);

  /* Own writes are visible inside, not outside. */
  CHECK_OK(lightning_transaction_put(t1, "x", 1, "1", 1, NULL));
  CHECK_OK(lightning_transaction_put(t1, "y", 1, "new", 3, NULL));
  CHECK_OK(lightning_transaction_get(t1, "x", 1, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "1"));
  lightning_free(value);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "y", 1, &value, &len, NULL), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_transaction_delete(t1, "y", 1, NULL));
  CHECK_CODE(lightning_transaction_get(t1, "y", 1, &value, &len, &err), LIGHTNING_NOT_FOUND);
  lightning_free(err);
  CHECK_OK(lightning_transaction_put(t1, "z", 1, "zz", 2, NULL));

  /* Iterator and scan over the merged view. */
  CHECK_OK(lightning_transaction_iterator_create(t1, &it, NULL));
  CHECK_OK(lightning_iterator_seek_to_first(it, NULL));
  check_iterator_at(it, "x", "1");
  CHECK_OK(lightning_iterator_next(it, NULL));
  check_iterator_at(it, "z", "zz");
  lightning_iterator_destroy(it);
  CHECK_OK(lightning_transaction_scan_create(t1, NULL, 0, NULL, 0, NULL, 0, 1, 0, &scan, NULL));
  CHECK_OK(collect_scan(scan, keys, sizeof(keys)));
  CHECK(strcmp(keys, "z,x,") == 0);
  lightning_scan_destroy(scan);

  /* t2 writes x too: the first committer wins, the second gets CONFLICT. */
  CHECK_OK(lightning_transaction_put(t2, "x", 1, "2", 1, NULL));
  CHECK_OK(lightning_transaction_commit(t1, &err));
  CHECK(err == NULL);
  CHECK_CODE(lightning_transaction_commit(t2, &err), LIGHTNING_CONFLICT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_OK(lightning_db_get_ex(db, NULL, "x", 1, &value, &len, NULL));
  CHECK(bytes_eq(value, len, "1"));
  lightning_free(value);

  /* Finished: CLOSED from everything. */
  CHECK_CODE(lightning_transaction_put(t1, "x", 1, "3", 1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_get(t2, "x", 1, &value, &len, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_commit(t1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_abort(t2, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_delete(t1, "x", 1, NULL), LIGHTNING_CLOSED);
  lightning_transaction_destroy(t1);
  lightning_transaction_destroy(t2);

  /* Abort discards. */
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &t1, NULL));
  CHECK_OK(lightning_transaction_put(t1, "aborted", 7, "v", 1, NULL));
  CHECK_OK(lightning_transaction_abort(t1, NULL));
  CHECK_CODE(lightning_db_get_ex(db, NULL, "aborted", 7, &value, &len, NULL), LIGHTNING_NOT_FOUND);
  lightning_transaction_destroy(t1);

  /* Serializable: write skew (each reads what the other writes) conflicts. */
  CHECK_OK(lightning_db_put(db, "a", 1, "1", 1));
  CHECK_OK(lightning_db_put(db, "b", 1, "1", 1));
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SERIALIZABLE, &t1, NULL));
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SERIALIZABLE, &t2, NULL));
  CHECK_OK(lightning_transaction_get(t1, "b", 1, &value, &len, NULL));
  lightning_free(value);
  CHECK_OK(lightning_transaction_get(t2, "a", 1, &value, &len, NULL));
  lightning_free(value);
  CHECK_OK(lightning_transaction_put(t1, "a", 1, "0", 1, NULL));
  CHECK_OK(lightning_transaction_put(t2, "b", 1, "0", 1, NULL));
  CHECK_OK(lightning_transaction_commit(t1, NULL));
  CHECK_CODE(lightning_transaction_commit(t2, NULL), LIGHTNING_CONFLICT);
  lightning_transaction_destroy(t1);
  lightning_transaction_destroy(t2);

  /* Destroying an active transaction aborts it. */
  CHECK_OK(lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &t1, NULL));
  CHECK_OK(lightning_transaction_put(t1, "dropped", 7, "v", 1, NULL));
  lightning_transaction_destroy(t1);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "dropped", 7, &value, &len, NULL), LIGHTNING_NOT_FOUND);

  /* Bad arguments. */
  CHECK_CODE(lightning_transaction_begin(db, NULL, 7, &t1, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(t1 == NULL && err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_transaction_begin(NULL, NULL, 0, &t1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_begin(db, NULL, 0, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_get(NULL, "x", 1, &value, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_put(NULL, "x", 1, "v", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_delete(NULL, "x", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_commit(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_abort(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_snapshot_sequence(NULL, &seq), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_iterator_create(NULL, &it, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_scan_create(NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_transaction_begin(db, NULL, 0, &t1, NULL));
  CHECK_CODE(lightning_transaction_get(t1, "x", 1, NULL, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_get(t1, NULL, 1, &value, &len, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_put(t1, "", 0, "v", 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_put(t1, "x", 1, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_delete(t1, NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_snapshot_sequence(t1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_iterator_create(t1, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_transaction_scan_create(t1, NULL, 0, NULL, 0, NULL, 1, 0, 0, &scan, NULL),
             LIGHTNING_INVALID_ARGUMENT);
  lightning_transaction_destroy(t1);
  lightning_transaction_destroy(NULL);

  lightning_db_destroy(db);
  lightning_options_destroy(options);

  /* The active-transaction limit: BUSY. */
  {
    lightning_options_t* limited = lightning_options_create();
    CHECK_OK(lightning_options_set_in_memory(limited, 1));
    CHECK_OK(lightning_options_set_max_active_transactions(limited, 1));
    CHECK_OK(lightning_db_open("/limited", limited, &db, NULL));
    CHECK_OK(lightning_transaction_begin(db, NULL, 0, &t1, NULL));
    CHECK_CODE(lightning_transaction_begin(db, NULL, 0, &t2, &err), LIGHTNING_BUSY);
    CHECK(t2 == NULL && err != NULL);
    lightning_free(err);
    lightning_transaction_destroy(t1);
    CHECK_OK(lightning_transaction_begin(db, NULL, 0, &t2, NULL));
    lightning_transaction_destroy(t2);
    lightning_db_destroy(db);
    lightning_options_destroy(limited);
  }
}

/* A comparator ordering keys in reverse bytewise order. */
static int g_destructor_calls = 0;

static int reverse_compare(void* state, const char* a, size_t a_len, const char* b, size_t b_len) {
  size_t n = a_len < b_len ? a_len : b_len;
  int r = n == 0 ? 0 : memcmp(a, b, n);
  (void)state;
  if (r == 0) r = a_len < b_len ? -1 : (a_len > b_len ? 1 : 0);
  return -r;
}

static void count_destructor(void* state) {
  CHECK(state == (void*)&g_destructor_calls);
  g_destructor_calls++;
}

static void test_comparator(void) {
  lightning_comparator_t* cmp =
      lightning_comparator_create(&g_destructor_calls, count_destructor, reverse_compare, "test.Reverse.v1");
  lightning_comparator_t* other = lightning_comparator_create(NULL, NULL, reverse_compare, "test.Other.v1");
  lightning_options_t* options = lightning_options_create();
  lightning_db_t* db = NULL;
  lightning_iterator_t* it = NULL;
  char path[512];
  char* err = NULL;

  CHECK(cmp != NULL && other != NULL);
  CHECK(lightning_comparator_create(NULL, NULL, NULL, "x") == NULL);
  CHECK(lightning_comparator_create(NULL, NULL, reverse_compare, NULL) == NULL);
  CHECK(lightning_comparator_create(NULL, NULL, reverse_compare, "") == NULL);

  fresh_path(path, sizeof(path), "comparator");
  CHECK_OK(lightning_options_set_comparator(options, cmp));
  CHECK_OK(lightning_db_open(path, options, &db, NULL));
  /* The caller's and the options' references may go: the database holds one. */
  lightning_comparator_destroy(cmp);
  lightning_options_destroy(options);
  CHECK(g_destructor_calls == 0);

  put_ten(db);
  CHECK_OK(lightning_db_flush(db, NULL)); /* the order holds in tables too */
  CHECK_OK(lightning_db_put(db, "k10", 3, "x", 1));
  CHECK_OK(lightning_db_iterator_create(db, NULL, &it, NULL));
  CHECK_OK(lightning_iterator_seek_to_first(it, NULL));
  check_iterator_at(it, "k9", "v9");
  CHECK_OK(lightning_iterator_seek_to_last(it, NULL));
  check_iterator_at(it, "k0", "v0");
  CHECK_OK(lightning_iterator_prev(it, NULL));
  check_iterator_at(it, "k1", "v1");
  CHECK_OK(lightning_iterator_prev(it, NULL));
  check_iterator_at(it, "k10", "x");
  lightning_iterator_destroy(it);
  CHECK(g_destructor_calls == 0);
  lightning_db_destroy(db);
  /* The last reference went with the database. */
  CHECK(g_destructor_calls == 1);

  /* A comparator of another name is refused; bytewise too. */
  options = lightning_options_create();
  CHECK_OK(lightning_options_set_comparator(options, other));
  CHECK_CODE(lightning_db_open(path, options, &db, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(db == NULL && err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_open(path, NULL, &db, NULL), LIGHTNING_INVALID_ARGUMENT);
  /* Replacing the options' comparator drops the old reference. */
  CHECK_OK(lightning_options_set_comparator(options, NULL));
  lightning_options_destroy(options);
  lightning_comparator_destroy(other);
  lightning_comparator_destroy(NULL);
}

static void test_stats_and_maintenance(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_stats_t* stats = NULL;
  uint64_t value = 0;
  size_t count = 0, i;
  const char* name = NULL;
  int saw_flushes = 0;
  char* err = NULL;

  put_ten(db);
  CHECK_OK(lightning_db_flush(db, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_db_compact(db, NULL));
  CHECK_OK(lightning_db_stats(db, &stats, &err));
  CHECK(stats != NULL && err == NULL);
  CHECK_OK(lightning_stats_get(stats, "flushes", &value));
  CHECK(value >= 1);
  CHECK_OK(lightning_stats_get(stats, "tree_entries", &value));
  CHECK(value == 10);
  CHECK_OK(lightning_stats_get(stats, "level0.files", &value));
  CHECK(value == 0); /* compacted into the tree */
  CHECK_CODE(lightning_stats_get(stats, "no_such_stat", &value), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_stats_count(stats, &count));
  CHECK(count > 30);
  for (i = 0; i < count; i++) {
    CHECK_OK(lightning_stats_entry(stats, i, &name, &value));
    if (strcmp(name, "flushes") == 0) saw_flushes = 1;
  }
  CHECK(saw_flushes);
  CHECK_CODE(lightning_stats_entry(stats, count, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_entry(NULL, 0, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_entry(stats, 0, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_get(NULL, "flushes", &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_get(stats, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_get(stats, "flushes", NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_stats_count(stats, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_stats(db, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_stats_destroy(stats);
  CHECK_CODE(lightning_db_stats(NULL, &stats, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK(stats == NULL);
  CHECK_CODE(lightning_db_flush(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_compact(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);

  /* Stats are a copy: they outlive the database. */
  CHECK_OK(lightning_db_stats(db, &stats, NULL));
  lightning_db_destroy(db);
  CHECK_OK(lightning_stats_get(stats, "flushes", &value));
  lightning_stats_destroy(stats);
  lightning_stats_destroy(NULL);
  lightning_options_destroy(options);
}

/* ---- checkpoints, verification, backups */

/* Flips one byte in the middle of the first file in dir whose name ends with
 * suffix; 1 if it found one. */
static int flip_byte_in(const char* dir, const char* suffix) {
  DIR* d = opendir(dir);
  struct dirent* e;
  int done = 0;
  if (d == NULL) return 0;
  while (!done && (e = readdir(d)) != NULL) {
    const size_t n = strlen(e->d_name), m = strlen(suffix);
    char path[768];
    FILE* f;
    long size;
    int c;
    if (n < m || strcmp(e->d_name + n - m, suffix) != 0) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    f = fopen(path, "r+b");
    if (f == NULL) continue;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 && fseek(f, size / 2, SEEK_SET) == 0 &&
        (c = fgetc(f)) != EOF && fseek(f, size / 2, SEEK_SET) == 0 && fputc(c ^ 0x5a, f) != EOF) {
      done = 1;
    }
    fclose(f);
  }
  closedir(d);
  return done;
}

/* The value of key in db equals expected (NULL: absent). */
static void check_value(lightning_db_t* db, const char* key, const char* expected) {
  char* value = NULL;
  size_t len = 0;
  const int rc = lightning_db_get_ex(db, NULL, key, strlen(key), &value, &len, NULL);
  if (expected == NULL) {
    CHECK_CODE(rc, LIGHTNING_NOT_FOUND);
  } else {
    CHECK_OK(rc);
    CHECK(bytes_eq(value, len, expected));
  }
  lightning_free(value);
}

static void test_checkpoint(void) {
  char path[512], copy[512], full[512];
  lightning_db_t* db = NULL;
  lightning_db_t* db2 = NULL;
  char* err = NULL;

  fresh_path(path, sizeof(path), "ckpt_src");
  fresh_path(copy, sizeof(copy), "ckpt_copy");
  CHECK_OK(lightning_db_open(path, NULL, &db, NULL));
  put_ten(db);
  CHECK_OK(lightning_db_checkpoint(db, copy, &err));
  CHECK(err == NULL);
  /* Later writes are not in the copy. */
  CHECK_OK(lightning_db_put(db, "later", 5, "x", 1));
  CHECK_OK(lightning_db_open(copy, NULL, &db2, NULL));
  check_value(db2, "k0", "v0");
  check_value(db2, "k9", "v9");
  check_value(db2, "later", NULL);
  lightning_db_destroy(db2);

  /* A non-empty target is refused, with a message. */
  CHECK_CODE(lightning_db_checkpoint(db, copy, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL && err[0] != '\0');
  lightning_free(err);
  /* An empty existing directory is fine. */
  fresh_path(full, sizeof(full), "ckpt_empty");
  CHECK(mkdir(full, 0755) == 0);
  CHECK_OK(lightning_db_checkpoint(db, full, NULL));
  CHECK_OK(lightning_db_open(full, NULL, &db2, NULL));
  check_value(db2, "later", "x");
  lightning_db_destroy(db2);

  CHECK_CODE(lightning_db_checkpoint(NULL, copy, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_checkpoint(db, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_db_close(db, NULL));
  fresh_path(full, sizeof(full), "ckpt_after_close");
  CHECK_CODE(lightning_db_checkpoint(db, full, NULL), LIGHTNING_CLOSED);
  lightning_db_destroy(db);

  /* In memory: the copy goes to the options' file system. */
  {
    lightning_options_t* options;
    db = open_memory_db(&options);
    put_ten(db);
    CHECK_OK(lightning_db_checkpoint(db, "/memcopy", NULL));
    CHECK_OK(lightning_db_open("/memcopy", options, &db2, NULL));
    check_value(db2, "k5", "v5");
    lightning_db_destroy(db2);
    lightning_db_destroy(db);
    lightning_options_destroy(options);
  }
}

static void test_verify(void) {
  char path[512], bad[512];
  lightning_db_t* db = NULL;
  lightning_verify_report_t* report = lightning_verify_report_create();
  lightning_verify_report_t* other = lightning_verify_report_create();
  uint64_t value = 0;
  size_t count = 0, i;
  const char* name = NULL;
  int saw_tree_entries = 0;
  char* err = NULL;

  CHECK(report != NULL && other != NULL);
  /* A fresh report reads all zeros. */
  CHECK_OK(lightning_verify_report_get(report, "table_files", &value));
  CHECK(value == 0);

  fresh_path(path, sizeof(path), "verify");
  CHECK_OK(lightning_db_open(path, NULL, &db, NULL));
  put_ten(db);
  CHECK_OK(lightning_db_compact(db, NULL)); /* ten entries in the tree */
  CHECK_OK(lightning_db_put(db, "a", 1, "1", 1));
  CHECK_OK(lightning_db_flush(db, NULL)); /* one table */
  CHECK_OK(lightning_db_put(db, "b", 1, "2", 1)); /* one log record */

  CHECK_OK(lightning_db_verify(db, report, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_verify_report_get(report, "tree_entries", &value));
  CHECK(value == 10);
  CHECK_OK(lightning_verify_report_get(report, "tree_epoch", &value));
  CHECK(value >= 1);
  CHECK_OK(lightning_verify_report_get(report, "table_files", &value));
  CHECK(value == 1);
  CHECK_OK(lightning_verify_report_get(report, "table_entries", &value));
  CHECK(value == 1);
  CHECK_OK(lightning_verify_report_get(report, "wal_records", &value));
  CHECK(value >= 1);
  CHECK_OK(lightning_verify_report_get(report, "manifest_bytes", &value));
  CHECK(value > 0);
  CHECK_CODE(lightning_verify_report_get(report, "no_such_count", &value), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_verify_report_count(report, &count));
  CHECK(count == 12);
  for (i = 0; i < count; i++) {
    uint64_t by_name = 0;
    CHECK_OK(lightning_verify_report_entry(report, i, &name, &value));
    CHECK_OK(lightning_verify_report_get(report, name, &by_name));
    CHECK(by_name == value);
    if (strcmp(name, "tree_entries") == 0) saw_tree_entries = 1;
  }
  CHECK(saw_tree_entries);
  CHECK_OK(lightning_db_verify(db, NULL, NULL)); /* no report wanted */

  /* Argument errors. */
  CHECK_CODE(lightning_verify_report_entry(report, count, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_entry(NULL, 0, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_entry(report, 0, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_entry(report, 0, &name, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_get(NULL, "wal_files", &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_get(report, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_get(report, "wal_files", NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_verify_report_count(report, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_db_verify(NULL, report, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_verify_database(NULL, NULL, report, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);

  /* Offline: refused while open; after close the same counts. */
  CHECK_CODE(lightning_verify_database(path, NULL, other, NULL), LIGHTNING_BUSY);
  CHECK_OK(lightning_db_close(db, NULL));
  CHECK_CODE(lightning_db_verify(db, report, NULL), LIGHTNING_CLOSED);
  lightning_db_destroy(db);
  CHECK_OK(lightning_verify_database(path, NULL, other, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_verify_report_get(other, "tree_entries", &value));
  CHECK(value == 10);
  CHECK_OK(lightning_verify_database(path, NULL, NULL, NULL));
  fresh_path(bad, sizeof(bad), "verify_missing");
  CHECK_CODE(lightning_verify_database(bad, NULL, other, NULL), LIGHTNING_NOT_FOUND);
  /* The report was reset by the failed call. */
  CHECK_OK(lightning_verify_report_get(other, "tree_entries", &value));
  CHECK(value == 0);

  /* A damaged table: CORRUPTION naming it, online and offline. */
  fresh_path(bad, sizeof(bad), "verify_bad");
  CHECK_OK(lightning_db_open(bad, NULL, &db, NULL));
  put_ten(db);
  CHECK_OK(lightning_db_flush(db, NULL));
  CHECK(flip_byte_in(bad, ".sst"));
  CHECK_CODE(lightning_db_verify(db, report, &err), LIGHTNING_CORRUPTION);
  CHECK(err != NULL && strstr(err, ".sst") != NULL);
  lightning_free(err);
  lightning_db_destroy(db);
  CHECK_CODE(lightning_verify_database(bad, NULL, report, &err), LIGHTNING_CORRUPTION);
  CHECK(err != NULL && strstr(err, ".sst") != NULL);
  lightning_free(err);

  /* In memory: the options name the file system to read. */
  {
    lightning_options_t* options;
    db = open_memory_db(&options);
    put_ten(db);
    CHECK_OK(lightning_db_close(db, NULL)); /* flushes the ten into a table */
    CHECK_OK(lightning_verify_database("/memdb", options, report, NULL));
    CHECK_OK(lightning_verify_report_get(report, "table_entries", &value));
    CHECK(value == 10);
    CHECK_CODE(lightning_verify_database("/memdb", NULL, report, NULL), LIGHTNING_NOT_FOUND);
    lightning_db_destroy(db);
    lightning_options_destroy(options);
  }
  lightning_verify_report_destroy(report);
  lightning_verify_report_destroy(other);
  lightning_verify_report_destroy(NULL);
}

static void test_repair(void) {
  char path[512], missing[512], lost[600];
  lightning_db_t* db = NULL;
  lightning_repair_report_t* report = lightning_repair_report_create();
  uint64_t value = 0, dropped_tables = 0, salvaged_tables = 0;
  size_t count = 0, i;
  const char* name = NULL;
  const char* line = NULL;
  char* err = NULL;
  struct stat st;

  CHECK(report != NULL);
  fresh_path(path, sizeof(path), "repair");
  CHECK_OK(lightning_db_open(path, NULL, &db, NULL));
  put_ten(db);
  CHECK_OK(lightning_db_flush(db, NULL));
  /* Open: refused. */
  CHECK_CODE(lightning_repair_database(path, NULL, report, &err), LIGHTNING_BUSY);
  CHECK(err != NULL);
  lightning_free(err);
  lightning_db_destroy(db);

  /* Intact: nothing changes, the table is kept. */
  CHECK_OK(lightning_repair_database(path, NULL, report, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_repair_report_get(report, "tables_kept", &value));
  CHECK(value == 1);
  CHECK_OK(lightning_repair_report_get(report, "manifest_rebuilt", &value));
  CHECK(value == 0);
  CHECK_OK(lightning_repair_report_dropped_count(report, &count));
  CHECK(count == 0);

  /* A damaged table: verification fails, repair drops or salvages it, moves
   * the original into lost/, says what it dropped; then the database
   * verifies and opens, and returns no damaged data. */
  CHECK(flip_byte_in(path, ".sst"));
  CHECK_CODE(lightning_verify_database(path, NULL, NULL, NULL), LIGHTNING_CORRUPTION);
  CHECK_OK(lightning_repair_database(path, NULL, report, NULL));
  CHECK_OK(lightning_repair_report_get(report, "tables_dropped", &dropped_tables));
  CHECK_OK(lightning_repair_report_get(report, "tables_salvaged", &salvaged_tables));
  CHECK(dropped_tables + salvaged_tables == 1);
  CHECK_OK(lightning_repair_report_get(report, "files_moved_to_lost", &value));
  CHECK(value >= 1);
  snprintf(lost, sizeof(lost), "%s/lost", path);
  CHECK(stat(lost, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK_OK(lightning_repair_report_dropped_count(report, &count));
  CHECK(count >= 1);
  for (i = 0; i < count; i++) {
    CHECK_OK(lightning_repair_report_dropped(report, i, &line));
    CHECK(line != NULL && line[0] != '\0');
  }
  CHECK_CODE(lightning_repair_report_dropped(report, count, &line), LIGHTNING_INVALID_ARGUMENT);
  CHECK_OK(lightning_repair_report_count(report, &count));
  CHECK(count == 11);
  for (i = 0; i < count; i++) {
    uint64_t by_name = 0;
    CHECK_OK(lightning_repair_report_entry(report, i, &name, &value));
    CHECK_OK(lightning_repair_report_get(report, name, &by_name));
    CHECK(by_name == value);
  }
  CHECK_OK(lightning_verify_database(path, NULL, NULL, NULL));
  CHECK_OK(lightning_db_open(path, NULL, &db, NULL));
  {
    /* Every key is either gone or has its own value. */
    char key[4], expected[4];
    for (i = 0; i < 10; i++) {
      char* v = NULL;
      size_t len = 0;
      int rc;
      snprintf(key, sizeof(key), "k%d", (int)i);
      snprintf(expected, sizeof(expected), "v%d", (int)i);
      rc = lightning_db_get_ex(db, NULL, key, 2, &v, &len, NULL);
      CHECK(rc == LIGHTNING_NOT_FOUND || (rc == LIGHTNING_OK && bytes_eq(v, len, expected)));
      lightning_free(v);
    }
  }
  lightning_db_destroy(db);

  /* Argument and path errors; the report is reset by each call. */
  fresh_path(missing, sizeof(missing), "repair_missing");
  CHECK(mkdir(missing, 0755) == 0);
  CHECK_CODE(lightning_repair_database(missing, NULL, report, NULL), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_repair_report_dropped_count(report, &count));
  CHECK(count == 0);
  CHECK_CODE(lightning_repair_database(NULL, NULL, report, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_OK(lightning_repair_database(path, NULL, NULL, NULL)); /* no report wanted */
  CHECK_CODE(lightning_repair_report_get(report, "no_such_field", &value), LIGHTNING_NOT_FOUND);
  CHECK_CODE(lightning_repair_report_get(NULL, "tables_kept", &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_get(report, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_get(report, "tables_kept", NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_count(report, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_entry(report, 11, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_entry(NULL, 0, &name, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_entry(report, 0, NULL, &value), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_dropped_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_dropped_count(report, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_dropped(NULL, 0, &line), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_repair_report_dropped(report, 0, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_repair_report_destroy(report);
  lightning_repair_report_destroy(NULL);
}

static void test_backups(void) {
  char path[512], root[512], target[512], file[768];
  lightning_db_t* db = NULL;
  lightning_db_t* restored = NULL;
  lightning_backup_engine_t* engine = NULL;
  lightning_backup_engine_t* engine2 = NULL;
  lightning_backup_list_t* list = NULL;
  size_t count = 0;
  uint64_t id1 = 0, id2 = 0, id = 0, timestamp = 0, size = 0, files = 0, seq1 = 0, seq2 = 0;
  char* err = NULL;

  fresh_path(path, sizeof(path), "backup_db");
  fresh_path(root, sizeof(root), "backup_root");
  CHECK_OK(lightning_db_open(path, NULL, &db, NULL));
  CHECK_OK(lightning_backup_engine_open(root, NULL, &engine, &err));
  CHECK(engine != NULL && err == NULL);

  put_ten(db);
  CHECK_OK(lightning_backup_engine_create_backup(engine, db, &id1, &err));
  CHECK(err == NULL && id1 == 1);
  CHECK_OK(lightning_db_put(db, "k0", 2, "changed", 7));
  CHECK_OK(lightning_db_put(db, "new", 3, "n", 1));
  CHECK_OK(lightning_backup_engine_create_backup(engine, db, &id2, NULL));
  CHECK(id2 == 2);
  CHECK_OK(lightning_backup_engine_create_backup(engine, db, NULL, NULL)); /* id not wanted: 3 */

  CHECK_OK(lightning_backup_engine_list_backups(engine, &list, &err));
  CHECK(list != NULL && err == NULL);
  CHECK_OK(lightning_backup_list_count(list, &count));
  CHECK(count == 3);
  CHECK_OK(lightning_backup_list_get(list, 0, &id, &timestamp, &size, &files, &seq1));
  CHECK(id == id1 && timestamp > 1600000000u && size > 0 && files >= 2 && seq1 >= 10);
  CHECK_OK(lightning_backup_list_get(list, 1, &id, NULL, NULL, NULL, &seq2));
  CHECK(id == id2 && seq2 == seq1 + 2);
  CHECK_OK(lightning_backup_list_get(list, 2, NULL, NULL, NULL, NULL, NULL));
  CHECK_CODE(lightning_backup_list_get(list, 3, &id, NULL, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_list_get(NULL, 0, &id, NULL, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_list_count(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_list_count(list, NULL), LIGHTNING_INVALID_ARGUMENT);
  lightning_backup_list_destroy(list);
  list = NULL;

  CHECK_OK(lightning_backup_engine_verify_backup(engine, id1, &err));
  CHECK(err == NULL);
  CHECK_CODE(lightning_backup_engine_verify_backup(engine, 99, &err), LIGHTNING_NOT_FOUND);
  CHECK(err != NULL);
  lightning_free(err);

  /* Restore the first backup: exactly its data. */
  fresh_path(target, sizeof(target), "backup_target");
  CHECK_OK(lightning_backup_engine_restore(engine, id1, target, 0, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_db_open(target, NULL, &restored, NULL));
  check_value(restored, "k0", "v0");
  check_value(restored, "k9", "v9");
  check_value(restored, "new", NULL);
  /* Not over an open database, nor over files without overwrite. */
  CHECK_CODE(lightning_backup_engine_restore(engine, id2, target, 1, NULL), LIGHTNING_BUSY);
  lightning_db_destroy(restored);
  CHECK_CODE(lightning_backup_engine_restore(engine, id2, target, 0, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_OK(lightning_backup_engine_restore(engine, id2, target, 1, NULL));
  CHECK_OK(lightning_db_open(target, NULL, &restored, NULL));
  check_value(restored, "k0", "changed");
  check_value(restored, "new", "n");
  lightning_db_destroy(restored);
  CHECK_CODE(lightning_backup_engine_restore(engine, 99, target, 1, NULL), LIGHTNING_NOT_FOUND);

  /* One engine per root. */
  CHECK_CODE(lightning_backup_engine_open(root, NULL, &engine2, &err), LIGHTNING_BUSY);
  CHECK(engine2 == NULL && err != NULL);
  lightning_free(err);

  /* A damaged backup file is found by verify and refused by restore. */
  snprintf(file, sizeof(file), "%s/private/%llu", root, (unsigned long long)id2);
  CHECK(flip_byte_in(file, "MANIFEST"));
  CHECK_CODE(lightning_backup_engine_verify_backup(engine, id2, &err), LIGHTNING_CORRUPTION);
  CHECK(err != NULL && strstr(err, "MANIFEST") != NULL);
  lightning_free(err);
  fresh_path(target, sizeof(target), "backup_target2");
  CHECK_CODE(lightning_backup_engine_restore(engine, id2, target, 0, NULL), LIGHTNING_CORRUPTION);
  CHECK_OK(lightning_backup_engine_verify_backup(engine, id1, NULL));

  /* Delete and purge. */
  CHECK_OK(lightning_backup_engine_delete_backup(engine, id2, &err));
  CHECK(err == NULL);
  CHECK_CODE(lightning_backup_engine_delete_backup(engine, id2, NULL), LIGHTNING_NOT_FOUND);
  CHECK_OK(lightning_backup_engine_list_backups(engine, &list, NULL));
  CHECK_OK(lightning_backup_list_count(list, &count));
  CHECK(count == 2);
  CHECK_OK(lightning_backup_list_get(list, 1, &id, NULL, NULL, NULL, NULL));
  CHECK(id == 3);
  lightning_backup_list_destroy(list);
  CHECK_OK(lightning_backup_engine_purge_old_backups(engine, 1, NULL));
  CHECK_OK(lightning_backup_engine_list_backups(engine, &list, NULL));
  CHECK_OK(lightning_backup_list_count(list, &count));
  CHECK(count == 1);
  CHECK_OK(lightning_backup_list_get(list, 0, &id, NULL, NULL, NULL, NULL));
  CHECK(id == 3);
  lightning_backup_list_destroy(list);
  CHECK_OK(lightning_backup_engine_purge_old_backups(engine, 0, NULL));

  /* Argument errors. */
  CHECK_CODE(lightning_backup_engine_open(NULL, NULL, &engine2, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_open(root, NULL, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  id = 77;
  CHECK_CODE(lightning_backup_engine_create_backup(NULL, db, &id, &err), LIGHTNING_INVALID_ARGUMENT);
  CHECK(id == 0 && err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_backup_engine_create_backup(engine, NULL, &id, NULL), LIGHTNING_INVALID_ARGUMENT);
  list = NULL;
  CHECK_CODE(lightning_backup_engine_list_backups(NULL, &list, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_list_backups(engine, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_verify_backup(NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_delete_backup(NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_purge_old_backups(NULL, 1, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_restore(NULL, 1, target, 0, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_restore(engine, 1, NULL, 0, NULL), LIGHTNING_INVALID_ARGUMENT);
  CHECK_CODE(lightning_backup_engine_close(NULL, NULL), LIGHTNING_INVALID_ARGUMENT);

  /* A database on another file system (in memory) is refused. */
  {
    lightning_options_t* options;
    lightning_db_t* memdb = open_memory_db(&options);
    CHECK_CODE(lightning_backup_engine_create_backup(engine, memdb, &id, NULL), LIGHTNING_INVALID_ARGUMENT);
    lightning_db_destroy(memdb);
    lightning_options_destroy(options);
  }

  /* A closed database. */
  CHECK_OK(lightning_db_close(db, NULL));
  CHECK_CODE(lightning_backup_engine_create_backup(engine, db, &id, NULL), LIGHTNING_CLOSED);

  /* A closed engine: every call CLOSED; closing again OK; the lock is
   * released. A list made before outlives the engine. */
  CHECK_OK(lightning_backup_engine_list_backups(engine, &list, NULL));
  CHECK_OK(lightning_backup_engine_close(engine, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_backup_engine_close(engine, NULL));
  CHECK_CODE(lightning_backup_engine_create_backup(engine, db, &id, NULL), LIGHTNING_CLOSED);
  {
    lightning_backup_list_t* after_close = list; /* overwritten with NULL */
    CHECK_CODE(lightning_backup_engine_list_backups(engine, &after_close, &err), LIGHTNING_CLOSED);
    CHECK(after_close == NULL && err != NULL);
    lightning_free(err);
  }
  CHECK_CODE(lightning_backup_engine_verify_backup(engine, id1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_backup_engine_delete_backup(engine, id1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_backup_engine_purge_old_backups(engine, 0, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_backup_engine_restore(engine, id1, target, 1, NULL), LIGHTNING_CLOSED);
  lightning_db_destroy(db);
  CHECK_OK(lightning_backup_engine_open(root, NULL, &engine2, NULL));
  lightning_backup_engine_destroy(engine2); /* closes */
  lightning_backup_engine_destroy(engine);
  lightning_backup_engine_destroy(NULL);
  CHECK_OK(lightning_backup_list_count(list, &count)); /* made before the close: still readable */
  CHECK(count == 0);
  lightning_backup_list_destroy(list);
  lightning_backup_list_destroy(NULL);

  /* In memory: the engine on the database's options. */
  {
    lightning_options_t* options;
    lightning_db_t* memdb = open_memory_db(&options);
    put_ten(memdb);
    CHECK_OK(lightning_backup_engine_open("/membackups", options, &engine, NULL));
    CHECK_OK(lightning_backup_engine_create_backup(engine, memdb, &id, NULL));
    CHECK_OK(lightning_backup_engine_restore(engine, id, "/memrestored", 0, NULL));
    lightning_db_destroy(memdb);
    /* The engine keeps the file system: destroy the options first. */
    CHECK_OK(lightning_db_open("/memrestored", options, &restored, NULL));
    lightning_options_destroy(options);
    check_value(restored, "k3", "v3");
    lightning_db_destroy(restored);
    CHECK_OK(lightning_backup_engine_verify_backup(engine, id, NULL));
    lightning_backup_engine_destroy(engine);
  }
}

/* Close with everything still open, then use and destroy the leftovers in
 * every order: CLOSED, never a crash (ASan checks the frees). */
static void test_closed_handles(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_iterator_t* it = NULL;
  lightning_iterator_t* txn_it = NULL;
  lightning_scan_t* scan = NULL;
  lightning_scan_t* txn_scan = NULL;
  lightning_transaction_t* txn = NULL;
  lightning_transaction_t* txn2 = NULL;
  lightning_snapshot_t* snap = NULL;
  lightning_stats_t* stats = NULL;
  lightning_writebatch_t* batch = lightning_writebatch_create();
  lightning_readoptions_t* ro = lightning_readoptions_create();
  const char* key = NULL;
  size_t len = 0;
  char* value = NULL;
  char buffer[4];
  char* err = NULL;
  int has_entry = 1;
  uint64_t seq;
  const char* k1 = "k1";
  size_t k1_len = 2;
  int st = 0;

  put_ten(db);
  CHECK_OK(lightning_db_iterator_create(db, NULL, &it, NULL));
  CHECK_OK(lightning_iterator_seek_to_first(it, NULL));
  CHECK_OK(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan, NULL));
  CHECK_OK(lightning_scan_next(scan, &has_entry, &key, &len, NULL, NULL, NULL));
  CHECK_OK(lightning_transaction_begin(db, NULL, 0, &txn, NULL));
  CHECK_OK(lightning_transaction_put(txn, "t", 1, "v", 1, NULL));
  CHECK_OK(lightning_transaction_begin(db, NULL, 0, &txn2, NULL));
  CHECK_OK(lightning_transaction_iterator_create(txn, &txn_it, NULL));
  CHECK_OK(lightning_iterator_seek_to_first(txn_it, NULL));
  CHECK_OK(lightning_transaction_scan_create(txn, NULL, 0, NULL, 0, NULL, 0, 0, 0, &txn_scan, NULL));
  CHECK_OK(lightning_db_snapshot_create(db, &snap, NULL));
  CHECK_OK(lightning_readoptions_set_snapshot(ro, snap));

  CHECK_OK(lightning_db_close(db, &err));
  CHECK(err == NULL);
  CHECK_OK(lightning_db_close(db, NULL)); /* again: OK */

  /* The database. */
  CHECK_CODE(lightning_db_put(db, "k", 1, "v", 1), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_put_ex(db, NULL, "k", 1, "v", 1, &err), LIGHTNING_CLOSED);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_db_delete(db, "k", 1), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_delete_ex(db, NULL, "k", 1, NULL), LIGHTNING_CLOSED);
  CHECK(lightning_db_get(db, "k1", 2, &len) == NULL);
  CHECK_CODE(lightning_db_get_ex(db, NULL, "k1", 2, &value, &len, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_get_ex(db, ro, "k1", 2, &value, &len, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_get_into(db, NULL, "k1", 2, buffer, sizeof(buffer), &len, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_multi_get(db, NULL, 1, &k1, &k1_len, &value, &len, &st, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_write(db, NULL, batch, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_sync_wal(db, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_flush(db, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_compact(db, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_db_stats(db, &stats, NULL), LIGHTNING_CLOSED);
  {
    lightning_snapshot_t* snap2 = NULL;
    CHECK_CODE(lightning_db_snapshot_create(db, &snap2, NULL), LIGHTNING_CLOSED);
    CHECK(snap2 == NULL);
  }
  {
    lightning_iterator_t* it2 = NULL;
    lightning_scan_t* scan2 = NULL;
    lightning_transaction_t* txn3 = NULL;
    CHECK_CODE(lightning_db_iterator_create(db, NULL, &it2, NULL), LIGHTNING_CLOSED);
    CHECK_CODE(lightning_db_scan_create(db, NULL, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan2, NULL), LIGHTNING_CLOSED);
    CHECK_CODE(lightning_transaction_begin(db, NULL, 0, &txn3, NULL), LIGHTNING_CLOSED);
    CHECK(it2 == NULL && scan2 == NULL && txn3 == NULL);
  }

  /* Its iterators, scans and transactions. */
  CHECK(!lightning_iterator_valid(it));
  CHECK_CODE(lightning_iterator_seek_to_first(it, &err), LIGHTNING_CLOSED);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_iterator_seek_to_last(it, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_seek(it, "k", 1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_seek_for_prev(it, "k", 1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_next(it, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_prev(it, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_key(it, &key, &len), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_value(it, &key, &len), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_status(it, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_iterator_status(txn_it, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_scan_next(scan, &has_entry, &key, &len, NULL, NULL, NULL), LIGHTNING_CLOSED);
  CHECK(has_entry == 0);
  CHECK_CODE(lightning_scan_next(txn_scan, &has_entry, &key, &len, NULL, NULL, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_get(txn, "k1", 2, &value, &len, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_put(txn, "k1", 2, "v", 1, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_delete(txn, "k1", 2, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_commit(txn, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_abort(txn2, NULL), LIGHTNING_CLOSED);
  CHECK_CODE(lightning_transaction_snapshot_sequence(txn, &seq), LIGHTNING_CLOSED);
  {
    lightning_iterator_t* it3 = NULL;
    lightning_scan_t* scan3 = NULL;
    CHECK_CODE(lightning_transaction_iterator_create(txn, &it3, NULL), LIGHTNING_CLOSED);
    CHECK_CODE(lightning_transaction_scan_create(txn, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan3, NULL),
               LIGHTNING_CLOSED);
  }
  /* The snapshot is still a value. */
  CHECK_OK(lightning_snapshot_sequence(snap, &seq));

  /* Destroy in a mixed order: the database handle first, a transaction
   * before its iterator, a scan after everything. */
  lightning_db_destroy(db);
  lightning_transaction_destroy(txn);
  lightning_iterator_destroy(txn_it);
  lightning_iterator_destroy(it);
  lightning_transaction_destroy(txn2);
  lightning_scan_destroy(txn_scan);
  lightning_scan_destroy(scan);
  lightning_writebatch_destroy(batch);
  lightning_readoptions_destroy(ro);
  lightning_snapshot_destroy(snap);
  lightning_options_destroy(options);
}

/* A transaction destroyed before its iterators (the database still open):
 * they answer CLOSED and can still be destroyed. */
static void test_transaction_children_outlive_it(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_transaction_t* txn = NULL;
  lightning_iterator_t* it = NULL;
  lightning_scan_t* scan = NULL;
  int has_entry = 1;
  char* err = NULL;

  put_ten(db);
  CHECK_OK(lightning_transaction_begin(db, NULL, 0, &txn, NULL));
  CHECK_OK(lightning_transaction_iterator_create(txn, &it, NULL));
  CHECK_OK(lightning_iterator_seek_to_first(it, NULL));
  CHECK_OK(lightning_transaction_scan_create(txn, NULL, 0, NULL, 0, NULL, 0, 0, 0, &scan, NULL));
  lightning_transaction_destroy(txn);
  CHECK(!lightning_iterator_valid(it));
  CHECK_CODE(lightning_iterator_next(it, &err), LIGHTNING_CLOSED);
  CHECK(err != NULL && strstr(err, "transaction") != NULL);
  lightning_free(err);
  CHECK_CODE(lightning_scan_next(scan, &has_entry, NULL, NULL, NULL, NULL, NULL), LIGHTNING_CLOSED);
  /* The database is unaffected. */
  CHECK_OK(lightning_db_put(db, "k", 1, "v", 1));
  lightning_iterator_destroy(it);
  lightning_db_destroy(db);
  lightning_scan_destroy(scan);
  lightning_options_destroy(options);
}

/* ---- concurrency (run under ThreadSanitizer in CI) */

enum { kThreads = 4, kIncrements = 50 };

struct worker_args {
  lightning_db_t* db;
  int id;
  int bad_codes; /* codes other than the allowed ones */
  int conflicts;
};

/* Read-modify-write of one counter in a transaction, retried on CONFLICT. */
static void* increment_worker(void* p) {
  struct worker_args* args = (struct worker_args*)p;
  int i;
  for (i = 0; i < kIncrements; i++) {
    for (;;) {
      lightning_transaction_t* txn = NULL;
      char* value = NULL;
      size_t len = 0;
      char buf[32];
      long n = 0;
      int rc = lightning_transaction_begin(args->db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &txn, NULL);
      if (rc != LIGHTNING_OK) {
        args->bad_codes++;
        break;
      }
      rc = lightning_transaction_get(txn, "counter", 7, &value, &len, NULL);
      if (rc == LIGHTNING_OK) {
        memcpy(buf, value, len < sizeof(buf) - 1 ? len : sizeof(buf) - 1);
        buf[len < sizeof(buf) - 1 ? len : sizeof(buf) - 1] = '\0';
        n = strtol(buf, NULL, 10);
        lightning_free(value);
      } else if (rc != LIGHTNING_NOT_FOUND) {
        args->bad_codes++;
      }
      snprintf(buf, sizeof(buf), "%ld", n + 1);
      if (lightning_transaction_put(txn, "counter", 7, buf, strlen(buf), NULL) != LIGHTNING_OK) args->bad_codes++;
      rc = lightning_transaction_commit(txn, NULL);
      lightning_transaction_destroy(txn);
      if (rc == LIGHTNING_OK) break;
      if (rc == LIGHTNING_CONFLICT) {
        args->conflicts++;
        continue;
      }
      args->bad_codes++;
      break;
    }
  }
  return NULL;
}

static void test_concurrent_transactions(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  pthread_t threads[kThreads];
  struct worker_args args[kThreads];
  char* value = NULL;
  size_t len = 0;
  char expected[32];
  int i;

  for (i = 0; i < kThreads; i++) {
    args[i].db = db;
    args[i].id = i;
    args[i].bad_codes = 0;
    args[i].conflicts = 0;
    CHECK(pthread_create(&threads[i], NULL, increment_worker, &args[i]) == 0);
  }
  for (i = 0; i < kThreads; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(args[i].bad_codes == 0);
  }
  /* Every increment landed exactly once despite the conflicts. */
  snprintf(expected, sizeof(expected), "%d", kThreads * kIncrements);
  CHECK_OK(lightning_db_get_ex(db, NULL, "counter", 7, &value, &len, NULL));
  CHECK(bytes_eq(value, len, expected));
  lightning_free(value);
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

/* Readers, writers and iterators race with close: each call returns OK,
 * NOT_FOUND or CLOSED (never a crash), and once CLOSED, always CLOSED. */
static void* close_race_worker(void* p) {
  struct worker_args* args = (struct worker_args*)p;
  lightning_iterator_t* it = NULL;
  int closed = 0;
  int i;
  char key[16];
  for (i = 0; i < 2000; i++) {
    int rc;
    char* value = NULL;
    size_t len = 0;
    snprintf(key, sizeof(key), "w%d-%d", args->id, i % 50);
    switch (i % 4) {
      case 0: rc = lightning_db_put(args->db, key, strlen(key), "v", 1); break;
      case 1:
        rc = lightning_db_get_ex(args->db, NULL, key, strlen(key), &value, &len, NULL);
        lightning_free(value);
        break;
      case 2:
        if (it == NULL) {
          rc = lightning_db_iterator_create(args->db, NULL, &it, NULL);
        } else {
          rc = lightning_iterator_seek(it, key, strlen(key), NULL);
          if (rc == LIGHTNING_OK && lightning_iterator_valid(it)) rc = lightning_iterator_next(it, NULL);
        }
        break;
      default: rc = lightning_db_delete(args->db, key, strlen(key)); break;
    }
    if (rc == LIGHTNING_CLOSED) {
      closed = 1;
    } else if (closed || (rc != LIGHTNING_OK && rc != LIGHTNING_NOT_FOUND)) {
      args->bad_codes++;
    }
  }
  lightning_iterator_destroy(it);
  return NULL;
}

static void test_concurrent_close(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  pthread_t threads[kThreads];
  struct worker_args args[kThreads];
  int i;

  for (i = 0; i < kThreads; i++) {
    args[i].db = db;
    args[i].id = i;
    args[i].bad_codes = 0;
    CHECK(pthread_create(&threads[i], NULL, close_race_worker, &args[i]) == 0);
  }
  {
    /* Let the workers start; the checks hold with any interleaving. */
    struct timespec pause = {0, 2000000};
    nanosleep(&pause, NULL);
  }
  CHECK_OK(lightning_db_close(db, NULL));
  for (i = 0; i < kThreads; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(args[i].bad_codes == 0);
  }
  lightning_db_destroy(db);
  lightning_options_destroy(options);
}

/* ---- change subscriptions */

enum { kMaxEvents = 64 };

/* What a callback saw, shared with the test thread. */
struct recorder {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int count; /* callbacks so far */
  int types[kMaxEvents];
  uint64_t sequences[kMaxEvents];
  uint64_t lost[kMaxEvents];
  char keys[kMaxEvents][16];
  char values[kMaxEvents][16];
  /* Optional behaviour. */
  lightning_db_t* db;                     /* read back each key from the callback */
  lightning_subscription_t* self;         /* destroyed from the first callback */
  int hold_first;                         /* the first callback waits for release */
  int close_and_put;                      /* the first callback tries to close db and to write */
  int released;
  int finished;                           /* callbacks that returned */
  int read_codes[kMaxEvents];             /* lightning_db_get_ex of the key from the callback */
  int close_code;                         /* lightning_db_close from the first callback */
  int put_code;                           /* lightning_db_put from the first callback */
  int bad_accessor_codes;                 /* accessors given NULL that did not say INVALID_ARGUMENT */
};

static void recorder_init(struct recorder* r) {
  memset(r, 0, sizeof(*r));
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->cv, NULL);
  r->close_code = -1;
  r->put_code = -1;
}

static void recorder_destroy(struct recorder* r) {
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->cv);
}

/* Copies bytes into a NUL-terminated slot (truncating). */
static void copy_bytes(char* out, size_t size, const char* data, size_t len) {
  if (len >= size) len = size - 1;
  memcpy(out, data, len);
  out[len] = '\0';
}

static void record_event(void* state, const lightning_change_event_t* event) {
  struct recorder* r = (struct recorder*)state;
  const char* key = NULL;
  const char* value = NULL;
  size_t key_len = 0, value_len = 0;
  int type = -1, n, rc;
  uint64_t sequence = 0, lost = 0;
  int first;

  CHECK_OK(lightning_change_event_type(event, &type));
  CHECK_OK(lightning_change_event_sequence(event, &sequence));
  CHECK_OK(lightning_change_event_key(event, &key, &key_len));
  CHECK_OK(lightning_change_event_value(event, &value, &value_len));
  CHECK_OK(lightning_change_event_lost_events(event, &lost));
  CHECK(key != NULL && value != NULL);

  pthread_mutex_lock(&r->mu);
  n = r->count;
  first = n == 0;
  if (n < kMaxEvents) {
    r->types[n] = type;
    r->sequences[n] = sequence;
    r->lost[n] = lost;
    copy_bytes(r->keys[n], sizeof(r->keys[n]), key, key_len);
    copy_bytes(r->values[n], sizeof(r->values[n]), value, value_len);
  }
  r->count++;
  pthread_cond_broadcast(&r->cv);
  if (first && r->hold_first) {
    while (!r->released) pthread_cond_wait(&r->cv, &r->mu);
  }
  pthread_mutex_unlock(&r->mu);

  if (first) {
    if (lightning_change_event_type(NULL, &type) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
    if (lightning_change_event_type(event, NULL) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
    if (lightning_change_event_sequence(NULL, &sequence) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
    if (lightning_change_event_key(event, NULL, &key_len) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
    if (lightning_change_event_value(event, &value, NULL) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
    if (lightning_change_event_lost_events(NULL, &lost) != LIGHTNING_INVALID_ARGUMENT) r->bad_accessor_codes++;
  }
  if (r->db != NULL) {
    /* The change is visible to readers by the time it is delivered. */
    char* read = NULL;
    size_t read_len = 0;
    rc = type == LIGHTNING_CHANGE_LOST ? LIGHTNING_OK
                                       : lightning_db_get_ex(r->db, NULL, key, key_len, &read, &read_len, NULL);
    if (rc == LIGHTNING_OK && type == LIGHTNING_CHANGE_PUT &&
        (read_len < value_len || memcmp(read, value, value_len) != 0)) {
      rc = -2; /* an older version than the event's */
    }
    lightning_free(read);
    if (n < kMaxEvents) r->read_codes[n] = rc;
    if (first && r->close_and_put) {
      r->close_code = lightning_db_close(r->db, NULL);
      r->put_code = lightning_db_put(r->db, "from-callback", 13, "x", 1);
    }
  }
  if (first && r->self != NULL) lightning_subscription_destroy(r->self);

  pthread_mutex_lock(&r->mu);
  r->finished++;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

/* Waits until at least n callbacks returned; 0 if that takes over a minute
 * (a hang guard, not a timing assertion). */
static int wait_finished(struct recorder* r, int n) {
  struct timespec deadline;
  int ok = 1;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  pthread_mutex_lock(&r->mu);
  while (r->finished < n && ok) ok = pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == 0;
  ok = r->finished >= n;
  pthread_mutex_unlock(&r->mu);
  CHECK(ok);
  return ok;
}

/* The same for callbacks that started. */
static int wait_started(struct recorder* r, int n) {
  struct timespec deadline;
  int ok = 1;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  pthread_mutex_lock(&r->mu);
  while (r->count < n && ok) ok = pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == 0;
  ok = r->count >= n;
  pthread_mutex_unlock(&r->mu);
  CHECK(ok);
  return ok;
}

static void release_first(struct recorder* r) {
  pthread_mutex_lock(&r->mu);
  r->released = 1;
  pthread_cond_broadcast(&r->cv);
  pthread_mutex_unlock(&r->mu);
}

static void test_subscriptions(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_subscribeoptions_t* sub_options = lightning_subscribeoptions_create();
  lightning_subscribeoptions_t* range_options = lightning_subscribeoptions_create();
  lightning_subscription_t* sub = NULL;
  lightning_subscription_t* ranged = NULL;
  lightning_writebatch_t* batch = lightning_writebatch_create();
  struct recorder r, rr;
  uint64_t count = 0;
  char* err = NULL;
  int i;

  recorder_init(&r);
  recorder_init(&rr);
  r.db = db;
  r.close_and_put = 1;
  CHECK(sub_options != NULL && range_options != NULL);
  CHECK_OK(lightning_subscribeoptions_set_prefix(sub_options, "p", 1));
  CHECK_OK(lightning_db_subscribe(db, sub_options, record_event, &r, &sub, &err));
  CHECK(sub != NULL && err == NULL);
  CHECK_OK(lightning_subscribeoptions_set_range(range_options, "b", 1, "d", 1));
  CHECK_OK(lightning_db_subscribe(db, range_options, record_event, &rr, &ranged, NULL));
  CHECK(lightning_subscription_active(sub) == 1);
  CHECK_OK(lightning_subscription_status(sub, &err));
  CHECK(err == NULL);

  CHECK_OK(lightning_db_put(db, "p1", 2, "one", 3));
  CHECK_OK(lightning_db_put(db, "q1", 2, "skip", 4)); /* neither filter */
  CHECK_OK(lightning_db_put(db, "c", 1, "in-range", 8));
  CHECK_OK(lightning_db_put(db, "d", 1, "past-end", 8));
  CHECK_OK(lightning_db_delete(db, "p2", 2)); /* a missing key: still an event */
  CHECK_OK(lightning_writebatch_put(batch, "p3", 2, "three", 5, NULL));
  CHECK_OK(lightning_writebatch_delete(batch, "p1", 2, NULL));
  CHECK_OK(lightning_db_write(db, NULL, batch, NULL));
  CHECK_OK(lightning_db_put(db, "b", 1, "start", 5));

  if (wait_finished(&r, 4) && wait_finished(&rr, 2)) {
    CHECK(r.count == 4);
    CHECK(r.types[0] == LIGHTNING_CHANGE_PUT && strcmp(r.keys[0], "p1") == 0 && strcmp(r.values[0], "one") == 0);
    CHECK(r.types[1] == LIGHTNING_CHANGE_DELETE && strcmp(r.keys[1], "p2") == 0 && r.values[1][0] == '\0');
    CHECK(r.types[2] == LIGHTNING_CHANGE_PUT && strcmp(r.keys[2], "p3") == 0 && strcmp(r.values[2], "three") == 0);
    CHECK(r.types[3] == LIGHTNING_CHANGE_DELETE && strcmp(r.keys[3], "p1") == 0);
    /* Commit order; the batch's two with consecutive numbers. */
    CHECK(r.sequences[0] < r.sequences[1] && r.sequences[1] < r.sequences[2]);
    CHECK(r.sequences[3] == r.sequences[2] + 1);
    for (i = 0; i < 4; i++) {
      CHECK(r.lost[i] == 0);
      /* Read back from the callback: the put's value or a later one. */
      CHECK(r.read_codes[i] == LIGHTNING_OK || r.read_codes[i] == LIGHTNING_NOT_FOUND);
    }
    CHECK(r.read_codes[1] == LIGHTNING_NOT_FOUND);
    CHECK(r.read_codes[2] == LIGHTNING_OK);
    /* Close from a callback is refused; a write from a non-blocking
     * subscription's callback is allowed. */
    CHECK(r.close_code == LIGHTNING_INVALID_ARGUMENT);
    CHECK(r.put_code == LIGHTNING_OK);
    CHECK(r.bad_accessor_codes == 0);
    CHECK(rr.count == 2);
    CHECK(strcmp(rr.keys[0], "c") == 0 && strcmp(rr.keys[1], "b") == 0);
  }

  /* Unsubscribed: nothing more arrives (the database closing drains every
   * active subscription's queue, so after close the count is final). When
   * unsubscribe returns the delivery thread is done, so the counters are
   * final too (a callback returning does not mean its count is in). */
  CHECK_OK(lightning_subscription_unsubscribe(sub));
  CHECK_OK(lightning_subscription_events_delivered(sub, &count));
  CHECK(count == 4);
  CHECK_OK(lightning_subscription_events_lost(sub, &count));
  CHECK(count == 0);
  CHECK(lightning_subscription_active(sub) == 0);
  CHECK_OK(lightning_subscription_status(sub, NULL));
  CHECK_OK(lightning_subscription_unsubscribe(sub)); /* again: nothing */
  CHECK_OK(lightning_db_put(db, "p9", 2, "late", 4));
  lightning_subscription_destroy(ranged);

  /* Argument errors. */
  {
    lightning_subscription_t* none = (lightning_subscription_t*)&r; /* overwritten with NULL */
    CHECK_CODE(lightning_db_subscribe(NULL, NULL, record_event, &r, &none, &err), LIGHTNING_INVALID_ARGUMENT);
    CHECK(none == NULL && err != NULL);
    lightning_free(err);
    CHECK_CODE(lightning_db_subscribe(db, NULL, NULL, &r, &none, NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_db_subscribe(db, NULL, record_event, &r, NULL, NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK_OK(lightning_subscribeoptions_set_max_pending_events(sub_options, 0));
    CHECK_CODE(lightning_db_subscribe(db, sub_options, record_event, &r, &none, &err), LIGHTNING_INVALID_ARGUMENT);
    CHECK(none == NULL && err != NULL);
    lightning_free(err);
    CHECK_OK(lightning_subscribeoptions_set_range(range_options, "d", 1, "b", 1)); /* empty */
    CHECK_CODE(lightning_db_subscribe(db, range_options, record_event, &r, &none, NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK_OK(lightning_subscribeoptions_set_range(range_options, NULL, 0, NULL, 0)); /* both absent again */
    CHECK_CODE(lightning_subscribeoptions_set_overflow(sub_options, 7), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscribeoptions_set_overflow(NULL, LIGHTNING_OVERFLOW_BLOCK_WRITERS),
               LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscribeoptions_set_prefix(sub_options, NULL, 1), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscribeoptions_set_prefix(NULL, "p", 1), LIGHTNING_INVALID_ARGUMENT);
    CHECK_OK(lightning_subscribeoptions_set_prefix(sub_options, NULL, 0));
    CHECK_CODE(lightning_subscribeoptions_set_range(NULL, NULL, 0, NULL, 0), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscribeoptions_set_max_pending_events(NULL, 1), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscription_unsubscribe(NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK(lightning_subscription_active(NULL) == 0);
    CHECK_CODE(lightning_subscription_status(NULL, &err), LIGHTNING_INVALID_ARGUMENT);
    CHECK(err != NULL);
    lightning_free(err);
    CHECK_CODE(lightning_subscription_events_delivered(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscription_events_delivered(sub, NULL), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscription_events_lost(NULL, &count), LIGHTNING_INVALID_ARGUMENT);
    CHECK_CODE(lightning_subscription_events_lost(sub, NULL), LIGHTNING_INVALID_ARGUMENT);
  }

  lightning_db_destroy(db);
  CHECK(r.count == 4);
  lightning_subscription_destroy(sub); /* after its database */
  lightning_subscription_destroy(NULL);
  lightning_subscribeoptions_destroy(sub_options);
  lightning_subscribeoptions_destroy(range_options);
  lightning_subscribeoptions_destroy(NULL);
  lightning_writebatch_destroy(batch);
  lightning_options_destroy(options);
  recorder_destroy(&r);
  recorder_destroy(&rr);
}

/* A queue of one with the callback held: the overflow is reported as one
 * LOST event in place of the dropped ones. */
static void test_subscription_lost_events(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_subscribeoptions_t* sub_options = lightning_subscribeoptions_create();
  lightning_subscription_t* sub = NULL;
  lightning_snapshot_t* snap = NULL;
  struct recorder r;
  uint64_t last_sequence = 0, count = 0;
  char key[8];
  int i;

  recorder_init(&r);
  r.hold_first = 1;
  CHECK_OK(lightning_subscribeoptions_set_max_pending_events(sub_options, 1));
  CHECK_OK(lightning_subscribeoptions_set_overflow(sub_options, LIGHTNING_OVERFLOW_DROP_AND_REPORT));
  CHECK_OK(lightning_db_subscribe(db, sub_options, record_event, &r, &sub, NULL));
  CHECK_OK(lightning_db_put(db, "k0", 2, "v", 1));
  wait_started(&r, 1); /* k0 is in the callback, which waits */
  for (i = 1; i < 10; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    CHECK_OK(lightning_db_put(db, key, 2, "v", 1)); /* k1 queued, k2..k9 dropped: writers never wait */
  }
  CHECK_OK(lightning_db_snapshot_create(db, &snap, NULL));
  CHECK_OK(lightning_snapshot_sequence(snap, &last_sequence));
  lightning_snapshot_destroy(snap);
  release_first(&r);
  if (wait_finished(&r, 3)) {
    CHECK(r.count == 3);
    CHECK(r.types[0] == LIGHTNING_CHANGE_PUT && strcmp(r.keys[0], "k0") == 0);
    CHECK(r.types[1] == LIGHTNING_CHANGE_PUT && strcmp(r.keys[1], "k1") == 0);
    CHECK(r.types[2] == LIGHTNING_CHANGE_LOST);
    CHECK(r.lost[2] == 8);
    CHECK(r.sequences[2] == last_sequence); /* that of k9, the last dropped */
    CHECK(r.keys[2][0] == '\0' && r.values[2][0] == '\0');
  }
  CHECK_OK(lightning_subscription_events_delivered(sub, &count));
  CHECK(count == 2);
  CHECK_OK(lightning_subscription_events_lost(sub, &count));
  CHECK(count == 8);
  lightning_subscription_destroy(sub);
  lightning_db_destroy(db);
  lightning_subscribeoptions_destroy(sub_options);
  lightning_options_destroy(options);
  recorder_destroy(&r);
}

/* A subscription destroyed from its own callback gets no more calls; a
 * kBlockWriters callback may read but not write. */
static void test_subscription_destroyed_in_callback(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_subscribeoptions_t* blocking = lightning_subscribeoptions_create();
  lightning_subscription_t* sub = NULL;
  struct recorder r;

  recorder_init(&r);
  r.db = db;
  r.close_and_put = 1;
  CHECK_OK(lightning_subscribeoptions_set_overflow(blocking, LIGHTNING_OVERFLOW_BLOCK_WRITERS));
  CHECK_OK(lightning_db_subscribe(db, blocking, record_event, &r, &sub, NULL));
  r.self = sub; /* set before the first event: the put below happens after */
  CHECK_OK(lightning_db_put(db, "a", 1, "1", 1));
  wait_finished(&r, 1);
  CHECK_OK(lightning_db_put(db, "b", 1, "2", 1));
  CHECK_OK(lightning_db_put(db, "c", 1, "3", 1));
  /* Close delivers whatever is queued to active subscriptions and joins
   * their threads: afterwards the count is final. */
  CHECK_OK(lightning_db_close(db, NULL));
  CHECK(r.count == 1 && r.finished == 1);
  CHECK(r.read_codes[0] == LIGHTNING_OK);
  CHECK(r.close_code == LIGHTNING_INVALID_ARGUMENT);
  CHECK(r.put_code == LIGHTNING_INVALID_ARGUMENT); /* kBlockWriters: no writes from the callback */
  lightning_db_destroy(db);
  lightning_subscribeoptions_destroy(blocking);
  lightning_options_destroy(options);
  recorder_destroy(&r);
}

struct close_args {
  lightning_db_t* db;
  int code;
};

static void* close_worker(void* p) {
  struct close_args* args = (struct close_args*)p;
  args->code = lightning_db_close(args->db, NULL);
  return NULL;
}

/* Closing the database with a live subscription: the queued events are
 * delivered first (the callback's own calls then answer CLOSED), then the
 * subscription ends; its handle reports and outlives the database. */
static void test_subscription_database_closed(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_subscription_t* sub = NULL;
  lightning_subscription_t* late = NULL;
  struct close_args close_args;
  pthread_t closer;
  struct recorder r;
  uint64_t count = 0;
  char key[8];
  char* err = NULL;
  int i;

  recorder_init(&r);
  r.db = db;
  r.hold_first = 1;
  close_args.db = db;
  close_args.code = -1;
  CHECK_OK(lightning_db_subscribe(db, NULL, record_event, &r, &sub, NULL));
  for (i = 0; i < 5; i++) {
    snprintf(key, sizeof(key), "k%d", i);
    CHECK_OK(lightning_db_put(db, key, 2, "v", 1));
  }
  wait_started(&r, 1); /* k0's callback waits; k1..k4 are queued */
  /* Close on another thread; once the handle answers CLOSED, close is
   * delivering the queue, and the callback's own reads answer CLOSED too
   * (rather than waiting for the close that waits for them). */
  CHECK(pthread_create(&closer, NULL, close_worker, &close_args) == 0);
  for (;;) {
    char* value = NULL;
    size_t len = 0;
    const int rc = lightning_db_get_ex(db, NULL, "k0", 2, &value, &len, NULL);
    lightning_free(value);
    if (rc != LIGHTNING_OK) {
      CHECK_CODE(rc, LIGHTNING_CLOSED);
      break;
    }
    sched_yield();
  }
  release_first(&r);
  CHECK(pthread_join(closer, NULL) == 0);
  CHECK_OK(close_args.code);
  CHECK(r.count == 5 && r.finished == 5);
  for (i = 0; i < 5; i++) CHECK(r.read_codes[i] == LIGHTNING_CLOSED);
  CHECK(lightning_subscription_active(sub) == 0);
  CHECK_CODE(lightning_subscription_status(sub, &err), LIGHTNING_CLOSED);
  CHECK(err != NULL);
  lightning_free(err);
  CHECK_OK(lightning_subscription_events_delivered(sub, &count));
  CHECK(count == 5);
  CHECK_OK(lightning_subscription_unsubscribe(sub)); /* after close: nothing to do */
  CHECK_CODE(lightning_db_subscribe(db, NULL, record_event, &r, &late, NULL), LIGHTNING_CLOSED);
  CHECK(late == NULL);
  lightning_db_destroy(db);
  CHECK_CODE(lightning_subscription_status(sub, NULL), LIGHTNING_CLOSED);
  lightning_subscription_destroy(sub);
  lightning_options_destroy(options);
  recorder_destroy(&r);
}

/* Writers on several threads, a blocking subscriber that must see every
 * write in sequence order, and a dropping one destroyed midway from another
 * thread (run under ThreadSanitizer in CI). */
enum { kSubWriters = 4, kSubWrites = 200 };

struct sequence_checker {
  pthread_mutex_t mu;
  uint64_t last;
  int count;
  int out_of_order;
};

static void check_sequence(void* state, const lightning_change_event_t* event) {
  struct sequence_checker* c = (struct sequence_checker*)state;
  uint64_t sequence = 0;
  int type = -1;
  lightning_change_event_sequence(event, &sequence);
  lightning_change_event_type(event, &type);
  pthread_mutex_lock(&c->mu);
  if (type != LIGHTNING_CHANGE_LOST) {
    if (sequence <= c->last) c->out_of_order++;
    c->last = sequence;
    c->count++;
  }
  pthread_mutex_unlock(&c->mu);
}

static void* subscription_writer(void* p) {
  struct worker_args* args = (struct worker_args*)p;
  char key[16];
  int i;
  for (i = 0; i < kSubWrites; i++) {
    snprintf(key, sizeof(key), "w%d-%d", args->id, i);
    if (lightning_db_put(args->db, key, strlen(key), "v", 1) != LIGHTNING_OK) args->bad_codes++;
  }
  return NULL;
}

struct destroyer_args {
  lightning_subscription_t* sub;
};

static void* subscription_destroyer(void* p) {
  struct destroyer_args* args = (struct destroyer_args*)p;
  lightning_subscription_destroy(args->sub);
  return NULL;
}

static void test_concurrent_subscriptions(void) {
  lightning_options_t* options;
  lightning_db_t* db = open_memory_db(&options);
  lightning_subscribeoptions_t* blocking = lightning_subscribeoptions_create();
  lightning_subscribeoptions_t* dropping = lightning_subscribeoptions_create();
  lightning_subscription_t* all = NULL;
  struct destroyer_args destroyer;
  struct sequence_checker every, some;
  pthread_t threads[kSubWriters], destroyer_thread;
  struct worker_args args[kSubWriters];
  uint64_t delivered = 0;
  int i;

  memset(&every, 0, sizeof(every));
  memset(&some, 0, sizeof(some));
  pthread_mutex_init(&every.mu, NULL);
  pthread_mutex_init(&some.mu, NULL);
  CHECK_OK(lightning_subscribeoptions_set_overflow(blocking, LIGHTNING_OVERFLOW_BLOCK_WRITERS));
  CHECK_OK(lightning_subscribeoptions_set_max_pending_events(blocking, 8));
  CHECK_OK(lightning_subscribeoptions_set_max_pending_events(dropping, 4));
  CHECK_OK(lightning_db_subscribe(db, blocking, check_sequence, &every, &all, NULL));
  CHECK_OK(lightning_db_subscribe(db, dropping, check_sequence, &some, &destroyer.sub, NULL));
  for (i = 0; i < kSubWriters; i++) {
    args[i].db = db;
    args[i].id = i;
    args[i].bad_codes = 0;
    CHECK(pthread_create(&threads[i], NULL, subscription_writer, &args[i]) == 0);
  }
  CHECK(pthread_create(&destroyer_thread, NULL, subscription_destroyer, &destroyer) == 0);
  for (i = 0; i < kSubWriters; i++) {
    CHECK(pthread_join(threads[i], NULL) == 0);
    CHECK(args[i].bad_codes == 0);
  }
  CHECK(pthread_join(destroyer_thread, NULL) == 0);
  CHECK_OK(lightning_db_close(db, NULL)); /* delivers the rest */
  CHECK(every.count == kSubWriters * kSubWrites && every.out_of_order == 0);
  CHECK_OK(lightning_subscription_events_delivered(all, &delivered));
  CHECK(delivered == (uint64_t)(kSubWriters * kSubWrites));
  CHECK(some.count <= kSubWriters * kSubWrites && some.out_of_order == 0);
  lightning_subscription_destroy(all);
  lightning_db_destroy(db);
  lightning_subscribeoptions_destroy(blocking);
  lightning_subscribeoptions_destroy(dropping);
  lightning_options_destroy(options);
  pthread_mutex_destroy(&every.mu);
  pthread_mutex_destroy(&some.mu);
}

/* ---- driver */

struct test_case {
  const char* name;
  void (*fn)(void);
};

static const struct test_case kCases[] = {
    {"VersionAndErrors", test_version_and_errors},
    {"SeedApi", test_seed_api},
    {"OpenErrors", test_open_errors},
    {"Options", test_options},
    {"InMemory", test_in_memory},
    {"ReadsAndWrites", test_reads_and_writes},
    {"MultiGet", test_multi_get},
    {"WriteBatch", test_write_batch},
    {"Iterators", test_iterators},
    {"Snapshots", test_snapshots},
    {"Scans", test_scans},
    {"Transactions", test_transactions},
    {"Comparator", test_comparator},
    {"StatsAndMaintenance", test_stats_and_maintenance},
    {"Checkpoint", test_checkpoint},
    {"Verify", test_verify},
    {"Repair", test_repair},
    {"Backups", test_backups},
    {"Subscriptions", test_subscriptions},
    {"SubscriptionLostEvents", test_subscription_lost_events},
    {"SubscriptionDestroyedInCallback", test_subscription_destroyed_in_callback},
    {"SubscriptionDatabaseClosed", test_subscription_database_closed},
    {"ClosedHandles", test_closed_handles},
    {"TransactionChildrenOutliveIt", test_transaction_children_outlive_it},
    {"ConcurrentTransactions", test_concurrent_transactions},
    {"ConcurrentClose", test_concurrent_close},
    {"ConcurrentSubscriptions", test_concurrent_subscriptions},
};

int main(int argc, char** argv) {
  const char* filter = argc > 1 ? argv[1] : NULL;
  const char* tmp = getenv("TMPDIR");
  size_t i;
  int ran = 0;

  snprintf(g_root, sizeof(g_root), "%s/lightning_c_api_XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
  if (mkdtemp(g_root) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  for (i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    const int concurrent = strstr(kCases[i].name, "Concurrent") != NULL;
    const int before = g_failures;
    if (filter != NULL ? strstr(kCases[i].name, filter) == NULL : concurrent) continue;
    kCases[i].fn();
    printf("[%s] %s\n", g_failures == before ? "  OK  " : "FAILED", kCases[i].name);
    ran++;
  }
  remove_tree(g_root);
  if (ran == 0) {
    fprintf(stderr, "no test case matches '%s'\n", filter != NULL ? filter : "");
    return 2;
  }
  printf("%d case(s), %d failed check(s)\n", ran, g_failures);
  return g_failures == 0 ? 0 : 1;
}
