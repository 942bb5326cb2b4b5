#include "passerelle/data/gu_cohort.h"

#include <algorithm>
#include <array>
#include <optional>

#include "passerelle/base/date.h"

namespace passerelle::data {
namespace {

// The source variables the rules and derivations read.
enum GuVar {
  kSex,
  kBirthYear,
  kOrgan,
  kIcd10,
  kTopography,
  kDiagnosisDate,
  kCtStage,
  kCnStage,
  kCmStage,
  kPtStage,
  kPnStage,
  kGleasonPrimary,
  kGleasonSecondary,
  kIsup,
  kPsa,
  kUrothelialGrade,
  kTreatmentDate,
  kLastFollowup,
  kVitalStatus,
  kDeathDate,
  kDeathCause,
  kRecurrenceDate,
  kBcrDate,
  kMetastasisDate,
  kGuVarCount
};
constexpr std::array<std::string_view, kGuVarCount> kGuVarNames = {"sex",
                                                                   "birth_year",
                                                                   "organ",
                                                                   "icd10",
                                                                   "icdo3_topography",
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
                                                                   "treatment_date",
                                                                   "last_followup_date",
                                                                   "vital_status",
                                                                   "death_date",
                                                                   "death_cause",
                                                                   "recurrence_date",
                                                                   "bcr_date",
                                                                   "metastasis_date"};

enum GuDerived {
  kAgeDx,
  kTStage,
  kNStage,
  kMStage,
  kOsDays,
  kOsEvent,
  kCssDays,
  kCssEvent,
  kRfsDays,
  kRfsEvent,
  kMfsDays,
  kMfsEvent,
  kBcrDays,
  kBcrEvent,
  kGuDerivedCount
};
constexpr std::array<std::string_view, kGuDerivedCount> kGuDerivedNames = {
    "age_dx",    "t_stage",  "n_stage",   "m_stage",  "os_days",   "os_event", "css_days",
    "css_event", "rfs_days", "rfs_event", "mfs_days", "mfs_event", "bcr_days", "bcr_event"};

enum GuRule {
  kRuleOrganCodes,
  kRuleOrganSex,
  kRuleOrganFields,
  kRuleIsupGleason,
  kRuleDateOrder,
  kRuleDeathConsistency,
  kRuleEventsAfterIndex
};
constexpr std::array<std::string_view, 7> kRuleNames = {
    "organ_codes", "organ_sex",         "organ_fields",      "isup_gleason",
    "date_order",  "death_consistency", "events_after_index"};

struct OrganCodes {
  std::string_view organ;
  std::string_view icd10[2];  // accepted three-character categories
};
constexpr OrganCodes kOrganCodes[] = {
    {"prostate", {"C61", ""}},       {"bladder", {"C67", ""}}, {"kidney", {"C64", ""}},
    {"upper_tract", {"C65", "C66"}}, {"testis", {"C62", ""}},  {"penis", {"C60", ""}},
};

// True when `code` is `category` alone or followed by '.' and a subsite digit ("C67.2").
bool CodeInCategory(std::string_view code, std::string_view category) {
  if (category.empty() || !code.starts_with(category)) return false;
  code.remove_prefix(category.size());
  return code.empty() || (code.size() == 2 && code[0] == '.' && code[1] >= '0' && code[1] <= '9');
}

const OrganCodes* FindOrgan(std::string_view organ) {
  for (const OrganCodes& o : kOrganCodes) {
    if (o.organ == organ) return &o;
  }
  return nullptr;
}

std::string ExpectedCodes(const OrganCodes& o) {
  std::string s(o.icd10[0]);
  if (!o.icd10[1].empty()) s += " or " + std::string(o.icd10[1]);
  return s;
}

// The ISUP grade group a Gleason pattern pair implies (ISUP 2014).
int IsupFromGleason(int64_t primary, int64_t secondary) {
  const int64_t sum = primary + secondary;
  if (sum <= 6) return 1;
  if (sum == 7) return primary == 3 ? 2 : 3;
  if (sum == 8) return 4;
  return 5;
}

Result<std::vector<int>> BindNames(const Dictionary& d, std::span<const std::string_view> names,
                                   std::string_view what) {
  std::vector<int> index;
  for (std::string_view name : names) {
    const int i = d.IndexOf(name);
    if (i < 0) {
      return InvalidArgument("dictionary " + d.Id() + ": " + std::string(what) +
                             " needs the variable '" + std::string(name) + "'");
    }
    index.push_back(i);
  }
  return index;
}

}  // namespace

bool IsKnownGuRule(std::string_view name) {
  return std::find(kRuleNames.begin(), kRuleNames.end(), name) != kRuleNames.end();
}

Result<GuRules> GuRules::Bind(const Dictionary& dictionary) {
  GuRules rules;
  for (const std::string& name : dictionary.rules) {
    const auto it = std::find(kRuleNames.begin(), kRuleNames.end(), name);
    if (it != kRuleNames.end()) rules.enabled_ |= 1u << (it - kRuleNames.begin());
  }
  if (rules.enabled_) {
    ASSIGN_OR_RETURN(rules.index_, BindNames(dictionary, kGuVarNames, "the GU cohort rules"));
  }
  return rules;
}

void GuRules::Check(std::span<const Value> row, const RuleReport& report) const {
  if (!enabled_) return;
  auto v = [&](GuVar var) -> const Value& { return row[index_[var]]; };
  auto fail = [&](GuVar var, std::string_view rule, std::string message) {
    report(index_[var], "rule " + std::string(rule) + ": " + message);
  };
  auto has = [&](GuRule rule) { return (enabled_ >> rule) & 1u; };
  const std::string_view organ = v(kOrgan).text;
  const OrganCodes* codes = v(kOrgan).missing ? nullptr : FindOrgan(organ);
  const bool prostate = organ == "prostate";

  if (has(kRuleOrganCodes) && codes) {
    for (GuVar var : {kIcd10, kTopography}) {
      const Value& code = v(var);
      if (code.missing) continue;
      if (!CodeInCategory(code.text, codes->icd10[0]) &&
          !CodeInCategory(code.text, codes->icd10[1])) {
        fail(var, "organ_codes",
             "code does not match organ " + std::string(organ) + " (expected " +
                 ExpectedCodes(*codes) + (var == kTopography ? ".x)" : " or a subsite)"));
      }
    }
  }
  if (has(kRuleOrganSex) && !v(kSex).missing &&
      (organ == "prostate" || organ == "testis" || organ == "penis") && v(kSex).text != "male") {
    fail(kSex, "organ_sex", std::string(organ) + " cancer requires sex male");
  }
  if (has(kRuleOrganFields) && codes) {
    if (!prostate) {
      for (GuVar var : {kGleasonPrimary, kGleasonSecondary, kIsup, kPsa, kBcrDate}) {
        if (!v(var).missing) fail(var, "organ_fields", "recorded for prostate cancer only");
      }
    }
    if (!v(kUrothelialGrade).missing && organ != "bladder" && organ != "upper_tract") {
      fail(kUrothelialGrade, "organ_fields", "recorded for bladder and upper-tract cancer only");
    }
  }
  if (has(kRuleIsupGleason)) {
    const Value& primary = v(kGleasonPrimary);
    const Value& secondary = v(kGleasonSecondary);
    if (primary.missing != secondary.missing) {
      fail(primary.missing ? kGleasonPrimary : kGleasonSecondary, "isup_gleason",
           "Gleason primary and secondary patterns are recorded together");
    } else if (!primary.missing && !v(kIsup).missing) {
      const int expected = IsupFromGleason(primary.integer, secondary.integer);
      if (v(kIsup).integer != expected) {
        fail(kIsup, "isup_gleason",
             "Gleason " + std::to_string(primary.integer) + "+" +
                 std::to_string(secondary.integer) + " is ISUP grade group " +
                 std::to_string(expected));
      }
    }
  }
  const Value& diagnosis = v(kDiagnosisDate);
  const Value& treatment = v(kTreatmentDate);
  const Value& last = v(kLastFollowup);
  const Value& death = v(kDeathDate);
  if (has(kRuleDateOrder)) {
    if (!diagnosis.missing && !v(kBirthYear).missing) {
      const int64_t age =
          CivilFromDays(static_cast<int32_t>(diagnosis.integer)).year - v(kBirthYear).integer;
      if (age < 0 || age > 110) {
        fail(kBirthYear, "date_order", "birth year gives an age at diagnosis outside 0 to 110");
      }
    }
    if (!treatment.missing && !diagnosis.missing && treatment.integer < diagnosis.integer) {
      fail(kTreatmentDate, "date_order", "treatment date is before the diagnosis date");
    }
    if (!treatment.missing && !last.missing && treatment.integer > last.integer) {
      fail(kTreatmentDate, "date_order", "treatment date is after the last follow-up date");
    }
    if (!diagnosis.missing && !last.missing && last.integer < diagnosis.integer) {
      fail(kLastFollowup, "date_order", "last follow-up date is before the diagnosis date");
    }
  }
  if (has(kRuleDeathConsistency) && !v(kVitalStatus).missing) {
    const bool dead = v(kVitalStatus).text == "dead";
    if (dead && death.missing)
      fail(kDeathDate, "death_consistency", "vital status dead needs a death date");
    if (!dead && !death.missing)
      fail(kDeathDate, "death_consistency", "death date given but vital status is alive");
    if (!dead && !v(kDeathCause).missing) {
      fail(kDeathCause, "death_consistency", "death cause given but vital status is alive");
    }
    if (dead && v(kDeathCause).missing) {
      fail(kDeathCause, "death_consistency",
           "vital status dead needs a death cause (unknown is allowed)");
    }
    if (!death.missing && !last.missing &&
        (last.integer < death.integer || last.integer > death.integer + 30)) {
      fail(kLastFollowup, "death_consistency",
           "last follow-up must be between the death date and 30 days after it");
    }
  }
  if (has(kRuleEventsAfterIndex) && !diagnosis.missing) {
    for (GuVar var : {kRecurrenceDate, kBcrDate, kMetastasisDate, kDeathDate}) {
      const Value& event = v(var);
      if (event.missing) continue;
      if (event.integer < diagnosis.integer) {
        fail(var, "events_after_index", "event date is before the diagnosis date");
      } else if (!last.missing && event.integer > last.integer) {
        fail(var, "events_after_index", "event date is after the last follow-up date");
      } else if ((var == kRecurrenceDate || var == kBcrDate) && !treatment.missing &&
                 event.integer < treatment.integer) {
        fail(var, "events_after_index", "recurrence date is before the primary treatment date");
      }
    }
  }
}

std::string_view IndexDateName(IndexDate index) {
  return index == IndexDate::kDiagnosis ? "diagnosis" : "treatment";
}

Result<IndexDate> IndexDateFromName(std::string_view name) {
  if (name == "diagnosis") return IndexDate::kDiagnosis;
  if (name == "treatment") return IndexDate::kTreatment;
  return InvalidArgument("index date must be 'diagnosis' or 'treatment', not '" +
                         std::string(name) + "'");
}

Result<GuDerivation> GuDerivation::Bind(const Dictionary& dictionary, IndexDate index) {
  GuDerivation d;
  d.index_date_ = index;
  ASSIGN_OR_RETURN(d.in_, BindNames(dictionary, kGuVarNames, "the gu_cohort_v1 derivation"));
  ASSIGN_OR_RETURN(d.out_, BindNames(dictionary, kGuDerivedNames, "the gu_cohort_v1 derivation"));
  for (int i : d.out_) {
    if (!dictionary.variables[i].derived) {
      return InvalidArgument("dictionary " + dictionary.Id() + ": variable '" +
                             dictionary.variables[i].name + "' must be marked derived = true");
    }
  }
  return d;
}

void GuDerivation::Derive(std::span<Value> row) const {
  auto in = [&](GuVar var) -> const Value& { return row[in_[var]]; };
  auto out = [&](GuDerived var) -> Value& { return row[out_[var]]; };
  for (int i : out_) row[i] = Value::Missing();

  const Value& diagnosis = in(kDiagnosisDate);
  if (!diagnosis.missing && !in(kBirthYear).missing) {
    out(kAgeDx) = Value::Integer(CivilFromDays(static_cast<int32_t>(diagnosis.integer)).year -
                                 in(kBirthYear).integer);
  }
  // Pathological stage when the specimen was staged, clinical stage otherwise.
  out(kTStage) = in(kPtStage).missing ? in(kCtStage) : in(kPtStage);
  out(kNStage) = in(kPnStage).missing ? in(kCnStage) : in(kPnStage);
  out(kMStage) = in(kCmStage);

  const Value& index = index_date_ == IndexDate::kDiagnosis ? diagnosis : in(kTreatmentDate);
  const Value& last = in(kLastFollowup);
  if (index.missing || last.missing) return;
  const bool dead = !in(kDeathDate).missing;
  // Follow-up ends at death for the dead (the last contact may lie up to 30 days after it).
  const int64_t end = dead ? in(kDeathDate).integer : last.integer;
  auto set = [&](GuDerived days, GuDerived event, int64_t date, bool happened) {
    const int64_t t = date - index.integer;
    if (t < 0) return;  // the event precedes the index date: not at risk, left missing
    out(days) = Value::Integer(t);
    out(event) = Value::Integer(happened ? 1 : 0);
  };
  set(kOsDays, kOsEvent, end, dead);
  set(kCssDays, kCssEvent, end, dead && in(kDeathCause).text == "gu_cancer");
  auto first_event = [&](std::initializer_list<GuVar> vars) {
    std::optional<int64_t> first;
    for (GuVar var : vars) {
      if (!in(var).missing && (!first || in(var).integer < *first)) first = in(var).integer;
    }
    return first;
  };
  const auto recurrence = first_event({kRecurrenceDate, kBcrDate, kMetastasisDate, kDeathDate});
  set(kRfsDays, kRfsEvent, recurrence.value_or(end), recurrence.has_value());
  const auto metastasis = first_event({kMetastasisDate, kDeathDate});
  set(kMfsDays, kMfsEvent, metastasis.value_or(end), metastasis.has_value());
  if (in(kOrgan).text == "prostate") {
    const Value& bcr = in(kBcrDate);
    set(kBcrDays, kBcrEvent, bcr.missing ? end : bcr.integer, !bcr.missing);
  }
}

}  // namespace passerelle::data
