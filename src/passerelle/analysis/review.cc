#include "passerelle/analysis/review.h"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/kind_support.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {
namespace {

bool Sensitive(const data::Column* column) {
  if (!column) return false;
  const data::VarType t = column->variable.type;
  return t == data::VarType::kIdentifier || t == data::VarType::kText || t == data::VarType::kDate;
}

void AddNames(const formula::Expr& e, const data::Table& table, std::vector<std::string>* out) {
  std::vector<std::string> names;
  formula::CollectNames(e, &names);
  for (const std::string& name : names) {
    if (Sensitive(table.Find(name)) && std::find(out->begin(), out->end(), name) == out->end()) {
      out->push_back(name);
    }
  }
}

// The records whose value differs from the column's most common value.
double Minority(const formula::ModelFrame& m, size_t j) {
  std::map<double, double> counts;
  for (size_t i = 0; i < m.n; ++i) counts[m.X(i, j)] += 1;
  double most = 0;
  for (const auto& [value, count] : counts) most = std::max(most, count);
  return static_cast<double>(m.n) - most;
}

// The largest diagonal of the hat matrix X (X'X)^- X' of the design, with an intercept column
// added when the model has none (a Cox model's baseline absorbs it).
double MaxLeverage(const formula::ModelFrame& m) {
  const size_t p = m.p() + (m.intercept ? 0 : 1);
  if (m.n == 0 || p == 0) return 0;
  auto at = [&](size_t i, size_t j) { return j < m.p() ? m.X(i, j) : 1.0; };
  std::vector<double> xtx(p * p, 0);
  for (size_t i = 0; i < m.n; ++i) {
    for (size_t a = 0; a < p; ++a) {
      for (size_t b = 0; b <= a; ++b) xtx[a * p + b] += at(i, a) * at(i, b);
    }
  }
  const stats::SymmetricFactor factor(xtx, p, 1e-9);
  double most = 0;
  std::vector<double> row(p);
  for (size_t i = 0; i < m.n; ++i) {
    for (size_t a = 0; a < p; ++a) row[a] = at(i, a);
    most = std::max(most, stats::QuadraticForm(factor, row));
  }
  return most;
}

}  // namespace

Status ReviewLabels(const std::vector<std::string>& grouping, const data::Table& table,
                    privacy::ReviewFigures* f) {
  for (const std::string& e : grouping) {
    ASSIGN_OR_RETURN(double fewest, FewestUndeclaredLabel(e, table));
    f->labels.emplace_back(e, fewest);
  }
  return Status::Ok();
}

Status ReviewVariables(const AnalysisRequest& r, const data::Table& table,
                       privacy::ReviewFigures* f) {
  std::vector<std::string> grouping;
  for (const std::string& name : r.variables) {
    if (Sensitive(table.Find(name))) f->identifiers_or_dates.push_back(name);
  }
  for (const std::string& e : {r.rows, r.cols}) {
    if (e.empty()) continue;
    ASSIGN_OR_RETURN(formula::Expr parsed, formula::ParseExpr(e, "variable"));
    AddNames(parsed, table, &f->identifiers_or_dates);
    grouping.push_back(e);
  }
  return ReviewLabels(grouping, table, f);
}

Status ReviewFormula(const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f,
                     formula::Formula* parsed, bool* site_strata) {
  ASSIGN_OR_RETURN(formula::Formula formula, formula::ParseFormula(r.formula));
  for (const formula::Expr& e : formula.surv) AddNames(e, table, &f->identifiers_or_dates);
  for (size_t i = 0; i + 1 < formula.surv.size(); ++i) {
    const formula::Expr& t = formula.surv[i];
    const data::Column* column =
        t.kind == formula::Expr::Kind::kName ? table.Find(t.text) : nullptr;
    if (!column || !(column->variable.type == data::VarType::kInteger ||
                     column->variable.type == data::VarType::kNumber)) {
      f->time_expressions.push_back(formula::Deparse(t));
    }
  }
  if (formula.response == formula::Formula::Response::kExpr) {
    AddNames(formula.lhs, table, &f->identifiers_or_dates);
    if (formula.lhs.kind != formula::Expr::Kind::kName) {
      ASSIGN_OR_RETURN(formula::Vector y, formula::Evaluate(formula.lhs, table, "response"));
      if (y.type != formula::Vector::Type::kLogical) {
        f->response_transform = formula::Deparse(formula.lhs);
      }
    }
  }
  for (const auto* list : {&formula.strata, &formula.clusters, &formula.offsets}) {
    for (const formula::Expr& e : *list) AddNames(e, table, &f->identifiers_or_dates);
  }
  for (const formula::Term& term : formula.terms) {
    for (const formula::Expr& e : term.variables) AddNames(e, table, &f->identifiers_or_dates);
  }
  *site_strata = HasSiteStrata(formula);
  *parsed = std::move(formula);
  return Status::Ok();
}

