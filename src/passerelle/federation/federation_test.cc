// The hub and three site nodes, in this process but over real HTTPS on 127.0.0.1 with real
// certificates and real site stores: a researcher's study gives the pooled results; tokens,
// pinned certificates and task signatures are enforced; a restarted hub still has the study.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "passerelle/analysis/run.h"
#include "passerelle/base/clock.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/federation/hub/hub.h"
#include "passerelle/federation/node/node.h"
#include "passerelle/federation/researcher.h"
#include "passerelle/formula/model.h"
#include "passerelle/net/pki.h"
#include "passerelle/net/signing.h"
#include "passerelle/store/audit_log.h"
#include "passerelle/store/hub_store.h"
#include "passerelle/store/postgres_cluster_test_util.h"
#include "passerelle/store/site_store.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::federation {
namespace {

using nlohmann::json;
const std::string kRef = std::string(PASSERELLE_SOURCE_DIR) + "/tests/reference/data/";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The site's custodian opts in to open studies (these tests are about the federation, not
// protocols: protocol_test.cc).
void OpenScope(const std::string& site_dir) {
  std::string policy = ReadAll(site_dir + "/policy.toml");
  const size_t at = policy.find("scope = \"protocol\"");
  ASSERT_NE(at, std::string::npos);
  policy.replace(at, 18, "scope = \"open\"");
  std::ofstream(site_dir + "/policy.toml") << policy;
}

class Log {
 public:
  net::LogSink Sink() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      text_ += line + "\n";
    };
  }
  std::string Text() {
    std::lock_guard<std::mutex> lock(mu_);
    return text_;
  }

 private:
  std::mutex mu_;
  std::string text_;
};

class FederationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("federation");
    ASSERT_TRUE(net::CreateAuthority(dir_ + "/ca", {}).ok());
    ASSERT_TRUE(net::CreateAuthority(dir_ + "/other", {"Other CA", 365}).ok());
    Issue("ca", "hub", net::CertificateRole::kHub);
    ASSERT_TRUE(InitHub(dir_ + "/hub").ok());
    auto hub_store = store::HubStore::Open(dir_ + "/hub");
    ASSERT_TRUE(hub_store.ok());
    token_ = *(*hub_store)->AddUser("alice");
    auto dictionary = data::ParseDictionary(ReadAll(kRef + "colon_death.dictionary.toml"), "dict");
    ASSERT_TRUE(dictionary.ok()) << dictionary.status().ToString();
    for (const std::string site : {"site1", "site2", "site3"}) {
      Issue("ca", site, net::CertificateRole::kNode);
      auto info = net::VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/" + site + ".crt");
      ASSERT_TRUE(info.ok());
      ASSERT_TRUE((*hub_store)->AddSite(site, info->sha256).ok());
      auto s = store::SiteStore::Create(dir_ + "/" + site, site);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      OpenScope(dir_ + "/" + site);
      store::ImportRequest import;
      import.dataset = "colon";
      import.file_path = kRef + "colon_death_" + site + ".csv";
      import.dictionary = *dictionary;
      ASSERT_TRUE((*s)->Import(import).ok());
    }
    StartHub();
  }

  void TearDown() override {
    StopNodes();
    if (hub_) hub_->Stop();
  }

  void StopNodes() {
    for (auto& n : nodes_) n->Stop();
    for (auto& t : node_threads_) t.join();
    nodes_.clear();
    node_threads_.clear();
  }

  void Issue(const std::string& ca, const std::string& name, net::CertificateRole role) {
    net::IssueOptions o;
    o.name = name;
    o.role = role;
    ASSERT_TRUE(net::IssueCertificate(dir_ + "/" + ca, dir_ + "/certs", o).ok());
  }
  net::TlsIdentity Identity(const std::string& ca, const std::string& name) {
    return {dir_ + "/" + ca + "/ca.crt", dir_ + "/certs/" + name + ".crt",
            dir_ + "/certs/" + name + ".key"};
  }

  void StartHub(std::chrono::seconds site_timeout = std::chrono::seconds(60),
                Clock* clock = &SteadyClock()) {
    HubConfig config;
    config.clock = clock;
    config.site_timeout = site_timeout;
    config.dir = dir_ + "/hub";
    config.identity = Identity("ca", "hub");
    config.poll_wait = std::chrono::seconds(2);
    config.task_timeout = std::chrono::seconds(30);
    config.waits = hub_waits_;
    config.log = hub_log_.Sink();
    auto hub = Hub::Start(config);
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    hub_ = std::move(*hub);
  }

  // A node for SITE presenting CERT (from CA), pinning `hub_key` (the hub's by default).
  // Imports `path` (colon data) into `site`'s store as `dataset`.
  void ImportColon(const std::string& site, const std::string& dataset, const std::string& path) {
    auto s = store::SiteStore::Open(dir_ + "/" + site);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store::ImportRequest import;
    import.dataset = dataset;
    import.file_path = path;
    import.dictionary =
        data::ParseDictionary(ReadAll(kRef + "colon_death.dictionary.toml"), "dict").value();
    const auto imported = (*s)->Import(import);
    ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  }
  void StartNode(const std::string& site, const std::string& ca = "ca", std::string cert = "",
                 std::string hub_key = "") {
    NodeConfig config;
    config.site_dir = dir_ + "/" + site;
    config.hub = {"127.0.0.1", hub_->port()};
    config.identity = Identity(ca, cert.empty() ? site : cert);
    config.identity.ca_cert = dir_ + "/ca/ca.crt";
    if (hub_key.empty()) {
      hub_key = ReadAll(HubPublicKeyPath(dir_ + "/hub"));
      hub_key.pop_back();
    }
    config.hub_public_key = hub_key;
    config.poll_wait = std::chrono::seconds(2);
    config.log = node_log_.Sink();
    auto node = Node::Create(config);
    ASSERT_TRUE(node.ok()) << node.status().ToString();
    Node* n = node->get();
    nodes_.push_back(std::move(*node));
    node_threads_.emplace_back([n] { n->Run(); });
  }

  Result<json> Run(const json& study, const std::string& token = "") {
    ResearcherConfig config;
    config.hub = {"localhost", hub_->port()};
    config.ca_cert = dir_ + "/ca/ca.crt";
    config.token = token.empty() ? token_ : token;
    config.timeout = std::chrono::seconds(120);
    ASSIGN_OR_RETURN(std::string text, RunStudy(config, study.dump()));
    return json::parse(text);
  }

  std::string dir_, token_;
  Log hub_log_, node_log_;
  ManualClock clock_;  // for a hub that reads its time from a clock the test moves
  int hub_waits_ = HubConfig{}.waits;
  std::unique_ptr<Hub> hub_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::vector<std::thread> node_threads_;
};

