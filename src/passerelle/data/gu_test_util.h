// Test helpers: gu_cohort.v1 CSV text built from a valid patient and per-row changes.
#ifndef PASSERELLE_DATA_GU_TEST_UTIL_H_
#define PASSERELLE_DATA_GU_TEST_UTIL_H_

#include <map>
#include <string>
#include <vector>

#include "passerelle/data/dictionary.h"

namespace passerelle::data::testing {

using Changes = std::map<std::string, std::string>;

inline Dictionary GuDictionary() {
  return ParseDictionary(*BuiltinDictionaryText("gu_cohort.v1"), "gu_cohort.v1").value();
}

// A prostate patient, treated by prostatectomy, alive without recurrence.
inline Changes ValidProstatePatient() {
  return {{"patient_id", "P1"},
          {"site", "wuhan"},
          {"sex", "male"},
          {"birth_year", "1950"},
          {"organ", "prostate"},
          {"icd10", "C61"},
          {"icdo3_topography", "C61.9"},
          {"icdo3_morphology", "8140/3"},
          {"histology", "adenocarcinoma"},
          {"diagnosis_date", "2018-03-01"},
          {"ct_stage", "T2a"},
          {"cn_stage", "N0"},
          {"cm_stage", "M0"},
          {"pt_stage", "T3a"},
          {"pn_stage", "N1"},
          {"gleason_primary", "3"},
          {"gleason_secondary", "4"},
          {"isup_grade", "2"},
          {"psa_dx", "7.4"},
          {"primary_treatment", "radical_prostatectomy"},
          {"treatment_date", "2018-04-01"},
          {"margin_status", "negative"},
          {"last_followup_date", "2023-03-01"},
          {"vital_status", "alive"}};
}

// CSV text with every source column of gu_cohort.v1, one row per entry of `rows` applied to
// ValidProstatePatient(); patient_id defaults to P<row number>.
inline std::string GuCsv(const std::vector<Changes>& rows, char sep = ',') {
  const Dictionary d = GuDictionary();
  std::string out;
  std::vector<std::string> names;
  for (const Variable& v : d.variables) {
    if (!v.derived) names.push_back(v.name);
  }
  for (size_t i = 0; i < names.size(); ++i) out += (i ? std::string(1, sep) : "") + names[i];
  out += "\n";
  for (size_t r = 0; r < rows.size(); ++r) {
    Changes row = ValidProstatePatient();
    row["patient_id"] = "P" + std::to_string(r + 1);
    for (const auto& [k, v] : rows[r]) row[k] = v;
    for (size_t i = 0; i < names.size(); ++i) {
      out += (i ? std::string(1, sep) : "") + row[names[i]];
    }
    out += "\n";
  }
  return out;
}

}  // namespace passerelle::data::testing

#endif  // PASSERELLE_DATA_GU_TEST_UTIL_H_
