#include "passerelle/data/problems.h"

#include "passerelle/base/text.h"

namespace passerelle::data {

void ProblemList::Add(Problem problem) {
  ++total_;
  if (shown_.size() < kShown) shown_.push_back(std::move(problem));
}

std::string ProblemList::Format(const std::string& file_label, const std::string& outcome,
                                const Where& where) const {
  std::string out;
  for (const Problem& p : shown_) {
    out += file_label;
    if (where) {
      const std::string place = where(p.line, p.column);
      if (!place.empty()) out += ":" + place;
    } else {
      if (p.line) out += ":" + std::to_string(p.line);
      if (p.column) out += ":" + std::to_string(p.column);
    }
    out += ": ";
    if (!p.variable.empty()) out += p.variable + ": ";
    out += p.rule;
    if (p.has_cell) out += ", cell " + QuoteCell(p.cell);
    out += "\n";
  }
  if (total_ > shown_.size()) {
    out += "... and " + std::to_string(total_ - shown_.size()) + " more\n";
  }
  out += std::to_string(total_) + (total_ == 1 ? " problem" : " problems") + " in " + file_label +
         "; " + outcome;
  return out;
}

Status ProblemList::ToStatus(const std::string& file_label, const std::string& outcome,
                             const Where& where) const {
  if (empty()) return Status::Ok();
  return InvalidArgument(Format(file_label, outcome, where));
}

}  // namespace passerelle::data
