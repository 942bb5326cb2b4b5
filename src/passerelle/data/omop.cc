// The GU cohort from an OMOP CDM: rows collected person by person (omop_cdm.h), the rules of
// docs/omop.md that turn a person's rows into one gu_cohort record, and the CSV folder source.
// The PostgreSQL source is omop_postgres.cc.
#include "passerelle/data/omop.h"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <limits>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/data/csv.h"
#include "passerelle/data/omop_cdm.h"

namespace passerelle::data::omop {
namespace {

namespace fs = std::filesystem;

// The gu_cohort.v1 columns the cohort yields, in the dictionary's order (derived ones excluded).
enum Column {
  kPatientId,
  kSite,
  kSex,
  kBirthYear,
  kOrgan,
  kIcd10,
  kIcdo3Topography,
  kIcdo3Morphology,
  kHistology,
  kDiagnosisDate,
  kCtStage,
  kCnStage,
  kCmStage,
  kPtStage,
  kPnStage,
  kGleasonPrimary,
  kGleasonSecondary,
  kIsupGrade,
  kPsaDx,
  kUrothelialGrade,
  kPrimaryTreatment,
  kTreatmentDate,
  kMarginStatus,
  kLastFollowupDate,
  kVitalStatus,
  kDeathDate,
  kDeathCause,
  kRecurrenceDate,
  kBcrDate,
  kMetastasisDate,
  kColumnCount
};
const std::vector<std::string>& Header() {
  static const std::vector<std::string> header = {"patient_id",
                                                  "site",
                                                  "sex",
                                                  "birth_year",
                                                  "organ",
                                                  "icd10",
                                                  "icdo3_topography",
                                                  "icdo3_morphology",
                                                  "histology",
                                                  "diagnosis_date",
                                                  "ct_stage",
                                                  "cn_stage",
                                                  "cm_stage",
                                                  "pt_stage",
                                                  "pn_stage",
                                                  "gleason_primary",
                                                  "gleason_secondary",
                                                  "isup_grade",
                                                  "psa_dx",
                                                  "urothelial_grade",
                                                  "primary_treatment",
                                                  "treatment_date",
                                                  "margin_status",
                                                  "last_followup_date",
                                                  "vital_status",
                                                  "death_date",
                                                  "death_cause",
                                                  "recurrence_date",
                                                  "bcr_date",
                                                  "metastasis_date"};
  return header;
}

// The field concept of condition_occurrence.condition_occurrence_id: a measurement whose
// meas_event_field_concept_id is this modifies the condition measurement_event_id names.
constexpr int64_t kConditionOccurrenceIdField = 1147127;

// Stages: clinical and pathological T, N, M, each the index of its slot.
enum StageSlot { kCT, kCN, kCM, kPT, kPN, kPM, kStageSlots };

}  // namespace

std::string_view CdmTableName(CdmTable table) {
  switch (table) {
    case CdmTable::kConditionOccurrence:
      return "condition_occurrence";
    case CdmTable::kPerson:
      return "person";
    case CdmTable::kMeasurement:
      return "measurement";
    case CdmTable::kProcedureOccurrence:
      return "procedure_occurrence";
    case CdmTable::kDrugExposure:
      return "drug_exposure";
    case CdmTable::kObservationPeriod:
      return "observation_period";
    case CdmTable::kDeath:
      return "death";
    case CdmTable::kObservation:
      return "observation";
    case CdmTable::kEpisode:
      return "episode";
    case CdmTable::kConditionEvent:
      return "condition_occurrence";
  }
  return "";
}

bool CdmTableOptional(CdmTable table) {
  return table == CdmTable::kObservation || table == CdmTable::kEpisode;
}

std::string_view CdmTableAbsentNote(CdmTable table) {
  switch (table) {
    case CdmTable::kObservation:
      return "the CDM has no observation table: grades and margins were read from measurement "
             "only";
    case CdmTable::kEpisode:
      return "the CDM has no episode table (the oncology extension's, optional): recurrence_date "
             "and bcr_date were not derived, metastasis_date only from conditions";
    default:
      return "";
  }
}

std::string_view CdmColumn(CdmTable table, CdmField field) {
  if (field == kPersonId) return "person_id";
  if (table == CdmTable::kConditionEvent) table = CdmTable::kConditionOccurrence;
  switch (table) {
    case CdmTable::kConditionEvent:
      return "";
    case CdmTable::kObservation:
      switch (field) {
        case kRowId:
          return "observation_id";
        case kDate:
          return "observation_date";
        case kConceptId:
          return "observation_concept_id";
        case kSourceValue:
          return "observation_source_value";
        case kSourceConceptId:
          return "observation_source_concept_id";
        case kValue:
          return "value_as_number";
        case kValueConceptId:
          return "value_as_concept_id";
        case kValueSourceValue:
          return "value_source_value";
        case kValueText:
          return "value_as_string";
        default:
          return "";
      }
    case CdmTable::kEpisode:
      switch (field) {
        case kRowId:
          return "episode_id";
        case kDate:
          return "episode_start_date";
        case kConceptId:
          return "episode_concept_id";
        case kSourceValue:
          return "episode_source_value";
        case kSourceConceptId:
          return "episode_source_concept_id";
        case kObjectConceptId:
          return "episode_object_concept_id";
        default:
          return "";
      }
    case CdmTable::kConditionOccurrence:
      switch (field) {
        case kRowId:
          return "condition_occurrence_id";
        case kDate:
          return "condition_start_date";
        case kConceptId:
          return "condition_concept_id";
        case kSourceValue:
          return "condition_source_value";
        case kSourceConceptId:
          return "condition_source_concept_id";
        default:
          return "";
      }
    case CdmTable::kPerson:
      switch (field) {
        case kConceptId:
          return "gender_concept_id";
        case kSourceValue:
          return "gender_source_value";
        case kValue:
          return "year_of_birth";
        default:
          return "";
      }
    case CdmTable::kMeasurement:
      switch (field) {
        case kRowId:
          return "measurement_id";
        case kDate:
          return "measurement_date";
        case kConceptId:
          return "measurement_concept_id";
        case kSourceValue:
          return "measurement_source_value";
        case kSourceConceptId:
          return "measurement_source_concept_id";
        case kValue:
          return "value_as_number";
        case kUnitConceptId:
          return "unit_concept_id";
        case kUnitSourceValue:
          return "unit_source_value";
        case kEventId:
          return "measurement_event_id";
        case kEventFieldConceptId:
          return "meas_event_field_concept_id";
        case kValueConceptId:
          return "value_as_concept_id";
        case kValueSourceValue:
          return "value_source_value";
        default:
          return "";
      }
    case CdmTable::kProcedureOccurrence:
      switch (field) {
        case kRowId:
          return "procedure_occurrence_id";
        case kDate:
          return "procedure_date";
        case kConceptId:
          return "procedure_concept_id";
        case kSourceValue:
          return "procedure_source_value";
        case kSourceConceptId:
          return "procedure_source_concept_id";
        default:
          return "";
      }
    case CdmTable::kDrugExposure:
      switch (field) {
        case kRowId:
          return "drug_exposure_id";
        case kDate:
          return "drug_exposure_start_date";
        case kConceptId:
          return "drug_concept_id";
        case kSourceValue:
          return "drug_source_value";
        case kSourceConceptId:
          return "drug_source_concept_id";
        default:
          return "";
      }
    case CdmTable::kObservationPeriod:
      switch (field) {
        case kRowId:
          return "observation_period_id";
        case kDate:
          return "observation_period_start_date";
        case kEndDate:
          return "observation_period_end_date";
        default:
          return "";
      }
    case CdmTable::kDeath:
      switch (field) {
        case kDate:
          return "death_date";
        case kConceptId:
          return "cause_concept_id";
        case kSourceValue:
          return "cause_source_value";
        case kSourceConceptId:
          return "cause_source_concept_id";
        default:
          return "";
      }
  }
  return "";
}

bool CdmColumnRequired(CdmTable table, CdmField field) {
  switch (field) {
    case kPersonId:
    case kRowId:
    case kDate:
    case kEndDate:
      return true;
    case kValue:
      return table == CdmTable::kPerson;
    case kConceptId:
      return table != CdmTable::kDeath;
    default:
      return false;
  }
}

namespace {

Result<int64_t> ParseId(std::string_view text, std::string_view column, const std::string& place) {
  text = TrimSpaces(text);
  if (text.empty()) return int64_t{0};
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return InvalidArgument(place + ": " + std::string(column) + ": not a whole number, cell " +
                           QuoteCell(text));
  }
  return value;
}

// A CDM date, or a date-time whose day is kept (yyyy-mm-dd[ T]hh:mm:ss).
Result<std::optional<int32_t>> ParseCdmDate(std::string_view text, std::string_view column,
                                            const std::string& place) {
  text = TrimSpaces(text);
  if (text.empty()) return std::optional<int32_t>();
  std::string_view day = text;
  if (day.size() > 10 && (day[10] == ' ' || day[10] == 'T')) day = day.substr(0, 10);
  static const DateFormat kIso;
  const std::optional<int32_t> days = kIso.ParseDays(day);
  if (!days) {
    return InvalidArgument(place + ": " + std::string(column) + ": not a date (yyyy-mm-dd), cell " +
                           QuoteCell(text));
  }
  return days;
}

// REQUIRES: `ids` sorted (the Cohort sorts its mapping's lists: a list with its concept_ancestor
// descendants may hold thousands of drugs).
bool Contains(const std::vector<int64_t>& ids, int64_t id) {
  return id != 0 && std::binary_search(ids.begin(), ids.end(), id);
}

void SortIds(std::vector<int64_t>* ids) {
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

// Every concept list of the mapping sorted, for Contains.
void SortConceptLists(OmopMapping* m) {
  for (auto* ids :
       {&m->male_concepts, &m->female_concepts, &m->psa_concepts, &m->psa_unit_concepts}) {
    SortIds(ids);
  }
  for (OmopMapping::Treatment& t : m->treatments) {
    SortIds(&t.procedure_concepts);
    SortIds(&t.drug_concepts);
  }
  for (OmopMapping::Pathology& p : m->pathology) {
    SortIds(&p.concepts);
    for (OmopMapping::ValueLevel& v : p.values) SortIds(&v.concepts);
  }
  for (OmopMapping::Event& e : m->events) {
    SortIds(&e.episode_concepts);
    SortIds(&e.condition_concepts);
  }
}

// The codes a row carries: its source concept's (with the vocabulary) and its source value's.
struct RowCode {
  std::string vocabulary;  // upper case; empty for a source value
  std::string code;        // normalized
};
std::vector<RowCode> CodesOf(const CdmRow& row) {
  std::vector<RowCode> codes;
  if (!row.source_code.empty()) {
    std::string vocabulary(TrimSpaces(row.source_vocabulary));
    for (char& c : vocabulary) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    codes.push_back({vocabulary, NormalizeCode(row.source_code)});
  }
  if (!TrimSpaces(row[kSourceValue]).empty())
    codes.push_back({"", NormalizeCode(row[kSourceValue])});
  return codes;
}

bool MatchesAny(const std::vector<OmopCode>& patterns, const std::vector<RowCode>& codes) {
  for (const RowCode& code : codes) {
    for (const OmopCode& p : patterns) {
      if (!code.vocabulary.empty() && code.vocabulary != p.vocabulary) continue;
      if (p.prefix ? code.code.starts_with(p.code) : code.code == p.code) return true;
    }
  }
  return false;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "C619" -> "C61.9"; "C61" stays; letters after the category's digits are dropped ("C61X00").
std::string DottedCode(std::string_view code) {
  std::string out(code.substr(0, 3));
  size_t i = 3;
  while (i < code.size() && code[i] >= '0' && code[i] <= '9') ++i;
  if (i > 3) out += "." + std::string(code.substr(3, i - 3));
  return out;
}

bool IsCategory(std::string_view code) {
  return code.size() >= 3 && code[0] == 'C' && IsDigits(code.substr(1, 2));
}

// What a condition's codes say of a tumour.
struct Tumour {
  std::string organ;
  std::string icd10, topography, morphology;
};

std::string OrganOfCategory(const OmopMapping& mapping, std::string_view code) {
  for (const OmopMapping::Organ& organ : mapping.organs) {
    for (const std::string& category : organ.icd10) {
      if (code.starts_with(category)) return organ.level;
    }
  }
  return "";
}

Tumour Classify(const OmopMapping& mapping, const CdmRow& row, int64_t concept_id) {
  Tumour t;
  for (const RowCode& c : CodesOf(row)) {
    const size_t dash = c.code.find('-');
    if (dash != std::string::npos) {
      // ICD-O-3 as OMOP's ICDO3 conditions write it: morphology/behaviour-topography.
      const std::string morphology = c.code.substr(0, dash);
      const std::string topography = c.code.substr(dash + 1);
      if (morphology.size() != 6 || !IsDigits(morphology.substr(0, 4)) || morphology[4] != '/' ||
          !IsCategory(topography)) {
        continue;
      }
      const std::string organ = OrganOfCategory(mapping, topography);
      if (organ.empty() || (!t.organ.empty() && organ != t.organ)) continue;
      t.organ = organ;
      if (t.topography.empty()) {
        t.topography = DottedCode(topography);
        t.morphology = morphology;
      }
      continue;
    }
    if (!IsCategory(c.code)) continue;
    const bool topography_only = c.vocabulary == "ICDO3";
    if (!c.vocabulary.empty() && !topography_only && !c.vocabulary.starts_with("ICD10")) continue;
    const std::string organ = OrganOfCategory(mapping, c.code);
    if (organ.empty() || (!t.organ.empty() && organ != t.organ)) continue;
    t.organ = organ;
    if (topography_only) {
      if (t.topography.empty()) t.topography = DottedCode(c.code);
    } else if (t.icd10.empty()) {
      t.icd10 = DottedCode(c.code);
    }
  }
  if (t.organ.empty()) {
    for (const OmopMapping::Organ& organ : mapping.organs) {
      for (const OmopMapping::OrganConcept& c : organ.concepts) {
        if (c.id == concept_id) {
          t.organ = organ.level;
          t.icd10 = c.icd10;
          return t;
        }
      }
    }
  }
  return t;
}

// A number with the fewest digits that read back to it, so that both sources write a value alike
// ("4.50" and "4.5" are "4.5"); text that is no number stays as it is, for the validator to refuse.
std::string CanonicalNumber(std::string_view text) {
  text = TrimSpaces(text);
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::string(text);
  return FormatTypedNumber(value, CellFormat{});
}

// A TNM category from a cancer modifier's code: "c-8th_AJCC/UICC-T2a" or a source value "cT2a".
// Returns the slot and the value as gu_cohort's levels write it ("T2a", "Tis", "NX").
std::optional<std::pair<StageSlot, std::string>> ParseStage(std::string_view code) {
  code = TrimSpaces(code);
  char kind = 0;
  std::string_view category;
  const size_t ajcc = code.find("AJCC/UICC-");
  if (ajcc != std::string_view::npos && code.size() > 2 && code[1] == '-') {
    kind = static_cast<char>(std::tolower(static_cast<unsigned char>(code[0])));
    category = code.substr(ajcc + 10);
  } else if (code.size() >= 3) {
    kind = static_cast<char>(std::tolower(static_cast<unsigned char>(code[0])));
    category = code.substr(1);
  }
  if ((kind != 'c' && kind != 'p') || category.size() < 2) return std::nullopt;
  const char axis = static_cast<char>(std::toupper(static_cast<unsigned char>(category[0])));
  if (axis != 'T' && axis != 'N' && axis != 'M') return std::nullopt;
  std::string value(1, axis);
  for (char c : category.substr(1)) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    value += (c == 'x' || c == 'X')
                 ? 'X'
                 : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  const int base = kind == 'c' ? 0 : 3;
  const int offset = axis == 'T' ? 0 : axis == 'N' ? 1 : 2;
  return std::make_pair(static_cast<StageSlot>(base + offset), value);
}

std::string UpperTrimmed(std::string_view text) {
  std::string out(TrimSpaces(text));
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Whether gu_cohort.v1 has `variable` for a tumour of `organ` (its organ_fields rule).
bool OrganHas(std::string_view variable, std::string_view organ) {
  if (variable == "gleason_primary" || variable == "gleason_secondary" ||
      variable == "isup_grade" || variable == "bcr_date") {
    return organ == "prostate";
  }
  if (variable == "urothelial_grade") return organ == "bladder" || organ == "upper_tract";
  return true;
}

bool IsIntegerVariable(std::string_view variable) {
  return variable == "gleason_primary" || variable == "gleason_secondary" ||
         variable == "isup_grade";
}

// The value of a grade or margin row, as the dictionary writes it: a level of the mapping's
// values, else (integer variables) its number; "" when it has none.
std::string PathologyValue(const OmopMapping::Pathology& p, const CdmRow& row,
                           int64_t value_concept) {
  std::vector<RowCode> codes;
  if (!row.value_code.empty()) {
    codes.push_back({UpperTrimmed(row.value_vocabulary), NormalizeCode(row.value_code)});
  }
  std::string text = UpperTrimmed(row[kValueSourceValue]);
  if (text.empty()) text = UpperTrimmed(row[kValueText]);
  if (!text.empty()) codes.push_back({"", NormalizeCode(text)});
  for (const OmopMapping::ValueLevel& level : p.values) {
    if (Contains(level.concepts, value_concept) || MatchesAny(level.codes, codes) ||
        (!text.empty() && std::find(level.source_values.begin(), level.source_values.end(), text) !=
                              level.source_values.end())) {
      return level.level;
    }
  }
  if (!IsIntegerVariable(p.variable)) return "";
  if (!TrimSpaces(row[kValue]).empty()) return CanonicalNumber(row[kValue]);
  double number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (!text.empty() && ec == std::errc() && end == text.data() + text.size()) {
    return CanonicalNumber(text);
  }
  return "";
}

}  // namespace

struct Cohort::Person {
  int64_t person_id = 0;
  bool in_person_table = false;
  std::string sex, birth_year;
  struct Condition {
    int64_t id;
    int32_t date;
    Tumour tumour;
    int64_t concept_id;  // condition_concept_id (0: none)
  };
  std::vector<Condition> conditions;
  struct Psa {
    int64_t id;
    int32_t date;
    std::string value;
  };
  std::vector<Psa> psas;
  struct Stage {
    int64_t id;
    int32_t date;
    int64_t condition_id;
    StageSlot slot;
    std::string value;
  };
  std::vector<Stage> stages;
  struct Treatment {
    int64_t id;
    int32_t date;
    size_t rank;
    CdmTable table;
  };
  std::vector<Treatment> treatments;
  struct Grade {  // a grade or margin: a measurement or observation
    int64_t id;
    int32_t date;
    size_t entry;  // in mapping.pathology
    std::string value;
    CdmTable table;
  };
  std::vector<Grade> grades;
  struct Event {  // an episode or condition of a mapping.events entry
    int64_t id;
    int32_t date;
    size_t entry;
    CdmTable table;
  };
  std::vector<Event> events;
  std::optional<int32_t> observation_end;
  bool dead = false;
  std::optional<int32_t> death_date;
  std::string cause_organ;
  bool cause_recorded = false;
};

Cohort::Cohort(OmopMapping mapping, std::string site)
    : mapping_(std::move(mapping)), site_(std::move(site)) {
  SortConceptLists(&mapping_);
}
Cohort::~Cohort() = default;

Result<bool> Cohort::HasPerson(std::string_view person_id, const std::string& place) const {
  ASSIGN_OR_RETURN(const int64_t id, ParseId(person_id, "person_id", place));
  return persons_.count(id) > 0;
}

void Cohort::TableAbsent(CdmTable table) {
  const std::string_view note = CdmTableAbsentNote(table);
  if (!note.empty()) notes_.emplace_back(note);
}

// A grade or margin of the mapping's [[pathology]] entries, when the row is one.
Status Cohort::AddGrade(CdmTable table, const CdmRow& row, const std::string& place, Person* person,
                        bool* added) {
  *added = false;
  const auto column = [table](CdmField f) { return CdmColumn(table, f); };
  ASSIGN_OR_RETURN(int64_t concept_id, ParseId(row[kConceptId], column(kConceptId), place));
  std::vector<RowCode> codes = CodesOf(row);
  if (!row.concept_code.empty()) {
    codes.push_back({UpperTrimmed(row.concept_vocabulary), NormalizeCode(row.concept_code)});
  }
  for (size_t entry = 0; entry < mapping_.pathology.size(); ++entry) {
    const OmopMapping::Pathology& p = mapping_.pathology[entry];
    if (!Contains(p.concepts, concept_id) && !MatchesAny(p.codes, codes)) continue;
    *added = true;
    ASSIGN_OR_RETURN(int64_t id, ParseId(row[kRowId], column(kRowId), place));
    ASSIGN_OR_RETURN(std::optional<int32_t> date, ParseCdmDate(row[kDate], column(kDate), place));
    ASSIGN_OR_RETURN(int64_t value_concept,
                     ParseId(row[kValueConceptId], column(kValueConceptId), place));
    std::string value = PathologyValue(p, row, value_concept);
    if (date && !value.empty())
      person->grades.push_back({id, *date, entry, std::move(value), table});
    break;
  }
  return Status::Ok();
}

Status Cohort::Add(CdmTable table, const CdmRow& row, const std::string& place) {
  ASSIGN_OR_RETURN(int64_t person_id, ParseId(row[kPersonId], "person_id", place));
  const auto column = [table](CdmField f) { return CdmColumn(table, f); };
  if (table == CdmTable::kConditionOccurrence) {
    ASSIGN_OR_RETURN(int64_t concept_id, ParseId(row[kConceptId], column(kConceptId), place));
    Tumour tumour = Classify(mapping_, row, concept_id);
    if (tumour.organ.empty()) return Status::Ok();
    ASSIGN_OR_RETURN(int64_t id, ParseId(row[kRowId], column(kRowId), place));
    ASSIGN_OR_RETURN(std::optional<int32_t> date, ParseCdmDate(row[kDate], column(kDate), place));
    if (!date) return InvalidArgument(place + ": " + std::string(column(kDate)) + ": missing");
    std::unique_ptr<Person>& person = persons_[person_id];
    if (!person) {
      person = std::make_unique<Person>();
      person->person_id = person_id;
    }
    person->conditions.push_back({id, *date, std::move(tumour), concept_id});
    return Status::Ok();
  }
  const auto found = persons_.find(person_id);
  if (found == persons_.end()) return Status::Ok();
  Person& person = *found->second;
  switch (table) {
    case CdmTable::kConditionOccurrence:
      break;
    case CdmTable::kPerson: {
      ASSIGN_OR_RETURN(int64_t gender, ParseId(row[kConceptId], column(kConceptId), place));
      std::string value(TrimSpaces(row[kSourceValue]));
      for (char& c : value) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      // person_id is the person table's key: a second row would make the cohort's values
      // depend on which row was read last.
      if (person.in_person_table) {
        return InvalidArgument(place + ": person_id: person " + std::to_string(person_id) +
                               " is in the person table twice (rule person_unique)");
      }
      const auto listed = [&value](const std::vector<std::string>& values) {
        return !value.empty() && std::find(values.begin(), values.end(), value) != values.end();
      };
      person.in_person_table = true;
      if (Contains(mapping_.male_concepts, gender)) {
        person.sex = "male";
      } else if (Contains(mapping_.female_concepts, gender)) {
        person.sex = "female";
      } else if (listed(mapping_.male_source_values)) {
        person.sex = "male";
      } else if (listed(mapping_.female_source_values)) {
        person.sex = "female";
      }
      person.birth_year = std::string(TrimSpaces(row[kValue]));
      break;
    }
    case CdmTable::kMeasurement: {
      ASSIGN_OR_RETURN(int64_t concept_id, ParseId(row[kConceptId], column(kConceptId), place));
      ASSIGN_OR_RETURN(int64_t id, ParseId(row[kRowId], column(kRowId), place));
      ASSIGN_OR_RETURN(std::optional<int32_t> date, ParseCdmDate(row[kDate], column(kDate), place));
      if (!date) return Status::Ok();
      ASSIGN_OR_RETURN(int64_t field,
                       ParseId(row[kEventFieldConceptId], column(kEventFieldConceptId), place));
      std::vector<RowCode> codes = CodesOf(row);
      if (!row.concept_code.empty()) {
        codes.push_back({UpperTrimmed(row.concept_vocabulary), NormalizeCode(row.concept_code)});
      }
      if (Contains(mapping_.psa_concepts, concept_id) || MatchesAny(mapping_.psa_codes, codes)) {
        if (TrimSpaces(row[kValue]).empty()) return Status::Ok();
        ASSIGN_OR_RETURN(int64_t unit, ParseId(row[kUnitConceptId], column(kUnitConceptId), place));
        std::string unit_value(TrimSpaces(row[kUnitSourceValue]));
        for (char& c : unit_value) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        const bool no_unit = unit == 0 && unit_value.empty();
        const bool ng_ml =
            Contains(mapping_.psa_unit_concepts, unit) ||
            (unit == 0 && std::find(mapping_.psa_unit_source_values.begin(),
                                    mapping_.psa_unit_source_values.end(),
                                    unit_value) != mapping_.psa_unit_source_values.end());
        if (no_unit || ng_ml) person.psas.push_back({id, *date, CanonicalNumber(row[kValue])});
        return Status::Ok();
      }
      bool grade = false;
      RETURN_IF_ERROR(AddGrade(table, row, place, &person, &grade));
      if (grade || field != kConditionOccurrenceIdField) return Status::Ok();
      ASSIGN_OR_RETURN(int64_t event, ParseId(row[kEventId], column(kEventId), place));
      // A cancer modifier of a condition: its concept's code, else its source concept's, else
      // its source value.
      std::optional<std::pair<StageSlot, std::string>> stage;
      for (const auto& [vocabulary, code] :
           {std::pair{row.concept_vocabulary, row.concept_code},
            std::pair{row.source_vocabulary, row.source_code},
            std::pair{std::string("Cancer Modifier"), row[kSourceValue]}}) {
        if (vocabulary == "Cancer Modifier" && !code.empty()) stage = ParseStage(code);
        if (stage) break;
      }
      if (stage) person.stages.push_back({id, *date, event, stage->first, stage->second});
      break;
    }
    case CdmTable::kProcedureOccurrence:
    case CdmTable::kDrugExposure: {
      const bool procedure = table == CdmTable::kProcedureOccurrence;
      ASSIGN_OR_RETURN(int64_t concept_id, ParseId(row[kConceptId], column(kConceptId), place));
      const std::vector<RowCode> codes = CodesOf(row);
      for (size_t rank = 0; rank < mapping_.treatments.size(); ++rank) {
        const OmopMapping::Treatment& t = mapping_.treatments[rank];
        const bool matched =
            procedure
                ? Contains(t.procedure_concepts, concept_id) || MatchesAny(t.procedure_codes, codes)
                : Contains(t.drug_concepts, concept_id) || MatchesAny(t.drug_codes, codes);
        if (!matched) continue;
        ASSIGN_OR_RETURN(int64_t id, ParseId(row[kRowId], column(kRowId), place));
        ASSIGN_OR_RETURN(std::optional<int32_t> date,
                         ParseCdmDate(row[kDate], column(kDate), place));
        if (date) person.treatments.push_back({id, *date, rank, table});
        break;
      }
      break;
    }
    case CdmTable::kObservation: {
      bool grade = false;
      return AddGrade(table, row, place, &person, &grade);
    }
    case CdmTable::kEpisode:
    case CdmTable::kConditionEvent: {
      const bool episode = table == CdmTable::kEpisode;
      ASSIGN_OR_RETURN(int64_t concept_id, ParseId(row[kConceptId], column(kConceptId), place));
      const std::vector<RowCode> codes = CodesOf(row);
      const std::string source_value = UpperTrimmed(row[kSourceValue]);
      if (episode) {
        // An episode whose disease (episode_object_concept_id) is a concept other than those of
        // the person's GU conditions, when they have concepts, and not a listed organ concept, is
        // another disease's: not this cancer's recurrence. Without a concept on either side the
        // two cannot be told apart, and the episode counts.
        ASSIGN_OR_RETURN(int64_t object,
                         ParseId(row[kObjectConceptId], column(kObjectConceptId), place));
        bool known = false, same = false;
        for (const Person::Condition& c : person.conditions) {
          known = known || c.concept_id != 0;
          same = same || c.concept_id == object;
        }
        for (const OmopMapping::Organ& organ : mapping_.organs) {
          for (const OmopMapping::OrganConcept& c : organ.concepts) same = same || c.id == object;
        }
        if (object != 0 && known && !same) break;
      }
      for (size_t entry = 0; entry < mapping_.events.size(); ++entry) {
        const OmopMapping::Event& e = mapping_.events[entry];
        const bool matched =
            episode ? Contains(e.episode_concepts, concept_id) ||
                          (!source_value.empty() &&
                           std::find(e.episode_source_values.begin(), e.episode_source_values.end(),
                                     source_value) != e.episode_source_values.end())
                    : Contains(e.condition_concepts, concept_id) ||
                          MatchesAny(e.condition_codes, codes);
        if (!matched) continue;
        ASSIGN_OR_RETURN(int64_t id, ParseId(row[kRowId], column(kRowId), place));
        ASSIGN_OR_RETURN(std::optional<int32_t> date,
                         ParseCdmDate(row[kDate], column(kDate), place));
        if (date) person.events.push_back({id, *date, entry, table});
        break;
      }
      break;
    }
    case CdmTable::kObservationPeriod: {
      ASSIGN_OR_RETURN(std::optional<int32_t> end,
                       ParseCdmDate(row[kEndDate], column(kEndDate), place));
      if (end && (!person.observation_end || *end > *person.observation_end)) {
        person.observation_end = end;
      }
      break;
    }
    case CdmTable::kDeath: {
      ASSIGN_OR_RETURN(std::optional<int32_t> date, ParseCdmDate(row[kDate], column(kDate), place));
      ASSIGN_OR_RETURN(int64_t cause, ParseId(row[kConceptId], column(kConceptId), place));
      if (person.dead && person.death_date && date && *date >= *person.death_date) break;
      person.dead = true;
      person.death_date = date;
      person.cause_organ = Classify(mapping_, row, cause).organ;
      person.cause_recorded =
          cause != 0 || !TrimSpaces(row[kSourceValue]).empty() || !row.source_code.empty();
      break;
    }
  }
  return Status::Ok();
}

namespace {

// Where each record's values came from, for messages: the person and the rows.
struct RowPlace {
  int64_t person_id = 0;
  int64_t condition_id = 0;
  int64_t psa_id = 0;
  int64_t treatment_id = 0;
  CdmTable treatment_table = CdmTable::kProcedureOccurrence;
  std::array<int64_t, kStageSlots> stage_ids{};
  bool dead = false;
  // The row of each grade, margin and event column (0: none).
  std::array<int64_t, kColumnCount> row_ids{};
  std::array<CdmTable, kColumnCount> row_tables{};
};

Column ColumnOf(std::string_view variable) {
  const std::vector<std::string>& header = Header();
  return static_cast<Column>(std::find(header.begin(), header.end(), variable) - header.begin());
}

// The cohort's records, one per person in person_id order; every field's line is the record's
// number (1-based), which Where turns into the person and the CDM row the value came from.
class CohortReader : public RecordReader {
 public:
  CohortReader(std::string label, OmopMapping mapping, std::string site,
               std::map<int64_t, std::unique_ptr<Cohort::Person>> persons,
               std::vector<std::string> notes)
      : label_(std::move(label)),
        mapping_(std::move(mapping)),
        site_(std::move(site)),
        persons_(std::move(persons)),
        next_(persons_.begin()),
        notes_(std::move(notes)) {}

  std::vector<std::string> Notes() const override { return notes_; }

  const std::vector<std::string>& header() const override { return Header(); }
  const std::string& label() const override { return label_; }
  size_t header_line() const override { return 0; }

  Result<bool> Next(Record* record) override {
    if (next_ == persons_.end()) return false;
    std::array<std::string, kColumnCount> fields;
    places_.push_back(Build(*next_->second, &fields));
    ++next_;
    record->Clear();
    const size_t line = places_.size();
    for (const std::string& field : fields) {
      record->Add(field, line);
      hasher_.Update(field);
      hasher_.Update(std::string_view("\x1f", 1));
    }
    hasher_.Update(std::string_view("\n", 1));
    return true;
  }

  // SHA-256 of the records as yielded (fields ended by 0x1f, records by a newline): the same
  // cohort has the same checksum from any source.
  std::string ChecksumHex() override { return hasher_.FinishHex(); }

  std::string Where(size_t line, size_t column) const override {
    if (line == 0 || line > places_.size()) return "";
    const RowPlace& p = places_[line - 1];
    std::string where = "cdm person " + std::to_string(p.person_id);
    if (column == 0 || column > kColumnCount) return where;
    const auto row = [&where](std::string_view table, int64_t id) {
      where += " (" + std::string(table) + (id ? " " + std::to_string(id) : "") + ")";
    };
    switch (static_cast<Column>(column - 1)) {
      case kSex:
      case kBirthYear:
        row("person", 0);
        break;
      case kOrgan:
      case kIcd10:
      case kIcdo3Topography:
      case kIcdo3Morphology:
      case kHistology:
      case kDiagnosisDate:
        row("condition_occurrence", p.condition_id);
        break;
      case kCtStage:
      case kCnStage:
      case kCmStage:
      case kPtStage:
      case kPnStage: {
        const int c = static_cast<int>(column - 1);
        const int64_t id = c == kCtStage   ? p.stage_ids[kCT]
                           : c == kCnStage ? p.stage_ids[kCN]
                           : c == kCmStage ? std::max(p.stage_ids[kCM], p.stage_ids[kPM])
                           : c == kPtStage ? p.stage_ids[kPT]
                                           : p.stage_ids[kPN];
        if (id) row("measurement", id);
        break;
      }
      case kPsaDx:
        if (p.psa_id) row("measurement", p.psa_id);
        break;
      case kPrimaryTreatment:
      case kTreatmentDate:
        if (p.treatment_id) row(CdmTableName(p.treatment_table), p.treatment_id);
        break;
      case kLastFollowupDate:
        row(p.dead ? "observation_period, death" : "observation_period", 0);
        break;
      case kVitalStatus:
      case kDeathDate:
      case kDeathCause:
        if (p.dead) row("death", 0);
        break;
      default:
        if (p.row_ids[column - 1]) {
          row(CdmTableName(p.row_tables[column - 1]), p.row_ids[column - 1]);
        }
        break;
    }
    return where;
  }

 private:
  // The rules of docs/omop.md#how-each-variable-is-derived.
  RowPlace Build(const Cohort::Person& person, std::array<std::string, kColumnCount>* out) const {
    std::array<std::string, kColumnCount>& f = *out;
    RowPlace place;
    place.person_id = person.person_id;
    f[kPatientId] = std::to_string(person.person_id);
    f[kSite] = site_;
    f[kSex] = person.sex;
    f[kBirthYear] = person.birth_year;

    // The index tumour: the first GU condition; codes from that organ's rows, earliest first.
    std::vector<Cohort::Person::Condition> conditions = person.conditions;
    std::sort(conditions.begin(), conditions.end(), [](const auto& a, const auto& b) {
      return a.date != b.date ? a.date < b.date : a.id < b.id;
    });
    const Cohort::Person::Condition& index = conditions.front();
    const int32_t dx = index.date;
    place.condition_id = index.id;
    f[kOrgan] = index.tumour.organ;
    f[kDiagnosisDate] = FormatIsoDate(dx);
    for (const auto& c : conditions) {
      if (c.tumour.organ != index.tumour.organ) continue;
      if (f[kIcd10].empty()) f[kIcd10] = c.tumour.icd10;
      if (f[kIcdo3Topography].empty() && !c.tumour.topography.empty()) {
        f[kIcdo3Topography] = c.tumour.topography;
        f[kIcdo3Morphology] = c.tumour.morphology;
      }
    }
    if (f[kIcd10].empty() && !f[kIcdo3Topography].empty()) {
      f[kIcd10] = f[kIcdo3Topography].substr(0, 3);
    }
    if (!f[kIcdo3Morphology].empty()) {
      const std::string digits = f[kIcdo3Morphology].substr(0, 4);
      f[kHistology] = mapping_.other_histology;
      for (const OmopMapping::Histology& h : mapping_.histologies) {
        if (std::find(h.morphology.begin(), h.morphology.end(), digits) != h.morphology.end()) {
          f[kHistology] = h.level;
          break;
        }
      }
    }

    // Stage: the cancer modifiers of the index condition, the earliest of each category.
    std::array<const Cohort::Person::Stage*, kStageSlots> stage{};
    for (const auto& s : person.stages) {
      if (s.condition_id != index.id) continue;
      const auto*& best = stage[s.slot];
      if (!best || s.date < best->date || (s.date == best->date && s.id < best->id)) best = &s;
    }
    const auto set_stage = [&](Column column, StageSlot slot) {
      if (!stage[slot]) return false;
      f[column] = stage[slot]->value;
      place.stage_ids[slot] = stage[slot]->id;
      return true;
    };
    set_stage(kCtStage, kCT);
    set_stage(kCnStage, kCN);
    if (!set_stage(kCmStage, kCM)) set_stage(kCmStage, kPM);
    set_stage(kPtStage, kPT);
    set_stage(kPnStage, kPN);

    // The primary treatment: the earliest mapped procedure or drug within the window, of those
    // that treat the index tumour's organ.
    const Cohort::Person::Treatment* treatment = nullptr;
    for (const auto& t : person.treatments) {
      if (t.date < dx || t.date > dx + mapping_.treatment_window_days) continue;
      const std::vector<std::string>& organs = mapping_.treatments[t.rank].organs;
      if (!organs.empty() &&
          std::find(organs.begin(), organs.end(), index.tumour.organ) == organs.end()) {
        continue;
      }
      const auto key = [](const Cohort::Person::Treatment& x) {
        return std::tuple(x.date, x.rank, x.table == CdmTable::kDrugExposure, x.id);
      };
      if (!treatment || key(t) < key(*treatment)) treatment = &t;
    }
    if (treatment) {
      f[kPrimaryTreatment] = mapping_.treatments[treatment->rank].level;
      f[kTreatmentDate] = FormatIsoDate(treatment->date);
      place.treatment_id = treatment->id;
      place.treatment_table = treatment->table;
    }

    // PSA (prostate): the value nearest the diagnosis within the window, not after treatment.
    if (index.tumour.organ == "prostate") {
      const Cohort::Person::Psa* psa = nullptr;
      for (const auto& m : person.psas) {
        const int32_t distance = std::abs(m.date - dx);
        if (distance > mapping_.psa_window_days) continue;
        if (treatment && m.date > treatment->date) continue;
        const auto key = [dx](const Cohort::Person::Psa& x) {
          return std::tuple(std::abs(x.date - dx), x.date, x.id);
        };
        if (!psa || key(m) < key(*psa)) psa = &m;
      }
      if (psa) {
        f[kPsaDx] = psa->value;
        place.psa_id = psa->id;
      }
    }

    SetGrades(person, index.tumour.organ, dx, &f, &place);

    // Recurrence, biochemical recurrence, metastasis: the first event from the diagnosis
    // (recurrences: from the primary treatment).
    std::array<const Cohort::Person::Event*, kColumnCount> first{};
    for (const auto& e : person.events) {
      const std::string& variable = mapping_.events[e.entry].variable;
      if (!OrganHas(variable, index.tumour.organ)) continue;
      const bool recurrence = variable != "metastasis_date";
      if (e.date < (recurrence && treatment ? treatment->date : dx)) continue;
      const Cohort::Person::Event*& best = first[ColumnOf(variable)];
      if (!best ||
          std::tuple(e.date, e.table, e.id) < std::tuple(best->date, best->table, best->id)) {
        best = &e;
      }
    }
    for (size_t c = 0; c < first.size(); ++c) {
      if (!first[c]) continue;
      f[c] = FormatIsoDate(first[c]->date);
      place.row_ids[c] = first[c]->id;
      place.row_tables[c] = first[c]->table;
    }

    // Follow-up and death.
    std::optional<int32_t> last = person.observation_end;
    if (person.dead) {
      place.dead = true;
      f[kVitalStatus] = "dead";
      if (person.death_date) {
        f[kDeathDate] = FormatIsoDate(*person.death_date);
        if (!last || *person.death_date > *last) last = person.death_date;
      }
      f[kDeathCause] = person.cause_organ == index.tumour.organ ? "gu_cancer"
                       : person.cause_recorded                  ? "other"
                                                                : "unknown";
    } else {
      f[kVitalStatus] = "alive";
    }
    if (last) f[kLastFollowupDate] = FormatIsoDate(*last);
    return place;
  }

  // Grades and margins: the rows nearest the diagnosis within their windows, for the organs that
  // have them; the Gleason patterns as a pair of one day, with that day's ISUP grade group.
  void SetGrades(const Cohort::Person& person, const std::string& organ, int32_t dx,
                 std::array<std::string, kColumnCount>* f, RowPlace* place) const {
    using Grade = Cohort::Person::Grade;
    std::array<std::vector<const Grade*>, kColumnCount> rows;
    for (const Grade& g : person.grades) {
      const OmopMapping::Pathology& p = mapping_.pathology[g.entry];
      if (!OrganHas(p.variable, organ) || std::abs(g.date - dx) > p.window_days) continue;
      rows[ColumnOf(p.variable)].push_back(&g);
    }
    const auto key = [dx](const Grade* g) {
      return std::tuple(std::abs(g->date - dx), g->date, g->table, g->id);
    };
    const auto nearest = [&](Column column, std::optional<int32_t> day) {
      const Grade* best = nullptr;
      for (const Grade* g : rows[column]) {
        if (day && g->date != *day) continue;
        if (!best || key(g) < key(best)) best = g;
      }
      return best;
    };
    const auto set = [&](Column column, const Grade* g) {
      if (!g) return;
      (*f)[column] = g->value;
      place->row_ids[column] = g->id;
      place->row_tables[column] = g->table;
    };
    const Grade* primary = nullptr;
    for (const Grade* g : rows[kGleasonPrimary]) {
      if (nearest(kGleasonSecondary, g->date) && (!primary || key(g) < key(primary))) primary = g;
    }
    if (primary) {
      set(kGleasonPrimary, primary);
      set(kGleasonSecondary, nearest(kGleasonSecondary, primary->date));
      set(kIsupGrade, nearest(kIsupGrade, primary->date));
    } else {
      set(kIsupGrade, nearest(kIsupGrade, std::nullopt));
    }
    set(kUrothelialGrade, nearest(kUrothelialGrade, std::nullopt));
    set(kMarginStatus, nearest(kMarginStatus, std::nullopt));
  }

  std::string label_;
  OmopMapping mapping_;
  std::string site_;
  std::map<int64_t, std::unique_ptr<Cohort::Person>> persons_;
  std::map<int64_t, std::unique_ptr<Cohort::Person>>::const_iterator next_;
  std::vector<std::string> notes_;
  std::vector<RowPlace> places_;
  Sha256 hasher_;
};

}  // namespace

std::unique_ptr<RecordReader> Cohort::Finish(std::string label) {
  return std::make_unique<CohortReader>(std::move(label), std::move(mapping_), std::move(site_),
                                        std::move(persons_), std::move(notes_));
}

namespace {

// The concept table's rows the mapping can use: vocabulary and code by concept_id.
using ConceptCodes = std::map<int64_t, std::pair<std::string, std::string>>;

Result<std::unique_ptr<CsvReader>> OpenCdmFile(const std::string& folder, std::string_view table) {
  const std::string path = (fs::path(folder) / (std::string(table) + ".csv")).string();
  if (!fs::exists(path)) {
    return NotFound(folder + ": the CDM folder has no " + std::string(table) +
                    ".csv (person, condition_occurrence, measurement, procedure_occurrence, "
                    "drug_exposure, observation_period and death are needed)");
  }
  return CsvReader::Open(path, CsvOptions{});
}

// The index of each wanted column in the file's header (names compared in lower case).
std::vector<int> ColumnIndices(const std::vector<std::string>& header,
                               const std::vector<std::string_view>& wanted) {
  std::vector<int> indices(wanted.size(), -1);
  for (size_t c = 0; c < header.size(); ++c) {
    std::string name = header[c];
    for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    for (size_t w = 0; w < wanted.size(); ++w) {
      if (!wanted[w].empty() && name == wanted[w]) indices[w] = static_cast<int>(c);
    }
  }
  return indices;
}

Result<ConceptCodes> ReadConcepts(const std::string& folder, const OmopMapping& mapping) {
  ConceptCodes concepts;
  const std::string path = (fs::path(folder) / "concept.csv").string();
  if (!fs::exists(path)) return concepts;
  ASSIGN_OR_RETURN(auto reader, CsvReader::Open(path, CsvOptions{}));
  const std::vector<int> at =
      ColumnIndices(reader->header(), {"concept_id", "vocabulary_id", "concept_code"});
  for (size_t i = 0; i < at.size(); ++i) {
    if (at[i] < 0) {
      return InvalidArgument(path + ": no column " +
                             std::string(i == 0   ? "concept_id"
                                         : i == 1 ? "vocabulary_id"
                                                  : "concept_code"));
    }
  }
  Record record;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) break;
    if (record.size() != reader->header().size()) continue;
    const std::string_view vocabulary = record.field(at[1]);
    const std::string_view code = record.field(at[2]);
    if (!ConceptMatters(mapping, vocabulary, code)) continue;
    ASSIGN_OR_RETURN(int64_t id, ParseId(record.field(at[0]), "concept_id",
                                         path + ":" + std::to_string(record.first_line())));
    concepts[id] = {std::string(vocabulary), std::string(code)};
  }
  return concepts;
}

// The CDM's concept_ancestor.csv rows whose ancestor is one of the mapping's concepts; none
// without the file.
Result<std::vector<std::pair<int64_t, int64_t>>> ReadDescendants(const std::string& folder,
                                                                 const OmopMapping& mapping) {
  std::vector<std::pair<int64_t, int64_t>> rows;
  const std::string path = (fs::path(folder) / "concept_ancestor.csv").string();
  if (!fs::exists(path)) return rows;
  const std::vector<int64_t> ancestors = OmopAncestorConcepts(mapping);
  ASSIGN_OR_RETURN(auto reader, CsvReader::Open(path, CsvOptions{}));
  const std::vector<int> at =
      ColumnIndices(reader->header(), {"ancestor_concept_id", "descendant_concept_id"});
  for (size_t i = 0; i < at.size(); ++i) {
    if (at[i] < 0) {
      return InvalidArgument(path + ":1: no column " +
                             std::string(i == 0 ? "ancestor_concept_id" : "descendant_concept_id"));
    }
  }
  Record record;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) break;
    const std::string place = path + ":" + std::to_string(record.first_line());
    if (record.size() != reader->header().size()) {
      return InvalidArgument(place + ": " + std::to_string(record.size()) +
                             " fields, the header has " + std::to_string(reader->header().size()));
    }
    ASSIGN_OR_RETURN(int64_t ancestor, ParseId(record.field(at[0]), "ancestor_concept_id", place));
    if (!std::binary_search(ancestors.begin(), ancestors.end(), ancestor)) continue;
    ASSIGN_OR_RETURN(int64_t descendant,
                     ParseId(record.field(at[1]), "descendant_concept_id", place));
    rows.emplace_back(ancestor, descendant);
  }
  return rows;
}

