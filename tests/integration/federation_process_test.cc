// A federated study with real processes on 127.0.0.1: `passerelle hub serve` and one
// `passerelle node serve` per site, each its own process with its own certificate, and a
// researcher's `passerelle study run --json`. Its results equal `passerelle analyze` on the pooled
// data (and R's numbers): the three colon reference sites, and a synthetic two-site cohort.
// Every daemon stops cleanly on SIGTERM.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/integration/process_fixture.h"

namespace {

using nlohmann::json;
using passerelle::testing::Output;
using passerelle::testing::Passerelle;
using passerelle::testing::ReadAll;
using FederationProcessTest = passerelle::testing::ProcessTest;
using passerelle::testing::kRef;

void ExpectNumbersNear(const json& got, const json& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i].is_array()) {
      ExpectNumbersNear(got[i], want[i], tol, what);
      continue;
    }
    if (want[i].is_null()) {
      EXPECT_TRUE(got[i].is_null()) << what << "[" << i << "]";
      continue;
    }
    const double w = want[i].get<double>();
    EXPECT_NEAR(got[i].get<double>(), w, tol * std::max(1.0, std::fabs(w)))
        << what << "[" << i << "]";
  }
}

// The first `rows` entries of every column of a survfit table.
json Head(const json& table, size_t rows) {
  json out = json::object();
  for (const auto& [k, v] : table.items()) {
    out[k] = json(std::vector<json>(v.begin(), v.begin() + static_cast<ptrdiff_t>(rows)));
  }
  return out;
}

TEST_F(FederationProcessTest, ThreeColonNodesGiveThePooledAnalyses) {
  const std::string dict = kRef + "colon_death.dictionary.toml";
  for (const char* s : {"site1", "site2", "site3"}) {
    AddSite(s, "colon", kRef + "colon_death_" + std::string(s) + ".csv", dict);
  }
  StartAll();
  const std::string cox = "Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site)";
  // One analysis population: the models drop the records without `nodes` (three at site3), so
  // every analysis takes the same subset; otherwise the differencing rule refuses, at site3, any
  // release over all its records after a model over all but three (test below).
  const std::string population = "!is.na(nodes)";
  const json study = {{"title", "colon, three sites"},
                      {"dataset", "colon"},
                      {"analyses",
                       {{{"id", "cox"}, {"function", "coxph"}, {"formula", cox}},
                        {{"id", "logit"},
                         {"function", "glm"},
                         {"family", "binomial"},
                         {"formula", "status ~ rx + sex + age + obstruct + nodes"}},
                        {{"id", "logrank"},
                         {"function", "survdiff"},
                         {"formula", "Surv(time, status) ~ rx + strata(site)"},
                         {"subset", population}},
                        {{"id", "km"},
                         {"function", "survfit"},
                         {"formula", "Surv(time, status) ~ rx"},
                         {"subset", population}},
                        {{"id", "arms"},
                         {"function", "table"},
                         {"rows", "rx"},
                         {"cols", "sex"},
                         {"subset", population}},
                        {{"id", "table1"},
                         {"function", "describe"},
                         {"variables", {"age", "rx"}},
                         {"subset", population}}}}};
  const json got = RunStudy(study);
  EXPECT_EQ(got["sites"], json({"site1", "site2", "site3"}));
  for (const auto& [id, r] : got["results"].items()) EXPECT_EQ(r["status"], "ok") << id << r;
  // A node polls for its next task while it answers one, naming it: the hub never hands that task
  // out again (the node would refuse it as a replay, and the hub that second answer).
  EXPECT_EQ(hub_->Log().find("refused an answer"), std::string::npos) << hub_->Log();
  const std::string pooled = "--data " + kRef + "colon_death_site1.csv --data " + kRef +
                             "colon_death_site2.csv --data " + kRef +
                             "colon_death_site3.csv --dictionary " + dict;

  const json& fcox = got["results"]["cox"]["results"];
  const json pcox = Analyze("coxph " + pooled + " --formula '" + cox + "'");
  ExpectNumbersNear(fcox["coef"], pcox["coef"], 1e-9, "coxph coef");
  ExpectNumbersNear(fcox["se"], pcox["se"], 1e-9, "coxph se");
  EXPECT_NEAR(fcox["loglik"].get<double>(), pcox["loglik"].get<double>(), 1e-8);
  // R, tests/reference/expected/12_federated_colon_3sites.json.
  EXPECT_NEAR(fcox["coef"][0].get<double>(), -0.06435616964362041, 1e-7);

  const json pglm = Analyze("glm " + pooled +
                            " --family binomial --formula 'status ~ rx + sex + age + obstruct + "
                            "nodes'");
  ExpectNumbersNear(got["results"]["logit"]["results"]["coef"], pglm["coef"], 1e-9, "glm coef");
  EXPECT_NEAR(got["results"]["logit"]["results"]["deviance"].get<double>(),
              pglm["deviance"].get<double>(), 1e-8);

  const json& flr = got["results"]["logrank"]["results"];
  // R: survdiff(Surv(time, status) ~ rx + strata(site), subset(colon_death, !is.na(nodes)))
  EXPECT_NEAR(flr["chisq"].get<double>(), 12.407707645516892, 1e-9);

  const json pkm =
      Analyze("survfit " + pooled +
              " --bin-days 30 --formula 'Surv(time, status) ~ rx' --subset '" + population + "'");
  const json& fkm = got["results"]["km"]["results"];
  ASSERT_EQ(fkm["strata"].size(), 3u);
  for (size_t g = 0; g < 3; ++g) {
    const json& table = fkm["strata"][g]["table"];
    const size_t rows = table["time"].size();
    ASSERT_GT(rows, 20u);
    const json want = Head(pkm["strata"][g]["table"], rows);
    for (const char* column : {"time", "n.risk", "n.event", "surv", "std.err", "lower", "upper"}) {
      ExpectNumbersNear(table[column], want[column], 1e-12, column);
    }
  }

  const json ptab =
      Analyze("table " + pooled + " --rows rx --cols sex --subset '" + population + "'");
  EXPECT_EQ(got["results"]["arms"]["results"]["counts"], ptab["counts"]);
  const json& age = got["results"]["table1"]["results"]["variables"][0];
  EXPECT_EQ(age["name"], "age");
  EXPECT_EQ(age["n"][3], 911);  // all three sites: every record of the population has an age
  StopAll();
  // The nodes logged what they released and nothing else.
  const std::string log = ReadAll(dir_ + "/site1.log");
  EXPECT_NE(log.find("coxph evaluate: released"), std::string::npos) << log;
  EXPECT_NE(log.find("node: SIGTERM, stopping"), std::string::npos) << log;
  // Every task and every release is in the site's audit chain, which verifies.
  const std::string verified = Ok("audit verify --site " + dir_ + "/site1");
  EXPECT_NE(verified.find("entries, the chain is intact"), std::string::npos) << verified;
  const json audit = json::parse(Ok("audit show --json --site " + dir_ + "/site1"));
  size_t tasks = 0, released = 0;
  for (const json& e : audit) {
    tasks += e["kind"] == "task";
    released += e["kind"] == "released";
    if (e["kind"] == "released") {
      EXPECT_EQ(e["digest"].get<std::string>().size(), 64u);
    }
  }
  // Every round trip of an analysis asks every site once: site1 was sent as many tasks as the
  // study's analyses took round trips.
  size_t rounds = 0;
  for (const auto& [id, analysis] : got["results"].items())
    rounds += analysis["rounds"].get<size_t>();
  EXPECT_EQ(tasks, rounds);
  EXPECT_GT(tasks, 10u);
  EXPECT_EQ(tasks, released);
}

