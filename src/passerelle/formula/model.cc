#include "passerelle/formula/model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_set>

#include "passerelle/formula/eval.h"

namespace passerelle::formula {
namespace {

Status FormulaError(const Formula& f, const std::string& message) {
  return InvalidArgument("formula '" + f.source + "': " + message);
}

// The set of terms an expression stands for (R's formula algebra): a + b, a:b, a*b, (a + b):c,
// - b, and the intercept 1 / 0 / -1.
std::string TermKey(const std::vector<Expr>& vars) {
  std::vector<std::string> names;
  for (const Expr& v : vars) names.push_back(Deparse(v));
  std::sort(names.begin(), names.end());
  std::string key;
  for (const auto& n : names) key += n + "\x1f";
  return key;
}

struct TermSet {
  std::vector<std::vector<Expr>> terms;
  std::vector<std::string> keys;       // TermKey of each term, in the same order
  std::unordered_set<std::string> in;  // the keys, for lookup
  int intercept = -1;                  // -1 unspecified, 0 removed, 1 present

  // Adds a term unless it is there (a:b is b:a); a variable repeated inside it counts once.
  void Add(std::vector<Expr> vars) {
    std::vector<Expr> unique;
    for (Expr& v : vars) {
      const std::string d = Deparse(v);
      if (std::none_of(unique.begin(), unique.end(),
                       [&](const Expr& u) { return Deparse(u) == d; })) {
        unique.push_back(std::move(v));
      }
    }
    std::string key = TermKey(unique);
    if (!in.insert(key).second) return;
    terms.push_back(std::move(unique));
    keys.push_back(std::move(key));
  }

