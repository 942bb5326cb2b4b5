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

#include "passerelle/analysis/site_answer.h"
#include "passerelle/base/text.h"
#include "passerelle/formula/expr.h"
#include "passerelle/formula/model.h"
#include "passerelle/stats/contingency.h"
#include "passerelle/stats/survival.h"

namespace passerelle::analysis {
namespace {

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A number a site states that is not a count (a mean), or NaN where it suppressed it.
double NumberOrNaN(const json& j) { return j.is_null() ? kNaN : j.get<double>(); }

// A transport whose errors name the site.
Transport Named(const SiteLink& link) {
  return [link](const std::string& task) -> Result<std::string> {
    Result<std::string> answer = link.transport(task);
    if (answer.ok()) return answer;
    return Status(answer.status().code(), "site " + link.name + ": " + answer.status().message());
  };
}

// Each site's answer to `task`, parsed.
Result<std::vector<json>> AskAll(const std::vector<SiteLink>& sites, const json& task) {
  std::vector<json> answers;
  for (const SiteLink& link : sites) {
    ASSIGN_OR_RETURN(std::string text, Named(link)(task.dump()));
    try {
      answers.push_back(json::parse(text));
    } catch (const json::exception&) {
      return Unavailable("site " + link.name + ": answered garbage");
    }
  }
  return answers;
}

// Reads a site's answer; a malformed one is that site's failure.
template <typename Read>
Status Reading(const std::string& site, Read read) {
  try {
    return read();
  } catch (const json::exception& e) {
    return Unavailable("site " + site + ": answered garbage (" + e.what() + ")");
  } catch (const MalformedAnswer& e) {
    return Unavailable("site " + site + ": answered garbage (" + e.what() + ")");
  }
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
Result<std::string> AgreedLevels(const AnalysisRequest& request, const std::vector<SiteLink>& sites,
                                 const std::string& which) {
  json task = {{"analysis", request.function},
               {"step", "levels"},
               {"formula", request.formula},
               {"subset", request.subset}};
  if (request.function == "glm") task["family"] = request.family;
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
  return levels.dump();
}

// Every site must build the same design, or the sums mean nothing.
template <typename Site>
Status SameDesign(const std::string& first_name, const Site& first, const std::string& name,
                  const Site& site) {
  if (site.coef_names() == first.coef_names()) return Status::Ok();
  return FailedPrecondition("site " + name + ": its model has the coefficients " +
                            Join(site.coef_names(), ", ") + ", site " + first_name + "'s " +
                            Join(first.coef_names(), ", "));
}

Result<AnalysisOutput> FederatedCoxph(const AnalysisRequest& request, const formula::Formula& f,
                                      const std::vector<SiteLink>& sites) {
  CoxphOptions options;
  ASSIGN_OR_RETURN(options.ties, ParseTies(request.ties));
  options.robust = !f.clusters.empty();
  ASSIGN_OR_RETURN(const std::string levels, AgreedLevels(request, sites, "levels"));
  std::vector<std::unique_ptr<RemoteCoxSite>> remote;
  std::vector<CoxSite*> ptrs;
  for (const SiteLink& link : sites) {
    ASSIGN_OR_RETURN(auto site, RemoteCoxSite::Connect(Named(link), request.formula, request.subset,
                                                       request.ties, levels));
    if (!remote.empty()) RETURN_IF_ERROR(SameDesign(sites[0].name, *remote[0], link.name, *site));
    ptrs.push_back(site.get());
    remote.push_back(std::move(site));
  }
  AnalysisOutput out;
  out.request = request;
  CoxphOutput cox;
  cox.ties = request.ties;
  const std::vector<std::string> names = remote[0]->coef_names();
  double n = 0;
  std::vector<double> sums(names.size(), 0.0), omitted;
  for (const auto& site : remote) {
    n += site->n();
    for (size_t j = 0; j < names.size(); ++j) sums[j] += site->sums()[j];
    omitted.push_back(site->omitted());
  }
  for (double s : sums) cox.means.push_back(s / n);  // NaN where a site withheld a small count
  NoteOmitted(omitted, &out);
  for (double o : omitted) cox.n_omitted_na += o == o ? static_cast<size_t>(o) : 0;
  if (!HasSiteStrata(f)) {
    out.notes.push_back(
        "stratified by site: each site has its own baseline hazard, as with + strata(site)");
  }
  ASSIGN_OR_RETURN(cox.fit, FitCoxph(ptrs, names, options));
  for (const std::string& w : cox.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(cox);
  return out;
}

Result<AnalysisOutput> FederatedGlm(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(stats::Family family, ParseFamily(request.family));
  ASSIGN_OR_RETURN(const std::string levels, AgreedLevels(request, sites, "used_levels"));
  std::vector<std::unique_ptr<RemoteGlmSite>> remote;
  std::vector<GlmSite*> full, null;
  for (const SiteLink& link : sites) {
    for (bool null_model : {false, true}) {
      ASSIGN_OR_RETURN(auto site,
                       RemoteGlmSite::Connect(Named(link), request.formula, request.subset,
                                              request.family, null_model, levels));
      if (!null_model && !remote.empty()) {
        RETURN_IF_ERROR(SameDesign(sites[0].name, *remote[0], link.name, *site));
      }
      (null_model ? null : full).push_back(site.get());
      remote.push_back(std::move(site));
    }
  }
  AnalysisOutput out;
  out.request = request;
  GlmOutput glm;
  std::vector<double> omitted;
  for (size_t i = 0; i < remote.size(); i += 2) omitted.push_back(remote[i]->omitted());
  NoteOmitted(omitted, &out);
  for (double o : omitted) glm.n_omitted_na += o == o ? static_cast<size_t>(o) : 0;
  const RemoteGlmSite& first = *remote[0];
  ASSIGN_OR_RETURN(glm.fit, FitGlm(full, null, first.coef_names(), family, first.intercept()));
  for (const std::string& w : glm.fit.warnings) out.notes.push_back("warning: " + w);
  out.result = std::move(glm);
  return out;
}

// One site's Kaplan-Meier counts for a group (and stratum), as released.
struct Cell {
  std::string group, stratum;
  bool withheld = false;
  bool truncated = false;
  stats::TimeCounts counts;
};

// `event_levels`: competing events' levels, the sites' merged (empty: one kind of event); each
// site's counts of each cause are mapped to them (a cause a site has no record of: zeros).
Result<std::vector<std::vector<Cell>>> AskCounts(const AnalysisRequest& request, double bin,
                                                 const std::vector<SiteLink>& sites,
                                                 std::vector<double>* omitted,
                                                 std::vector<std::string>* event_levels) {
  const json task = {{"analysis", request.function},
                     {"step", "counts"},
                     {"formula", request.formula},
                     {"subset", request.subset},
                     {"bin_days", bin}};
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::vector<std::vector<std::string>> site_levels;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      site_levels.push_back(answers[s].value("event_levels", std::vector<std::string>{}));
      return Status::Ok();
    }));
  }
  // Every site censors the same way: the same first level (or a 0/1 event everywhere).
  auto censoring = [](const std::vector<std::string>& levels) {
    return levels.empty() ? std::string("none (a 0/1 event)") : "'" + levels[0] + "'";
  };
  for (size_t s = 1; s < sites.size(); ++s) {
    if (censoring(site_levels[s]) != censoring(site_levels[0])) {
      return FailedPrecondition("site " + sites[s].name + ": its event's censoring level is " +
                                censoring(site_levels[s]) + ", site " + sites[0].name + "'s is " +
                                censoring(site_levels[0]) + ": give the sites the same dictionary");
    }
  }
  *event_levels = MergeLevels(site_levels);
  std::vector<std::vector<Cell>> per_site(sites.size());
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      omitted->push_back(SiteCountOrNaN(answers[s].at("omitted")));
      const std::vector<std::string>& levels = site_levels[s];
      const size_t causes = levels.empty() ? 0 : levels.size() - 1;
      for (const json& j : answers[s].at("cells")) {
        Cell c;
        c.group = j.at("group").get<std::string>();
        c.stratum = j.at("stratum").get<std::string>();
        c.withheld = j.contains("withheld");
        if (!c.withheld) {
          c.truncated = j.at("truncated").get<bool>();
          c.counts.n = SiteCount(j.at("n"));
          c.counts.time = j.at("time").get<std::vector<double>>();
          c.counts.n_event = SiteCounts(j.at("n_event"));
          c.counts.n_censor = SiteCounts(j.at("n_censor"));
          if (causes > 0) {
            for (const json& cause : j.at("n_cause")) c.counts.n_cause.push_back(SiteCounts(cause));
          }
          bool unequal = c.counts.n_event.size() != c.counts.time.size() ||
                         c.counts.n_censor.size() != c.counts.time.size() ||
                         c.counts.n_cause.size() != causes;
          for (const auto& d : c.counts.n_cause) unequal |= d.size() != c.counts.time.size();
          if (unequal) {
            return Unavailable("site " + sites[s].name + ": answered counts of unequal lengths");
          }
          if (causes > 0) {  // in the merged order of the causes
            std::vector<std::vector<double>> merged(event_levels->size() - 1,
                                                    std::vector<double>(c.counts.time.size(), 0.0));
            for (size_t k = 0; k < causes; ++k) {
              const size_t at =
                  std::find(event_levels->begin(), event_levels->end(), levels[k + 1]) -
                  event_levels->begin();
              merged[at - 1] = std::move(c.counts.n_cause[k]);
            }
            c.counts.n_cause = std::move(merged);
          }
        }
        per_site[s].push_back(std::move(c));
      }
      return Status::Ok();
    }));
  }
  return per_site;
}