const json kCoxStudy = {
    {"title", "colon"},
    {"dataset", "colon"},
    {"analyses",
     {{{"id", "cox"},
       {"function", "coxph"},
       {"formula", "Surv(time, status) ~ rx + sex + age + obstruct + nodes + strata(site)"}},
      {{"id", "arms"},
       {"function", "table"},
       {"rows", "rx"},
       {"cols", "sex"},
       {"subset", "!is.na(nodes)"}}}}};

TEST_F(FederationTest, AStudyOverThreeNodesGivesRsPooledFit) {
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  ASSERT_EQ(cox["status"], "ok") << cox.dump();
  // R: tests/reference/expected/12_federated_colon_3sites.json.
  EXPECT_NEAR(cox["results"]["coef"][0].get<double>(), -0.06435616964362041, 1e-7);
  EXPECT_EQ(cox["results"]["n"], 911);
  // Every step asks the three sites at once: a round trip is three tasks, one to each site.
  EXPECT_EQ(cox["tasks"].get<int>(), 3 * cox["rounds"].get<int>()) << cox.dump();
  EXPECT_GE(cox["rounds"].get<int>(), 4);  // levels, design, evaluations, concordance
  EXPECT_EQ((*result)["sites"], json({"site1", "site2", "site3"}));
  EXPECT_EQ((*result)["results"]["arms"]["status"], "ok");
  // The nodes log what they released, never a number.
  const std::string log = node_log_.Text();
  EXPECT_NE(log.find("coxph evaluate: released"), std::string::npos) << log;
  // Differencing: the same table over all records, in a later study, would tell the three
  // patients of site3 without `nodes` apart from the model's cohort (and, cell by cell, the few
  // of sites 1 and 2). The sites refuse: the researcher hears that the release is withheld, the
  // site's log names the rule, and neither says the number.
  json all_records = kCoxStudy;
  all_records["analyses"] = json::array({kCoxStudy["analyses"][1]});
  all_records["analyses"][0].erase("subset");
  auto differencing = Run(all_records);
  ASSERT_TRUE(differencing.ok()) << differencing.status().ToString();
  const json& arms = (*differencing)["results"]["arms"];
  EXPECT_EQ(arms["status"], "refused") << arms.dump();
  const std::string notes = arms["notes"].dump();
  EXPECT_NE(notes.find(": withheld under the site's disclosure rules"), std::string::npos) << notes;
  EXPECT_EQ(notes.find("rule "), std::string::npos) << notes;  // decided on the records
  std::string without_names = notes;
  for (const char* site : {"site1", "site2", "site3"}) {
    for (size_t at; (at = without_names.find(site)) != std::string::npos;) {
      without_names.erase(at, 5);
    }
  }
  EXPECT_EQ(without_names.find_first_of("0123456789"), std::string::npos) << notes;
  const std::string refusals = node_log_.Text();
  EXPECT_TRUE(refusals.find("table : refused, rule min_cohort_difference") != std::string::npos ||
              refusals.find("table : refused, rule count_audit") != std::string::npos)
      << refusals;
}

// A node reads the variables a task names, and reads again, with more, when a later one names
// others. The ledger knows each record by the same number whatever was read (by its identifier;
// in a dataset without one, by all its values), so a difference across studies is still seen.
TEST_F(FederationTest, ADifferenceIsSeenWhateverVariablesEachStudyRead) {
  std::string toml = ReadAll(kRef + "colon_death.dictionary.toml");
  const std::string identifier = "type = \"identifier\"";
  toml.replace(toml.find(identifier), identifier.size(), "type = \"integer\"");
  auto no_identifier = data::ParseDictionary(toml, "dict");
  ASSERT_TRUE(no_identifier.ok()) << no_identifier.status().ToString();
  {
    auto s = store::SiteStore::Open(dir_ + "/site3");
    ASSERT_TRUE(s.ok());
    store::ImportRequest import;
    import.dataset = "unnamed";
    import.file_path = kRef + "colon_death_site3.csv";
    import.dictionary = *no_identifier;
    ASSERT_TRUE((*s)->Import(import).ok());
  }
  StartNode("site3");
  for (const char* dataset : {"colon", "unnamed"}) {
    json study = {{"title", "arms"},
                  {"dataset", dataset},
                  {"sites", {"site3"}},
                  {"analyses",
                   {{{"id", "arms"},
                     {"function", "table"},
                     {"rows", "rx"},
                     {"cols", "sex"},
                     {"subset", "!is.na(nodes)"}}}}};
    auto first = Run(study);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ((*first)["results"]["arms"]["status"], "ok") << dataset << (*first).dump();
    // Every record (age is never missing): the three without `nodes` apart from the first.
    study["analyses"][0]["subset"] = "age > 0";
    auto second = Run(study);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ((*second)["results"]["arms"]["status"], "refused") << dataset << (*second).dump();
  }
}

