// Internal to analysis/: the analysis kinds, each defined in its own file of this folder, and the
// options they share. analysis/registry.cc lists them; docs/architecture.md ("Adding an
// analysis") walks through one.
#ifndef PASSERELLE_ANALYSIS_KINDS_KINDS_H_
#define PASSERELLE_ANALYSIS_KINDS_KINDS_H_

#include <nlohmann/json.hpp>
#include <string>

#include "passerelle/analysis/registry.h"

namespace passerelle::analysis {

AnalysisKind CoxphKind();        // kinds/coxph.cc
AnalysisKind SurvfitKind();      // kinds/survfit.cc
AnalysisKind SurvdiffKind();     // kinds/survdiff.cc
AnalysisKind GlmKind();          // kinds/glm.cc
AnalysisKind TableKind();        // kinds/table.cc
AnalysisKind DescribeKind();     // kinds/describe.cc
AnalysisKind ConcordanceKind();  // kinds/concordance.cc
AnalysisKind FineGrayKind();     // kinds/finegray.cc
AnalysisKind CoxZphKind();       // kinds/coxzph.cc
AnalysisKind CalibrationKind();  // kinds/calibration.cc

// Options several kinds take (registry.cc).
AnalysisOption FormulaOption(std::string help);
AnalysisOption SubsetOption();
AnalysisOption BinDaysOption();
AnalysisOption WeightsOption();
AnalysisOption TiesOption(std::vector<std::string> choices);

// A text option of a request as a report reads it ("" when absent).
inline std::string TextOf(const nlohmann::ordered_json& options, const char* key) {
  return options.contains(key) && options.at(key).is_string() ? options.at(key).get<std::string>()
                                                              : "";
}

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_KINDS_KINDS_H_
