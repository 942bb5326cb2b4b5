// The passerelle binary as a custodian uses it: real processes, real files, exit codes.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "passerelle/base/test_dir.h"

namespace {

namespace fs = std::filesystem;

struct Output {
  int exit_code;
  std::string text;  // stdout and stderr
};

Output Passerelle(const std::string& args) {
  const std::string command = std::string(PASSERELLE_BINARY) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  Output out{-1, ""};
  if (!pipe) return out;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.text.append(buf.data(), n);
  const int status = pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = passerelle::testing::FreshTestDir("cli"); }
  std::string dir_;
};

TEST_F(CliTest, SiteLifecycle) {
  EXPECT_EQ(Passerelle("site init " + dir_ + "/wuhan --name wuhan").exit_code, 0);
  const Output synth =
      Passerelle("synth --site wuhan --patients 400 --seed 1 --out " + dir_ + "/w.csv");
  ASSERT_EQ(synth.exit_code, 0) << synth.text;
  const Output imported = Passerelle("site import " + dir_ + "/wuhan --dataset gu_cohort --csv " +
                                     dir_ + "/w.csv --dictionary gu_cohort.v1");
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  EXPECT_NE(imported.text.find("Imported 400 rows into wuhan/gu_cohort version 1"),
            std::string::npos);
  const Output listed = Passerelle("site datasets " + dir_ + "/wuhan --json");
  EXPECT_NE(listed.text.find("\"rows\": 400"), std::string::npos) << listed.text;
  const Output described = Passerelle("site describe " + dir_ + "/wuhan --dataset gu_cohort");
  ASSERT_EQ(described.exit_code, 0) << described.text;
  EXPECT_NE(described.text.find("organ"), std::string::npos);
  EXPECT_NE(described.text.find("os_days"), std::string::npos);
  const Output json = Passerelle("site describe " + dir_ + "/wuhan --dataset gu_cohort --json");
  EXPECT_NE(json.text.find("\"name\": \"psa_dx\""), std::string::npos);
  // Identifiers and dates are counted, never summarised.
  EXPECT_EQ(json.text.find("P-0000001"), std::string::npos);
  EXPECT_EQ(Passerelle("site describe " + dir_ + "/wuhan --dataset nothing").exit_code, 1);
}

TEST_F(CliTest, BadInputExitsTwoAndNamesThePlace) {
  ASSERT_EQ(Passerelle("site init " + dir_ + "/s --name lyon").exit_code, 0);
  std::ofstream(dir_ + "/bad.csv") << "id,age\nA,70\nB,old\n";
  std::ofstream(dir_ + "/dict.toml") << "name = \"d\"\n[[variable]]\nname = \"id\"\n"
                                        "type = \"identifier\"\n[[variable]]\nname = \"age\"\n"
                                        "type = \"integer\"\n";
  const Output bad = Passerelle("site import " + dir_ + "/s --dataset d --csv " + dir_ +
                                "/bad.csv --dictionary " + dir_ + "/dict.toml");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.text.find("bad.csv:3:2: age: not a whole number (type integer), cell \"old\""),
            std::string::npos)
      << bad.text;
  EXPECT_NE(bad.text.find("1 problem in"), std::string::npos);
  EXPECT_NE(Passerelle("site datasets " + dir_ + "/s").text.find("0 datasets"), std::string::npos);

  std::ofstream(dir_ + "/gbk.csv", std::ios::binary) << "site,n\n\xCE\xE4\xBA\xBA,1\n";
  const Output gbk =
      Passerelle("site import " + dir_ + "/s --dataset g --csv " + dir_ + "/gbk.csv");
  EXPECT_EQ(gbk.exit_code, 2);
  EXPECT_NE(gbk.text.find("not valid UTF-8"), std::string::npos) << gbk.text;
  EXPECT_NE(gbk.text.find("give --encoding gb18030"), std::string::npos);
  EXPECT_NE(Passerelle("site datasets " + dir_ + "/s").text.find("0 datasets"), std::string::npos);

  EXPECT_EQ(Passerelle("site import " + dir_ + "/s --dataset d --csv " + dir_ +
                       "/bad.csv --sep ';' --decimal-comma --date-format 'dd/mm'")
                .exit_code,
            2);
  EXPECT_EQ(Passerelle("site frobnicate").exit_code, 2);
  EXPECT_EQ(Passerelle("--help").exit_code, 0);
}

