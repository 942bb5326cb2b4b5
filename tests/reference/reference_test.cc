// Every fit of every reference case (expected/*.json, computed by R 4.2.2 / survival 3.5-3)
// run through Passerelle and compared number by number within README.md's tolerances; a fit
// marked "federated" is also run across the case's site files (each site's steps under its
// default rules) and compared with the same numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/run.h"
#include "passerelle/analysis/test_site.h"
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

// The analysis request a fit states ("request": Passerelle's options).
analysis::AnalysisRequest StatedRequest(const json& r) {
  analysis::AnalysisRequest request;
  request.function = r.at("function");
  request.formula = r.at("formula");
  request.subset = r.value("subset", "");
  request.ties = r.value("ties", "efron");
  request.family = r.value("family", "");
  request.weights = r.value("weights", "");
  if (r.contains("robust")) request.robust = r["robust"].get<bool>() ? "true" : "false";
  request.cause = r.value("cause", "");
  request.transform = r.value("transform", "km");
  request.propensity = r.value("propensity", "");
  request.estimand = r.value("estimand", "");
  request.stabilized = r.value("stabilized", false);
  request.at_time = r.value("time", 0.0);
  request.baseline = r.value("baseline", 0.0);
  request.groups = r.value("groups", 0.0);
  return request;
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
                                       {"concordance_se", 1e-6},
                                       {"means", 1e-9}};

const std::vector<Field> kGlmFields = {
    {"family", 0},       {"link", 0},    {"n", 0},           {"n_omitted_na", 0},
    {"coef_names", 0},   {"coef", 1e-6}, {"se", 1e-6},       {"z", 1e-6},
    {"p", 1e-6},         {"var", 1e-6},  {"deviance", 1e-9}, {"null_deviance", 1e-9},
    {"df_residual", 0},  {"df_null", 0}, {"aic", 1e-9},      {"loglik", 1e-9},
    {"dispersion", 1e-9}};
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

void CompareFields(const std::vector<Field>& fields, const json& actual, const json& expected) {
  for (const Field& field : fields) {
    if (!expected.contains(field.name)) continue;
    if (!actual.contains(field.name)) {
      ADD_FAILURE() << field.name << " missing";
      continue;
    }
    ExpectClose(actual[field.name], expected[field.name], field.relative, field.name);
  }
}

// A fit's result as R gave it, by its type.
void Compare(const std::string& type, json actual, const json& expected) {
  if (type == "survfit") {
    CompareSurvfit(actual, expected);
  } else if (type == "concordance") {  // counts exact, the rest closed-form
    for (const char* key : {"concordance", "concordance_se", "n"}) {
      ExpectClose(actual[key], expected[key], 1e-12, key);
    }
    for (auto it = expected["count"].begin(); it != expected["count"].end(); ++it) {
      EXPECT_EQ(actual["count"][it.key()].get<double>(), it.value().get<double>()) << it.key();
    }
  } else if (type == "calibration") {  // closed-form: means and Kaplan–Meier estimates
    ASSERT_EQ(actual["groups"].size(), expected["groups"].size());
    for (size_t g = 0; g < expected["groups"].size(); ++g) {
      ExpectClose(actual["groups"][g], expected["groups"][g], 1e-10, "groups");
    }
  } else if (type == "coxzph") {
    EXPECT_EQ(actual["transform"], expected["transform"]);
    EXPECT_EQ(actual["rownames"], expected["rownames"]);
    ExpectClose(actual["chisq"], expected["chisq"], 1e-6, "chisq");
    ExpectClose(actual["df"], expected["df"], 0, "df");
    ExpectClose(actual["p"], expected["p"], 1e-6, "p");
  } else if (type == "coxph") {
    CompareFields(kCoxFields, actual, expected);
    if (expected.contains("propensity")) {
      const json& e = expected["propensity"];
      ASSERT_TRUE(actual.contains("propensity"));
      const json& a = actual["propensity"];
      CompareFields(kGlmFields, a["model"], e["model"]);
      EXPECT_EQ(a["arms"], e["arms"]);
      ExpectClose(a["n"], e["n"], 0, "propensity.n");
      ExpectClose(a["ess"], e["ess"], 1e-9, "propensity.ess");
      EXPECT_EQ(a["balance"]["covariates"], e["balance"]["covariates"]);
      ExpectClose(a["balance"]["smd_before"], e["balance"]["smd_before"], 1e-9, "smd_before");
      ExpectClose(a["balance"]["smd_after"], e["balance"]["smd_after"], 1e-6, "smd_after");
    }
  } else if (type == "glm") {
    if (actual.contains("t")) actual["z"] = actual["t"];  // a gaussian model's t values
    CompareFields(kGlmFields, actual, expected);
  } else {
    CompareFields(kSurvdiffFields, actual, expected);
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
  auto read = [&](const std::vector<std::string>& files) {
    std::vector<std::string> paths;
    for (const std::string& f : files) paths.push_back(kDir + f);
    auto table = data::ReadCsvTable(paths, options);
    EXPECT_TRUE(table.ok()) << table.status().ToString();
    return table.ok() ? *table : data::Table{};
  };
  // The data a fit reads: its own file where the case has several data frames, else the case's
  // files stacked; and the sites' files, each its own table.
  std::map<std::string, data::Table> tables;
  auto table_of = [&](const json& fit) -> const data::Table& {
    if (fit.contains("data_file")) {
      const std::string file = fit["data_file"];
      if (!tables.count(file)) tables[file] = read({file});
      return tables[file];
    }
    if (!tables.count("")) tables[""] = read(spec["data_files"].get<std::vector<std::string>>());
    return tables[""];
  };
  std::vector<testing::TestSite> sites;
  if (spec.contains("site_files")) {
    for (const json& file : spec["site_files"]) {
      testing::TestSite site;
      site.table = read({file.get<std::string>()});
      site.policy = privacy::DefaultPolicy("site" + std::to_string(sites.size() + 1));
      sites.push_back(std::move(site));
    }
  }

  for (const json& fit : spec["fits"]) {
    SCOPED_TRACE(fit["name"].get<std::string>() + ": " + fit["r_call"].get<std::string>());
    const analysis::AnalysisRequest request =
        fit.contains("request") ? StatedRequest(fit["request"]) : RequestFor(fit["r_call"]);
    const std::string type = fit.value("type", request.function);
    auto output = analysis::RunAnalysis(request, table_of(fit));
    ASSERT_TRUE(output.ok()) << output.status().ToString();
    Compare(type, json::parse(report::ResultsJson(*output)), fit["results"]);
    if (!fit.value("federated", false)) continue;
    SCOPED_TRACE("federated across the site files");
    ASSERT_FALSE(sites.empty());
    std::vector<analysis::SiteLink> links;
    for (testing::TestSite& site : sites) {
      site.released = {};  // each fit on its own: the differencing rule is tested elsewhere
      links.push_back({site.policy.site, site.AsTransport()});
    }
    auto federated = analysis::RunFederated(request, links);
    ASSERT_TRUE(federated.ok()) << federated.status().ToString();
    Compare(type, json::parse(report::ResultsJson(*federated)), fit["results"]);
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
