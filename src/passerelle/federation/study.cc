#include "passerelle/federation/study.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/base/date.h"
#include "passerelle/base/text.h"
#include "passerelle/formula/expr.h"
#include "passerelle/formula/model.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;

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

// Limits of a study or protocol, far above any real one: one file cannot occupy a hub and every
// node for long (a describe of a million variables would).
constexpr size_t kMaxAnalyses = 200;
constexpr size_t kMaxVariables = 500;
constexpr size_t kMaxTitle = 500;

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

// The fields an analysis may have: its id, its function, and the options of any kind.
const std::set<std::string>& AnalysisKeys() {
  static const std::set<std::string> keys = [] {
    std::set<std::string> k = {"id", "function"};
    for (const analysis::AnalysisKind& kind : analysis::AnalysisKinds()) {
      for (const analysis::AnalysisOption& o : kind.options) k.insert(o.name);
    }
    return k;
  }();
  return keys;
}

Result<StudyAnalysis> ParseAnalysis(const json& a, std::string_view label,
                                    const std::string& path) {
  using analysis::AnalysisRequest;
  if (!a.is_object()) return Field(label, path, "must be an object");
  for (const auto& [key, value] : a.items()) {
    if (!AnalysisKeys().count(key)) {
      return Field(
          label, path + "." + key,
          "is not a field of an analysis (" +
              Join(std::vector<std::string>(AnalysisKeys().begin(), AnalysisKeys().end()), ", ") +
              ")");
    }
  }
  const std::string at = path + ".";
  StudyAnalysis out;
  AnalysisRequest& r = out.request;
  ASSIGN_OR_RETURN(out.id, Text(a, "id", label, at, true));
  if (!IsValidName(out.id)) {
    return Field(label, at + "id", "'" + out.id + "' must be letters, digits and _");
  }
  ASSIGN_OR_RETURN(r.function, Text(a, "function", label, at, true));
  const analysis::AnalysisKind* kind = analysis::FindAnalysisKind(r.function);
  if (kind) {
    // Each option of the kind, read into its field of the request; options of other kinds are
    // ignored.
    for (const analysis::AnalysisOption& o : kind->options) {
      if (!a.contains(o.name)) continue;
      if (const auto* text = std::get_if<std::string AnalysisRequest::*>(&o.field)) {
        // A choice of true or false (robust) may be written as JSON's true or false.
        if (a.at(o.name).is_boolean() && o.choices == std::vector<std::string>{"true", "false"}) {
          r.*(*text) = a.at(o.name).get<bool>() ? "true" : "false";
          continue;
        }
        ASSIGN_OR_RETURN(std::string value, Text(a, o.name, label, at, false));
        if (!value.empty()) r.*(*text) = std::move(value);
      } else if (const auto* number = std::get_if<double AnalysisRequest::*>(&o.field)) {
        ASSIGN_OR_RETURN(r.*(*number), Number(a, o.name, label, at, 0));
      } else if (const auto* flag = std::get_if<bool AnalysisRequest::*>(&o.field)) {
        if (!a.at(o.name).is_boolean()) return Field(label, at + o.name, "must be true or false");
        r.*(*flag) = a.at(o.name).get<bool>();
      } else {
        const json& v = a.at(o.name);
        if (!v.is_array()) return Field(label, at + o.name, "must be a list of variable names");
        if (v.size() > kMaxVariables) {
          return Field(label, at + o.name,
                       "lists more than " + std::to_string(kMaxVariables) + " variables");
        }
        auto& names = r.*std::get<std::vector<std::string> AnalysisRequest::*>(o.field);
        for (const json& name : v) {
          if (!name.is_string()) return Field(label, at + o.name, "must be a list of names");
          names.push_back(name.get<std::string>());
        }
      }
    }
  }
  if (Status s = analysis::CheckRequest(r); !s.ok()) {
    return InvalidArgument(std::string(label) + ": " + at + s.message());
  }
  return out;
}