// Two rows that share an identifier are two records to the ledger (the second known by its
// occurrence), not one number: otherwise leaving one of them out would leave a population the
// ledger sees as unchanged, and a table over the rest would tell that patient apart.
TEST_F(FederationTest, RowsSharingAnIdentifierAreTwoRecordsToTheLedger) {
  // Site 3's rows, its only patient aged 26 (id 94) given the identifier of its first (id 3).
  std::string csv = ReadAll(kRef + "colon_death_site3.csv");
  const std::string aged_26 = "\nsite3,94,";
  ASSERT_NE(csv.find(aged_26), std::string::npos);
  csv.replace(csv.find(aged_26), aged_26.size(), "\nsite3,3,");
  const std::string path = dir_ + "/repeated.csv";
  std::ofstream(path) << csv;
  ImportColon("site3", "repeated", path);
  StartNode("site3");
  json study = {{"title", "arms"},
                {"dataset", "repeated"},
                {"sites", {"site3"}},
                {"analyses", {{{"id", "arms"}, {"function", "table"}, {"rows", "rx"}}}}};
  auto all = Run(study);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ((*all)["results"]["arms"]["status"], "ok") << (*all).dump();
  study["analyses"][0]["subset"] = "age != 26";
  auto but_one = Run(study);
  ASSERT_TRUE(but_one.ok()) << but_one.status().ToString();
  EXPECT_EQ((*but_one)["results"]["arms"]["status"], "refused") << (*but_one).dump();
}

// A dataset of more rows than a model frame's slice (formula::kSliceRows): the node's GLM,
// its frame taken slice by slice and its rows read back at each step, is the fit of the whole
// table in this process, to the last bit; so are the curve's counts.
TEST_F(FederationTest, ADatasetOfManySlicesGivesTheWholeTablesFit) {
  const std::string rows = ReadAll(kRef + "colon_death_site3.csv");
  const size_t header = rows.find('\n') + 1;
  std::string csv = rows.substr(0, header);
  for (int copy = 0; csv.size() < 12'000'000; ++copy) {  // ~150,000 rows, each its own id
    std::istringstream in(rows.substr(header));
    for (std::string line; std::getline(in, line);) {
      const size_t id = line.find(',') + 1, end = line.find(',', id);
      csv += line.substr(0, id) +
             std::to_string(copy * 100000 + std::stoi(line.substr(id, end - id))) +
             line.substr(end) + "\n";
    }
  }
  const std::string path = dir_ + "/large.csv";
  std::ofstream(path) << csv;
  ImportColon("site3", "large", path);
  StartNode("site3");
  const json study = {{"title", "slices"},
                      {"dataset", "large"},
                      {"sites", {"site3"}},
                      {"analyses",
                       {{{"id", "glm"},
                         {"function", "glm"},
                         {"formula", "status ~ rx + age + nodes"},
                         {"family", "binomial"}},
                        {{"id", "km"},
                         {"function", "survfit"},
                         {"formula", "Surv(time, status) ~ rx"},
                         {"bin_days", 30}}}}};
  auto result = Run(study);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& glm = (*result)["results"]["glm"];
  ASSERT_EQ(glm["status"], "ok") << glm.dump();
  const json& km = (*result)["results"]["km"];
  ASSERT_EQ(km["status"], "ok") << km.dump();

  data::CsvTableOptions options;
  options.levels["rx"] = {"Obs", "Lev", "Lev+5FU"};
  auto table = data::ReadCsvTable({path}, options);
  ASSERT_TRUE(table.ok()) << table.status().ToString();
  ASSERT_GT(table->rows, 2 * formula::kSliceRows);
  analysis::AnalysisRequest request;
  request.function = "glm";
  request.formula = "status ~ rx + age + nodes";
  request.family = "binomial";
  auto local = analysis::RunAnalysis(request, *table);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  const analysis::GlmResult& fit = std::get<analysis::GlmOutput>(local->result).fit;
  EXPECT_EQ(glm["results"]["n"], fit.n);
  EXPECT_EQ(glm["results"]["coef"].get<std::vector<double>>(), fit.coef);
  EXPECT_EQ(glm["results"]["deviance"].get<double>(), fit.deviance);
  EXPECT_EQ(glm["results"]["null_deviance"].get<double>(), fit.null_deviance);
  request = {};
  request.function = "survfit";
  request.formula = "Surv(time, status) ~ rx";
  request.bin_days = 30;
  local = analysis::RunAnalysis(request, *table);
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  const auto& curves = std::get<analysis::SurvfitOutput>(local->result);
  ASSERT_EQ(km["results"]["strata"].size(), curves.curves.size());
  for (size_t g = 0; g < curves.curves.size(); ++g) {
    EXPECT_EQ(km["results"]["strata"][g]["n"], curves.curves[g].n);
    EXPECT_EQ(km["results"]["strata"][g]["events"], curves.curves[g].events);
    const json& median = km["results"]["strata"][g]["median"];  // null: not reached
    EXPECT_TRUE(median.is_null() ? std::isnan(curves.curves[g].median)
                                 : median == curves.curves[g].median)
        << median;
  }
}

