// Fit-only timing: loads a benchmark CSV into memory, then times the Cox (Efron) fit and the
// binomial GLM the way R's system.time(coxph(...)) and system.time(glm(...)) do on a data
// frame already in memory; with --weighted, the weighted Cox model (model-based variance) and
// the Fine–Gray model instead; with --robust, the weighted Cox model with its robust variance
// (R's default), printed as its robust standard errors. Prints "name value..." lines (seconds,
// coefficients), as bench/fit_r.R does, for bench/run to compare.
//   fit_bench FILE.csv [--weighted | --robust]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "passerelle/analysis/run.h"
#include "passerelle/base/memory.h"
#include "passerelle/data/csv_table.h"

namespace passerelle {
namespace {

void PrintCoefs(const char* name, const std::vector<double>& coef) {
  std::printf("%s", name);
  for (double c : coef) std::printf(" %.17g", c);
  std::printf("\n");
}

// One analysis over the table in memory, timed as R's system.time() times a fit, `runs` times
// (bench/fit_r.R does the same): the median. Prints "NAME_seconds S" and "NAME_coef ..." (the
// numbers `pick` reads from the fit); false, with the reason on stderr, when it fails.
template <typename Pick>
bool Timed(const char* name, const analysis::AnalysisRequest& request, const data::Table& table,
           Pick pick, int runs = 1) {
  std::vector<double> seconds;
  Result<analysis::AnalysisOutput> out = Internal("not run");
  for (int run = 0; run < runs; ++run) {
    const auto start = std::chrono::steady_clock::now();
    out = analysis::RunAnalysis(request, table);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    if (!out.ok()) {
      std::fprintf(stderr, "%s failed: %s\n", name, out.status().ToString().c_str());
      return false;
    }
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf("%s_seconds %.4f\n", name, seconds[seconds.size() / 2]);
  PrintCoefs((std::string(name) + "_coef").c_str(), pick(*out));
  return true;
}

analysis::AnalysisRequest Request(const std::string& function, const std::string& formula) {
  analysis::AnalysisRequest r;
  r.function = function;
  r.formula = formula;
  return r;
}

std::vector<double> CoxCoef(const analysis::AnalysisOutput& out) {
  return std::get<analysis::CoxphOutput>(out.result).fit.coef;
}

}  // namespace
}  // namespace passerelle

int main(int argc, char** argv) {
  using namespace passerelle;
  KeepFreedMemory();  // as the passerelle program does
  const std::string mode = argc == 3 ? argv[2] : "";
  if (argc < 2 || argc > 3 || !(mode.empty() || mode == "--weighted" || mode == "--robust")) {
    std::fprintf(stderr, "usage: fit_bench FILE.csv [--weighted | --robust]\n");
    return 2;
  }
  data::CsvTableOptions options;
  options.levels["cause"] = {"censor", "a", "b"};
  auto table = data::ReadCsvTable({argv[1]}, options);
  if (!table.ok()) {
    std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
    return 1;
  }
  const std::string rhs = "x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9 + x10";
  if (mode == "--robust") {
    analysis::AnalysisRequest robust = Request("coxph", "Surv(time, status) ~ " + rhs);
    robust.weights = "w";
    return Timed("robust", robust, *table,
                 [](const analysis::AnalysisOutput& out) {
                   return std::get<analysis::CoxphOutput>(out.result).fit.robust_se;
                 })
               ? 0
               : 1;
  }
  if (mode == "--weighted") {
    analysis::AnalysisRequest weighted = Request("coxph", "Surv(time, status) ~ " + rhs);
    weighted.weights = "w";
    weighted.robust = "false";
    analysis::AnalysisRequest fg = Request("finegray", "Surv(month, cause) ~ " + rhs);
    fg.cause = "a";
    return Timed("weighted", weighted, *table, CoxCoef) && Timed("finegray", fg, *table, CoxCoef)
               ? 0
               : 1;
  }
  analysis::AnalysisRequest cox = Request("coxph", "Surv(time, status) ~ " + rhs);
  cox.ties = "efron";
  analysis::AnalysisRequest glm = Request("glm", "y ~ " + rhs);
  glm.family = "binomial";
  return Timed("coxph", cox, *table, CoxCoef, 3) &&
                 Timed(
                     "glm", glm, *table,
                     [](const analysis::AnalysisOutput& out) {
                       return std::get<analysis::GlmOutput>(out.result).fit.coef;
                     },
                     3)
             ? 0
             : 1;
}