// The last time at which every contribution in `cells` is known: +inf when none is truncated.
double CommonEnd(const std::vector<const Cell*>& cells) {
  double end = std::numeric_limits<double>::infinity();
  for (const Cell* c : cells) {
    if (!c->truncated) continue;
    end = std::min(end, c->counts.time.empty() ? -1.0 : c->counts.time.back());
  }
  return end;
}

std::vector<std::vector<std::string>> Labels(const std::vector<std::vector<Cell>>& per_site,
                                             std::string Cell::*field) {
  std::vector<std::vector<std::string>> out;
  for (const auto& cells : per_site) {
    std::vector<std::string> labels;
    for (const Cell& c : cells) {
      if (std::find(labels.begin(), labels.end(), c.*field) == labels.end()) {
        labels.push_back(c.*field);
      }
    }
    out.push_back(std::move(labels));
  }
  return out;
}

std::string Day(double t) { return FormatNumber(t); }

Result<AnalysisOutput> FederatedSurvfit(const AnalysisRequest& request, const formula::Formula& f,
                                        const std::vector<SiteLink>& sites) {
  if (!f.strata.empty()) {
    return InvalidArgument(
        "survfit: put the grouping variables on the right-hand side; "
        "strata() belongs to coxph and survdiff");
  }
  AnalysisOutput out;
  out.request = request;
  out.request.bin_days = request.bin_days > 0 ? request.bin_days : kDefaultBinDays;
  std::vector<double> omitted;
  std::vector<std::string> event_levels;
  ASSIGN_OR_RETURN(auto per_site,
                   AskCounts(out.request, out.request.bin_days, sites, &omitted, &event_levels));
  NoteOmitted(omitted, &out);
  SurvfitOutput km;
  km.SetStates(event_levels);
  for (const std::string& group : MergeLevels(Labels(per_site, &Cell::group))) {
    std::vector<const Cell*> cells;
    std::string withheld_by;
    for (size_t s = 0; s < sites.size(); ++s) {
      for (const Cell& c : per_site[s]) {
        if (c.group != group) continue;
        if (c.withheld) withheld_by = sites[s].name;
        cells.push_back(&c);
      }
    }
    if (!withheld_by.empty()) {
      out.notes.push_back(group + ": no curve; site " + withheld_by +
                          " withholds it (rule min_cell_count: fewer than k patients or events)");
      continue;
    }
    const double end = CommonEnd(cells);
    stats::TimeCounts pooled;
    for (const Cell* c : cells) {
      pooled = AddCounts(pooled, c->counts);
    }
    while (!pooled.time.empty() && pooled.time.back() > end) {
      pooled.time.pop_back();
      pooled.n_event.pop_back();
      pooled.n_censor.pop_back();
      for (auto& d : pooled.n_cause) d.pop_back();
    }
    if (end < std::numeric_limits<double>::infinity()) {
      out.notes.push_back(group + ": shown to day " + Day(end) +
                          "; after it a site has fewer than k patients at risk (rule "
                          "min_cell_count)");
    }
    km.strata.push_back(group);
    km.Add(pooled);
  }
  if (km.strata.empty()) {
    return PermissionDenied("no group has a curve every site releases (rule min_cell_count)");
  }
  out.result = std::move(km);
  return out;
}

