#include "passerelle/formula/eval.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <unordered_map>

namespace passerelle::formula {
namespace {

constexpr double kNA = std::numeric_limits<double>::quiet_NaN();

bool IsNan(double x) { return x != x; }

Vector Numeric(std::vector<double> values, Vector::Type type = Vector::Type::kNumeric) {
  Vector v;
  v.type = type;
  v.values = std::move(values);
  return v;
}

class Evaluator {
 public:
  Evaluator(const data::Table& table, std::string_view what) : table_(table), what_(what) {}

  Result<Vector> Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kNumber:
        return Numeric({e.number});
      case Expr::Kind::kLogical:
        return Numeric({e.logical ? 1.0 : 0.0}, Vector::Type::kLogical);
      case Expr::Kind::kNA:
        return Numeric({kNA}, Vector::Type::kLogical);
      case Expr::Kind::kString: {
        Vector v;
        v.type = Vector::Type::kFactor;
        v.levels = {e.text};
        v.codes = {0};
        return v;
      }
      case Expr::Kind::kName:
        return Column(e);
      case Expr::Kind::kParen:
        return Eval(e.args[0]);
      case Expr::Kind::kUnary:
        return UnaryOp(e);
      case Expr::Kind::kBinary:
        return BinaryOp(e);
      case Expr::Kind::kCall:
        return Call(e);
    }
    return Fail(e, "cannot evaluate");
  }

 private:
  Status Fail(const Expr& e, const std::string& message) const {
    return InvalidArgument(std::string(what_) + ": " + message + " (at '" + Deparse(e) + "')");
  }

  Result<Vector> Column(const Expr& e) {
    const data::Column* c = table_.Find(e.text);
    if (!c) return Fail(e, "no variable '" + e.text + "' in the data");
    Vector v;
    if (c->is_numeric()) {
      v.type = Vector::Type::kNumeric;
      v.values = c->Numbers();
    } else if (c->variable.type == data::VarType::kCategory) {
      v.type = Vector::Type::kFactor;
      v.codes = c->codes;
      v.levels = c->levels;
    } else {
      // Identifiers and text as a factor of their distinct values (sorted by bytes).
      v.type = Vector::Type::kFactor;
      std::map<std::string, int32_t> index;
      for (size_t i = 0; i < c->texts.size(); ++i) {
        if (!c->text_missing[i]) index.emplace(c->texts[i], 0);
      }
      int32_t next = 0;
      for (auto& [text, code] : index) {
        code = next++;
        v.levels.push_back(text);
      }
      v.codes.resize(c->texts.size());
      for (size_t i = 0; i < c->texts.size(); ++i) {
        v.codes[i] = c->text_missing[i] ? -1 : index[c->texts[i]];
      }
    }
    return v;
  }

  Result<size_t> CommonSize(const Expr& e, const Vector& a, const Vector& b) {
    if (a.size() == b.size() || b.size() == 1) return a.size();
    if (a.size() == 1) return b.size();
    return Fail(e, "operands have different lengths");
  }

  static double At(const Vector& v, size_t i) { return v.values[v.values.size() == 1 ? 0 : i]; }
  static int32_t CodeAt(const Vector& v, size_t i) { return v.codes[v.codes.size() == 1 ? 0 : i]; }

  Result<Vector> UnaryOp(const Expr& e) {
    if (e.text == "~") return Fail(e, "a formula is not a value");
    ASSIGN_OR_RETURN(Vector v, Eval(e.args[0]));
    if (v.type == Vector::Type::kFactor) {
      return Fail(e, "'" + e.text + "' needs a number or a logical, not a category");
    }
    if (e.text == "!") {
      for (double& x : v.values) x = IsNan(x) ? kNA : (x == 0 ? 1.0 : 0.0);
      v.type = Vector::Type::kLogical;
    } else if (e.text == "-") {
      for (double& x : v.values) x = -x;
      v.type = Vector::Type::kNumeric;
    }
    return v;
  }

  // Per-level text of a factor, and a lookup so factor comparisons work on strings.
  static std::string TextAt(const Vector& v, size_t i) {
    const int32_t code = CodeAt(v, i);
    return code < 0 ? std::string() : v.levels[code];
  }

