#include "passerelle/analysis/run.h"

#include "passerelle/analysis/frames.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/distributions.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {
namespace {

// The model frame of a request, with the output it starts: the request and R's note on the
// rows dropped for missing values.
Result<formula::ModelFrame> StartFrame(const AnalysisRequest& request, const formula::Formula& f,
                                       const data::Table& table, formula::ModelKind kind,
                                       AnalysisOutput* out,
                                       const formula::FrameOptions& options = {}) {
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, kind, request.subset, options));
  out->request = request;
  if (request.bin_days < 0) return InvalidArgument("bin_days must not be negative");
  if (request.bin_days > 0) {
    for (double& t : m.time) t = privacy::BinTime(t, request.bin_days);
  }
  if (m.n_omitted_na) {
    out->notes.push_back(std::to_string(m.n_omitted_na) + " observation" +
                         (m.n_omitted_na == 1 ? "" : "s") + " deleted due to missingness");
  }
  return m;
}

Result<AnalysisOutput> RunCoxph(const AnalysisRequest& request, const formula::Formula& f,
                                const data::Table& table) {
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(request.ties));
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kCox, &out));
  CoxphOutput cox;
  cox.n_omitted_na = m.n_omitted_na;
  cox.ties = request.ties;
  for (size_t j = 0; j < m.p(); ++j) {
    double sum = 0;
    for (size_t i = 0; i < m.n; ++i) sum += m.X(i, j);
    cox.means.push_back(sum / static_cast<double>(m.n));
  }
  CoxphOptions options;
  options.ties = ties;
  options.robust = !m.cluster.empty();
  const std::vector<std::string> names = m.coef_names;
  const stats::CoxKernel kernel(CoxRowsFrom(std::move(m)));
  LocalCoxSite site(&kernel);
  ASSIGN_OR_RETURN(cox.fit, FitCoxph({&site}, names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

Result<AnalysisOutput> RunSurvfit(const AnalysisRequest& request, const formula::Formula& f,
                                  const data::Table& table) {
  if (request.conf_type != "log") {
    return InvalidArgument("conf.type '" + request.conf_type + "' is not available (log)");
  }
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kGroups, &out));
  SurvfitOutput km;
  km.strata = m.group_labels;
  km.SetStates(m.event_levels);
  const size_t causes = km.states.empty() ? 0 : km.states.size() - 1;
  for (size_t g = 0; g < m.group_labels.size(); ++g) {
    const stats::TimeCounts counts =
        stats::CountByTime(m.time, m.status, m.group, static_cast<int32_t>(g), causes);
    km.Add(counts);
  }
  out.result = std::move(km);
  return out;
}

Result<AnalysisOutput> RunSurvdiff(const AnalysisRequest& request, const formula::Formula& f,
                                   const data::Table& table) {
  AnalysisOutput out;
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kGroups, &out));
  const size_t k = m.group_labels.size();
  if (k < 2) return InvalidArgument("survdiff needs at least two groups");
  if (!m.event_levels.empty()) {
    return InvalidArgument("survdiff compares one kind of event: give it as 0/1 or a condition");
  }
  const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
  std::vector<stats::LogrankAggregate> per_stratum;
  for (size_t s = 0; s < strata; ++s) {
    std::vector<double> time, status;
    std::vector<int32_t> group;
    for (size_t i = 0; i < m.n; ++i) {
      if (!m.strata.empty() && m.strata[i] != static_cast<int32_t>(s)) continue;
      time.push_back(m.time[i]);
      status.push_back(m.status[i]);
      group.push_back(m.group[i]);
    }
    per_stratum.push_back(stats::LogrankStratum(time, status, group, k, request.rho));
  }
  out.result = SurvdiffFromStrata(request.rho, m.group_labels, m.strata_labels, per_stratum);
  return out;
}

Result<AnalysisOutput> RunGlm(const AnalysisRequest& request, const formula::Formula& f,
                              const data::Table& table) {
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(request.family));
  AnalysisOutput out;
  formula::FrameOptions options;
  options.drop_unused_levels = true;  // as R's glm
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   StartFrame(request, f, table, formula::ModelKind::kRegression, &out, options));
  const stats::GlmKernel kernel(GlmRowsFrom(m), family);
  const stats::GlmKernel null_kernel(NullGlmRowsFrom(m), family);
  GlmOutput glm;
  glm.n_omitted_na = m.n_omitted_na;
  LocalGlmSite site(&kernel), null_site(&null_kernel);
  ASSIGN_OR_RETURN(glm.fit, FitGlm({&site}, {&null_site}, m.coef_names, family, m.intercept));
  for (const std::string& w : glm.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(glm);
  return out;
}