// Site 2 keeps its datasets in PostgreSQL; site 3 analyses its warehouse's table where it is,
// attached; site 1 is in SQLite. The study gives R's pooled fit all the same.
TEST_F(FederationTest, SitesInSqliteAndInPostgresqlGiveRsPooledFit) {
  testing::PostgresCluster cluster(dir_ + "/pg");
  ASSERT_EQ(cluster.Start(), "");
  const data::Dictionary dictionary =
      data::ParseDictionary(ReadAll(kRef + "colon_death.dictionary.toml"), "dict").value();
  std::string table = "CREATE SCHEMA research;\nCREATE TABLE research.colon (";
  for (size_t i = 0; i < dictionary.variables.size(); ++i) {
    const data::Variable& v = dictionary.variables[i];
    table += (i ? ", " : "") + v.name +
             (v.type == data::VarType::kInteger  ? " integer"
              : v.type == data::VarType::kNumber ? " double precision"
                                                 : " text");
  }
  table += ");\n\\copy research.colon FROM '" + kRef +
           "colon_death_site3.csv' WITH (FORMAT csv, HEADER true)\n";
  ASSERT_EQ(cluster.Psql("postgres", "CREATE DATABASE warehouse;\n"), "");
  ASSERT_EQ(cluster.Psql("warehouse", table), "");
  for (const std::string site : {"site2", "site3"}) {
    std::filesystem::remove_all(dir_ + "/" + site);
    auto s = store::SiteStore::Create(dir_ + "/" + site, site,
                                      cluster.Connection("warehouse", site + "_datasets"));
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    OpenScope(dir_ + "/" + site);
    if (site == "site2") {
      store::ImportRequest import;
      import.dataset = "colon";
      import.file_path = kRef + "colon_death_site2.csv";
      import.dictionary = dictionary;
      ASSERT_TRUE((*s)->Import(import).ok());
    } else {
      store::AttachRequest attach{.dataset = "colon",
                                  .table = "research.colon",
                                  .dictionary = dictionary,
                                  .dictionary_source = "file",
                                  .progress = nullptr};
      auto attached = (*s)->Attach(attach);
      ASSERT_TRUE(attached.ok()) << attached.status().ToString();
    }
  }
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  ASSERT_EQ(cox["status"], "ok") << cox.dump();
  const json reference =
      json::parse(ReadAll(std::string(PASSERELLE_SOURCE_DIR) +
                          "/tests/reference/expected/12_federated_colon_3sites.json"));
  for (const json& fit : reference["fits"]) {
    if (fit["name"] != "cox_strata_site_efron") continue;
    const json& r = fit["results"];
    EXPECT_EQ(cox["results"]["n"], r["n"]);
    ASSERT_EQ(cox["results"]["coef"].size(), r["coef"].size());
    for (size_t i = 0; i < r["coef"].size(); ++i) {
      const double expected = r["coef"][i].get<double>();
      EXPECT_NEAR(cox["results"]["coef"][i].get<double>(), expected, 1e-9 * std::abs(expected))
          << i;
    }
  }
  EXPECT_EQ((*result)["results"]["arms"]["status"], "ok");
}

