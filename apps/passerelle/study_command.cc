// `passerelle study run`: submits a study file to the hub and prints its results, as JSON
// (--json) or as readable tables.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/researcher.h"
#include "passerelle/federation/study.h"
#include "passerelle/report/study_html.h"

namespace passerelle::cli {
namespace {

using nlohmann::ordered_json;

std::string Readable(const ordered_json& doc) {
  std::string out = "Study " + std::to_string(doc.at("study").get<int64_t>()) + ": " +
                    doc.at("title").get<std::string>() + "\nDataset " +
                    doc.at("dataset").get<std::string>() + " at sites ";
  bool first = true;
  for (const auto& s : doc.at("sites")) {
    out += (first ? "" : ", ") + s.get<std::string>();
    first = false;
  }
  out += "\n";
  for (const auto& [id, r] : doc.at("results").items()) {
    out += "\n== " + id + " (" + r.at("function").get<std::string>() +
           "): " + r.at("status").get<std::string>();
    // Each round trip asks every site at once: over a distance, the analysis took about this
    // many times the round-trip time, plus the sites' computing.
    if (r.contains("rounds")) {
      const int rounds = r.at("rounds").get<int>();
      char took[96];
      std::snprintf(took, sizeof took, " (%d round trip%s to the sites, %.2f s)", rounds,
                    rounds == 1 ? "" : "s", r.value("seconds", 0.0));
      out += took;
    }
    out += "\n";
    if (r.at("status") == "ok") {
      out += r.at("text").get<std::string>();
    } else {
      for (const auto& n : r.at("notes")) out += n.get<std::string>() + "\n";
    }
  }
  return out;
}

}  // namespace

Result<federation::ResearcherConfig> Researcher(const StudyOptions& options) {
  federation::ResearcherConfig config;
  ASSIGN_OR_RETURN(config.hub, net::ParseHttpsUrl(options.hub));
  config.ca_cert = options.ca;
  config.timeout = std::chrono::seconds(options.timeout);
  if (!options.token_file.empty()) {
    std::ifstream in(options.token_file);
    if (!(in >> config.token)) {
      return InvalidArgument("cannot read a token from " + options.token_file);
    }
  } else if (const char* env = std::getenv("PASSERELLE_TOKEN"); env && *env) {
    config.token = env;
  } else {
    return InvalidArgument("give your token with --token-file FILE or PASSERELLE_TOKEN");
  }
  return config;
}

Status StudyRun(const StudyOptions& options) {
  std::ifstream in(options.file);
  if (!in) return NotFound("cannot read the study file " + options.file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RETURN_IF_ERROR(federation::ParseStudy(text, options.file).status());  // errors name the file
  ASSIGN_OR_RETURN(federation::ResearcherConfig config, Researcher(options));
  ASSIGN_OR_RETURN(std::string result, federation::RunStudy(config, text, [](int64_t id) {
                     std::cerr << "study " << id << " accepted by the hub; waiting for results\n";
                   }));
  ordered_json doc = ordered_json::parse(result);
  if (!options.report.empty()) {
    ASSIGN_OR_RETURN(std::string html, report::StudyHtml(result));
    std::ofstream file(options.report, std::ios::binary);
    if (!(file << html) || !file.flush()) {
      return InvalidArgument("--report: cannot write " + options.report);
    }
    std::cerr << "report written to " << options.report << "\n";
  }
  if (options.json) {
    for (auto& [id, r] : doc.at("results").items()) {
      r.erase("text");
      r.erase("svg");
    }
    std::cout << doc.dump(2) << "\n";
  } else {
    std::cout << Readable(doc);
  }
  bool all_ok = true;
  for (const auto& [id, r] : doc.at("results").items()) all_ok &= r.at("status") == "ok";
  return all_ok ? Status::Ok()
                : FailedPrecondition("some analyses were refused or failed (see above)");
}

}  // namespace passerelle::cli
