#include "passerelle/store/hub_store.h"

#include <filesystem>
#include <set>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

constexpr char kSchema[] = R"sql(
CREATE TABLE user (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL);
CREATE TABLE site (name TEXT PRIMARY KEY, cert_sha256 TEXT NOT NULL, last_seen TEXT NOT NULL DEFAULT '',
                   audit_seq INTEGER NOT NULL DEFAULT 0, audit_hash TEXT NOT NULL DEFAULT '',
                   audit_problem TEXT NOT NULL DEFAULT '', catalog TEXT NOT NULL DEFAULT '[]');
CREATE TABLE study (id INTEGER PRIMARY KEY, owner TEXT NOT NULL REFERENCES user(name),
                    title TEXT NOT NULL, definition TEXT NOT NULL, created_at TEXT NOT NULL,
                    status TEXT NOT NULL DEFAULT 'running', result TEXT NOT NULL DEFAULT '',
                    finished_at TEXT NOT NULL DEFAULT '');
CREATE TABLE task (id INTEGER PRIMARY KEY, study INTEGER NOT NULL REFERENCES study(id),
                   site TEXT NOT NULL REFERENCES site(name), round INTEGER NOT NULL,
                   payload TEXT NOT NULL, signature TEXT NOT NULL, status TEXT NOT NULL,
                   result TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL);
CREATE INDEX task_by_site ON task (site, status, id);
)sql";

// Added with protocols: created by Create, and by Open in a hub store made before them.
constexpr char kProtocolSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS protocol (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
                       version INTEGER NOT NULL, researcher TEXT NOT NULL, text TEXT NOT NULL,
                       submitted_at TEXT NOT NULL, UNIQUE (name, version));
CREATE TABLE IF NOT EXISTS protocol_site (protocol INTEGER NOT NULL REFERENCES protocol(id),
                       site TEXT NOT NULL, payload TEXT NOT NULL, signature TEXT NOT NULL,
                       status TEXT NOT NULL DEFAULT 'pending', reason TEXT NOT NULL DEFAULT '',
                       updated_at TEXT NOT NULL, PRIMARY KEY (protocol, site));
)sql";

constexpr char kProtocolColumns[] = "id, name, version, researcher, text, submitted_at";
constexpr char kDeliveryColumns[] =
    "protocol, site, payload, signature, status, reason, updated_at";

ProtocolEntry ReadProtocol(const Statement& s) {
  return {s.Int(0),
          std::string(s.Text(1)),
          s.Int(2),
          std::string(s.Text(3)),
          std::string(s.Text(4)),
          std::string(s.Text(5))};
}

ProtocolDelivery ReadDelivery(const Statement& s) {
  return {s.Int(0),
          std::string(s.Text(1)),
          std::string(s.Text(2)),
          std::string(s.Text(3)),
          std::string(s.Text(4)),
          std::string(s.Text(5)),
          std::string(s.Text(6))};
}

std::string Path(const std::string& dir) { return (fs::path(dir) / "hub.sqlite").string(); }

TaskRecord ReadTask(const Statement& s) {
  TaskRecord t;
  t.id = s.Int(0);
  t.study = s.Int(1);
  t.site = s.Text(2);
  t.round = static_cast<int>(s.Int(3));
  t.payload = s.Text(4);
  t.signature = s.Text(5);
  t.status = s.Text(6);
  t.result = s.Text(7);
  return t;
}

constexpr char kTaskColumns[] = "id, study, site, round, payload, signature, status, result";

}  // namespace

HubStore::HubStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}
HubStore::~HubStore() = default;

Result<std::unique_ptr<HubStore>> HubStore::Create(const std::string& dir) {
  if (fs::exists(Path(dir))) return AlreadyExists(dir + " already holds a hub store");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Unavailable(dir + ": cannot create the folder: " + ec.message());
  ASSIGN_OR_RETURN(auto db, Database::Open(Path(dir), /*create=*/true));
  RETURN_IF_ERROR(db->Exec("PRAGMA journal_mode = WAL"));
  RETURN_IF_ERROR(db->Exec(kSchema));
  RETURN_IF_ERROR(db->Exec(kProtocolSchema));
  return std::unique_ptr<HubStore>(new HubStore(std::move(db)));
}