// An export from Chinese Windows (GB18030): imported as UTF-8 when its encoding is given.
TEST_F(CliTest, AGb18030ExportIsImportedWithItsEncoding) {
  ASSERT_EQ(Passerelle("site init " + dir_ + "/s --name wuhan").exit_code, 0);
  std::string bytes = "ward,n\n";
  for (int i = 0; i < 5; ++i) bytes += "\xC3\xDA\xC4\xF2\xCD\xE2\xBF\xC6,1\n";  // 泌尿外科
  for (int i = 0; i < 5; ++i) bytes += "\xD6\xD7\xC1\xF6\xBF\xC6,2\n";          // 肿瘤科
  std::ofstream(dir_ + "/wards.csv", std::ios::binary) << bytes;
  const Output refused =
      Passerelle("site import " + dir_ + "/s --dataset w --csv " + dir_ + "/wards.csv");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.text.find("wards.csv:2:1: the file is not valid UTF-8"), std::string::npos)
      << refused.text;
  const Output imported = Passerelle("site import " + dir_ + "/s --dataset w --csv " + dir_ +
                                     "/wards.csv --encoding gb18030");
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  const Output table =
      Passerelle("analyze table --site " + dir_ + "/s --dataset w --rows ward --json");
  ASSERT_EQ(table.exit_code, 0) << table.text;
  EXPECT_NE(table.text.find("\"泌尿外科\""), std::string::npos) << table.text;
  EXPECT_NE(table.text.find("\"肿瘤科\""), std::string::npos) << table.text;
  // Bytes that are not GB18030 in a file said to be: refused with the line, nothing stored.
  std::ofstream(dir_ + "/broken.csv", std::ios::binary) << "ward,n\nok,1\n\x81\x20,2\n";
  const Output broken = Passerelle("site import " + dir_ + "/s --dataset b --csv " + dir_ +
                                   "/broken.csv --encoding gb18030");
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_NE(broken.text.find("broken.csv:3: the file is not gb18030 (byte 0x81)"),
            std::string::npos)
      << broken.text;
  EXPECT_NE(Passerelle("site datasets " + dir_ + "/s").text.find("1 dataset"), std::string::npos);
  EXPECT_EQ(Passerelle("site import " + dir_ + "/s --dataset w --csv " + dir_ +
                       "/wards.csv --encoding big5")
                .exit_code,
            2);
}

TEST_F(CliTest, InferredDictionaryIsShownAndCanBePinned) {
  ASSERT_EQ(Passerelle("site init " + dir_ + "/s --name lyon").exit_code, 0);
  std::ofstream(dir_ + "/lung.csv")
      << "time;status;ph.ecog;sex\n306;2;1;m\n455;2;NA;f\n1010;1;0;m\n";
  const Output inferred =
      Passerelle("site import " + dir_ + "/s --dataset lung --csv " + dir_ + "/lung.csv");
  ASSERT_EQ(inferred.exit_code, 0) << inferred.text;
  EXPECT_NE(inferred.text.find("Inferred dictionary"), std::string::npos);
  const Output pinned =
      Passerelle("site dictionary " + dir_ + "/s --dataset lung > " + dir_ + "/lung.toml");
  ASSERT_EQ(pinned.exit_code, 0);
  const Output again = Passerelle("site import " + dir_ + "/s --dataset lung --csv " + dir_ +
                                  "/lung.csv --dictionary " + dir_ + "/lung.toml");
  ASSERT_EQ(again.exit_code, 0) << again.text;
  EXPECT_NE(again.text.find("version 2"), std::string::npos);
}

const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