TEST_F(FederationProcessTest, SyntheticWuhanAndLyonGiveThePooledAnalyses) {
  for (const char* s : {"wuhan", "lyon"}) {
    const std::string csv = dir_ + "/" + s + ".csv";
    Ok(std::string("synth --site ") + s + " --patients 1500 --seed " +
       (s == std::string("wuhan") ? "11" : "12") + " --out " + csv);
    AddSite(s, "gu_cohort", csv, "gu_cohort.v1");
  }
  StartAll();
  const std::string cox = "Surv(os_days, os_event) ~ age_dx + organ + strata(site)";
  const std::string glm = "I(n_stage != \"N0\") ~ age_dx + organ";
  // Death from the cancer (1) or from another cause (2) first: competing events.
  const std::string cif = "Surv(os_days, factor(css_event + 2 * (os_event - css_event))) ~ sex";
  const json study = {{"title", "OS"},
                      {"dataset", "gu_cohort"},
                      {"analyses",
                       {{{"id", "os_cox"}, {"function", "coxph"}, {"formula", cox}},
                        {{"id", "n1"},
                         {"function", "glm"},
                         {"family", "binomial"},
                         {"formula", glm},
                         {"subset", "organ != \"testis\""}},
                        {{"id", "deaths"}, {"function", "survfit"}, {"formula", cif}}}}};
  const json got = RunStudy(study);
  const std::string pooled =
      "--site " + dir_ + "/wuhan --site " + dir_ + "/lyon --dataset gu_cohort";
  const json pcox = Analyze("coxph " + pooled + " --formula '" + cox + "'");
  ExpectNumbersNear(got["results"]["os_cox"]["results"]["coef"], pcox["coef"], 1e-9, "cox");
  ExpectNumbersNear(got["results"]["os_cox"]["results"]["var"], pcox["var"], 1e-9, "cox var");
  const json pglm = Analyze("glm " + pooled + " --family binomial --formula '" + glm +
                            "' --subset 'organ != \"testis\"'");
  EXPECT_EQ(got["results"]["n1"]["results"]["coef_names"], pglm["coef_names"]);
  ExpectNumbersNear(got["results"]["n1"]["results"]["coef"], pglm["coef"], 1e-9, "glm");
  // The cumulative incidence of each cause on the 30-day grid: the pooled estimate, up to where
  // the sites stop releasing.
  const json deaths = got["results"]["deaths"];
  ASSERT_EQ(deaths["status"], "ok") << deaths.dump();
  EXPECT_EQ(deaths["results"]["states"], json({"(s0)", "1", "2"}));
  const json pcif = Analyze("survfit " + pooled + " --bin-days 30 --formula '" + cif + "'");
  ASSERT_EQ(deaths["results"]["strata"].size(), pcif["strata"].size());
  for (size_t g = 0; g < pcif["strata"].size(); ++g) {
    const json& fed = deaths["results"]["strata"][g]["table"];
    const json& local = pcif["strata"][g]["table"];
    const size_t rows = fed["time"].size();
    ASSERT_GT(rows, 10u);
    for (const char* key : {"pstate", "std.err"}) {
      for (size_t k = 0; k < 3; ++k) {
        json head = json::array();
        for (size_t j = 0; j < rows; ++j) head.push_back(local[key][k][j]);
        ExpectNumbersNear(fed[key][k], head, 1e-12, key);
      }
    }
  }

  // The study's report: one self-contained, printable HTML file with every analysis, its plot
  // and table, what was withheld, the methods and the sites' audit heads.
  json reported = study;
  reported["analyses"].push_back(
      {{"id", "os_km"}, {"function", "survfit"}, {"formula", "Surv(os_days, os_event) ~ sex"}});
  reported["analyses"].push_back(
      {{"id", "table1"}, {"function", "describe"}, {"variables", {"age_dx", "sex", "organ"}}});
  const std::string path = dir_ + "/study.html";
  const passerelle::testing::Output out = Study(reported, "reported", "--report " + path);
  ASSERT_EQ(out.exit_code, 0) << out.out << out.err;
  const std::string html = ReadAll(path);
  ASSERT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"id=\"os_cox\"", "id=\"n1\"", "id=\"os_km\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  EXPECT_NE(html.find("class=\"km-curve\" data-group=\"sex=female\""), std::string::npos);
  EXPECT_NE(html.find("class=\"forest-row\" data-term=\"age_dx\""), std::string::npos);
  EXPECT_NE(html.find("class=\"cif-curve\" data-group=\"sex=female\" data-state=\"2\""),
            std::string::npos);
  EXPECT_NE(html.find("Aalen–Johansen cumulative incidence of competing events"),
            std::string::npos);
  EXPECT_NE(html.find("@media print"), std::string::npos);
  EXPECT_NE(html.find("<h2>Methods</h2>"), std::string::npos);
  // Sites and the dataset version each computed on (both imported once: version 1).
  EXPECT_NE(html.find("wuhan (gu_cohort version 1, imported 20"), std::string::npos);
  EXPECT_NE(html.find("lyon (gu_cohort version 1, imported 20"), std::string::npos);
  // Table 1 as a table: a column per site and the total, the records the describe result holds.
  const json table1 = json::parse(out.out)["results"]["table1"]["results"];
  ASSERT_EQ(table1["columns"], json({"lyon", "wuhan", "all"})) << table1.dump();
  EXPECT_NE(html.find("<th>variable</th><th>lyon</th><th>wuhan</th><th>all</th>"),
            std::string::npos);
  std::string records = "<tr><td>records</td>";
  for (const json& n : table1["rows"]) records += "<td>" + std::to_string(n.get<int>()) + "</td>";
  EXPECT_NE(html.find(records + "<td></td></tr>"), std::string::npos) << records;  // SMD: none
  // Nothing outside the file: no script, no stylesheet or image to fetch, no URL but the SVG
  // namespace.
  for (const char* outside : {"<script", "<link", "<img", "<iframe", "url(", "src=", "https://"}) {
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  }
  size_t urls = 0, namespaces = 0;
  for (size_t at = html.find("http://"); at != std::string::npos;
       at = html.find("http://", at + 1)) {
    ++urls;
    namespaces += html.compare(at, 26, "http://www.w3.org/2000/svg") == 0;
  }
  EXPECT_EQ(urls, namespaces);
  // Provenance: the audit heads are the ones the hub lists.
  const std::string sites = Ok("hub site list " + dir_ + "/hub");
  const size_t at = sites.find("audit ", sites.find("lyon"));
  EXPECT_NE(html.find(sites.substr(at + 6, sites.find('\n', at) - at - 6)), std::string::npos)
      << sites;
  StopAll();
}

}  // namespace
