// Internal to analysis/: reading the counts in a site's answer. A node is another machine; a
// count it states must be a whole number from 0 to kMaxSiteRecords, or the answer is malformed
// (that site's failure) — a count of -416 or of 10^18 never reaches a sum or an allocation.
#ifndef PASSERELLE_ANALYSIS_SITE_ANSWER_H_
#define PASSERELLE_ANALYSIS_SITE_ANSWER_H_

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace passerelle::analysis {

// The most records one site may count (a national registry has millions).
inline constexpr double kMaxSiteRecords = 1e8;

// Thrown by the readers below; callers catch it with nlohmann's exceptions.
struct MalformedAnswer : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline double SiteCount(const nlohmann::json& j) {
  const double v = j.get<double>();
  if (!(v >= 0 && v <= kMaxSiteRecords) || v != std::floor(v)) {
    throw MalformedAnswer("a count is not a whole number from 0 to 1e8");
  }
  return v;
}

// A count of pairs of patients (a concordance's).
inline double SitePairCount(const nlohmann::json& j) {
  // Whole numbers up to kMaxSiteRecords^2 / 2 without case weights; with them, sums of products
  // of weights: any finite number from 0.
  const double v = j.get<double>();
  if (!(v >= 0 && std::isfinite(v))) {
    throw MalformedAnswer("a count of pairs is not a finite number from 0");
  }
  return v;
}

// A count, or NaN where the site suppressed it (null).
inline double SiteCountOrNaN(const nlohmann::json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : SiteCount(j);
}

inline std::vector<double> SiteCounts(const nlohmann::json& j) {
  std::vector<double> out;
  for (const nlohmann::json& v : j) out.push_back(SiteCount(v));
  return out;
}

}  // namespace passerelle::analysis

#endif  // PASSERELLE_ANALYSIS_SITE_ANSWER_H_
