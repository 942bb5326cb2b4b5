// Fit-only timing: loads a benchmark CSV into memory, then times the Cox (Efron) fit and the
// binomial GLM the way R's system.time(coxph(...)) and system.time(glm(...)) do on a data
// frame already in memory; with --weighted, the weighted Cox model (model-based variance) and
// the Fine–Gray model instead; with --robust, the weighted Cox model with its robust variance
// (R's default), printed as its robust standard errors. Prints "name value..." lines (seconds,
// coefficients), as bench/fit_r.R does, for bench/run to compare.
//   fit_bench FILE.csv [--weighted | --robust]
#include <chrono>
#include <cstdio>
#include <string>

#include "passerelle/analysis/run.h"
#include "passerelle/data/csv_table.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void PrintCoefs(const char* name, const std::vector<double>& coef) {
  std::printf("%s", name);
  for (double c : coef) std::printf(" %.17g", c);
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace passerelle;
  if (argc < 2 || argc > 3) {
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
  if (argc == 3 && std::string(argv[2]) == "--robust") {
    analysis::AnalysisRequest robust;
    robust.function = "coxph";
    robust.formula = "Surv(time, status) ~ " + rhs;
    robust.weights = "w";
    auto start = std::chrono::steady_clock::now();
    auto out = analysis::RunAnalysis(robust, *table);
    const double seconds = Seconds(start);
    if (!out.ok()) return 1;
    std::printf("robust_seconds %.4f\n", seconds);
    PrintCoefs("robust_coef", std::get<analysis::CoxphOutput>(out->result).fit.robust_se);
    return 0;
  }
  if (argc == 3) {
    analysis::AnalysisRequest weighted;
    weighted.function = "coxph";
    weighted.formula = "Surv(time, status) ~ " + rhs;
    weighted.weights = "w";
    weighted.robust = "false";
    auto start = std::chrono::steady_clock::now();
    auto weighted_out = analysis::RunAnalysis(weighted, *table);
    const double weighted_seconds = Seconds(start);
    analysis::AnalysisRequest fg;
    fg.function = "finegray";
    fg.formula = "Surv(month, cause) ~ " + rhs;
    fg.cause = "a";
    start = std::chrono::steady_clock::now();
    auto fg_out = analysis::RunAnalysis(fg, *table);
    const double fg_seconds = Seconds(start);
    if (!weighted_out.ok() || !fg_out.ok()) {
      std::fprintf(stderr, "fit failed: %s %s\n", weighted_out.status().ToString().c_str(),
                   fg_out.status().ToString().c_str());
      return 1;
    }
    const auto& fg_fit = std::get<analysis::CoxphOutput>(fg_out->result).fit;
    std::printf("weighted_seconds %.4f\nfinegray_seconds %.4f\nfinegray_rows %zu\n",
                weighted_seconds, fg_seconds, fg_fit.n);
    PrintCoefs("weighted_coef", std::get<analysis::CoxphOutput>(weighted_out->result).fit.coef);
    PrintCoefs("finegray_coef", fg_fit.coef);
    return 0;
  }
  analysis::AnalysisRequest cox;
  cox.function = "coxph";
  cox.formula = "Surv(time, status) ~ " + rhs;
  cox.ties = "efron";
  auto start = std::chrono::steady_clock::now();
  auto cox_out = analysis::RunAnalysis(cox, *table);
  const double cox_seconds = Seconds(start);
  analysis::AnalysisRequest glm;
  glm.function = "glm";
  glm.formula = "y ~ " + rhs;
  glm.family = "binomial";
  start = std::chrono::steady_clock::now();
  auto glm_out = analysis::RunAnalysis(glm, *table);
  const double glm_seconds = Seconds(start);
  if (!cox_out.ok() || !glm_out.ok()) {
    std::fprintf(stderr, "fit failed\n");
    return 1;
  }
  std::printf("coxph_seconds %.4f\nglm_seconds %.4f\n", cox_seconds, glm_seconds);
  PrintCoefs("coxph_coef", std::get<analysis::CoxphOutput>(cox_out->result).fit.coef);
  PrintCoefs("glm_coef", std::get<analysis::GlmOutput>(glm_out->result).fit.coef);
  return 0;
}
