// Internal to data/omop*.cc: the CDM's rows as the cohort needs them, whichever source read them
// (CSV files, PostgreSQL), and the cohort they are collected into, person by person.
#ifndef PASSERELLE_DATA_OMOP_CDM_H_
#define PASSERELLE_DATA_OMOP_CDM_H_

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/omop.h"
#include "passerelle/data/record_reader.h"

namespace passerelle::data::omop {

enum class CdmTable {
  kConditionOccurrence,  // read first: it says who is in the cohort
  kPerson,
  kMeasurement,
  kObservation,  // optional
  kProcedureOccurrence,
  kDrugExposure,
  kObservationPeriod,
  kDeath,
  kEpisode,         // optional (the oncology extension's episodes)
  kConditionEvent,  // condition_occurrence again, for the cohort's persons: metastases
};
inline constexpr std::array<CdmTable, 10> kCdmTables = {CdmTable::kConditionOccurrence,
                                                        CdmTable::kPerson,
                                                        CdmTable::kMeasurement,
                                                        CdmTable::kObservation,
                                                        CdmTable::kProcedureOccurrence,
                                                        CdmTable::kDrugExposure,
                                                        CdmTable::kObservationPeriod,
                                                        CdmTable::kDeath,
                                                        CdmTable::kEpisode,
                                                        CdmTable::kConditionEvent};
// Whether a CDM may lack the table (then nothing is derived from it).
bool CdmTableOptional(CdmTable table);
// What the cohort lacks when a CDM has no such table, for a note; "" when nothing matters.
std::string_view CdmTableAbsentNote(CdmTable table);
std::string_view CdmTableName(CdmTable table);

// The fields of a row the cohort uses; each table names its column for each (empty: none).
enum CdmField {
  kPersonId,
  kRowId,
  kDate,
  kEndDate,
  kConceptId,
  kSourceValue,
  kSourceConceptId,
  kValue,
  kUnitConceptId,
  kUnitSourceValue,
  kEventId,
  kEventFieldConceptId,
  kValueConceptId,    // value_as_concept_id
  kValueSourceValue,  // value_source_value
  kValueText,         // observation.value_as_string
  kObjectConceptId,   // episode.episode_object_concept_id: the disease an episode is of
  kFieldCount
};
// The column of `table` holding `field`, or "" when the table has none.
std::string_view CdmColumn(CdmTable table, CdmField field);
// Whether a file or table must have the column (ids and dates) or may lack it.
bool CdmColumnRequired(CdmTable table, CdmField field);

struct CdmRow {
  std::array<std::string, kFieldCount> fields;  // as text; missing is empty
  // The concept table's vocabulary_id and concept_code of the source concept and of the
  // concept (empty when not looked up or absent).
  std::string source_vocabulary, source_code, concept_vocabulary, concept_code;
  // Measurement and observation: the value concept's (value_as_concept_id).
  std::string value_vocabulary, value_code;
  const std::string& operator[](CdmField f) const { return fields[f]; }
};

// "C61.9" -> "C619": trimmed, upper case (ASCII), without dots.
std::string NormalizeCode(std::string_view code);
// LIKE patterns (upper case, no dots) a source value or "VOCABULARY:CODE" must match to be one of
// `codes`, for the server to pre-select rows; the cohort decides exactly.
std::vector<std::string> LikePatterns(const std::vector<OmopCode>& codes, bool with_vocabulary);
// The patterns of the GU conditions' codes (ICD-10 categories and ICD-O-3 topographies).
std::vector<std::string> GuConditionPatterns(const OmopMapping& mapping);
std::vector<int64_t> GuConditionConcepts(const OmopMapping& mapping);
// Whether the concept table's row (vocabulary, code) can matter to the mapping.
bool ConceptMatters(const OmopMapping& mapping, std::string_view vocabulary, std::string_view code);

// The rows of persons with a GU condition, collected table by table (conditions first), then
// turned into gu_cohort records in person_id order.
class Cohort {
 public:
  Cohort(OmopMapping mapping, std::string site);
  ~Cohort();
  // Adds a row of `table`; `place` names it in errors (file:line). Conditions that are not GU are
  // dropped; rows of other tables for persons without a GU condition are dropped.
  Status Add(CdmTable table, const CdmRow& row, const std::string& place);
  // Whether the row's person_id is a person with a GU condition; an id that is not a whole
  // number is refused, named by `place`, never passed over.
  Result<bool> HasPerson(std::string_view person_id, const std::string& place) const;
  // The source has no such table: its fields stay missing, and the records' notes say so.
  void TableAbsent(CdmTable table);
  // Once every table was added: the gu_cohort records, and their places.
  std::unique_ptr<RecordReader> Finish(std::string label);

  struct Person;

 private:
  OmopMapping mapping_;
  Status AddGrade(CdmTable table, const CdmRow& row, const std::string& place, Person* person,
                  bool* added);

  std::string site_;
  std::map<int64_t, std::unique_ptr<Person>> persons_;
  std::vector<std::string> notes_;
};

}  // namespace passerelle::data::omop

#endif  // PASSERELLE_DATA_OMOP_CDM_H_
