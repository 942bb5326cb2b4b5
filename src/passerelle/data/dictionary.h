// Data dictionaries: the typed description of a dataset that every imported row is checked
// against. Written by people as TOML (docs/dictionaries.md), stored with each dataset version.
#ifndef PASSERELLE_DATA_DICTIONARY_H_
#define PASSERELLE_DATA_DICTIONARY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/value.h"

namespace passerelle::data {

struct Variable {
  std::string name;
  VarType type = VarType::kText;
  std::string description;
  std::string unit;
  bool required = false;           // a missing cell is an error
  bool unique = false;             // no two rows share a value
  std::optional<double> min, max;  // integer and number: inclusive bounds
  // category: the allowed values in order (the first is the reference level). Empty: any value,
  // with levels in sorted byte order at analysis time.
  std::vector<std::string> levels;
  // Non-empty: computed at import by the dictionary's derivation; never read from the file.
  bool derived = false;
};

struct Dictionary {
  std::string name;
  int version = 1;
  std::string description;
  std::vector<Variable> variables;
  // Named cross-field rules checked on every row (see data/gu_cohort.h for their meaning).
  std::vector<std::string> rules;
  // Name of the derivation that fills the derived variables ("" for none).
  std::string derivation;

  // Index of the variable called `name`, or -1.
  int IndexOf(std::string_view name) const;
  // "name.vN", e.g. "gu_cohort.v1".
  std::string Id() const { return name + ".v" + std::to_string(version); }
};

// Parses a dictionary. `label` names the source in messages (file:line:column: ...).
// InvalidArgument for bad TOML, unknown keys or types, duplicate names, or unknown rules.
Result<Dictionary> ParseDictionary(std::string_view toml_text, std::string_view label);
// The dictionary as TOML that ParseDictionary reads back to an equal dictionary.
std::string DictionaryToToml(const Dictionary& dictionary);

// Dictionaries shipped inside the binary, by id ("gu_cohort.v1"); nullopt when unknown.
std::optional<std::string_view> BuiltinDictionaryText(std::string_view id);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_DICTIONARY_H_