Result<json> ParseObject(std::string_view text, std::string_view label, const std::string& what,
                         const std::set<std::string>& keys) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return InvalidArgument(std::string(label) + ":" + Where(text, e.byte ? e.byte - 1 : 0) +
                           ": not valid JSON");
  } catch (const json::exception& e) {  // a number beyond a double's range: "... parsing '1e999'"
    const std::string message = e.what();
    const size_t open = message.find('\''), close = message.rfind('\'');
    const size_t at = open < close ? text.find(message.substr(open + 1, close - open - 1)) : 0;
    return InvalidArgument(std::string(label) + ":" + Where(text, at == text.npos ? 0 : at) +
                           ": a number beyond the range of a double");
  }
  if (!j.is_object()) {
    return InvalidArgument(std::string(label) + ": a " + what + " is a JSON object");
  }
  for (const auto& [key, value] : j.items()) {
    if (!keys.count(key)) {
      return Field(label, key,
                   "is not a field of a " + what + " (" +
                       Join(std::vector<std::string>(keys.begin(), keys.end()), ", ") + ")");
    }
  }
  return j;
}

Result<std::vector<std::string>> Names(const json& j, const std::string& key,
                                       std::string_view label, const std::string& what) {
  std::vector<std::string> names;
  if (!j.contains(key)) return names;
  if (!j.at(key).is_array()) return Field(label, key, "must be a list of " + what + " names");
  for (const json& s : j.at(key)) {
    if (!s.is_string() || !IsValidName(s.get<std::string>())) {
      return Field(label, key, "must be a list of " + what + " names");
    }
    if (std::find(names.begin(), names.end(), s.get<std::string>()) != names.end()) {
      return Field(label, key, "names '" + s.get<std::string>() + "' twice");
    }
    names.push_back(s.get<std::string>());
  }
  return names;
}

