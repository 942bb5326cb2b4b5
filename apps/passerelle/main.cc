// passerelle: one binary, `passerelle <noun> <verb>`. This file only declares the command line
// (CLI11) and hands the parsed options to the commands; see commands.h.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <iostream>

#include "apps/passerelle/commands.h"
#include "passerelle/analysis/registry.h"
#include "passerelle/base/memory.h"
#include "passerelle/base/version.h"
#include "passerelle/data/csv.h"

namespace {

int Finish(const passerelle::Status& status) {
  if (!status.ok()) std::fprintf(stderr, "passerelle: %s\n", status.message().c_str());
  return passerelle::ExitCodeFor(status.code());
}

constexpr const char* kEncodingHelp =
    "The file's encoding, when not UTF-8: gb18030 or gbk (Chinese Windows), latin1, "
    "windows-1252";
constexpr const char* kFileEncodingHelp =
    "The encoding of a CSV file that is not UTF-8, or of a statistics file that does not say "
    "its own: gb18030 or gbk (Chinese Windows), latin1, windows-1252";

// "The file: CSV (.csv .tsv .txt), SPSS (.sav .zsav .por), ...": the kinds data/ reads.
std::string FileHelp() {
  std::string help = "The file: ";
  for (const passerelle::data::RecordFormat& format : passerelle::data::RecordFormats()) {
    help += (help.size() > 10 ? ", " : "") + std::string(format.name) + " (";
    for (size_t i = 0; i < format.extensions.size(); ++i) {
      help += (i ? " " : "") + std::string(format.extensions[i]);
    }
    help += ")";
  }
  return help;
}
constexpr const char* kSheetHelp = "Excel: the sheet to read (default: the first)";

std::vector<std::string> EncodingNames() {
  std::vector<std::string> names = {"utf-8"};
  for (const std::string& e : passerelle::data::CsvEncodings()) names.push_back(e);
  return names;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace passerelle::cli;
  // A peer that closes a TLS connection must be an error to handle, not a signal that kills.
  std::signal(SIGPIPE, SIG_IGN);
  passerelle::KeepFreedMemory();
  CLI::App app{"Passerelle: federated analyses of GU cancer cohorts, records never leave a site."};
  app.set_version_flag("--version", std::string("passerelle ") + passerelle::kVersion);
  app.require_subcommand(1);
  passerelle::Status status;

  // site ...
  CLI::App* site = app.add_subcommand("site", "Manage a site's store: datasets and policy");
  site->require_subcommand(1);

  SiteInitOptions init;
  CLI::App* init_cmd = site->add_subcommand("init", "Create a site store and its policy file");
  init_cmd->add_option("dir", init.dir, "Folder of the site store")->required();
  init_cmd->add_option("--name", init.name, "Site name, e.g. wuhan")->required();
  init_cmd->add_option("--store", init.store,
                       "Keep the datasets in PostgreSQL: 'postgresql://HOST[:PORT]/DB?schema=S' "
                       "(no password: ~/.pgpass, PGPASSFILE or service=NAME)");
  init_cmd->callback([&] { status = SiteInit(init); });

  SiteImportOptions import;
  const std::string file_help = FileHelp();
  CLI::App* import_cmd = site->add_subcommand(
      "import",
      "Validate a file (CSV, SPSS, Stata, SAS, Excel) or an OMOP CDM and store it as a new "
      "version of a dataset (all or nothing)");
  import_cmd->add_option("dir", import.dir, "Folder of the site store")->required();
  import_cmd->add_option("--dataset", import.dataset, "Dataset name")->required();
  import_cmd->add_option("--file,--csv", import.file, file_help);
  import_cmd->add_option("--omop", import.omop,
                         "Or build the GU cohort from an OMOP CDM 5.4 in PostgreSQL: "
                         "'postgresql:///DB?host=SOCKET_DIR&schema=cdm' or 'service=NAME "
                         "schema=cdm' (no password: ~/.pgpass or pg_service.conf)");
  import_cmd->add_option("--omop-csv", import.omop_csv,
                         "Or from an OMOP CDM 5.4 as a folder of CSV files (person.csv, "
                         "condition_occurrence.csv, ...)");
  import_cmd->add_option("--omop-mapping", import.omop_mapping,
                         "A site's mapping file extending the built-in omop_gu.v1 (docs/omop.md)");
  import_cmd->add_option("--sheet", import.sheet, kSheetHelp);
  import_cmd->add_option("--dictionary", import.dictionary,
                         "Dictionary file (TOML) or built-in id (gu_cohort.v1); "
                         "without it, column types are inferred");
  import_cmd->add_option("--sep", import.separator, "Separator: ',' ';' or tab (default: detect)")
      ->check(CLI::IsMember({",", ";", "tab"}));
  import_cmd->add_option("--encoding", import.encoding, kFileEncodingHelp)
      ->check(CLI::IsMember(EncodingNames()));
  import_cmd->add_flag("--decimal-comma", import.decimal_comma,
                       "Numbers use a decimal comma (French Excel); the separator is then ';'");
  import_cmd->add_option("--date-format", import.date_format,
                         "Date layout, e.g. dd/mm/yyyy (default yyyy-mm-dd)");
  import_cmd
      ->add_option("--index-date", import.index_date,
                   "Time origin of derived endpoints: diagnosis or treatment")
      ->check(CLI::IsMember({"diagnosis", "treatment"}));
  import_cmd->add_flag("--json", import.json, "Print the result as JSON");
  import_cmd->callback([&] { status = SiteImport(import); });

  SiteAttachOptions attach;
  CLI::App* attach_cmd = site->add_subcommand(
      "attach",
      "Analyse a table of the store's PostgreSQL database where it is: validated now, never "
      "copied");
  attach_cmd->add_option("dir", attach.dir, "Folder of the site store")->required();
  attach_cmd->add_option("--dataset", attach.dataset, "Dataset name, e.g. gu_cohort")->required();
  attach_cmd->add_option("--table", attach.table, "SCHEMA.TABLE (or a view)")->required();
  attach_cmd->add_option("--dictionary", attach.dictionary, "Dictionary file or built-in id")
      ->required();
  attach_cmd
      ->add_option("--index-date", attach.index_date,
                   "Time origin of derived endpoints: diagnosis or treatment")
      ->check(CLI::IsMember({"diagnosis", "treatment"}));
  attach_cmd->add_flag("--json", attach.json, "Print the result as JSON");
  attach_cmd->callback([&] { status = SiteAttach(attach); });

  SiteDatasetsOptions datasets;
  CLI::App* datasets_cmd = site->add_subcommand("datasets", "List the site's datasets");
  datasets_cmd->add_option("dir", datasets.dir, "Folder of the site store")->required();
  datasets_cmd->add_flag("--json", datasets.json, "Print as JSON");
  datasets_cmd->callback([&] { status = SiteDatasets(datasets); });

  SiteDescribeOptions describe;
  CLI::App* describe_cmd =
      site->add_subcommand("describe", "Per-variable summary of a dataset (at the site only)");
  describe_cmd->add_option("dir", describe.dir, "Folder of the site store")->required();
  describe_cmd->add_option("--dataset", describe.dataset, "Dataset name")->required();
  describe_cmd->add_flag("--json", describe.json, "Print as JSON");
  describe_cmd->callback([&] { status = SiteDescribe(describe); });

  SiteDescribeOptions dictionary_of;
  CLI::App* site_dictionary_cmd = site->add_subcommand(
      "dictionary", "Print a dataset's stored dictionary as TOML (to review and pin it)");
  site_dictionary_cmd->add_option("dir", dictionary_of.dir, "Folder of the site store")->required();
  site_dictionary_cmd->add_option("--dataset", dictionary_of.dataset, "Dataset name")->required();
  site_dictionary_cmd->callback([&] { status = SiteDictionary(dictionary_of); });

  // dictionary ...
  CLI::App* dictionary = app.add_subcommand("dictionary", "Data dictionaries");
  dictionary->require_subcommand(1);
  std::string dictionary_id = "gu_cohort.v1";
  CLI::App* show_cmd = dictionary->add_subcommand("show", "Print a built-in dictionary as TOML");
  show_cmd->add_option("id", dictionary_id, "Built-in dictionary id")->capture_default_str();
  show_cmd->callback([&] { status = DictionaryShow(dictionary_id); });
  std::string dictionary_path;
  CLI::App* check_cmd = dictionary->add_subcommand("check", "Check a dictionary file");
  check_cmd->add_option("file", dictionary_path, "Dictionary file (TOML)")->required();
  check_cmd->callback([&] { status = DictionaryCheck(dictionary_path); });
  DictionaryInferOptions infer;
  CLI::App* infer_cmd = dictionary->add_subcommand(
      "infer",
      "Write the dictionary inferred from a file (CSV, SPSS, Stata, SAS, Excel) as TOML, "
      "to edit and pin");
  infer_cmd->add_option("--file", infer.file, file_help)->required();
  infer_cmd->add_option("--sheet", infer.sheet, kSheetHelp);
  infer_cmd->add_option("--out", infer.out, "TOML file to write (default: standard output)");
  infer_cmd->add_option("--name", infer.name, "The dictionary's name (default: the file's name)");
  infer_cmd->add_option("--sep", infer.separator, "Separator: ',' ';' or tab (default: detect)")
      ->check(CLI::IsMember({",", ";", "tab"}));
  infer_cmd->add_option("--encoding", infer.encoding, kFileEncodingHelp)
      ->check(CLI::IsMember(EncodingNames()));
  infer_cmd->add_flag("--decimal-comma", infer.decimal_comma, "Numbers use a decimal comma");
  infer_cmd->add_option("--date-format", infer.date_format,
                        "Date layout, e.g. dd/mm/yyyy (default yyyy-mm-dd)");
  infer_cmd->callback([&] { status = DictionaryInfer(infer); });

  // analyze ...
  CLI::App* analyze = app.add_subcommand(
      "analyze", "Run an analysis in local mode on CSV files or a site's dataset");
  analyze->require_subcommand(1);
  AnalyzeOptions analyze_options;
  for (const passerelle::analysis::AnalysisKind& kind : passerelle::analysis::AnalysisKinds()) {
    if (!kind.run_local) continue;
    CLI::App* cmd = analyze->add_subcommand(kind.name, kind.summary);
    cmd->add_option("--data", analyze_options.data, "CSV file (repeat to stack files)");
    cmd->add_option("--site", analyze_options.site,
                    "Site store folder, instead of --data (repeat to stack stores)");
    cmd->add_option("--dataset", analyze_options.dataset, "Dataset of the site store");
    cmd->add_option("--dictionary", analyze_options.dictionary,
                    "Dictionary giving the level order of CSV categories");
    cmd->add_option("--sep", analyze_options.separator, "CSV separator: ',' ';' or tab")
        ->check(CLI::IsMember({",", ";", "tab"}));
    cmd->add_option("--encoding", analyze_options.encoding, kEncodingHelp)
        ->check(CLI::IsMember(EncodingNames()));
    cmd->add_flag("--decimal-comma", analyze_options.decimal_comma, "Numbers use a decimal comma");
    cmd->add_flag("--json", analyze_options.json, "Print the results as JSON (R's layout)");
    if (kind.plot) {
      cmd->add_option("--plot", analyze_options.plot,
                      "Also draw the result as SVG into this file (Kaplan-Meier curves or "
                      "cumulative incidences, a forest plot of the ratios, bars of the counts)");
    }
    // The kind's own options, as its entry in the registry describes them.
    passerelle::analysis::AnalysisRequest& request = analyze_options.request;
    for (const passerelle::analysis::AnalysisOption& o : kind.options) {
      std::string flag = "--" + o.name;
      std::replace(flag.begin(), flag.end(), '_', '-');
      CLI::Option* option = std::visit(
          [&](auto field) -> CLI::Option* {
            if constexpr (std::is_same_v<decltype(field),
                                         bool passerelle::analysis::AnalysisRequest::*>) {
              return cmd->add_flag(flag, request.*field, o.help);
            } else {
              return cmd->add_option(flag, request.*field, o.help);
            }
          },
          o.field);
      if (o.required) option->required();
      if (!o.choices.empty()) option->check(CLI::IsMember(o.choices));
      if (o.always_written) option->capture_default_str();
    }
    cmd->callback([&, name = kind.name] {
      analyze_options.request.function = name;
      status = Analyze(analyze_options);
    });
  }

  // pki ...
  CLI::App* pki = app.add_subcommand("pki", "The consortium's certificate authority");
  pki->require_subcommand(1);
  PkiOptions pki_options;
  CLI::App* pki_init = pki->add_subcommand("init", "Create the consortium CA in a folder");
  pki_init->add_option("dir", pki_options.dir, "Folder of the CA")->required();
  pki_init->add_option("--name", pki_options.name, "Name of the CA");
  pki_init->add_option("--days", pki_options.days, "Validity in days (default 3650)");
  pki_init->callback([&] { status = PkiInit(pki_options); });
  CLI::App* pki_issue =
      pki->add_subcommand("issue", "Issue a key and certificate for the hub or a site node");
  pki_issue->add_option("dir", pki_options.dir, "Folder of the CA")->required();
  pki_issue->add_option("--name", pki_options.name, "Hub or site name, e.g. wuhan")->required();
  pki_issue->add_option("--role", pki_options.role, "node or hub")
      ->check(CLI::IsMember({"node", "hub"}))
      ->capture_default_str();
  pki_issue->add_option("--out", pki_options.out, "Folder for NAME.key and NAME.crt");
  pki_issue->add_option("--days", pki_options.days, "Validity in days (default 825)");
  pki_issue->add_option("--dns", pki_options.dns_names,
                        "Hub: a DNS name it is reached at (repeat; localhost is included)");
  pki_issue->add_option("--ip", pki_options.ip_addresses,
                        "Hub: an IP address it is reached at (repeat; 127.0.0.1 is included)");
  pki_issue->callback([&] { status = PkiIssue(pki_options); });
  CLI::App* pki_verify = pki->add_subcommand("verify", "Check a certificate against the CA");
  pki_verify->add_option("dir", pki_options.dir, "Folder of the CA")->required();
  pki_verify->add_option("--cert", pki_options.cert, "Certificate file")->required();
  pki_verify->callback([&] { status = PkiVerify(pki_options); });
  CLI::App* pki_revoke = pki->add_subcommand(
      "revoke", "Put a certificate on the CA's revocation list (DIR/crl.pem, to distribute)");
  pki_revoke->add_option("dir", pki_options.dir, "Folder of the CA")->required();
  pki_revoke->add_option("--cert", pki_options.cert, "Certificate file")->required();
  pki_revoke->callback([&] { status = PkiRevoke(pki_options); });

  // hub ...
  CLI::App* hub = app.add_subcommand("hub", "The hub's state: researchers and sites");
  hub->require_subcommand(1);
  HubOptions hub_options;
  CLI::App* hub_init = hub->add_subcommand("init", "Create the hub's store in a folder");
  hub_init->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_init->callback([&] { status = HubInit(hub_options); });
  CLI::App* hub_user = hub->add_subcommand("user", "Researchers");
  hub_user->require_subcommand(1);
  CLI::App* hub_user_add = hub_user->add_subcommand("add", "Add a researcher; prints the token");
  hub_user_add->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_user_add->add_option("--name", hub_options.name, "Researcher name")->required();
  hub_user_add->callback([&] { status = HubUserAdd(hub_options); });
  CLI::App* hub_user_remove =
      hub_user->add_subcommand("remove", "Revoke a researcher's token (at once)");
  hub_user_remove->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_user_remove->add_option("--name", hub_options.name, "Researcher name")->required();
  hub_user_remove->callback([&] { status = HubUserRemove(hub_options); });
  CLI::App* hub_site = hub->add_subcommand("site", "Sites allowed to connect");
  hub_site->require_subcommand(1);
  CLI::App* hub_site_add =
      hub_site->add_subcommand("add", "Register a site and pin its node certificate");
  hub_site_add->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_site_add->add_option("--name", hub_options.name, "Site name")->required();
  hub_site_add->add_option("--cert", hub_options.cert, "The node's certificate")->required();
  hub_site_add->add_option("--ca", hub_options.ca, "The consortium CA certificate")->required();
  hub_site_add->add_option(
      "--crl", hub_options.crl,
      "The CA's revocation list (default: crl.pem beside the CA certificate, when there)");
  hub_site_add->callback([&] { status = HubSiteAdd(hub_options); });
  CLI::App* hub_site_remove =
      hub_site->add_subcommand("remove", "Unpin a site's certificate (at once)");
  hub_site_remove->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_site_remove->add_option("--name", hub_options.name, "Site name")->required();
  hub_site_remove->callback([&] { status = HubSiteRemove(hub_options); });
  CLI::App* hub_sites = hub_site->add_subcommand("list", "List the registered sites");
  hub_sites->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_sites->callback([&] { status = HubSites(hub_options); });
  CLI::App* hub_serve = hub->add_subcommand(
      "serve", "Run the hub: nodes dial in for tasks, researchers submit studies (until SIGTERM)");
  hub_serve->add_option("dir", hub_options.dir, "Folder of the hub")->required();
  hub_serve->add_option("--cert", hub_options.cert, "The hub's certificate")->required();
  hub_serve->add_option("--key", hub_options.key, "The hub's private key")->required();
  hub_serve->add_option("--ca", hub_options.ca, "The consortium CA certificate")->required();
  hub_serve->add_option(
      "--crl", hub_options.crl,
      "The CA's revocation list (default: crl.pem beside the CA certificate, when there)");
  hub_serve->add_option("--listen", hub_options.listen, "HOST:PORT (port 0: any free port)")
      ->capture_default_str();
  hub_serve->add_option("--port-file", hub_options.port_file, "Write the port bound here");
  hub_serve
      ->add_option("--task-timeout", hub_options.task_timeout,
                   "Seconds a site has to answer a task")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  hub_serve
      ->add_option("--approval-timeout", hub_options.approval_timeout,
                   "Seconds a task held for a site's custodian waits for the decision")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  hub_serve
      ->add_option("--connections-per-address", hub_options.connections_per_address,
                   "Open connections one IP address may hold (raise it for a hospital behind one "
                   "NAT address)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  hub_serve
      ->add_option("--studies-per-researcher", hub_options.studies_per_researcher,
                   "Studies one researcher may have running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  hub_serve->callback([&] { status = HubServe(hub_options); });

  // node ...
  CLI::App* node = app.add_subcommand("node", "A site's node: answers the hub's tasks");
  node->require_subcommand(1);
  NodeOptions node_options;
  CLI::App* node_serve = node->add_subcommand(
      "serve", "Dial out to the hub and answer its signed tasks under the site's policy");
  node_serve->add_option("dir", node_options.dir, "Folder of the site store")->required();
  node_serve->add_option("--hub", node_options.hub, "The hub, https://HOST:PORT")->required();
  node_serve->add_option("--cert", node_options.cert, "The node's certificate")->required();
  node_serve->add_option("--key", node_options.key, "The node's private key")->required();
  node_serve->add_option("--ca", node_options.ca, "The consortium CA certificate")->required();
  node_serve->add_option(
      "--crl", node_options.crl,
      "The CA's revocation list (default: crl.pem beside the CA certificate, when there)");
  node_serve
      ->add_option("--hub-key", node_options.hub_key,
                   "File with the hub's public signing key (the hub's signing.pub)")
      ->required();
  node_serve
      ->add_option("--custodian-port", node_options.custodian_port,
                   "Serve the custodian's page (pending releases, audit log) on 127.0.0.1 at this "
                   "port (0: any free port, written to DIR/custodian.port)")
      ->check(CLI::Range(0, 65535));
  node_serve->callback([&] { status = NodeServe(node_options); });
  ApprovalOptions approval;
  CLI::App* node_pending = node->add_subcommand(
      "pending",
      "Releases held for the custodian (approval = \"manual\"), with the exact "
      "aggregate that would leave");
  node_pending->add_option("dir", approval.dir, "Folder of the site store")->required();
  node_pending->add_flag("--json", approval.json, "Print as JSON");
  node_pending->callback([&] { status = NodePending(approval); });
  for (const bool approve : {true, false}) {
    CLI::App* decide = node->add_subcommand(
        approve ? "approve" : "deny",
        approve ? "Let a held release leave (recorded in the audit log with the reason)"
                : "Refuse a held release (recorded in the audit log; the reason goes to the hub)");
    decide->add_option("dir", approval.dir, "Folder of the site store")->required();
    decide->add_option("task", approval.task, "The task, as `node pending` lists it")->required();
    decide->add_option("--reason", approval.reason, "Why (required)")->required();
    decide->callback([&, approve] { status = NodeDecide(approval, approve); });
  }
  CLI::App* node_protocols = node->add_subcommand(
      "protocols",
      "Protocols received: each in full, its automatic review and changes, and the decision");
  node_protocols->add_option("dir", approval.dir, "Folder of the site store")->required();
  node_protocols->add_flag("--json", approval.json, "Print as JSON");
  node_protocols->callback([&] { status = NodeProtocols(approval); });
  CLI::App* node_protocol =
      node->add_subcommand("protocol", "Approve or reject a protocol (scope = \"protocol\")");
  node_protocol->require_subcommand(1);
  for (const bool approve : {true, false}) {
    CLI::App* decide = node_protocol->add_subcommand(
        approve ? "approve" : "reject",
        approve ? "Answer the protocol's analyses (recorded in the audit log with the reason)"
                : "Answer none of them (recorded in the audit log; the reason goes to the hub)");
    decide->add_option("dir", approval.dir, "Folder of the site store")->required();
    decide->add_option("protocol", approval.task, "The protocol's number (node protocols)")
        ->required();
    decide->add_option("--reason", approval.reason, "Why (required)")->required();
    decide->callback([&, approve] { status = NodeProtocolDecide(approval, approve); });
  }

  // study ...
  CLI::App* study = app.add_subcommand("study", "Studies run over every site");
  study->require_subcommand(1);
  StudyOptions study_options;
  CLI::App* study_run = study->add_subcommand("run", "Submit a study to the hub, print results");
  study_run->add_option("file", study_options.file, "Study file (JSON)")->required();
  study_run->add_option("--hub", study_options.hub, "The hub, https://HOST:PORT")->required();
  study_run->add_option("--ca", study_options.ca, "The consortium CA certificate")->required();
  study_run->add_option("--token-file", study_options.token_file,
                        "File holding your token (default: $PASSERELLE_TOKEN)");
  study_run->add_option("--timeout", study_options.timeout, "Seconds to wait for the results")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  study_run->add_flag("--json", study_options.json, "Print the results as JSON");
  study_run->add_option("--report", study_options.report,
                        "Also write the study's report: one self-contained HTML file, printable");
  study_run->callback([&] { status = StudyRun(study_options); });

  // protocol ...
  CLI::App* protocol =
      app.add_subcommand("protocol", "Protocols: the analyses the sites' custodians approve");
  protocol->require_subcommand(1);
  StudyOptions protocol_options;
  CLI::App* protocol_submit = protocol->add_subcommand(
      "submit", "Send a protocol (or a new version of one) to its sites' custodians");
  protocol_submit->add_option("file", protocol_options.file, "Protocol file (JSON)")->required();
  CLI::App* protocol_list =
      protocol->add_subcommand("list", "Your protocols, and where each stands at each site");
  for (CLI::App* cmd : {protocol_submit, protocol_list}) {
    cmd->add_option("--hub", protocol_options.hub, "The hub, https://HOST:PORT")->required();
    cmd->add_option("--ca", protocol_options.ca, "The consortium CA certificate")->required();
    cmd->add_option("--token-file", protocol_options.token_file,
                    "File holding your token (default: $PASSERELLE_TOKEN)");
    cmd->add_flag("--json", protocol_options.json, "Print as JSON");
  }
  protocol_submit->callback([&] { status = ProtocolSubmit(protocol_options); });
  protocol_list->callback([&] { status = ProtocolList(protocol_options); });

  // audit ...
  CLI::App* audit = app.add_subcommand("audit", "A site node's hash-chained audit log");
  audit->require_subcommand(1);
  AuditOptions audit_options;
  CLI::App* audit_verify =
      audit->add_subcommand("verify", "Check the chain; names the first broken entry");
  audit_verify->add_option("--site", audit_options.site, "Site store folder")->required();
  audit_verify->add_option("--expect", audit_options.expect,
                           "SEQ:HASH of an entry the hub saw (hub site list): it must be there");
  audit_verify->callback([&] { status = AuditVerify(audit_options); });
  CLI::App* audit_show = audit->add_subcommand("show", "List the entries");
  audit_show->add_option("--site", audit_options.site, "Site store folder")->required();
  audit_show->add_option("--from", audit_options.from, "First entry")->capture_default_str();
  audit_show->add_option("--limit", audit_options.limit, "Most entries shown");
  audit_show->add_flag("--json", audit_options.json, "Every field, as JSON");
  audit_show->callback([&] { status = AuditShow(audit_options); });

  // synth
  SynthOptions synth;
  CLI::App* synth_cmd =
      app.add_subcommand("synth", "Write a synthetic gu_cohort.v1 cohort (docs/synthetic.md)");
  synth_cmd->add_option("--site", synth.site, "Site name (wuhan draws the Chinese profile)")
      ->capture_default_str();
  synth_cmd->add_option("--patients", synth.patients, "Number of patients")
      ->check(CLI::Range(int64_t{1}, int64_t{100000000}))
      ->capture_default_str();
  synth_cmd->add_option("--seed", synth.seed, "Random seed")->capture_default_str();
  synth_cmd->add_option("--out", synth.out, "Output CSV file (default: stdout)");
  synth_cmd->callback([&] { status = Synth(synth); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return Finish(status);
}
