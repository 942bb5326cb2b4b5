// The GU cohort built from an OMOP CDM 5.4: a RecordReader whose records are gu_cohort rows, one
// per person with a genitourinary cancer, derived from the CDM's person, condition_occurrence,
// measurement, procedure_occurrence, drug_exposure, observation_period and death tables by the
// rules of a mapping file (dictionaries/omop_gu.v1.toml; docs/omop.md). The CDM is read from a
// folder of CSV files or from PostgreSQL; both go through one mapping and yield the same rows.
#ifndef PASSERELLE_DATA_OMOP_H_
#define PASSERELLE_DATA_OMOP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/data/record_reader.h"

namespace passerelle::data {

// A code of the mapping: VOCABULARY:CODE, upper case without dots; `prefix` for a trailing '*'.
struct OmopCode {
  std::string vocabulary;
  std::string code;
  bool prefix = false;
};

// The mapping file, parsed (docs/omop.md#the-mapping-file).
struct OmopMapping {
  std::string name;
  int version = 0;
  std::string dictionary;  // the dictionary whose rows it builds, e.g. gu_cohort.v1
  std::vector<int64_t> male_concepts, female_concepts;
  std::vector<std::string> male_source_values, female_source_values;  // upper case
  struct OrganConcept {
    int64_t id = 0;
    std::string icd10;
  };
  struct Organ {
    std::string level;
    std::vector<std::string> icd10;  // categories, e.g. C61
    std::vector<OrganConcept> concepts;
  };
  std::vector<Organ> organs;
  struct Histology {
    std::string level;
    std::vector<std::string> morphology;  // four digits
  };
  std::vector<Histology> histologies;
  std::string other_histology;
  std::vector<int64_t> psa_concepts;
  std::vector<OmopCode> psa_codes;
  std::vector<int64_t> psa_unit_concepts;
  std::vector<std::string> psa_unit_source_values;  // upper case
  int psa_window_days = 90;
  struct Treatment {
    std::string level;
    std::vector<int64_t> procedure_concepts, drug_concepts;
    std::vector<OmopCode> procedure_codes, drug_codes;
    // The organs (levels of `organs`) of the index tumours it treats; empty: any. A
    // cystectomy for a later bladder cancer is not a prostate cancer's primary treatment.
    std::vector<std::string> organs;
  };
  std::vector<Treatment> treatments;  // in the order that breaks ties of a day
  int treatment_window_days = 365;
  // A level of a pathology value: a row whose value_as_concept_id is one of `concepts`, whose
  // value concept is one of `codes`, or whose value_source_value (observation: value_as_string
  // too) is one of `source_values` (upper case) has the value `level`.
  struct ValueLevel {
    std::string level;
    std::vector<int64_t> concepts;
    std::vector<OmopCode> codes;
    std::vector<std::string> source_values;
  };
  // Grades and margins ([[pathology]]): measurement and observation rows of these concepts or
  // codes, dated within `window_days` of the diagnosis.
  struct Pathology {
    std::string variable;  // gleason_primary, gleason_secondary, isup_grade, urothelial_grade,
                           // margin_status
    std::vector<int64_t> concepts;
    std::vector<OmopCode> codes;
    std::vector<ValueLevel> values;
    int window_days = 180;
  };
  std::vector<Pathology> pathology;
  // Recurrence, biochemical recurrence and metastasis ([[event]]): episodes of these concepts or
  // source values, conditions of these concepts or codes. A row counts for the first entry it
  // matches.
  struct Event {
    std::string variable;  // recurrence_date, bcr_date, metastasis_date
    std::vector<int64_t> episode_concepts;
    std::vector<std::string> episode_source_values;  // upper case
    std::vector<int64_t> condition_concepts;
    std::vector<OmopCode> condition_codes;
  };
  std::vector<Event> events;
};

// The text of the built-in mapping, dictionaries/omop_gu.v1.toml.
std::string_view BuiltinOmopMappingText();

// Parses a mapping file into *mapping: into an empty one, the file is the mapping; into the
// built-in one, the file extends it (entries added, a level given again gains its codes, numbers
// replaced). InvalidArgument with label:line:column for a file that is not one.
Status ParseOmopMapping(std::string_view toml_text, std::string_view label, OmopMapping* mapping);
// The built-in omop_gu.v1, extended by the site's file at `site_file` when not empty.
Result<OmopMapping> LoadOmopMapping(const std::string& site_file);
// The standard concepts the mapping lists for its categories (conditions, measurements,
// procedures, drugs, episodes): those whose descendants count too.
std::vector<int64_t> OmopAncestorConcepts(const OmopMapping& mapping);
// Adds to each such list the descendants of its concepts: `descendants` holds
// (ancestor_concept_id, descendant_concept_id) rows of the CDM's concept_ancestor table.
void AddOmopDescendants(const std::vector<std::pair<int64_t, int64_t>>& descendants,
                        OmopMapping* mapping);

struct OmopOptions {
  std::string site;          // written in every row's `site` column: the store's site name
  std::string mapping_file;  // "" for the built-in omop_gu.v1; else a site's file extending it
};

// The CDM as CSV files in `folder`: person.csv, condition_occurrence.csv, measurement.csv,
// procedure_occurrence.csv, drug_exposure.csv, observation_period.csv, death.csv, and optionally
// observation.csv, episode.csv, concept.csv (to look up the *_source_concept_id of each row) and
// concept_ancestor.csv (the descendants of the mapping's concepts). NotFound for a missing file;
// InvalidArgument (file:line:column) for a missing column or an unreadable id or date.
Result<std::unique_ptr<RecordReader>> OpenOmopCsv(const std::string& folder,
                                                  const OmopOptions& options);

// The CDM in PostgreSQL: `connection` is a libpq URI or key=value string with one more
// parameter, schema=NAME (default public). It may not carry a password (libpq reads ~/.pgpass,
// PGPASSFILE or a service of pg_service.conf). The server selects the rows of persons with a
// GU condition; they are streamed a row at a time. InvalidArgument for a password or a bad
// string; Unavailable when the server cannot be reached or a query fails.
Result<std::unique_ptr<RecordReader>> OpenOmopPostgres(const std::string& connection,
                                                       const OmopOptions& options);

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_OMOP_H_