Result<std::unique_ptr<HubStore>> HubStore::Open(const std::string& dir) {
  if (!fs::exists(Path(dir))) {
    return NotFound(dir + " holds no hub store (create one with: passerelle hub init " + dir + ")");
  }
  ASSIGN_OR_RETURN(auto db, Database::Open(Path(dir), /*create=*/false));
  // Write-ahead log, synced at checkpoints rather than at every commit: a task's life is five
  // small commits, and a power cut can at worst forget the last ones (never corrupt the file);
  // the study they belonged to is then marked failed at the next start, to run again.
  RETURN_IF_ERROR(db->Exec("PRAGMA synchronous = NORMAL"));
  RETURN_IF_ERROR(db->Exec(kProtocolSchema));
  return std::unique_ptr<HubStore>(new HubStore(std::move(db)));
}

Result<std::string> HubStore::AddUser(const std::string& name) {
  if (!IsValidName(name)) {
    return InvalidArgument("user name '" + name + "' must be " + kValidNameRule);
  }
  const std::string random = RandomHex(32);
  if (random.empty()) return Internal("no random bytes for a token");
  const std::string token = "psr_" + random;
  ASSIGN_OR_RETURN(auto exists, db_->Prepare("SELECT 1 FROM user WHERE name = ?"));
  exists->BindText(1, name);
  ASSIGN_OR_RETURN(bool found, exists->Step());
  if (found) return AlreadyExists("user '" + name + "' exists");
  ASSIGN_OR_RETURN(
      auto insert,
      db_->Prepare("INSERT INTO user (name, token_sha256, created_at) VALUES (?, ?, ?)"));
  insert->BindText(1, name);
  insert->BindText(2, Sha256Hex(token));
  insert->BindText(3, UtcNowIso());
  RETURN_IF_ERROR(insert->Run());
  return token;
}

Result<std::string> HubStore::Authenticate(const std::string& token) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT name FROM user WHERE token_sha256 = ?"));
  query->BindText(1, Sha256Hex(token));
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return PermissionDenied("unknown or revoked token");
  return std::string(query->Text(0));
}

Status HubStore::RevokeUser(const std::string& name) {
  ASSIGN_OR_RETURN(
      auto update,
      db_->Prepare("UPDATE user SET token_sha256 = 'revoked:' || name WHERE name = ?"));
  update->BindText(1, name);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) return NotFound("no researcher '" + name + "'");
  return Status::Ok();
}

Status HubStore::RemoveSite(const std::string& name) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE site SET cert_sha256 = '' WHERE name = ?"));
  update->BindText(1, name);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) return NotFound("no site '" + name + "'");
  return Status::Ok();
}

Status HubStore::AddSite(const std::string& name, const std::string& cert_sha256) {
  if (!IsValidName(name)) return InvalidArgument("site name '" + name + "' is not a name");
  ASSIGN_OR_RETURN(
      auto upsert,
      db_->Prepare("INSERT INTO site (name, cert_sha256) VALUES (?, ?) "
                   "ON CONFLICT (name) DO UPDATE SET cert_sha256 = excluded.cert_sha256, "
                   "audit_seq = 0, audit_hash = '', audit_problem = ''"));
  upsert->BindText(1, name);
  upsert->BindText(2, cert_sha256);
  return upsert->Run();
}

Result<std::vector<SiteRecord>> HubStore::Sites() {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare("SELECT name, cert_sha256, last_seen, audit_seq, audit_hash, "
                                "catalog FROM site WHERE cert_sha256 != '' ORDER BY name"));
  std::vector<SiteRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back({std::string(query->Text(0)), std::string(query->Text(1)),
                   std::string(query->Text(2)), query->Int(3), std::string(query->Text(4)),
                   std::string(query->Text(5))});
  }
  return out;
}

Status HubStore::RecordCatalog(const std::string& site, const std::string& catalog_json) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare("UPDATE site SET catalog = ? WHERE name = ?"));
  query->BindText(1, catalog_json);
  query->BindText(2, site);
  return query->Run();
}

