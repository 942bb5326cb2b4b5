#include "passerelle/data/infer.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_set>

#include "passerelle/base/text.h"

namespace passerelle::data {
namespace {

struct ColumnEvidence {
  size_t present = 0;
  bool all_integer = true;
  bool all_number = true;
  bool all_date = true;
  bool some_date = false;                // a cell is written as a date
  std::map<std::string, size_t> levels;  // while there are few
  bool many_levels = false;
  std::unordered_set<std::string> distinct;  // text cells, while all are distinct
  bool repeats = false;
};

bool LooksLikeIdentifierName(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower == "id" || lower.ends_with("_id") || lower.ends_with(".id") || lower == "ipp" ||
         lower == "mrn";
}

}  // namespace

bool IsBuiltinDictionaryName(std::string_view name) {
  return BuiltinDictionaryText(std::string(name) + ".v1").has_value() ||
         BuiltinDictionaryText(name).has_value();
}

std::string InferredDictionaryName(std::string_view base) {
  std::string name;
  for (const char c : base) {
    const bool kept = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
    name += kept ? c : '_';
  }
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) name = "d_" + name;
  constexpr size_t kRoom = 63 - std::char_traits<char>::length("_inferred");
  if (name.size() > kRoom) name.resize(kRoom);
  return IsBuiltinDictionaryName(name) ? name + "_inferred" : name;
}

Result<Dictionary> InferDictionary(RecordReader* reader, const CellFormat& format,
                                   const std::string& name) {
  const std::vector<std::string>& header = reader->header();
  std::vector<ColumnEvidence> evidence(header.size());
  Record record;
  size_t rows = 0;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) break;
    ++rows;
    const size_t n = std::min(record.size(), header.size());
    for (size_t c = 0; c < n; ++c) {
      const std::string_view cell = record.field(c);
      if (IsMissingCell(cell)) continue;
      ColumnEvidence& e = evidence[c];
      ++e.present;
      if (e.all_integer && !ParseInteger(cell)) e.all_integer = false;
      if (e.all_number && !ParseNumber(cell, format.decimal_comma)) e.all_number = false;
      // A cell written as a date is one, whether or not it names a day (9999-12-31 for "no
      // end", 2023-02-30, Excel's 1900-02-29): the import refuses it by its rule, where a
      // category would list the dates as levels.
      const bool date = format.date_format.Follows(TrimSpaces(cell));
      e.all_date = e.all_date && date;
      e.some_date = e.some_date || date;
      if (!e.many_levels) {
        ++e.levels[std::string(cell)];
        if (e.levels.size() > kMaxInferredLevels) e.many_levels = true;
      }
      // Distinctness matters only for text columns; numeric cells would only cost memory.
      if (e.all_number || e.all_date) continue;
      if (!e.repeats && !e.distinct.emplace(cell).second) {
        e.repeats = true;
        e.distinct.clear();
      }
    }
  }
  Dictionary d;
  d.name = name;
  d.version = 1;
  d.description = "Inferred from " + reader->label() + " (" + std::to_string(rows) +
                  " rows); review the types and levels, then pin it with --dictionary.";
  for (size_t c = 0; c < header.size(); ++c) {
    const ColumnEvidence& e = evidence[c];
    const std::vector<std::string> declared = reader->DeclaredLevels(c);
    Variable v;
    v.name = header[c];
    if (!declared.empty() && !e.many_levels && e.present > 0) {
      // Value labels say the column is a category, and in which order its levels go.
      v.type = VarType::kCategory;
      v.levels = declared;
      for (const auto& [level, count] : e.levels) {
        if (std::find(declared.begin(), declared.end(), level) == declared.end()) {
          v.levels.push_back(level);
        }
      }
    } else if (e.present == 0) {
      v.type = VarType::kNumber;
    } else if (LooksLikeIdentifierName(v.name)) {
      v.type = VarType::kIdentifier;
    } else if (e.all_integer) {
      v.type = VarType::kInteger;
    } else if (e.all_number) {
      v.type = VarType::kNumber;
    } else if (e.all_date) {
      v.type = VarType::kDate;
    } else if (e.some_date) {
      v.type = VarType::kText;  // dates among other text: never levels, never released
    } else if (!e.many_levels && (e.levels.size() < e.present || e.present < 2)) {
      v.type = VarType::kCategory;
      for (const auto& [level, count] : e.levels) v.levels.push_back(level);  // byte order
    } else {
      v.type = e.repeats ? VarType::kText : VarType::kIdentifier;
    }
    d.variables.push_back(std::move(v));
  }
  return d;
}

}  // namespace passerelle::data
