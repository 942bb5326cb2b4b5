#include "passerelle/formula/expr.h"

#include <gtest/gtest.h>

#include "passerelle/base/text.h"

namespace passerelle::formula {
namespace {

std::string RoundTrip(std::string_view source) {
  auto e = ParseExpr(source, "test");
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? Deparse(*e) : "";
}

TEST(Expr, DeparsesAsR) {
  EXPECT_EQ(RoundTrip("Surv(time,status==2)~age+sex"), "Surv(time, status == 2) ~ age + sex");
  EXPECT_EQ(RoundTrip("I(age ^ 2)"), "I(age^2)");
  EXPECT_EQ(RoundTrip("a : b"), "a:b");
  EXPECT_EQ(RoundTrip("factor(x, levels=c('a', \"b\"))"), "factor(x, levels = c(\"a\", \"b\"))");
  EXPECT_EQ(RoundTrip("offset(log(futime))"), "offset(log(futime))");
  EXPECT_EQ(RoundTrip("!is.na(psa) & (organ %in% c(\"prostate\"))"),
            "!is.na(psa) & (organ %in% c(\"prostate\"))");
  EXPECT_EQ(RoundTrip("`weird name` > 1e-3"), "weird name > 0.001");
}

TEST(Expr, PrecedenceFollowsR) {
  auto e = ParseExpr("-x^2", "t");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->kind, Expr::Kind::kUnary);  // -(x^2)
  e = ParseExpr("a + b * c", "t");
  EXPECT_TRUE(e->IsBinary("+"));
  e = ParseExpr("a | b & c", "t");
  EXPECT_TRUE(e->IsBinary("|"));
  e = ParseExpr("x %in% c(1, 2) == TRUE", "t");
  EXPECT_TRUE(e->IsBinary("=="));
  e = ParseExpr("a:b*c", "t");
  EXPECT_TRUE(e->IsBinary("*"));
  std::vector<std::string> names;
  CollectNames(*ParseExpr("Surv(t, s) ~ age + factor(x, levels = c(\"a\"))", "t"), &names);
  EXPECT_EQ(names, (std::vector<std::string>{"t", "s", "age", "x"}));
}

TEST(Expr, ErrorsPointAtTheColumn) {
  auto e = ParseExpr("Surv(time ~ age", "formula");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message(),
            "formula 'Surv(time ~ age': column 16: expected ',' or ')' in the arguments of Surv()");
  EXPECT_FALSE(ParseExpr("a +", "f").ok());
  EXPECT_FALSE(ParseExpr("a $ b", "f").ok());
  EXPECT_FALSE(ParseExpr("\"open", "f").ok());
  EXPECT_FALSE(ParseExpr("a %% b", "f").ok());
  EXPECT_FALSE(ParseExpr("", "f").ok());
}

TEST(Expr, NamesInAnyScriptAndMessagesThatStayText) {
  // R reads âge and 年龄 as names; a message quotes whole characters, never a byte of one.
  auto e = ParseExpr("âge > 1 & 年龄 < 2", "subset");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  std::vector<std::string> names;
  CollectNames(*e, &names);
  EXPECT_EQ(names, (std::vector<std::string>{"âge", "年龄"}));
  for (const char* bad : {"~ é $", "名字 ?", "x == \"é"}) {
    const auto error = ParseExpr(bad, "formula");
    ASSERT_FALSE(error.ok()) << bad;
    EXPECT_FALSE(FindInvalidUtf8(error.status().message()).has_value()) << bad;
  }
  const auto broken = ParseExpr(std::string("a + \xC3"), "subset");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().message(), "subset: byte 5 is not UTF-8 text");
}

TEST(Expr, DeepNestingIsRefusedNotAStackOverflow) {
  for (const std::string& deep :
       {std::string(3000, '(') + "x" + std::string(3000, ')'), std::string(5000, '-') + "x",
        std::string(5000, '!') + "x",
        "log(" + std::string(2000, '(') + "x" + std::string(2000, ')') + ")"}) {
    const auto e = ParseExpr(deep, "formula");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.status().message().find("nested deeper than 256 levels"), std::string::npos);
  }
  std::string chain = "x";
  for (int i = 0; i < 2000; ++i) chain += " + x";
  const auto long_chain = ParseExpr(chain, "formula");
  ASSERT_FALSE(long_chain.ok());
  EXPECT_NE(long_chain.status().message().find("nested deeper than"), std::string::npos);
  std::string fine = "x";
  for (int i = 0; i < 100; ++i) fine = "(" + fine + " + x)";
  EXPECT_TRUE(ParseExpr(fine, "formula").ok());
}

}  // namespace
}  // namespace passerelle::formula
