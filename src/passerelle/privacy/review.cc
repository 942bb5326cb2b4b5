#include "passerelle/privacy/review.h"

#include <set>

#include "passerelle/base/text.h"

namespace passerelle::privacy {

std::vector<ReviewFlag> ReviewAnalysis(const ReviewFigures& f, const Policy& policy) {
  std::vector<ReviewFlag> flags;
  auto flag = [&](const std::string& rule, const std::string& words) {
    flags.push_back({f.analysis, rule, words});
  };
  const double k = policy.min_cell_count;
  const std::string fewer = "fewer than " + std::to_string(policy.min_cell_count) + " records";
  for (const std::string& name : f.identifiers_or_dates) {
    flag("identifier_or_date",
         "uses '" + name +
             "', an identifier, free text or a date: an expression on it can pick "
             "out a patient or carry a date");
  }
  for (const std::string& e : f.time_expressions) {
    flag("time_arithmetic", "the survival time '" + e +
                                "' is not a duration as declared: arithmetic on a time undoes "
                                "the time grid (t * 30 gives days)");
  }
  if (!f.response_transform.empty()) {
    flag("response_transform", "the response '" + f.response_transform +
                                   "' transforms a variable: only a declared variable or a "
                                   "TRUE/FALSE condition may be modelled");
  }
  if (f.bin_days > 0 && f.bin_days != policy.min_time_bin_days) {
    flag("time_grid", "asks for a time grid of " + FormatNumber(f.bin_days) +
                          " days; this site's grid is " + std::to_string(policy.min_time_bin_days) +
                          " days (other grids, combined, make a finer one)");
  }
  for (const auto& [term, minority] : f.minorities) {
    if (minority > 0 && minority < k) {
      flag("sparse_term", "'" + term + "' differs from its most common value for " + fewer +
                              ": its coefficient or group would describe those patients");
    }
  }
  if (f.max_leverage > kMaxLeverage) {
    flag("leverage", "one record's leverage in the model exceeds " + FormatNumber(kMaxLeverage) +
                         ": that patient alone decides a coefficient");
  }
  for (const auto& [expression, fewest] : f.labels) {
    if (fewest > 0 && fewest < k) {
      flag("individual_values", "'" + expression + "' has values held by " + fewer +
                                    ", which would leave as labels (a list of individual values)");
    }
  }
  return flags;
}

std::vector<ReviewFlag> ReviewOverlaps(std::span<const ReviewedRelease> releases,
                                       const DifferencingIndex& released, const Policy& policy) {
  std::vector<std::pair<std::string, Cohort>> populations;
  for (const ReviewedRelease& r : releases) {
    for (const Cohort& c : r.populations) populations.emplace_back(r.analysis, c);
  }
  std::vector<ReviewFlag> flags;
  std::set<std::string> flagged;
  const size_t k = static_cast<size_t>(policy.min_cohort_difference);
  const std::string words = "differs by fewer than " + std::to_string(k) + " records from ";
  auto close = [k](const Cohort& a, const Cohort& b) {
    const size_t d = CohortDifference(a, b, k);
    return d > 0 && d < k;
  };
  for (size_t i = 0; i < populations.size(); ++i) {
    const auto& [id, cohort] = populations[i];
    for (size_t j = 0; j < i; ++j) {
      if (close(cohort, populations[j].second) &&
          flagged.insert(id + "/" + populations[j].first).second) {
        flags.push_back({id, "overlapping_populations",
                         "a population of this analysis " + words + "one of analysis '" +
                             populations[j].first +
                             "': the difference would describe those patients (give both the "
                             "same subset)"});
      }
    }
    if (released.Check(std::span<const Cohort>(&cohort, 1), policy).ok()) continue;
    if (flagged.insert(id + "/released").second) {
      flags.push_back(
          {id, "overlapping_populations",
           "a population of this analysis " + words + "one this site has already released"});
    }
  }
  return flags;
}

std::vector<ReviewFlag> ReviewReleases(std::span<const ReviewedRelease> releases,
                                       ReleasedSets released, const Policy& policy) {
  std::vector<ReviewFlag> flags;
  for (const ReviewedRelease& r : releases) {
    const Status s = released.Check(r.populations, r.counts, policy);
    if (s.ok()) {
      released.Add(released.Fresh(r.populations, r.counts));
    } else if (s.message().rfind("rule count_audit", 0) == 0) {
      flags.push_back({r.analysis, "combined_counts",
                       "its counts, with those of the analyses before it or released before, "
                       "add up to a count of fewer than " +
                           std::to_string(policy.min_cell_count) +
                           " records (a group withheld and the total, two nested categories): "
                           "give the analyses one population, or leave one out"});
    }
  }
  return flags;
}

}  // namespace passerelle::privacy
