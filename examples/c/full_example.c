/* Copyright (c) Lightning authors. MIT License.
 *
 * The C API beyond the seed's five calls: options, explicit error codes and
 * messages, write batches, iterators, scans, snapshots and a transaction
 * retried on conflict.
 *
 * Usage: full_example <database directory>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lightning/lightning_db.h"

/* Prints what failed and exits: the pattern for every call that returns a
 * code and a message. */
static void die(const char* what, int code, char* errmsg) {
  fprintf(stderr, "%s failed: %s (%s)\n", what, lightning_strerror(code), errmsg != NULL ? errmsg : "no message");
  lightning_free(errmsg);
  exit(1);
}

/* TRY runs call and dies on an error. Inside it, ERR is the errmsg argument
 * whose message TRY prints (calls without one print only the code). */
#define TRY(what, call)                                   \
  do {                                                    \
    char* errmsg_ = NULL;                                 \
    int code_ = (call);                                   \
    if (code_ != LIGHTNING_OK) die(what, code_, errmsg_); \
  } while (0)
#define ERR (&errmsg_)

/* Adds amount to the balance stored at key, in a transaction; retried from
 * the start whenever another commit got there first (CONFLICT). */
static void add_to_balance(lightning_db_t* db, const char* key, long amount) {
  int attempt;
  for (attempt = 1;; attempt++) {
    lightning_transaction_t* txn = NULL;
    char* value = NULL;
    size_t len = 0;
    char buf[32];
    long balance = 0;
    int code;

    TRY("begin", lightning_transaction_begin(db, NULL, LIGHTNING_ISOLATION_SNAPSHOT, &txn, ERR));
    code = lightning_transaction_get(txn, key, strlen(key), &value, &len, NULL);
    if (code == LIGHTNING_OK) {
      snprintf(buf, sizeof(buf), "%.*s", (int)len, value);
      balance = strtol(buf, NULL, 10);
      lightning_free(value);
    } else if (code != LIGHTNING_NOT_FOUND) {
      die("transaction get", code, NULL);
    }
    snprintf(buf, sizeof(buf), "%ld", balance + amount);
    TRY("transaction put", lightning_transaction_put(txn, key, strlen(key), buf, strlen(buf), ERR));
    {
      char* errmsg = NULL;
      code = lightning_transaction_commit(txn, &errmsg);
      lightning_transaction_destroy(txn);
      if (code == LIGHTNING_OK) {
        printf("%s: %ld -> %s (attempt %d)\n", key, balance, buf, attempt);
        return;
      }
      if (code != LIGHTNING_CONFLICT) die("commit", code, errmsg);
      lightning_free(errmsg); /* lost a race: run the whole transaction again */
    }
  }
}

