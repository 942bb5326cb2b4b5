// The OMOP CDM read from PostgreSQL through libpq (the one file that includes libpq-fe.h). The
// server selects the rows: GU conditions by their codes and concepts, and for the persons who
// have one, their person row, PSA and cancer-modifier measurements, mapped procedures and drugs,
// observation periods and death. Each query's rows are streamed one at a time (single-row mode)
// into the cohort, in one read-only snapshot. No query value is ever logged.
#include <libpq-fe.h>

#include <memory>

#include "passerelle/base/text.h"
#include "passerelle/data/omop.h"
#include "passerelle/data/omop_cdm.h"

namespace passerelle::data {
namespace {

using omop::CdmField;
using omop::CdmRow;
using omop::CdmTable;

struct ConnectionDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Connection = std::unique_ptr<PGconn, ConnectionDeleter>;
using PgResult = std::unique_ptr<PGresult, ResultDeleter>;

// The connection string without its schema=NAME parameter, and the schema.
struct Target {
  std::string conninfo;
  std::string schema = "public";
};

Result<Target> SplitSchema(const std::string& connection) {
  Target target;
  const bool uri = connection.starts_with("postgresql://") || connection.starts_with("postgres://");
  if (uri) {
    const size_t query = connection.find('?');
    target.conninfo = connection.substr(0, query);
    if (query != std::string::npos) {
      std::string kept;
      size_t start = query + 1;
      while (start <= connection.size()) {
        size_t end = connection.find('&', start);
        if (end == std::string::npos) end = connection.size();
        const std::string parameter = connection.substr(start, end - start);
        if (parameter.starts_with("schema=")) {
          target.schema = parameter.substr(7);
        } else if (!parameter.empty()) {
          kept += (kept.empty() ? "?" : "&") + parameter;
        }
        start = end + 1;
      }
      target.conninfo += kept;
    }
  } else {
    std::string kept;
    size_t start = 0;
    while (start < connection.size()) {
      while (start < connection.size() && connection[start] == ' ') ++start;
      size_t end = connection.find(' ', start);
      if (end == std::string::npos) end = connection.size();
      const std::string word = connection.substr(start, end - start);
      if (word.starts_with("schema=")) {
        target.schema = word.substr(7);
      } else if (!word.empty()) {
        kept += (kept.empty() ? "" : " ") + word;
      }
      start = end + 1;
    }
    target.conninfo = kept;
  }
  if (!IsValidName(target.schema) || target.schema.find('.') != std::string::npos) {
    return InvalidArgument("the OMOP connection's schema '" + target.schema +
                           "' must be a letter, then letters, digits or '_'");
  }
  return target;
}

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

std::string Quote(std::string_view identifier) { return "\"" + std::string(identifier) + "\""; }

// The server's message without the query or its values (libpq's messages name neither).
std::string ServerError(PGconn* connection) {
  std::string message = PQerrorMessage(connection);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  return message;
}

class PostgresCdm {
 public:
  PostgresCdm(PGconn* connection, std::string schema, const OmopMapping& mapping)
      : connection_(connection), schema_(std::move(schema)), mapping_(mapping) {}

  Status Exec(const std::string& sql) {
    PgResult result(PQexec(connection_, sql.c_str()));
    if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
      return Unavailable("the OMOP database: " + ServerError(connection_));
    }
    return Status::Ok();
  }

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

