// The GU cohort's cross-field rules and its endpoint derivation (docs/endpoints.md): code that
// every site runs identically, so that "overall survival" means the same days at each hospital.
#ifndef PASSERELLE_DATA_GU_COHORT_H_
#define PASSERELLE_DATA_GU_COHORT_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/value.h"

namespace passerelle::data {

inline constexpr std::string_view kGuCohortDerivation = "gu_cohort_v1";

// The rule names a dictionary may list: organ_codes, organ_sex, organ_fields, isup_gleason,
// date_order, death_consistency, events_after_index.
bool IsKnownGuRule(std::string_view name);

// Reports a broken rule: the index of the variable whose cell is at fault, and the message.
using RuleReport = std::function<void(int variable, std::string message)>;

// The rules a dictionary lists, bound to its variables once.
class GuRules {
 public:
  // InvalidArgument when a listed rule needs a variable the dictionary lacks.
  static Result<GuRules> Bind(const Dictionary& dictionary);
  // Checks one converted row (values indexed like the dictionary's variables).
  void Check(std::span<const Value> row, const RuleReport& report) const;

 private:
  uint32_t enabled_ = 0;    // bit r set: the rule kRuleNames[r] is checked
  std::vector<int> index_;  // by GuVar
};

// Where the time axis of every endpoint starts.
enum class IndexDate { kDiagnosis, kTreatment };
std::string_view IndexDateName(IndexDate index);
Result<IndexDate> IndexDateFromName(std::string_view name);

// Fills the derived variables of gu_cohort_v1: age_dx, t_stage, n_stage, m_stage and the
// endpoints os, css, rfs, mfs, bcr as <name>_days / <name>_event.
class GuDerivation {
 public:
  static Result<GuDerivation> Bind(const Dictionary& dictionary, IndexDate index);
  // REQUIRES: the row passed its rules. Text values point into the row's own cells.
  void Derive(std::span<Value> row) const;

 private:
  IndexDate index_date_ = IndexDate::kDiagnosis;
  std::vector<int> in_;   // by GuVar
  std::vector<int> out_;  // by GuDerived
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_GU_COHORT_H_
