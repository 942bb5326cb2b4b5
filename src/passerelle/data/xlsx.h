// Excel workbooks (.xlsx, Office Open XML): a ZIP archive (libzip) of XML parts (expat, streamed:
// no part is held as a tree). One sheet is read as a table: its first row with a value is the
// header, each later row with a value a record. Cells are read as Excel typed them: text (shared
// or inline), numbers written with the fewest digits that read back exactly, TRUE/FALSE, and
// numbers whose style's format is a date as dates in the import's layout (from the 1900 or 1904
// date system, as the workbook says). Places in messages are cells: "file:Sheet1!C12".
#ifndef PASSERELLE_DATA_XLSX_H_
#define PASSERELLE_DATA_XLSX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "passerelle/base/date.h"
#include "passerelle/data/record_reader.h"

namespace passerelle::data {

// The Excel kind of RecordFormats(). `options.sheet` names the sheet (default: the workbook's
// first). InvalidArgument for a file that is not a workbook, a sheet it does not have (the
// message lists those it has), merged cells touching the header row, a header cell that is not a
// valid name, an encoding or a separator; NotFound when the file cannot be opened.
Result<std::unique_ptr<RecordReader>> OpenXlsx(const std::string& path,
                                               const RecordOptions& options,
                                               const CellFormat& cells);

// The same, for a workbook held in memory (`bytes`), named `label` in messages; its checksum is
// of `bytes`. For tests and fuzzing: an import reads its file from a path.
Result<std::unique_ptr<RecordReader>> OpenXlsxBytes(std::string bytes, const std::string& label,
                                                    const RecordOptions& options,
                                                    const CellFormat& cells);

// What a workbook may hold (docs/import.md, "Limits"): beyond any of these it is refused, by
// name, before the memory or the time it would take. Sizes are of a part decompressed.
struct XlsxLimits {
  static constexpr uint64_t kPartBytes = uint64_t{1} << 30;  // a sheet, the shared strings
  // The workbook, its relationships, the styles: a few kilobytes in real workbooks.
  static constexpr uint64_t kSmallPartBytes = uint64_t{64} << 20;
  static constexpr size_t kSheets = 65536;  // sheets, and the workbook's relationships
  static constexpr uint64_t kRatio = 1000;  // decompressed to compressed size
  static constexpr uint64_t kRatioFrom = uint64_t{1} << 20;  // parts smaller are not held to it
  static constexpr size_t kSharedStrings = size_t{1} << 24;  // 16,777,216
  static constexpr uint64_t kSharedStringBytes = uint64_t{512} << 20;
  static constexpr size_t kColumns = 16384;  // Excel's own: A to XFD
  static constexpr size_t kRows = 1048576;   // Excel's own
  static constexpr size_t kMergedRanges = 1000000;
  static constexpr size_t kStyles = 65536;        // cell formats and number formats, each
  static constexpr int kXmlDepth = 256;           // elements within elements
  static constexpr uint64_t kXmlToken = 1 << 20;  // one tag, comment or declaration
};

// The calendar day of an Excel date serial (its whole part; the fraction is the time of day).
// In the 1900 system, 1 is 1900-01-01 and 60 is 1900-02-29, a day that never was (Lotus 1-2-3
// took 1900 for a leap year and Excel kept it), returned as such; in the 1904 system, 0 is
// 1904-01-01.
CivilDate ExcelSerialDate(double serial, bool date1904);
// True when a number shown with this number format is a date: the built-in formats that are
// dates (14 to 17, 22, and the East Asian ones Chinese and Japanese Excel write, 27 to 31, 36,
// 50 to 54, 57, 58), or a custom `code` with a day, month or year in it (d, m, y outside quotes
// and brackets; an m beside h or s, and nothing else, is minutes: a time of day is no date).
bool IsDateNumberFormat(int id, std::string_view code);
// "A", "Z", "AA", ... for 1, 26, 27, ...
std::string ColumnLetters(size_t column);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_XLSX_H_
