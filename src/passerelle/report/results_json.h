// Analysis results as JSON text in the layout and field names of R's coxph, glm, survfit and
// survdiff results (tests/reference/README.md): what `passerelle analyze ... --json` prints.
#ifndef PASSERELLE_REPORT_RESULTS_JSON_H_
#define PASSERELLE_REPORT_RESULTS_JSON_H_

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "passerelle/analysis/run.h"

namespace passerelle::report {

// The `results` object, numbers with 17 significant digits, NaN/Inf as null.
std::string ResultsJson(const analysis::AnalysisOutput& output, int indent = 2);
// The same object, for a document that holds it (the hub's study results).
nlohmann::ordered_json ResultsJsonValue(const analysis::AnalysisOutput& output);

}  // namespace passerelle::report

#endif  // PASSERELLE_REPORT_RESULTS_JSON_H_
