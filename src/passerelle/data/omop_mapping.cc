// The mapping file (dictionaries/omop_gu.v1.toml) and the code matching both CDM sources share.
#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "passerelle/base/text.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/data/omop.h"
#include "passerelle/data/omop_cdm.h"
#include "passerelle/data/toml_support.h"

namespace passerelle::data {
namespace {

std::string Upper(std::string_view s) {
  std::string out(TrimSpaces(s));
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

Status ReadIds(const toml::table& t, std::string_view key, std::string_view label,
               std::vector<int64_t>* out) {
  const toml::node* node = t.get(key);
  if (!node) return Status::Ok();
  const toml::array* array = node->as_array();
  if (!array)
    return InvalidArgument(TomlWhere(label, node->source()) + ": " + std::string(key) +
                           ": a list of concept ids expected");
  for (const toml::node& item : *array) {
    const std::optional<int64_t> id = item.value<int64_t>();
    if (!id || *id <= 0) {
      return InvalidArgument(TomlWhere(label, item.source()) + ": " + std::string(key) +
                             ": a concept id is a whole number above 0");
    }
    out->push_back(*id);
  }
  return Status::Ok();
}

Status ReadStrings(const toml::table& t, std::string_view key, std::string_view label, bool upper,
                   std::vector<std::string>* out) {
  const toml::node* node = t.get(key);
  if (!node) return Status::Ok();
  const toml::array* array = node->as_array();
  if (!array)
    return InvalidArgument(TomlWhere(label, node->source()) + ": " + std::string(key) +
                           ": a list of strings expected");
  for (const toml::node& item : *array) {
    const std::optional<std::string> s = item.value<std::string>();
    if (!s || TrimSpaces(*s).empty()) {
      return InvalidArgument(TomlWhere(label, item.source()) + ": " + std::string(key) +
                             ": a non-empty string expected");
    }
    out->push_back(upper ? Upper(*s) : std::string(TrimSpaces(*s)));
  }
  return Status::Ok();
}

Status ReadCodes(const toml::table& t, std::string_view key, std::string_view label,
                 std::vector<OmopCode>* out) {
  std::vector<std::string> texts;
  RETURN_IF_ERROR(ReadStrings(t, key, label, /*upper=*/false, &texts));
  for (const std::string& text : texts) {
    const size_t colon = text.find(':');
    OmopCode code;
    if (colon != std::string::npos) {
      code.vocabulary = Upper(text.substr(0, colon));
      code.code = omop::NormalizeCode(std::string_view(text).substr(colon + 1));
    }
    if (!code.code.empty() && code.code.back() == '*') {
      code.prefix = true;
      code.code.pop_back();
    }
    if (code.vocabulary.empty() || code.code.empty()) {
      return InvalidArgument(TomlWhere(label, t.get(key)->source()) + ": " + std::string(key) +
                             ": '" + text +
                             "' is not VOCABULARY:CODE (e.g. CPT4:55866, ATC:L02AE*)");
    }
    out->push_back(std::move(code));
  }
  return Status::Ok();
}

Status ReadDays(const toml::table& t, std::string_view key, std::string_view label, int* out) {
  const toml::node* node = t.get(key);
  if (!node) return Status::Ok();
  const std::optional<int64_t> days = node->value<int64_t>();
  if (!days || *days < 0 || *days > 36500) {
    return InvalidArgument(TomlWhere(label, node->source()) + ": " + std::string(key) +
                           ": a number of days from 0 to 36500 expected");
  }
  *out = static_cast<int>(*days);
  return Status::Ok();
}

Result<std::string> ReadLevel(const toml::table& t, std::string_view label, std::string_view what) {
  const std::string level = t["level"].value_or(std::string());
  if (level.empty()) {
    return InvalidArgument(TomlWhere(label, t.source()) + ": " + std::string(what) +
                           ": 'level' is missing");
  }
  return level;
}

// The entry's `variable`, one of `allowed`.
Result<std::string> ReadVariable(const toml::table& t, std::string_view label,
                                 std::string_view what, const std::vector<std::string>& allowed) {
  const std::string variable = t["variable"].value_or(std::string());
  if (std::find(allowed.begin(), allowed.end(), variable) == allowed.end()) {
    std::string names;
    for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
    return InvalidArgument(TomlWhere(label, t.source()) + ": " + std::string(what) +
                           ": 'variable' is missing or not one of " + names);
  }
  return variable;
}

// Each [[what]] entry of the file, as a table.
Status ForEachEntry(const toml::table& root, std::string_view what, std::string_view label,
                    const std::function<Status(const toml::table&)>& visit) {
  const toml::node* node = root.get(what);
  if (!node) return Status::Ok();
  const toml::array* array = node->as_array();
  if (!array)
    return InvalidArgument(TomlWhere(label, node->source()) + ": [[" + std::string(what) +
                           "]] entries expected");
  for (const toml::node& item : *array) {
    const toml::table* table = item.as_table();
    if (!table)
      return InvalidArgument(TomlWhere(label, item.source()) + ": [[" + std::string(what) +
                             "]] entry expected");
    RETURN_IF_ERROR(visit(*table));
  }
  return Status::Ok();
}

// The entry of `entries` whose `key` member (its level, or its variable) is `name`, added at
// the end when there is none.
template <typename T>
T* EntryOf(std::vector<T>* entries, std::string T::*key, const std::string& name) {
  for (T& e : *entries) {
    if (e.*key == name) return &e;
  }
  entries->push_back(T{});
  entries->back().*key = name;
  return &entries->back();
}

}  // namespace

Status ParseOmopMapping(std::string_view toml_text, std::string_view label, OmopMapping* m) {
  ASSIGN_OR_RETURN(toml::table root,
                   ParseTomlTable(toml_text, label,
                                  {"name", "version", "dictionary", "description", "sex", "organ",
                                   "other_histology", "histology", "psa", "treatment_window_days",
                                   "treatment", "pathology", "event"},
                                  "mapping"));
  const std::string name = root["name"].value_or(std::string());
  const std::string dictionary = root["dictionary"].value_or(std::string());
  if (m->name.empty()) {
    if (!IsValidName(name)) {
      return InvalidArgument(std::string(label) + ": mapping 'name' is missing or not a name");
    }
    m->name = name;
    m->version = static_cast<int>(root["version"].value_or(int64_t{1}));
    m->dictionary = dictionary;
  } else if (!dictionary.empty() && dictionary != m->dictionary) {
    return InvalidArgument(std::string(label) + ": the mapping builds '" + dictionary +
                           "' rows; it cannot extend a mapping of '" + m->dictionary + "'");
  }
  if (const toml::table* sex = root["sex"].as_table()) {
    RETURN_IF_ERROR(CheckTomlKeys(
        *sex, {"male_concepts", "female_concepts", "male_source_values", "female_source_values"},
        label, "sex"));
    RETURN_IF_ERROR(ReadIds(*sex, "male_concepts", label, &m->male_concepts));
    RETURN_IF_ERROR(ReadIds(*sex, "female_concepts", label, &m->female_concepts));
    RETURN_IF_ERROR(ReadStrings(*sex, "male_source_values", label, true, &m->male_source_values));
    RETURN_IF_ERROR(
        ReadStrings(*sex, "female_source_values", label, true, &m->female_source_values));
  }
  const auto read_organ = [&](const toml::table& t) -> Status {
    RETURN_IF_ERROR(CheckTomlKeys(t, {"level", "icd10", "concepts"}, label, "organ"));
    ASSIGN_OR_RETURN(std::string level, ReadLevel(t, label, "organ"));
    OmopMapping::Organ* organ = EntryOf(&m->organs, &OmopMapping::Organ::level, level);
    std::vector<std::string> categories;
    RETURN_IF_ERROR(ReadStrings(t, "icd10", label, true, &categories));
    for (const std::string& c : categories) {
      const std::string code = omop::NormalizeCode(c);
      if (code.size() != 3 || code[0] != 'C') {
        return InvalidArgument(TomlWhere(label, t.source()) + ": organ " + level + ": '" + c +
                               "' is not an ICD-10 category such as C61");
      }
      organ->icd10.push_back(code);
    }
    if (const toml::node* node = t.get("concepts")) {
      const toml::array* array = node->as_array();
      if (!array)
        return InvalidArgument(TomlWhere(label, node->source()) +
                               ": concepts: a list of { id, icd10 } expected");
      for (const toml::node& item : *array) {
        const toml::table* c = item.as_table();
        const std::optional<int64_t> id = c ? (*c)["id"].value<int64_t>() : std::nullopt;
        const std::string icd10 = c ? (*c)["icd10"].value_or(std::string()) : "";
        if (!id || *id <= 0 || icd10.empty()) {
          return InvalidArgument(TomlWhere(label, item.source()) +
                                 ": concepts: { id = CONCEPT_ID, icd10 = \"C61\" } expected");
        }
        organ->concepts.push_back({*id, icd10});
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(ForEachEntry(root, "organ", label, read_organ));
  if (const toml::node* other = root.get("other_histology")) {
    m->other_histology = other->value_or(std::string());
  }
  const auto read_histology = [&](const toml::table& t) -> Status {
    RETURN_IF_ERROR(CheckTomlKeys(t, {"level", "morphology"}, label, "histology"));
    ASSIGN_OR_RETURN(std::string level, ReadLevel(t, label, "histology"));
    OmopMapping::Histology* histology =
        EntryOf(&m->histologies, &OmopMapping::Histology::level, level);
    std::vector<std::string> codes;
    RETURN_IF_ERROR(ReadStrings(t, "morphology", label, true, &codes));
    for (const std::string& code : codes) {
      if (code.size() != 4 || !std::all_of(code.begin(), code.end(), ::isdigit)) {
        return InvalidArgument(TomlWhere(label, t.source()) + ": histology " + level + ": '" +
                               code + "' is not an ICD-O-3 morphology's four digits such as 8140");
      }
      histology->morphology.push_back(code);
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(ForEachEntry(root, "histology", label, read_histology));
  if (const toml::table* psa = root["psa"].as_table()) {
    RETURN_IF_ERROR(CheckTomlKeys(
        *psa, {"concepts", "codes", "unit_concepts", "unit_source_values", "window_days"}, label,
        "psa"));
    RETURN_IF_ERROR(ReadIds(*psa, "concepts", label, &m->psa_concepts));
    RETURN_IF_ERROR(ReadCodes(*psa, "codes", label, &m->psa_codes));
    RETURN_IF_ERROR(ReadIds(*psa, "unit_concepts", label, &m->psa_unit_concepts));
    RETURN_IF_ERROR(
        ReadStrings(*psa, "unit_source_values", label, true, &m->psa_unit_source_values));
    RETURN_IF_ERROR(ReadDays(*psa, "window_days", label, &m->psa_window_days));
  }
  RETURN_IF_ERROR(ReadDays(root, "treatment_window_days", label, &m->treatment_window_days));
  const auto read_treatment = [&](const toml::table& t) -> Status {
    RETURN_IF_ERROR(CheckTomlKeys(
        t,
        {"level", "procedure_concepts", "procedure_codes", "drug_concepts", "drug_codes", "organs"},
        label, "treatment"));
    ASSIGN_OR_RETURN(std::string level, ReadLevel(t, label, "treatment"));
    OmopMapping::Treatment* treatment =
        EntryOf(&m->treatments, &OmopMapping::Treatment::level, level);
    RETURN_IF_ERROR(ReadIds(t, "procedure_concepts", label, &treatment->procedure_concepts));
    RETURN_IF_ERROR(ReadIds(t, "drug_concepts", label, &treatment->drug_concepts));
    RETURN_IF_ERROR(ReadCodes(t, "procedure_codes", label, &treatment->procedure_codes));
    RETURN_IF_ERROR(ReadCodes(t, "drug_codes", label, &treatment->drug_codes));
    RETURN_IF_ERROR(ReadStrings(t, "organs", label, false, &treatment->organs));
    for (const std::string& organ : treatment->organs) {
      if (std::none_of(m->organs.begin(), m->organs.end(),
                       [&organ](const OmopMapping::Organ& o) { return o.level == organ; })) {
        return InvalidArgument(TomlWhere(label, t.source()) + ": treatment " + level +
                               ": organs: '" + organ + "' is not one of the mapping's organs");
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(ForEachEntry(root, "treatment", label, read_treatment));
  const auto read_pathology = [&](const toml::table& t) -> Status {
    RETURN_IF_ERROR(CheckTomlKeys(t, {"variable", "concepts", "codes", "values", "window_days"},
                                  label, "pathology"));
    ASSIGN_OR_RETURN(std::string variable,
                     ReadVariable(t, label, "pathology",
                                  {"gleason_primary", "gleason_secondary", "isup_grade",
                                   "urothelial_grade", "margin_status"}));
    OmopMapping::Pathology* p = EntryOf(&m->pathology, &OmopMapping::Pathology::variable, variable);
    RETURN_IF_ERROR(ReadIds(t, "concepts", label, &p->concepts));
    RETURN_IF_ERROR(ReadCodes(t, "codes", label, &p->codes));
    RETURN_IF_ERROR(ReadDays(t, "window_days", label, &p->window_days));
    return ForEachEntry(t, "values", label, [&](const toml::table& v) -> Status {
      RETURN_IF_ERROR(
          CheckTomlKeys(v, {"level", "concepts", "codes", "source_values"}, label, "values"));
      ASSIGN_OR_RETURN(std::string level, ReadLevel(v, label, "pathology " + variable));
      OmopMapping::ValueLevel* value = EntryOf(&p->values, &OmopMapping::ValueLevel::level, level);
      RETURN_IF_ERROR(ReadIds(v, "concepts", label, &value->concepts));
      RETURN_IF_ERROR(ReadCodes(v, "codes", label, &value->codes));
      return ReadStrings(v, "source_values", label, true, &value->source_values);
    });
  };
  RETURN_IF_ERROR(ForEachEntry(root, "pathology", label, read_pathology));
  const auto read_event = [&](const toml::table& t) -> Status {
    RETURN_IF_ERROR(CheckTomlKeys(t,
                                  {"variable", "episode_concepts", "episode_source_values",
                                   "condition_concepts", "condition_codes"},
                                  label, "event"));
    ASSIGN_OR_RETURN(
        std::string variable,
        ReadVariable(t, label, "event", {"recurrence_date", "bcr_date", "metastasis_date"}));
    OmopMapping::Event* e = EntryOf(&m->events, &OmopMapping::Event::variable, variable);
    RETURN_IF_ERROR(ReadIds(t, "episode_concepts", label, &e->episode_concepts));
    RETURN_IF_ERROR(
        ReadStrings(t, "episode_source_values", label, true, &e->episode_source_values));
    RETURN_IF_ERROR(ReadIds(t, "condition_concepts", label, &e->condition_concepts));
    return ReadCodes(t, "condition_codes", label, &e->condition_codes);
  };
  RETURN_IF_ERROR(ForEachEntry(root, "event", label, read_event));
  return Status::Ok();
}

namespace {

// Every list of category concepts whose descendants count too.
template <typename Visit>
void ForEachAncestorList(OmopMapping* m, Visit visit) {
  visit(&m->psa_concepts);
  for (OmopMapping::Treatment& t : m->treatments) {
    visit(&t.procedure_concepts);
    visit(&t.drug_concepts);
  }
  for (OmopMapping::Pathology& p : m->pathology) visit(&p.concepts);
  for (OmopMapping::Event& e : m->events) {
    visit(&e.episode_concepts);
    visit(&e.condition_concepts);
  }
}

}  // namespace

std::vector<int64_t> OmopAncestorConcepts(const OmopMapping& mapping) {
  OmopMapping copy = mapping;
  std::vector<int64_t> out;
  for (const OmopMapping::Organ& organ : copy.organs) {
    for (const OmopMapping::OrganConcept& c : organ.concepts) out.push_back(c.id);
  }
  ForEachAncestorList(&copy, [&out](std::vector<int64_t>* ids) {
    out.insert(out.end(), ids->begin(), ids->end());
  });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void AddOmopDescendants(const std::vector<std::pair<int64_t, int64_t>>& descendants,
                        OmopMapping* mapping) {
  std::multimap<int64_t, int64_t> by_ancestor;
  for (const auto& [ancestor, descendant] : descendants) {
    if (ancestor != descendant) by_ancestor.emplace(ancestor, descendant);
  }
  const auto expand = [&by_ancestor](std::vector<int64_t>* ids) {
    std::set<int64_t> seen(ids->begin(), ids->end());
    const size_t listed = ids->size();
    for (size_t i = 0; i < listed; ++i) {
      const auto [first, last] = by_ancestor.equal_range((*ids)[i]);
      for (auto it = first; it != last; ++it) {
        if (seen.insert(it->second).second) ids->push_back(it->second);
      }
    }
  };
  for (OmopMapping::Organ& organ : mapping->organs) {
    const size_t listed = organ.concepts.size();
    for (size_t i = 0; i < listed; ++i) {
      const OmopMapping::OrganConcept c = organ.concepts[i];
      const auto [first, last] = by_ancestor.equal_range(c.id);
      for (auto it = first; it != last; ++it) organ.concepts.push_back({it->second, c.icd10});
    }
  }
  ForEachAncestorList(mapping, expand);
}

Result<OmopMapping> LoadOmopMapping(const std::string& site_file) {
  OmopMapping mapping;
  const std::optional<std::string_view> builtin = BuiltinOmopMappingText();
  RETURN_IF_ERROR(ParseOmopMapping(*builtin, "omop_gu.v1", &mapping));
  if (site_file.empty()) return mapping;
  std::ifstream in(site_file, std::ios::binary);
  if (!in) return NotFound(site_file + ": cannot open the mapping file for reading");
  std::stringstream text;
  text << in.rdbuf();
  RETURN_IF_ERROR(ParseOmopMapping(text.str(), site_file, &mapping));
  return mapping;
}

namespace omop {

std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char c : TrimSpaces(code)) {
    if (c == '.') continue;
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

namespace {

std::string LikeEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> LikePatterns(const std::vector<OmopCode>& codes, bool with_vocabulary) {
  std::vector<std::string> out;
  for (const OmopCode& c : codes) {
    std::string p = with_vocabulary ? LikeEscape(c.vocabulary) + ":" : "";
    p += LikeEscape(c.code);
    if (c.prefix) p += "%";
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<std::string> GuConditionPatterns(const OmopMapping& mapping) {
  std::vector<std::string> out;
  for (const OmopMapping::Organ& organ : mapping.organs) {
    for (const std::string& category : organ.icd10) {
      out.push_back(LikeEscape(category) + "%");
      out.push_back("%-" + LikeEscape(category) + "%");
    }
  }
  return out;
}

std::vector<int64_t> GuConditionConcepts(const OmopMapping& mapping) {
  std::vector<int64_t> out;
  for (const OmopMapping::Organ& organ : mapping.organs) {
    for (const OmopMapping::OrganConcept& c : organ.concepts) out.push_back(c.id);
  }
  return out;
}

bool ConceptMatters(const OmopMapping& mapping, std::string_view vocabulary,
                    std::string_view code) {
  const std::string vocab = Upper(vocabulary);
  if (vocab == "CANCER MODIFIER") return true;
  const std::string normalized = NormalizeCode(code);
  const auto matches = [&](const std::vector<OmopCode>& codes) {
    return std::any_of(codes.begin(), codes.end(), [&](const OmopCode& c) {
      return c.vocabulary == vocab &&
             (c.prefix ? normalized.starts_with(c.code) : normalized == c.code);
    });
  };
  for (const OmopMapping::Event& e : mapping.events) {
    if (matches(e.condition_codes)) return true;
  }
  if (vocab.starts_with("ICD10") || vocab == "ICDO3") {
    const size_t dash = normalized.find('-');
    const std::string topography =
        dash == std::string::npos ? normalized : normalized.substr(dash + 1);
    for (const OmopMapping::Organ& organ : mapping.organs) {
      for (const std::string& category : organ.icd10) {
        if (topography.starts_with(category)) return true;
      }
    }
    return false;
  }
  if (matches(mapping.psa_codes)) return true;
  for (const OmopMapping::Pathology& p : mapping.pathology) {
    if (matches(p.codes)) return true;
    for (const OmopMapping::ValueLevel& v : p.values) {
      if (matches(v.codes)) return true;
    }
  }
  for (const OmopMapping::Treatment& t : mapping.treatments) {
    if (matches(t.procedure_codes) || matches(t.drug_codes)) return true;
  }
  return false;
}

}  // namespace omop
}  // namespace passerelle::data
