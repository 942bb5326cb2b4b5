// A site's disclosure policy: the thresholds its node applies to everything it releases.
// Defaults are the consortium's (docs/policy.md); a site may only tighten them, never loosen.
// Stored as DIR/policy.toml, written with a comment on every field.
#ifndef PASSERELLE_PRIVACY_POLICY_H_
#define PASSERELLE_PRIVACY_POLICY_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::privacy {

struct Policy {
  std::string site;
  // Any released count c with 0 < c < min_cell_count is suppressed.
  int min_cell_count = 5;
  // A cohort (after filters) smaller than this is refused.
  int min_cohort_size = 10;
  // Model size: parameters <= max_parameters_per_record * n.
  double max_parameters_per_record = 0.33;
  // Models need at least this many events at the site.
  int min_events = 5;
  // Kaplan–Meier and log-rank time grid: times become ceil(t / w) * w, w >= this (days).
  int min_time_bin_days = 30;
  // A release whose cohort differs from an earlier one by 1 <= delta < this is refused.
  int min_cohort_difference = 5;
  // "auto": releases that pass the rules leave at once; "manual": the custodian approves each.
  std::string approval = "auto";
  // "protocol": the node answers only tasks of a protocol its custodian approved (the
  // consortium default). "open": it also answers studies outside any protocol under the rules
  // alone, which a researcher who combines releases can defeat (docs/policy.md, the threat model).
  std::string scope = "protocol";
  // What becomes of a protocol's analysis the automatic review flags: "refuse" (the protocol is
  // rejected, naming each flag) or "custodian" (the custodian sees the flags and decides).
  std::string flagged = "refuse";
  // Analyses this node answers; anything else is refused. None when the policy does not list
  // them: every analysis this version of Passerelle runs.
  std::optional<std::vector<std::string>> allowed_analyses;
};

// The consortium defaults for a site.
Policy DefaultPolicy(std::string site);
// The policy as TOML, every field preceded by a comment on its meaning and its reason.
std::string PolicyToToml(const Policy& policy);
// Parses a policy file. InvalidArgument (with label:line:column) for bad TOML, unknown keys,
// out-of-range values, any value looser than the consortium default, and an allowed analysis
// not among `analyses` (the names this version runs; empty: not checked).
Result<Policy> ParsePolicy(std::string_view toml_text, std::string_view label,
                           std::span<const std::string> analyses = {});
// The policy lets the node answer `analysis`.
bool AllowsAnalysis(const Policy& policy, std::string_view analysis);

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_POLICY_H_