// survdiff with strata(site): each site's per-stratum sums, groups mapped to the merged order.
Result<AnalysisOutput> ExactSurvdiff(const AnalysisRequest& request,
                                     const std::vector<SiteLink>& sites) {
  const json task = {{"analysis", "survdiff"},
                     {"step", "logrank"},
                     {"formula", request.formula},
                     {"subset", request.subset},
                     {"rho", request.rho}};
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::vector<std::vector<std::string>> site_groups(sites.size());
  std::vector<double> omitted;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&] {
      site_groups[s] = answers[s].at("groups").get<std::vector<std::string>>();
      omitted.push_back(SiteCountOrNaN(answers[s].at("omitted")));
      return Status::Ok();
    }));
  }
  const std::vector<std::string> groups = MergeLevels(site_groups);
  const size_t k = groups.size();
  if (k < 2) return InvalidArgument("survdiff needs at least two groups");
  std::vector<std::string> strata;
  std::vector<stats::LogrankAggregate> per_stratum;
  for (size_t s = 0; s < sites.size(); ++s) {
    std::vector<size_t> to;
    for (const std::string& g : site_groups[s]) {
      to.push_back(std::find(groups.begin(), groups.end(), g) - groups.begin());
    }
    const size_t kl = to.size();
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      for (const json& j : answers[s].at("strata")) {
        stats::LogrankAggregate a;
        a.groups = k;
        a.n.assign(k, 0.0);
        a.obs.assign(k, 0.0);
        a.exp.assign(k, 0.0);
        a.var.assign(k * k, 0.0);
        const auto n = SiteCounts(j.at("n"));
        const auto obs = SiteCounts(j.at("obs"));
        const auto exp = j.at("exp").get<std::vector<double>>();
        const auto var = j.at("var").get<std::vector<double>>();
        if (n.size() != kl || obs.size() != kl || exp.size() != kl || var.size() != kl * kl) {
          return Unavailable("site " + sites[s].name + ": answered sums of the wrong size");
        }
        for (size_t g = 0; g < kl; ++g) {
          a.n[to[g]] = n[g];
          a.obs[to[g]] = obs[g];
          a.exp[to[g]] = exp[g];
          for (size_t h = 0; h < kl; ++h) a.var[to[g] * k + to[h]] = var[g * kl + h];
        }
        strata.push_back(j.at("stratum").get<std::string>());
        per_stratum.push_back(std::move(a));
      }
      return Status::Ok();
    }));
  }
  AnalysisOutput out;
  out.request = request;
  NoteOmitted(omitted, &out);
  out.result = SurvdiffFromStrata(request.rho, groups, strata, per_stratum);
  return out;
}

