#include "passerelle/store/audit_log.h"

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, kind TEXT NOT NULL, task INTEGER NOT NULL,
  study INTEGER NOT NULL, researcher TEXT NOT NULL, detail TEXT NOT NULL, signature TEXT NOT NULL,
  digest TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
)sql";

constexpr char kColumns[] =
    "seq, at, kind, task, study, researcher, detail, signature, digest, prev, hash";

AuditEntry Read(const Statement& s) {
  AuditEntry e;
  e.seq = s.Int(0);
  e.at = s.Text(1);
  e.kind = s.Text(2);
  e.task = s.Int(3);
  e.study = s.Int(4);
  e.researcher = s.Text(5);
  e.detail = s.Text(6);
  e.signature = s.Text(7);
  e.digest = s.Text(8);
  e.prev = s.Text(9);
  e.hash = s.Text(10);
  return e;
}

// Each field as length:value, so no choice of contents can make two entries hash alike.
void Field(Sha256* h, std::string_view value) {
  h->Update(std::to_string(value.size()));
  h->Update(":");
  h->Update(value);
}

}  // namespace

AuditLog::AuditLog(std::unique_ptr<Database> db) : db_(std::move(db)) {}
AuditLog::~AuditLog() = default;

Result<std::unique_ptr<AuditLog>> AuditLog::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(auto db, OpenRecordFile(dir, "audit.sqlite", kSchema, /*durable=*/true));
  return std::unique_ptr<AuditLog>(new AuditLog(std::move(db)));
}

std::string AuditLog::HashOf(const AuditEntry& e, const std::string& prev) {
  Sha256 h;
  Field(&h, prev);
  Field(&h, std::to_string(e.seq));
  Field(&h, e.at);
  Field(&h, e.kind);
  Field(&h, std::to_string(e.task));
  Field(&h, std::to_string(e.study));
  Field(&h, e.researcher);
  Field(&h, e.detail);
  Field(&h, e.signature);
  Field(&h, e.digest);
  return h.FinishHex();
}

Result<AuditEntry> AuditLog::Append(AuditEntry entry) {
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  auto append = [&]() -> Status {
    ASSIGN_OR_RETURN(auto last, db_->Prepare("SELECT seq, hash FROM audit ORDER BY seq DESC "
                                             "LIMIT 1"));
    ASSIGN_OR_RETURN(bool any, last->Step());
    entry.seq = any ? last->Int(0) + 1 : 1;
    entry.prev = any ? std::string(last->Text(1)) : "";
    entry.at = UtcNowIso();
    entry.hash = HashOf(entry, entry.prev);
    ASSIGN_OR_RETURN(auto insert, db_->Prepare(std::string("INSERT INTO audit (") + kColumns +
                                               ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    insert->BindInt(1, entry.seq);
    insert->BindText(2, entry.at);
    insert->BindText(3, entry.kind);
    insert->BindInt(4, entry.task);
    insert->BindInt(5, entry.study);
    insert->BindText(6, entry.researcher);
    insert->BindText(7, entry.detail);
    insert->BindText(8, entry.signature);
    insert->BindText(9, entry.digest);
    insert->BindText(10, entry.prev);
    insert->BindText(11, entry.hash);
    return insert->Run();
  };
  const Status appended = append();
  if (!appended.ok()) {
    (void)db_->Exec("ROLLBACK");
    return appended;
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return entry;
}

Result<std::vector<AuditEntry>> AuditLog::Entries(int64_t first, int64_t limit) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kColumns +
                                            " FROM audit WHERE seq >= ? ORDER BY seq LIMIT ?"));
  query->BindInt(1, first);
  query->BindInt(2, limit);
  std::vector<AuditEntry> out;
  for (;;) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    out.push_back(Read(*query));
  }
  return out;
}

Result<int64_t> AuditLog::LastSeq() {
  ASSIGN_OR_RETURN(auto query, db_->Prepare("SELECT COALESCE(MAX(seq), 0) FROM audit"));
  ASSIGN_OR_RETURN(bool row, query->Step());
  return row ? query->Int(0) : 0;
}

Result<int64_t> AuditLog::Verify() {
  ASSIGN_OR_RETURN(auto query,
                   db_->Prepare(std::string("SELECT ") + kColumns + " FROM audit ORDER BY seq"));
  std::string prev;
  int64_t expected = 1;
  for (;; ++expected) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    const AuditEntry e = Read(*query);
    const std::string where = "audit entry " + std::to_string(expected);
    if (e.seq != expected) {
      return FailedPrecondition(where + " is missing (the next one is " + std::to_string(e.seq) +
                                ")");
    }
    if (e.prev != prev) {
      return FailedPrecondition(where + ": it does not follow the previous entry's hash");
    }
    if (HashOf(e, prev) != e.hash) {
      return FailedPrecondition(where + ": its hash does not match its contents (edited?)");
    }
    prev = e.hash;
  }
  return expected - 1;
}

}  // namespace passerelle::store
