// The `analyze` command: local mode. Reads the data (CSV files stacked like rbind, or a site
// stores' dataset, stacked too), runs one analysis and prints it for people or, with --json, as R's
// layout.
#include <fstream>
#include <iostream>

#include "apps/passerelle/commands.h"
#include "passerelle/analysis/run.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/report/plot.h"
#include "passerelle/report/results_json.h"
#include "passerelle/report/results_text.h"
#include "passerelle/store/site_store.h"

namespace passerelle::cli {

Status Analyze(const AnalyzeOptions& options) {
  data::Table table;
  if (!options.site.empty()) {
    if (!options.data.empty()) return InvalidArgument("give --data files or --site, not both");
    if (options.dataset.empty()) return InvalidArgument("--site needs --dataset NAME");
    for (size_t i = 0; i < options.site.size(); ++i) {
      ASSIGN_OR_RETURN(auto store, store::SiteStore::Open(options.site[i]));
      ASSIGN_OR_RETURN(data::Table t, store->LoadTable(options.dataset));
      if (i == 0) {
        table = std::move(t);
      } else {
        ASSIGN_OR_RETURN(table, data::StackTables(std::move(table), t));
      }
    }
  } else {
    if (options.data.empty()) return InvalidArgument("give the data: --data FILE.csv (or --site)");
    data::CsvTableOptions csv;
    if (options.separator == "tab") {
      csv.csv.separator = '\t';
    } else if (!options.separator.empty()) {
      csv.csv.separator = options.separator[0];
    }
    csv.cells.decimal_comma = options.decimal_comma;
    if (options.decimal_comma && csv.csv.separator == 0) csv.csv.separator = ';';
    csv.csv.encoding = options.encoding;
    if (!options.dictionary.empty()) {
      std::string source;
      ASSIGN_OR_RETURN(data::Dictionary d, LoadDictionary(options.dictionary, &source));
      csv.levels = data::LevelOrders(d);
    }
    csv.only = analysis::RequestNames(options.request);
    ASSIGN_OR_RETURN(table, data::ReadCsvTable(options.data, csv));
  }
  if (Status s = analysis::CheckRequest(options.request); !s.ok()) {
    return InvalidArgument("--" + s.message());
  }
  ASSIGN_OR_RETURN(analysis::AnalysisOutput output, analysis::RunAnalysis(options.request, table));
  if (!options.plot.empty()) {
    ASSIGN_OR_RETURN(std::string svg, report::PlotSvg(output));
    std::ofstream file(options.plot, std::ios::binary);
    if (!(file << svg) || !file.flush()) {
      return InvalidArgument("--plot: cannot write " + options.plot);
    }
  }
  if (options.json) {
    for (const std::string& note : output.notes) std::cerr << "note: " << note << "\n";
    std::cout << report::ResultsJson(output) << "\n";
  } else {
    std::cout << report::ResultsText(output);
  }
  return Status::Ok();
}

}  // namespace passerelle::cli
