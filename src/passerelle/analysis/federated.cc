#include "passerelle/analysis/federated.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "passerelle/analysis/kind_support.h"
#include "passerelle/base/text.h"
#include "passerelle/formula/expr.h"
#include "passerelle/formula/model.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {

// A number a site states that is not a count (a mean), or NaN where it suppressed it.
double NumberOrNaN(const json& j) { return j.is_null() ? kNaN : j.get<double>(); }

// A transport whose errors name the site.
Transport Named(const SiteLink& link) {
  return [link](const json& task) -> Result<json> {
    Result<json> answer = link.transport(task);
    if (answer.ok()) return answer;
    return Status(answer.status().code(), "site " + link.name + ": " + answer.status().message());
  };
}

// Each site's answer to `task`, every site asked at once.
Result<std::vector<json>> AskAll(const std::vector<SiteLink>& sites, const json& task) {
  return EachSite<json>(sites.size(), [&](size_t s) { return Named(sites[s])(task); });
}

stats::ConcordanceAggregate ReadConcordance(const json& j) {
  stats::ConcordanceAggregate c;
  c.concordant = SitePairCount(j.at("concordant"));
  c.discordant = SitePairCount(j.at("discordant"));
  c.tied_risk = SitePairCount(j.at("tied_x"));
  c.tied_time = j.at("tied_y").is_null() ? kNaN : SitePairCount(j.at("tied_y"));
  c.tied_both = j.at("tied_xy").is_null() ? kNaN : SitePairCount(j.at("tied_xy"));
  c.c2 = j.at("c2").get<double>();
  c.cm = j.at("cm").get<double>();
  c.m2 = j.at("m2").get<double>();
  return c;
}

bool HasSiteStrata(const formula::Formula& f) {
  return std::any_of(f.strata.begin(), f.strata.end(),
                     [](const formula::Expr& e) { return formula::Deparse(e) == "site"; });
}

std::string CountWord(double n, const char* what) {
  return FormatNumber(n) + " " + what + (n == 1 ? "" : "s");
}

// The rows dropped for missing values across sites, as a note.
void NoteOmitted(const std::vector<double>& omitted, AnalysisOutput* out) {
  double total = 0;
  bool suppressed = false;
  for (double o : omitted) {
    if (o != o) {
      suppressed = true;
    } else {
      total += o;
    }
  }
  if (suppressed) {
    out->notes.push_back("observations deleted due to missingness: " + FormatNumber(total) +
                         " plus fewer than k at a site that suppresses small counts");
  } else if (total > 0) {
    out->notes.push_back(CountWord(total, "observation") + " deleted due to missingness");
  }
}

// The factor levels every site builds its design with, as JSON: the merge of the sites'
// `which` answer to the "levels" step — "levels" (all: R's coxph keeps unused levels, and
// factor(x) of a number has each site's values) or "used_levels" (R's glm drops unused ones).
Result<std::string> AgreedLevels(json task, const std::vector<SiteLink>& sites,
                                 const std::string& which, std::vector<json>* answers_out) {
  task["step"] = "levels";
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::map<std::string, std::vector<std::vector<std::string>>> per_variable;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&] {
      for (const auto& [name, levels] : answers[s].at(which).items()) {
        per_variable[name].push_back(levels.get<std::vector<std::string>>());
      }
      return Status::Ok();
    }));
  }
  json levels = json::object();
  for (const auto& [name, lists] : per_variable) levels[name] = MergeLevels(lists);
  if (answers_out) *answers_out = std::move(answers);
  return levels.dump();
}

json StepSignature(const json& step) {
  json sig = {{"analysis", step.value("analysis", "")}, {"subset", step.value("subset", "")}};
  const std::string kind = step.value("step", "");
  if (kind == "counts") sig["bin_days"] = step.value("bin_days", 0.0);
  if (kind == "logrank") sig["rho"] = step.value("rho", 0.0);
  return sig;
}

json FormulaSignature(const json& step) {
  json sig = StepSignature(step);
  sig["formula"] = step.value("formula", "");
  return sig;
}

double BinDaysOf(const AnalysisRequest& r) { return r.bin_days > 0 ? r.bin_days : kDefaultBinDays; }

namespace {

std::optional<double> TrailingNumber(const std::string& label) {
  const size_t eq = label.rfind('=');
  const std::string_view tail =
      std::string_view(label).substr(eq == std::string::npos ? 0 : eq + 1);
  double v = 0;
  const auto [ptr, ec] = std::from_chars(tail.data(), tail.data() + tail.size(), v);
  if (ec != std::errc() || ptr != tail.data() + tail.size() || tail.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::vector<std::string> MergeLevels(const std::vector<std::vector<std::string>>& per_site) {
  std::vector<std::string> labels;
  std::map<std::string, size_t> first;
  for (const auto& site : per_site) {
    for (const std::string& l : site) {
      if (first.emplace(l, labels.size()).second) labels.push_back(l);
    }
  }
  std::vector<std::set<size_t>> after(labels.size());
  std::vector<size_t> indegree(labels.size(), 0);
  for (const auto& site : per_site) {
    for (size_t i = 1; i < site.size(); ++i) {
      if (after[first[site[i - 1]]].insert(first[site[i]]).second) ++indegree[first[site[i]]];
    }
  }
  auto before = [&](size_t a, size_t b) {
    const auto x = TrailingNumber(labels[a]), y = TrailingNumber(labels[b]);
    if (x && y && *x != *y) return *x < *y;
    return a < b;
  };
  std::vector<std::string> out;
  std::vector<uint8_t> done(labels.size(), 0);
  while (out.size() < labels.size()) {
    std::optional<size_t> pick;
    for (size_t i = 0; i < labels.size(); ++i) {
      if (!done[i] && indegree[i] == 0 && (!pick || before(i, *pick))) pick = i;
    }
    if (!pick) {  // sites disagree on the order: first appearance for the rest
      for (size_t i = 0; i < labels.size(); ++i) {
        if (!done[i] && !pick) pick = i;
      }
    }
    done[*pick] = 1;
    out.push_back(labels[*pick]);
    for (size_t j : after[*pick]) {
      if (indegree[j]) --indegree[j];
    }
  }
  return out;
}

Result<AnalysisOutput> RunFederated(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites) {
  if (sites.empty()) return FailedPrecondition("no site takes part");
  const AnalysisKind* kind = FindAnalysisKind(request.function);
  if (!kind) return InvalidArgument("unknown analysis '" + request.function + "'");
  return kind->run_federated(request, sites);
}

}  // namespace passerelle::analysis