// survdiff without site strata: the pooled risk sets on the time grid, rebuilt from the sites'
// counts up to the last time every site releases (later subjects count as censored after it).
Result<AnalysisOutput> GridSurvdiff(const AnalysisRequest& request,
                                    const std::vector<SiteLink>& sites) {
  AnalysisOutput out;
  out.request = request;
  out.request.bin_days = request.bin_days > 0 ? request.bin_days : kDefaultBinDays;
  const double bin = out.request.bin_days;
  std::vector<double> omitted;
  std::vector<std::string> event_levels;  // the nodes refuse competing events for survdiff
  ASSIGN_OR_RETURN(auto per_site, AskCounts(out.request, bin, sites, &omitted, &event_levels));
  NoteOmitted(omitted, &out);
  std::vector<const Cell*> cells;
  for (size_t s = 0; s < sites.size(); ++s) {
    for (const Cell& c : per_site[s]) {
      if (c.withheld) {
        return PermissionDenied("site " + sites[s].name + ": rule min_cell_count: it withholds " +
                                c.group + " (fewer than k patients or events)");
      }
      cells.push_back(&c);
    }
  }
  const std::vector<std::string> groups = MergeLevels(Labels(per_site, &Cell::group));
  std::vector<std::string> strata = MergeLevels(Labels(per_site, &Cell::stratum));
  if (groups.size() < 2) return InvalidArgument("survdiff needs at least two groups");
  const double end = CommonEnd(cells);
  std::vector<stats::LogrankAggregate> per_stratum;
  for (const std::string& stratum : strata) {
    std::vector<double> time, status;
    std::vector<int32_t> group;
    for (const Cell* c : cells) {
      if (c->stratum != stratum) continue;
      const int32_t g =
          static_cast<int32_t>(std::find(groups.begin(), groups.end(), c->group) - groups.begin());
      double remaining = c->counts.n;
      auto add = [&](double t, double st, double count) {
        time.insert(time.end(), static_cast<size_t>(count), t);
        status.insert(status.end(), static_cast<size_t>(count), st);
        group.insert(group.end(), static_cast<size_t>(count), g);
        remaining -= count;
      };
      for (size_t j = 0; j < c->counts.time.size() && c->counts.time[j] <= end; ++j) {
        add(c->counts.time[j], 1, c->counts.n_event[j]);
        add(c->counts.time[j], 0, c->counts.n_censor[j]);
      }
      if (remaining > 0) add(end + bin, 0, remaining);
    }
    per_stratum.push_back(stats::LogrankStratum(time, status, group, groups.size(), request.rho));
  }
  if (end < std::numeric_limits<double>::infinity()) {
    out.notes.push_back("log-rank test over days 0 to " + Day(end) +
                        "; after it a site has fewer than k patients at risk (rule "
                        "min_cell_count)");
  }
  if (strata.size() == 1 && strata[0].empty()) strata.clear();
  out.result = SurvdiffFromStrata(request.rho, groups, strata, per_stratum);
  return out;
}

