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
  }
  if (!cluster.empty()) request.formula += " + cluster(" + cluster + ")";
  return request;
}

// Relative tolerance, with an absolute floor near zero (README.md).
void ExpectClose(const json& actual, const json& expected, double relative,
                 const std::string& where) {
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
  EXPECT_NEAR(a, e, std::max(std::fabs(e) * relative, 1e-8)) << where;
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
    if (request.function != "coxph") continue;  // further analyses join as they are built
    auto output = analysis::RunAnalysis(request, *table);
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    const json actual = json::parse(report::ResultsJson(*output));
    const json& expected = fit["results"];
    for (const Field& field : kCoxFields) {
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
