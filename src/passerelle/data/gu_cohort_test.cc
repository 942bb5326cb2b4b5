// Endpoint derivations of gu_cohort_v1 (docs/endpoints.md), one test per endpoint.
#include "passerelle/data/gu_cohort.h"

#include <gtest/gtest.h>

#include "passerelle/data/csv.h"
#include "passerelle/data/gu_test_util.h"
#include "passerelle/data/validator.h"

namespace passerelle::data {
namespace {

using testing::Changes;
using testing::GuCsv;
using testing::GuDictionary;

// Validates and derives one patient; returns the derived value of each requested variable
// as an integer (-1 for missing) or text.
class Derived {
 public:
  explicit Derived(const Changes& changes, IndexDate index = IndexDate::kDiagnosis)
      : dictionary_(GuDictionary()) {
    auto reader = CsvReader::FromString(GuCsv({changes}), "f.csv", {});
    EXPECT_TRUE(reader.ok());
    ProblemList problems;
    auto v = RowValidator::Make(dictionary_, (*reader)->header(), {}, index, &problems);
    EXPECT_TRUE(v.ok());
    EXPECT_TRUE(*(*reader)->Next(&record_));
    valid_ = (*v)->Check(record_, &row_, &problems);
    EXPECT_TRUE(valid_) << problems.Format("f.csv", "");
  }
  int64_t Int(std::string_view name) const {
    const Value& v = row_[dictionary_.IndexOf(name)];
    return v.missing ? -1 : v.integer;
  }
  std::string Text(std::string_view name) const {
    const Value& v = row_[dictionary_.IndexOf(name)];
    return v.missing ? "NA" : std::string(v.text);
  }

 private:
  Dictionary dictionary_;
  Record record_;
  std::vector<Value> row_;
  bool valid_ = false;
};

const Changes kDeadOfCancer = {{"vital_status", "dead"},
                               {"death_date", "2020-03-01"},
                               {"death_cause", "gu_cancer"},
                               {"last_followup_date", "2020-03-20"}};

TEST(Endpoints, AgeAndBestStage) {
  const Derived d(Changes{});
  EXPECT_EQ(d.Int("age_dx"), 68);       // 2018 - 1950
  EXPECT_EQ(d.Text("t_stage"), "T3a");  // pathological wins
  EXPECT_EQ(d.Text("n_stage"), "N1");
  EXPECT_EQ(d.Text("m_stage"), "M0");
  const Derived clinical({{"pt_stage", ""}, {"pn_stage", ""}});
  EXPECT_EQ(clinical.Text("t_stage"), "T2a");
  EXPECT_EQ(clinical.Text("n_stage"), "N0");
}

TEST(Endpoints, OverallSurvival) {
  const Derived alive({});
  EXPECT_EQ(alive.Int("os_days"), DaysFromCivil(2023, 3, 1) - DaysFromCivil(2018, 3, 1));
  EXPECT_EQ(alive.Int("os_event"), 0);
  const Derived dead(kDeadOfCancer);  // time ends at death, not at the later last contact
  EXPECT_EQ(dead.Int("os_days"), DaysFromCivil(2020, 3, 1) - DaysFromCivil(2018, 3, 1));
  EXPECT_EQ(dead.Int("os_event"), 1);
}

TEST(Endpoints, CancerSpecificSurvivalCensorsOtherCauses) {
  EXPECT_EQ(Derived(kDeadOfCancer).Int("css_event"), 1);
  Changes other = kDeadOfCancer;
  other["death_cause"] = "other";
  const Derived d(other);
  EXPECT_EQ(d.Int("css_event"), 0);
  EXPECT_EQ(d.Int("css_days"), d.Int("os_days"));
  other["death_cause"] = "unknown";
  EXPECT_EQ(Derived(other).Int("css_event"), 0);
}

TEST(Endpoints, RecurrenceFreeSurvivalTakesTheFirstEvent) {
  const Derived d({{"bcr_date", "2019-06-01"}, {"metastasis_date", "2019-01-01"}});
  EXPECT_EQ(d.Int("rfs_days"), DaysFromCivil(2019, 1, 1) - DaysFromCivil(2018, 3, 1));
  EXPECT_EQ(d.Int("rfs_event"), 1);
  Changes death = kDeadOfCancer;
  EXPECT_EQ(Derived(death).Int("rfs_event"), 1);
  EXPECT_EQ(Derived(Changes{}).Int("rfs_event"), 0);
}

TEST(Endpoints, MetastasisFreeSurvival) {
  const Derived d(Changes{{"bcr_date", "2019-06-01"}});  // a BCR is not a metastasis
  EXPECT_EQ(d.Int("mfs_event"), 0);
  EXPECT_EQ(d.Int("mfs_days"), DaysFromCivil(2023, 3, 1) - DaysFromCivil(2018, 3, 1));
  EXPECT_EQ(Derived(Changes{{"metastasis_date", "2021-01-01"}}).Int("mfs_event"), 1);
}

TEST(Endpoints, BiochemicalRecurrenceForProstateOnly) {
  const Derived d({{"bcr_date", "2019-06-01"}}, IndexDate::kTreatment);
  EXPECT_EQ(d.Int("bcr_days"), DaysFromCivil(2019, 6, 1) - DaysFromCivil(2018, 4, 1));
  EXPECT_EQ(d.Int("bcr_event"), 1);
  const Derived censored_at_death(kDeadOfCancer);
  EXPECT_EQ(censored_at_death.Int("bcr_event"), 0);
  EXPECT_EQ(censored_at_death.Int("bcr_days"), censored_at_death.Int("os_days"));
  const Derived kidney({{"organ", "kidney"},
                        {"icd10", "C64"},
                        {"icdo3_topography", "C64.9"},
                        {"gleason_primary", ""},
                        {"gleason_secondary", ""},
                        {"isup_grade", ""},
                        {"psa_dx", ""}});
  EXPECT_EQ(kidney.Int("bcr_days"), -1);
  EXPECT_EQ(kidney.Int("os_days"), DaysFromCivil(2023, 3, 1) - DaysFromCivil(2018, 3, 1));
}

TEST(Endpoints, TreatmentIndexDate) {
  const Derived d(Changes{}, IndexDate::kTreatment);
  EXPECT_EQ(d.Int("os_days"), DaysFromCivil(2023, 3, 1) - DaysFromCivil(2018, 4, 1));
  // Metastatic before the treatment that starts the clock: not at risk of a first metastasis.
  const Derived early({{"metastasis_date", "2018-03-15"}}, IndexDate::kTreatment);
  EXPECT_EQ(early.Int("mfs_days"), -1);
  EXPECT_EQ(early.Int("os_days"), d.Int("os_days"));
  // No treatment date: no endpoint on a treatment index.
  const Derived untreated({{"treatment_date", ""}, {"primary_treatment", "none"}},
                          IndexDate::kTreatment);
  EXPECT_EQ(untreated.Int("os_days"), -1);
  EXPECT_EQ(untreated.Int("age_dx"), 68);
}

}  // namespace
}  // namespace passerelle::data
