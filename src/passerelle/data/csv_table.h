// Reads analysis data straight from CSV files (local mode): several files stacked like R's
// rbind, each column a number when every cell parses as one, otherwise a category whose levels
// are sorted by bytes unless an order is given (from a dictionary or the caller).
#ifndef PASSERELLE_DATA_CSV_TABLE_H_
#define PASSERELLE_DATA_CSV_TABLE_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "passerelle/data/csv.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/table.h"
#include "passerelle/data/validator.h"

namespace passerelle::data {

struct CsvTableOptions {
  CsvOptions csv;
  CellFormat cells;
  // Level order per column (the first level is the reference).
  std::map<std::string, std::vector<std::string>> levels;
  // When not empty, only the columns of these names are converted and kept (the others are
  // read past): what an analysis names is all it reads.
  std::set<std::string> only;
};

// InvalidArgument (file:line:column) for unreadable files or files whose columns differ.
Result<Table> ReadCsvTable(const std::vector<std::string>& paths, const CsvTableOptions& options);

// Level orders of a dictionary's category variables, for CsvTableOptions::levels.
std::map<std::string, std::vector<std::string>> LevelOrders(const Dictionary& dictionary);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_CSV_TABLE_H_
