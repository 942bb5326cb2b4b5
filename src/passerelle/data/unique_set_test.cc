#include "passerelle/data/unique_set.h"

#include <gtest/gtest.h>

#include <string>

namespace passerelle::data {
namespace {

TEST(UniqueSet, FindsEveryRepeatAcrossGrowth) {
  UniqueSet set;
  for (int i = 0; i < 100000; ++i) ASSERT_TRUE(set.Insert("P-" + std::to_string(i)));
  for (int i = 0; i < 100000; i += 997) ASSERT_FALSE(set.Insert("P-" + std::to_string(i)));
  EXPECT_TRUE(set.Insert(""));
  EXPECT_FALSE(set.Insert(""));
  EXPECT_EQ(set.size(), 100001u);
}

}  // namespace
}  // namespace passerelle::data
