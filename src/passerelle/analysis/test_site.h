// For tests: a site in the test's own process, doing what a node does with a task (the local step
// under the site's policy, then the differencing rule and the count audit over everything it
// released before), with no network in between.
#ifndef PASSERELLE_ANALYSIS_TEST_SITE_H_
#define PASSERELLE_ANALYSIS_TEST_SITE_H_

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "passerelle/analysis/local_step.h"
#include "passerelle/privacy/released_sets.h"

namespace passerelle::testing {

// The aggregate of a local step (no differencing rule).
inline Result<std::string> Aggregate(Result<analysis::LocalRelease> release) {
  if (!release.ok()) return release.status();
  return std::move(release->aggregate);
}

// A transport over the text a node and the hub exchange: the task written as JSON, the site's
// answer read back (an answer that is not JSON fails that site, as at the hub).
inline analysis::Transport OverText(std::function<Result<std::string>(const std::string&)> site) {
  return [site](const nlohmann::json& task) -> Result<nlohmann::json> {
    ASSIGN_OR_RETURN(std::string text, site(task.dump()));
    nlohmann::json answer = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded()) return Unavailable("answered garbage");
    return answer;
  };
}

struct TestSite {
  data::Table table;
  privacy::Policy policy;
  privacy::ReleasedSets released;  // the ledger, in memory (rows of the one table as records)
  int tasks = 0;

  Result<std::string> Run(const std::string& task) {
    ++tasks;
    ASSIGN_OR_RETURN(analysis::LocalRelease release, analysis::RunLocalStep(task, table, policy));
    RETURN_IF_ERROR(released.Check(release.cohorts, release.counts, policy));
    released.Add(released.Fresh(release.cohorts, release.counts));
    return std::move(release.aggregate);
  }
  analysis::Transport AsTransport() {
    return OverText([this](const std::string& task) { return Run(task); });
  }
};

}  // namespace passerelle::testing

#endif  // PASSERELLE_ANALYSIS_TEST_SITE_H_
