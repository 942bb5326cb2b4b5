#include "passerelle/data/record_reader.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>

#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/data/csv.h"
#include "passerelle/data/statistics_file.h"
#include "passerelle/data/xlsx.h"

namespace passerelle::data {

std::string RecordReader::Where(size_t line, size_t column) const {
  std::string where = line ? std::to_string(line) : "";
  if (column) where += (line ? ":" : "") + std::to_string(column);
  return where;
}

const std::vector<RecordFormat>& RecordFormats() {
  static const std::vector<RecordFormat> formats = {
      {"CSV", {".csv", ".tsv", ".txt"}, &OpenCsvRecords},
      {"SPSS", {".sav", ".zsav", ".por"}, &OpenStatisticsFile},
      {"Stata", {".dta"}, &OpenStatisticsFile},
      {"SAS", {".sas7bdat", ".xpt"}, &OpenStatisticsFile},
      {"Excel", {".xlsx"}, &OpenXlsx},
  };
  return formats;
}

Result<std::unique_ptr<RecordReader>> OpenRecordReader(const std::string& path,
                                                       const RecordOptions& options,
                                                       const CellFormat& cells) {
  std::string extension = std::filesystem::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> kinds;
  for (const RecordFormat& format : RecordFormats()) {
    for (std::string_view e : format.extensions) {
      if (e == extension) return format.open(path, options, cells);
    }
    std::string kind = std::string(format.name) + " (";
    for (size_t i = 0; i < format.extensions.size(); ++i) {
      kind += (i ? " " : "") + std::string(format.extensions[i]);
    }
    kinds.push_back(kind + ")");
  }
  std::string hint;
  if (extension == ".xls") hint = "; save an .xls workbook as .xlsx (Excel 2007 and later)";
  return InvalidArgument(path + ": cannot tell the kind of file from its extension '" + extension +
                         "': Passerelle reads " + Join(kinds, ", ") + hint);
}

std::string FormatTypedNumber(double value, const CellFormat& cells) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  std::string text(buf, ec == std::errc() ? end : buf);
  if (cells.decimal_comma) std::replace(text.begin(), text.end(), '.', ',');
  return text;
}

size_t Utf8Length(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string GroupedCount(uint64_t n) {
  const std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string ColumnNameProblem(std::string_view name, const std::vector<std::string>& header) {
  if (!IsValidName(name)) {
    return "column name " + QuoteCell(name) + " is not a valid variable name (" + kValidNameRule +
           ")";
  }
  if (std::find(header.begin(), header.end(), name) != header.end()) {
    return "column name " + QuoteCell(name) + " appears twice";
  }
  return "";
}

std::string FileSha256Hex(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return "";
  Sha256 hasher;
  std::string chunk(1 << 20, '\0');
  size_t n;
  while ((n = std::fread(chunk.data(), 1, chunk.size(), file)) > 0) {
    hasher.Update(std::string_view(chunk.data(), n));
  }
  const bool failed = std::ferror(file) != 0;
  std::fclose(file);
  return failed ? "" : hasher.FinishHex();
}

}  // namespace passerelle::data