  Result<Vector> Compare(const Expr& e, const Vector& a, const Vector& b) {
    ASSIGN_OR_RETURN(size_t n, CommonSize(e, a, b));
    const std::string& op = e.text;
    std::vector<double> out(n);
    const bool fa = a.type == Vector::Type::kFactor, fb = b.type == Vector::Type::kFactor;
    if (fa || fb) {
      if (op != "==" && op != "!=") {
        return Fail(e, "'" + op + "' does not order categories; use == or != or %in%");
      }
      // A category against one value: decide per level, not per row.
      if (fa && b.size() == 1 && !b.IsNA(0)) {
        const std::string other = fb ? TextAt(b, 0) : FormatRNumber(At(b, 0));
        std::vector<double> by_level(a.levels.size());
        for (size_t l = 0; l < a.levels.size(); ++l) {
          by_level[l] = (a.levels[l] == other) == (op == "==") ? 1.0 : 0.0;
        }
        for (size_t i = 0; i < n; ++i) {
          const int32_t c = CodeAt(a, i);
          out[i] = c < 0 ? kNA : by_level[c];
        }
        return Numeric(std::move(out), Vector::Type::kLogical);
      }
      // Compare as text, as R does; a number on the other side is printed first.
      auto texts = [&](const Vector& v) {
        std::vector<std::string> t;
        if (v.type == Vector::Type::kFactor) return v.levels;
        return t;
      };
      const std::vector<std::string> la = texts(a), lb = texts(b);
      for (size_t i = 0; i < n; ++i) {
        std::string sa, sb;
        bool na = false;
        if (fa) {
          const int32_t c = CodeAt(a, i);
          na |= c < 0;
          if (c >= 0) sa = la[c];
        } else {
          const double x = At(a, i);
          na |= IsNan(x);
          sa = FormatRNumber(x);
        }
        if (fb) {
          const int32_t c = CodeAt(b, i);
          na |= c < 0;
          if (c >= 0) sb = lb[c];
        } else {
          const double x = At(b, i);
          na |= IsNan(x);
          sb = FormatRNumber(x);
        }
        out[i] = na ? kNA : ((sa == sb) == (op == "==") ? 1.0 : 0.0);
      }
      return Numeric(std::move(out), Vector::Type::kLogical);
    }
    for (size_t i = 0; i < n; ++i) {
      const double x = At(a, i), y = At(b, i);
      if (IsNan(x) || IsNan(y)) {
        out[i] = kNA;
        continue;
      }
      bool r = false;
      if (op == "==")
        r = x == y;
      else if (op == "!=")
        r = x != y;
      else if (op == "<")
        r = x < y;
      else if (op == "<=")
        r = x <= y;
      else if (op == ">")
        r = x > y;
      else
        r = x >= y;
      out[i] = r ? 1.0 : 0.0;
    }
    return Numeric(std::move(out), Vector::Type::kLogical);
  }

  Result<Vector> In(const Vector& a, const Vector& set) {
    std::vector<double> out(a.size());
    if (a.type == Vector::Type::kFactor || set.type == Vector::Type::kFactor) {
      std::vector<std::string> members;
      for (size_t i = 0; i < set.size(); ++i) {
        members.push_back(set.type == Vector::Type::kFactor ? TextAt(set, i)
                                                            : FormatRNumber(At(set, i)));
      }
      for (size_t i = 0; i < a.size(); ++i) {
        const bool na = a.IsNA(i);
        const std::string text =
            a.type == Vector::Type::kFactor ? TextAt(a, i) : FormatRNumber(At(a, i));
        out[i] = !na && std::find(members.begin(), members.end(), text) != members.end();
      }
    } else {
      for (size_t i = 0; i < a.size(); ++i) {
        const double x = At(a, i);
        bool found = false;
        for (double y : set.values) found |= !IsNan(x) && x == y;
        out[i] = found;
      }
    }
    return Numeric(std::move(out), Vector::Type::kLogical);
  }