// A custodian infers a dictionary from the file, puts the levels in the order they want (the
// reference level first), and imports with it: the models take that order.
TEST_F(CliTest, AnInferredDictionaryIsTheCustodiansToEdit) {
  ASSERT_EQ(Passerelle("site init " + dir_ + "/s --name lyon").exit_code, 0);
  std::ofstream csv(dir_ + "/trial.csv");
  csv << "time,status,arm\n";
  for (int i = 0; i < 40; ++i) {
    csv << 30 + 7 * i << "," << (i % 3 != 0) << "," << (i % 2 ? "surgery" : "active_surveillance")
        << "\n";
  }
  csv.close();
  const Output inferred =
      Passerelle("dictionary infer --file " + dir_ + "/trial.csv --out " + dir_ + "/trial.toml");
  ASSERT_EQ(inferred.exit_code, 0) << inferred.text;
  std::ifstream in(dir_ + "/trial.toml");
  std::string toml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(toml.find("name = \"trial\""), std::string::npos) << toml;
  const std::string bytes_order = "levels = [\"active_surveillance\", \"surgery\"]";
  ASSERT_NE(toml.find(bytes_order), std::string::npos) << toml;
  // Surgery as the reference level.
  toml.replace(toml.find(bytes_order), bytes_order.size(),
               "levels = [\"surgery\", \"active_surveillance\"]");
  std::ofstream(dir_ + "/trial.toml") << toml;
  ASSERT_EQ(Passerelle("site import " + dir_ + "/s --dataset trial --csv " + dir_ +
                       "/trial.csv --dictionary " + dir_ + "/trial.toml")
                .exit_code,
            0);
  const Output cox = Passerelle("analyze coxph --site " + dir_ +
                                "/s --dataset trial --formula 'Surv(time, status) ~ arm' --json");
  ASSERT_EQ(cox.exit_code, 0) << cox.text;
  EXPECT_NE(cox.text.find("\"armactive_surveillance\""), std::string::npos) << cox.text;
  // Never named after a built-in dictionary: not by the command, not by an import.
  EXPECT_EQ(Passerelle("dictionary infer --file " + dir_ + "/trial.csv --name gu_cohort").exit_code,
            2);
  EXPECT_EQ(
      Passerelle("dictionary infer --file " + dir_ + "/trial.csv --name gu_cohort.v1").exit_code,
      2);
  EXPECT_EQ(Passerelle("dictionary infer --file " + dir_ + "/trial.csv --name 'a b'").exit_code, 2);
  ASSERT_EQ(
      Passerelle("site import " + dir_ + "/s --dataset gu_cohort --csv " + dir_ + "/trial.csv")
          .exit_code,
      0);
  EXPECT_NE(Passerelle("site datasets " + dir_ + "/s").text.find("gu_cohort_inferred.v1"),
            std::string::npos);
}

const std::string kFiles = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/files/";

// The cohort of gu_lyon.csv kept as an SPSS file and as an Excel workbook: imported with the
// built-in dictionary, each is the same dataset as the CSV's, down to an analysis's numbers.
TEST_F(CliTest, SpssAndExcelFilesAreImportedAsTheirCsv) {
  const std::string site = dir_ + "/lyon";
  ASSERT_EQ(Passerelle("site init " + site + " --name lyon").exit_code, 0);
  const Output csv = Passerelle("site import " + site + " --dataset from_csv --file " + kFiles +
                                "gu_lyon.csv --dictionary gu_cohort.v1");
  ASSERT_EQ(csv.exit_code, 0) << csv.text;
  const Output sav = Passerelle("site import " + site + " --dataset from_sav --file " + kFiles +
                                "gu_lyon.sav --dictionary gu_cohort.v1");
  ASSERT_EQ(sav.exit_code, 0) << sav.text;
  EXPECT_NE(sav.text.find("Imported 40 rows into lyon/from_sav version 1"), std::string::npos)
      << sav.text;
  const Output xlsx = Passerelle("site import " + site + " --dataset from_xlsx --file " + kFiles +
                                 "gu_lyon.xlsx --sheet cohort --dictionary gu_cohort.v1");
  ASSERT_EQ(xlsx.exit_code, 0) << xlsx.text;
  const Output listed = Passerelle("site datasets " + site + " --json");
  EXPECT_NE(listed.text.find("\"source_file\": \"gu_lyon.sav\""), std::string::npos);
  EXPECT_NE(listed.text.find("\"source_file\": \"gu_lyon.xlsx\""), std::string::npos);

  auto table = [&](const std::string& dataset) {
    return Passerelle("analyze table --site " + site + " --dataset " + dataset +
                      " --rows organ --cols vital_status --json");
  };
  auto km = [&](const std::string& dataset) {
    return Passerelle("analyze survfit --site " + site + " --dataset " + dataset +
                      " --formula 'Surv(os_days, os_event) ~ 1' --json");
  };
  const Output from_csv = table("from_csv");
  ASSERT_EQ(from_csv.exit_code, 0) << from_csv.text;
  EXPECT_NE(from_csv.text.find("\"prostate\""), std::string::npos) << from_csv.text;
  EXPECT_EQ(table("from_sav").text, from_csv.text);
  EXPECT_EQ(table("from_xlsx").text, from_csv.text);
  const Output km_csv = km("from_csv");
  ASSERT_EQ(km_csv.exit_code, 0) << km_csv.text;
  EXPECT_EQ(km("from_sav").text, km_csv.text);
  EXPECT_EQ(km("from_xlsx").text, km_csv.text);
}

