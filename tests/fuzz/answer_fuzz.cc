// Fuzz target: the answers of a node as the hub combines them (a node's answer is text from
// another machine). The first byte picks one of the analyses; the rest, cut at each 0x1e byte, is
// what site A answers to its first, second, ... task (its last part to any later one), while
// site B answers from its real table. Whatever A says: no crash, no hang, no leak; a result or a
// clear failure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "passerelle/analysis/federated.h"
#include "passerelle/analysis/test_site.h"
#include "passerelle/data/csv_table.h"
#include "passerelle/privacy/policy.h"

namespace {

using passerelle::analysis::AnalysisRequest;

const passerelle::data::Table& SiteB() {
  static const passerelle::data::Table table =
      passerelle::data::ReadCsvTable(
          {PASSERELLE_SOURCE_DIR "/tests/reference/data/colon_death_site2.csv"}, {})
          .value();
  return table;
}

std::vector<AnalysisRequest> Requests() {
  std::vector<AnalysisRequest> r(6);
  r[0].function = "coxph";
  r[0].formula = "Surv(time, status) ~ rx + age";
  r[1].function = "glm";
  r[1].family = "binomial";
  r[1].formula = "status ~ rx + age";
  r[2].function = "survfit";
  r[2].formula = "Surv(time, status) ~ rx";
  r[3].function = "survdiff";
  r[3].formula = "Surv(time, status) ~ rx";
  r[4].function = "table";
  r[4].rows = "rx";
  r[4].cols = "sex";
  r[5].function = "describe";
  r[5].variables = {"age", "rx", "nodes"};
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace passerelle;
  static const std::vector<AnalysisRequest> requests = Requests();
  static const privacy::Policy policy_b = privacy::DefaultPolicy("b");
  if (size == 0) return 0;
  const AnalysisRequest& request = requests[data[0] % requests.size()];
  std::vector<std::string> answers;
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  for (size_t cut; (cut = rest.find('\x1e')) != std::string_view::npos;
       rest.remove_prefix(cut + 1)) {
    answers.emplace_back(rest.substr(0, cut));
  }
  answers.emplace_back(rest);
  size_t asked = 0;
  std::vector<analysis::SiteLink> sites = {
      {"a", testing::OverText([&](const std::string&) -> Result<std::string> {
         if (asked > 64) return Unavailable("site a: too many rounds");
         const size_t i = std::min(asked++, answers.size() - 1);
         return answers[i];
       })},
      {"b", testing::OverText([&](const std::string& task) -> Result<std::string> {
         auto release = analysis::RunLocalStep(task, SiteB(), policy_b);
         if (!release.ok()) return release.status();
         return release->aggregate;
       })}};
  (void)analysis::RunFederated(request, sites);
  return 0;
}