  Result<Vector> BinaryOp(const Expr& e) {
    if (e.text == "~") return Fail(e, "a formula is not a value");
    ASSIGN_OR_RETURN(Vector a, Eval(e.args[0]));
    ASSIGN_OR_RETURN(Vector b, Eval(e.args[1]));
    const std::string& op = e.text;
    if (op == "%in%") return In(a, b);
    if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
      return Compare(e, a, b);
    }
    if (a.type == Vector::Type::kFactor || b.type == Vector::Type::kFactor) {
      return Fail(e, "'" + op + "' needs numbers, not a category");
    }
    ASSIGN_OR_RETURN(size_t n, CommonSize(e, a, b));
    std::vector<double> out(n);
    if (op == "&" || op == "|") {
      const bool is_and = op == "&";
      for (size_t i = 0; i < n; ++i) {
        const double x = At(a, i), y = At(b, i);
        const bool xn = IsNan(x), yn = IsNan(y);
        const bool xt = !xn && x != 0, yt = !yn && y != 0;
        if (is_and) {
          out[i] = (!xn && !xt) || (!yn && !yt) ? 0.0 : (xn || yn ? kNA : 1.0);
        } else {
          out[i] = xt || yt ? 1.0 : (xn || yn ? kNA : 0.0);
        }
      }
      return Numeric(std::move(out), Vector::Type::kLogical);
    }
    for (size_t i = 0; i < n; ++i) {
      const double x = At(a, i), y = At(b, i);
      if (op == "+")
        out[i] = x + y;
      else if (op == "-")
        out[i] = x - y;
      else if (op == "*")
        out[i] = x * y;
      else if (op == "/")
        out[i] = x / y;
      else if (op == "^")
        out[i] = std::pow(x, y);
      else
        return Fail(e, "'" + op + "' is not a value operator here");
    }
    return Numeric(std::move(out));
  }

  Result<Vector> Call(const Expr& e) {
    const std::string& f = e.text;
    auto one_arg = [&]() -> Result<Vector> {
      if (e.args.size() != 1) return Fail(e, f + "() takes one argument");
      return Eval(e.args[0]);
    };
    if (f == "I" || f == "as.numeric") {
      ASSIGN_OR_RETURN(Vector v, one_arg());
      if (f == "as.numeric" && v.type == Vector::Type::kLogical) v.type = Vector::Type::kNumeric;
      return v;
    }
    if (f == "is.na") {
      ASSIGN_OR_RETURN(Vector v, one_arg());
      std::vector<double> out(v.size());
      for (size_t i = 0; i < v.size(); ++i) out[i] = v.IsNA(i) ? 1.0 : 0.0;
      return Numeric(std::move(out), Vector::Type::kLogical);
    }
    if (f == "log" || f == "log2" || f == "log10" || f == "exp" || f == "sqrt" || f == "abs") {
      ASSIGN_OR_RETURN(Vector v, one_arg());
      if (v.type == Vector::Type::kFactor) return Fail(e, f + "() needs a number");
      for (double& x : v.values) {
        if (f == "log")
          x = std::log(x);
        else if (f == "log2")
          x = std::log2(x);
        else if (f == "log10")
          x = std::log10(x);
        else if (f == "exp")
          x = std::exp(x);
        else if (f == "sqrt")
          x = std::sqrt(x);
        else
          x = std::fabs(x);
        if (std::isinf(x) || x != x) x = x != x ? kNA : x;
      }
      v.type = Vector::Type::kNumeric;
      return v;
    }
    if (f == "c") {
      Vector out;
      bool any_text = false;
      std::vector<Vector> parts;
      for (const Expr& arg : e.args) {
        ASSIGN_OR_RETURN(Vector v, Eval(arg));
        any_text |= v.type == Vector::Type::kFactor;
        parts.push_back(std::move(v));
      }
      if (any_text) {
        out.type = Vector::Type::kFactor;
        for (const Vector& v : parts) {
          for (size_t i = 0; i < v.size(); ++i) {
            const std::string t =
                v.type == Vector::Type::kFactor ? TextAt(v, i) : FormatRNumber(At(v, i));
            out.codes.push_back(static_cast<int32_t>(out.levels.size()));
            out.levels.push_back(t);
          }
        }
      } else {
        for (const Vector& v : parts)
          out.values.insert(out.values.end(), v.values.begin(), v.values.end());
      }
      return out;
    }
    if (f == "factor") return Factor(e);
    if (f == "relevel") return Relevel(e);
    if (f == "strata" || f == "cluster" || f == "offset" || f == "Surv") {
      return Fail(e, f + "() is only allowed as a term of a model formula");
    }
    return Fail(e, "unknown function " + f + "()");
  }

  Result<Vector> Factor(const Expr& e) {
    if (e.args.empty()) return Fail(e, "factor() needs a variable");
    ASSIGN_OR_RETURN(Vector x, Eval(e.args[0]));
    Vector f = AsFactor(x);
    for (size_t a = 1; a < e.args.size(); ++a) {
      if (e.arg_names[a] != "levels") return Fail(e, "factor() takes only levels = c(...)");
      ASSIGN_OR_RETURN(Vector wanted, Eval(e.args[a]));
      std::vector<std::string> levels;
      for (size_t i = 0; i < wanted.size(); ++i) {
        levels.push_back(wanted.type == Vector::Type::kFactor ? TextAt(wanted, i)
                                                              : FormatRNumber(At(wanted, i)));
      }
      std::unordered_map<std::string, int32_t> index;
      for (size_t i = 0; i < levels.size(); ++i) index.emplace(levels[i], static_cast<int32_t>(i));
      std::vector<int32_t> remap(f.levels.size(), -1);
      for (size_t i = 0; i < f.levels.size(); ++i) {
        auto it = index.find(f.levels[i]);
        if (it != index.end()) remap[i] = it->second;  // values outside the levels become NA
      }
      for (int32_t& c : f.codes) c = c < 0 ? -1 : remap[c];
      f.levels = std::move(levels);
    }
    return f;
  }

  Result<Vector> Relevel(const Expr& e) {
    if (e.args.size() != 2 || e.arg_names[1] != "ref") {
      return Fail(e, "relevel() takes a variable and ref = \"level\"");
    }
    ASSIGN_OR_RETURN(Vector x, Eval(e.args[0]));
    ASSIGN_OR_RETURN(Vector ref, Eval(e.args[1]));
    Vector f = AsFactor(x);
    const std::string wanted =
        ref.type == Vector::Type::kFactor ? TextAt(ref, 0) : FormatRNumber(At(ref, 0));
    const auto it = std::find(f.levels.begin(), f.levels.end(), wanted);
    if (it == f.levels.end()) return Fail(e, "'" + wanted + "' is not a level");
    const int32_t r = static_cast<int32_t>(it - f.levels.begin());
    for (int32_t& c : f.codes) c = c < 0 ? c : c == r ? 0 : c < r ? c + 1 : c;
    f.levels.erase(f.levels.begin() + r);
    f.levels.insert(f.levels.begin(), wanted);
    return f;
  }

  const data::Table& table_;
  std::string_view what_;
};

}  // namespace