  void Remove(const std::string& key) {
    if (!in.erase(key)) return;
    for (size_t i = 0; i < keys.size(); ++i) {
      if (keys[i] == key) {
        terms.erase(terms.begin() + static_cast<std::ptrdiff_t>(i));
        keys.erase(keys.begin() + static_cast<std::ptrdiff_t>(i));
        return;
      }
    }
  }
};

Result<TermSet> ExpandTerms(const Expr& e);

// More terms than a model may have columns is refused as the formula is read: a*b*c*... doubles
// the terms with each factor (2^15 of them from 100 characters).
Status TooManyTerms() {
  return InvalidArgument("the model would have more than " + std::to_string(kMaxModelColumns) +
                         " terms");
}

Result<TermSet> Expand(const Expr& e) {
  ASSIGN_OR_RETURN(TermSet out, ExpandTerms(e));
  if (out.terms.size() > kMaxModelColumns) return TooManyTerms();
  return out;
}

Result<TermSet> ExpandTerms(const Expr& e) {
  TermSet out;
  if (e.kind == Expr::Kind::kParen) return Expand(e.args[0]);
  if (e.kind == Expr::Kind::kNumber && (e.number == 0 || e.number == 1)) {
    out.intercept = static_cast<int>(e.number);
    return out;
  }
  if (e.kind == Expr::Kind::kBinary && (e.text == "+" || e.text == "-")) {
    ASSIGN_OR_RETURN(TermSet a, Expand(e.args[0]));
    ASSIGN_OR_RETURN(TermSet b, Expand(e.args[1]));
    out = std::move(a);
    if (e.text == "+") {
      for (auto& t : b.terms) out.Add(std::move(t));
      if (b.intercept >= 0) out.intercept = b.intercept;
    } else {
      for (const std::string& key : b.keys) out.Remove(key);
      if (b.intercept == 1) out.intercept = 0;
      if (b.intercept == 0) out.intercept = 1;
    }
    return out;
  }
  if (e.kind == Expr::Kind::kUnary && e.text == "-") {
    ASSIGN_OR_RETURN(TermSet b, Expand(e.args[0]));
    if (b.intercept == 1) out.intercept = 0;
    return out;
  }
  if (e.kind == Expr::Kind::kBinary && (e.text == ":" || e.text == "*")) {
    ASSIGN_OR_RETURN(TermSet a, Expand(e.args[0]));
    ASSIGN_OR_RETURN(TermSet b, Expand(e.args[1]));
    if (a.terms.size() * b.terms.size() > kMaxModelColumns) return TooManyTerms();
    if (e.text == "*") {
      for (const auto& t : a.terms) out.Add(t);
      for (const auto& t : b.terms) out.Add(t);
    }
    for (const auto& ta : a.terms) {
      for (const auto& tb : b.terms) {
        std::vector<Expr> product = ta;
        product.insert(product.end(), tb.begin(), tb.end());
        out.Add(std::move(product));
      }
    }
    return out;
  }
  out.Add({e});
  return out;
}

}  // namespace

Result<Formula> ParseFormula(std::string_view source) {
  Formula f;
  f.source = std::string(source);
  ASSIGN_OR_RETURN(Expr root, ParseExpr(source, "formula"));
  if (!root.IsBinary("~")) {
    return FormulaError(f, "a model formula has the form response ~ terms");
  }
  const Expr& lhs = root.args[0];
  if (lhs.IsCall("Surv")) {
    if (lhs.args.size() != 2 && lhs.args.size() != 3) {
      return FormulaError(f, "Surv() takes (time, event) or (start, stop, event)");
    }
    f.response = Formula::Response::kSurv;
    f.surv = lhs.args;
  } else {
    f.response = Formula::Response::kExpr;
    f.lhs = lhs;
  }
  Result<TermSet> expanded = Expand(root.args[1]);
  if (!expanded.ok()) return FormulaError(f, expanded.status().message());
  TermSet& set = *expanded;
  f.intercept = set.intercept != 0;
  for (auto& vars : set.terms) {
    if (vars.size() == 1 && vars[0].kind == Expr::Kind::kCall) {
      const std::string& name = vars[0].text;
      if (name == "strata") {
        for (const Expr& arg : vars[0].args) f.strata.push_back(arg);
        continue;
      }
      if (name == "cluster") {
        if (vars[0].args.size() != 1) return FormulaError(f, "cluster() takes one variable");
        f.clusters.push_back(vars[0].args[0]);
        continue;
      }
      if (name == "offset") {
        if (vars[0].args.size() != 1) return FormulaError(f, "offset() takes one expression");
        f.offsets.push_back(vars[0].args[0]);
        continue;
      }
    }
    for (const Expr& v : vars) {
      if (v.IsCall("strata") || v.IsCall("cluster") || v.IsCall("offset")) {
        return FormulaError(f, v.text + "() cannot be part of an interaction");
      }
      if (v.kind == Expr::Kind::kNumber || v.kind == Expr::Kind::kString) {
        return FormulaError(f, "'" + Deparse(v) + "' is not a variable");
      }
    }
    Term term;
    for (size_t i = 0; i < vars.size(); ++i) term.label += (i ? ":" : "") + Deparse(vars[i]);
    term.variables = std::move(vars);
    f.terms.push_back(std::move(term));
  }
  // R orders terms by their order: main effects, then two-way interactions, and so on.
  std::stable_sort(f.terms.begin(), f.terms.end(), [](const Term& a, const Term& b) {
    return a.variables.size() < b.variables.size();
  });
  return f;
}

namespace {

// Groups rows by the combination of several vectors' values; labels as R prints strata, and
// each group's key (ModelFrame::group_keys).
struct Grouping {
  std::vector<int32_t> codes;
  std::vector<std::string> labels;
  std::vector<std::vector<double>> keys;
};

Grouping GroupRows(const std::vector<Expr>& exprs, const std::vector<Vector>& vectors,
                   const std::vector<size_t>& rows) {
  Grouping g;
  std::vector<Vector> factors;
  for (const Vector& v : vectors) factors.push_back(AsFactor(v));
  // A group's codes and, the first time it is seen, its key.
  std::map<std::vector<int32_t>, int32_t> index;
  std::map<std::vector<int32_t>, std::vector<double>> keys;
  std::vector<int32_t> codes(factors.size());
  for (size_t r : rows) {
    for (size_t k = 0; k < factors.size(); ++k) codes[k] = factors[k].codes[r];
    if (!index.emplace(codes, 0).second) continue;
    std::vector<double>& key = keys[codes];
    for (size_t k = 0; k < factors.size(); ++k) {
      const Vector& v = vectors[k];
      key.push_back(v.type == Vector::Type::kFactor ? codes[k] : v.values[v.size() == 1 ? 0 : r]);
    }
  }
  int32_t next = 0;
  for (auto& [key, code] : index) {
    code = next++;
    std::string label;
    for (size_t k = 0; k < key.size(); ++k) {
      if (k) label += ", ";
      label += Deparse(exprs[k]) + "=" + factors[k].levels[key[k]];
    }
    g.labels.push_back(label);
    g.keys.push_back(std::move(keys[key]));
  }
  g.codes.reserve(rows.size());
  for (size_t r : rows) {
    for (size_t k = 0; k < factors.size(); ++k) codes[k] = factors[k].codes[r];
    g.codes.push_back(index[codes]);
  }
  return g;
}

}  // namespace

Status NoRowsLeft(const Formula& f) {
  return InvalidArgument("formula '" + f.source +
                         "': no rows left after the subset and removing missing values");
}

namespace {

// A numeric event's coding, from all its values: 0/1, or 1/2 (R's Surv() convention).
Result<FrameOptions::EventCoding> NumericEventCoding(const Formula& f, const Vector& v) {
  bool zero_one = true, one_two = true;
  for (double x : v.values) {
    if (x != x) continue;
    zero_one &= x == 0 || x == 1;
    one_two &= x == 1 || x == 2;
  }
  if (zero_one) return FrameOptions::EventCoding::kZeroOne;
  if (one_two) return FrameOptions::EventCoding::kOneTwo;
  return FormulaError(f,
                      "the event variable must be coded 0/1 or 1/2, or be a condition "
                      "such as status == 2");
}

// 0/1 event indicator from a logical, 0/1 or 1/2 (R's Surv() convention) coding; for
// survfit, a factor's codes: competing events, its first level censoring (R's multi-state
// Surv()).
Result<std::vector<double>> EventIndicator(const Formula& f, const Vector& v, bool competing,
                                           FrameOptions::EventCoding coding) {
  if (v.type == Vector::Type::kFactor && competing) {
    std::vector<double> out(v.codes.size());
    for (size_t i = 0; i < out.size(); ++i) {
      out[i] = v.codes[i] < 0 ? std::numeric_limits<double>::quiet_NaN() : v.codes[i];
    }
    return out;
  }
  if (v.type == Vector::Type::kFactor) {
    return FormulaError(f,
                        "the event must be numeric (0/1, 1/2) or a condition like status == 2 "
                        "(a factor of competing events: survfit only)");
  }
  std::vector<double> out = v.values;
  if (v.type == Vector::Type::kLogical) return out;
  if (coding == FrameOptions::EventCoding::kFromValues) {
    ASSIGN_OR_RETURN(coding, NumericEventCoding(f, v));
  }
  if (coding == FrameOptions::EventCoding::kOneTwo) {
    for (double& x : out) x = x != x ? x : x - 1;
  }
  return out;
}

// Competing events for a Cox frame (Fine–Gray's): a factor as it is, or whole numbers 0, 1, 2,
// ... as R's factor(status) — its levels the values present, the first censoring.
Result<std::vector<double>> CompetingCodes(const Formula& f, const Vector& v,
                                           std::vector<std::string>* levels) {
  if (v.type == Vector::Type::kFactor) {
    return EventIndicator(f, v, true, FrameOptions::EventCoding::kFromValues);
  }
  std::vector<double> values;
  for (double x : v.values) {
    if (x != x) continue;
    if (x < 0 || x != std::floor(x)) {
      return FormulaError(f, "competing events are a factor, or whole numbers with 0 censored");
    }
    values.push_back(x);
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  if (values.size() < 2 || values.back() < 2) {
    return EventIndicator(f, v, false, FrameOptions::EventCoding::kFromValues);
  }
  std::vector<double> out(v.values.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const double x = v.values[i];
    out[i] = x != x ? x
                    : static_cast<double>(std::lower_bound(values.begin(), values.end(), x) -
                                          values.begin());
  }
  levels->clear();
  for (double x : values) levels->push_back(std::to_string(static_cast<long long>(x)));
  return out;
}

}  // namespace

Result<ModelFrame> BuildModelFrame(const Formula& f, const data::Table& table, ModelKind kind,
                                   const std::string& subset, const FrameOptions& options) {
  const size_t n_all = table.rows;
  std::vector<uint8_t> keep(n_all, 1);
  ModelFrame m;
  if (!subset.empty()) {
    ASSIGN_OR_RETURN(Expr subset_expr, ParseExpr(subset, "subset"));
    ASSIGN_OR_RETURN(Vector s, Evaluate(subset_expr, table, "subset"));
    if (s.type == Vector::Type::kFactor || s.size() != n_all) {
      return InvalidArgument("subset '" + subset + "' must be a condition, e.g. age >= 18");
    }
    for (size_t i = 0; i < n_all; ++i) {
      if (!(s.values[i] == s.values[i] && s.values[i] != 0)) {
        keep[i] = 0;
        ++m.n_subset_out;
      }
    }
  }
  std::vector<uint8_t> complete = keep;
  auto require_numbers = [&](const std::vector<double>& values) {
    for (size_t i = 0; i < n_all; ++i) complete[i] &= values[i] == values[i];
  };
  auto require_complete = [&](const Vector& v) {
    if (v.size() != n_all) {
      for (size_t i = 0; i < n_all; ++i) complete[i] &= !v.IsNA(i);
    } else if (v.type == Vector::Type::kFactor) {
      for (size_t i = 0; i < n_all; ++i) complete[i] &= v.codes[i] >= 0;
    } else {
      require_numbers(v.values);
    }
  };
  auto eval = [&](const Expr& e) -> Result<Vector> {
    ASSIGN_OR_RETURN(Vector v, Evaluate(e, table, "formula '" + f.source + "'"));
    if (v.size() != n_all) return FormulaError(f, "'" + Deparse(e) + "' is not one value per row");
    require_complete(v);
    return v;
  };

  // Response.
  std::vector<Vector> surv;
  Vector lhs;
  if (kind != ModelKind::kRegression && f.response != Formula::Response::kSurv) {
    return FormulaError(f, "the response must be Surv(time, event)");
  }
  if (kind == ModelKind::kRegression && f.response != Formula::Response::kExpr) {
    return FormulaError(f, "a glm response is a variable or an expression, not Surv()");
  }
  if (f.response == Formula::Response::kSurv) {
    if (kind == ModelKind::kGroups && f.surv.size() == 3) {
      return FormulaError(f, "survfit and survdiff take Surv(time, event)");
    }
    for (const Expr& e : f.surv) {
      ASSIGN_OR_RETURN(Vector v, eval(e));
      surv.push_back(std::move(v));
    }
  } else {
    ASSIGN_OR_RETURN(lhs, eval(f.lhs));
  }

  // Terms, strata, clusters, offsets. A numeric variable of the data that enters only as a
  // main effect of a model is read where it is, not copied.
  std::map<std::string, Vector> variables;
  std::map<std::string, const std::vector<double>*> in_place;
  std::set<std::string> in_interactions;
  for (const Term& t : f.terms) {
    for (const Expr& v : t.variables) {
      if (t.variables.size() > 1) in_interactions.insert(Deparse(v));
    }
  }
  for (const Term& t : f.terms) {
    for (const Expr& v : t.variables) {
      const std::string key = Deparse(v);
      if (variables.count(key) || in_place.count(key)) continue;
      const data::Column* column = v.kind == Expr::Kind::kName
                                       ? table.Find(v.text)
                                       : static_cast<const data::Column*>(nullptr);
      if (kind != ModelKind::kGroups && column && column->is_numeric() && !column->integral &&
          !in_interactions.count(key)) {
        require_numbers(column->numbers);
        in_place.emplace(key, &column->numbers);
        continue;
      }
      ASSIGN_OR_RETURN(Vector value, eval(v));
      variables.emplace(key, std::move(value));
    }
  }
  std::vector<Vector> strata, clusters;
  for (const Expr& e : f.strata) {
    ASSIGN_OR_RETURN(Vector v, eval(e));
    strata.push_back(std::move(v));
  }
  for (const Expr& e : f.clusters) {
    ASSIGN_OR_RETURN(Vector v, eval(e));
    clusters.push_back(std::move(v));
  }
  std::vector<Vector> offsets;
  for (const Expr& e : f.offsets) {
    ASSIGN_OR_RETURN(Vector v, eval(e));
    if (v.type == Vector::Type::kFactor) return FormulaError(f, "offset() needs a number");
    offsets.push_back(std::move(v));
  }
  Vector weights;
  if (!options.weights.empty()) {
    ASSIGN_OR_RETURN(Expr e, ParseExpr(options.weights, "weights"));
    ASSIGN_OR_RETURN(weights, Evaluate(e, table, "weights"));
    if (weights.type == Vector::Type::kFactor || weights.size() != n_all) {
      return InvalidArgument("weights '" + options.weights + "': must be a number per row");
    }
    require_complete(weights);
  } else if (!options.weight_values.empty()) {
    if (options.weight_values.size() != n_all) {
      return InvalidArgument("weights: not one value per row");
    }
    for (size_t i = 0; i < n_all; ++i) {
      if (complete[i] && options.weight_values[i] != options.weight_values[i]) complete[i] = 0;
    }
  }
  for (const std::string& text : options.complete_in) {
    ASSIGN_OR_RETURN(Expr e, ParseExpr(text, "formula"));
    ASSIGN_OR_RETURN(Vector v, Evaluate(e, table, "formula"));
    if (v.size() != n_all) return InvalidArgument("'" + text + "' is not one value per row");
    require_complete(v);
  }

  m.rows.reserve(n_all);
  for (size_t i = 0; i < n_all; ++i) {
    if (complete[i]) {
      m.rows.push_back(i);
    } else if (keep[i]) {
      ++m.n_omitted_na;
    }
  }
  // Every row kept: columns are taken as they are.
  const bool all_rows = m.rows.size() == n_all;
  m.n = m.rows.size();
  // The frame's rows are numbered in the larger table once built (the slice's are indices into
  // its vectors meanwhile).
  const auto numbered = [&options](ModelFrame frame) {
    for (size_t& r : frame.rows) r += options.first_row;
    return frame;
  };
  if (m.n == 0 && options.slice) return m;
  if (m.n == 0) return NoRowsLeft(f);
  auto gather = [&](std::vector<double> column) {
    if (all_rows) return column;
    std::vector<double> out(m.n);
    for (size_t k = 0; k < m.n; ++k) out[k] = column[m.rows[k]];
    return out;
  };

  if (f.response == Formula::Response::kSurv) {
    const bool counting = f.surv.size() == 3;
    for (size_t a = 0; a + 1 < surv.size(); ++a) {
      if (surv[a].type == Vector::Type::kFactor) {
        return FormulaError(f, "survival times must be numbers");
      }
    }
    ASSIGN_OR_RETURN(
        std::vector<double> event,
        options.competing_events
            ? CompetingCodes(f, surv.back(), &m.event_levels)
            : EventIndicator(f, surv.back(), kind == ModelKind::kGroups, options.event_coding));
    if (surv.back().type == Vector::Type::kFactor) {
      if (counting) return FormulaError(f, "competing events need Surv(time, event)");
      m.event_levels = surv.back().levels;
    }
    m.time = gather(std::move(surv[counting ? 1 : 0].values));
    if (counting) m.start = gather(std::move(surv[0].values));
    m.status = gather(std::move(event));
    for (size_t k = 0; k < m.n; ++k) {
      if (counting && m.start[k] >= m.time[k]) {
        return FormulaError(f, "stop time must be greater than start time (row " +
                                   std::to_string(options.first_row + m.rows[k] + 1) + ")");
      }
      if (!counting && m.time[k] < 0) {
        return FormulaError(f, "survival times must not be negative (row " +
                                   std::to_string(options.first_row + m.rows[k] + 1) + ")");
      }
    }
  } else {
    if (lhs.type == Vector::Type::kFactor) {
      // A two-level factor response, as R's binomial: the first level is failure (0).
      if (lhs.levels.size() != 2) {
        return FormulaError(f, "a categorical response needs exactly two levels");
      }
      m.y.resize(m.n);
      for (size_t k = 0; k < m.n; ++k) m.y[k] = lhs.codes[m.rows[k]] == 1 ? 1.0 : 0.0;
    } else {
      m.y = gather(std::move(lhs.values));
    }
  }

  if (!offsets.empty()) {
    m.offset.assign(m.n, 0.0);
    for (const Vector& o : offsets) {
      for (size_t k = 0; k < m.n; ++k) m.offset[k] += o.values[m.rows[k]];
    }
  }
  if (!options.weights.empty() || !options.weight_values.empty()) {
    m.weights = gather(options.weights.empty() ? options.weight_values : weights.values);
    for (size_t k = 0; k < m.n; ++k) {
      if (!(m.weights[k] > 0) || !std::isfinite(m.weights[k])) {
        return InvalidArgument("weights '" + options.weights +
                               "': must be greater than 0 and finite (row " +
                               std::to_string(options.first_row + m.rows[k] + 1) + ")");
      }
    }
  }
  if (!strata.empty()) {
    Grouping g = GroupRows(f.strata, strata, m.rows);
    m.strata = std::move(g.codes);
    m.strata_labels = std::move(g.labels);
    m.strata_keys = std::move(g.keys);
  }
  if (!clusters.empty()) {
    Grouping g = GroupRows(f.clusters, clusters, m.rows);
    m.cluster = std::move(g.codes);
  }

  if (kind == ModelKind::kGroups) {
    std::vector<Expr> exprs;
    std::vector<Vector> vectors;
    for (const Term& t : f.terms) {
      if (t.variables.size() != 1) {
        return FormulaError(f, "groups are single variables; interactions are not allowed here");
      }
      exprs.push_back(t.variables[0]);
      vectors.push_back(variables.at(Deparse(t.variables[0])));
    }
    if (exprs.empty()) {
      m.group.assign(m.n, 0);
      m.group_labels = {"all"};
      m.group_keys = {{}};
    } else {
      Grouping g = GroupRows(exprs, vectors, m.rows);
      m.group = std::move(g.codes);
      m.group_labels = std::move(g.labels);
      m.group_keys = std::move(g.keys);
    }
    return numbered(std::move(m));
  }

  // Factor levels: those the rows use, and R's drop.unused.levels (or the levels asked for).
  for (auto& [key, value] : variables) {
    if (value.type != Vector::Type::kFactor) continue;
    std::vector<uint8_t> used(value.levels.size(), 0);
    for (size_t r : m.rows) used[value.codes[r]] = 1;
    m.all_levels[key] = value.levels;
    std::vector<std::string>& in_use = m.used_levels[key];
    for (size_t l = 0; l < used.size(); ++l) {
      if (used[l]) in_use.push_back(value.levels[l]);
    }
    const auto asked = options.levels.find(key);
    if (asked == options.levels.end() && !options.drop_unused_levels) continue;
    const std::vector<std::string>& kept = asked != options.levels.end() ? asked->second : in_use;
    std::vector<int32_t> recode(value.levels.size(), -1);
    for (size_t l = 0; l < value.levels.size(); ++l) {
      const auto it = std::find(kept.begin(), kept.end(), value.levels[l]);
      if (it != kept.end()) recode[l] = static_cast<int32_t>(it - kept.begin());
    }
    for (size_t r : m.rows) {
      if (recode[value.codes[r]] < 0) {
        return FormulaError(f, "level '" + value.levels[value.codes[r]] + "' of " + key +
                                   " is not among the levels asked for");
      }
    }
    for (int32_t& c : value.codes) c = c >= 0 ? recode[c] : c;
    value.levels = kept;
  }

  // Design matrix. Its columns are counted first, then each is written straight into m.x: a
  // term's columns are the products of its variables' columns (a variable's number, or the
  // indicator of one of its levels), in R's order, the first variable varying fastest.
  m.intercept = kind == ModelKind::kRegression && f.intercept;
  bool first_factor_full = kind == ModelKind::kRegression && !f.intercept;
  // One variable of a term: its numbers, or its codes and the levels that make columns.
  struct Part {
    const std::vector<double>* numbers = nullptr;
    const Vector* factor = nullptr;
    Vector converted;  // a logical variable as a factor
    bool full = false;
    size_t Count() const {
      return numbers                          ? 1
             : full || factor->levels.empty() ? factor->levels.size()
                                              : factor->levels.size() - 1;
    }
  };
  std::vector<std::vector<Part>> parts(f.terms.size());
  size_t columns = m.intercept ? 1 : 0;
  for (size_t ti = 0; ti < f.terms.size(); ++ti) {
    const Term& t = f.terms[ti];
    parts[ti] = std::vector<Part>(t.variables.size());  // not moved once filled: `factor` stays
    size_t term_columns = 1;
    for (size_t vi = 0; vi < t.variables.size(); ++vi) {
      const std::string key = Deparse(t.variables[vi]);
      Part& part = parts[ti][vi];
      if (const auto place = in_place.find(key); place != in_place.end()) {
        part.numbers = place->second;
      } else if (const Vector& value = variables.at(key);
                 value.type == Vector::Type::kFactor || value.type == Vector::Type::kLogical) {
        part.full = first_factor_full && t.variables.size() == 1;
        if (part.full) first_factor_full = false;
        if (value.type == Vector::Type::kLogical) part.converted = AsFactor(value);
        part.factor = value.type == Vector::Type::kLogical ? &part.converted : &value;
      } else {
        part.numbers = &value.values;
      }
      // Counted before they are built: a factor of an identifier, or an interaction of many
      // levels, would take the memory of the machine.
      term_columns *= part.Count();
      if (columns + term_columns > kMaxModelColumns) {
        return FormulaError(f, "the model would have more than " +
                                   std::to_string(kMaxModelColumns) + " columns (at '" + key +
                                   "'); use fewer levels or terms");
      }
    }
    columns += term_columns;
  }
  m.x.reserve(columns * m.n);
  if (m.intercept) {
    m.coef_names.push_back("(Intercept)");
    m.column_terms.push_back("(Intercept)");
    m.x.assign(m.n, 1.0);
  }
  // How many terms still need each variable, so its values are released after the last one.
  std::map<std::string, int> uses;
  for (const Term& t : f.terms) {
    for (const Expr& v : t.variables) ++uses[Deparse(v)];
  }
  auto row = [&](size_t k) { return all_rows ? k : m.rows[k]; };
  for (size_t ti = 0; ti < f.terms.size(); ++ti) {
    const Term& t = f.terms[ti];
    const std::vector<Part>& term = parts[ti];
    size_t count = 1;
    for (const Part& part : term) count *= part.Count();
    for (size_t c = 0; c < count; ++c) {
      // Column c: each variable's own column, the first variable's digit the fastest.
      std::string name;
      std::vector<int32_t> level(term.size(), -1);
      for (size_t vi = 0, rest = c; vi < term.size(); ++vi) {
        const Part& part = term[vi];
        name += (vi ? ":" : "") + Deparse(t.variables[vi]);
        if (part.numbers) continue;
        level[vi] = static_cast<int32_t>(rest % part.Count() + (part.full ? 0 : 1));
        rest /= part.Count();
        name += part.factor->levels[level[vi]];
      }
      m.coef_names.push_back(name);
      m.column_terms.push_back(t.label);
      if (term.size() == 1 && term[0].numbers) {  // a numeric main effect, the common case
        const std::vector<double>& values = *term[0].numbers;
        if (all_rows) {
          m.x.insert(m.x.end(), values.begin(), values.end());
        } else {
          for (size_t k = 0; k < m.n; ++k) m.x.push_back(values[m.rows[k]]);
        }
        continue;
      }
      for (size_t k = 0; k < m.n; ++k) {
        const size_t r = row(k);
        double x = 1.0;
        for (size_t vi = 0; vi < term.size(); ++vi) {
          x *= term[vi].numbers                         ? (*term[vi].numbers)[r]
               : term[vi].factor->codes[r] == level[vi] ? 1.0
                                                        : 0.0;
        }
        m.x.push_back(x);
      }
    }
    parts[ti].clear();
    for (const Expr& v : t.variables) {
      if (--uses[Deparse(v)] == 0) variables.erase(Deparse(v));
    }
  }
  return numbered(std::move(m));
}

namespace {

// Whether each row's value of `e` depends on that row alone: factor() and relevel() take their
// levels from the values present.
bool RowWise(const Expr& e) {
  if (e.IsCall("factor") || e.IsCall("relevel")) return false;
  return std::all_of(e.args.begin(), e.args.end(), RowWise);
}

}  // namespace

Result<FrameSlices> PlanFrameSlices(const Formula& f, const data::Table& table,
                                    const std::string& subset, FrameOptions options,
                                    size_t slice_rows) {
  FrameSlices plan;
  std::vector<Expr> exprs = f.surv;
  if (f.response == Formula::Response::kExpr) exprs.push_back(f.lhs);
  for (const Term& t : f.terms) exprs.insert(exprs.end(), t.variables.begin(), t.variables.end());
  for (const auto* more : {&f.strata, &f.clusters, &f.offsets}) {
    exprs.insert(exprs.end(), more->begin(), more->end());
  }
  for (const std::string* text : {&subset, static_cast<const std::string*>(&options.weights)}) {
    if (text->empty()) continue;
    ASSIGN_OR_RETURN(Expr e, ParseExpr(*text, text == &subset ? "subset" : "weights"));
    exprs.push_back(std::move(e));
  }
  for (const std::string& text : options.complete_in) {
    ASSIGN_OR_RETURN(Expr e, ParseExpr(text, "formula"));
    exprs.push_back(std::move(e));
  }
  const bool whole = !f.clusters.empty() || table.rows <= slice_rows ||
                     options.drop_unused_levels ||
                     !std::all_of(exprs.begin(), exprs.end(), RowWise);
  if (whole) {
    plan.options = std::move(options);
    plan.slice_rows = table.rows;
    plan.count = 1;
    return plan;
  }
  plan.slice_rows = slice_rows;
  plan.count = (table.rows + slice_rows - 1) / slice_rows;
  // A numeric event's coding is its values': all of them.
  if (f.response == Formula::Response::kSurv && !f.surv.empty()) {
    ASSIGN_OR_RETURN(Vector event, Evaluate(f.surv.back(), table, "formula '" + f.source + "'"));
    if (event.type == Vector::Type::kNumeric) {
      ASSIGN_OR_RETURN(options.event_coding, NumericEventCoding(f, event));
    }
  }
  options.slice = true;
  plan.options = std::move(options);
  return plan;
}

Result<ModelFrame> BuildFrameSlice(const Formula& f, const data::Table& table, ModelKind kind,
                                   const std::string& subset, const FrameSlices& plan,
                                   size_t slice) {
  if (plan.count == 1) return BuildModelFrame(f, table, kind, subset, plan.options);
  const size_t begin = slice * plan.slice_rows, end = std::min(table.rows, begin + plan.slice_rows);
  FrameOptions options = plan.options;
  options.first_row = begin;
  if (!options.weight_values.empty()) {
    options.weight_values.assign(plan.options.weight_values.begin() + begin,
                                 plan.options.weight_values.begin() + end);
  }
  return BuildModelFrame(f, data::SliceRows(table, begin, end), kind, subset, options);
}

Status ForEachFrameSlice(const Formula& f, const data::Table& table, ModelKind kind,
                         const std::string& subset, FrameOptions options, size_t slice_rows,
                         const std::function<Status(ModelFrame& frame)>& take) {
  ASSIGN_OR_RETURN(const FrameSlices plan,
                   PlanFrameSlices(f, table, subset, std::move(options), slice_rows));
  size_t n = 0;
  for (size_t s = 0; s < plan.count; ++s) {
    ASSIGN_OR_RETURN(ModelFrame m, BuildFrameSlice(f, table, kind, subset, plan, s));
    n += m.n;
    RETURN_IF_ERROR(take(m));
  }
  if (n == 0) return NoRowsLeft(f);
  return Status::Ok();
}

}  // namespace passerelle::formula
