// Survival counts on a time grid, shared by survfit and survdiff without site strata: at a site,
// each group's numbers at risk, events and censored records as released; at the hub, the sites'
// counts read and merged.
#include <algorithm>
#include <limits>
#include <map>
#include <numeric>

#include "passerelle/analysis/kind_support.h"
#include "passerelle/formula/eval.h"
#include "passerelle/privacy/disclosure.h"

namespace passerelle::analysis {

// ---- At a site ----

StratumRows RowsOfStratum(const formula::ModelFrame& m, size_t s) {
  StratumRows r;
  if (m.strata.empty()) {
    r.time = m.time;
    r.status = m.status;
    r.group = m.group;
    r.rows = m.rows;
    return r;
  }
  for (size_t i = 0; i < m.n; ++i) {
    if (m.strata[i] != static_cast<int32_t>(s)) continue;
    r.own_time.push_back(m.time[i]);
    r.own_status.push_back(m.status[i]);
    r.own_group.push_back(m.group[i]);
    r.own_rows.push_back(m.rows[i]);
  }
  r.time = r.own_time;
  r.status = r.own_status;
  r.group = r.own_group;
  r.rows = r.own_rows;
  return r;
}

namespace {

// The rows of the table in group `g` of a stratum, appended to `rows`: all of them, or
// (`events`) those with an event (`cause` 0: any; competing events: that cause).
template <typename Row>
void MembersOf(const StratumRows& r, size_t g, bool events, double cause, std::vector<Row>* rows) {
  for (size_t i = 0; i < r.rows.size(); ++i) {
    if (r.group[i] != static_cast<int32_t>(g)) continue;
    if (events && (r.status[i] == 0 || (cause != 0 && r.status[i] != cause))) continue;
    rows->push_back(static_cast<Row>(r.rows[i]));
  }
}

// The formula of a groups frame, after the site's rules on its survival data and terms.
Result<formula::Formula> GroupsFormula(const json& task, const data::Table& table,
                                       const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(formula::Formula f, formula::ParseFormula(task.value("formula", "")));
  RETURN_IF_ERROR(CheckSurvival(f, task.value("subset", ""), table, policy));
  RETURN_IF_ERROR(CheckTerms(f, policy));
  return f;
}

// A groups frame (or a slice's) holds right-censored times, and competing events only where
// they are allowed.
Status CheckGroupsShape(const json& task, const formula::ModelFrame& m, bool competing) {
  if (!m.start.empty()) return InvalidArgument("task: survival curves take (time, event) data");
  if (!m.event_levels.empty() && !competing) {
    return InvalidArgument(task.value("analysis", "") +
                           " compares one kind of event: give it as 0/1 or a condition");
  }
  return Status::Ok();
}

// The rules on what the frame of `n` rows releases: its size, and its groups, strata and
// competing causes (`causes_labelled`) as labels ("organ=kidney").
Status CheckGroupsRelease(const formula::Formula& f, size_t n, bool causes_labelled,
                          const data::Table& table, const privacy::Policy& policy) {
  RETURN_IF_ERROR(privacy::CheckCohortSize(static_cast<double>(n), policy));
  std::vector<formula::Expr> labelled = f.strata;
  if (causes_labelled) labelled.push_back(f.surv.back());
  for (const formula::Term& term : f.terms) {
    labelled.insert(labelled.end(), term.variables.begin(), term.variables.end());
  }
  for (const formula::Expr& e : labelled) {
    ASSIGN_OR_RETURN(Labels labels, LabelsOf(formula::Deparse(e), table));
    RETURN_IF_ERROR(privacy::CheckLabel(labels, policy));
  }
  return Status::Ok();
}

}  // namespace

privacy::Cohort GroupCohort(const StratumRows& r, size_t g, size_t table_rows, bool events,
                            double cause) {
  std::vector<size_t> members;
  MembersOf(r, g, events, cause, &members);
  return privacy::Cohort::FromRows(members, table_rows);
}

// A released group's events, and each cause's, are counts (its curve states their totals): two
// curves over the same records whose events differ by a few patients would count them.
void AddEventCounts(const StratumRows& r, size_t g, size_t causes, size_t table_rows,
                    LocalRelease* release) {
  release->counts.push_back(GroupCohort(r, g, table_rows, true));
  for (size_t c = 1; causes > 1 && c <= causes; ++c) {
    release->counts.push_back(GroupCohort(r, g, table_rows, true, static_cast<double>(c)));
  }
}

Result<formula::ModelFrame> GroupsFrame(const json& task, const data::Table& table,
                                        const privacy::Policy& policy, bool competing) {
  ASSIGN_OR_RETURN(formula::Formula f, GroupsFormula(task, table, policy));
  ASSIGN_OR_RETURN(
      formula::ModelFrame m,
      formula::BuildModelFrame(f, table, formula::ModelKind::kGroups, task.value("subset", "")));
  RETURN_IF_ERROR(CheckGroupsShape(task, m, competing));
  RETURN_IF_ERROR(CheckGroupsRelease(f, m.n, !m.event_levels.empty(), table, policy));
  return m;
}

// survfit, and survdiff without site strata: Kaplan-Meier counts per group and stratum on the
// time grid, each truncated where fewer than k patients would remain (ReleasableRows). A group
// of fewer than k patients, or with 1 to k-1 events, is withheld whole. Competing events
// (survfit with a factor event): the events of each cause too, and the event's levels; a group
// with 1 to k-1 events of a cause is withheld whole. The counts are sums over the table's rows,
// taken slice by slice (formula::ForEachFrameSlice): the node holds a slice's frame, not the
// table's.
Result<LocalRelease> RunCountsStep(const json& task, const data::Table& table,
                                   const privacy::Policy& policy, bool competing) {
  ASSIGN_OR_RETURN(formula::Formula f, GroupsFormula(task, table, policy));
  const double bin = task.value("bin_days", 0.0);
  // Each group of each stratum, its counts and records added up over the slices; ordered by
  // their keys, they come in the whole table's order.
  struct Group {
    std::string stratum, label;
    stats::TimeCounts counts;
    // Its records, those with an event, and with competing causes those of each cause.
    std::vector<std::vector<uint32_t>> rows;
  };
  std::map<std::pair<std::vector<double>, std::vector<double>>, Group> groups;
  size_t n = 0, omitted = 0;
  std::vector<std::string> event_levels;
  const auto add = [&](formula::ModelFrame& m) -> Status {
    RETURN_IF_ERROR(CheckGroupsShape(task, m, competing));
    n += m.n;
    omitted += m.n_omitted_na;
    if (!m.event_levels.empty()) event_levels = m.event_levels;
    for (double& t : m.time) t = privacy::BinTime(t, bin);
    const size_t strata = m.strata_labels.empty() ? 1 : m.strata_labels.size();
    const size_t causes = m.event_levels.empty() ? 0 : m.event_levels.size() - 1;
    for (size_t s = 0; s < strata && m.n > 0; ++s) {
      const StratumRows r = RowsOfStratum(m, s);
      for (size_t g = 0; g < m.group_labels.size(); ++g) {
        stats::TimeCounts c = stats::CountByTime(r.time, r.status, r.group, g, causes);
        if (c.n == 0) continue;
        Group& group = groups[{m.strata_keys.empty() ? std::vector<double>() : m.strata_keys[s],
                               m.group_keys[g]}];
        if (group.rows.empty()) {
          group.stratum = m.strata_labels.empty() ? "" : m.strata_labels[s];
          group.label = m.group_labels[g];
          group.counts = std::move(c);
          group.rows.resize(causes > 1 ? causes + 2 : 2);
        } else {
          group.counts = stats::AddCounts(group.counts, c);
        }
        for (size_t k = 0; k < group.rows.size(); ++k) {
          MembersOf(r, g, k > 0, k > 1 ? static_cast<double>(k - 1) : 0.0, &group.rows[k]);
        }
      }
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(formula::ForEachFrameSlice(f, table, formula::ModelKind::kGroups,
                                             task.value("subset", ""), {}, formula::kSliceRows,
                                             add));
  RETURN_IF_ERROR(CheckGroupsRelease(f, n, !event_levels.empty(), table, policy));
  RETURN_IF_ERROR(privacy::CheckTimeGrid(bin, policy));
  const size_t causes = event_levels.empty() ? 0 : event_levels.size() - 1;
  json cells = json::array();
  LocalRelease release;
  for (const auto& [key, group] : groups) {
    const stats::TimeCounts& c = group.counts;
    json cell = {{"group", group.label}, {"stratum", group.stratum}};
    double events = 0;
    std::vector<double> leaving(c.time.size());
    for (size_t j = 0; j < c.time.size(); ++j) {
      events += c.n_event[j];
      leaving[j] = c.n_event[j] + c.n_censor[j];
    }
    std::vector<double> cause_events;
    for (const std::vector<double>& d : c.n_cause) {
      cause_events.push_back(std::accumulate(d.begin(), d.end(), 0.0));
    }
    if (privacy::WithholdCurve(c.n, events, cause_events, policy)) {
      cell["withheld"] = "min_cell_count";
      cells.push_back(std::move(cell));
      continue;
    }
    const size_t rows = privacy::ReleasableRows(c.n, leaving, policy);
    auto head = [rows](const std::vector<double>& v) {
      return std::vector<double>(v.begin(), v.begin() + static_cast<ptrdiff_t>(rows));
    };
    cell["n"] = c.n;
    cell["time"] = head(c.time);
    cell["n_event"] = head(c.n_event);
    cell["n_censor"] = head(c.n_censor);
    if (causes > 0) {
      json by_cause = json::array();
      for (const std::vector<double>& d : c.n_cause) by_cause.push_back(head(d));
      cell["n_cause"] = std::move(by_cause);
    }
    cell["truncated"] = rows < c.time.size();
    cells.push_back(std::move(cell));
    // The group's records are a population; its events, and each cause's, are counts.
    release.cohorts.push_back(privacy::Cohort::FromRows(group.rows[0], table.rows));
    for (size_t k = 1; k < group.rows.size(); ++k) {
      release.counts.push_back(privacy::Cohort::FromRows(group.rows[k], table.rows));
    }
  }
  json aggregate = {{"cells", cells},
                    {"omitted", ReleasableCount(static_cast<double>(omitted), policy)}};
  if (!event_levels.empty()) aggregate["event_levels"] = event_levels;
  release.aggregate = aggregate.dump();
  return release;
}

// ---- At the hub ----

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

std::vector<std::vector<std::string>> CellLabels(const std::vector<std::vector<Cell>>& per_site,
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

}  // namespace passerelle::analysis
