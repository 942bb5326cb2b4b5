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

// A label a release would carry (a level of a table's variable or of a model's factor, a
// curve's group, a cause), as the site measured it: the expression, the date, identifier or
// text variable it would label by (empty: none), and the fewest records of the dataset holding
// one of its values that are not public (0: none; a dictionary's levels and TRUE/FALSE are).
struct LabelFigures {
  std::string expression;
  std::string never_released;
  bool date = false;
  double fewest = 0;
};
// Rule never_released (the values of a date, an identifier or free text never leave; a
// condition on them may), then min_cell_count (no label held by 1 to k-1 records).
Status CheckLabel(const LabelFigures& label, const Policy& policy);

// A model's columns: `fewest` is the fewest records holding a level, a 0/1 variable, a term or
// a pair of terms (or all but them); 0: none. Rule min_cell_count: its coefficient would
// describe them.
Status CheckModelColumns(double fewest, const Policy& policy);

// Rule min_time_bin_days: survival times leave on a grid of at least that many days.
Status CheckTimeGrid(double bin_days, const Policy& policy);

// A survival curve's group is withheld whole when it has fewer than k patients, 1 to k-1
// events, or 1 to k-1 events of one cause (`events_by_cause`, competing events).
bool WithholdCurve(double patients, double events, std::span<const double> events_by_cause,
                   const Policy& policy);

// A log-rank test at a site: each group of a stratum has none or at least k patients and
// events (rule min_cell_count).
Status CheckLogrankGroup(double patients, double events, const Policy& policy);

// A number's mean and SD are released for at least k records, and when it takes two or three
// values (n, mean and SD solve for their counts) each held by none or at least k records.
bool ReleasesMoments(double records, std::span<const double> records_by_value,
                     const Policy& policy);

// What the researcher may hear of a node's refusal (`message`, "rule NAME: ..."). A rule decided
// on the request alone (the protocol, the analyses allowed, the time grid, identifiers and
// dates) is named with its reason. A rule decided on the site's records (a count, a cohort's
// size, the ledger) would tell on which side of its threshold the records lie, so the refusal
// says only kWithheld; the site's audit log keeps the rule for its custodian.
inline constexpr char kWithheld[] = "withheld under the site's disclosure rules";
std::string PublicRefusal(const std::string& message);

}  // namespace passerelle::privacy

#endif  // PASSERELLE_PRIVACY_DISCLOSURE_H_
