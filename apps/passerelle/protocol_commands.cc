// `passerelle protocol submit | list` (the researcher) and `passerelle node protocols`,
// `node protocol approve | reject` (the site's custodian): protocols are the analyses a site
// answers under scope = "protocol", each approved by the custodian after the node's automatic
// review (docs/protocols.md).
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apps/passerelle/commands.h"
#include "passerelle/federation/node/custodian.h"
#include "passerelle/federation/researcher.h"
#include "passerelle/federation/study.h"

namespace passerelle::cli {

Result<federation::ResearcherConfig> Researcher(const StudyOptions& options);

namespace {

using nlohmann::ordered_json;

}  // namespace

Status ProtocolSubmit(const StudyOptions& options) {
  std::ifstream in(options.file);
  if (!in) return NotFound("cannot read the protocol file " + options.file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  RETURN_IF_ERROR(federation::ParseProtocol(text, options.file).status());
  ASSIGN_OR_RETURN(federation::ResearcherConfig config, Researcher(options));
  ASSIGN_OR_RETURN(std::string answer, federation::SubmitProtocol(config, text));
  const ordered_json j = ordered_json::parse(answer);
  if (options.json) {
    std::cout << j.dump(2) << "\n";
    return Status::Ok();
  }
  std::cout << "protocol " << j["name"].get<std::string>() << " version " << j["version"]
            << " (number " << j["protocol"] << ") sent to ";
  bool first = true;
  for (const auto& s : j["sites"]) {
    std::cout << (first ? "" : ", ") << s.get<std::string>();
    first = false;
  }
  std::cout << "; each site's custodian reviews it (passerelle protocol list shows where it "
               "stands)\n";
  return Status::Ok();
}

Status ProtocolList(const StudyOptions& options) {
  ASSIGN_OR_RETURN(federation::ResearcherConfig config, Researcher(options));
  ASSIGN_OR_RETURN(std::string answer, federation::ListProtocols(config));
  const ordered_json j = ordered_json::parse(answer);
  if (options.json) {
    std::cout << j.dump(2) << "\n";
    return Status::Ok();
  }
  if (j["protocols"].empty()) std::cout << "no protocol names you\n";
  for (const auto& p : j["protocols"]) {
    std::cout << p["name"].get<std::string>() << " version " << p["version"] << " (number "
              << p["protocol"] << "), submitted by " << p["researcher"].get<std::string>() << " at "
              << p["submitted_at"].get<std::string>() << "\n";
    for (const auto& s : p["sites"]) {
      std::cout << "  " << s["site"].get<std::string>() << ": " << s["status"].get<std::string>();
      if (!s["reason"].get<std::string>().empty()) {
        std::cout << " (" << s["reason"].get<std::string>() << ")";
      }
      std::cout << "\n";
    }
  }
  return Status::Ok();
}

Status NodeProtocols(const ApprovalOptions& options) {
  ASSIGN_OR_RETURN(std::string json, federation::ProtocolsJson(options.dir));
  if (options.json) {
    std::cout << json << "\n";
    return Status::Ok();
  }
  const ordered_json all = ordered_json::parse(json);
  size_t pending = 0;
  for (const auto& p : all) {
    const std::string status = p["status"].get<std::string>();
    pending += status == "pending";
    std::cout << "protocol " << p["protocol"] << ": " << p["name"].get<std::string>() << " version "
              << p["version"] << " from " << p["researcher"].get<std::string>() << ", received "
              << p["received_at"].get<std::string>() << ": " << status;
    if (status != "pending") {
      std::cout << " by " << p["decided_by"].get<std::string>() << " ("
                << p["reason"].get<std::string>() << ")";
    }
    const ordered_json& d = p["definition"];
    std::cout << "\n  title: " << d.value("title", "") << "\n  dataset: " << d.value("dataset", "")
              << ", expires " << d.value("expires", "")
              << "\n  researchers: " << d.value("researchers", ordered_json::array()).dump()
              << "\n  sites: " << d.value("sites", ordered_json::array()).dump() << "\n";
    for (const auto& a : d.value("analyses", ordered_json::array())) {
      std::cout << "  analysis " << a.dump() << "\n";
    }
    for (const auto& c : p["changes"]) std::cout << "  change: " << c.get<std::string>() << "\n";
    if (p["review"].empty()) std::cout << "  automatic review: nothing flagged\n";
    for (const auto& f : p["review"]) {
      std::cout << "  FLAG " << f["analysis"].get<std::string>() << " ["
                << f["rule"].get<std::string>() << "]: " << f["flag"].get<std::string>() << "\n";
    }
    std::cout << "\n";
  }
  if (all.empty()) std::cout << "no protocol received\n";
  if (pending > 0) {
    std::cout << pending << " protocol(s) waiting: passerelle node protocol approve|reject "
              << options.dir << " NUMBER --reason \"...\"\n";
  }
  return Status::Ok();
}

Status NodeProtocolDecide(const ApprovalOptions& options, bool approve) {
  if (options.reason.empty()) return InvalidArgument("--reason: say why");
  const std::string by = federation::SystemAccount();
  RETURN_IF_ERROR(
      federation::DecideProtocol(options.dir, options.task, approve, options.reason, by));
  std::cout << "protocol " << options.task << ": " << (approve ? "approved" : "rejected") << " by "
            << by
            << (approve ? "; the node answers its analyses" : "; the node answers none of them")
            << "\n";
  return Status::Ok();
}

}  // namespace passerelle::cli
