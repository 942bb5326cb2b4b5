// A study: a title, a dataset and the analyses to run over every site's copy of it, as a
// researcher writes it (examples/wuhan-lyon.study.json, docs/studies.md):
//
//   { "title": "...", "dataset": "gu_cohort",
//     "analyses": [ { "id": "os_cox", "function": "coxph",
//                     "formula": "Surv(os_days, os_event) ~ age_dx + strata(site)" } ] }
#ifndef PASSERELLE_FEDERATION_STUDY_H_
#define PASSERELLE_FEDERATION_STUDY_H_

#include <string>
#include <string_view>
#include <vector>

#include "passerelle/analysis/run.h"
#include "passerelle/base/status.h"

namespace passerelle::federation {

struct StudyAnalysis {
  std::string id;
  analysis::AnalysisRequest request;
};

struct Study {
  std::string title;
  std::string dataset;
  std::vector<std::string> sites;  // empty: every site registered at the hub
  std::vector<StudyAnalysis> analyses;
};

// Parses and checks a study. InvalidArgument naming `label`, the line and column of a JSON
// error, or the field ("analyses[2].family: ...") and the rule it breaks. Unknown fields are
// refused: a misspelt option must not be silently ignored.
Result<Study> ParseStudy(std::string_view text, std::string_view label);

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_STUDY_H_
