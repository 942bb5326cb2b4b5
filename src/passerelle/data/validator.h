// Turns records (data/record_reader.h) into typed rows of a dictionary, checking every rule on the
// way: types, required cells, bounds, levels, uniqueness, the dictionary's cross-field rules; then
// fills the derived variables. Each broken rule becomes a Problem at file:line:column.
#ifndef PASSERELLE_DATA_VALIDATOR_H_
#define PASSERELLE_DATA_VALIDATOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "passerelle/base/date.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/gu_cohort.h"
#include "passerelle/data/problems.h"
#include "passerelle/data/record_reader.h"
#include "passerelle/data/unique_set.h"

namespace passerelle::data {

class RowValidator {
 public:
  // Maps the header onto the dictionary. Header problems (a column the dictionary does not know,
  // a required or derived column missing or present) are added to *problems; the validator is
  // returned even then, and the caller decides to stop. InvalidArgument when the dictionary's
  // rules or derivation cannot be bound. `header_line`: the line header problems are put on
  // (RecordReader::header_line()).
  static Result<std::unique_ptr<RowValidator>> Make(const Dictionary& dictionary,
                                                    const std::vector<std::string>& header,
                                                    const CellFormat& format, IndexDate index_date,
                                                    ProblemList* problems, size_t header_line = 1);

  // Converts one record into `row` (indexed like the dictionary's variables), checks it and
  // derives. Returns true when the row broke no rule; every broken rule is added to *problems.
  // REQUIRES: row.size() is the dictionary's number of variables.
  bool Check(const Record& record, std::span<Value> row, ProblemList* problems);
  // The same, sizing `row` first.
  bool Check(const Record& record, std::vector<Value>* row, ProblemList* problems) {
    row->resize(dictionary_.variables.size());
    return Check(record, std::span<Value>(*row), problems);
  }

  // Readies the checks of `record`, the one after the record about to be checked (fetches what
  // its uniqueness checks will read). Changes no result.
  void Prefetch(const Record& record) const;

  // Dictionary variables absent from the file (optional ones: stored as missing).
  const std::vector<std::string>& absent_optional() const { return absent_optional_; }

 private:
  RowValidator(const Dictionary& dictionary, const CellFormat& format)
      : dictionary_(dictionary), format_(format) {}
  // Converts `cell` to the type of variable `i`.
  bool Convert(size_t i, std::string_view cell, Value* value, std::string* rule) const;

  // A level's ShortKey and length: most cells are told from most levels by these.
  struct LevelKey {
    uint64_t key = 0;
    size_t size = 0;
  };

  const Dictionary dictionary_;  // a copy: the validator outlives no caller's dictionary
  CellFormat format_;
  std::vector<int> column_of_;  // by variable: CSV column, or -1
  size_t header_size_ = 0;
  std::vector<std::string> absent_optional_;
  std::vector<std::vector<LevelKey>> level_keys_;  // by variable, for each of its levels
  std::vector<UniqueSet> seen_;                    // by variable, for unique ones
  std::vector<int> unique_columns_;                // the unique variables the file has
  GuRules rules_;
  std::optional<GuDerivation> derivation_;
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_VALIDATOR_H_
