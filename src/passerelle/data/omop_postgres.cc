// The OMOP CDM read from PostgreSQL (data/postgres.h). The
// server selects the rows: GU conditions by their codes and concepts, and for the persons who
// have one, their person row, PSA and cancer-modifier measurements, mapped procedures and drugs,
// observation periods and death. Each query's rows are streamed one at a time (single-row mode)
// into the cohort, in one read-only snapshot. No query value is ever logged.
#include <memory>

#include "passerelle/base/text.h"
#include "passerelle/data/omop.h"
#include "passerelle/data/omop_cdm.h"
#include "passerelle/data/postgres.h"

namespace passerelle::data {
namespace {

using omop::CdmField;
using omop::CdmRow;
using omop::CdmTable;
using pg::Quote;

// A PostgreSQL array literal of `values`, each quoted.
std::string ArrayLiteral(const std::vector<std::string>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    out += i ? ",\"" : "\"";
    for (char c : values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}
std::string ArrayLiteral(const std::vector<int64_t>& values) {
  std::vector<std::string> texts;
  for (int64_t v : values) texts.push_back(std::to_string(v));
  return ArrayLiteral(texts);
}

class PostgresCdm {
 public:
  PostgresCdm(pg::Connection* connection, const OmopMapping& mapping)
      : connection_(connection), mapping_(mapping) {}

  // Whether the schema has the table (or view) `name`.
  Result<bool> HasTable(std::string_view name) {
    bool found = false;
    RETURN_IF_ERROR(connection_->Query("looking for " + Table(name),
                                       "SELECT to_regclass($1) IS NOT NULL", {Table(name)},
                                       [&found](const pg::Row& r) {
                                         found = r.text(0) == "t";
                                         return Status::Ok();
                                       }));
    return found;
  }

  // The concept_ancestor rows whose ancestor is one of the mapping's concepts; none when the
  // schema has no concept_ancestor table.
  Result<std::vector<std::pair<int64_t, int64_t>>> Descendants() {
    std::vector<std::pair<int64_t, int64_t>> rows;
    ASSIGN_OR_RETURN(bool present, HasTable("concept_ancestor"));
    if (!present) return rows;
    const std::string sql = "SELECT ancestor_concept_id::text, descendant_concept_id::text FROM " +
                            Table("concept_ancestor") +
                            " WHERE ancestor_concept_id = ANY($1::bigint[])";
    const std::vector<std::string> params = {ArrayLiteral(OmopAncestorConcepts(mapping_))};
    RETURN_IF_ERROR(connection_->Query(
        "reading " + Table("concept_ancestor"), sql, params, [&rows](const pg::Row& r) {
          rows.emplace_back(std::stoll(std::string(r.text(0))), std::stoll(std::string(r.text(1))));
          return Status::Ok();
        }));
    return rows;
  }

  // Streams the rows of `table` the cohort may use into it.
  Status Read(CdmTable table, omop::Cohort* cohort) {
    const std::string name(omop::CdmTableName(table));
    if (omop::CdmTableOptional(table)) {
      ASSIGN_OR_RETURN(bool present, HasTable(name));
      if (!present) {
        cohort->TableAbsent(table);
        return Status::Ok();
      }
    }
    std::vector<std::string> params = {ArrayLiteral(omop::GuConditionConcepts(mapping_)),
                                       ArrayLiteral(omop::GuConditionPatterns(mapping_))};
    std::string sql = "SELECT ";
    for (int f = 0; f < omop::kFieldCount; ++f) {
      const std::string_view column = omop::CdmColumn(table, CdmField(f));
      sql += f ? ", " : "";
      sql += column.empty() ? std::string("NULL::text") : "t." + Quote(column) + "::text";
    }
    const std::string_view source_concept = omop::CdmColumn(table, omop::kSourceConceptId);
    const std::string_view concept_id = omop::CdmColumn(table, omop::kConceptId);
    const bool measurement = table == CdmTable::kMeasurement;
    // Measurements and observations: their concept's code and their value concept's too.
    const bool valued = measurement || table == CdmTable::kObservation;
    sql += source_concept.empty() ? ", NULL, NULL" : ", sc.vocabulary_id, sc.concept_code";
    sql += valued ? ", c.vocabulary_id, c.concept_code, vc.vocabulary_id, vc.concept_code"
                  : ", NULL, NULL, NULL, NULL";
    sql += " FROM " + Table(name) + " t";
    if (!source_concept.empty()) {
      sql += " LEFT JOIN " + Table("concept") + " sc ON sc.concept_id = t." + Quote(source_concept);
    }
    if (valued) {
      sql += " LEFT JOIN " + Table("concept") + " c ON c.concept_id = t." + Quote(concept_id);
      sql += " LEFT JOIN " + Table("concept") + " vc ON vc.concept_id = t.value_as_concept_id";
    }
    if (table == CdmTable::kConditionOccurrence) {
      sql += " WHERE " + GuCondition("t", "sc");
    } else {
      sql += " WHERE t.person_id IN (SELECT co.person_id FROM " + Table("condition_occurrence") +
             " co LEFT JOIN " + Table("concept") +
             " gsc ON gsc.concept_id = co.condition_source_concept_id WHERE " +
             GuCondition("co", "gsc") + ")";
    }
    const auto coded = [&](const std::vector<int64_t>& concepts,
                           const std::vector<OmopCode>& codes) {
      params.push_back(ArrayLiteral(concepts));
      params.push_back(ArrayLiteral(omop::LikePatterns(codes, false)));
      params.push_back(ArrayLiteral(omop::LikePatterns(codes, true)));
      const std::string n = std::to_string(params.size() - 2);
      const std::string v = std::to_string(params.size() - 1);
      const std::string vc = std::to_string(params.size());
      std::string where = "t." + Quote(concept_id) + " = ANY($" + n + "::bigint[]) OR " +
                          Normalized("t." + Quote(omop::CdmColumn(table, omop::kSourceValue))) +
                          " LIKE ANY($" + v + "::text[]) OR upper(sc.vocabulary_id) || ':' || " +
                          Normalized("sc.concept_code") + " LIKE ANY($" + vc + "::text[])";
      if (valued) {
        where += " OR upper(c.vocabulary_id) || ':' || " + Normalized("c.concept_code") +
                 " LIKE ANY($" + vc + "::text[])";
      }
      return where;
    };
    std::vector<int64_t> grade_concepts;
    std::vector<OmopCode> grade_codes;
    for (const OmopMapping::Pathology& p : mapping_.pathology) {
      grade_concepts.insert(grade_concepts.end(), p.concepts.begin(), p.concepts.end());
      grade_codes.insert(grade_codes.end(), p.codes.begin(), p.codes.end());
    }
    if (measurement) {
      sql += " AND (" + coded(mapping_.psa_concepts, mapping_.psa_codes) + " OR " +
             coded(grade_concepts, grade_codes) + " OR t.meas_event_field_concept_id = 1147127)";
    } else if (table == CdmTable::kObservation) {
      sql += " AND (" + coded(grade_concepts, grade_codes) + ")";
    } else if (table == CdmTable::kEpisode) {
      std::vector<int64_t> concepts;
      std::vector<std::string> source_values;
      for (const OmopMapping::Event& e : mapping_.events) {
        concepts.insert(concepts.end(), e.episode_concepts.begin(), e.episode_concepts.end());
        source_values.insert(source_values.end(), e.episode_source_values.begin(),
                             e.episode_source_values.end());
      }
      params.push_back(ArrayLiteral(concepts));
      params.push_back(ArrayLiteral(source_values));
      sql += " AND (t.episode_concept_id = ANY($" + std::to_string(params.size() - 1) +
             "::bigint[]) OR upper(btrim(t.episode_source_value)) = ANY($" +
             std::to_string(params.size()) + "::text[]))";
    } else if (table == CdmTable::kConditionEvent) {
      std::vector<int64_t> concepts;
      std::vector<OmopCode> codes;
      for (const OmopMapping::Event& e : mapping_.events) {
        concepts.insert(concepts.end(), e.condition_concepts.begin(), e.condition_concepts.end());
        codes.insert(codes.end(), e.condition_codes.begin(), e.condition_codes.end());
      }
      sql += " AND (" + coded(concepts, codes) + ")";
    } else if (table == CdmTable::kProcedureOccurrence || table == CdmTable::kDrugExposure) {
      std::vector<int64_t> concepts;
      std::vector<OmopCode> codes;
      for (const OmopMapping::Treatment& t : mapping_.treatments) {
        const bool procedure = table == CdmTable::kProcedureOccurrence;
        const auto& c = procedure ? t.procedure_concepts : t.drug_concepts;
        const auto& k = procedure ? t.procedure_codes : t.drug_codes;
        concepts.insert(concepts.end(), c.begin(), c.end());
        codes.insert(codes.end(), k.begin(), k.end());
      }
      sql += " AND (" + coded(concepts, codes) + ")";
    }
    sql += " ORDER BY t.person_id";

    CdmRow row;
    return connection_->Query("reading " + Table(name), sql, params, [&](const pg::Row& r) {
      for (int f = 0; f < omop::kFieldCount; ++f) row.fields[f] = r.text(f);
      row.source_vocabulary = r.text(omop::kFieldCount);
      row.source_code = r.text(omop::kFieldCount + 1);
      row.concept_vocabulary = r.text(omop::kFieldCount + 2);
      row.concept_code = r.text(omop::kFieldCount + 3);
      row.value_vocabulary = r.text(omop::kFieldCount + 4);
      row.value_code = r.text(omop::kFieldCount + 5);
      std::string place = label_ + ":" + name;
      const std::string& id = row[omop::kRowId];
      place += id.empty() ? " of person " + row[omop::kPersonId] : " " + id;
      return cohort->Add(table, row, place);
    });
  }

  void set_label(std::string label) { label_ = std::move(label); }

 private:
  std::string Table(std::string_view name) const { return connection_->Table(name); }
  static std::string Normalized(const std::string& expression) {
    return "upper(replace(btrim(" + expression + "), '.', ''))";
  }
  // Whether a condition row (alias t, its source concept alias sc) is a GU cancer: $1 concepts,
  // $2 code patterns; the cohort then decides exactly.
  static std::string GuCondition(const std::string& t, const std::string& sc) {
    return "(" + t + ".condition_concept_id = ANY($1::bigint[]) OR " +
           Normalized(t + ".condition_source_value") + " LIKE ANY($2::text[]) OR " +
           Normalized(sc + ".concept_code") + " LIKE ANY($2::text[]))";
  }
  pg::Connection* connection_;
  const OmopMapping& mapping_;
  std::string label_;
};

}  // namespace

Result<std::unique_ptr<RecordReader>> OpenOmopPostgres(const std::string& connection,
                                                       const OmopOptions& options) {
  ASSIGN_OR_RETURN(pg::Target target, pg::ParseTarget(connection, "the OMOP connection"));
  ASSIGN_OR_RETURN(OmopMapping mapping, LoadOmopMapping(options.mapping_file));
  ASSIGN_OR_RETURN(auto pg, pg::Connection::Open(target, "the OMOP database"));
  const std::string label = "postgresql database " + pg->database() + ", schema " + target.schema;
  PostgresCdm cdm(pg.get(), mapping);
  cdm.set_label(label);
  // One snapshot for every table, and nothing written.
  RETURN_IF_ERROR(pg->Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  ASSIGN_OR_RETURN(auto descendants, cdm.Descendants());
  AddOmopDescendants(descendants, &mapping);
  omop::Cohort cohort(mapping, options.site);
  for (CdmTable table : omop::kCdmTables) RETURN_IF_ERROR(cdm.Read(table, &cohort));
  RETURN_IF_ERROR(pg->Exec("COMMIT"));
  return cohort.Finish(label);
}

}  // namespace passerelle::data
