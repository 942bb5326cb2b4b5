// Test helpers for record readers: every record of a file as text, and the committed fixtures
// (tests/fixtures/files/, made by make_files.R).
#ifndef PASSERELLE_DATA_RECORD_TEST_UTIL_H_
#define PASSERELLE_DATA_RECORD_TEST_UTIL_H_

#include <string>
#include <vector>

#include "passerelle/data/record_reader.h"

namespace passerelle::data::testing {

inline std::string Fixture(const std::string& name) {
  return std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/files/" + name;
}

struct Records {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<size_t> lines;  // of each row's first field
  Status status;              // how reading ended
};

// Reads `reader` to its end (or its first error, in `status`).
inline Records ReadAll(RecordReader* reader) {
  Records out;
  out.header = reader->header();
  Record record;
  for (;;) {
    Result<bool> more = reader->Next(&record);
    if (!more.ok()) {
      out.status = more.status();
      break;
    }
    if (!*more) break;
    std::vector<std::string> row;
    for (size_t i = 0; i < record.size(); ++i) row.emplace_back(record.field(i));
    out.rows.push_back(std::move(row));
    out.lines.push_back(record.first_line());
  }
  return out;
}

inline Result<Records> ReadFile(const std::string& path, const RecordOptions& options = {},
                                const CellFormat& cells = {}) {
  ASSIGN_OR_RETURN(auto reader, OpenRecordReader(path, options, cells));
  return ReadAll(reader.get());
}

}  // namespace passerelle::data::testing

#endif  // PASSERELLE_DATA_RECORD_TEST_UTIL_H_
