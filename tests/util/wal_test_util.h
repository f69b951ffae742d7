// Copyright (c) Lightning authors. MIT License.
//
// The WAL tests' fixture: one log file, kName, in an in-memory Env, with its
// raw bytes readable and replaceable (to tear or damage them).
#ifndef LIGHTNING_TESTS_UTIL_WAL_TEST_UTIL_H_
#define LIGHTNING_TESTS_UTIL_WAL_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "lightning/env.h"

namespace lightning::test {

class LogFileTest : public ::testing::Test {
 protected:
  LogFileTest() : env_(NewMemoryEnv()) { EXPECT_TRUE(env_->create_dir_if_missing("/w").ok()); }

  std::string contents() {
    std::string data;
    EXPECT_TRUE(ReadFileToString(env_.get(), kName, &data).ok());
    return data;
  }
  void set_contents(const std::string& data) { ASSERT_TRUE(WriteStringToFile(env_.get(), data, kName, false).ok()); }

  static constexpr const char* kName = "/w/000007.log";
  std::unique_ptr<Env> env_;
};

}  // namespace lightning::test

#endif  // LIGHTNING_TESTS_UTIL_WAL_TEST_UTIL_H_
