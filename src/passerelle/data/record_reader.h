// The one way a hospital's file comes into Passerelle: a RecordReader yields the file's column
// names, then its records as text fields, each field knowing where it was in the file. Each kind
// of file (CSV, statistics files through ReadStat, Excel workbooks) is one reader; the validator,
// the dictionary inference and the store see only this interface. OpenRecordReader picks the
// kind from the file's extension.
#ifndef PASSERELLE_DATA_RECORD_READER_H_
#define PASSERELLE_DATA_RECORD_READER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/date.h"
#include "passerelle/base/status.h"

namespace passerelle::data {

// How cells are read: the dialect beyond each file's own syntax. Readers of typed files
// (statistics files, Excel) write their numbers and dates in it, so that the validator reads a
// typed cell and a text cell alike.
struct CellFormat {
  bool decimal_comma = false;
  DateFormat date_format;
};

// One record: its fields as text (a missing value is empty) and the line of each field, in the
// numbering of the reader that made it (RecordReader::Where turns it into a place).
class Record {
 public:
  size_t size() const { return ends_.size(); }
  std::string_view field(size_t i) const {
    const size_t begin = i == 0 ? 0 : ends_[i - 1] + gap_;
    return std::string_view(data_).substr(begin, ends_[i] - begin);
  }
  // The line of field i: the 1-based line of a CSV file, the 1-based data row of a statistics
  // file, the row number of an Excel sheet.
  size_t line(size_t i) const { return lines_.empty() ? line_ : lines_[i]; }
  size_t first_line() const { return lines_.empty() ? line_ : lines_[0]; }

  void Clear() {
    data_.clear();
    ends_.clear();
    lines_.clear();
    gap_ = 0;
    line_ = 0;
  }
  void Add(std::string_view field, size_t line) {
    data_.append(field);
    ends_.push_back(static_cast<uint32_t>(data_.size()));
    lines_.push_back(line);
  }

 private:
  friend class CsvReader;  // appends fields in place, byte runs at a time, or a line at once
  std::string data_;
  std::vector<uint32_t> ends_;
  std::vector<size_t> lines_;
  // A CSV line taken whole: data_ is the line, separators kept (one byte between fields:
  // gap_ 1), every field on line_ (lines_ empty).
  uint32_t gap_ = 0;
  size_t line_ = 0;
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;

  // The column names (valid variable names, none twice).
  virtual const std::vector<std::string>& header() const = 0;
  // Names the file in messages: the path as given.
  virtual const std::string& label() const = 0;
  // Reads the next record into *record; false at the end of the data. Errors say where, as
  // label():Where(...): ...; after an error, reading stops.
  virtual Result<bool> Next(Record* record) = 0;
  // SHA-256 of every byte of the file, as lowercase hex. Valid once Next has returned false.
  virtual std::string ChecksumHex() = 0;

  // The place of `line` and `column` (1-based field of a record; 0 for none) as written after
  // "file:" in messages: "12:3" for a CSV, "row 12" for a statistics file, "Sheet1!C12" for an
  // Excel sheet. Empty when neither says anything in this kind of file.
  virtual std::string Where(size_t line, size_t column) const;
  // The line of the header, as Record::line numbers lines (0 when the column names are on no
  // line, as in a statistics file).
  virtual size_t header_line() const { return 1; }
  // The levels the file itself declares for a column, in its order (a statistics file's value
  // labels); empty when it declares none.
  virtual std::vector<std::string> DeclaredLevels(size_t /*column*/) const { return {}; }
  // What the reader says of its source as a whole, once read (an OMOP CDM without an optional
  // table); never a record's value.
  virtual std::vector<std::string> Notes() const { return {}; }
};

// What a reader may be told beyond the cells' format. Each kind refuses what does not apply to
// it (a separator for an Excel workbook, a sheet for a CSV file).
struct RecordOptions {
  // CSV: ',' ';' or '\t'; 0 detects it from the header.
  char separator = 0;
  // CSV and statistics files: "" (UTF-8, or the encoding the file declares) or one of
  // CsvEncodings().
  std::string encoding;
  // Excel: the sheet to read; "" for the first.
  std::string sheet;
};

// A kind of file: its name for people, its extensions (lowercase, with the dot), its reader.
struct RecordFormat {
  std::string_view name;
  std::vector<std::string_view> extensions;
  Result<std::unique_ptr<RecordReader>> (*open)(const std::string& path,
                                                const RecordOptions& options,
                                                const CellFormat& cells);
};
// Every kind there is.
const std::vector<RecordFormat>& RecordFormats();

// Opens `path` with the reader of its extension (case-insensitive) and reads its header.
// InvalidArgument for an extension no kind takes (the message lists those there are), an option
// the kind does not take, or an unreadable header; NotFound when the file cannot be opened.
Result<std::unique_ptr<RecordReader>> OpenRecordReader(const std::string& path,
                                                       const RecordOptions& options,
                                                       const CellFormat& cells);

// Limits every reader of typed files keeps, whatever the file declares (docs/import.md, "Limits"):
// a cell's text, as Excel's own cells, and a record's text, so that a hostile file's
// expansions (a short reference to a long shared string, a compressed run) stay bounded.
inline constexpr size_t kMaxCellCharacters = 32767;
inline constexpr size_t kMaxRecordBytes = size_t{16} << 20;

// The characters (Unicode code points) of UTF-8 text: its bytes but continuation bytes.
size_t Utf8Length(std::string_view text);
// 1048576 as "1,048,576", for limits in messages.
std::string GroupedCount(uint64_t n);

// Shared by the readers of typed files: a number with the fewest digits that read back to
// exactly `value` ("0.1", "12", "1e+300"), with a decimal comma when `cells` says so.
std::string FormatTypedNumber(double value, const CellFormat& cells);
// Why `name` cannot be the next column name after `header`, or "" when it can.
std::string ColumnNameProblem(std::string_view name, const std::vector<std::string>& header);
// SHA-256 of the file at `path`, read in chunks; empty when it cannot be read.
std::string FileSha256Hex(const std::string& path);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_RECORD_READER_H_
