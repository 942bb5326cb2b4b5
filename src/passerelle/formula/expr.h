// R expressions as biostatisticians write them, in subsets, I() terms, event codings and whole
// model formulas: a parser to a small syntax tree, and a deparser that prints a tree the way R
// does (it names the coefficients: "I(age^2)", "log(futime)").
#ifndef PASSERELLE_FORMULA_EXPR_H_
#define PASSERELLE_FORMULA_EXPR_H_

#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::formula {

struct Expr {
  enum class Kind {
    kNumber,   // 2, 0.5, 1e-3
    kString,   // "N1"
    kLogical,  // TRUE, FALSE
    kNA,       // NA
    kName,     // age, ph.ecog, `weird name`
    kCall,     // f(args): text is the function name; arg_names[i] is "" or the name
    kBinary,   // text is the operator: + - * / ^ : == != < <= > >= & | %in% ~
    kUnary,    // text is - + ! or ~ (one-sided formula)
    kParen,    // ( child )
  };
  Kind kind = Kind::kNA;
  std::string text;
  double number = 0;
  bool logical = false;
  std::vector<Expr> args;
  std::vector<std::string> arg_names;
  size_t position = 0;  // 0-based offset in the source, for messages

  bool IsCall(std::string_view name) const { return kind == Kind::kCall && text == name; }
  bool IsBinary(std::string_view op) const { return kind == Kind::kBinary && text == op; }
};

// Parses `source`. InvalidArgument names the column (1-based) and what was expected, e.g.
// "formula 'Surv(time ~ age': column 10: expected ')'". `what` names the input ("formula",
// "subset").
Result<Expr> ParseExpr(std::string_view source, std::string_view what);

// R's deparse: binary operators spaced except ^ and :, calls as f(a, b = c), strings in double
// quotes, numbers with up to 15 significant digits.
std::string Deparse(const Expr& expr);

// Names every variable the expression reads (kName leaves), in order of first appearance.
void CollectNames(const Expr& expr, std::vector<std::string>* names);

}  // namespace passerelle::formula

#endif  // PASSERELLE_FORMULA_EXPR_H_
