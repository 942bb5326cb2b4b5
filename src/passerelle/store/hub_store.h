// The hub's own state, in its SQLite file: researchers and their tokens (only SHA-256 digests are
// kept), the sites that may connect (pinned by certificate fingerprint), studies and the tasks
// sent to sites with their results. A restarted hub reads it back as it was.
//
//   DIR/hub.sqlite    this store
#ifndef PASSERELLE_STORE_HUB_STORE_H_
#define PASSERELLE_STORE_HUB_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "passerelle/base/status.h"

namespace passerelle::store {

class Database;

struct SiteRecord {
  std::string name;
  std::string cert_sha256;  // pinned fingerprint of the node's certificate
  std::string last_seen;    // UTC, ISO 8601; empty before the first contact
  // The head of the node's audit chain in its latest answer (0 and "" before any).
  int64_t audit_seq = 0;
  std::string audit_hash;
  // What the node's latest poll said the site holds (datasets, versions, dictionaries: metadata
  // only), JSON; "[]" before any.
  std::string catalog = "[]";
};

struct TaskRecord {
  int64_t id = 0;
  int64_t study = 0;
  std::string site;
  int round = 0;
  std::string payload;    // the task as signed, JSON
  std::string signature;  // Ed25519, hex
  std::string status;     // pending, sent, held (for the site's custodian), done, refused, failed
  std::string result;     // the site's answer, JSON (aggregates only)
};

struct StudyRecord {
  int64_t id = 0;
  std::string owner, title;
  std::string definition;  // the study as submitted, JSON
  std::string status;      // running, done, failed
  std::string result;      // the study's results, JSON (once finished)
  std::string created_at, finished_at;
};

// A protocol as submitted (one row per version) and where it stands at each of its sites.
struct ProtocolEntry {
  int64_t id = 0;  // this hub's number for this version
  std::string name;
  int64_t version = 0;
  std::string researcher;  // who submitted it
  std::string text;        // JSON, as submitted
  std::string submitted_at;
};
struct ProtocolDelivery {
  int64_t protocol = 0;
  std::string site;
  std::string payload, signature;  // as signed for the site
  std::string status;              // pending (not yet with the node), received, approved, rejected
  std::string reason;              // the custodian's (or the automatic review's) reason
  std::string updated_at;
};

class HubStore {
 public:
  // Creates DIR/hub.sqlite. AlreadyExists when it is there.
  static Result<std::unique_ptr<HubStore>> Create(const std::string& dir);
  // Opens it. NotFound when DIR holds no hub store.
  static Result<std::unique_ptr<HubStore>> Open(const std::string& dir);
  ~HubStore();

  // Adds a researcher and returns the new token, shown once and stored only as its SHA-256.
  // AlreadyExists for a known name; InvalidArgument for a bad name.
  Result<std::string> AddUser(const std::string& name);
  // The researcher a token belongs to; PermissionDenied for an unknown token.
  Result<std::string> Authenticate(const std::string& token);

  // Revokes a researcher's token at once (a lost laptop): their studies stay, the token opens
  // nothing. NotFound for an unknown name.
  Status RevokeUser(const std::string& name);

  // Registers (or re-pins) a site and its certificate fingerprint.
  Status AddSite(const std::string& name, const std::string& cert_sha256);
  // Unpins a site's certificate at once (a compromised node): its node is refused from its next
  // request and it takes part in no new study; AddSite with a new certificate brings it back.
  // NotFound for an unknown name.
  Status RemoveSite(const std::string& name);
  // The registered sites (not the removed ones).
  Result<std::vector<SiteRecord>> Sites();
  // The site whose certificate is pinned as `cert_sha256`, recording the contact time;
  // PermissionDenied for an unknown name or a fingerprint that is not the pinned one.
  Result<SiteRecord> RecognizeSite(const std::string& name, const std::string& cert_sha256);
  // Records the catalog a site's node sent (federation/node/catalog.cc): JSON, metadata only.
  Status RecordCatalog(const std::string& site, const std::string& catalog_json);

  // A study: its id. Studies and tasks survive restarts.
  Result<int64_t> AddStudy(const std::string& owner, const std::string& title,
                           const std::string& definition_json);
  Result<int64_t> AddTask(const TaskRecord& task);
  // The oldest pending task of a site, marked sent; nullopt when there is none.
  Result<std::optional<TaskRecord>> NextTask(const std::string& site);
  // A site's tasks sent but not answered become pending again, but for the one its node says it
  // is answering (`working_on`, 0 for none): a node polls for its next task while it answers
  // one, so any other unanswered task never reached it (a node restarted while its last poll
  // took them).
  Status ResendUnanswered(const std::string& site, int64_t working_on = 0);
  // Records the head of a site's audit chain as its node's answer states it. FailedPrecondition
  // when the chain is behind (or, at the same entry, differs from) the head seen before: entries
  // were removed from the site's log or the log was replaced. From then on every answer of the
  // site fails the same way, until the site is registered again (AddSite).
  Status RecordAuditHead(const std::string& site, int64_t seq, const std::string& hash);
  // Records a site's answer to a task sent to it (or held at the site): once, and only from the
  // site it was sent to (FailedPrecondition otherwise). Status "held": the site holds the
  // release for its custodian's approval; the answer comes later.
  Status CompleteTask(int64_t id, const std::string& site, const std::string& status,
                      const std::string& result);
  // Runs `body` (calls of this store) as one transaction: what it changes reaches the disk in
  // one write, whether or not the calls succeed. Unavailable when the file cannot be written.
  Status InOneWrite(const std::function<void()>& body);
  // Marks a study's unanswered tasks failed, so no node receives them any more.
  Status AbandonTasks(int64_t study);
  Status FinishStudy(int64_t id, const std::string& status, const std::string& result);
  // The studies of a researcher, newest first.
  Result<std::vector<StudyRecord>> StudiesOf(const std::string& owner);
  Result<StudyRecord> Study(int64_t id);
  Result<std::vector<int64_t>> RunningStudies();
  Result<std::vector<TaskRecord>> StudyTasks(int64_t study);

  // A new version of protocol `name` (1 + the newest version kept).
  Result<ProtocolEntry> AddProtocol(const std::string& name, const std::string& researcher,
                                    const std::string& text);
  Status AddProtocolDelivery(const ProtocolDelivery& delivery);
  // The oldest protocol not yet delivered to `site`; nullopt when there is none.
  Result<std::optional<ProtocolDelivery>> NextProtocolDelivery(const std::string& site);
  // How many of `researcher`'s protocol versions one of `sites` has not received yet (their
  // nodes review each one as it arrives).
  Result<int64_t> UnreceivedProtocols(const std::string& researcher,
                                      const std::vector<std::string>& sites);
  // What `site` says of a protocol sent to it: received, approved or rejected (with a reason).
  // NotFound when the protocol was not sent to that site.
  Status RecordProtocolState(int64_t protocol, const std::string& site, const std::string& status,
                             const std::string& reason);
  // Every protocol, newest first; the newest version of a name; one by number.
  Result<std::vector<ProtocolEntry>> Protocols();
  Result<std::optional<ProtocolEntry>> LatestProtocol(const std::string& name);
  Result<std::optional<ProtocolEntry>> Protocol(int64_t id);
  Result<std::vector<ProtocolDelivery>> Deliveries(int64_t protocol);

 private:
  explicit HubStore(std::unique_ptr<Database> db);
  std::unique_ptr<Database> db_;
};

}  // namespace passerelle::store

#endif  // PASSERELLE_STORE_HUB_STORE_H_