const std::string kOmop = std::string(PASSERELLE_SOURCE_DIR) + "/tests/fixtures/omop/";

// A custodian builds the GU cohort from the CDM's CSV files: the built-in dictionary and mapping,
// the endpoints derived, an analysis runs; a CDM with bad values is refused by person; a
// connection string with a password is refused before anything is opened.
TEST_F(CliTest, TheGuCohortIsBuiltFromAnOmopCdm) {
  const std::string site = dir_ + "/lyon";
  ASSERT_EQ(Passerelle("site init " + site + " --name lyon").exit_code, 0);
  const Output imported =
      Passerelle("site import " + site + " --dataset gu_cohort --omop-csv " + kOmop + "cdm");
  ASSERT_EQ(imported.exit_code, 0) << imported.text;
  EXPECT_NE(imported.text.find("Imported 20 rows into lyon/gu_cohort version 1 (dictionary "
                               "gu_cohort.v1, builtin)"),
            std::string::npos)
      << imported.text;
  const Output listed = Passerelle("site datasets " + site + " --json");
  EXPECT_NE(listed.text.find("\"source_file\": \"omop-csv " + kOmop + "cdm\""), std::string::npos)
      << listed.text;
  const Output table = Passerelle("analyze table --site " + site +
                                  " --dataset gu_cohort --rows organ --cols vital_status --json");
  ASSERT_EQ(table.exit_code, 0) << table.text;
  EXPECT_NE(table.text.find("\"upper_tract\""), std::string::npos) << table.text;

  const Output bad =
      Passerelle("site import " + site + " --dataset gu_cohort --omop-csv " + kOmop + "cdm_bad");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.text.find("cdm_bad:cdm person 20 (person): sex: rule organ_sex"), std::string::npos)
      << bad.text;
  EXPECT_NE(bad.text.find("2 problems in "), std::string::npos) << bad.text;
  EXPECT_NE(Passerelle("site datasets " + site).text.find("1 dataset"), std::string::npos);

  const Output password = Passerelle("site import " + site +
                                     " --dataset gu_cohort --omop "
                                     "'postgresql://lyon:s3cret@/warehouse?schema=cdm'");
  EXPECT_EQ(password.exit_code, 2);
  EXPECT_NE(password.text.find("holds a password"), std::string::npos) << password.text;
  EXPECT_EQ(password.text.find("s3cret"), std::string::npos) << password.text;
  EXPECT_EQ(Passerelle("site import " + site + " --dataset gu_cohort --omop-csv " + kOmop +
                       "cdm --file " + kOmop + "cdm/person.csv")
                .exit_code,
            2);
  EXPECT_EQ(Passerelle("site import " + site + " --dataset gu_cohort --omop-csv " + kOmop +
                       "cdm --sep ';'")
                .exit_code,
            2);
}

