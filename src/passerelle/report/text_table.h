// Plain-text tables for people at a terminal: columns padded to their widest cell (counting
// UTF-8 characters, not bytes), numbers right-aligned.
#ifndef PASSERELLE_REPORT_TEXT_TABLE_H_
#define PASSERELLE_REPORT_TEXT_TABLE_H_

#include <string>
#include <vector>

namespace passerelle::report {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}
  // REQUIRES: cells.size() == header.size().
  void AddRow(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // The table with a rule under the header; each line ends with '\n'.
  std::string Render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_TEXT_TABLE_H_
