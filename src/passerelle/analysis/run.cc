#include "passerelle/analysis/run.h"

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/base/text.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/distributions.h"
#include "passerelle/stats/linalg.h"

namespace passerelle::analysis {

// The model frame of a request, with the output it starts: the request and R's note on the
// rows dropped for missing values.
Result<formula::ModelFrame> StartFrame(const AnalysisRequest& request, const formula::Formula& f,
                                       const data::Table& table, formula::ModelKind kind,
                                       AnalysisOutput* out, const formula::FrameOptions& options) {
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
  const AnalysisKind* kind = FindAnalysisKind(request.function);
  if (!kind || !kind->run_local) {
    std::vector<std::string> local;
    for (const AnalysisKind& k : AnalysisKinds()) {
      if (k.run_local) local.push_back(k.name);
    }
    return InvalidArgument("unknown analysis '" + request.function + "' (" + Join(local, ", ") +
                           ")");
  }
  return kind->run_local(request, table);
}

}  // namespace passerelle::analysis