Status HubStore::RecordAuditHead(const std::string& site, int64_t seq, const std::string& hash) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare("SELECT audit_seq, audit_hash, audit_problem FROM site WHERE "
                                "name = ?"));
  query->BindText(1, site);
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return NotFound("site '" + site + "' is not registered at this hub");
  const int64_t seen = query->Int(0);
  const std::string seen_hash(query->Text(1));
  std::string problem(query->Text(2));
  query.reset();
  if (problem.empty() && (seq < seen || (seq == seen && hash != seen_hash))) {
    problem = "its audit log ends at entry " + std::to_string(seq) + ", but the hub has seen " +
              "entry " + std::to_string(seen) + " of it: entries were removed or the log " +
              "replaced (the site's custodian: passerelle audit verify --site DIR --expect " +
              std::to_string(seen) + ":" + seen_hash + "; then the hub: hub site add)";
    ASSIGN_OR_RETURN(auto flag, db_->Prepare("UPDATE site SET audit_problem = ? WHERE name = ?"));
    flag->BindText(1, problem);
    flag->BindText(2, site);
    RETURN_IF_ERROR(flag->Run());
  }
  if (!problem.empty()) return FailedPrecondition(problem);
  ASSIGN_OR_RETURN(auto update,
                   db_->Prepare("UPDATE site SET audit_seq = ?, audit_hash = ? WHERE name = ?"));
  update->BindInt(1, seq);
  update->BindText(2, hash);
  update->BindText(3, site);
  return update->Run();
}

Result<SiteRecord> HubStore::RecognizeSite(const std::string& name,
                                           const std::string& cert_sha256) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT name, cert_sha256 FROM site WHERE name = ?"));
  query->BindText(1, name);
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return PermissionDenied("site '" + name + "' is not registered at this hub");
  if (query->Text(1).empty()) {
    return PermissionDenied("site '" + name + "' was removed from this hub");
  }
  if (query->Text(1) != cert_sha256) {
    return PermissionDenied("site '" + name +
                            "' presented a certificate that is not the pinned one");
  }
  query.reset();
  SiteRecord site;
  site.name = name;
  site.cert_sha256 = cert_sha256;
  site.last_seen = UtcNowIso();
  // Written once a second at most (the clock's resolution), not at every poll.
  ASSIGN_OR_RETURN(auto touch, db_->Prepare("UPDATE site SET last_seen = ? WHERE name = ? AND "
                                            "last_seen != ?"));
  touch->BindText(1, site.last_seen);
  touch->BindText(2, name);
  touch->BindText(3, site.last_seen);
  RETURN_IF_ERROR(touch->Run());
  return site;
}

Result<int64_t> HubStore::AddStudy(const std::string& owner, const std::string& title,
                                   const std::string& definition_json) {
  ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO study (owner, title, definition, "
                                             "created_at) VALUES (?, ?, ?, ?) RETURNING id"));
  insert->BindText(1, owner);
  insert->BindText(2, title);
  insert->BindText(3, definition_json);
  insert->BindText(4, UtcNowIso());
  ASSIGN_OR_RETURN(bool row, insert->Step());
  if (!row) return Internal("hub store: no id for the new study");
  return insert->Int(0);
}

Result<int64_t> HubStore::AddTask(const TaskRecord& task) {
  ASSIGN_OR_RETURN(
      auto insert,
      db_->Prepare("INSERT INTO task (study, site, round, payload, signature, status, updated_at) "
                   "VALUES (?, ?, ?, ?, ?, 'pending', ?) RETURNING id"));
  insert->BindInt(1, task.study);
  insert->BindText(2, task.site);
  insert->BindInt(3, task.round);
  insert->BindText(4, task.payload);
  insert->BindText(5, task.signature);
  insert->BindText(6, UtcNowIso());
  ASSIGN_OR_RETURN(bool row, insert->Step());
  if (!row) return Internal("hub store: no id for the new task");
  return insert->Int(0);
}

Status HubStore::ResendUnanswered(const std::string& site, int64_t working_on) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare("UPDATE task SET status = 'pending' WHERE site = ? AND "
                                            "status = 'sent' AND id != ?"));
  query->BindText(1, site);
  query->BindInt(2, working_on);
  return query->Run();
}

