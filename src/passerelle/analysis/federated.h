// The hub's side of every analysis: the same drivers as a local run, with each site's local step
// sent as a task through its transport, and the sites' aggregates combined into the result a
// pooled analysis gives (docs/methods/federated.md):
//   coxph     stratified by site (each site its own baseline hazard), exact Newton-Raphson
//   glm       exact IRLS on the summed X'WX, X'Wz and deviance
//   survdiff  with strata(site): exact, on each site's own times; without: on the time grid
//   survfit   on the time grid ceil(t / bin_days) * bin_days (default 30 days)
//   table     summed counts; a cell a site suppressed stays suppressed
//   describe  one column per site and one for all
#ifndef PASSERELLE_ANALYSIS_FEDERATED_H_
#define PASSERELLE_ANALYSIS_FEDERATED_H_

#include <string>
#include <vector>

#include "passerelle/analysis/local_step.h"
#include "passerelle/analysis/run.h"
#include "passerelle/base/status.h"

namespace passerelle::analysis {

struct SiteLink {
  std::string name;
  Transport transport;
};

// Runs `request` over `sites`. A site's refusal comes back as PermissionDenied and its failure
// as another Status, both naming the site; nothing is combined from a partial set of sites.
Result<AnalysisOutput> RunFederated(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites);

// The levels of several sites merged into one order that keeps each site's order (a category's
// dictionary order); labels no site orders against each other follow numeric order when both
// end in numbers ("x=2" before "x=10"), else first appearance.
std::vector<std::string> MergeLevels(const std::vector<std::vector<std::string>>& per_site);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_FEDERATED_H_