Status ReviewModel(const AnalysisRequest& r, const data::Table& table, formula::ModelKind kind,
                   privacy::ReviewFigures* f, const formula::FrameOptions& options) {
  formula::Formula formula;
  bool site_strata = false;
  RETURN_IF_ERROR(ReviewFormula(r, table, f, &formula, &site_strata));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(formula, table, kind, r.subset, options));
  for (size_t j = 0; j < m.p(); ++j) f->minorities.emplace_back(m.coef_names[j], Minority(m, j));
  f->max_leverage = MaxLeverage(m);
  return Status::Ok();
}

Status ReviewCoxModel(const AnalysisRequest& r, const data::Table& table,
                      privacy::ReviewFigures* f) {
  return ReviewModel(r, table, formula::ModelKind::kCox, f);
}

Status ReviewCurves(const AnalysisRequest& r, const data::Table& table, privacy::ReviewFigures* f,
                    bool exact_with_site_strata) {
  formula::Formula formula;
  bool site_strata = false;
  RETURN_IF_ERROR(ReviewFormula(r, table, f, &formula, &site_strata));
  f->bin_days = exact_with_site_strata && site_strata ? 0 : BinDaysOf(r);
  std::vector<std::string> grouping;
  for (const formula::Term& term : formula.terms) grouping.push_back(term.label);
  for (const formula::Expr& e : formula.strata) grouping.push_back(formula::Deparse(e));
  return ReviewLabels(grouping, table, f);
}

ProtocolReview ReviewProtocol(std::span<const std::pair<std::string, AnalysisRequest>> analyses,
                              const data::Table& table, const privacy::Policy& policy) {
  ProtocolReview review;
  // The protocol's survival times: no analysis of it may choose its records by them (a subset
  // os_days <= T pads a population with records known to leave after T).
  std::vector<std::string> times;
  for (const auto& [id, request] : analyses) {
    Result<formula::Formula> f = formula::ParseFormula(request.formula);
    for (size_t i = 0; f.ok() && i + 1 < f->surv.size(); ++i) {
      formula::CollectNames(f->surv[i], &times);
    }
  }
  for (const auto& [id, request] : analyses) {
    if (request.subset.empty() || times.empty()) continue;
    Result<formula::Expr> subset = formula::ParseExpr(request.subset, "subset");
    std::vector<std::string> names;
    if (subset.ok()) formula::CollectNames(*subset, &names);
    for (const std::string& name : names) {
      const data::Column* column = table.Find(name);
      if (std::find(times.begin(), times.end(), name) != times.end() ||
          (column &&
           (column->variable.type == data::VarType::kDate || column->variable.unit == "days"))) {
        review.flags.push_back({id, "time_subset",
                                "chooses its records by '" + name +
                                    "', a time, a duration or a date, in a protocol with survival "
                                    "analyses: records known to leave after a time pad a "
                                    "population around the few the rest of the condition tells "
                                    "apart"});
        break;
      }
    }
  }
  for (const auto& [id, request] : analyses) {
    privacy::ReviewFigures figures;
    figures.analysis = id;
    const AnalysisKind* kind = FindAnalysisKind(request.function);
    Status measured = kind ? Status::Ok() : InvalidArgument("unknown analysis");
    if (measured.ok() && !request.subset.empty()) {
      Result<formula::Expr> subset = formula::ParseExpr(request.subset, "subset");
      if (subset.ok()) AddNames(*subset, table, &figures.identifiers_or_dates);
      measured = subset.status();
    }
    if (measured.ok()) measured = kind->review(request, table, &figures);
    if (Status s = measured; !s.ok()) {
      review.flags.push_back({id, "cannot_run", s.message()});
      continue;
    }
    for (privacy::ReviewFlag& flag : privacy::ReviewAnalysis(figures, policy)) {
      review.flags.push_back(std::move(flag));
    }
    // The site's rules on the first step, as the node would apply them; its populations.
    Result<LocalRelease> first = RunParsedLocalStep(kind->first_step(request), table, policy);
    if (!first.ok()) {
      review.flags.push_back(
          {id, first.status().code() == StatusCode::kPermissionDenied ? "refused" : "cannot_run",
           first.status().message()});
      continue;
    }
    review.releases.push_back({id, std::move(first->cohorts), std::move(first->counts)});
  }
  return review;
}

}  // namespace passerelle::analysis
