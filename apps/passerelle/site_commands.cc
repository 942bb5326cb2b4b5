// The `site`, `dictionary` and `synth` commands: wiring between the command line, the store
// and the printers.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/passerelle/commands.h"
#include "passerelle/analysis/describe.h"
#include "passerelle/base/text.h"
#include "passerelle/data/infer.h"
#include "passerelle/data/omop.h"
#include "passerelle/data/postgres.h"
#include "passerelle/data/synth.h"
#include "passerelle/report/text_table.h"
#include "passerelle/store/site_store.h"

namespace passerelle::cli {
namespace {

using nlohmann::ordered_json;

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": cannot open the file for reading");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

ordered_json VersionJson(const store::DatasetVersion& v) {
  return {{"dataset", v.dataset},
          {"version", v.version},
          {"rows", v.rows},
          {"checksum_sha256", v.checksum},
          {"dictionary", v.dictionary_id},
          {"dictionary_source", v.dictionary_source},
          {"index_date", v.index_date},
          {"source_file", v.source_file},
          {"imported_at", v.imported_at},
          {"attached", v.attached}};
}

// How to read a file, from the command line's words: a separator "tab" is '\t'.
data::RecordOptions ReadingOptions(const std::string& separator, const std::string& encoding,
                                   const std::string& sheet) {
  data::RecordOptions reading;
  if (separator == "tab") {
    reading.separator = '\t';
  } else if (!separator.empty()) {
    reading.separator = separator[0];
  }
  reading.encoding = encoding;
  reading.sheet = sheet;
  return reading;
}

ordered_json NumberOrNull(double x) { return std::isfinite(x) ? ordered_json(x) : ordered_json(); }

void PrintDictionaryTable(const data::Dictionary& d) {
  report::TextTable table({"variable", "type", "levels"});
  for (const data::Variable& v : d.variables) {
    std::string levels = Join(v.levels, ", ");
    if (levels.size() > 60) levels = levels.substr(0, 57) + "...";
    table.AddRow({v.name, std::string(data::VarTypeName(v.type)), levels});
  }
  std::cout << table.Render();
}

}  // namespace

Result<data::Dictionary> LoadDictionary(const std::string& name, std::string* source) {
  if (auto builtin = data::BuiltinDictionaryText(name)) {
    *source = "builtin";
    return data::ParseDictionary(*builtin, name);
  }
  ASSIGN_OR_RETURN(std::string text, ReadFile(name));
  *source = "file";
  return data::ParseDictionary(text, name);
}

Status SiteInit(const SiteInitOptions& options) {
  ASSIGN_OR_RETURN(auto store, store::SiteStore::Create(options.dir, options.name, options.store));
  std::cout << "Created site '" << store->site_name() << "' in " << options.dir << "\n"
            << "  store:  " << options.dir << "/store.sqlite\n";
  if (!options.store.empty()) std::cout << "  datasets: " << store->datasets_label() << "\n";
  std::cout << "  policy: " << options.dir
            << "/policy.toml (consortium defaults; a site may only tighten them)\n";
  return Status::Ok();
}

Status SiteAttach(const SiteAttachOptions& options) {
  store::AttachRequest request;
  request.dataset = options.dataset;
  request.table = options.table;
  ASSIGN_OR_RETURN(request.dictionary,
                   LoadDictionary(options.dictionary, &request.dictionary_source));
  ASSIGN_OR_RETURN(request.index_date, data::IndexDateFromName(options.index_date));
  ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.dir));
  ASSIGN_OR_RETURN(store::ImportReport report, store->Attach(request));
  const store::DatasetVersion& v = report.version;
  if (options.json) {
    std::cout << VersionJson(v).dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "Attached " << v.source_file << " as " << store->site_name() << "/" << v.dataset
            << " version " << v.version << ": " << v.rows << " rows checked (dictionary "
            << v.dictionary_id << "), read where they are\n"
            << "  sha256 " << v.checksum
            << " (of the rows as read: a change to the table is refused until attached again)\n";
  return Status::Ok();
}

