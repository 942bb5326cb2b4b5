#include "passerelle/store/protocol_book.h"

#include "passerelle/base/date.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS protocol (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, version INTEGER NOT NULL,
  researcher TEXT NOT NULL, text TEXT NOT NULL, digest TEXT NOT NULL, received_at TEXT NOT NULL,
  review TEXT NOT NULL, changes TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '', decided_by TEXT NOT NULL DEFAULT '',
  decided_at TEXT NOT NULL DEFAULT '', reported INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr char kColumns[] =
    "id, name, version, researcher, text, digest, received_at, review, changes, status, reason, "
    "decided_by, decided_at, reported";

}  // namespace

ProtocolBook::ProtocolBook(std::unique_ptr<Database> db) : db_(std::move(db)) {}
ProtocolBook::~ProtocolBook() = default;

Result<std::unique_ptr<ProtocolBook>> ProtocolBook::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(auto db, OpenRecordFile(dir, "protocols.sqlite", kSchema, /*durable=*/true));
  return std::unique_ptr<ProtocolBook>(new ProtocolBook(std::move(db)));
}

Status ProtocolBook::Receive(const ProtocolRecord& p) {
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT OR IGNORE INTO protocol (id, name, version, researcher, "
                                "text, digest, received_at, review, changes, status, reason, "
                                "decided_by, decided_at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"));
  insert->BindInt(1, p.id);
  insert->BindText(2, p.name);
  insert->BindInt(3, p.version);
  insert->BindText(4, p.researcher);
  insert->BindText(5, p.text);
  insert->BindText(6, p.digest);
  insert->BindText(7, UtcNowIso());
  insert->BindText(8, p.review);
  insert->BindText(9, p.changes);
  insert->BindText(10, p.status);
  insert->BindText(11, p.reason);
  insert->BindText(12, p.decided_by);
  insert->BindText(13, p.status == "pending" ? "" : UtcNowIso());
  RETURN_IF_ERROR(insert->Run());
  if (db_->Changes() == 0) {
    return AlreadyExists("protocol " + std::to_string(p.id) + " was received before");
  }
  return Status::Ok();
}

Result<std::vector<ProtocolRecord>> ProtocolBook::Select(const std::string& where, int64_t id,
                                                         const std::string& name) {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kColumns + " FROM protocol " + where));
  if (where.find("?1") != std::string::npos) query->BindInt(1, id);
  if (where.find("?2") != std::string::npos) query->BindText(2, name);
  std::vector<ProtocolRecord> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    ProtocolRecord p;
    p.id = query->Int(0);
    p.name = query->Text(1);
    p.version = query->Int(2);
    p.researcher = query->Text(3);
    p.text = query->Text(4);
    p.digest = query->Text(5);
    p.received_at = query->Text(6);
    p.review = query->Text(7);
    p.changes = query->Text(8);
    p.status = query->Text(9);
    p.reason = query->Text(10);
    p.decided_by = query->Text(11);
    p.decided_at = query->Text(12);
    p.reported = query->Int(13) != 0;
    out.push_back(std::move(p));
  }
  return out;
}

Result<std::optional<ProtocolRecord>> ProtocolBook::Get(int64_t id) {
  ASSIGN_OR_RETURN(auto found, Select("WHERE id = ?1", id));
  if (found.empty()) return std::optional<ProtocolRecord>();
  return std::optional<ProtocolRecord>(std::move(found.front()));
}

Result<std::vector<ProtocolRecord>> ProtocolBook::All() { return Select("ORDER BY id DESC"); }

Result<std::optional<ProtocolRecord>> ProtocolBook::Previous(const std::string& name, int64_t id) {
  ASSIGN_OR_RETURN(auto found, Select("WHERE id < ?1 AND name = ?2 ORDER BY id DESC", id, name));
  if (found.empty()) return std::optional<ProtocolRecord>();
  return std::optional<ProtocolRecord>(std::move(found.front()));
}

Status ProtocolBook::Decide(int64_t id, bool approve, const std::string& reason,
                            const std::string& by) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE protocol SET status = ?1, reason = ?2, "
                                             "decided_by = ?3, decided_at = ?4 "
                                             "WHERE id = ?5 AND status = 'pending'"));
  update->BindText(1, approve ? "approved" : "rejected");
  update->BindText(2, reason);
  update->BindText(3, by);
  update->BindText(4, UtcNowIso());
  update->BindInt(5, id);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) {
    return FailedPrecondition("protocol " + std::to_string(id) +
                              " is not waiting for a decision (see passerelle node protocols)");
  }
  return Status::Ok();
}

Result<std::vector<ProtocolRecord>> ProtocolBook::Unreported() {
  return Select("WHERE status != 'pending' AND reported = 0 ORDER BY id");
}

Status ProtocolBook::MarkReported(int64_t id) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE protocol SET reported = 1 WHERE id = ?1"));
  update->BindInt(1, id);
  return update->Run();
}

}  // namespace passerelle::store
