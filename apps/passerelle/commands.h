// The commands of the `passerelle` binary, each taking the options main.cc parsed. Each prints
// its result (a table, or JSON with --json) to stdout and returns the Status it ended with.
#ifndef PASSERELLE_APPS_COMMANDS_H_
#define PASSERELLE_APPS_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "passerelle/analysis/registry.h"
#include "passerelle/base/status.h"
#include "passerelle/data/dictionary.h"
#include "passerelle/net/pki.h"

namespace passerelle::federation {
struct ResearcherConfig;
}

namespace passerelle::cli {

struct SiteInitOptions {
  std::string dir;
  std::string name;
  std::string store;  // "" (SQLite in dir) or a PostgreSQL connection with schema=NAME
};
Status SiteInit(const SiteInitOptions& options);

struct SiteImportOptions {
  std::string dir;
  std::string dataset;
  std::string file;          // CSV, statistics file or Excel workbook (data::RecordFormats())
  std::string omop;          // or an OMOP CDM in PostgreSQL: a libpq string with schema=NAME
  std::string omop_csv;      // or an OMOP CDM as a folder of CSV files
  std::string omop_mapping;  // a site's mapping file extending omop_gu.v1
  std::string sheet;         // Excel: the sheet; "" the first
  std::string dictionary;    // a file, a built-in id (gu_cohort.v1), or empty to infer
  std::string separator;     // "", ",", ";", "tab"
  std::string encoding;      // "" (UTF-8) or one of data::CsvEncodings()
  bool decimal_comma = false;
  std::string date_format = "yyyy-mm-dd";
  std::string index_date = "diagnosis";
  bool json = false;
};
Status SiteImport(const SiteImportOptions& options);

struct SiteAttachOptions {
  std::string dir;
  std::string dataset;
  std::string table;       // SCHEMA.TABLE of the store's PostgreSQL database
  std::string dictionary;  // a file or a built-in id
  std::string index_date = "diagnosis";
  bool json = false;
};
Status SiteAttach(const SiteAttachOptions& options);

struct SiteDatasetsOptions {
  std::string dir;
  bool json = false;
};
Status SiteDatasets(const SiteDatasetsOptions& options);

struct SiteDescribeOptions {
  std::string dir;
  std::string dataset;
  bool json = false;
};
Status SiteDescribe(const SiteDescribeOptions& options);
// Prints the stored dictionary of a dataset as TOML, ready to be pinned with --dictionary.
Status SiteDictionary(const SiteDescribeOptions& options);

// Prints a built-in dictionary (gu_cohort.v1) as TOML, or checks a dictionary file.
Status DictionaryShow(const std::string& id);
Status DictionaryCheck(const std::string& path);

// Writes the dictionary inferred from a CSV file as TOML, for the custodian to edit and pin.
struct DictionaryInferOptions {
  std::string file;
  std::string sheet;
  std::string out;   // "" or "-": standard output
  std::string name;  // the dictionary's name: default the file's stem
  std::string separator;
  std::string encoding;
  bool decimal_comma = false;
  std::string date_format = "yyyy-mm-dd";
};
Status DictionaryInfer(const DictionaryInferOptions& options);

struct AnalyzeOptions {
  analysis::AnalysisRequest request;  // the analysis and its options (analysis/registry.h)
  std::vector<std::string> data;
  std::vector<std::string> site;  // site stores (repeat to stack their datasets)
  std::string dataset;
  std::string dictionary;  // level orders for CSV categories
  std::string separator;
  std::string encoding;
  bool decimal_comma = false;
  bool json = false;
  std::string plot;  // write the result's picture here (SVG)
};
Status Analyze(const AnalyzeOptions& options);

// A dictionary named by a built-in id (gu_cohort.v1) or a file path; `source` says which.
Result<data::Dictionary> LoadDictionary(const std::string& name, std::string* source);

struct PkiOptions {
  std::string dir;   // the CA's folder
  std::string name;  // init: the CA's name; issue: the hub's or site's name
  std::string role = "node";
  std::string out;   // issue: where NAME.key and NAME.crt go (default: DIR)
  std::string cert;  // verify
  int days = 0;      // 0: the default for the command
  std::vector<std::string> dns_names, ip_addresses;  // issue --role hub: where it is reached
};
Status PkiInit(const PkiOptions& options);
Status PkiIssue(const PkiOptions& options);
Status PkiVerify(const PkiOptions& options);
Status PkiRevoke(const PkiOptions& options);  // writes DIR/crl.pem

// A command's --crl, or crl.pem beside its --ca certificate when that is there.
template <typename Options>
std::string RevocationList(const Options& options) {
  return options.crl.empty() ? net::RevocationListBeside(options.ca) : options.crl;
}

struct HubOptions {
  std::string dir;                     // the hub's folder (hub.sqlite)
  std::string name;                    // user or site name
  std::string cert;                    // site add: the node's certificate; serve: the hub's
  std::string ca;                      // the consortium CA certificate
  std::string crl;                     // its revocation list (default: crl.pem beside it)
  std::string key;                     // serve: the hub's private key
  std::string listen = "127.0.0.1:0";  // serve: HOST:PORT (port 0: any free port)
  std::string port_file;               // serve: where to write the port bound
  int task_timeout = 600;              // serve: seconds a site has to answer a task
  int approval_timeout = 86400;        // serve: seconds a held task waits for the custodian
  int connections_per_address = 16;    // serve: open connections from one IP address
  int studies_per_researcher = 4;      // serve: studies one researcher may have running
};
Status HubInit(const HubOptions& options);
Status HubUserAdd(const HubOptions& options);
Status HubUserRemove(const HubOptions& options);  // revokes the token at once
Status HubSiteAdd(const HubOptions& options);
Status HubSiteRemove(const HubOptions& options);  // unpins the certificate at once
Status HubSites(const HubOptions& options);
// Serves until SIGTERM or SIGINT, then stops cleanly.
Status HubServe(const HubOptions& options);

struct NodeOptions {
  std::string dir;  // the site store
  std::string hub;  // https://HOST:PORT
  std::string cert, key, ca;
  std::string crl;          // the CA's revocation list (default: crl.pem beside the CA's)
  std::string hub_key;      // file with the hub's public signing key (hub DIR/signing.pub)
  int custodian_port = -1;  // serve the custodian's page on 127.0.0.1 (0: any port; -1: none)
};
// Serves until SIGTERM or SIGINT, then stops cleanly.
Status NodeServe(const NodeOptions& options);

// The custodian's side of approval = "manual": what waits, and the decision with its reason.
struct ApprovalOptions {
  std::string dir;  // the site store
  int64_t task = 0;
  std::string reason;
  bool json = false;
};
Status NodePending(const ApprovalOptions& options);
Status NodeDecide(const ApprovalOptions& options, bool approve);

struct StudyOptions {
  std::string file;
  std::string hub;
  std::string ca;
  std::string token_file;  // else the PASSERELLE_TOKEN environment variable
  bool json = false;
  int timeout = 3600;
  std::string report;  // write the study's report here (self-contained HTML)
};
Status StudyRun(const StudyOptions& options);

// A protocol (docs/protocols.md) sent to its sites' custodians through the hub, and the
// researcher's protocols with where each stands at each site. `file` is the protocol's file.
Status ProtocolSubmit(const StudyOptions& options);
Status ProtocolList(const StudyOptions& options);

// The custodian's side of protocols: what the node received (with its automatic review and the
// changes from the previous version), and the decision with its reason. `task` is the protocol's
// number.
Status NodeProtocols(const ApprovalOptions& options);
Status NodeProtocolDecide(const ApprovalOptions& options, bool approve);

struct AuditOptions {
  std::string site;  // the site store folder (its audit.sqlite)
  int64_t from = 1;
  int64_t limit = 1000000;
  bool json = false;
  std::string expect;  // verify: "SEQ:HASH", an entry the hub saw, which must be in the chain
};
// Checks the chain; exit 1 naming the first broken entry.
Status AuditVerify(const AuditOptions& options);
Status AuditShow(const AuditOptions& options);

struct SynthOptions {
  std::string site = "wuhan";
  int64_t patients = 1000;
  uint64_t seed = 1;
  std::string out;  // "-" or empty: stdout
};
Status Synth(const SynthOptions& options);

}  // namespace passerelle::cli

#endif  // PASSERELLE_APPS_COMMANDS_H_
