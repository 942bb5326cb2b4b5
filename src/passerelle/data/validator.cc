#include "passerelle/data/validator.h"

#include <algorithm>
#include <cstring>

#include "passerelle/base/text.h"

namespace passerelle::data {

Result<std::unique_ptr<RowValidator>> RowValidator::Make(
    const Dictionary& dictionary, const std::vector<std::string>& header, const CellFormat& format,
    IndexDate index_date, ProblemList* problems, size_t header_line) {
  std::unique_ptr<RowValidator> v(new RowValidator(dictionary, format));
  ASSIGN_OR_RETURN(v->rules_, GuRules::Bind(dictionary));
  if (!dictionary.derivation.empty()) {
    ASSIGN_OR_RETURN(GuDerivation derivation, GuDerivation::Bind(dictionary, index_date));
    v->derivation_ = std::move(derivation);
  }
  v->header_size_ = header.size();
  for (const Variable& var : dictionary.variables) {
    std::vector<LevelKey>& keys = v->level_keys_.emplace_back();
    for (const std::string& level : var.levels) keys.push_back({ShortKey(level), level.size()});
  }
  v->seen_.resize(dictionary.variables.size());
  v->column_of_.assign(dictionary.variables.size(), -1);
  for (size_t c = 0; c < header.size(); ++c) {
    const int i = dictionary.IndexOf(header[c]);
    if (i < 0) {
      problems->Add({header_line, c + 1, header[c], "column not in dictionary " + dictionary.Id(),
                     "", false});
    } else if (dictionary.variables[i].derived) {
      problems->Add({header_line, c + 1, header[c],
                     "derived by Passerelle at import; remove this column from the file", "",
                     false});
    } else {
      v->column_of_[i] = static_cast<int>(c);
    }
  }
  for (size_t i = 0; i < dictionary.variables.size(); ++i) {
    const Variable& var = dictionary.variables[i];
    if (var.unique && !var.derived && v->column_of_[i] >= 0) {
      v->unique_columns_.push_back(static_cast<int>(i));
    }
    if (var.derived || v->column_of_[i] >= 0) continue;
    if (var.required) {
      problems->Add(
          {header_line, 0, var.name, "required column is missing from the header", "", false});
    } else {
      v->absent_optional_.push_back(var.name);
    }
  }
  return v;
}

namespace {

// Text is stored as UTF-8, whatever the file it came from: bytes that are not (a damaged
// workbook, a statistics file whose text is not in the encoding it names) would be shown as
// other characters by every reader. Text ends at a NUL byte where it is read (SQLite's shell, C
// programs) and PostgreSQL refuses it: two identifiers that differ after one would look the
// same. False, with the rule, for such a text.
bool TextValid(std::string_view cell, std::string* rule) {
  if (FindInvalidUtf8(cell)) {
    *rule = "text that is not valid UTF-8 (type text)";
    return false;
  }
  if (!std::memchr(cell.data(), '\0', cell.size())) return true;
  *rule = "a NUL byte in the text (type text)";
  return false;
}

}  // namespace

bool RowValidator::Convert(size_t i, std::string_view cell, Value* value, std::string* rule) const {
  const Variable& var = dictionary_.variables[i];
  if (IsMissingCell(cell)) {
    *value = Value::Missing();
    if (var.required) {
      *rule = "required value is missing";
      return false;
    }
    return true;
  }
  switch (var.type) {
    case VarType::kInteger: {
      const auto parsed = ParseInteger(cell);
      if (!parsed) {
        *rule = "not a whole number (type integer)";
        return false;
      }
      *value = Value::Integer(*parsed);
      break;
    }
    case VarType::kNumber: {
      const auto parsed = ParseNumber(cell, format_.decimal_comma);
      if (!parsed) {
        *rule = format_.decimal_comma ? "not a number with a decimal comma (type number)"
                                      : "not a number (type number)";
        return false;
      }
      *value = Value::Number(*parsed);
      break;
    }
    case VarType::kDate: {
      const std::string_view text = TrimSpaces(cell);
      const auto days = format_.date_format.ParseDays(text);
      if (!days) {
        *rule = format_.date_format.OutOfRange(text)
                    ? "a date outside the years 1800 to 2300 (type date); a date not known is "
                      "an empty cell"
                    : "not a valid date in the layout " + format_.date_format.pattern() +
                          " (type date)";
        return false;
      }
      *value = Value::Integer(*days);
      return true;
    }
    case VarType::kCategory: {
      int32_t level = -1;
      if (!var.levels.empty()) {
        // This runs for millions of cells: the length and ShortKey first, then the rest.
        const std::vector<LevelKey>& keys = level_keys_[i];
        const uint64_t short_key = ShortKey(cell);
        auto it = var.levels.begin();
        for (const LevelKey& key : keys) {
          if (key.size == cell.size() && key.key == short_key &&
              (cell.size() <= 8 ||
               std::memcmp(it->data() + 8, cell.data() + 8, cell.size() - 8) == 0)) {
            break;
          }
          ++it;
        }
        if (it == var.levels.end()) {
          std::string allowed = Join(var.levels, ", ");
          if (allowed.size() > 120) allowed = allowed.substr(0, 117) + "...";
          *rule = "not one of the levels (" + allowed + ")";
          return false;
        }
        level = static_cast<int32_t>(it - var.levels.begin());
      } else if (!TextValid(cell, rule)) {
        return false;
      }
      *value = Value::Text(cell, level);
      return true;
    }
    case VarType::kIdentifier:
    case VarType::kText:
      if (!TextValid(cell, rule)) return false;
      *value = Value::Text(cell);
      return true;
  }
  const double x =
      var.type == VarType::kInteger ? static_cast<double>(value->integer) : value->number;
  if (var.min && x < *var.min) {
    *rule = "must be at least " + FormatNumber(*var.min, 15) + " (min)";
    return false;
  }
  if (var.max && x > *var.max) {
    *rule = "must be at most " + FormatNumber(*var.max, 15) + " (max)";
    return false;
  }
  return true;
}

void RowValidator::Prefetch(const Record& record) const {
  if (record.size() != header_size_) return;
  for (int i : unique_columns_) seen_[i].Prefetch(record.field(column_of_[i]));
}

bool RowValidator::Check(const Record& record, std::span<Value> row, ProblemList* problems) {
  const size_t line = record.first_line();
  if (record.size() != header_size_) {
    problems->Add({line, std::min(record.size(), header_size_) + 1, "",
                   "record has " + std::to_string(record.size()) + " fields but the header has " +
                       std::to_string(header_size_),
                   "", false});
    return false;
  }
  const size_t before = problems->total();
  std::string rule;
  for (size_t i = 0; i < dictionary_.variables.size(); ++i) {
    const Variable& var = dictionary_.variables[i];
    const int c = column_of_[i];
    if (var.derived || c < 0) {
      row[i] = Value::Missing();  // derived ones are filled by Derive() below
      continue;                   // a required column's absence was reported by Make()
    }
    const std::string_view cell = record.field(c);
    if (!Convert(i, cell, &row[i], &rule)) {
      problems->Add({c >= 0 ? record.line(c) : line, static_cast<size_t>(c + 1), var.name, rule,
                     std::string(cell), true});
      continue;
    }
    if (var.unique && !row[i].missing) {
      if (!seen_[i].Insert(cell)) {
        problems->Add({record.line(c), static_cast<size_t>(c + 1), var.name,
                       "value appears on an earlier row (unique)", std::string(cell), true});
      }
    }
  }
  if (problems->total() != before) return false;
  rules_.Check(row, [&](int i, std::string message) {
    const int c = column_of_[i];
    const std::string_view cell = c >= 0 ? record.field(c) : std::string_view();
    problems->Add({c >= 0 ? record.line(c) : line, static_cast<size_t>(c + 1),
                   dictionary_.variables[i].name, std::move(message), std::string(cell), c >= 0});
  });
  if (problems->total() != before) return false;
  if (derivation_) derivation_->Derive(row);
  return true;
}

}  // namespace passerelle::data
