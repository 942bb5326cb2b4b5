// Synthetic GU cohorts in the gu_cohort.v1 layout, for the demo, the tests and the benchmarks.
// The generating model (organ mix, stage shift by site, Weibull proportional-hazards survival
// with documented coefficients) is described in docs/synthetic.md. Same seed, same bytes.
#ifndef PASSERELLE_DATA_SYNTH_H_
#define PASSERELLE_DATA_SYNTH_H_

#include <cstdint>
#include <ostream>
#include <string>

namespace passerelle::data {

struct SynthOptions {
  std::string site = "wuhan";  // "wuhan" draws the Chinese profile; any other name the French
  int64_t patients = 1000;
  uint64_t seed = 1;
};

// Writes the CSV (header and one row per patient) to `out`.
void WriteSyntheticCohort(const SynthOptions& options, std::ostream& out);

// True coefficients of the generating model (docs/synthetic.md), for tests that refit it.
struct SynthTruth {
  static constexpr double kWeibullShape = 1.2;
  static constexpr double kAgePerYear = 0.04;      // log-HR per year of age over 65
  static constexpr double kLocallyAdvanced = 0.7;  // T3 or T4
  static constexpr double kNodePositive = 1.1;     // N1 or more
  static constexpr double kMetastatic = 1.9;       // M1
};

}  // namespace passerelle::data

#endif  // PASSERELLE_DATA_SYNTH_H_