Result<AnalysisOutput> RunTable(const AnalysisRequest& request, const data::Table& table) {
  if (request.rows.empty()) return InvalidArgument("table needs --rows VARIABLE");
  ASSIGN_OR_RETURN(std::vector<size_t> kept, SubsetRows(request.subset, table));
  auto factor_of = [&](const std::string& name) -> Result<formula::Vector> {
    ASSIGN_OR_RETURN(formula::Expr e, formula::ParseExpr(name, "table variable"));
    ASSIGN_OR_RETURN(formula::Vector v, formula::Evaluate(e, table, "table"));
    return formula::AsFactor(v);
  };
  ASSIGN_OR_RETURN(formula::Vector rows, factor_of(request.rows));
  formula::Vector cols;
  if (!request.cols.empty()) {
    ASSIGN_OR_RETURN(cols, factor_of(request.cols));
  }
  TableOutput t;
  t.rows = request.rows;
  t.cols = request.cols;
  t.row_levels = rows.levels;
  t.col_levels = cols.levels;
  const size_t nc = request.cols.empty() ? 1 : cols.levels.size();
  t.counts.assign(rows.levels.size() * nc, 0.0);
  t.cell_rows.resize(t.counts.size());
  for (size_t i : kept) {
    const int32_t r = rows.codes[rows.codes.size() == 1 ? 0 : i];
    const int32_t c = request.cols.empty() ? 0 : cols.codes[cols.codes.size() == 1 ? 0 : i];
    if (r < 0 || c < 0) {
      ++t.n_missing;
      continue;
    }
    t.counts[r * nc + c] += 1;
    t.cell_rows[r * nc + c].push_back(i);
    t.counted.push_back(i);
  }
  if (!request.cols.empty()) {
    t.chisq = stats::PearsonChiSquare(t.counts, t.row_levels.size(), nc, true);
  }
  AnalysisOutput out;
  out.request = request;
  if (t.n_missing)
    out.notes.push_back(std::to_string(t.n_missing) +
                        " rows with a missing value "
                        "are not counted");
  out.result = std::move(t);
  return out;
}

}  // namespace

Result<std::vector<size_t>> SubsetRows(const std::string& subset, const data::Table& table) {
  std::vector<size_t> rows;
  if (subset.empty()) {
    rows.resize(table.rows);
    for (size_t i = 0; i < table.rows; ++i) rows[i] = i;
    return rows;
  }
  ASSIGN_OR_RETURN(formula::Expr e, formula::ParseExpr(subset, "subset"));
  ASSIGN_OR_RETURN(formula::Vector s, formula::Evaluate(e, table, "subset"));
  if (s.type == formula::Vector::Type::kFactor) {
    return InvalidArgument("subset '" + subset + "' must be a condition");
  }
  for (size_t i = 0; i < table.rows; ++i) {
    if (s.values[i] == s.values[i] && s.values[i] != 0) rows.push_back(i);
  }
  return rows;
}

Result<stats::Ties> ParseTies(const std::string& ties) {
  if (ties == "efron") return stats::Ties::kEfron;
  if (ties == "breslow") return stats::Ties::kBreslow;
  if (ties == "exact") return stats::Ties::kExact;
  return InvalidArgument("ties must be efron, breslow or exact, not '" + ties + "'");
}

Result<stats::Family> ParseFamily(const std::string& family) {
  if (family == "binomial") return stats::Family::kBinomial;
  if (family == "poisson") return stats::Family::kPoisson;
  if (family == "gaussian") return stats::Family::kGaussian;
  return InvalidArgument("family must be binomial, poisson or gaussian, not '" + family + "'");
}

SurvdiffOutput SurvdiffFromStrata(double rho, std::vector<std::string> groups,
                                  std::vector<std::string> strata,
                                  const std::vector<stats::LogrankAggregate>& per_stratum) {
  SurvdiffOutput test;
  test.rho = rho;
  const size_t k = groups.size();
  const size_t ns = per_stratum.size();
  test.groups = std::move(groups);
  test.strata = std::move(strata);
  test.n.assign(k, 0.0);
  test.obs.assign(k, 0.0);
  test.exp.assign(k, 0.0);
  test.var.assign(k * k, 0.0);
  test.obs_by_stratum.assign(k * ns, 0.0);
  test.exp_by_stratum.assign(k * ns, 0.0);
  for (size_t s = 0; s < ns; ++s) {
    const stats::LogrankAggregate& a = per_stratum[s];
    for (size_t g = 0; g < k; ++g) {
      test.n[g] += a.n[g];
      test.obs[g] += a.obs[g];
      test.exp[g] += a.exp[g];
      test.obs_by_stratum[g * ns + s] = a.obs[g];
      test.exp_by_stratum[g * ns + s] = a.exp[g];
    }
    for (size_t i = 0; i < k * k; ++i) test.var[i] += a.var[i];
  }
  // R's survdiff: groups with no expected events leave the test; so does the first group.
  std::vector<size_t> used;
  for (size_t g = 0; g < k; ++g) {
    if (test.exp[g] > 0) used.push_back(g);
  }
  test.df = used.size() >= 2 ? static_cast<double>(used.size() - 1) : 0;
  if (used.size() >= 2) {
    const size_t q = used.size() - 1;
    std::vector<double> v(q * q), d(q);
    for (size_t a = 0; a < q; ++a) {
      d[a] = test.obs[used[a + 1]] - test.exp[used[a + 1]];
      for (size_t b = 0; b < q; ++b) v[a * q + b] = test.var[used[a + 1] * k + used[b + 1]];
    }
    const stats::SymmetricFactor factor(v, q, 1e-12);
    test.chisq = stats::QuadraticForm(factor, d);
    test.p = stats::ChiSquareUpper(test.chisq, test.df);
  }
  return test;
}

Result<AnalysisOutput> RunAnalysis(const AnalysisRequest& request, const data::Table& table) {
  if (request.function == "table") return RunTable(request, table);
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (request.function == "coxph") return RunCoxph(request, f, table);
  if (request.function == "survfit") return RunSurvfit(request, f, table);
  if (request.function == "survdiff") return RunSurvdiff(request, f, table);
  if (request.function == "glm") return RunGlm(request, f, table);
  return InvalidArgument("unknown analysis '" + request.function +
                         "' (coxph, survfit, survdiff, glm, table)");
}

}  // namespace passerelle::analysis