Status ReadCdmTable(const std::string& folder, CdmTable table, const ConceptCodes& concepts,
                    Cohort* cohort) {
  if (CdmTableOptional(table) &&
      !fs::exists(fs::path(folder) / (std::string(CdmTableName(table)) + ".csv"))) {
    cohort->TableAbsent(table);
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(auto reader, OpenCdmFile(folder, CdmTableName(table)));
  std::vector<std::string_view> wanted;
  for (int f = 0; f < kFieldCount; ++f) wanted.push_back(CdmColumn(table, CdmField(f)));
  const std::vector<int> at = ColumnIndices(reader->header(), wanted);
  for (int f = 0; f < kFieldCount; ++f) {
    if (at[f] < 0 && !wanted[f].empty() && CdmColumnRequired(table, CdmField(f))) {
      return InvalidArgument(reader->label() + ":1: no column " + std::string(wanted[f]) +
                             " (the CDM 5.4 " + std::string(CdmTableName(table)) +
                             " table has it)");
    }
  }
  const auto lookup = [&concepts](std::string_view id_text, std::string* vocabulary,
                                  std::string* code) {
    int64_t id = 0;
    id_text = TrimSpaces(id_text);
    const auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
    if (ec != std::errc() || id == 0) return;
    const auto found = concepts.find(id);
    if (found == concepts.end()) return;
    *vocabulary = found->second.first;
    *code = found->second.second;
  };
  Record record;
  CdmRow row;
  for (;;) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&record));
    if (!more) break;
    const std::string place = reader->label() + ":" + std::to_string(record.first_line());
    if (record.size() != reader->header().size()) {
      return InvalidArgument(place + ": " + std::to_string(record.size()) +
                             " fields, the header has " + std::to_string(reader->header().size()));
    }
    if (table != CdmTable::kConditionOccurrence) {
      ASSIGN_OR_RETURN(const bool in_cohort, cohort->HasPerson(record.field(at[kPersonId]), place));
      if (!in_cohort) continue;
    }
    for (int f = 0; f < kFieldCount; ++f) {
      row.fields[f] = at[f] < 0 ? "" : std::string(record.field(at[f]));
    }
    row.source_vocabulary.clear();
    row.source_code.clear();
    row.concept_vocabulary.clear();
    row.concept_code.clear();
    row.value_vocabulary.clear();
    row.value_code.clear();
    lookup(row[kSourceConceptId], &row.source_vocabulary, &row.source_code);
    if (table == CdmTable::kMeasurement || table == CdmTable::kObservation) {
      lookup(row[kConceptId], &row.concept_vocabulary, &row.concept_code);
      lookup(row[kValueConceptId], &row.value_vocabulary, &row.value_code);
    }
    RETURN_IF_ERROR(cohort->Add(table, row, place));
  }
  return Status::Ok();
}

}  // namespace
}  // namespace passerelle::data::omop

namespace passerelle::data {

Result<std::unique_ptr<RecordReader>> OpenOmopCsv(const std::string& folder,
                                                  const OmopOptions& options) {
  if (!std::filesystem::is_directory(folder)) {
    return NotFound(folder + ": not a folder (--omop-csv names the folder of the CDM's CSV files)");
  }
  ASSIGN_OR_RETURN(OmopMapping mapping, LoadOmopMapping(options.mapping_file));
  ASSIGN_OR_RETURN(auto descendants, omop::ReadDescendants(folder, mapping));
  AddOmopDescendants(descendants, &mapping);
  ASSIGN_OR_RETURN(omop::ConceptCodes concepts, omop::ReadConcepts(folder, mapping));
  omop::Cohort cohort(std::move(mapping), options.site);
  for (omop::CdmTable table : omop::kCdmTables) {
    RETURN_IF_ERROR(omop::ReadCdmTable(folder, table, concepts, &cohort));
  }
  return cohort.Finish(folder);
}

}  // namespace passerelle::data
