#include "passerelle/analysis/registry.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "passerelle/analysis/kinds/kinds.h"
#include "passerelle/base/text.h"

namespace passerelle::analysis {
namespace {

using R = AnalysisRequest;

std::vector<AnalysisKind> MakeKinds() {
  return {CoxphKind(),    SurvfitKind(),     SurvdiffKind(), GlmKind(),    TableKind(),
          DescribeKind(), ConcordanceKind(), FineGrayKind(), CoxZphKind(), CalibrationKind()};
}

std::string TypeOf(const AnalysisOption::Field& field) {
  if (std::holds_alternative<std::string R::*>(field)) return "text";
  if (std::holds_alternative<double R::*>(field)) return "number";
  if (std::holds_alternative<bool R::*>(field)) return "flag";
  return "variables";
}

}  // namespace

AnalysisOption FormulaOption(std::string help) {
  return {.name = "formula", .field = &R::formula, .help = std::move(help), .required = true};
}

AnalysisOption SubsetOption() {
  return {.name = "subset",
          .field = &R::subset,
          .help = "R condition selecting the records, e.g. age_dx >= 50"};
}

AnalysisOption BinDaysOption() {
  return {.name = "bin_days",
          .field = &R::bin_days,
          .help =
              "Times become ceil(t / DAYS) * DAYS: the grid of curves and tests across sites "
              "(default 30; none in local mode)",
          .always_written = true,
          .written_default = kDefaultBinDays};
}

AnalysisOption TiesOption(std::vector<std::string> choices) {
  return {.name = "ties",
          .field = &R::ties,
          .help = "Handling of tied times",
          .choices = std::move(choices),
          .always_written = true};
}

AnalysisOption WeightsOption() {
  return {.name = "weights",
          .field = &R::weights,
          .help = "Variable of case weights (R's weights =), each greater than 0"};
}

const std::vector<AnalysisKind>& AnalysisKinds() {
  // Never destroyed: a study's thread may still read it while the process exits.
  static const auto* kinds = new std::vector<AnalysisKind>(MakeKinds());
  return *kinds;
}

std::vector<std::string> AnalysisNames() {
  std::vector<std::string> names;
  for (const AnalysisKind& k : AnalysisKinds()) names.push_back(k.name);
  return names;
}

const AnalysisKind* FindAnalysisKind(std::string_view name) {
  for (const AnalysisKind& k : AnalysisKinds()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

Status CheckRequest(const AnalysisRequest& request) {
  const AnalysisKind* kind = FindAnalysisKind(request.function);
  if (!kind) {
    return InvalidArgument("function: '" + request.function + "' is not one of " +
                           Join(AnalysisNames(), ", "));
  }
  for (const AnalysisOption& o : kind->options) {
    const std::string choices = Join(o.choices, ", ");
    if (const auto* text = std::get_if<std::string R::*>(&o.field)) {
      const std::string& value = request.*(*text);
      if (o.required && value.empty()) {
        return InvalidArgument(o.name + ": is required for " + kind->name +
                               (choices.empty() ? "" : " (" + choices + ")"));
      }
      if (!value.empty() && !o.choices.empty() &&
          std::find(o.choices.begin(), o.choices.end(), value) == o.choices.end()) {
        return InvalidArgument(o.name + ": '" + value + "' is not one of " + choices);
      }
    } else if (const auto* number = std::get_if<double R::*>(&o.field)) {
      const double value = request.*(*number);
      if (!o.negative_allowed && value < 0)
        return InvalidArgument(o.name + ": must not be negative");
    }
  }
  return Status::Ok();
}

std::string RequestOptionsJson(const AnalysisRequest& request) {
  return RequestOptions(request).dump();
}

nlohmann::ordered_json RequestOptions(const AnalysisRequest& request) {
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  const AnalysisKind* kind = FindAnalysisKind(request.function);
  if (!kind) return j;
  for (const AnalysisOption& o : kind->options) {
    if (const auto* text = std::get_if<std::string R::*>(&o.field)) {
      const std::string& value = request.*(*text);
      if (!value.empty() || o.always_written) j[o.name] = value;
    } else if (const auto* number = std::get_if<double R::*>(&o.field)) {
      const double value = request.*(*number);
      if (value != 0 || o.always_written) j[o.name] = value != 0 ? value : o.written_default;
    } else if (const auto* flag = std::get_if<bool R::*>(&o.field)) {
      if (request.*(*flag) || o.always_written) j[o.name] = request.*(*flag);
    } else {
      const auto& names = request.*std::get<std::vector<std::string> R::*>(o.field);
      if (!names.empty() || o.always_written) j[o.name] = names;
    }
  }
  return j;
}

namespace {

// Adds the names `text` spells: R's names (letters, digits, '.' and '_', not starting with a
// digit) or `backquoted` ones; strings and numbers are skipped.
void ScanNames(std::string_view text, std::set<std::string>* names) {
  const auto name_char = [](char x) {
    return std::isalnum(static_cast<unsigned char>(x)) || x == '.' || x == '_';
  };
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '"' || c == '\'' || c == '`') {
      const size_t end = text.find(c, i + 1);
      if (c == '`') names->emplace(text.substr(i + 1, end - i - 1));
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (i < text.size() && name_char(text[i])) ++i;
    } else if (name_char(c)) {
      const size_t start = i;
      while (i < text.size() && name_char(text[i])) ++i;
      names->emplace(text.substr(start, i - start));
    } else {
      ++i;
    }
  }
}

// Every string of a JSON value, object keys too (a step's factor levels are keyed by their
// expressions).
void ScanJson(const nlohmann::json& j, std::set<std::string>* names) {
  if (j.is_string()) {
    ScanNames(j.get_ref<const std::string&>(), names);
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      ScanNames(key, names);
      ScanJson(value, names);
    }
  } else if (j.is_array()) {
    for (const nlohmann::json& value : j) ScanJson(value, names);
  }
}

}  // namespace