    std::vector<const char*> values;
    for (const std::string& p : params) values.push_back(p.c_str());
    if (!PQsendQueryParams(connection_, sql.c_str(), static_cast<int>(values.size()), nullptr,
                           values.data(), nullptr, nullptr, 0) ||
        !PQsetSingleRowMode(connection_)) {
      return Unavailable("the OMOP database: reading " + name + ": " + ServerError(connection_));
    }
    Status status;
    CdmRow row;
    int64_t rows = 0;
    for (;;) {
      PgResult result(PQgetResult(connection_));
      if (!result) break;
      const ExecStatusType state = PQresultStatus(result.get());
      if (state == PGRES_TUPLES_OK) continue;  // the end of the rows
      if (state != PGRES_SINGLE_TUPLE) {
        if (status.ok()) {
          // The first line: the server's reason (the lines after it quote the query).
          std::string reason = PQresultErrorMessage(result.get());
          reason = reason.substr(0, reason.find('\n'));
          status = Unavailable("the OMOP database: reading " + Table(name) + ": " + reason);
        }
        continue;
      }
      if (!status.ok()) continue;  // drain the rest
      ++rows;
      for (int f = 0; f < omop::kFieldCount; ++f) row.fields[f] = Text(result.get(), f);
      row.source_vocabulary = Text(result.get(), omop::kFieldCount);
      row.source_code = Text(result.get(), omop::kFieldCount + 1);
      row.concept_vocabulary = Text(result.get(), omop::kFieldCount + 2);
      row.concept_code = Text(result.get(), omop::kFieldCount + 3);
      std::string place = label_ + ":" + name;
      const std::string& id = row[omop::kRowId];
      place += id.empty() ? " of person " + row[omop::kPersonId] : " " + id;
      status = cohort->Add(table, row, place);
    }
    return status;
  }

  void set_label(std::string label) { label_ = std::move(label); }

 private:
  std::string Table(std::string_view name) const { return Quote(schema_) + "." + Quote(name); }
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
  static std::string Text(const PGresult* result, int column) {
    if (PQgetisnull(result, 0, column)) return "";
    return std::string(PQgetvalue(result, 0, column),
                       static_cast<size_t>(PQgetlength(result, 0, column)));
  }

  PGconn* connection_;
  std::string schema_;
  const OmopMapping& mapping_;
  std::string label_;
};

}  // namespace

Status CheckOmopConnection(const std::string& connection) {
  ASSIGN_OR_RETURN(Target target, SplitSchema(connection));
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(target.conninfo.c_str(), &error);
  if (!options) {
    std::string message = error ? error : "out of memory";
    if (error) PQfreemem(error);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return InvalidArgument("the OMOP connection string cannot be read: " + message);
  }
  bool password = false;
  for (PQconninfoOption* o = options; o->keyword; ++o) {
    if (std::string_view(o->keyword) == "password" && o->val && *o->val) password = true;
  }
  PQconninfoFree(options);
  if (password) {
    return InvalidArgument(
        "the OMOP connection string holds a password: a password never goes on the command "
        "line; put it in ~/.pgpass (or the file PGPASSFILE names, readable by the site's "
        "account only) or use a service=NAME of pg_service.conf, and give the string without it");
  }
  return Status::Ok();
}

Result<std::unique_ptr<RecordReader>> OpenOmopPostgres(const std::string& connection,
                                                       const OmopOptions& options) {
  RETURN_IF_ERROR(CheckOmopConnection(connection));
  ASSIGN_OR_RETURN(Target target, SplitSchema(connection));
  ASSIGN_OR_RETURN(OmopMapping mapping, LoadOmopMapping(options.mapping_file));
  Connection pg(PQconnectdb(target.conninfo.c_str()));
  if (!pg || PQstatus(pg.get()) != CONNECTION_OK) {
    return Unavailable("cannot connect to the OMOP database: " +
                       (pg ? ServerError(pg.get()) : std::string("out of memory")));
  }
  const std::string database = PQdb(pg.get());
  const std::string label = "postgresql database " + database + ", schema " + target.schema;
  PostgresCdm cdm(pg.get(), target.schema, mapping);
  cdm.set_label(label);
  // One snapshot for every table, and nothing written.
  RETURN_IF_ERROR(cdm.Exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"));
  RETURN_IF_ERROR(cdm.Exec("SET LOCAL datestyle = 'ISO, YMD'"));
  RETURN_IF_ERROR(cdm.Exec("SET LOCAL extra_float_digits = 3"));
  omop::Cohort cohort(mapping, options.site);
  for (CdmTable table : omop::kCdmTables) RETURN_IF_ERROR(cdm.Read(table, &cohort));
  RETURN_IF_ERROR(cdm.Exec("COMMIT"));
  return cohort.Finish(label);
}

}  // namespace passerelle::data