TEST_F(CliTest, StatisticsAndExcelFilesAreRefusedWithThePlace) {
  const std::string site = dir_ + "/lyon";
  ASSERT_EQ(Passerelle("site init " + site + " --name lyon").exit_code, 0);
  const Output bad = Passerelle("site import " + site + " --dataset gu --file " + kFiles +
                                "gu_lyon_bad.sav --dictionary gu_cohort.v1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.text.find("gu_lyon_bad.sav:row 5: psa_dx: must be at least 0 (min), cell \"-2\""),
            std::string::npos)
      << bad.text;
  EXPECT_NE(bad.text.find("nothing was imported; the store is unchanged"), std::string::npos);
  EXPECT_NE(Passerelle("site datasets " + site).text.find("0 datasets"), std::string::npos);

  const Output merged = Passerelle("site import " + site + " --dataset m --file " + kFiles +
                                   "gu_lyon.xlsx --sheet merged");
  EXPECT_EQ(merged.exit_code, 2);
  EXPECT_NE(merged.text.find("the header row has merged cells A1:C1: one header cell per column"),
            std::string::npos)
      << merged.text;
  const Output no_sheet = Passerelle("site import " + site + " --dataset m --file " + kFiles +
                                     "gu_lyon.xlsx --sheet Feuil1");
  EXPECT_EQ(no_sheet.exit_code, 2);
  EXPECT_NE(no_sheet.text.find("its sheets are cohort, merged, types, stray cells"),
            std::string::npos)
      << no_sheet.text;
  std::ofstream(dir_ + "/export.ods") << "x";
  const Output ods =
      Passerelle("site import " + site + " --dataset m --file " + dir_ + "/export.ods");
  EXPECT_EQ(ods.exit_code, 2);
  EXPECT_NE(ods.text.find("SPSS (.sav .zsav .por)"), std::string::npos) << ods.text;
  EXPECT_EQ(
      Passerelle("site import " + site + " --dataset m --file " + kFiles + "gu_lyon.sav --sep ';'")
          .exit_code,
      2);
  EXPECT_NE(Passerelle("site datasets " + site).text.find("0 datasets"), std::string::npos);
}

// Inferred from an SPSS file, a category's levels are in the order of its value labels.
TEST_F(CliTest, DictionaryInferredFromAStatisticsFileKeepsItsLabelsOrder) {
  const Output inferred = Passerelle("dictionary infer --file " + kFiles + "gu_lyon.dta");
  ASSERT_EQ(inferred.exit_code, 0) << inferred.text;
  EXPECT_NE(inferred.text.find("name = \"gu_lyon\""), std::string::npos) << inferred.text;
  EXPECT_NE(inferred.text.find("levels = [\"prostate\", \"bladder\", \"kidney\", "
                               "\"upper_tract\", \"testis\", \"penis\"]"),
            std::string::npos)
      << inferred.text;
  const Output sheet =
      Passerelle("dictionary infer --file " + kFiles + "gu_lyon.xlsx --sheet types");
  ASSERT_EQ(sheet.exit_code, 0) << sheet.text;
  EXPECT_NE(sheet.text.find("name = \"when\"\ntype = \"date\""), std::string::npos) << sheet.text;
}

TEST(AnalyzeCli, CoxphTextAndJson) {
  const Output text = Passerelle("analyze coxph --data " + kRef +
                                 "lung.csv --formula 'Surv(time, status == 2) ~ age + sex'");
  ASSERT_EQ(text.exit_code, 0) << text.text;
  EXPECT_NE(text.text.find("n = 228, number of events = 165"), std::string::npos) << text.text;
  EXPECT_NE(text.text.find("Likelihood ratio test"), std::string::npos);
  const Output json = Passerelle("analyze coxph --json --ties breslow --data " + kRef +
                                 "lung.csv --formula 'Surv(time, status == 2) ~ age + sex'");
  ASSERT_EQ(json.exit_code, 0);
  EXPECT_NE(json.text.find("\"coef_names\": ["), std::string::npos);
  EXPECT_NE(json.text.find("\"ties\": \"breslow\""), std::string::npos);
}

TEST(AnalyzeCli, StackedFilesSubsetAndOtherAnalyses) {
  const std::string sites = kRef + "colon_death_site1.csv --data " + kRef +
                            "colon_death_site2.csv --data " + kRef + "colon_death_site3.csv";
  const Output km = Passerelle("analyze survfit --data " + sites +
                               " --formula 'Surv(time, status) ~ rx' --subset 'age >= 50'");
  ASSERT_EQ(km.exit_code, 0) << km.text;
  EXPECT_NE(km.text.find("rx=Lev+5FU"), std::string::npos);
  const Output lr = Passerelle("analyze survdiff --data " + sites +
                               " --formula 'Surv(time, status) ~ rx + strata(site)'");
  ASSERT_EQ(lr.exit_code, 0) << lr.text;
  EXPECT_NE(lr.text.find("stratified by site=site1"), std::string::npos) << lr.text;
  const Output glm = Passerelle("analyze glm --family binomial --data " + sites +
                                " --formula 'status ~ rx + age'");
  ASSERT_EQ(glm.exit_code, 0) << glm.text;
  EXPECT_NE(glm.text.find("Residual deviance"), std::string::npos);
  const Output table = Passerelle("analyze table --data " + sites + " --rows rx --cols sex");
  ASSERT_EQ(table.exit_code, 0) << table.text;
  EXPECT_NE(table.text.find("chi-square"), std::string::npos);
}

