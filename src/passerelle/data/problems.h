// Problems found in an input file, each pinned to a place in it (file:line:column of a CSV, a
// statistics file's row, an Excel cell) and a variable, with the rule it breaks. Shown only at the
// site's own terminal: a message may quote the offending cell.
#ifndef PASSERELLE_DATA_PROBLEMS_H_
#define PASSERELLE_DATA_PROBLEMS_H_

#include <functional>
#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::data {

struct Problem {
  size_t line = 0;    // the line as the file's reader numbers them (Record::line); 0 for none
  size_t column = 0;  // 1-based field number; 0 when not tied to a column
  std::string variable;
  std::string rule;  // what is broken, e.g. "must be at least 0 (min)"
  std::string cell;  // the offending cell, as it appears in the file; may be empty
  bool has_cell = false;
};

// Keeps the first `kShown` problems and counts all of them.
class ProblemList {
 public:
  static constexpr size_t kShown = 20;

  void Add(Problem problem);
  size_t total() const { return total_; }
  bool empty() const { return total_ == 0; }
  const std::vector<Problem>& shown() const { return shown_; }
  // Where a problem is, written after "file:" (RecordReader::Where); empty for none.
  using Where = std::function<std::string(size_t line, size_t column)>;
  // "file:where: variable: rule, cell \"x\"" lines, then the total, then `outcome`. Without
  // `where`, the place is a CSV file's line:column.
  std::string Format(const std::string& file_label, const std::string& outcome,
                     const Where& where = nullptr) const;
  // InvalidArgument carrying Format(...), or OK when there are no problems.
  Status ToStatus(const std::string& file_label, const std::string& outcome,
                  const Where& where = nullptr) const;

 private:
  std::vector<Problem> shown_;
  size_t total_ = 0;
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_PROBLEMS_H_