Result<std::optional<TaskRecord>> HubStore::NextTask(const std::string& site) {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto query = db_->Prepare(std::string("SELECT ") + kTaskColumns +
                            " FROM task WHERE site = ? AND status = 'pending' ORDER BY id LIMIT 1");
  if (!query.ok()) {
    (void)db_->Exec("ROLLBACK");
    return query.status();
  }
  (*query)->BindText(1, site);
  auto found = (*query)->Step();
  std::optional<TaskRecord> task;
  if (found.ok() && *found) task = ReadTask(**query);
  query->reset();
  if (task) {
    auto mark = db_->Prepare("UPDATE task SET status = 'sent', updated_at = ? WHERE id = ?");
    if (mark.ok()) {
      (*mark)->BindText(1, UtcNowIso());
      (*mark)->BindInt(2, task->id);
      Status s = (*mark)->Run();
      if (!s.ok()) {
        (void)db_->Exec("ROLLBACK");
        return s;
      }
    }
    task->status = "sent";
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  if (!found.ok()) return found.status();
  return task;
}

Status HubStore::CompleteTask(int64_t id, const std::string& site, const std::string& status,
                              const std::string& result) {
  if (status != "done" && status != "refused" && status != "failed" && status != "held") {
    return InvalidArgument("task status must be done, refused, failed or held");
  }
  ASSIGN_OR_RETURN(
      auto update,
      db_->Prepare("UPDATE task SET status = ?, result = ?, updated_at = ? WHERE id = ? "
                   "AND site = ? AND status IN ('sent', 'held')"));
  update->BindText(1, status);
  update->BindText(2, result);
  update->BindText(3, UtcNowIso());
  update->BindInt(4, id);
  update->BindText(5, site);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) {
    return FailedPrecondition("task " + std::to_string(id) +
                              " is not awaiting a result (unknown, or already answered)");
  }
  return Status::Ok();
}

Status HubStore::InOneWrite(const std::function<void()>& body) {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  body();
  Status committed = db_->Exec("COMMIT");
  if (!committed.ok()) (void)db_->Exec("ROLLBACK");
  return committed;
}

Status HubStore::FinishStudy(int64_t id, const std::string& status, const std::string& result) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE study SET status = ?, result = ?, "
                                             "finished_at = ? WHERE id = ?"));
  update->BindText(1, status);
  update->BindText(2, result);
  update->BindText(3, UtcNowIso());
  update->BindInt(4, id);
  return update->Run();
}

Status HubStore::AbandonTasks(int64_t study) {
  ASSIGN_OR_RETURN(auto update,
                   db_->Prepare("UPDATE task SET status = 'failed', updated_at = ? WHERE study = ? "
                                "AND status IN ('pending', 'sent', 'held')"));
  update->BindText(1, UtcNowIso());
  update->BindInt(2, study);
  return update->Run();
}

namespace {

constexpr char kStudyColumns[] =
    "SELECT id, owner, title, definition, status, result, created_at, finished_at FROM study ";

StudyRecord ReadStudy(const Statement& query) {
  StudyRecord r;
  r.id = query.Int(0);
  r.owner = query.Text(1);
  r.title = query.Text(2);
  r.definition = query.Text(3);
  r.status = query.Text(4);
  r.result = query.Text(5);
  r.created_at = query.Text(6);
  r.finished_at = query.Text(7);
  return r;
}

}  // namespace

Result<StudyRecord> HubStore::Study(int64_t id) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string(kStudyColumns) + "WHERE id = ?"));
  query->BindInt(1, id);
  ASSIGN_OR_RETURN(bool found, query->Step());
  if (!found) return NotFound("no study " + std::to_string(id));
  return ReadStudy(*query);
}

Result<std::vector<StudyRecord>> HubStore::StudiesOf(const std::string& owner) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string(kStudyColumns) + "WHERE owner = ? ORDER BY id DESC"));
  query->BindText(1, owner);
  std::vector<StudyRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(ReadStudy(*query));
  }
  return out;
}

Result<std::vector<int64_t>> HubStore::RunningStudies() {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare("SELECT id FROM study WHERE status = 'running' ORDER BY id"));
  std::vector<int64_t> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(query->Int(0));
  }
  return out;
}

Result<std::vector<TaskRecord>> HubStore::StudyTasks(int64_t study) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kTaskColumns +
                                            " FROM task WHERE study = ? ORDER BY id"));
  query->BindInt(1, study);
  std::vector<TaskRecord> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(ReadTask(*query));
  }
  return out;
}

