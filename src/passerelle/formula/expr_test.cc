#include "passerelle/formula/expr.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace passerelle::formula
