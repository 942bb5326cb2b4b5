// For tests only: a fresh, empty folder named after the running test. ctest runs the tests of
// a binary as parallel processes, so no two tests may share a path.
#ifndef PASSERELLE_BASE_TEST_DIR_H_
#define PASSERELLE_BASE_TEST_DIR_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace passerelle::testing {

inline std::string FreshTestDir(const std::string& prefix) {
  const std::string dir = ::testing::TempDir() + "/" + prefix + "_" +
                          ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace passerelle::testing

#endif  // PASSERELLE_BASE_TEST_DIR_H_
