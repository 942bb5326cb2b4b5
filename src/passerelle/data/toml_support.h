// Internal to data/: what the readers of TOML files (dictionaries, the OMOP mapping) share to
// name a place in the file and refuse keys they do not know. Included only by .cc files, so
// toml++ stays out of public headers.
#ifndef PASSERELLE_DATA_TOML_SUPPORT_H_
#define PASSERELLE_DATA_TOML_SUPPORT_H_

#include <toml++/toml.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

#include "passerelle/base/status.h"

namespace passerelle::data {

// "label:line:column" of a node of the file.
inline std::string TomlWhere(std::string_view label, const toml::source_region& region) {
  return std::string(label) + ":" + std::to_string(region.begin.line) + ":" +
         std::to_string(region.begin.column);
}

// InvalidArgument naming the first key of `table` not in `allowed`, and where it is.
inline Status CheckTomlKeys(const toml::table& table,
                            std::initializer_list<std::string_view> allowed, std::string_view label,
                            std::string_view what) {
  for (const auto& [key, node] : table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
      return InvalidArgument(TomlWhere(label, node.source()) + ": " + std::string(what) +
                             ": unknown key '" + std::string(key.str()) + "'");
    }
  }
  return Status::Ok();
}

// The file parsed, its top-level keys checked against `allowed`; InvalidArgument with
// label:line:column for a file that is not TOML or holds another key.
inline Result<toml::table> ParseTomlTable(std::string_view text, std::string_view label,
                                          std::initializer_list<std::string_view> allowed,
                                          std::string_view what) {
  toml::table root;
  try {
    root = toml::parse(text, std::string(label));
  } catch (const toml::parse_error& error) {
    return InvalidArgument(TomlWhere(label, error.source()) + ": " +
                           std::string(error.description()));
  }
  RETURN_IF_ERROR(CheckTomlKeys(root, allowed, label, what));
  return root;
}

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_TOML_SUPPORT_H_
