// Every fit of every reference case (expected/*.json, computed by R 4.2.2 / survival 3.5-3)
// run through Passerelle and compared number by number within README.md's tolerances.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/run.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/formula/expr.h"
#include "passerelle/report/results_json.h"

namespace passerelle {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::string kDir = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/";

json Load(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in);
}

// The analysis request an R call stands for, read with Passerelle's own R parser.
analysis::AnalysisRequest RequestFor(const std::string& r_call) {
  auto call = formula::ParseExpr(r_call, "r_call");
  EXPECT_TRUE(call.ok()) << call.status().ToString();
  analysis::AnalysisRequest request;
  request.function = call->text;
  std::string cluster;
  for (size_t i = 0; i < call->args.size(); ++i) {
    const std::string& name = call->arg_names[i];
    const formula::Expr& arg = call->args[i];
    if (name.empty())
      request.formula = formula::Deparse(arg);
    else if (name == "ties")
      request.ties = arg.text;
    else if (name == "subset")
      request.subset = formula::Deparse(arg);
    else if (name == "family")
      request.family = formula::Deparse(arg);
    else if (name == "rho")
      request.rho = arg.number;
    else if (name == "conf.type")
      request.conf_type = arg.text;
    else if (name == "cluster")
      cluster = formula::Deparse(arg);
    else if (name == "reverse")
      request.reverse = formula::Deparse(arg) == "TRUE";
  }
  if (!cluster.empty()) request.formula += " + cluster(" + cluster + ")";
  return request;
}

// Relative tolerance, with an absolute floor near zero (README.md).
// Closed-form results (Kaplan-Meier, log-rank) get a far smaller absolute floor than fitted
// coefficients, whose floor is README.md's 1e-8.
void ExpectClose(const json& actual, const json& expected, double relative,
                 const std::string& where) {
  const double absolute = relative <= 1e-10 ? 1e-14 : 1e-8;
  if (expected.is_null()) {
    EXPECT_TRUE(actual.is_null()) << where << ": expected NA, got " << actual;
    return;
  }
  if (expected.is_array()) {
    ASSERT_TRUE(actual.is_array()) << where;
    ASSERT_EQ(actual.size(), expected.size()) << where;
    for (size_t i = 0; i < expected.size(); ++i) {
      ExpectClose(actual[i], expected[i], relative, where + "[" + std::to_string(i) + "]");
    }
    return;
  }
  if (expected.is_object()) {
    for (auto it = expected.begin(); it != expected.end(); ++it) {
      if (it.key() == "uses") continue;
      ASSERT_TRUE(actual.contains(it.key())) << where << "." << it.key() << " missing";
      ExpectClose(actual[it.key()], it.value(), relative, where + "." + it.key());
    }
    return;
  }
  if (expected.is_string()) {
    EXPECT_EQ(actual, expected) << where;
    return;
  }
  ASSERT_TRUE(actual.is_number()) << where << ": got " << actual;
  const double a = actual.get<double>(), e = expected.get<double>();
  EXPECT_NEAR(a, e, std::max(std::fabs(e) * relative, absolute)) << where;
}

// Fields and the tolerance each gets, per result type.
struct Field {
  const char* name;
  double relative;
};
const std::vector<Field> kCoxFields = {{"n", 0},
                                       {"nevent", 0},
                                       {"n_omitted_na", 0},
                                       {"coef_names", 0},
                                       {"coef", 1e-6},
                                       {"exp_coef", 1e-6},
                                       {"se", 1e-6},
                                       {"var", 1e-6},
                                       {"robust_se", 1e-6},
                                       {"robust_var", 1e-6},
                                       {"z", 1e-6},
                                       {"p", 1e-6},
                                       {"loglik_init", 1e-9},
                                       {"loglik", 1e-9},
                                       {"lr_test", 1e-6},
                                       {"wald_test", 1e-6},
                                       {"wald_test_model_based", 1e-6},
                                       {"score_test", 1e-6},
                                       {"robust_score_test", 1e-6},
                                       {"concordance", 1e-6},
                                       {"concordance_se", 1e-6}};