Result<AnalysisOutput> FederatedTable(const AnalysisRequest& request,
                                      const std::vector<SiteLink>& sites) {
  if (request.rows.empty()) return InvalidArgument("table needs rows (a variable)");
  const json task = {{"analysis", "table"},
                     {"rows", request.rows},
                     {"cols", request.cols},
                     {"subset", request.subset}};
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, task));
  std::vector<std::vector<std::string>> rows(sites.size()), cols(sites.size());
  std::vector<std::vector<double>> counts(sites.size());
  std::vector<double> missing;
  for (size_t s = 0; s < sites.size(); ++s) {
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      rows[s] = answers[s].at("row_levels").get<std::vector<std::string>>();
      cols[s] = answers[s].at("col_levels").get<std::vector<std::string>>();
      for (const json& c : answers[s].at("counts")) counts[s].push_back(SiteCountOrNaN(c));
      missing.push_back(SiteCountOrNaN(answers[s].at("missing")));
      if (counts[s].size() != rows[s].size() * std::max<size_t>(1, cols[s].size())) {
        return Unavailable("site " + sites[s].name + ": answered a table of the wrong size");
      }
      return Status::Ok();
    }));
  }
  TableOutput t;
  t.rows = request.rows;
  t.cols = request.cols;
  t.row_levels = MergeLevels(rows);
  t.col_levels = request.cols.empty() ? std::vector<std::string>() : MergeLevels(cols);
  const size_t nc = std::max<size_t>(1, t.col_levels.size());
  t.counts.assign(t.row_levels.size() * nc, 0.0);
  bool suppressed = false;
  for (size_t s = 0; s < sites.size(); ++s) {
    const size_t snc = std::max<size_t>(1, cols[s].size());
    for (size_t r = 0; r < rows[s].size(); ++r) {
      const size_t R =
          std::find(t.row_levels.begin(), t.row_levels.end(), rows[s][r]) - t.row_levels.begin();
      for (size_t c = 0; c < snc; ++c) {
        const size_t C = cols[s].empty()
                             ? 0
                             : std::find(t.col_levels.begin(), t.col_levels.end(), cols[s][c]) -
                                   t.col_levels.begin();
        const double v = counts[s][r * snc + c];
        suppressed |= v != v;
        t.counts[R * nc + C] += v;  // NaN stays NaN: a suppressed cell is not rebuilt
      }
    }
  }
  AnalysisOutput out;
  out.request = request;
  for (double m : missing) t.n_missing += m == m ? static_cast<size_t>(m) : 0;
  if (t.n_missing)
    out.notes.push_back(CountWord(t.n_missing, "row") + " with a missing value are not counted");
  if (suppressed) {
    out.notes.push_back(
        "cells where a site has 1 to k-1 records are suppressed there, and so in the total");
  } else if (!request.cols.empty()) {
    t.chisq = stats::PearsonChiSquare(t.counts, t.row_levels.size(), nc, true);
  }
  out.result = std::move(t);
  return out;
}

