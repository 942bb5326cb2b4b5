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

  // Streams the rows of `table` the cohort may use into it.
  Status Read(CdmTable table, omop::Cohort* cohort) {
    std::vector<std::string> params = {ArrayLiteral(omop::GuConditionConcepts(mapping_)),
                                       ArrayLiteral(omop::GuConditionPatterns(mapping_))};
    const std::string name(omop::CdmTableName(table));
    std::string sql = "SELECT ";
    for (int f = 0; f < omop::kFieldCount; ++f) {
      const std::string_view column = omop::CdmColumn(table, CdmField(f));
      sql += f ? ", " : "";
      sql += column.empty() ? std::string("NULL::text") : "t." + Quote(column) + "::text";
    }
    const std::string_view source_concept = omop::CdmColumn(table, omop::kSourceConceptId);
    const std::string_view concept_id = omop::CdmColumn(table, omop::kConceptId);
    const bool measurement = table == CdmTable::kMeasurement;
    sql += source_concept.empty() ? ", NULL, NULL" : ", sc.vocabulary_id, sc.concept_code";
    sql += measurement ? ", c.vocabulary_id, c.concept_code" : ", NULL, NULL";
    sql += " FROM " + Table(name) + " t";
    if (!source_concept.empty()) {
      sql += " LEFT JOIN " + Table("concept") + " sc ON sc.concept_id = t." + Quote(source_concept);
    }
    if (measurement) {
      sql += " LEFT JOIN " + Table("concept") + " c ON c.concept_id = t." + Quote(concept_id);
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
      return "t." + Quote(concept_id) + " = ANY($" + n + "::bigint[]) OR " +
             Normalized("t." + Quote(omop::CdmColumn(table, omop::kSourceValue))) + " LIKE ANY($" +
             v + "::text[]) OR upper(sc.vocabulary_id) || ':' || " + Normalized("sc.concept_code") +
             " LIKE ANY($" + vc + "::text[])";
    };
    if (measurement) {
      sql += " AND (" + coded(mapping_.psa_concepts, mapping_.psa_codes) +
             " OR t.meas_event_field_concept_id = 1147127)";
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
  omop::Cohort cohort(mapping, options.site);
  for (CdmTable table : omop::kCdmTables) RETURN_IF_ERROR(cdm.Read(table, &cohort));
  RETURN_IF_ERROR(pg->Exec("COMMIT"));
  return cohort.Finish(label);
}

}  // namespace passerelle::data