Result<Study> StudyOf(const json& j, std::string_view label) {
  Study study;
  ASSIGN_OR_RETURN(study.title, Text(j, "title", label, "", true));
  if (study.title.size() > kMaxTitle) {
    return Field(label, "title", "is longer than " + std::to_string(kMaxTitle) + " bytes");
  }
  ASSIGN_OR_RETURN(study.dataset, Text(j, "dataset", label, "", true));
  if (!IsValidName(study.dataset)) return Field(label, "dataset", "must be a dataset name");
  ASSIGN_OR_RETURN(study.sites, Names(j, "sites", label, "site"));
  // A study under a protocol may leave its analyses out: it runs every one of the protocol's.
  if (!j.contains("analyses") && j.contains("protocol") && !j.contains("researchers")) {
    return study;
  }
  if (!j.contains("analyses") || !j.at("analyses").is_array() || j.at("analyses").empty()) {
    return Field(label, "analyses", "must be a non-empty list");
  }
  if (j.at("analyses").size() > kMaxAnalyses) {
    return Field(label, "analyses", "has more than " + std::to_string(kMaxAnalyses) + " analyses");
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

// The fields of a task step that say which analysis it belongs to, with the defaults the hub
// fills in: a step matches an analysis when these are equal (its kind says which).
json Signature(const json& step) {
  const analysis::AnalysisKind* kind = analysis::FindAnalysisKind(step.value("analysis", ""));
  if (!kind) return {{"analysis", step.value("analysis", "")}};
  return kind->signature(step);
}

// The signature of the steps an analysis sends: its first step's (models and tables any of
// theirs; curves and tests their counts on the time grid, or the exact log-rank step).
json SignatureOf(const StudyAnalysis& a) {
  return Signature(analysis::FindAnalysisKind(a.request.function)->first_step(a.request));
}

}  // namespace

Result<Study> ParseStudy(std::string_view text, std::string_view label) {
  ASSIGN_OR_RETURN(
      json j, ParseObject(text, label, "study",
                          {"title", "dataset", "sites", "analyses", "protocol", "on_refusal"}));
  ASSIGN_OR_RETURN(Study study, StudyOf(j, label));
  ASSIGN_OR_RETURN(study.on_refusal, Text(j, "on_refusal", label, "", false));
  if (study.on_refusal.empty()) study.on_refusal = "fail";
  if (study.on_refusal != "fail" && study.on_refusal != "exclude") {
    return Field(label, "on_refusal", "must be \"fail\" or \"exclude\"");
  }
  ASSIGN_OR_RETURN(study.protocol, Text(j, "protocol", label, "", false));
  if (!study.protocol.empty() && !IsValidProtocolName(study.protocol)) {
    return Field(label, "protocol", "must be a protocol's name (letters, digits, '-', '_', '.')");
  }
  return study;
}

bool IsValidProtocolName(const std::string& name) {
  if (name.empty() || name.size() > 64 || !std::isalnum(static_cast<unsigned char>(name[0]))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

Result<Protocol> ParseProtocol(std::string_view text, std::string_view label) {
  ASSIGN_OR_RETURN(json j, ParseObject(text, label, "protocol",
                                       {"protocol", "title", "dataset", "sites", "researchers",
                                        "expires", "analyses"}));
  Protocol p;
  ASSIGN_OR_RETURN(p.name, Text(j, "protocol", label, "", true));
  if (!IsValidProtocolName(p.name)) {
    return Field(label, "protocol", "must be a name (letters, digits, '-', '_', '.')");
  }
  ASSIGN_OR_RETURN(p.study, StudyOf(j, label));
  p.study.protocol = p.name;
  ASSIGN_OR_RETURN(p.researchers, Names(j, "researchers", label, "researcher"));
  if (p.researchers.empty()) return Field(label, "researchers", "is required (who may run it)");
  ASSIGN_OR_RETURN(p.expires, Text(j, "expires", label, "", true));
  if (p.expires.size() != 10 || !DateFormat().ParseDays(p.expires)) {
    return Field(label, "expires", "must be a date, YYYY-MM-DD (the last day it may run)");
  }
  return p;
}

Result<std::string> ProtocolAnalysisOf(const Protocol& protocol, const std::string& step_json) {
  const json step = json::parse(step_json, nullptr, /*allow_exceptions=*/false);
  if (step.is_object()) {
    const json sig = Signature(step);
    for (const StudyAnalysis& a : protocol.study.analyses) {
      if (SignatureOf(a) == sig) return a.id;
    }
  }
  return NotFound("the task is not an analysis of protocol " + protocol.name);
}

std::string AnalysisJson(const StudyAnalysis& a) {
  nlohmann::ordered_json j = {{"id", a.id}, {"function", a.request.function}};
  j.update(analysis::RequestOptions(a.request));
  return j.dump();
}

std::vector<std::string> ProtocolChanges(const Protocol& before, const Protocol& after) {
  std::vector<std::string> changes;
  auto field = [&](const std::string& name, const std::string& was, const std::string& is) {
    if (was != is) changes.push_back(name + ": " + was + " -> " + is);
  };
  field("title", before.study.title, after.study.title);
  field("dataset", before.study.dataset, after.study.dataset);
  field("expires", before.expires, after.expires);
  field("researchers", Join(before.researchers, ", "), Join(after.researchers, ", "));
  field("sites", Join(before.study.sites, ", "), Join(after.study.sites, ", "));
  std::map<std::string, std::string> old;
  for (const StudyAnalysis& a : before.study.analyses) old[a.id] = AnalysisJson(a);
  for (const StudyAnalysis& a : after.study.analyses) {
    const std::string now = AnalysisJson(a);
    const auto it = old.find(a.id);
    if (it == old.end()) {
      changes.push_back("added " + now);
    } else {
      if (it->second != now) changes.push_back("changed " + it->second + " -> " + now);
      old.erase(it);
    }
  }
  for (const auto& [id, was] : old) changes.push_back("removed " + was);
  return changes;
}

}  // namespace passerelle::federation