Status SiteImport(const SiteImportOptions& options) {
  const int sources = !options.file.empty() + !options.omop.empty() + !options.omop_csv.empty();
  if (sources != 1) {
    return InvalidArgument("give one of --file FILE, --omop CONNECTION or --omop-csv FOLDER");
  }
  const bool omop = options.file.empty();
  if (omop && (!options.separator.empty() || !options.encoding.empty() || !options.sheet.empty() ||
               options.decimal_comma || options.date_format != "yyyy-mm-dd")) {
    return InvalidArgument(
        "--sep, --encoding, --sheet, --decimal-comma and --date-format apply to files, not to "
        "an OMOP CDM (its values are typed)");
  }
  if (!omop && !options.omop_mapping.empty()) {
    return InvalidArgument("--omop-mapping applies to --omop and --omop-csv only");
  }
  // The connection string is checked before anything is opened: a password never goes further.
  if (!options.omop.empty())
    RETURN_IF_ERROR(data::pg::ParseTarget(options.omop, "the OMOP connection").status());
  store::ImportRequest request;
  request.dataset = options.dataset;
  request.file_path = options.file;
  if (!options.dictionary.empty()) {
    ASSIGN_OR_RETURN(request.dictionary,
                     LoadDictionary(options.dictionary, &request.dictionary_source));
  } else if (omop) {
    ASSIGN_OR_RETURN(data::OmopMapping mapping, data::LoadOmopMapping(options.omop_mapping));
    ASSIGN_OR_RETURN(request.dictionary,
                     LoadDictionary(mapping.dictionary, &request.dictionary_source));
  }
  request.reading = ReadingOptions(options.separator, options.encoding, options.sheet);
  request.cells.decimal_comma = options.decimal_comma;
  ASSIGN_OR_RETURN(request.cells.date_format, DateFormat::Parse(options.date_format));
  ASSIGN_OR_RETURN(request.index_date, data::IndexDateFromName(options.index_date));

  ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.dir));
  if (omop) {
    const data::OmopOptions omop_options{.site = store->site_name(),
                                         .mapping_file = options.omop_mapping};
    if (!options.omop_csv.empty()) {
      request.file_path = "omop-csv " + options.omop_csv;
      request.open_records = [&options, omop_options] {
        return data::OpenOmopCsv(options.omop_csv, omop_options);
      };
    } else {
      request.file_path = "omop postgresql";
      request.open_records = [&options, omop_options] {
        return data::OpenOmopPostgres(options.omop, omop_options);
      };
    }
  }
  const bool terminal = ::isatty(STDERR_FILENO) != 0;
  if (terminal) {
    request.progress = [](int64_t rows) {
      std::fprintf(stderr, "\rimporting: %lld rows checked", static_cast<long long>(rows));
    };
  }
  auto imported = store->Import(request);
  if (terminal) std::fprintf(stderr, "\r\033[K");
  ASSIGN_OR_RETURN(store::ImportReport report, std::move(imported));
  const store::DatasetVersion& v = report.version;
  if (options.json) {
    ordered_json out = VersionJson(v);
    out["absent_optional_columns"] = report.absent_optional;
    out["notes"] = report.notes;
    if (v.dictionary_source == "inferred")
      out["dictionary_toml"] = DictionaryToToml(report.dictionary);
    std::cout << out.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "Imported " << v.rows << " rows into " << store->site_name() << "/" << v.dataset
            << " version " << v.version << " (dictionary " << v.dictionary_id << ", "
            << v.dictionary_source << ")\n"
            << "  sha256 " << v.checksum << "\n";
  if (!v.index_date.empty()) {
    std::cout << "  endpoints derived from the " << v.index_date << " date\n";
  }
  if (!report.absent_optional.empty()) {
    std::cout << "  optional columns absent from the file (stored as missing): "
              << Join(report.absent_optional, ", ") << "\n";
  }
  for (const std::string& note : report.notes) std::cout << "  note: " << note << "\n";
  if (v.dictionary_source == "inferred") {
    std::cout << "\nInferred dictionary (review it; to pin it, run\n"
              << "  passerelle site dictionary " << options.dir << " --dataset " << v.dataset
              << " > " << v.dataset << ".toml\n"
              << "and import again with --dictionary " << v.dataset << ".toml):\n\n";
    PrintDictionaryTable(report.dictionary);
  }
  return Status::Ok();
}

Status SiteDatasets(const SiteDatasetsOptions& options) {
  ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.dir));
  ASSIGN_OR_RETURN(auto versions, store->ListDatasets());
  if (options.json) {
    ordered_json out = {{"site", store->site_name()}, {"datasets", ordered_json::array()}};
    for (const auto& v : versions) out["datasets"].push_back(VersionJson(v));
    std::cout << out.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "Site " << store->site_name() << ": " << versions.size()
            << (versions.size() == 1 ? " dataset" : " datasets") << " in "
            << store->datasets_label() << "\n\n";
  report::TextTable table(
      {"dataset", "version", "rows", "dictionary", "from", "imported (UTC)", "sha256"});
  for (const auto& v : versions) {
    table.AddRow({v.dataset, std::to_string(v.version), std::to_string(v.rows), v.dictionary_id,
                  v.attached ? v.source_file + " (attached)" : v.source_file, v.imported_at,
                  v.checksum.substr(0, 16)});
  }
  std::cout << table.Render();
  return Status::Ok();
}