TEST_F(FederationTest, TokensAndCertificatesAreChecked) {
  StartNode("site1");
  auto bad = Run(kCoxStudy, "psr_0000");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kPermissionDenied) << bad.status().ToString();

  // A node with a certificate from another CA is refused at the handshake; both sides say so.
  Issue("other", "stranger", net::CertificateRole::kNode);
  StartNode("site2", "other", "stranger");
  for (int i = 0; i < 100 && node_log_.Text().find("stranger") == std::string::npos &&
                  hub_log_.Text().find("stranger") == std::string::npos;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_NE(hub_log_.Text().find("tls: refused client certificate 'stranger'"), std::string::npos)
      << hub_log_.Text();
  // The node says the hub refused its certificate: with OpenSSL's alert when it arrives in time
  // ("tlsv1 alert unknown ca"), else that the hub closed the connection.
  EXPECT_NE(node_log_.Text().find("refuse"), std::string::npos) << node_log_.Text();

  // An expired node certificate from the right CA: refused too, and both sides say why.
  net::IssueOptions old;
  old.name = "site3";
  old.days = 10;
  old.backdate_days = 30;
  ASSERT_TRUE(net::IssueCertificate(dir_ + "/ca", dir_ + "/expired", old).ok());
  NodeConfig config;
  config.site_dir = dir_ + "/site3";
  config.hub = {"127.0.0.1", hub_->port()};
  config.identity = {dir_ + "/ca/ca.crt", dir_ + "/expired/site3.crt", dir_ + "/expired/site3.key"};
  config.hub_public_key = "00";
  config.poll_wait = std::chrono::seconds(2);
  config.log = node_log_.Sink();
  auto node = Node::Create(config);
  ASSERT_TRUE(node.ok());
  Node* n = node->get();
  nodes_.push_back(std::move(*node));
  node_threads_.emplace_back([n] { n->Run(); });
  for (int i = 0; i < 100 && node_log_.Text().find("node site3") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(
      hub_log_.Text().find("tls: refused client certificate 'site3': certificate has expired"),
      std::string::npos)
      << hub_log_.Text();
  const std::string log = node_log_.Text();
  ASSERT_NE(log.find("node site3: cannot poll the hub"), std::string::npos) << log;
  EXPECT_NE(log.substr(log.find("node site3")).find("refuse"), std::string::npos) << log;
}

TEST_F(FederationTest, ANodeRefusesTasksNotSignedByThePinnedKey) {
  auto other = net::GenerateSigningKey();
  ASSERT_TRUE(other.ok());
  StartNode("site1", "ca", "", other->public_key);
  StartNode("site2");
  StartNode("site3");
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  EXPECT_EQ(cox["status"], "refused");
  EXPECT_NE(cox["notes"][0].get<std::string>().find("site site1: rule hub_signature"),
            std::string::npos)
      << cox.dump();
  EXPECT_EQ(cox["results"], nullptr);
  // The refused task, as it arrived, and the refusal are in site1's audit chain.
  auto audit = store::AuditLog::Open(dir_ + "/site1");
  ASSERT_TRUE(audit.ok());
  auto entries = (*audit)->Entries();
  ASSERT_TRUE(entries.ok());
  // First what the site's catalog told the hub, then the task and its refusal.
  ASSERT_GE(entries->size(), 3u);
  EXPECT_EQ(entries->front().kind, "catalog");
  EXPECT_NE(entries->front().detail.find("\"name\":\"colon\""), std::string::npos);
  entries->erase(entries->begin());
  EXPECT_EQ((*entries)[0].kind, "task");
  EXPECT_FALSE((*entries)[0].signature.empty());
  EXPECT_EQ((*entries)[1].kind, "refused");
  EXPECT_EQ((*entries)[1].detail.rfind("rule hub_signature", 0), 0u);
  EXPECT_TRUE((*audit)->Verify().ok());
}

// A task sent again (here: put back in the hub's queue) is refused even by a restarted node:
// the nonces it has run come back from its audit log.
TEST_F(FederationTest, AReplayedTaskIsRefusedAfterANodeRestart) {
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  auto first = Run(kCoxStudy);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  StopNodes();
  {
    auto db = store::Database::Open(dir_ + "/hub/hub.sqlite", false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)
                    ->Exec("UPDATE task SET status = 'pending' WHERE id = (SELECT MIN(id) FROM "
                           "task WHERE site = 'site1')")
                    .ok());
  }
  StartNode("site1");
  for (int i = 0; i < 100 && node_log_.Text().find("rule replay") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(node_log_.Text().find("rule replay: this task was already run"), std::string::npos)
      << node_log_.Text();
  // The node logs the refusal as it decides; its audit entry follows at once.
  auto audit = store::AuditLog::Open(dir_ + "/site1");
  ASSERT_TRUE(audit.ok());
  Result<std::vector<store::AuditEntry>> entries = (*audit)->Entries();
  for (int i = 0; i < 100 && entries.ok() && entries->back().kind != "refused"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    entries = (*audit)->Entries();
  }
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ(entries->back().kind, "refused");
  EXPECT_EQ(entries->back().detail, "rule replay: this task was already run");
}

// A task the hub signed but the node cannot read is refused; the node lives on.
TEST_F(FederationTest, ASignedButMalformedTaskIsRefusedAndTheNodeLivesOn) {
  StartNode("site1");
  StartNode("site2");
  StartNode("site3");
  std::string secret = ReadAll(dir_ + "/hub/signing.key");
  secret.pop_back();
  const std::string payload =
      R"({"v": 1, "nonce": "n1", "site": "site1", "study": "x", "task": {"analysis": 5}})";
  auto signature = net::Sign(payload, secret);
  ASSERT_TRUE(signature.ok());
  {
    auto store = store::HubStore::Open(dir_ + "/hub");
    ASSERT_TRUE(store.ok());
    auto study = (*store)->AddStudy("alice", "bad", "{}");
    ASSERT_TRUE(study.ok());
    store::TaskRecord t;
    t.study = *study;
    t.site = "site1";
    t.round = 1;
    t.payload = payload;
    t.signature = *signature;
    ASSERT_TRUE((*store)->AddTask(t).ok());
  }
  for (int i = 0; i < 100 && node_log_.Text().find("malformed") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(node_log_.Text().find("the task is malformed"), std::string::npos) << node_log_.Text();
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ((*result)["results"]["cox"]["status"], "ok");
}

// A site that refuses an analysis (here site3, whose custodian asks for 10,000 events per
// model) fails it, naming the site; with "on_refusal": "exclude" the analysis runs over the
// sites that answer, equals the same study over those sites, and says which site was left out.
TEST_F(FederationTest, ASiteThatRefusesIsLeftOutWhenTheStudySaysSo) {
  {
    std::string policy = ReadAll(dir_ + "/site3/policy.toml");
    const size_t at = policy.find("min_events = 5");
    ASSERT_NE(at, std::string::npos);
    policy.replace(at, 14, "min_events = 10000");
    std::ofstream(dir_ + "/site3/policy.toml") << policy;
  }
  for (const char* site : {"site1", "site2", "site3"}) StartNode(site);
  auto failing = Run(kCoxStudy);
  ASSERT_TRUE(failing.ok()) << failing.status().ToString();
  EXPECT_EQ((*failing)["results"]["cox"]["status"], "refused");
  EXPECT_NE((*failing)["results"]["cox"]["notes"].dump().find("site site3"), std::string::npos);

  json excluding = kCoxStudy;
  excluding["on_refusal"] = "exclude";
  auto left_out = Run(excluding);
  ASSERT_TRUE(left_out.ok()) << left_out.status().ToString();
  const json& cox = (*left_out)["results"]["cox"];
  ASSERT_EQ(cox["status"], "ok") << cox.dump();
  ASSERT_EQ(cox["excluded"].size(), 1u);
  EXPECT_EQ(cox["excluded"][0]["site"], "site3");
  EXPECT_NE(cox["notes"].dump().find("site site3 left out (on_refusal = exclude)"),
            std::string::npos)
      << cox["notes"].dump();
  EXPECT_NE(cox["text"].get<std::string>().find("site site3 left out"), std::string::npos);
  EXPECT_FALSE((*left_out)["results"]["arms"].contains("excluded"));  // site3 answers tables

  json two_sites = kCoxStudy;
  two_sites["sites"] = {"site1", "site2"};
  auto over_two = Run(two_sites);
  ASSERT_TRUE(over_two.ok()) << over_two.status().ToString();
  EXPECT_EQ(cox["results"]["coef"], (*over_two)["results"]["cox"]["results"]["coef"]);
  EXPECT_FALSE(cox["results"]["coef"].empty());
}

// A site whose node is not connected fails the analysis at once, naming the site. The hub's
// clock is moved past the site timeout instead of waiting for it.
TEST_F(FederationTest, ASiteNotConnectedFailsAtOnce) {
  hub_->Stop();
  StartHub(std::chrono::seconds(60), &clock_);
  StartNode("site1");
  StartNode("site2");
  for (int i = 0; i < 200 && (node_log_.Text().find("node site1: connected") == std::string::npos ||
                              node_log_.Text().find("node site2: connected") == std::string::npos);
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  clock_.Advance(std::chrono::seconds(61));
  const auto started = std::chrono::steady_clock::now();
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
  const json& cox = (*result)["results"]["cox"];
  EXPECT_EQ(cox["status"], "failed");
  EXPECT_NE(cox["notes"][0].get<std::string>().find("site site3: not connected to the hub"),
            std::string::npos)
      << cox.dump();
}

// A release held for a custodian who never decides fails its site's analysis after the
// approval timeout (a day by default), read from the hub's clock: no one waits a day.
TEST_F(FederationTest, AHeldReleaseFailsWhenItsCustodianDoesNotDecide) {
  hub_->Stop();
  StartHub(std::chrono::seconds(60), &clock_);
  {
    std::string policy = ReadAll(dir_ + "/site3/policy.toml");
    const size_t at = policy.find("approval = \"auto\"");
    ASSERT_NE(at, std::string::npos);
    policy.replace(at, 17, "approval = \"manual\"");
    std::ofstream(dir_ + "/site3/policy.toml") << policy;
  }
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  // Once the hub knows the release is held, and the other sites (asked in the same round) have
  // answered theirs, a day passes (again, should the hub's wait have begun just after the first).
  std::atomic<bool> done{false};
  std::thread advance([&] {
    for (int i = 0; i < 400 && !done && hub_log_.Text().find("holds task") == std::string::npos;
         ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    auto tasks = store::HubStore::Open(dir_ + "/hub");
    ASSERT_TRUE(tasks.ok());
    auto others_answered = [&] {
      Result<std::vector<int64_t>> running = (*tasks)->RunningStudies();
      if (!running.ok() || running->empty()) return false;
      Result<std::vector<store::TaskRecord>> all = (*tasks)->StudyTasks(running->front());
      return all.ok() && std::all_of(all->begin(), all->end(), [](const store::TaskRecord& t) {
               return t.site == "site3" || t.status == "done";
             });
    };
    for (int i = 0; i < 400 && !done && !others_answered(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (int i = 0; i < 50 && !done; ++i) {
      clock_.Advance(std::chrono::hours(25));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto result = Run(kCoxStudy);
  done = true;
  advance.join();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  EXPECT_EQ(cox["status"], "failed") << cox.dump();
  EXPECT_NE(cox["notes"].dump().find("site site3: its custodian did not decide within 86400 s"),
            std::string::npos)
      << cox.dump();
}

// Researchers' waits for a study hold the hub's workers: all together they hold at most
// `waits`, and a wait beyond them is answered at once with the study's state.
TEST_F(FederationTest, ResearchersTogetherHoldABoundedNumberOfWaits) {
  hub_->Stop();
  hub_waits_ = 2;
  StartHub(std::chrono::seconds(60), &clock_);  // no node runs: studies stay running
  auto hub_store = store::HubStore::Open(dir_ + "/hub");
  ASSERT_TRUE(hub_store.ok());
  const std::string bob_token = (*hub_store)->AddUser("bob").value();
  auto submit = [&](const std::string& token) {
    net::TlsIdentity researcher;
    researcher.ca_cert = dir_ + "/ca/ca.crt";
    auto client = net::HttpsClient::Create("localhost", hub_->port(), researcher).value();
    client->SetBearerToken(token);
    Result<net::HttpResponse> sent = client->Post("/v1/studies", kCoxStudy.dump());
    EXPECT_TRUE(sent.ok() && sent->status == 202);
    const std::string path =
        "/v1/studies/" + std::to_string(json::parse(sent->body)["study"].get<int>());
    return std::make_pair(std::move(client), path);
  };
  auto [alice, alice_study] = submit(token_);
  auto [bob, bob_study] = submit(bob_token);
  // alice waits twice (the clock does not move: they wait until the hub stops).
  std::vector<std::thread> waits;
  for (int i = 0; i < 2; ++i) {
    waits.emplace_back([&, path = alice_study] {
      net::TlsIdentity researcher;
      researcher.ca_cert = dir_ + "/ca/ca.crt";
      auto client = net::HttpsClient::Create("localhost", hub_->port(), researcher).value();
      client->SetBearerToken(token_);
      EXPECT_TRUE(client->Get(path).ok());
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto begin = std::chrono::steady_clock::now();
  Result<net::HttpResponse> got = bob->Get(bob_study, std::chrono::seconds(10));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(2));
  EXPECT_EQ(json::parse(got->body)["status"], "running");
  hub_->Stop();
  for (auto& t : waits) t.join();
}

// Every node reviews each protocol version on its records: a researcher may have four waiting
// for the sites, and the fifth is refused by name until the nodes have received them.
TEST_F(FederationTest, AResearcherHasAFewProtocolsWaitingForTheSitesAtATime) {
  ResearcherConfig config;
  config.hub = {"localhost", hub_->port()};
  config.ca_cert = dir_ + "/ca/ca.crt";
  config.token = token_;
  auto protocol = [](int n) {
    return json{{"protocol", "P-" + std::to_string(n)},
                {"title", "organs"},
                {"dataset", "colon"},
                {"researchers", {"alice"}},
                {"expires", "2030-12-31"},
                {"analyses", {{{"id", "t"}, {"function", "table"}, {"rows", "rx"}}}}}
        .dump();
  };
  for (int n = 1; n <= 4; ++n) ASSERT_TRUE(SubmitProtocol(config, protocol(n)).ok()) << n;
  auto fifth = SubmitProtocol(config, protocol(5));
  ASSERT_FALSE(fifth.ok());
  EXPECT_NE(fifth.status().message().find("limit protocols_per_researcher"), std::string::npos)
      << fifth.status().message();
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  bool taken = false;
  for (int i = 0; i < 200 && !taken; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    taken = SubmitProtocol(config, protocol(5)).ok();
  }
  EXPECT_TRUE(taken) << "the nodes received the first four, and the fifth is taken";
}

TEST_F(FederationTest, AStudySurvivesAHubRestart) {
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  auto first = Run(kCoxStudy);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  hub_->Stop();
  hub_.reset();
  StartHub();  // same store, new port; the study is still there
  auto store = store::HubStore::Open(dir_ + "/hub");
  ASSERT_TRUE(store.ok());
  auto study = (*store)->Study((*first)["study"].get<int64_t>());
  ASSERT_TRUE(study.ok());
  EXPECT_EQ(study->status, "done");
  EXPECT_EQ(json::parse(study->result)["results"]["cox"]["results"]["coef"],
            (*first)["results"]["cox"]["results"]["coef"]);
}

}  // namespace
}  // namespace passerelle::federation

namespace passerelle::federation {
namespace {

// A site3 "node" with the right certificate that answers each task with `garbage` (JSON text or
// not): the analysis fails for site3, naming it; the hub and the other nodes carry on.
TEST_F(FederationTest, ANodeAnsweringGarbageFailsItsSiteAndNothingElse) {
  StartNode("site1");
  StartNode("site2");
  for (const std::string& garbage :
       {std::string("<html>oops</html>"), std::string(R"({"loglik": "x", "score": [1]})"),
        std::string(R"({"n": 1e308, "events": -4, "coef_names": 7})")}) {
    std::atomic<bool> done{false};
    std::thread fake([&] {
      auto client = net::HttpsClient::Create("127.0.0.1", hub_->port(), Identity("ca", "site3"));
      ASSERT_TRUE(client.ok());
      const std::string poll = json{{"v", 1}, {"site", "site3"}, {"wait_seconds", 1}}.dump();
      while (!done) {
        auto r = (*client)->Post("/v1/node/poll", poll);
        if (!r.ok() || r->status != 200) continue;
        const json message = json::parse(r->body);
        if (message["task"].is_null()) continue;
        const std::string body = R"({"v": 1, "id": )" +
                                 std::to_string(message["task"]["id"].get<int64_t>()) +
                                 R"(, "status": "done", "result": )" +
                                 (garbage[0] == '{' ? garbage : json(garbage).dump()) + "}";
        (void)(*client)->Post("/v1/node/result", body);
      }
    });
    auto result = Run(kCoxStudy);
    done = true;
    fake.join();
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    const json& cox = (*result)["results"]["cox"];
    EXPECT_EQ(cox["status"], "failed") << cox.dump();
    EXPECT_NE(cox["notes"].dump().find("site site3: answered garbage"), std::string::npos)
        << cox.dump();
    EXPECT_TRUE(!cox.contains("results") || cox["results"].is_null()) << cox.dump();
  }
  // The real node comes back: the same study runs.
  StartNode("site3");
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ((*result)["results"]["cox"]["status"], "ok") << result->dump();
}

}  // namespace
}  // namespace passerelle::federation

namespace passerelle::federation {
namespace {

// Entries removed from the end of a site's audit log leave no trace in the chain itself; the hub
// has seen the head of the chain in every answer, so it notices, names the site and believes
// nothing from it until the site is registered again.
TEST_F(FederationTest, TheHubNoticesAnAuditLogThatWentBack) {
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  ASSERT_TRUE(Run(kCoxStudy).ok());
  StopNodes();
  {
    auto db = store::Database::Open(dir_ + "/site1/audit.sqlite", false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec("DELETE FROM audit WHERE seq > (SELECT MAX(seq) - 6 FROM audit)").ok());
  }
  for (const char* s : {"site1", "site2", "site3"}) StartNode(s);
  auto result = Run(kCoxStudy);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  EXPECT_EQ(cox["status"], "failed") << cox.dump();
  EXPECT_NE(cox["notes"].dump().find("site site1: its audit log ends at entry"), std::string::npos)
      << cox.dump() << hub_log_.Text() << node_log_.Text();
  EXPECT_NE(hub_log_.Text().find("hub: site site1: its audit log ends at entry"),
            std::string::npos);
  // Still not believed at the next study, though its log has grown past the old head.
  EXPECT_EQ((*Run(kCoxStudy))["results"]["cox"]["status"], "failed");
  // The hub's operator registers the site again (after its custodian has looked): believed.
  auto hub_store = store::HubStore::Open(dir_ + "/hub");
  ASSERT_TRUE(hub_store.ok());
  auto info = net::VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/site1.crt");
  ASSERT_TRUE(info.ok());
  ASSERT_TRUE((*hub_store)->AddSite("site1", info->sha256).ok());
  EXPECT_EQ((*Run(kCoxStudy))["results"]["cox"]["status"], "ok");
}

// A study run on its own thread (as `passerelle study run` runs it) while the test looks at the
// hub.
class Watched {
 public:
  explicit Watched(std::function<Result<json>(std::function<void(int64_t)>)> run)
      : thread_([this, run] {
          result_ = run([this](int64_t id) {
            std::lock_guard<std::mutex> lock(mu_);
            id_ = id;
          });
        }) {}
  ~Watched() {
    if (thread_.joinable()) thread_.join();
  }
  int64_t id() {
    std::lock_guard<std::mutex> lock(mu_);
    return id_;
  }
  Result<json> Wait() {
    thread_.join();
    return result_;
  }

 private:
  std::mutex mu_;
  int64_t id_ = 0;
  Result<json> result_ = Internal("not run");
  std::thread thread_;
};

class HubViewTest : public FederationTest {
 protected:
  // GET as the researcher.
  json Get(const std::string& path) {
    if (!client_) {
      net::TlsIdentity researcher;
      researcher.ca_cert = dir_ + "/ca/ca.crt";
      client_ = net::HttpsClient::Create("localhost", hub_->port(), researcher).value();
      client_->SetBearerToken(token_);
    }
    Result<net::HttpResponse> r = client_->Get(path);
    EXPECT_TRUE(r.ok() && r->status == 200) << path;
    return r.ok() ? json::parse(r->body) : json();
  }

  std::unique_ptr<Watched> Submit(const json& study) {
    return std::make_unique<Watched>(
        [this, study](std::function<void(int64_t)> on_id) -> Result<json> {
          ResearcherConfig config;
          config.hub = {"localhost", hub_->port()};
          config.ca_cert = dir_ + "/ca/ca.crt";
          config.token = token_;
          ASSIGN_OR_RETURN(std::string text, RunStudy(config, study.dump(), on_id));
          return json::parse(text);
        });
  }

  // The study's progress once its task for site3 (whose node is not running) waits.
  json WaitingOnSite3(Watched& study) {
    json progress;
    for (int i = 0; i < 400; ++i) {
      if (study.id() > 0) {
        progress = Get("/v1/studies/" + std::to_string(study.id()) + "/progress");
        // Sites 1 and 2 answer their first task while site 3 waits (on a loaded machine, a
        // moment after its task is out).
        if (progress.contains("sites") && progress["sites"][2]["state"] == "waiting" &&
            progress["sites"][0]["state"] == "answered" &&
            progress["sites"][1]["state"] == "answered") {
          break;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return progress;
  }

  void Import(const std::string& site, bool with_dictionary) {
    auto s = store::SiteStore::Open(dir_ + "/" + site);
    ASSERT_TRUE(s.ok());
    store::ImportRequest import;
    import.dataset = "colon";
    import.file_path = kRef + "colon_death_" + site + ".csv";
    if (with_dictionary) {
      import.dictionary =
          *data::ParseDictionary(ReadAll(kRef + "colon_death.dictionary.toml"), "dict");
    }
    ASSERT_TRUE((*s)->Import(import).ok());
  }

  std::unique_ptr<net::HttpsClient> client_;
};

TEST_F(HubViewTest, SitesCatalogsProgressAndDatasetVersions) {
  // site2 imports its file again without a dictionary: version 2, its dictionary inferred from
  // the records, so none of its levels may leave.
  Import("site2", /*with_dictionary=*/false);
  StartNode("site1");
  StartNode("site2");

  // The catalog: what each site holds, from its node's polls. Metadata only.
  json sites;
  for (int i = 0; i < 100; ++i) {
    sites = Get("/v1/sites")["sites"];
    if (!sites[0]["datasets"].empty() && !sites[1]["datasets"].empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(sites.size(), 3u);
  EXPECT_TRUE(sites[0]["online"].get<bool>());
  EXPECT_EQ(sites[2]["datasets"], json::array());  // site3's node never polled
  const json site1 = sites[0]["datasets"][0], site2 = sites[1]["datasets"][0];
  EXPECT_EQ(site1["name"], "colon");
  EXPECT_EQ(site1["version"], 1);
  EXPECT_EQ(site2["version"], 2);
  EXPECT_EQ(site1["dictionary"], "colon.v1");
  const std::set<std::string> dataset_keys = {"name", "version", "imported_at", "dictionary",
                                              "variables"};
  const std::set<std::string> variable_keys = {"name", "type", "description", "unit", "levels"};
  int declared = 0;
  for (const json* d : {&site1, &site2}) {
    for (const auto& [key, value] : d->items()) EXPECT_TRUE(dataset_keys.count(key)) << key;
    for (const json& v : (*d)["variables"]) {
      for (const auto& [key, value] : v.items()) EXPECT_TRUE(variable_keys.count(key)) << key;
      if (d == &site2) {
        EXPECT_FALSE(v.contains("levels")) << v.dump();  // read from records
      }
      if (d == &site1 && v["name"] == "rx") {
        EXPECT_EQ(v["levels"], json({"Obs", "Lev", "Lev+5FU"}));  // declared by the dictionary
        ++declared;
      }
    }
  }
  EXPECT_EQ(declared, 1);
  // What left is in the site's audit log: its custodian sees the catalog the hub shows.
  auto audit = store::AuditLog::Open(dir_ + "/site2");
  ASSERT_TRUE(audit.ok());
  auto entries = (*audit)->Entries();
  ASSERT_TRUE(entries.ok() && !entries->empty());
  EXPECT_EQ(entries->front().kind, "catalog");
  EXPECT_EQ(json::parse(entries->front().detail), sites[1]["datasets"]);

  // The study waits on site3, whose node is not running yet: the hub says where it is.
  std::unique_ptr<Watched> study = Submit(kCoxStudy);
  const json progress = WaitingOnSite3(*study);
  EXPECT_EQ(progress["status"], "running");
  EXPECT_EQ(progress["analysis"], "cox");
  EXPECT_EQ(progress["index"], 1);
  EXPECT_EQ(progress["of"], 2);
  EXPECT_EQ(progress["finished"], json::array());
  EXPECT_EQ(progress["sites"], json::parse(R"([{"site": "site1", "round": 1, "state": "answered"},
                                               {"site": "site2", "round": 1, "state": "answered"},
                                               {"site": "site3", "round": 1, "state": "waiting"}])"));
  StartNode("site3");
  Result<json> result = study->Wait();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ((*result)["results"]["cox"]["status"], "ok");
  // Each site's releases came from one version of its dataset, named in the provenance.
  const json datasets = (*result)["provenance"]["datasets"];
  EXPECT_EQ(datasets["site1"]["version"], 1);
  EXPECT_EQ(datasets["site2"]["version"], 2);
  EXPECT_EQ(datasets["site3"]["version"], 1);
  EXPECT_EQ(datasets["site2"]["imported_at"], site2["imported_at"]);
  const json done = Get("/v1/studies/" + std::to_string(study->id()) + "/progress");
  EXPECT_EQ(done["status"], "done");
  EXPECT_FALSE(done.contains("sites"));
  // Another researcher finds no such study: not its results, progress or report.
  auto hub_store = store::HubStore::Open(dir_ + "/hub");
  ASSERT_TRUE(hub_store.ok());
  Result<std::string> bob_token = (*hub_store)->AddUser("bob");
  ASSERT_TRUE(bob_token.ok());
  net::TlsIdentity researcher;
  researcher.ca_cert = dir_ + "/ca/ca.crt";
  auto bob = net::HttpsClient::Create("localhost", hub_->port(), researcher).value();
  bob->SetBearerToken(*bob_token);
  const std::string path = "/v1/studies/" + std::to_string(study->id());
  for (const std::string& what : {path, path + "/progress", path + "/report"}) {
    Result<net::HttpResponse> r = bob->Get(what);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, 404) << what;
    EXPECT_NE(r->body.find("no study " + std::to_string(study->id())), std::string::npos);
    EXPECT_EQ(r->body.find("coef"), std::string::npos);
  }
}

TEST_F(HubViewTest, ASiteWhoseDataChangesDuringAStudyFailsIt) {
  StartNode("site1");
  StartNode("site2");
  std::unique_ptr<Watched> study = Submit(kCoxStudy);
  // While the Cox model's first round waits on site3, site1 imports its file again.
  EXPECT_EQ(WaitingOnSite3(*study)["sites"][0]["state"], "answered");
  Import("site1", /*with_dictionary=*/true);
  StartNode("site3");
  Result<json> result = study->Wait();
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  const json& cox = (*result)["results"]["cox"];
  EXPECT_EQ(cox["status"], "failed");
  EXPECT_EQ(cox["notes"][0],
            "site site1: its dataset changed during the study (version 1, then 2); run it again")
      << cox.dump();
  // The running node tells the hub of its new version at its next poll.
  json site1;
  for (int i = 0; i < 200; ++i) {
    site1 = Get("/v1/sites")["sites"][0]["datasets"][0];
    if (site1["version"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(site1["version"], 2) << site1.dump();
}

}  // namespace
}  // namespace passerelle::federation
