// The automatic review of a protocol (docs/protocols.md): before a custodian sees a protocol,
// the node measures each analysis on its own data (analysis/review.h) and these rules flag what
// lets a researcher single out patients or undo the time grid, each flag in words. With
// flagged = "refuse" (the default) a flagged protocol is rejected. Pure: figures in, flags out.
#ifndef PASSERELLE_PRIVACY_REVIEW_H_
#define PASSERELLE_PRIVACY_REVIEW_H_

#include <span>
#include <string>
#include <utility>
#include <vector>

#include "passerelle/privacy/differencing.h"
#include "passerelle/privacy/policy.h"
#include "passerelle/privacy/released_sets.h"

namespace passerelle::privacy {

// A hat value above this means one record decides a coefficient of the model.
inline constexpr double kMaxLeverage = 0.5;

// What the node measured of one analysis on its own records. Names and expressions only: no
// value of any record.
struct ReviewFigures {
  std::string analysis;  // the analysis' id in the protocol
  // Variables that are identifiers, free text or dates, named anywhere (formula or subset).
  std::vector<std::string> identifiers_or_dates;
  // Surv() time arguments that are not a numeric variable as declared (t * 30, a date).
  std::vector<std::string> time_expressions;
  // A model's response that is neither a declared variable nor a TRUE/FALSE condition.
  std::string response_transform;
  double bin_days = 0;  // the survival time grid asked (0: not a survival curve)
  // Each design column (or grouping) with the number of records whose value differs from the
  // column's most common value: few such records give those patients their own coefficient.
  std::vector<std::pair<std::string, double>> minorities;
  double max_leverage = 0;  // the largest hat value of a model's design (0: not a model)
  // Categories released as labels (table rows, curve groups): the expression and the fewest
  // records holding one of its labels (0: none).
  std::vector<std::pair<std::string, double>> labels;
};

struct ReviewFlag {
  std::string analysis;  // id
  std::string rule;      // identifier_or_date, time_arithmetic, response_transform, time_grid,
                         // sparse_term, leverage, individual_values, overlapping_populations
  std::string flag;      // in words, for the custodian
};

// The flags the rules raise on one analysis.
std::vector<ReviewFlag> ReviewAnalysis(const ReviewFigures& figures, const Policy& policy);

// A protocol's analysis' first release: its populations (a model's rows, a variable's
// non-missing records, a curve's group) and the sets whose counts it states.
struct ReviewedRelease {
  std::string analysis;
  std::vector<Cohort> populations, counts;
};

// The populations of a protocol's releases and those this site has released before: a pair
// that differs by 1 to min_cohort_difference - 1 records is flagged, on the analysis that asks
// for it.
std::vector<ReviewFlag> ReviewOverlaps(std::span<const ReviewedRelease> releases,
                                       const DifferencingIndex& released, const Policy& policy);

// The protocol's releases played in order through a copy of what the site has released: an
// analysis whose counts, with the earlier ones', would give a count of 1 to k - 1 records (the
// count audit) is flagged ("combined_counts"), as the node would refuse it when it runs. Sets
// over the ledger's numbers.
std::vector<ReviewFlag> ReviewReleases(std::span<const ReviewedRelease> releases,
                                       ReleasedSets released, const Policy& policy);

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_REVIEW_H_
