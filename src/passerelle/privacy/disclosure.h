// The disclosure rules a node applies to its own contribution before anything leaves the site
// (docs/policy.md). Pure functions: values in, a decision out. A refusal names the
// rule and never the number it protects.
#ifndef PASSERELLE_PRIVACY_DISCLOSURE_H_
#define PASSERELLE_PRIVACY_DISCLOSURE_H_

#include <span>
#include <string>
#include <vector>

#include "passerelle/base/status.h"
#include "passerelle/privacy/policy.h"

namespace passerelle::privacy {

// OK when the cohort after filters has at least min_cohort_size records; PermissionDenied
// "rule min_cohort_size: ..." otherwise (the size itself is not said).
Status CheckCohortSize(double records, const Policy& policy);

// OK when a model with `parameters` coefficients may be fitted on `records` rows with `events`
// events at this site: parameters <= max_parameters_per_record x records and events >=
// min_events. PermissionDenied naming the rule otherwise.
Status CheckModelSize(double parameters, double records, double events, const Policy& policy);

// Counts between 1 and min_cell_count - 1 are replaced by NaN (suppressed); zeros and counts of
// at least min_cell_count are kept. Returns how many were suppressed.
size_t SuppressSmallCounts(std::span<double> counts, const Policy& policy);

// A table's counts as released: cells of 1 to k-1 suppressed (NaN), and then complementary
// cells, so that no margin rebuilds a suppressed one. Margins count as public (another table can
// release them): every row and every column of a two-way table, and all the cells together with
// `missing` (the rows not counted; their total is the cohort), hold none or at least two
// suppressed cells. The complement chosen is the smallest non-zero released cell of the line.
// `counts`: rows x cols, row-major; `missing` may be null. Returns how many were suppressed.
size_t SuppressTable(std::span<double> counts, size_t cols, double* missing, const Policy& policy);

// The survival-time grid: t becomes ceil(t / width) * width days. REQUIRES: width > 0.
double BinTime(double t, double width);

// A Kaplan-Meier contribution of `n` subjects, with the number leaving the risk set (events and
// censorings) at each ascending time: the number of leading rows that may be released. A row
// leaves when the subjects still at risk after it are none or at least min_cell_count, so no
// released row and no difference of released figures describes fewer than k patients (the
// subjects after the last released row are at least k). REQUIRES: n >= min_cell_count.
size_t ReleasableRows(double n, std::span<const double> leaving, const Policy& policy);

// What the researcher may hear of a node's refusal (`message`, "rule NAME: ..."). A rule decided
// on the request alone (the protocol, the analyses allowed, the time grid, identifiers and
// dates) is named with its reason. A rule decided on the site's records (a count, a cohort's
// size, the ledger) would tell on which side of its threshold the records lie, so the refusal
// says only kWithheld; the site's audit log keeps the rule for its custodian.
inline constexpr char kWithheld[] = "withheld under the site's disclosure rules";
std::string PublicRefusal(const std::string& message);

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_DISCLOSURE_H_
