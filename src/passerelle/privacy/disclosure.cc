#include "passerelle/privacy/disclosure.h"

#include <cmath>
#include <limits>

namespace passerelle::privacy {

Status CheckCohortSize(double records, const Policy& policy) {
  if (records < policy.min_cohort_size) {
    return PermissionDenied("rule min_cohort_size: the cohort at site " + policy.site +
                            " is smaller than " + std::to_string(policy.min_cohort_size) +
                            " records");
  }
  return Status::Ok();
}

Status CheckModelSize(double parameters, double records, double events, const Policy& policy) {
  if (parameters > policy.max_parameters_per_record * records) {
    return PermissionDenied(
        "rule max_parameters_per_record: the model has too many "
        "parameters for the records at site " +
        policy.site);
  }
  if (events < policy.min_events) {
    return PermissionDenied("rule min_events: fewer than " + std::to_string(policy.min_events) +
                            " events at site " + policy.site);
  }
  return Status::Ok();
}

size_t SuppressSmallCounts(std::span<double> counts, const Policy& policy) {
  size_t suppressed = 0;
  for (double& c : counts) {
    if (c > 0 && c < policy.min_cell_count) {
      c = std::numeric_limits<double>::quiet_NaN();
      ++suppressed;
    }
  }
  return suppressed;
}

double BinTime(double t, double width) { return std::ceil(t / width) * width; }

size_t ReleasableRows(double n, std::span<const double> leaving, const Policy& policy) {
  size_t rows = 0;
  for (double remaining = n; rows < leaving.size(); ++rows) {
    remaining -= leaving[rows];
    if (remaining != 0 && remaining < policy.min_cell_count) break;
  }
  return rows;
}

}  // namespace passerelle::privacy
