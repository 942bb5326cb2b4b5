#include "passerelle/data/dictionary.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include "passerelle/base/text.h"
#include "passerelle/data/gu_cohort.h"
#include "passerelle/data/toml_support.h"

namespace passerelle::data {

int Dictionary::IndexOf(std::string_view wanted) const {
  for (size_t i = 0; i < variables.size(); ++i) {
    if (variables[i].name == wanted) return static_cast<int>(i);
  }
  return -1;
}

namespace {

Result<Variable> ParseVariable(const toml::table& t, std::string_view label) {
  RETURN_IF_ERROR(CheckTomlKeys(t,
                                {"name", "type", "description", "unit", "required", "unique", "min",
                                 "max", "levels", "derived"},
                                label, "variable"));
  const std::string where = TomlWhere(label, t.source());
  Variable v;
  v.name = t["name"].value_or(std::string());
  if (!IsValidName(v.name)) {
    return InvalidArgument(where + ": variable: 'name' must be " + kValidNameRule);
  }
  const std::string type_name = t["type"].value_or(std::string());
  const auto type = VarTypeFromName(type_name);
  if (!type) {
    return InvalidArgument(where + ": " + v.name + ": unknown type '" + type_name +
                           "' (integer, number, date, category, identifier, text)");
  }
  v.type = *type;
  v.description = t["description"].value_or(std::string());
  v.unit = t["unit"].value_or(std::string());
  v.required = t["required"].value_or(false);
  v.unique = t["unique"].value_or(false);
  v.derived = t["derived"].value_or(false);
  if (auto min = t["min"].value<double>()) v.min = *min;
  if (auto max = t["max"].value<double>()) v.max = *max;
  if ((v.min || v.max) && v.type != VarType::kInteger && v.type != VarType::kNumber) {
    return InvalidArgument(where + ": " + v.name +
                           ": min and max apply to integer and number only");
  }
  if (v.min && v.max && *v.min > *v.max) {
    return InvalidArgument(where + ": " + v.name + ": min is larger than max");
  }
  if (const toml::array* levels = t["levels"].as_array()) {
    if (v.type != VarType::kCategory) {
      return InvalidArgument(where + ": " + v.name + ": levels apply to category variables only");
    }
    std::set<std::string> seen;
    for (const auto& level : *levels) {
      auto text = level.value<std::string>();
      if (!text || text->empty() || *text == "NA") {
        return InvalidArgument(where + ": " + v.name +
                               ": levels must be non-empty strings, not NA");
      }
      if (!seen.insert(*text).second) {
        return InvalidArgument(where + ": " + v.name + ": level '" + *text + "' appears twice");
      }
      v.levels.push_back(*text);
    }
  }
  return v;
}

std::string TomlString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        // TOML allows no other control character in a string, a carriage return included.
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          out += "\\u00" + HexEncode(std::string_view(&c, 1));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string TomlNumber(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  std::string s = buf;
  // TOML needs a '.' or exponent to read a float back as one; integers stay integers.
  return s;
}

}  // namespace

Result<Dictionary> ParseDictionary(std::string_view toml_text, std::string_view label) {
  ASSIGN_OR_RETURN(toml::table root, ParseTomlTable(toml_text, label,
                                                    {"name", "version", "description", "rules",
                                                     "derivation", "variable"},
                                                    "dictionary"));
  Dictionary d;
  d.name = root["name"].value_or(std::string());
  if (!IsValidName(d.name)) {
    return InvalidArgument(std::string(label) +
                           ": dictionary 'name' is missing or not a valid name");
  }
  d.version = static_cast<int>(root["version"].value_or(int64_t{1}));
  d.description = root["description"].value_or(std::string());
  d.derivation = root["derivation"].value_or(std::string());
  if (!d.derivation.empty() && d.derivation != kGuCohortDerivation) {
    return InvalidArgument(std::string(label) + ": unknown derivation '" + d.derivation + "'");
  }
  if (const toml::array* rules = root["rules"].as_array()) {
    for (const auto& rule : *rules) {
      const std::string name = rule.value_or(std::string());
      if (!IsKnownGuRule(name)) {
        return InvalidArgument(TomlWhere(label, rule.source()) + ": unknown rule '" + name + "'");
      }
      d.rules.push_back(name);
    }
  }
  const toml::array* variables = root["variable"].as_array();
  if (!variables || variables->empty()) {
    return InvalidArgument(std::string(label) + ": a dictionary needs at least one [[variable]]");
  }
  for (const auto& node : *variables) {
    const toml::table* table = node.as_table();
    if (!table) return InvalidArgument(TomlWhere(label, node.source()) + ": [[variable]] expected");
    ASSIGN_OR_RETURN(Variable v, ParseVariable(*table, label));
    if (d.IndexOf(v.name) >= 0) {
      return InvalidArgument(TomlWhere(label, table->source()) + ": variable '" + v.name +
                             "' is defined twice");
    }
    d.variables.push_back(std::move(v));
  }
  return d;
}

std::string DictionaryToToml(const Dictionary& d) {
  std::ostringstream out;
  out << "name = " << TomlString(d.name) << "\n";
  out << "version = " << d.version << "\n";
  if (!d.description.empty()) out << "description = " << TomlString(d.description) << "\n";
  if (!d.derivation.empty()) out << "derivation = " << TomlString(d.derivation) << "\n";
  if (!d.rules.empty()) {
    out << "rules = [";
    for (size_t i = 0; i < d.rules.size(); ++i) out << (i ? ", " : "") << TomlString(d.rules[i]);
    out << "]\n";
  }
  for (const Variable& v : d.variables) {
    out << "\n[[variable]]\nname = " << TomlString(v.name) << "\n";
    out << "type = " << TomlString(VarTypeName(v.type)) << "\n";
    if (!v.description.empty()) out << "description = " << TomlString(v.description) << "\n";
    if (!v.unit.empty()) out << "unit = " << TomlString(v.unit) << "\n";
    if (v.required) out << "required = true\n";
    if (v.unique) out << "unique = true\n";
    if (v.derived) out << "derived = true\n";
    if (v.min) out << "min = " << TomlNumber(*v.min) << "\n";
    if (v.max) out << "max = " << TomlNumber(*v.max) << "\n";
    if (!v.levels.empty()) {
      out << "levels = [";
      for (size_t i = 0; i < v.levels.size(); ++i) {
        out << (i ? ", " : "") << TomlString(v.levels[i]);
      }
      out << "]\n";
    }
  }
  return out.str();
}

}  // namespace passerelle::data
