// A study: a title, a dataset and the analyses to run over every site's copy of it, as a
// researcher writes it (docs/studies.md); under a protocol (examples/wuhan-lyon.study.json) it
// names the protocol and may leave its analyses out to run all of the protocol's:
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
  std::string protocol;  // the protocol it runs under (its name); empty: none (scope = "open")
  std::vector<std::string> sites;  // empty: every site registered at the hub
  std::vector<StudyAnalysis> analyses;
  // What an analysis does when a site refuses it: "fail" (the analysis fails, naming the site)
  // or "exclude" (it runs again over the sites that answer, and says which site was left out).
  std::string on_refusal = "fail";
};

// Parses and checks a study. InvalidArgument naming `label`, the line and column of a JSON
// error, or the field ("analyses[2].family: ...") and the rule it breaks. Unknown fields are
// refused: a misspelt option must not be silently ignored.
Result<Study> ParseStudy(std::string_view text, std::string_view label);

// A protocol: the analyses of a study, exactly as they will run, with the researchers who may
// run them and the last day they may (docs/protocols.md). Each site's custodian approves it or
// rejects it; a node with scope = "protocol" answers nothing else.
//
//   { "protocol": "GU-2026-01", "title": "...", "dataset": "gu_cohort", "sites": ["lyon"],
//     "researchers": ["alice"], "expires": "2027-06-30", "analyses": [ ... as a study's ... ] }
struct Protocol {
  std::string name;
  std::vector<std::string> researchers;
  std::string expires;  // YYYY-MM-DD: the last day its analyses run
  Study study;          // title, dataset, sites (empty: all) and analyses
};

// A protocol's name: a letter or digit, then letters, digits, '-', '_' or '.' (64 at most).
bool IsValidProtocolName(const std::string& name);

// Parses and checks a protocol, as ParseStudy does a study (the same messages).
Result<Protocol> ParseProtocol(std::string_view text, std::string_view label);

// The id of the protocol's analysis that a task's step belongs to (`step_json`: the step as
// analysis::RunLocalStep reads it: function, formula, subset and options must all be the
// analysis' own; coefficients and rounds may be anything). NotFound when none.
Result<std::string> ProtocolAnalysisOf(const Protocol& protocol, const std::string& step_json);

// What changed from one version of a protocol to the next, one line each, for the custodian.
std::vector<std::string> ProtocolChanges(const Protocol& before, const Protocol& after);

// An analysis as JSON text, its fields in a fixed order with their defaults filled in.
std::string AnalysisJson(const StudyAnalysis& analysis);

}  // namespace passerelle::federation

#endif  // PASSERELLE_FEDERATION_STUDY_H_
