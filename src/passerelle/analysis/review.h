// The automatic review of a protocol at a site: each analysis measured on the site's own table
// (the variables it names, its survival times, its design's columns and leverage, the labels it
// would release, its populations), then judged by the rules of privacy/review.h. What it finds
// stays at the site: the custodian reads it, nothing of it leaves.
#ifndef PASSERELLE_ANALYSIS_REVIEW_H_
#define PASSERELLE_ANALYSIS_REVIEW_H_

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "passerelle/analysis/run.h"
#include "passerelle/data/table.h"
#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"
#include "passerelle/privacy/review.h"

namespace passerelle::analysis {

struct ProtocolReview {
  std::vector<privacy::ReviewFlag> flags;  // of the analyses on their own
  // Each analysis' first release as the site would make it, in the protocol's order (its
  // populations and the counts it states, over the table's rows): the caller compares the
  // populations with each other and with what the site has released (privacy::ReviewOverlaps)
  // and plays the releases through a copy of its ledger (privacy::ReviewReleases).
  std::vector<privacy::ReviewedRelease> releases;
};

// `analyses`: (id, request) as the protocol lists them. An analysis this table cannot run is
// flagged ("cannot_run", with the reason); one the site's rules would refuse, too ("refused").
ProtocolReview ReviewProtocol(std::span<const std::pair<std::string, AnalysisRequest>> analyses,
                              const data::Table& table, const privacy::Policy& policy);

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_REVIEW_H_
