#include "passerelle/privacy/disclosure.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

size_t SuppressTable(std::span<double> counts, size_t cols, double* missing, const Policy& policy) {
  size_t suppressed = SuppressSmallCounts(counts, policy);
  if (missing) suppressed += SuppressSmallCounts(std::span<double>(missing, 1), policy);
  // The lines whose total is known: rows and columns (two-way tables), and everything.
  const size_t rows = cols ? counts.size() / cols : 0;
  std::vector<std::vector<double*>> lines;
  if (rows > 1 && cols > 1) {
    for (size_t r = 0; r < rows; ++r) {
      lines.emplace_back();
      for (size_t c = 0; c < cols; ++c) lines.back().push_back(&counts[r * cols + c]);
    }
    for (size_t c = 0; c < cols; ++c) {
      lines.emplace_back();
      for (size_t r = 0; r < rows; ++r) lines.back().push_back(&counts[r * cols + c]);
    }
  }
  lines.emplace_back();
  for (double& c : counts) lines.back().push_back(&c);
  if (missing) lines.back().push_back(missing);
  for (bool changed = true; changed;) {
    changed = false;
    for (const std::vector<double*>& line : lines) {
      size_t hidden = 0;
      double* complement = nullptr;
      for (double* cell : line) {
        if (*cell != *cell) {
          ++hidden;
        } else if (!complement || (*complement == 0 && *cell > 0) ||
                   (*cell > 0 && *cell < *complement)) {
          complement = cell;
        }
      }
      if (hidden == 1 && complement) {
        *complement = std::numeric_limits<double>::quiet_NaN();
        ++suppressed;
        changed = true;
      }
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

std::string PublicRefusal(const std::string& message) {
  for (const char* rule : {"min_cell_count", "min_cohort_size", "min_events",
                           "max_parameters_per_record", "min_cohort_difference", "count_audit"}) {
    if (message.rfind(std::string("rule ") + rule + ":", 0) == 0) return kWithheld;
  }
  return message;
}

Status CheckLabel(const LabelFigures& label, const Policy& policy) {
  if (!label.never_released.empty()) {
    return PermissionDenied("rule never_released: '" + label.never_released + "' is " +
                            (label.date ? "a date" : "an identifier or free text") +
                            "; its values never leave site " + policy.site +
                            " (a condition on it may, e.g. " + label.never_released + " < ...)");
  }
  if (label.fewest > 0 && label.fewest < policy.min_cell_count) {
    return PermissionDenied("rule min_cell_count: some values of '" + label.expression +
                            "' are held by fewer than " + std::to_string(policy.min_cell_count) +
                            " records at site " + policy.site +
                            " and would leave as labels; group them with a condition");
  }
  return Status::Ok();
}

Status CheckModelColumns(double fewest, const Policy& policy) {
  if (fewest > 0 && fewest < policy.min_cell_count) {
    return PermissionDenied(
        "rule min_cell_count: a level, a 0/1 variable, a term or a pair of terms of the model "
        "is held (or is non-zero) for fewer than " +
        std::to_string(policy.min_cell_count) + " records at site " + policy.site +
        " (or all but fewer than that)");
  }
  return Status::Ok();
}

Status CheckTimeGrid(double bin_days, const Policy& policy) {
  if (!(bin_days >= policy.min_time_bin_days)) {
    return PermissionDenied("rule min_time_bin_days: site " + policy.site +
                            " releases survival times on a grid of at least " +
                            std::to_string(policy.min_time_bin_days) + " days");
  }
  return Status::Ok();
}

bool WithholdCurve(double patients, double events, std::span<const double> events_by_cause,
                   const Policy& policy) {
  auto small = [&](double count) { return count > 0 && count < policy.min_cell_count; };
  return patients < policy.min_cell_count || small(events) ||
         std::any_of(events_by_cause.begin(), events_by_cause.end(), small);
}

Status CheckLogrankGroup(double patients, double events, const Policy& policy) {
  for (double count : {patients, events}) {
    if (count > 0 && count < policy.min_cell_count) {
      return PermissionDenied(
          "rule min_cell_count: site " + policy.site + " has a group with fewer than " +
          std::to_string(policy.min_cell_count) + " patients or events in a stratum");
    }
  }
  return Status::Ok();
}

bool ReleasesMoments(double records, std::span<const double> records_by_value,
                     const Policy& policy) {
  bool enough = records >= policy.min_cell_count;
  if (records_by_value.size() >= 2 && records_by_value.size() <= 3) {
    for (double r : records_by_value) enough &= r >= policy.min_cell_count;
  }
  return enough;
}

}  // namespace passerelle::privacy
