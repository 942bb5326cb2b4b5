#include "passerelle/analysis/run.h"

#include "passerelle/formula/model.h"

namespace passerelle::analysis {
namespace {

Result<stats::Ties> ParseTies(const std::string& ties) {
  if (ties == "efron") return stats::Ties::kEfron;
  if (ties == "breslow") return stats::Ties::kBreslow;
  if (ties == "exact") return stats::Ties::kExact;
  return InvalidArgument("ties must be efron, breslow or exact, not '" + ties + "'");
}

void NoteDropped(const formula::ModelFrame& m, std::vector<std::string>* notes) {
  if (m.n_omitted_na) {
    notes->push_back(std::to_string(m.n_omitted_na) + " observation" +
                     (m.n_omitted_na == 1 ? "" : "s") + " deleted due to missingness");
  }
}

Result<AnalysisOutput> RunCoxph(const AnalysisRequest& request, const formula::Formula& f,
                                const data::Table& table) {
  ASSIGN_OR_RETURN(stats::Ties ties, ParseTies(request.ties));
  ASSIGN_OR_RETURN(formula::ModelFrame m,
                   formula::BuildModelFrame(f, table, formula::ModelKind::kCox, request.subset));
  AnalysisOutput out;
  out.request = request;
  NoteDropped(m, &out.notes);
  CoxphOutput cox;
  cox.n_omitted_na = m.n_omitted_na;
  cox.ties = request.ties;
  for (size_t j = 0; j < m.p(); ++j) {
    double sum = 0;
    for (size_t i = 0; i < m.n; ++i) sum += m.X(i, j);
    cox.means.push_back(sum / static_cast<double>(m.n));
  }
  stats::CoxRows rows;
  rows.p = m.p();
  rows.x = std::move(m.x);
  rows.start = std::move(m.start);
  rows.stop = std::move(m.time);
  rows.status = std::move(m.status);
  rows.strata = std::move(m.strata);
  rows.offset = std::move(m.offset);
  rows.cluster = std::move(m.cluster);
  CoxphOptions options;
  options.ties = ties;
  options.robust = !rows.cluster.empty();
  const stats::CoxKernel kernel(std::move(rows));
  ASSIGN_OR_RETURN(cox.fit, FitCoxph({&kernel}, m.coef_names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

}  // namespace

Result<AnalysisOutput> RunAnalysis(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (request.function == "coxph") return RunCoxph(request, f, table);
  return InvalidArgument("unknown analysis '" + request.function +
                         "' (coxph, survfit, survdiff, glm)");
}

}  // namespace passerelle::analysis