std::set<std::string> RequestNames(const AnalysisRequest& request) {
  std::set<std::string> names;
  const AnalysisKind* kind = FindAnalysisKind(request.function);
  if (!kind) return {};
  for (const AnalysisOption& o : kind->options) {
    if (const auto* text = std::get_if<std::string R::*>(&o.field)) {
      ScanNames(request.*(*text), &names);
    } else if (const auto* list = std::get_if<std::vector<std::string> R::*>(&o.field)) {
      const std::vector<std::string>& values = request.*(*list);
      if (values.empty()) return {};
      for (const std::string& value : values) ScanNames(value, &names);
    }
  }
  if (names.count(".")) return {};
  return names;
}

std::set<std::string> TaskNames(const nlohmann::json& task) {
  if (!task.is_object()) return {};
  const auto analysis = task.find("analysis");
  if (analysis == task.end() || !analysis->is_string()) return {};
  const AnalysisKind* kind = FindAnalysisKind(analysis->get_ref<const std::string&>());
  if (!kind) return {};
  for (const AnalysisOption& o : kind->options) {
    if (!std::holds_alternative<std::vector<std::string> R::*>(o.field)) continue;
    const auto list = task.find(o.name);
    if (list == task.end() || (list->is_array() && list->empty())) return {};
  }
  std::set<std::string> names;
  ScanJson(task, &names);
  if (names.count(".")) return {};
  return names;
}

std::string AnalysisKindsJson() {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const AnalysisKind& k : AnalysisKinds()) {
    nlohmann::ordered_json options = nlohmann::ordered_json::array();
    for (const AnalysisOption& o : k.options) {
      options.push_back({{"name", o.name},
                         {"type", TypeOf(o.field)},
                         {"required", o.required},
                         {"choices", o.choices},
                         {"help", o.help}});
    }
    out.push_back({{"name", k.name}, {"summary", k.summary}, {"options", options}});
  }
  return out.dump();
}

}  // namespace passerelle::analysis