std::string FormatRNumber(double x) {
  if (x != x) return "NA";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", x);
  return buf;
}

Vector AsFactor(const Vector& v) {
  if (v.type == Vector::Type::kFactor) return v;
  Vector f;
  f.type = Vector::Type::kFactor;
  if (v.type == Vector::Type::kLogical) {
    f.levels = {"FALSE", "TRUE"};
    for (double x : v.values) f.codes.push_back(x != x ? -1 : x != 0 ? 1 : 0);
    return f;
  }
  std::vector<double> distinct;
  for (double x : v.values) {
    if (x == x) distinct.push_back(x);
  }
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (double x : distinct) f.levels.push_back(FormatRNumber(x));
  f.codes.reserve(v.values.size());
  for (double x : v.values) {
    if (x != x) {
      f.codes.push_back(-1);
    } else {
      f.codes.push_back(static_cast<int32_t>(std::lower_bound(distinct.begin(), distinct.end(), x) -
                                             distinct.begin()));
    }
  }
  return f;
}

Result<Vector> Evaluate(const Expr& expr, const data::Table& table, std::string_view what) {
  Evaluator evaluator(table, what);
  ASSIGN_OR_RETURN(Vector v, evaluator.Eval(expr));
  // Broadcast a constant to the table's length.
  if (v.size() == 1 && table.rows != 1) {
    if (v.type == Vector::Type::kFactor) {
      v.codes.assign(table.rows, v.codes[0]);
    } else {
      v.values.assign(table.rows, v.values[0]);
    }
  }
  return v;
}

}  // namespace passerelle::formula
