// describe: a descriptive table ("Table 1"), each variable per site and overall. Each site
// answers counts, and sums and sums of squares of numbers (groups of at least k); the hub pools
// them exactly. Medians and quartiles are approximate: a site's is the mean of the k records
// around it (never one patient's value), the overall one the sites' average weighted by their
// records. The standardized mean difference between sites comes from the pooled figures. A
// federated analysis only: at one site, `passerelle site describe`.
#include "passerelle/analysis/describe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <set>

#include "passerelle/analysis/frames.h"
#include "passerelle/analysis/kind_support.h"
#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/formula/eval.h"
#include "passerelle/formula/model.h"
#include "passerelle/privacy/disclosure.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/linalg.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

namespace {

// describe: over the subset's rows, per variable the count present and missing, mean and SD of
// numbers (groups of at least k), level counts of categories; dates, identifiers and free text are
// only counted. Never minima, maxima or a quantile as it is: those are patients' values.

// R's quantile (type 7) position of probability q among n sorted values, and the mean of the k
// values centred on it: a quartile no single record gives. NaN with fewer than 4k values: the
// three windows are then apart, and what the sum (n times the mean) leaves beside them is the
// sum of at least k records (with fewer, the sum less two windows could be one record, the
// smallest or the largest).
double MaskedQuantile(const std::vector<double>& sorted, double q, size_t k) {
  const size_t n = sorted.size();
  if (n < 4 * k || k == 0) return kNaN;
  const double position = q * static_cast<double>(n - 1);
  const size_t centre = static_cast<size_t>(std::lround(position));
  size_t begin = centre >= k / 2 ? centre - k / 2 : 0;
  begin = std::min(begin, n - k);
  double sum = 0;
  for (size_t i = begin; i < begin + k; ++i) sum += sorted[i];
  return sum / static_cast<double>(k);
}
Result<LocalRelease> RunDescribeStep(const json& task, const data::Table& table,
                                     const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(std::vector<size_t> cohort, SubsetRows(task.value("subset", ""), table));
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(cohort.size()), policy));
  const auto wanted = task.value("variables", std::vector<std::string>());
  std::vector<VariableDescription> all = Describe(table, cohort);
  std::vector<VariableDescription> chosen;
  for (const std::string& name : wanted) {
    auto it = std::find_if(all.begin(), all.end(), [&](const auto& d) { return d.name == name; });
    if (it == all.end()) return InvalidArgument("describe: no variable '" + name + "'");
    chosen.push_back(*it);
  }
  json variables = json::array();
  LocalRelease release;
  release.cohorts.push_back(privacy::Cohort::FromRows(cohort, table.rows));
  for (const VariableDescription& d : wanted.empty() ? all : chosen) {
    // Each statistic is over its own records (the non-missing ones): they are its population
    // for the ledger, so padding a subset with records that lack the variable cannot isolate one.
    const data::Column& column = *table.Find(d.name);
    std::vector<size_t> present;
    std::map<double, std::vector<size_t>> by_value;  // numbers: the rows of each value (<= 3)
    std::vector<std::vector<size_t>> by_level(column.levels.size());
    for (size_t r : cohort) {
      if (column.IsMissing(r)) continue;
      present.push_back(r);
      if (d.type == data::VarType::kCategory) {
        by_level[static_cast<size_t>(column.codes[r])].push_back(r);
      } else if (column.is_numeric() && by_value.size() <= 3) {
        by_value[column.Number(r)].push_back(r);
      }
    }
    // n + missing = rows, and a category's counts + missing = rows: each is suppressed as a
    // table with its total known, so neither count rebuilds the other.
    double n = static_cast<double>(d.n), missing = static_cast<double>(d.missing);
    std::vector<double> counts;
    for (const auto& level : d.levels) counts.push_back(static_cast<double>(level.second));
    if (d.type == data::VarType::kCategory) {
      privacy::SuppressTable(counts, 1, &missing, policy);
      if (missing != missing) n = missing;
    } else {
      privacy::SuppressTable(std::span<double>(&n, 1), 1, &missing, policy);
    }
    json v = {{"name", d.name},
              {"type", std::string(data::VarTypeName(d.type))},
              {"n", CountJson(n)},
              {"missing", CountJson(missing)}};
    if (n == n && n > 0) release.cohorts.push_back(privacy::Cohort::FromRows(present, table.rows));
    const bool numeric = d.type == data::VarType::kInteger || d.type == data::VarType::kNumber;
    if (numeric) {
      // A number with two or three values is counts in disguise: n, its mean and its SD solve
      // for them. Each value must be held by none or at least k records.
      std::vector<double> by_value_records;
      for (const auto& [value, rows] : by_value) {
        by_value_records.push_back(static_cast<double>(rows.size()));
      }
      const bool enough =
          privacy::ReleasesMoments(static_cast<double>(d.n), by_value_records, policy);
      if (by_value.size() >= 2 && by_value.size() <= 3) {
        for (const auto& [value, rows] : by_value) {
          if (enough) release.counts.push_back(privacy::Cohort::FromRows(rows, table.rows));
        }
      }
      v["mean"] = enough ? json(d.mean) : json(nullptr);
      v["sd"] = enough ? json(d.sd) : json(nullptr);
      std::vector<double> sorted;
      for (size_t r : present) sorted.push_back(column.Number(r));
      std::sort(sorted.begin(), sorted.end());
      const size_t k = static_cast<size_t>(std::max(policy.min_cell_count, 2));
      json quartiles = json::array();
      for (double q : {0.25, 0.5, 0.75}) {
        const double value = enough ? MaskedQuantile(sorted, q, k) : kNaN;
        quartiles.push_back(value == value ? json(value) : json(nullptr));
      }
      v["quartiles"] = quartiles;
    }
    if (d.type == data::VarType::kCategory) {
      std::vector<std::string> levels;
      for (const auto& level : d.levels) levels.push_back(level.first);
      v["levels"] = levels;
      v["counts"] = CountsJson(counts);
      for (size_t l = 0; l < counts.size() && l < by_level.size(); ++l) {
        if (counts[l] == counts[l] && counts[l] > 0) {
          release.counts.push_back(privacy::Cohort::FromRows(by_level[l], table.rows));
        }
      }
    }
    variables.push_back(std::move(v));
  }
  release.aggregate = json{{"rows", cohort.size()}, {"variables", variables}}.dump();
  return release;
}

