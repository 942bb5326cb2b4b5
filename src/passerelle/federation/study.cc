#include "passerelle/federation/study.h"

#include <nlohmann/json.hpp>
#include <set>

#include "passerelle/base/text.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;

const std::set<std::string> kFunctions = {"coxph", "survfit", "survdiff",
                                          "glm",   "table",   "describe"};

// Line and column (1-based) of a byte offset.
std::string Where(std::string_view text, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

Status Field(std::string_view label, const std::string& path, const std::string& rule) {
  return InvalidArgument(std::string(label) + ": " + path + ": " + rule);
}

Result<std::string> Text(const json& j, const std::string& key, std::string_view label,
                         const std::string& path, bool required) {
  if (!j.contains(key)) {
    if (required) return Field(label, path + key, "is required");
    return std::string();
  }
  if (!j.at(key).is_string()) return Field(label, path + key, "must be a string");
  return j.at(key).get<std::string>();
}

Result<double> Number(const json& j, const std::string& key, std::string_view label,
                      const std::string& path, double fallback) {
  if (!j.contains(key)) return fallback;
  if (!j.at(key).is_number()) return Field(label, path + key, "must be a number");
  return j.at(key).get<double>();
}

Result<StudyAnalysis> ParseAnalysis(const json& a, std::string_view label,
                                    const std::string& path) {
  static const std::set<std::string> kKeys = {"id",   "function", "formula",   "subset",
                                              "ties", "family",   "rho",       "bin_days",
                                              "rows", "cols",     "conf_type", "variables"};
  if (!a.is_object()) return Field(label, path, "must be an object");
  for (const auto& [key, value] : a.items()) {
    if (!kKeys.count(key)) {
      return Field(label, path + "." + key,
                   "is not a field of an analysis (" +
                       Join(std::vector<std::string>(kKeys.begin(), kKeys.end()), ", ") + ")");
    }
  }
  const std::string at = path + ".";
  StudyAnalysis out;
  analysis::AnalysisRequest& r = out.request;
  ASSIGN_OR_RETURN(out.id, Text(a, "id", label, at, true));
  if (!IsValidName(out.id)) {
    return Field(label, at + "id", "'" + out.id + "' must be letters, digits and _");
  }
  ASSIGN_OR_RETURN(r.function, Text(a, "function", label, at, true));
  if (!kFunctions.count(r.function)) {
    return Field(label, at + "function",
                 "'" + r.function +
                     "' is not one of coxph, survfit, survdiff, glm, table, "
                     "describe");
  }
  ASSIGN_OR_RETURN(r.formula, Text(a, "formula", label, at, false));
  ASSIGN_OR_RETURN(r.subset, Text(a, "subset", label, at, false));
  ASSIGN_OR_RETURN(std::string ties, Text(a, "ties", label, at, false));
  if (!ties.empty()) r.ties = ties;
  ASSIGN_OR_RETURN(r.family, Text(a, "family", label, at, false));
  ASSIGN_OR_RETURN(r.rows, Text(a, "rows", label, at, false));
  ASSIGN_OR_RETURN(r.cols, Text(a, "cols", label, at, false));
  ASSIGN_OR_RETURN(std::string conf_type, Text(a, "conf_type", label, at, false));
  if (!conf_type.empty()) r.conf_type = conf_type;
  if (a.contains("variables")) {
    const json& v = a.at("variables");
    if (!v.is_array()) return Field(label, at + "variables", "must be a list of variable names");
    for (const json& name : v) {
      if (!name.is_string()) return Field(label, at + "variables", "must be a list of names");
      r.variables.push_back(name.get<std::string>());
    }
  }
  ASSIGN_OR_RETURN(r.rho, Number(a, "rho", label, at, 0));
  ASSIGN_OR_RETURN(r.bin_days, Number(a, "bin_days", label, at, 0));
  const bool needs_formula = r.function != "table" && r.function != "describe";
  if (needs_formula && r.formula.empty()) return Field(label, at + "formula", "is required");
  if (r.function == "glm" && r.family.empty()) {
    return Field(label, at + "family", "is required for glm (binomial, poisson, gaussian)");
  }
  if (r.function == "table" && r.rows.empty()) return Field(label, at + "rows", "is required");
  if (ties != "" && ties != "efron" && ties != "breslow" && ties != "exact") {
    return Field(label, at + "ties", "must be efron, breslow or exact");
  }
  if (r.bin_days < 0) return Field(label, at + "bin_days", "must not be negative");
  return out;
}

}  // namespace

Result<Study> ParseStudy(std::string_view text, std::string_view label) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return InvalidArgument(std::string(label) + ":" + Where(text, e.byte ? e.byte - 1 : 0) +
                           ": not valid JSON");
  }
  if (!j.is_object()) return InvalidArgument(std::string(label) + ": a study is a JSON object");
  for (const auto& [key, value] : j.items()) {
    if (key != "title" && key != "dataset" && key != "analyses" && key != "sites") {
      return Field(label, key, "is not a field of a study (title, dataset, sites, analyses)");
    }
  }
  Study study;
  ASSIGN_OR_RETURN(study.title, Text(j, "title", label, "", true));
  ASSIGN_OR_RETURN(study.dataset, Text(j, "dataset", label, "", true));
  if (!IsValidName(study.dataset)) return Field(label, "dataset", "must be a dataset name");
  if (j.contains("sites")) {
    if (!j.at("sites").is_array()) return Field(label, "sites", "must be a list of site names");
    for (const json& s : j.at("sites")) {
      if (!s.is_string() || !IsValidName(s.get<std::string>())) {
        return Field(label, "sites", "must be a list of site names");
      }
      study.sites.push_back(s.get<std::string>());
    }
  }
  if (!j.contains("analyses") || !j.at("analyses").is_array() || j.at("analyses").empty()) {
    return Field(label, "analyses", "must be a non-empty list");
  }
  std::set<std::string> ids;
  for (size_t i = 0; i < j.at("analyses").size(); ++i) {
    const std::string path = "analyses[" + std::to_string(i) + "]";
    ASSIGN_OR_RETURN(StudyAnalysis a, ParseAnalysis(j.at("analyses")[i], label, path));
    if (!ids.insert(a.id).second) {
      return Field(label, path + ".id", "'" + a.id + "' is used twice");
    }
    study.analyses.push_back(std::move(a));
  }
  return study;
}

}  // namespace passerelle::federation
