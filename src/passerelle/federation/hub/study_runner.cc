// A study's run on its own thread: each analysis driven over the sites (analysis::RunFederated,
// each step a task), its progress, and the document of results stored at the end.
#include "passerelle/federation/hub/hub_impl.h"

namespace passerelle::federation {

// Runs every analysis of a study over its sites and records the results.
void Hub::Impl::RunStudy(int64_t id, const std::string& researcher, const Study& study,
                         std::vector<std::string> sites, int64_t protocol) {
  ordered_json results = ordered_json::object();
  std::atomic<int> round = 0;  // the sites of a round are asked at once, each on its thread
  for (const StudyAnalysis& a : study.analyses) {
    {
      std::lock_guard<std::mutex> lock(mu);
      Progress& p = progress[id];
      p.analysis = a.id;
      p.index = static_cast<int>(&a - study.analyses.data()) + 1;
      p.of = static_cast<int>(study.analyses.size());
      p.sites.clear();
      for (const std::string& site : sites) p.sites[site].state = "pending";
    }
    const int first_round = round;
    // Tasks sent to each site: the sites of a step are asked at once, so the round trips the
    // analysis needed are the most any site was sent.
    std::map<std::string, std::atomic<int>> sent;
    for (const std::string& site : sites) sent[site] = 0;
    const auto started = config.clock->Now();
    // With on_refusal = "exclude", a site's refusal leaves that site out and the analysis runs
    // again over the others (their releases repeat, which their ledgers allow).
    std::vector<std::string> taking_part = sites;
    ordered_json excluded = ordered_json::array();
    Result<analysis::AnalysisOutput> out = Internal("not run");
    for (;;) {
      std::vector<analysis::SiteLink> links;
      for (const std::string& site : taking_part) {
        links.push_back({site, [&, site](const json& task) {
                           ++sent.at(site);
                           return Dispatch(id, researcher, study.dataset, protocol, site, ++round,
                                           task);
                         }});
      }
      out = analysis::RunFederated(a.request, links);
      // The refusal that ended the analysis names its site ("site lyon: ...").
      std::string refused_by, why;
      if (!out.ok() && out.status().code() == StatusCode::kPermissionDenied) {
        for (const std::string& site : taking_part) {
          const std::string prefix = "site " + site + ": ";
          if (out.status().message().rfind(prefix, 0) != 0) continue;
          refused_by = site;
          why = out.status().message().substr(prefix.size());
        }
      }
      if (out.ok() || study.on_refusal != "exclude" || refused_by.empty() ||
          taking_part.size() <= 1) {
        break;
      }
      excluded.push_back({{"site", refused_by}, {"reason", why}});
      taking_part.erase(std::find(taking_part.begin(), taking_part.end(), refused_by));
    }
    if (out.ok()) {
      for (const auto& e : excluded) {
        out->notes.push_back("site " + e["site"].get<std::string>() +
                             " left out (on_refusal = exclude): " + e["reason"].get<std::string>());
      }
    }
    const std::chrono::duration<double> took = config.clock->Now() - started;
    ordered_json entry = {{"function", a.request.function},
                          {"request", analysis::RequestOptions(a.request)}};
    if (out.ok()) {
      entry["status"] = "ok";
      entry["results"] = report::ResultsJsonValue(*out);
      entry["notes"] = out->notes;
      entry["text"] = report::ResultsText(*out);
      if (Result<std::string> svg = report::PlotSvg(*out); svg.ok()) entry["svg"] = *svg;
      if (const auto* d = std::get_if<analysis::DescribeOutput>(&out->result)) {
        entry["cells"] = report::DescribeCells(*d);
      }
    } else {
      const bool refused = out.status().code() == StatusCode::kPermissionDenied;
      entry["status"] = refused ? "refused" : "failed";
      entry["results"] = nullptr;
      entry["notes"] = std::vector<std::string>{out.status().message()};
    }
    if (!excluded.empty()) entry["excluded"] = excluded;
    entry["tasks"] = round - first_round;  // each to one site
    int rounds = 0;
    for (const auto& [site, count] : sent) rounds = std::max(rounds, count.load());
    entry["rounds"] = rounds;
    entry["seconds"] = took.count();
    Log("hub: study " + std::to_string(id) + ": " + a.id + " (" + a.request.function + "): " +
        entry["status"].get<std::string>() + " in " + std::to_string(rounds) + " round trips");
    std::lock_guard<std::mutex> lock(mu);
    progress[id].finished.push_back({{"id", a.id}, {"status", entry["status"]}});
    results[a.id] = std::move(entry);
    if (stopping) break;
  }
  std::lock_guard<std::mutex> lock(mu);
  // Provenance: this hub's version, when the study ended, the version of each site's dataset
  // its releases were computed on, and the head of each site's audit chain after its last
  // answer (the site's custodian can find every release there).
  ordered_json datasets = ordered_json::object();
  for (const auto& [site, version] : progress[id].versions) {
    ordered_json d = {{"name", study.dataset}, {"version", version}};
    for (const auto& entry : json::parse(catalogs[site], nullptr, false)) {
      if (entry.is_object() && entry.value("name", "") == study.dataset &&
          entry.value("version", int64_t{0}) == version) {
        d["imported_at"] = entry.value("imported_at", "");
      }
    }
    datasets[site] = std::move(d);
  }
  progress.erase(id);
  ordered_json audit = ordered_json::object();
  if (Result<std::vector<store::SiteRecord>> known = store->Sites(); known.ok()) {
    for (const store::SiteRecord& s : *known) {
      if (std::find(sites.begin(), sites.end(), s.name) != sites.end() && s.audit_seq > 0) {
        audit[s.name] = std::to_string(s.audit_seq) + ":" + s.audit_hash;
      }
    }
  }
  const ordered_json document = {{"study", id},
                                 {"title", study.title},
                                 {"dataset", study.dataset},
                                 {"researcher", researcher},
                                 {"sites", sites},
                                 {"results", results},
                                 {"provenance",
                                  {{"passerelle", kVersion},
                                   {"finished_at", UtcNowIso()},
                                   {"datasets", datasets},
                                   {"audit_heads", audit}}}};
  if (stopping) {
    (void)store->AbandonTasks(id);
    (void)store->FinishStudy(id, "failed", StoppedResult(id));
  } else {
    (void)store->FinishStudy(id, "done", document.dump());
  }
  StudyEnded(researcher);
}

// REQUIRES: mu held.
void Hub::Impl::StudyEnded(const std::string& researcher) {
  --running_studies;
  if (--running_of[researcher] <= 0) running_of.erase(researcher);
  cv.notify_all();
}

std::string Hub::Impl::StoppedResult(int64_t id) {
  return json{{"study", id}, {"error", "the hub stopped during the study; run it again"}}.dump();
}

}  // namespace passerelle::federation