// Pools a describe column from the sites' columns: counts add, means and SDs combine exactly.
void PoolColumn(DescribedVariable* v, size_t sites) {
  double n = 0, missing = 0, sum = 0;
  bool n_known = true, missing_known = true, moments_known = true;
  for (size_t s = 0; s < sites; ++s) {
    n_known &= v->n[s] == v->n[s];
    missing_known &= v->missing[s] == v->missing[s];
    n += v->n[s];
    missing += v->missing[s];
    if (!v->mean.empty() && v->n[s] > 0) {
      moments_known &= v->mean[s] == v->mean[s];
      sum += v->n[s] * v->mean[s];
    }
  }
  v->n.push_back(n_known ? n : kNaN);
  v->missing.push_back(missing_known ? missing : kNaN);
  for (std::vector<double>* q : {&v->q1, &v->median, &v->q3}) {
    if (q->empty()) continue;
    double weighted = 0;
    for (size_t s = 0; s < sites; ++s) weighted += v->n[s] > 0 ? v->n[s] * (*q)[s] : 0;
    q->push_back(n_known && n > 0 ? weighted / n : kNaN);
  }
  if (!v->mean.empty()) {
    double mean = kNaN, sd = kNaN;
    if (n_known && moments_known && n > 0) {
      mean = sum / n;
      double ss = 0;
      for (size_t s = 0; s < sites; ++s) {
        if (v->n[s] == 0) continue;
        const double d = v->mean[s] - mean;
        const double sds = v->n[s] > 1 ? v->sd[s] : 0;
        ss += (v->n[s] - 1) * sds * sds + v->n[s] * d * d;
      }
      if (n > 1) sd = std::sqrt(ss / (n - 1));
    }
    v->mean.push_back(mean);
    v->sd.push_back(sd);
  }
}

// The standardized mean difference between sites a and b of a pooled variable.
double PairSmd(const DescribedVariable& v, size_t a, size_t b, size_t columns) {
  if (!(v.n[a] > 0) || !(v.n[b] > 0)) return kNaN;  // none, or withheld
  if (!v.mean.empty()) {
    return std::fabs(v.mean[a] - v.mean[b]) /
           std::sqrt((v.sd[a] * v.sd[a] + v.sd[b] * v.sd[b]) / 2);
  }
  // Yang and Dalton: sqrt((p_a - p_b)' S^-1 (p_a - p_b)), S the mean of the two covariance
  // matrices of the proportions, over the levels after the first.
  const size_t levels = v.levels.size();
  if (levels < 2) return kNaN;
  const size_t q = levels - 1;
  std::vector<double> pa(q), pb(q);
  for (size_t l = 1; l < levels; ++l) {
    pa[l - 1] = v.counts[l * columns + a] / v.n[a];
    pb[l - 1] = v.counts[l * columns + b] / v.n[b];
    if (pa[l - 1] != pa[l - 1] || pb[l - 1] != pb[l - 1]) return kNaN;
  }
  std::vector<double> s(q * q), diff(q);
  for (size_t i = 0; i < q; ++i) {
    diff[i] = pa[i] - pb[i];
    for (size_t j = 0; j < q; ++j) {
      s[i * q + j] =
          ((i == j ? pa[i] : 0) - pa[i] * pa[j] + (i == j ? pb[i] : 0) - pb[i] * pb[j]) / 2;
    }
  }
  return std::sqrt(stats::QuadraticForm(stats::SymmetricFactor(s, q, 1e-12), diff));
}