Result<ProtocolEntry> HubStore::AddProtocol(const std::string& name, const std::string& researcher,
                                            const std::string& text) {
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT INTO protocol (name, version, researcher, text, "
                                "submitted_at) SELECT ?1, 1 + COALESCE(MAX(version), 0), ?2, ?3, "
                                "?4 FROM protocol WHERE name = ?1"));
  insert->BindText(1, name);
  insert->BindText(2, researcher);
  insert->BindText(3, text);
  insert->BindText(4, UtcNowIso());
  RETURN_IF_ERROR(insert->Run());
  ASSIGN_OR_RETURN(std::optional<ProtocolEntry> added, LatestProtocol(name));
  if (!added) return Internal("the protocol was not recorded");
  return *added;
}

Status HubStore::AddProtocolDelivery(const ProtocolDelivery& d) {
  ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT INTO protocol_site (protocol, site, payload, "
                                             "signature, updated_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
  insert->BindInt(1, d.protocol);
  insert->BindText(2, d.site);
  insert->BindText(3, d.payload);
  insert->BindText(4, d.signature);
  insert->BindText(5, UtcNowIso());
  return insert->Run();
}

Result<std::optional<ProtocolDelivery>> HubStore::NextProtocolDelivery(const std::string& site) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                                " FROM protocol_site WHERE site = ?1 AND status = 'pending' "
                                "ORDER BY protocol LIMIT 1"));
  query->BindText(1, site);
  ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::optional<ProtocolDelivery>();
  return std::optional<ProtocolDelivery>(ReadDelivery(*query));
}

Result<int64_t> HubStore::UnreceivedProtocols(const std::string& researcher,
                                              const std::vector<std::string>& sites) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare("SELECT DISTINCT p.id, s.site FROM protocol p JOIN protocol_site s "
                                "ON s.protocol = p.id WHERE p.researcher = ?1 AND "
                                "s.status = 'pending'"));
  query->BindText(1, researcher);
  std::set<int64_t> versions;
  while (true) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    if (std::find(sites.begin(), sites.end(), query->Text(1)) != sites.end()) {
      versions.insert(query->Int(0));
    }
  }
  return static_cast<int64_t>(versions.size());
}

Status HubStore::RecordProtocolState(int64_t protocol, const std::string& site,
                                     const std::string& status, const std::string& reason) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE protocol_site SET status = ?1, reason = ?2, "
                                             "updated_at = ?3 WHERE protocol = ?4 AND site = ?5"));
  update->BindText(1, status);
  update->BindText(2, reason);
  update->BindText(3, UtcNowIso());
  update->BindInt(4, protocol);
  update->BindText(5, site);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) {
    return NotFound("protocol " + std::to_string(protocol) + " was not sent to site " + site);
  }
  return Status::Ok();
}

Result<std::vector<ProtocolEntry>> HubStore::Protocols() {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kProtocolColumns +
                                            " FROM protocol ORDER BY id DESC"));
  std::vector<ProtocolEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(ReadProtocol(*query));
  }
  return out;
}

Result<std::optional<ProtocolEntry>> HubStore::LatestProtocol(const std::string& name) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kProtocolColumns +
                                " FROM protocol WHERE name = ?1 ORDER BY version DESC LIMIT 1"));
  query->BindText(1, name);
  ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::optional<ProtocolEntry>();
  return std::optional<ProtocolEntry>(ReadProtocol(*query));
}

Result<std::optional<ProtocolEntry>> HubStore::Protocol(int64_t id) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kProtocolColumns +
                                            " FROM protocol WHERE id = ?1"));
  query->BindInt(1, id);
  ASSIGN_OR_RETURN(bool row, query->Step());
  if (!row) return std::optional<ProtocolEntry>();
  return std::optional<ProtocolEntry>(ReadProtocol(*query));
}

Result<std::vector<ProtocolDelivery>> HubStore::Deliveries(int64_t protocol) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kDeliveryColumns +
                                            " FROM protocol_site WHERE protocol = ?1 "
                                            "ORDER BY site"));
  query->BindInt(1, protocol);
  std::vector<ProtocolDelivery> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(ReadDelivery(*query));
  }
  return out;
}

}  // namespace passerelle::store