TEST_F(CliTest, PlotWritesTheResultsPicture) {
  const std::string svg = dir_ + "/km.svg";
  const Output km = Passerelle("analyze survfit --data " + kRef +
                               "colon_death.csv --formula 'Surv(time, status) ~ rx' --plot " + svg);
  ASSERT_EQ(km.exit_code, 0) << km.text;
  std::ifstream in(svg);
  const std::string picture((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(picture.rfind("<svg xmlns=", 0), 0u);
  EXPECT_NE(picture.find("class=\"km-curve\" data-group=\"rx=Lev+5FU\""), std::string::npos);
  EXPECT_NE(km.text.find("rx=Lev+5FU"), std::string::npos);  // the table is printed too
  const Output forest = Passerelle("analyze coxph --data " + kRef +
                                   "lung.csv --formula 'Surv(time, status == 2) ~ age + sex' "
                                   "--plot " +
                                   dir_ + "/forest.svg");
  ASSERT_EQ(forest.exit_code, 0) << forest.text;
  const Output nowhere = Passerelle("analyze table --data " + kRef + "lung.csv --rows sex --plot " +
                                    dir_ + "/no/such/dir.svg");
  EXPECT_EQ(nowhere.exit_code, 2) << nowhere.text;
  EXPECT_NE(nowhere.text.find("--plot: cannot write"), std::string::npos) << nowhere.text;
}

TEST(AnalyzeCli, BadFormulasAreBadInput) {
  const Output missing_var = Passerelle("analyze coxph --data " + kRef +
                                        "lung.csv --formula 'Surv(time, status) ~ weight'");
  EXPECT_EQ(missing_var.exit_code, 2);
  EXPECT_NE(missing_var.text.find("no variable 'weight'"), std::string::npos);
  const Output syntax =
      Passerelle("analyze coxph --data " + kRef + "lung.csv --formula 'Surv(time, status ~ age'");
  EXPECT_EQ(syntax.exit_code, 2);
  EXPECT_NE(syntax.text.find("column"), std::string::npos);
  EXPECT_EQ(
      Passerelle("analyze glm --data " + kRef + "lung.csv --formula 'status ~ age'").exit_code, 2);
}

}  // namespace

namespace {

// The synthetic cohort's documented model (docs/synthetic.md) is what a Cox fit recovers.
TEST_F(CliTest, CoxRecoversTheSyntheticCohortsTrueCoefficients) {
  ASSERT_EQ(
      Passerelle("synth --site lyon --patients 20000 --seed 11 --out " + dir_ + "/l.csv").exit_code,
      0);
  ASSERT_EQ(Passerelle("site init " + dir_ + "/lyon --name lyon").exit_code, 0);
  ASSERT_EQ(Passerelle("site import " + dir_ + "/lyon --dataset gu_cohort --csv " + dir_ +
                       "/l.csv --dictionary gu_cohort.v1")
                .exit_code,
            0);
  const Output fit =
      Passerelle("analyze coxph --json --site " + dir_ +
                 "/lyon --dataset gu_cohort --formula 'Surv(os_days, os_event) ~ age_dx + organ + "
                 "I(t_stage %in% c(\"T3\", \"T3a\", \"T3b\", \"T3c\", \"T4\", \"T4a\", \"T4b\")) + "
                 "I(n_stage != \"N0\") + I(m_stage != \"M0\")' 2>/dev/null");
  ASSERT_EQ(fit.exit_code, 0) << fit.text;
  // Pull coef and se arrays out of the JSON text.
  auto numbers = [&](const std::string& key) {
    std::vector<double> out;
    size_t pos = fit.text.find("\"" + key + "\": [");
    pos = fit.text.find('[', pos) + 1;
    const size_t end = fit.text.find(']', pos);
    std::stringstream items(fit.text.substr(pos, end - pos));
    for (std::string item; std::getline(items, item, ',');) out.push_back(std::stod(item));
    return out;
  };
  const std::vector<double> coef = numbers("coef"), se = numbers("se");
  ASSERT_EQ(coef.size(), 9u);  // age, 5 organs, T3-4, N+, M1
  const double truth[] = {0.04, 1.1, 0.7, 1.1, -1.4, 1.1, 0.7, 1.1, 1.9};
  for (size_t j = 0; j < 9; ++j) {
    EXPECT_NEAR(coef[j], truth[j], 4 * se[j] + 0.02) << "coefficient " << j;
  }
}

}  // namespace

namespace {

TEST_F(CliTest, HubRegistersResearchersAndPinsSites) {
  ASSERT_EQ(Passerelle("pki init " + dir_ + "/ca").exit_code, 0);
  ASSERT_EQ(Passerelle("pki issue " + dir_ + "/ca --name wuhan --out " + dir_ + "/certs").exit_code,
            0);
  ASSERT_EQ(Passerelle("hub init " + dir_ + "/hub").exit_code, 0);
  const Output user = Passerelle("hub user add " + dir_ + "/hub --name alice");
  ASSERT_EQ(user.exit_code, 0) << user.text;
  EXPECT_NE(user.text.find("psr_"), std::string::npos);
  const Output site = Passerelle("hub site add " + dir_ + "/hub --name wuhan --cert " + dir_ +
                                 "/certs/wuhan.crt --ca " + dir_ + "/ca/ca.crt");
  ASSERT_EQ(site.exit_code, 0) << site.text;
  EXPECT_NE(Passerelle("hub site list " + dir_ + "/hub").text.find("wuhan"), std::string::npos);
  // A hub certificate names where the hub is reached, for researchers and nodes to check.
  ASSERT_EQ(Passerelle("pki issue " + dir_ +
                       "/ca --name hub --role hub --dns hub.example --ip "
                       "10.0.0.5 --out " +
                       dir_ + "/certs")
                .exit_code,
            0);
  FILE* san = popen(
      ("openssl x509 -noout -ext subjectAltName -in " + dir_ + "/certs/hub.crt").c_str(), "r");
  ASSERT_NE(san, nullptr);
  std::string names(4096, '\0');
  names.resize(fread(names.data(), 1, names.size(), san));
  pclose(san);
  EXPECT_NE(names.find("DNS:hub.example"), std::string::npos) << names;
  EXPECT_NE(names.find("IP Address:10.0.0.5"), std::string::npos) << names;
  EXPECT_NE(names.find("DNS:localhost"), std::string::npos) << names;
  // A certificate that names another site is not pinned under this name.
  const Output wrong = Passerelle("hub site add " + dir_ + "/hub --name lyon --cert " + dir_ +
                                  "/certs/wuhan.crt --ca " + dir_ + "/ca/ca.crt");
  EXPECT_EQ(wrong.exit_code, 2);
}

TEST_F(CliTest, StudyRunChecksTheStudyAndTheCredentialsFirst) {
  unsetenv("PASSERELLE_TOKEN");
  const std::string study = dir_ + "/study.json";
  std::ofstream(study) << "{\"title\": \"t\", \"dataset\": \"gu_cohort\",\n"
                          " \"analyses\": [{\"id\": \"km\", \"function\": \"survfit\"}]}\n";
  const Output bad = Passerelle("study run " + study + " --hub https://127.0.0.1:9 --ca x.crt");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.text.find(study + ": analyses[0].formula: is required"), std::string::npos)
      << bad.text;
  std::ofstream(study) << "{\"title\": \"t\", \"dataset\": \"gu_cohort\", \"analyses\": "
                          "[{\"id\": \"t1\", \"function\": \"describe\"}]}";
  const Output no_token =
      Passerelle("study run " + study + " --hub https://127.0.0.1:9 --ca x.crt");
  EXPECT_EQ(no_token.exit_code, 2);
  EXPECT_NE(no_token.text.find("--token-file FILE or PASSERELLE_TOKEN"), std::string::npos)
      << no_token.text;
  const Output bad_url = Passerelle("study run " + study + " --hub http://127.0.0.1:9 --ca x.crt");
  EXPECT_EQ(bad_url.exit_code, 2);
  EXPECT_NE(bad_url.text.find("must be https://HOST:PORT"), std::string::npos) << bad_url.text;
}

}  // namespace
