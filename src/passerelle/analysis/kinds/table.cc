// table: one- or two-way tables with Pearson's chi-square. Each site answers its counts (a cell
// of 1 to k-1 suppressed); the hub sums them and tests the pooled table.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "passerelle/analysis/describe.h"
#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

namespace {

// table: the site's counts with their missing count, small cells and their complements
// suppressed (privacy::SuppressTable).
// The table's counts at one site, before any rule: each cell's rows, the rows counted, the rows
// with a missing value.
Result<TableOutput> CountTable(const AnalysisRequest& request, const data::Table& table) {
  if (request.rows.empty()) return InvalidArgument("table needs rows (a variable)");
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
  return t;
}

Result<LocalRelease> RunTableStep(const json& task, const data::Table& table,
                                  const privacy::Policy& policy) {
  AnalysisRequest request;
  request.function = "table";
  request.rows = task.value("rows", "");
  request.cols = task.value("cols", "");
  request.subset = task.value("subset", "");
  ASSIGN_OR_RETURN(TableOutput t, CountTable(request, table));
  for (const std::string& variable : {request.rows, request.cols}) {
    if (variable.empty()) continue;
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(variable, table));
    RETURN_IF_ERROR(privacy::CheckLabel(labels, policy));
  }
  ASSIGN_OR_RETURN(std::vector<size_t> cohort, SubsetRows(request.subset, table));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(cohort.size()), policy));
  double missing = static_cast<double>(t.n_missing);
  privacy::SuppressTable(t.counts, std::max<size_t>(1, t.col_levels.size()), &missing, policy);
  LocalRelease release;
  release.aggregate = json{{"row_levels", t.row_levels},
                           {"col_levels", t.col_levels},
                           {"counts", CountsJson(t.counts)},
                           {"missing", CountJson(missing)}}
                          .dump();
  release.cohorts.push_back(privacy::Cohort::FromRows(cohort, table.rows));
  if (missing == missing && missing > 0) {
    release.cohorts.push_back(privacy::Cohort::FromRows(t.counted, table.rows));
  }
  for (size_t c = 0; c < t.counts.size(); ++c) {
    if (t.counts[c] == t.counts[c] && t.counts[c] > 0) {
      release.counts.push_back(privacy::Cohort::FromRows(t.cell_rows[c], table.rows));
    }
  }
  return release;
}

// One site's table as the hub reads it: its levels, its counts (NaN: suppressed) and its rows
// with a missing value.
struct SiteTable {
  std::vector<std::string> rows, cols;
  std::vector<double> counts;
  double missing = 0;
};

// The sites' tables summed in the merged order of their levels, and the chi-square on the
// total; a cell a site suppressed stays suppressed (and then there is no test).
AnalysisOutput CombineTables(const AnalysisRequest& request, const std::vector<SiteTable>& sites) {
  TableOutput t;
  t.rows = request.rows;
  t.cols = request.cols;
  std::vector<std::vector<std::string>> rows, cols;
  for (const SiteTable& s : sites) {
    rows.push_back(s.rows);
    cols.push_back(s.cols);
  }
  t.row_levels = MergeLevels(rows);
  t.col_levels = request.cols.empty() ? std::vector<std::string>() : MergeLevels(cols);
  const size_t nc = std::max<size_t>(1, t.col_levels.size());
  t.counts.assign(t.row_levels.size() * nc, 0.0);
  bool suppressed = false;
  for (const SiteTable& s : sites) {
    const size_t snc = std::max<size_t>(1, s.cols.size());
    for (size_t r = 0; r < s.rows.size(); ++r) {
      const size_t R =
          std::find(t.row_levels.begin(), t.row_levels.end(), s.rows[r]) - t.row_levels.begin();
      for (size_t c = 0; c < snc; ++c) {
        const size_t C = s.cols.empty()
                             ? 0
                             : std::find(t.col_levels.begin(), t.col_levels.end(), s.cols[c]) -
                                   t.col_levels.begin();
        const double v = s.counts[r * snc + c];
        suppressed |= v != v;
        t.counts[R * nc + C] += v;  // NaN stays NaN: a suppressed cell is not rebuilt
      }
    }
    t.n_missing += s.missing == s.missing ? static_cast<size_t>(s.missing) : 0;
  }
  AnalysisOutput out;
  out.request = request;
  if (t.n_missing) {
    out.notes.push_back(CountWord(static_cast<double>(t.n_missing), "row") +
                        " with a missing value are not counted");
  }
  if (suppressed) {
    out.notes.push_back(
        "cells where a site has 1 to k-1 records are suppressed there, and so in the total");
  } else if (!request.cols.empty()) {
    t.chisq = stats::PearsonChiSquare(t.counts, t.row_levels.size(), nc, true);
  }
  out.result = std::move(t);
  return out;
}

// Local mode: the table of one site, combined as the hub combines the sites'.
Result<AnalysisOutput> RunTable(const AnalysisRequest& request, const data::Table& table) {
  ASSIGN_OR_RETURN(TableOutput t, CountTable(request, table));
  return CombineTables(request,
                       {{t.row_levels, t.col_levels, t.counts, static_cast<double>(t.n_missing)}});
}

Result<AnalysisOutput> FederatedTable(const AnalysisRequest& request,
                                      const std::vector<SiteLink>& sites) {
  if (request.rows.empty()) return InvalidArgument("table needs rows (a variable)");
  const json task = {{"analysis", "table"},
                     {"rows", request.rows},
                     {"cols", request.cols},
                     {"subset", request.subset}};
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::vector<SiteTable> tables(sites.size());
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      SiteTable& t = tables[s];
      t.rows = answers[s].at("row_levels").get<std::vector<std::string>>();
      t.cols = answers[s].at("col_levels").get<std::vector<std::string>>();
      for (const json& c : answers[s].at("counts")) t.counts.push_back(SiteCountOrNaN(c));
      t.missing = SiteCountOrNaN(answers[s].at("missing"));
      if (t.counts.size() != t.rows.size() * std::max<size_t>(1, t.cols.size())) {
        return Unavailable("site " + sites[s].name + ": answered a table of the wrong size");
      }
      return Status::Ok();
    }));
  }
  return CombineTables(request, tables);
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache*) {
  return RunTableStep(task, table, policy);
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "table"}, {"subset", r.subset}, {"rows", r.rows}, {"cols", r.cols}};
}

json Signature(const json& step) {
  json sig = StepSignature(step);
  sig["rows"] = step.value("rows", "");
  sig["cols"] = step.value("cols", "");
  return sig;
}

std::string Method(const nlohmann::ordered_json& request, const nlohmann::ordered_json&) {
  return "Counts of " + TextOf(request, "rows") +
         (request.contains("cols") ? " by " + TextOf(request, "cols") : "") +
         ", summed over the sites; Pearson's chi-square on the pooled table.";
}

}  // namespace

AnalysisKind TableKind() {
  return {.name = "table",
          .summary = "One- or two-way table with chi-square test",
          .options = {{.name = "rows",
                       .field = &AnalysisRequest::rows,
                       .help = "Row variable",
                       .required = true},
                      {.name = "cols",
                       .field = &AnalysisRequest::cols,
                       .help = "Column variable (none: a one-way table)"},
                      SubsetOption()},
          .run_federated = FederatedTable,
          .site_step = SiteStep,
          .run_local = RunTable,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewVariables,
          .method = Method};
}

}  // namespace passerelle::analysis
