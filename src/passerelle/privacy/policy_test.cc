#include "passerelle/privacy/policy.h"

#include <gtest/gtest.h>

namespace passerelle::privacy {
namespace {

TEST(Policy, DefaultsRoundTripThroughTheDocumentedFile) {
  const Policy p = DefaultPolicy("wuhan");
  const std::string text = PolicyToToml(p);
  EXPECT_NE(text.find("# Counts between 1 and min_cell_count - 1"), std::string::npos);
  auto parsed = ParsePolicy(text, "policy.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->site, "wuhan");
  EXPECT_EQ(parsed->min_cell_count, 5);
  EXPECT_EQ(parsed->min_cohort_size, 10);
  EXPECT_DOUBLE_EQ(parsed->max_parameters_per_record, 0.33);
  EXPECT_EQ(parsed->allowed_analyses, p.allowed_analyses);
}

TEST(Policy, SitesMayTightenOnly) {
  auto tighter = ParsePolicy("site = \"lyon\"\nmin_cell_count = 10\napproval = \"manual\"\n", "p");
  ASSERT_TRUE(tighter.ok());
  EXPECT_EQ(tighter->min_cell_count, 10);
  EXPECT_EQ(tighter->approval, "manual");
  auto looser = ParsePolicy("site = \"lyon\"\nmin_cell_count = 3\n", "p.toml");
  ASSERT_FALSE(looser.ok());
  EXPECT_EQ(looser.status().message(),
            "p.toml:2:18: min_cell_count = 3 is looser than the consortium default 5; a site may "
            "only tighten it");
  EXPECT_FALSE(ParsePolicy("site = \"x\"\nmax_parameters_per_record = 0.5\n", "p").ok());
}

TEST(Policy, RefusesUnknownKeysAndAnalyses) {
  EXPECT_FALSE(ParsePolicy("site = \"x\"\nmin_cel_count = 5\n", "p").ok());
  const std::vector<std::string> analyses = {"table"};
  EXPECT_FALSE(ParsePolicy("site = \"x\"\nallowed_analyses = [\"rows\"]\n", "p", analyses).ok());
  EXPECT_TRUE(ParsePolicy("site = \"x\"\nallowed_analyses = [\"table\"]\n", "p", analyses).ok());
  EXPECT_FALSE(ParsePolicy("site = \"x\"\napproval = \"sometimes\"\n", "p").ok());
  EXPECT_FALSE(ParsePolicy("site = [", "p").ok());
  EXPECT_FALSE(ParsePolicy("min_cell_count = 5\n", "p").ok());
  // Found by fuzzing: a site name with a newline did not survive the round trip.
  EXPECT_FALSE(ParsePolicy("site = \"wuh\\n\"\n", "p").ok());
}

}  // namespace
}  // namespace passerelle::privacy
