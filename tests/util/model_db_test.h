// Copyright (c) Lightning authors. MIT License.
//
// ModelDbTest: a fixture base for database tests that keep a std::map model
// of what they wrote. It owns the directory (a temp dir on the POSIX Env, or
// a fresh memory Env), the options, the database and the model, and offers
// open/close/reopen and put/remove/flush/compact that assert success and
// update the model. Fixtures add their own Env wrappers (set options_.env
// after use_env) and options.
#ifndef LIGHTNING_TESTS_UTIL_MODEL_DB_TEST_H_
#define LIGHTNING_TESTS_UTIL_MODEL_DB_TEST_H_

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "lightning/db.h"
#include "lightning/env.h"
#include "util/temp_dir.h"

namespace lightning::test {

// Keys may be binary: escaped for messages, cut after 80 characters.
std::string Printable(const Slice& s);

class ModelDbTest : public ::testing::Test {
 protected:
  ModelDbTest(const std::string& name, Options options) : dir_(name), name_(name), options_(std::move(options)) {}

  // The database lives in memory (a fresh memory Env) or in a temp dir on
  // the POSIX Env. Sets base_env_, path_ and options_.env.
  void use_env(bool memory) {
    if (memory) {
      mem_env_ = NewMemoryEnv();
      base_env_ = mem_env_.get();
      path_ = "/" + name_;
    } else {
      base_env_ = Env::Default();
      path_ = dir_.path() + "/db";
    }
    options_.env = base_env_;
  }
  // The Env the database runs on (options_.env), for file manipulation.
  Env* env() const { return options_.env; }

  void open() {
    auto r = Database::open(path_, options_);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    db_ = std::move(r.value());
  }
  // Called with the final stats of each session, just before close().
  virtual void on_close(const DatabaseStats& /*stats*/) {}
  void close() {
    if (db_ == nullptr) return;
    on_close(db_->stats());
    Status s = db_->close();
    db_.reset();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void reopen() {
    ASSERT_NO_FATAL_FAILURE(close());
    ASSERT_NO_FATAL_FAILURE(open());
  }
  void put(const std::string& key, const std::string& value) {
    Status s = db_->put(key, value);
    ASSERT_TRUE(s.ok()) << "put(" << Printable(key) << "): " << s.ToString();
    model_[key] = value;
  }
  void remove(const std::string& key) {
    Status s = db_->remove(key);
    ASSERT_TRUE(s.ok()) << "remove(" << Printable(key) << "): " << s.ToString();
    model_.erase(key);
  }
  void flush() {
    Status s = db_->flush();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void compact() {
    Status s = db_->compact();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // The database goes before any member is destroyed: derived fixtures'
  // Env wrappers (their own members) die before these.
  void TearDown() override { db_.reset(); }

  TempDir dir_;
  const std::string name_;
  std::unique_ptr<Env> mem_env_;
  Env* base_env_ = nullptr;
  Options options_;
  std::string path_;
  std::map<std::string, std::string> model_;
  std::unique_ptr<Database> db_;
};

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_MODEL_DB_TEST_H_
