/* Copyright (c) Lightning authors. MIT License.
 *
 * A C program outside the Lightning tree, built by tests/install/run.sh
 * against an installed Lightning (find_package and pkg-config, shared and
 * static) and through add_subdirectory: the C API of lightning_db.h, with
 * an error path and a reopen. A C compiler links it, so a static link proves
 * the pkg-config/CMake dependencies bring the C++ runtime too.
 * Usage: lightning_install_c_consumer <empty directory> */
#include <lightning/lightning_db.h>

#include <stdio.h>
#include <string.h>

static int fail(const char* what, int code, char* errmsg) {
  fprintf(stderr, "install C consumer: %s: %s (%s)\n", what, lightning_strerror(code), errmsg ? errmsg : "");
  lightning_free(errmsg);
  return 1;
}

int main(int argc, char** argv) {
  lightning_db_t* db = NULL;
  char* errmsg = NULL;
  char* value = NULL;
  size_t value_len = 0;
  int rc;
  if (argc != 2) return fail("usage: lightning_install_c_consumer <directory>", LIGHTNING_INVALID_ARGUMENT, NULL);
  if (lightning_version_number() !=
      (uint32_t)(LIGHTNING_VERSION_MAJOR * 10000 + LIGHTNING_VERSION_MINOR * 100 + LIGHTNING_VERSION_PATCH)) {
    return fail("the library's version is not the header's", LIGHTNING_NOT_SUPPORTED, NULL);
  }

  rc = lightning_db_open(argv[1], NULL, &db, &errmsg);
  if (rc != LIGHTNING_OK) return fail("open", rc, errmsg);
  rc = lightning_db_put(db, "key", 3, "value", 5);
  if (rc != LIGHTNING_OK) return fail("put", rc, NULL);
  rc = lightning_db_put(db, "", 0, "value", 5);
  if (rc != LIGHTNING_INVALID_ARGUMENT) return fail("put of an empty key", rc, NULL);
  rc = lightning_db_get_ex(db, NULL, "absent", 6, &value, &value_len, &errmsg);
  if (rc != LIGHTNING_NOT_FOUND || value != NULL) return fail("get of an absent key", rc, errmsg);
  lightning_free(errmsg);
  errmsg = NULL;
  rc = lightning_db_close(db, &errmsg);
  if (rc != LIGHTNING_OK) return fail("close", rc, errmsg);
  lightning_db_destroy(db);

  rc = lightning_db_open(argv[1], NULL, &db, &errmsg);
  if (rc != LIGHTNING_OK) return fail("reopen", rc, errmsg);
  value = lightning_db_get(db, "key", 3, &value_len);
  if (value == NULL || value_len != 5 || memcmp(value, "value", 5) != 0) {
    return fail("get after reopen", LIGHTNING_CORRUPTION, NULL);
  }
  lightning_db_free_value(value);
  lightning_db_destroy(db);
  printf("install C consumer: ok (Lightning %s)\n", lightning_version_string());
  return 0;
}
