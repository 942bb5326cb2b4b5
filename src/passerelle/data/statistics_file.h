// Statistics packages' own files, read through ReadStat: SPSS (.sav, .zsav, .por), Stata (.dta)
// and SAS (.sas7bdat, .xpt). Each cell becomes the text a CSV export would hold, so the same
// dictionary validates both: a value label becomes its level's text, SPSS user-missing codes
// and Stata/SAS extended missing values (.a to .z) become missing, dates and date-times (by
// their display format) become dates in the import's layout, numbers are written with the
// fewest digits that read back exactly. Places in messages are data rows: "file:row 12".
#ifndef PASSERELLE_DATA_STATISTICS_FILE_H_
#define PASSERELLE_DATA_STATISTICS_FILE_H_

#include <memory>
#include <string>

#include "passerelle/data/record_reader.h"

namespace passerelle::data {

// The SPSS, Stata and SAS kinds of RecordFormats(), told apart by `path`'s extension. Reads the
// file's variables and value labels, then streams its rows from a second thread (a few thousand
// rows ahead of the caller, whatever the file's size). `options.encoding` names the encoding of
// a file that does not declare its own (old SPSS and Stata files). InvalidArgument for a file
// ReadStat cannot read, a variable name that is not a valid one, a sheet or a separator.
Result<std::unique_ptr<RecordReader>> OpenStatisticsFile(const std::string& path,
                                                         const RecordOptions& options,
                                                         const CellFormat& cells);

// The same, for a file held in memory (`bytes`), named `label` in messages (its extension says
// the kind); its checksum is of `bytes`. For tests and fuzzing: an import reads from a path.
Result<std::unique_ptr<RecordReader>> OpenStatisticsBytes(std::string bytes,
                                                          const std::string& label,
                                                          const RecordOptions& options,
                                                          const CellFormat& cells);

// What a statistics file may hold (docs/import.md, "Limits"), besides a cell's and a record's
// text (record_reader.h): beyond any of these it is refused, by name.
struct StatisticsLimits {
  static constexpr size_t kVariables = 32767;
  static constexpr size_t kLabelsPerSet = 65536;  // value labels of one name
  static constexpr size_t kLabels = 1000000;      // value labels in all
  // Rows times variables, declared or read, for each byte of the file: compression (SPSS's
  // bytecode, then zlib in .zsav) reaches a few thousand; beyond, the file is damaged or a bomb.
  static constexpr uint64_t kCellsPerByte = 65536;
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_STATISTICS_FILE_H_