// Pools a describe column from the sites' columns: counts add, means and SDs combine exactly.
void PoolColumn(DescribedVariable* v, size_t sites) {
  double n = 0, missing = 0, sum = 0;
  bool n_known = true, missing_known = true, moments_known = true;
  for (size_t s = 0; s < sites; ++s) {
    n_known &= v->n[s] == v->n[s];
    missing_known &= v->missing[s] == v->missing[s];
    n += v->n[s];
    missing += v->missing[s];
    if (!v->mean.empty() && v->n[s] > 0) {
      moments_known &= v->mean[s] == v->mean[s];
      sum += v->n[s] * v->mean[s];
    }
  }
  v->n.push_back(n_known ? n : kNaN);
  v->missing.push_back(missing_known ? missing : kNaN);
  if (!v->mean.empty()) {
    double mean = kNaN, sd = kNaN;
    if (n_known && moments_known && n > 0) {
      mean = sum / n;
      double ss = 0;
      for (size_t s = 0; s < sites; ++s) {
        if (v->n[s] == 0) continue;
        const double d = v->mean[s] - mean;
        const double sds = v->n[s] > 1 ? v->sd[s] : 0;
        ss += (v->n[s] - 1) * sds * sds + v->n[s] * d * d;
      }
      if (n > 1) sd = std::sqrt(ss / (n - 1));
    }
    v->mean.push_back(mean);
    v->sd.push_back(sd);
  }
}

Result<AnalysisOutput> FederatedDescribe(const AnalysisRequest& request,
                                         const std::vector<SiteLink>& sites) {
  ASSIGN_OR_RETURN(std::vector<json> answers, AskAll(sites, json{{"analysis", "describe"},
                                                                 {"variables", request.variables},
                                                                 {"subset", request.subset}}));
  DescribeOutput d;
  const size_t ns = sites.size();
  std::map<std::string, size_t> index;
  std::vector<std::map<std::string, std::vector<double>>> level_counts;  // per variable
  for (size_t s = 0; s < ns; ++s) {
    d.columns.push_back(sites[s].name);
    RETURN_IF_ERROR(Reading(sites[s].name, [&]() -> Status {
      d.rows.push_back(SiteCount(answers[s].at("rows")));
      for (const json& j : answers[s].at("variables")) {
        const std::string name = j.at("name").get<std::string>();
        auto [it, added] = index.emplace(name, d.variables.size());
        if (added) {
          DescribedVariable v;
          v.name = name;
          v.type = j.at("type").get<std::string>();
          v.n.assign(ns, 0.0);
          v.missing.assign(ns, 0.0);
          if (j.contains("mean")) v.mean.assign(ns, 0.0), v.sd.assign(ns, 0.0);
          d.variables.push_back(std::move(v));
          level_counts.emplace_back();
        }
        DescribedVariable& v = d.variables[it->second];
        v.n[s] = SiteCountOrNaN(j.at("n"));
        v.missing[s] = SiteCountOrNaN(j.at("missing"));
        if (!v.mean.empty() && j.contains("mean")) {
          v.mean[s] = NumberOrNaN(j.at("mean"));
          v.sd[s] = NumberOrNaN(j.at("sd"));
        }
        if (j.contains("levels")) {
          const auto levels = j.at("levels").get<std::vector<std::string>>();
          const json& counts = j.at("counts");
          for (size_t l = 0; l < levels.size(); ++l) {
            auto& row = level_counts[it->second][levels[l]];
            row.resize(ns, 0.0);
            row[s] = SiteCountOrNaN(counts.at(l));
          }
          v.levels = MergeLevels({v.levels, levels});
        }
      }
      return Status::Ok();
    }));
  }
  d.columns.push_back("all");
  double rows = 0;
  for (double r : d.rows) rows += r;
  d.rows.push_back(rows);
  for (size_t i = 0; i < d.variables.size(); ++i) {
    DescribedVariable& v = d.variables[i];
    PoolColumn(&v, ns);
    for (const std::string& level : v.levels) {
      std::vector<double> row = level_counts[i][level];
      row.resize(ns, 0.0);
      double total = 0;
      for (double c : row) total += c;  // NaN when a site suppressed the cell
      row.push_back(total);
      v.counts.insert(v.counts.end(), row.begin(), row.end());
    }
  }
  AnalysisOutput out;
  out.request = request;
  out.result = std::move(d);
  return out;
}

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
  if (request.function == "table") return FederatedTable(request, sites);
  if (request.function == "describe") return FederatedDescribe(request, sites);
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(request.formula));
  if (request.function == "coxph") return FederatedCoxph(request, f, sites);
  if (request.function == "glm") return FederatedGlm(request, sites);
  if (request.function == "survfit") return FederatedSurvfit(request, f, sites);
  if (request.function == "survdiff") {
    return HasSiteStrata(f) ? ExactSurvdiff(request, sites) : GridSurvdiff(request, sites);
  }
  return InvalidArgument("unknown analysis '" + request.function +
                         "' (coxph, survfit, survdiff, glm, table, describe)");
}

}  // namespace passerelle::analysis