// The mean of the pairwise differences between the sites (one pair with two sites).
double SiteSmd(const DescribedVariable& v, size_t sites) {
  double sum = 0, pairs = 0;
  for (size_t a = 0; a < sites; ++a) {
    for (size_t b = a + 1; b < sites; ++b) {
      sum += PairSmd(v, a, b, sites + 1);
      pairs += 1;
    }
  }
  return pairs > 0 ? sum / pairs : kNaN;
}

Result<AnalysisOutput> FederatedDescribe(const AnalysisRequest& request,
                                         const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, json{{"analysis", "describe"},
                                                                 {"variables", request.variables},
                                                                 {"subset", request.subset}}));
  DescribeOutput d;
  const size_t ns = sites.size();
  std::map<std::string, size_t> index;
  std::vector<std::map<std::string, std::vector<double>>> level_counts;  // per variable
  for (size_t s = 0; s < ns; ++s) {
    d.columns.push_back(sites[s].name);
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      d.rows.push_back(SiteCount(answers[s].at("rows")));
      for (const json& j : answers[s].at("variables")) {
        const std::string name = j.at("name").get<std::string>();
        auto [it, added] = index.emplace(name, d.variables.size());
        if (added) {
          DescribedVariable v;
          v.name = name;
          v.type = j.at("type").get<std::string>();
          v.n.assign(ns, 0.0);
          v.missing.assign(ns, 0.0);
          if (j.contains("mean")) v.mean.assign(ns, 0.0), v.sd.assign(ns, 0.0);
          d.variables.push_back(std::move(v));
          level_counts.emplace_back();
        }
        DescribedVariable& v = d.variables[it->second];
        v.n[s] = SiteCountOrNaN(j.at("n"));
        v.missing[s] = SiteCountOrNaN(j.at("missing"));
        if (!v.mean.empty() && j.contains("mean")) {
          v.mean[s] = NumberOrNaN(j.at("mean"));
          v.sd[s] = NumberOrNaN(j.at("sd"));
        }
        if (j.contains("quartiles")) {
          for (std::vector<double>* q : {&v.q1, &v.median, &v.q3}) q->resize(ns, kNaN);
          v.q1[s] = NumberOrNaN(j.at("quartiles").at(0));
          v.median[s] = NumberOrNaN(j.at("quartiles").at(1));
          v.q3[s] = NumberOrNaN(j.at("quartiles").at(2));
        }
        if (j.contains("levels")) {
          const auto levels = j.at("levels").get<std::vector<std::string>>();
          const json& counts = j.at("counts");
          for (size_t l = 0; l < levels.size(); ++l) {
            auto& row = level_counts[it->second][levels[l]];
            row.resize(ns, 0.0);
            row[s] = SiteCountOrNaN(counts.at(l));
          }
          v.levels = MergeLevels({v.levels, levels});
        }
      }
      return Status::Ok();
    }));
  }
  d.columns.push_back("all");
  double rows = 0;
  for (double r : d.rows) rows += r;
  d.rows.push_back(rows);
  for (size_t i = 0; i < d.variables.size(); ++i) {
    DescribedVariable& v = d.variables[i];
    PoolColumn(&v, ns);
    for (const std::string& level : v.levels) {
      std::vector<double> row = level_counts[i][level];
      row.resize(ns, 0.0);
      double total = 0;
      for (double c : row) total += c;  // NaN when a site suppressed the cell
      row.push_back(total);
      v.counts.insert(v.counts.end(), row.begin(), row.end());
    }
    v.smd = SiteSmd(v, ns);
  }
  bool quartiles = false;
  for (const DescribedVariable& v : d.variables) quartiles |= !v.median.empty();
  AnalysisOutput out;
  out.request = request;
  if (quartiles) {
    out.notes.push_back(
        "medians and quartiles are approximate: each site's is the mean of the k records around "
        "it, the overall one the sites' average weighted by their records");
  }
  out.result = std::move(d);
  return out;
}

Result<LocalRelease> SiteStep(const json& task, const data::Table& table,
                              const privacy::Policy& policy, LocalStepCache*) {
  return RunDescribeStep(task, table, policy);
}

json FirstStep(const AnalysisRequest& r) {
  return {{"analysis", "describe"}, {"subset", r.subset}, {"variables", r.variables}};
}

json Signature(const json& step) {
  json sig = StepSignature(step);
  sig["variables"] = step.value("variables", std::vector<std::string>{});
  return sig;
}

std::string Method(const nlohmann::ordered_json&, const nlohmann::ordered_json&) {
  return "Descriptive table per site and overall: counts, means and standard deviations "
         "(pooled exactly from the sites' sums).";
}

}  // namespace

AnalysisKind DescribeKind() {
  return {.name = "describe",
          .summary = "Descriptive table (Table 1): each variable by site and overall",
          .options = {{.name = "variables",
                       .field = &AnalysisRequest::variables,
                       .help = "Variables to describe (none: all)"},
                      SubsetOption()},
          .plot = false,
          .run_federated = FederatedDescribe,
          .site_step = SiteStep,
          .first_step = FirstStep,
          .signature = Signature,
          .review = ReviewVariables,
          .method = Method};
}

}  // namespace passerelle::analysis