const std::vector<Field> kGlmFields = {
    {"family", 0},      {"link", 0},    {"n", 0},           {"n_omitted_na", 0},
    {"coef_names", 0},  {"coef", 1e-6}, {"se", 1e-6},       {"z", 1e-6},
    {"p", 1e-6},        {"var", 1e-6},  {"deviance", 1e-9}, {"null_deviance", 1e-9},
    {"df_residual", 0}, {"df_null", 0}, {"aic", 1e-9},      {"loglik", 1e-9},
    {"dispersion", 0}};
const std::vector<Field> kSurvdiffFields = {{"groups", 0},
                                            {"n", 0},
                                            {"obs", 1e-12},
                                            {"exp", 1e-12},
                                            {"var", 1e-12},
                                            {"chisq", 1e-10},
                                            {"df", 0},
                                            {"p", 1e-9},
                                            {"obs_by_stratum", 1e-12},
                                            {"exp_by_stratum", 1e-12}};

// Kaplan-Meier tables and cumulative incidences are closed-form: 1e-12 relative.
void CompareSurvfit(const json& actual, const json& expected) {
  EXPECT_EQ(actual["conf_type"], expected["conf_type"]);
  if (expected.contains("states")) {
    EXPECT_EQ(actual["states"], expected["states"]);
  }
  ASSERT_EQ(actual["strata"].size(), expected["strata"].size());
  for (size_t s = 0; s < expected["strata"].size(); ++s) {
    const json& e = expected["strata"][s];
    const json& a = actual["strata"][s];
    const std::string where = e["stratum"].get<std::string>();
    for (const char* key : {"stratum", "n", "events", "median", "median_lower", "median_upper"}) {
      if (e.contains(key)) ExpectClose(a[key], e[key], 1e-12, where + "." + key);
    }
    for (auto it = e["table"].begin(); it != e["table"].end(); ++it) {
      ExpectClose(a["table"][it.key()], it.value(), 1e-12, where + ".table." + it.key());
    }
  }
}

class ReferenceCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceCase, MatchesR) {
  const json spec = Load(kDir + "expected/" + GetParam());
  data::CsvTableOptions options;
  if (spec.contains("factor_levels")) {
    for (auto it = spec["factor_levels"].begin(); it != spec["factor_levels"].end(); ++it) {
      options.levels[it.key()] = it.value().get<std::vector<std::string>>();
    }
  }
  std::vector<std::string> paths;
  for (const auto& f : spec["data_files"]) paths.push_back(kDir + f.get<std::string>());
  auto table = data::ReadCsvTable(paths, options);
  ASSERT_TRUE(table.ok()) << table.status().ToString();

  for (const json& fit : spec["fits"]) {
    SCOPED_TRACE(fit["name"].get<std::string>() + ": " + fit["r_call"].get<std::string>());
    const analysis::AnalysisRequest request = RequestFor(fit["r_call"]);
    auto output = analysis::RunAnalysis(request, *table);
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    const json actual = json::parse(report::ResultsJson(*output));
    const json& expected = fit["results"];
    if (request.function == "survfit") {
      CompareSurvfit(actual, expected);
      continue;
    }
    if (request.function == "concordance") {  // counts exact, the rest closed-form
      for (const char* key : {"concordance", "concordance_se", "n"}) {
        ExpectClose(actual[key], expected[key], 1e-12, key);
      }
      for (auto it = expected["count"].begin(); it != expected["count"].end(); ++it) {
        EXPECT_EQ(actual["count"][it.key()].get<double>(), it.value().get<double>()) << it.key();
      }
      continue;
    }
    const std::vector<Field>& fields = request.function == "coxph" ? kCoxFields
                                       : request.function == "glm" ? kGlmFields
                                                                   : kSurvdiffFields;
    for (const Field& field : fields) {
      if (!expected.contains(field.name)) continue;
      ExpectClose(actual[field.name], expected[field.name], field.relative, field.name);
    }
  }
}

std::vector<std::string> Cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kDir + "expected")) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(R, ReferenceCase, ::testing::ValuesIn(Cases()),
                         [](const auto& param_info) {
                           std::string name =
                               param_info.param.substr(0, param_info.param.size() - 5);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace passerelle
