#include "passerelle/data/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <string_view>
#include <vector>

#include "passerelle/base/date.h"

namespace passerelle::data {
namespace {

// xoshiro256** seeded by splitmix64: the same numbers on every platform, unlike the
// distributions of <random>.
class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : state_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = Rotl(state_[3], 45);
    return result;
  }
  // Uniform on (0, 1).
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  bool Bernoulli(double p) { return Uniform() < p; }
  int64_t Between(int64_t lo, int64_t hi) {  // inclusive
    return lo + static_cast<int64_t>(Uniform() * static_cast<double>(hi - lo + 1));
  }
  double Normal(double mean, double sd) {
    const double u1 = Uniform(), u2 = Uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Index drawn with the given weights (summing to about 1).
  template <size_t N>
  size_t Pick(const std::array<double, N>& weights) {
    double u = Uniform();
    for (size_t i = 0; i + 1 < N; ++i) {
      if (u < weights[i]) return i;
      u -= weights[i];
    }
    return N - 1;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t state_[4];
};

enum Organ { kProstate, kBladder, kKidney, kUpperTract, kTestis, kPenis };
constexpr std::array<std::string_view, 6> kOrganNames = {"prostate",    "bladder", "kidney",
                                                         "upper_tract", "testis",  "penis"};
// log-HR of death against prostate cancer.
constexpr std::array<double, 6> kOrganEffect = {0.0, 1.1, 0.7, 1.1, -1.4, 1.1};
constexpr std::array<double, 6> kAgeMean = {70, 68, 60, 68, 33, 62};
constexpr std::array<double, 6> kAgeSd = {7, 10, 11, 9, 9, 12};

enum Extent { kLocalised, kLocallyAdvanced, kNodal, kMetastatic };

struct Profile {
  std::array<double, 6> organ_mix;
  std::array<double, 4> extent;  // presentation: localised, locally advanced, nodal, metastatic
  double age_shift;              // years added to the organ's mean age
  double upper_tract_male;       // share of men among upper-tract cancers
  double psa_factor;
  double high_grade_shift;     // added to the probability of Gleason >= 4+3
  double baseline_log_hazard;  // site's baseline (absorbed by strata(site))
  double loss_rate_per_year;   // loss to follow-up
};

// Later stage at presentation, more upper-tract cancers (aristolochic acid) with a female
// predominance, higher PSA and grade, and less complete follow-up in the Chinese cohort.
constexpr Profile kEastProfile = {{0.30, 0.28, 0.20, 0.14, 0.04, 0.04},
                                  {0.45, 0.25, 0.15, 0.15},
                                  2.0,
                                  0.45,
                                  1.5,
                                  0.10,
                                  0.15,
                                  0.06};
constexpr Profile kWestProfile = {
    {0.42, 0.24, 0.20, 0.05, 0.07, 0.02}, {0.65, 0.18, 0.10, 0.07}, 0.0, 0.70, 1.0, 0.0, 0.0, 0.03};

constexpr double kDaysPerYear = 365.25;

std::string Iso(int64_t days) { return FormatIsoDate(static_cast<int32_t>(days)); }

std::string TStage(Rng& rng, Organ organ, bool advanced) {
  static const std::array<std::vector<std::string_view>, 6> kLocal = {{{"T1c", "T2a", "T2b", "T2c"},
                                                                       {"Ta", "T1", "T2"},
                                                                       {"T1a", "T1b", "T2a"},
                                                                       {"Ta", "T1", "T2"},
                                                                       {"T1", "T2"},
                                                                       {"T1a", "T1b", "T2"}}};
  static const std::array<std::vector<std::string_view>, 6> kAdvanced = {{{"T3a", "T3b", "T4"},
                                                                          {"T3", "T4"},
                                                                          {"T3a", "T3b", "T4"},
                                                                          {"T3", "T4"},
                                                                          {"T3", "T4"},
                                                                          {"T3", "T4"}}};
  const auto& options = advanced ? kAdvanced[organ] : kLocal[organ];
  return std::string(options[rng.Between(0, static_cast<int64_t>(options.size()) - 1)]);
}

}  // namespace

void WriteSyntheticCohort(const SynthOptions& options, std::ostream& out) {
  const bool east = options.site == "wuhan";
  const Profile& profile = east ? kEastProfile : kWestProfile;
  // FNV-1a of the site name: different sites draw different patients from the same seed.
  uint64_t site_hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : options.site) site_hash = (site_hash ^ c) * 0x100000001b3ULL;
  Rng rng(options.seed ^ site_hash);
  std::string prefix;
  for (char c : options.site.substr(0, 2)) prefix.push_back(static_cast<char>(std::toupper(c)));