Status SiteDescribe(const SiteDescribeOptions& options) {
  ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.dir));
  store::DatasetVersion version;
  ASSIGN_OR_RETURN(data::Table table, store->LoadTable(options.dataset, &version));
  const auto descriptions = analysis::Describe(table);
  if (options.json) {
    ordered_json out = {{"site", store->site_name()},
                        {"dataset", version.dataset},
                        {"version", version.version},
                        {"rows", table.rows},
                        {"variables", ordered_json::array()}};
    for (const auto& d : descriptions) {
      ordered_json v = {{"name", d.name},
                        {"type", data::VarTypeName(d.type)},
                        {"n", d.n},
                        {"missing", d.missing}};
      if (d.type == data::VarType::kInteger || d.type == data::VarType::kNumber) {
        v["mean"] = NumberOrNull(d.mean);
        v["sd"] = NumberOrNull(d.sd);
      }
      if (d.type == data::VarType::kCategory) {
        v["levels"] = ordered_json::object();
        for (const auto& [level, count] : d.levels) v["levels"][level] = count;
      }
      out["variables"].push_back(std::move(v));
    }
    std::cout << out.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "Site " << store->site_name() << ", dataset " << version.dataset << " version "
            << version.version << ": " << table.rows << " rows\n\n";
  report::TextTable summary({"variable", "type", "n", "missing", "mean", "sd", "levels (count)"});
  for (const auto& d : descriptions) {
    const bool numeric = d.type == data::VarType::kInteger || d.type == data::VarType::kNumber;
    std::string levels;
    for (const auto& [level, count] : d.levels) {
      if (count == 0) continue;  // the JSON form lists every level
      if (!levels.empty()) levels += ", ";
      levels += level + " " + std::to_string(count);
    }
    if (levels.size() > 70) levels = levels.substr(0, 67) + "...";
    summary.AddRow({d.name, std::string(data::VarTypeName(d.type)), std::to_string(d.n),
                    std::to_string(d.missing), numeric ? FormatNumber(d.mean, 4) : "",
                    numeric ? FormatNumber(d.sd, 4) : "", levels});
  }
  std::cout << summary.Render();
  return Status::Ok();
}

Status SiteDictionary(const SiteDescribeOptions& options) {
  ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.dir));
  data::Dictionary dictionary;
  ASSIGN_OR_RETURN(data::Table unused, store->LoadTable(options.dataset, nullptr, &dictionary));
  std::cout << data::DictionaryToToml(dictionary);
  return Status::Ok();
}

Status DictionaryShow(const std::string& id) {
  const auto text = data::BuiltinDictionaryText(id);
  if (!text) return NotFound("no built-in dictionary '" + id + "' (built in: gu_cohort.v1)");
  std::cout << *text;
  return Status::Ok();
}

Status DictionaryCheck(const std::string& path) {
  std::string source;
  ASSIGN_OR_RETURN(data::Dictionary d, LoadDictionary(path, &source));
  std::cout << path << ": dictionary " << d.Id() << ", " << d.variables.size() << " variables, "
            << d.rules.size() << " rules: ok\n";
  return Status::Ok();
}

Status DictionaryInfer(const DictionaryInferOptions& options) {
  const data::RecordOptions reading =
      ReadingOptions(options.separator, options.encoding, options.sheet);
  data::CellFormat cells;
  cells.decimal_comma = options.decimal_comma;
  ASSIGN_OR_RETURN(cells.date_format, DateFormat::Parse(options.date_format));
  // Named after its file (or --name), never after a built-in dictionary.
  std::string name = options.name;
  if (name.empty()) {
    name = data::InferredDictionaryName(std::filesystem::path(options.file).stem().string());
  } else if (!IsValidName(name)) {
    return InvalidArgument("--name: '" + name + "' must be " + kValidNameRule);
  } else if (data::IsBuiltinDictionaryName(name)) {
    return InvalidArgument("--name: '" + name + "' is a built-in dictionary's; choose another");
  }
  ASSIGN_OR_RETURN(auto reader, data::OpenRecordReader(options.file, reading, cells));
  ASSIGN_OR_RETURN(data::Dictionary dictionary, data::InferDictionary(reader.get(), cells, name));
  const std::string toml = data::DictionaryToToml(dictionary);
  if (options.out.empty() || options.out == "-") {
    std::cout << toml;
    return Status::Ok();
  }
  std::ofstream out(options.out);
  out << toml;
  if (!out.flush()) return Unavailable(options.out + ": cannot write the dictionary");
  std::cerr << "Wrote " << options.out << ": " << dictionary.variables.size()
            << " variables; review the types, the levels' order (the reference level first), "
               "units and descriptions, then import with --dictionary "
            << options.out << "\n";
  return Status::Ok();
}

Status Synth(const SynthOptions& options) {
  data::SynthOptions synth{options.site, options.patients, options.seed};
  if (options.out.empty() || options.out == "-") {
    data::WriteSyntheticCohort(synth, std::cout);
    return Status::Ok();
  }
  std::ofstream out(options.out, std::ios::binary);
  if (!out) return Unavailable(options.out + ": cannot open for writing");
  data::WriteSyntheticCohort(synth, out);
  out.close();
  if (!out) return Unavailable(options.out + ": write failed");
  std::cerr << "Wrote " << options.patients << " synthetic patients of site " << options.site
            << " to " << options.out << "\n";
  return Status::Ok();
}

}  // namespace passerelle::cli
