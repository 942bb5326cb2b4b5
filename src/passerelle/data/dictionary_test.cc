#include "passerelle/data/dictionary.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace passerelle::data {
namespace {

TEST(Dictionary, BuiltinGuCohortMatchesTheShippedFile) {
  std::ifstream in(std::string(PASSERELLE_SOURCE_DIR) + "/dictionaries/gu_cohort.v1.toml");
  std::stringstream file;
  file << in.rdbuf();
  ASSERT_TRUE(BuiltinDictionaryText("gu_cohort.v1"));
  EXPECT_EQ(*BuiltinDictionaryText("gu_cohort.v1"), file.str());
  auto d = ParseDictionary(file.str(), "gu_cohort.v1.toml");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->Id(), "gu_cohort.v1");
  EXPECT_EQ(d->rules.size(), 7u);
  EXPECT_EQ(d->derivation, "gu_cohort_v1");
  EXPECT_EQ(d->variables[d->IndexOf("organ")].levels.front(), "prostate");
  EXPECT_TRUE(d->variables[d->IndexOf("os_days")].derived);
  EXPECT_EQ(d->variables[d->IndexOf("psa_dx")].min, 0.0);
}

TEST(Dictionary, TomlRoundTrip) {
  auto d = ParseDictionary(*BuiltinDictionaryText("gu_cohort.v1"), "gu");
  ASSERT_TRUE(d.ok());
  auto again = ParseDictionary(DictionaryToToml(*d), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->variables.size(), d->variables.size());
  for (size_t i = 0; i < d->variables.size(); ++i) {
    EXPECT_EQ(again->variables[i].name, d->variables[i].name);
    EXPECT_EQ(again->variables[i].type, d->variables[i].type);
    EXPECT_EQ(again->variables[i].levels, d->variables[i].levels);
    EXPECT_EQ(again->variables[i].min, d->variables[i].min);
    EXPECT_EQ(again->variables[i].required, d->variables[i].required);
    EXPECT_EQ(again->variables[i].derived, d->variables[i].derived);
  }
  EXPECT_EQ(again->rules, d->rules);
}

// Levels as a file gave them (a carriage return inside a quoted cell, a DEL) are written so that
// TOML reads them back: a dictionary that `dictionary infer` wrote is one an import reads.
TEST(Dictionary, ControlCharactersInLevelsRoundTrip) {
  Dictionary d;
  d.name = "odd";
  Variable v;
  v.name = "note";
  v.type = VarType::kCategory;
  v.levels = {"a\r\nb", "x\x7Fy", "tab\there", "quote\"back\\", "\x01"};
  d.variables.push_back(v);
  auto again = ParseDictionary(DictionaryToToml(d), "again");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << DictionaryToToml(d);
  ASSERT_EQ(again->variables.size(), 1u);
  EXPECT_EQ(again->variables[0].levels, v.levels);
}

TEST(Dictionary, ErrorsNameTheirPlace) {
  auto bad_type =
      ParseDictionary("name = \"x\"\n[[variable]]\nname = \"a\"\ntype = \"float\"\n", "x.toml");
  ASSERT_FALSE(bad_type.ok());
  EXPECT_EQ(bad_type.status().message(),
            "x.toml:2:1: a: unknown type 'float' (integer, number, date, category, identifier, "
            "text)");
  EXPECT_FALSE(ParseDictionary("name = \"x\"\n[[variable]]\nname = \"a\"\ntype = \"integer\"\n"
                               "[[variable]]\nname = \"a\"\ntype = \"integer\"\n",
                               "x")
                   .ok());
  EXPECT_FALSE(ParseDictionary("name = \"x\"\nrules = [\"nonsense\"]\n[[variable]]\nname = \"a\"\n"
                               "type = \"integer\"\n",
                               "x")
                   .ok());
  EXPECT_FALSE(ParseDictionary("name = \"x\"\n[[variable]]\nname = \"a\"\ntype = \"integer\"\n"
                               "colour = 1\n",
                               "x")
                   .ok());
  EXPECT_FALSE(ParseDictionary("name = \"x\"\n[[variable]]\nname = \"a\"\ntype = \"text\"\n"
                               "min = 1\n",
                               "x")
                   .ok());
  EXPECT_FALSE(ParseDictionary("name = \"x\"\n[[variable]]\nname = \"a\"\ntype = \"category\"\n"
                               "levels = [\"u\", \"u\"]\n",
                               "x")
                   .ok());
  auto syntax = ParseDictionary("name = \"x\n", "s.toml");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.status().message().rfind("s.toml:1:", 0), 0u);
}

}  // namespace
}  // namespace passerelle::data