int main(int argc, char** argv) {
  lightning_options_t* options;
  lightning_writeoptions_t* durable;
  lightning_writebatch_t* batch;
  lightning_db_t* db = NULL;
  lightning_iterator_t* it = NULL;
  lightning_scan_t* scan = NULL;
  lightning_snapshot_t* snapshot = NULL;
  lightning_readoptions_t* at_snapshot;
  char* value = NULL;
  size_t len = 0;
  char buffer[16];
  int has_entry = 0;
  int code;

  if (argc != 2) {
    fprintf(stderr, "usage: %s <database directory>\n", argv[0]);
    return 2;
  }
  printf("Lightning %s\n", lightning_version_string());

  /* Options: compression and the durability of the log. */
  options = lightning_options_create();
  if (options == NULL) return 1;
  TRY("compression", lightning_options_set_compression(options, LIGHTNING_COMPRESSION_ZSTD));
  TRY("wal sync mode", lightning_options_set_wal_sync_mode(options, LIGHTNING_WAL_SYNC_NORMAL));
  TRY("open", lightning_db_open(argv[1], options, &db, ERR));
  lightning_options_destroy(options); /* the database copied what it needs */

  /* A write that is fsynced before it returns. */
  durable = lightning_writeoptions_create();
  TRY("sync", lightning_writeoptions_set_sync(durable, 1));
  TRY("put", lightning_db_put_ex(db, durable, "config:version", 14, "3", 1, ERR));
  lightning_writeoptions_destroy(durable);

  /* Errors are values: a missing key is NOT_FOUND, an empty key is refused. */
  code = lightning_db_get_ex(db, NULL, "nope", 4, &value, &len, NULL);
  printf("get(nope): %s\n", lightning_strerror(code));
  {
    char* errmsg = NULL;
    code = lightning_db_put_ex(db, NULL, "", 0, "v", 1, &errmsg);
    printf("put(\"\"): %s: %s\n", lightning_strerror(code), errmsg);
    lightning_free(errmsg);
  }

  /* An atomic batch of users. */
  batch = lightning_writebatch_create();
  TRY("batch put", lightning_writebatch_put(batch, "user:1", 6, "ada", 3, ERR));
  TRY("batch put", lightning_writebatch_put(batch, "user:2", 6, "grace", 5, ERR));
  TRY("batch put", lightning_writebatch_put(batch, "user:3", 6, "barbara", 7, ERR));
  TRY("write", lightning_db_write(db, NULL, batch, ERR));
  lightning_writebatch_destroy(batch);

  /* A snapshot, then a change it will not see. */
  TRY("snapshot", lightning_db_snapshot_create(db, &snapshot, ERR));
  TRY("put", lightning_db_put_ex(db, NULL, "user:2", 6, "hopper", 6, ERR));
  at_snapshot = lightning_readoptions_create();
  TRY("set snapshot", lightning_readoptions_set_snapshot(at_snapshot, snapshot));
  TRY("get", lightning_db_get_into(db, at_snapshot, "user:2", 6, buffer, sizeof(buffer), &len, ERR));
  printf("user:2 at the snapshot: %.*s\n", (int)len, buffer);
  TRY("get", lightning_db_get_into(db, NULL, "user:2", 6, buffer, sizeof(buffer), &len, ERR));
  printf("user:2 now: %.*s\n", (int)len, buffer);

  /* An iterator, backwards from the last user. Keys and values are borrowed
   * until the iterator moves. */
  TRY("iterator", lightning_db_iterator_create(db, NULL, &it, ERR));
  TRY("seek", lightning_iterator_seek_for_prev(it, "user:~", 6, ERR));
  while (lightning_iterator_valid(it)) {
    const char* k;
    const char* v;
    size_t klen, vlen;
    TRY("key", lightning_iterator_key(it, &k, &klen));
    TRY("value", lightning_iterator_value(it, &v, &vlen));
    if (klen < 5 || memcmp(k, "user:", 5) != 0) break;
    printf("  %.*s = %.*s\n", (int)klen, k, (int)vlen, v);
    TRY("prev", lightning_iterator_prev(it, ERR));
  }
  TRY("iterator status", lightning_iterator_status(it, ERR));
  lightning_iterator_destroy(it);

  /* A prefix scan as of the snapshot. */
  TRY("scan", lightning_db_scan_create(db, at_snapshot, NULL, 0, NULL, 0, "user:", 5, 0, 0, &scan, ERR));
  for (;;) {
    const char* k;
    const char* v;
    size_t klen, vlen;
    TRY("scan next", lightning_scan_next(scan, &has_entry, &k, &klen, &v, &vlen, ERR));
    if (!has_entry) break;
    printf("  [snapshot] %.*s = %.*s\n", (int)klen, k, (int)vlen, v);
  }
  lightning_scan_destroy(scan);
  lightning_readoptions_destroy(at_snapshot);
  lightning_snapshot_destroy(snapshot);

  /* Read-modify-write in transactions. */
  add_to_balance(db, "balance:ada", 100);
  add_to_balance(db, "balance:ada", -30);

  TRY("close", lightning_db_close(db, ERR));
  /* After close every call says CLOSED; the handle still needs destroying. */
  printf("put after close: %s\n", lightning_strerror(lightning_db_put(db, "k", 1, "v", 1)));
  lightning_db_destroy(db);
  return 0;
}