  const int64_t first_dx = DaysFromCivil(2012, 1, 1);
  const int64_t last_dx = DaysFromCivil(2022, 12, 31);
  const int64_t cutoff = DaysFromCivil(2025, 6, 30);

  out << "patient_id,site,sex,birth_year,organ,icd10,icdo3_topography,icdo3_morphology,histology,"
         "diagnosis_date,ct_stage,cn_stage,cm_stage,pt_stage,pn_stage,gleason_primary,"
         "gleason_secondary,isup_grade,psa_dx,urothelial_grade,primary_treatment,treatment_date,"
         "margin_status,last_followup_date,vital_status,death_date,death_cause,recurrence_date,"
         "bcr_date,metastasis_date\n";
  std::string line;
  char buf[64];
  for (int64_t p = 1; p <= options.patients; ++p) {
    const Organ organ = static_cast<Organ>(rng.Pick(profile.organ_mix));
    const Extent extent = organ == kTestis ? (rng.Bernoulli(0.8) ? kLocalised : kNodal)
                                           : static_cast<Extent>(rng.Pick(profile.extent));
    const double age_mean = kAgeMean[organ] + (organ == kTestis ? 0 : profile.age_shift);
    const int64_t age = std::clamp<int64_t>(std::llround(rng.Normal(age_mean, kAgeSd[organ])),
                                            organ == kTestis ? 15 : 25, 95);
    const bool male = organ == kProstate || organ == kTestis || organ == kPenis ||
                      rng.Bernoulli(organ == kUpperTract ? profile.upper_tract_male
                                    : organ == kBladder  ? 0.78
                                                         : 0.65);
    const int64_t dx = rng.Between(first_dx, last_dx);
    const int64_t birth_year = CivilFromDays(static_cast<int32_t>(dx)).year - age;

    // Stage.
    const bool t_advanced = extent == kLocallyAdvanced || (extent >= kNodal && rng.Bernoulli(0.6));
    const std::string ct = TStage(rng, organ, t_advanced);
    const bool node_positive = extent >= kNodal;
    std::string cn = "N0";
    if (node_positive) {
      cn = organ == kProstate ? "N1" : (rng.Bernoulli(0.6) ? "N1" : "N2");
    }
    const bool metastatic = extent == kMetastatic;
    const std::string cm = metastatic ? (organ == kProstate ? "M1b" : "M1") : "M0";

    // Histology and codes.
    std::string icd10, topography, morphology, histology;
    switch (organ) {
      case kProstate:
        icd10 = "C61";
        topography = "C61.9";
        morphology = "8140/3";
        histology = "adenocarcinoma";
        break;
      case kBladder:
        icd10 = "C67.9";
        topography = "C67.9";
        morphology = "8120/3";
        histology = "urothelial";
        break;
      case kKidney: {
        icd10 = "C64";
        topography = "C64.9";
        const size_t h = rng.Pick(std::array<double, 3>{0.75, 0.15, 0.10});
        histology = std::array<const char*, 3>{"clear_cell", "papillary_rcc", "chromophobe_rcc"}[h];
        morphology = std::array<const char*, 3>{"8310/3", "8260/3", "8317/3"}[h];
        break;
      }
      case kUpperTract: {
        const bool pelvis = rng.Bernoulli(0.6);
        icd10 = pelvis ? "C65" : "C66";
        topography = pelvis ? "C65.9" : "C66.9";
        morphology = "8120/3";
        histology = "urothelial";
        break;
      }
      case kTestis: {
        const bool seminoma = rng.Bernoulli(0.55);
        icd10 = "C62.9";
        topography = "C62.9";
        morphology = seminoma ? "9061/3" : "9065/3";
        histology = seminoma ? "seminoma" : "non_seminoma";
        break;
      }
      case kPenis:
        icd10 = "C60.9";
        topography = "C60.9";
        morphology = "8070/3";
        histology = "squamous";
        break;
    }

    // Grade and PSA.
    int gleason_primary = 0, gleason_secondary = 0, isup = 0;
    double psa = -1;
    std::string urothelial_grade;
    if (organ == kProstate) {
      static constexpr int kPatterns[5][2] = {{3, 3}, {3, 4}, {4, 3}, {4, 4}, {4, 5}};
      const double shift = profile.high_grade_shift + (extent == kLocalised ? 0.0 : 0.25);
      const size_t g = rng.Pick(std::array<double, 5>{0.35 - shift / 2, 0.30 - shift / 2, 0.15,
                                                      0.10 + shift / 2, 0.10 + shift / 2});
      gleason_primary = kPatterns[g][0];
      gleason_secondary = kPatterns[g][1];
      static constexpr int kIsup[5] = {1, 2, 3, 4, 5};
      isup = kIsup[g];
      const double median = extent == kLocalised ? 8 : extent == kMetastatic ? 80 : 20;
      psa = std::exp(rng.Normal(std::log(median * profile.psa_factor), 0.6));
    } else if (organ == kBladder || organ == kUpperTract) {
      urothelial_grade = rng.Bernoulli(extent == kLocalised ? 0.5 : 0.9) ? "high" : "low";
    }

    // Primary treatment.
    std::string treatment;
    bool surgery = false;
    switch (organ) {
      case kProstate:
        if (metastatic) {
          treatment = rng.Bernoulli(0.8) ? "androgen_deprivation" : "systemic_therapy";
        } else {
          const size_t t = rng.Pick(extent == kLocalised ? std::array<double, 3>{0.5, 0.3, 0.2}
                                                         : std::array<double, 3>{0.3, 0.5, 0.2});
          treatment = std::array<const char*, 3>{
              "radical_prostatectomy", "radiotherapy",
              extent == kLocalised ? "active_surveillance" : "androgen_deprivation"}[t];
          surgery = t == 0;
        }
        break;
      case kBladder:
        if (metastatic) {
          treatment = "systemic_therapy";
        } else if (extent == kLocalised && rng.Bernoulli(0.7)) {
          treatment = "turbt";
        } else {
          treatment = rng.Bernoulli(0.85) ? "radical_cystectomy" : "systemic_therapy";
        }
        surgery = treatment == "radical_cystectomy";
        break;
      case kKidney:
        if (metastatic && rng.Bernoulli(0.6)) {
          treatment = "systemic_therapy";
        } else {
          treatment =
              extent == kLocalised && rng.Bernoulli(0.5) ? "partial_nephrectomy" : "nephrectomy";
          surgery = true;
        }
        break;
      case kUpperTract:
        treatment = metastatic                                    ? "systemic_therapy"
                    : extent == kLocalised && rng.Bernoulli(0.15) ? "ureteroscopic_ablation"
                                                                  : "nephroureterectomy";
        surgery = treatment == "nephroureterectomy";
        break;
      case kTestis:
        treatment = "orchiectomy";
        surgery = true;
        break;
      case kPenis:
        treatment = "penile_surgery";
        surgery = true;
        break;
    }
    int64_t treatment_date = dx + rng.Between(7, 90);

    // Death: Weibull proportional hazards on the time since diagnosis (docs/synthetic.md).
    const double eta = profile.baseline_log_hazard + kOrganEffect[organ] +
                       SynthTruth::kAgePerYear * static_cast<double>(age - 65) +
                       SynthTruth::kLocallyAdvanced * (t_advanced ? 1 : 0) +
                       SynthTruth::kNodePositive * (node_positive ? 1 : 0) +
                       SynthTruth::kMetastatic * (metastatic ? 1 : 0);
    const double rate = 0.02 * std::exp(eta);  // per year^shape
    const double death_years =
        std::pow(-std::log(rng.Uniform()) / rate, 1.0 / SynthTruth::kWeibullShape);
    const int64_t death = dx + 1 + static_cast<int64_t>(death_years * kDaysPerYear);
    const double loss_years = -std::log(rng.Uniform()) / profile.loss_rate_per_year;
    const int64_t censor =
        std::min(cutoff, dx + 1 + static_cast<int64_t>(loss_years * kDaysPerYear));
    const bool dead = death <= censor;
    const int64_t last_followup = dead ? std::min(death + rng.Between(0, 14), cutoff) : censor;
    const double cancer_share =
        1.0 / (1.0 + std::exp(-(-0.3 + 1.0 * t_advanced + 1.0 * node_positive + 1.5 * metastatic)));
    const double cause_draw = rng.Uniform();
    const std::string cause = !dead                                     ? ""
                              : cause_draw < 0.05                       ? "unknown"
                              : cause_draw < 0.05 + 0.95 * cancer_share ? "gu_cancer"
                                                                        : "other";
    const bool treated = treatment_date <= last_followup;
    if (!treated) {
      treatment = "none";
      surgery = false;
    }
    const bool positive_margin = surgery && rng.Bernoulli(t_advanced ? 0.3 : 0.12);

    // Recurrence (biochemical for prostate after surgery or radiotherapy), then metastasis.
    auto event_after = [&](int64_t start, double rate_per_year) -> int64_t {
      const double years = -std::log(rng.Uniform()) / rate_per_year;
      const int64_t date = start + 1 + static_cast<int64_t>(years * kDaysPerYear);
      return date <= last_followup && (!dead || date <= death) ? date : -1;
    };
    int64_t recurrence = -1, bcr = -1, metastasis = -1;
    if (treated && !metastatic && treatment != "active_surveillance") {
      const double risk = std::exp(0.8 * t_advanced + 0.8 * node_positive + 0.3 * positive_margin +
                                   (isup >= 4 ? 0.9 : 0.0));
      if (organ == kProstate) {
        bcr = event_after(treatment_date, 0.06 * risk);
      } else {
        recurrence = event_after(treatment_date, 0.07 * risk);
      }
    }
    if (!metastatic) {
      metastasis = event_after(dx, 0.02 * std::exp(1.0 * t_advanced + 1.0 * node_positive));
    }

    // One CSV line.
    line.clear();
    line += prefix + "-";
    std::snprintf(buf, sizeof buf, "%07lld", static_cast<long long>(p));
    line += buf;
    line += "," + options.site + "," + (male ? "male" : "female") + ",";
    line += std::to_string(birth_year) + "," + std::string(kOrganNames[organ]) + ",";
    line += icd10 + "," + topography + "," + morphology + "," + histology + ",";
    line += Iso(dx) + "," + ct + "," + cn + "," + cm + ",";
    line += (surgery ? ct + "," + cn : std::string(",")) + ",";
    if (organ == kProstate) {
      std::snprintf(buf, sizeof buf, "%d,%d,%d,%.1f,", gleason_primary, gleason_secondary, isup,
                    psa);
      line += buf;
    } else {
      line += ",,,,";
    }
    line += urothelial_grade + "," + treatment + "," + (treated ? Iso(treatment_date) : "") + ",";
    line += std::string(surgery ? (positive_margin ? "positive" : "negative") : "") + ",";
    line += Iso(last_followup) + "," + (dead ? "dead" : "alive") + ",";
    line += (dead ? Iso(death) : "") + "," + cause + ",";
    line += (recurrence >= 0 ? Iso(recurrence) : "") + ",";
    line += (bcr >= 0 ? Iso(bcr) : "") + ",";
    line += (metastasis >= 0 ? Iso(metastasis) : "") + "\n";
    out << line;
  }
}

}  // namespace passerelle::data
