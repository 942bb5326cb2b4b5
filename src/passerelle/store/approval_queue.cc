#include "passerelle/store/approval_queue.h"

#include <cstring>

#include "passerelle/base/date.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS held (
  task INTEGER PRIMARY KEY, study INTEGER NOT NULL, researcher TEXT NOT NULL,
  dataset TEXT NOT NULL, dataset_version INTEGER NOT NULL, what TEXT NOT NULL,
  task_json TEXT NOT NULL, held_at TEXT NOT NULL, aggregate TEXT NOT NULL, cohorts BLOB NOT NULL,
  decision TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '',
  decided_by TEXT NOT NULL DEFAULT '', decided_at TEXT NOT NULL DEFAULT '',
  answered INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr char kColumns[] =
    "task, study, researcher, dataset, dataset_version, what, task_json, held_at, aggregate, "
    "cohorts, decision, reason, decided_by, decided_at, answered";

// The populations and then the counts as one blob: for each set, its number of 64-bit words,
// then the words; the counts follow a word kCountsFollow.
constexpr uint64_t kCountsFollow = UINT64_MAX;

std::string PackCohorts(const std::vector<privacy::Cohort>& cohorts,
                        const std::vector<privacy::Cohort>& counts) {
  std::string out;
  for (const auto* part : {&cohorts, &counts}) {
    if (part == &counts)
      out.append(reinterpret_cast<const char*>(&kCountsFollow), sizeof(uint64_t));
    for (const privacy::Cohort& c : *part) {
      const uint64_t words = c.bits.size();
      out.append(reinterpret_cast<const char*>(&words), sizeof words);
      out.append(reinterpret_cast<const char*>(c.bits.data()), words * sizeof(uint64_t));
    }
  }
  return out;
}

void UnpackCohorts(std::string_view blob, std::vector<privacy::Cohort>* cohorts,
                   std::vector<privacy::Cohort>* counts) {
  std::vector<privacy::Cohort>* out = cohorts;
  while (blob.size() >= sizeof(uint64_t)) {
    uint64_t words = 0;
    std::memcpy(&words, blob.data(), sizeof words);
    blob.remove_prefix(sizeof words);
    if (words == kCountsFollow) {
      out = counts;
      continue;
    }
    words = std::min<uint64_t>(words, blob.size() / sizeof(uint64_t));
    std::vector<uint64_t> bits(words);
    std::memcpy(bits.data(), blob.data(), words * sizeof(uint64_t));
    blob.remove_prefix(words * sizeof(uint64_t));
    out->push_back(privacy::Cohort::FromBits(std::move(bits)));
  }
}

}  // namespace

ApprovalQueue::ApprovalQueue(std::unique_ptr<Database> db) : db_(std::move(db)) {}
ApprovalQueue::~ApprovalQueue() = default;

Result<std::unique_ptr<ApprovalQueue>> ApprovalQueue::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(auto db, OpenRecordFile(dir, "approvals.sqlite", kSchema, /*durable=*/true));
  return std::unique_ptr<ApprovalQueue>(new ApprovalQueue(std::move(db)));
}

Status ApprovalQueue::Hold(const HeldRelease& r) {
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT INTO held (task, study, researcher, dataset, "
                                "dataset_version, what, task_json, held_at, aggregate, cohorts) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"));
  insert->BindInt(1, r.task);
  insert->BindInt(2, r.study);
  insert->BindText(3, r.researcher);
  insert->BindText(4, r.dataset);
  insert->BindInt(5, r.dataset_version);
  insert->BindText(6, r.what);
  insert->BindText(7, r.task_json);
  insert->BindText(8, UtcNowIso());
  insert->BindText(9, r.aggregate);
  const std::string cohorts = PackCohorts(r.cohorts, r.counts);
  insert->BindBlob(10, cohorts.data(), cohorts.size());
  return insert->Run();
}

Result<std::vector<HeldRelease>> ApprovalQueue::Select(const std::string& where) {
  ASSIGN_OR_RETURN(auto query, db_->Prepare(std::string("SELECT ") + kColumns + " FROM held " +
                                            where + " ORDER BY task"));
  std::vector<HeldRelease> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, query->Step());
    if (!row) break;
    HeldRelease r;
    r.task = query->Int(0);
    r.study = query->Int(1);
    r.researcher = query->Text(2);
    r.dataset = query->Text(3);
    r.dataset_version = query->Int(4);
    r.what = query->Text(5);
    r.task_json = query->Text(6);
    r.held_at = query->Text(7);
    r.aggregate = query->Text(8);
    UnpackCohorts(query->Blob(9), &r.cohorts, &r.counts);
    r.decision = query->Text(10);
    r.reason = query->Text(11);
    r.decided_by = query->Text(12);
    r.decided_at = query->Text(13);
    r.answered = query->Int(14) != 0;
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::vector<HeldRelease>> ApprovalQueue::Pending() { return Select("WHERE decision = ''"); }

Result<std::vector<HeldRelease>> ApprovalQueue::Decided() {
  return Select("WHERE decision != '' AND answered = 0");
}

Result<HeldRelease> ApprovalQueue::Get(int64_t task) {
  ASSIGN_OR_RETURN(std::vector<HeldRelease> found, Select("WHERE task = " + std::to_string(task)));
  if (found.empty()) return NotFound("no release of task " + std::to_string(task) + " is held");
  return std::move(found.front());
}

Status ApprovalQueue::Decide(int64_t task, bool approve, const std::string& reason,
                             const std::string& by) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE held SET decision = ?1, reason = ?2, "
                                             "decided_by = ?3, decided_at = ?4 "
                                             "WHERE task = ?5 AND decision = ''"));
  update->BindText(1, approve ? "approved" : "denied");
  update->BindText(2, reason);
  update->BindText(3, by);
  update->BindText(4, UtcNowIso());
  update->BindInt(5, task);
  RETURN_IF_ERROR(update->Run());
  if (db_->Changes() == 0) {
    return FailedPrecondition("task " + std::to_string(task) +
                              " is not waiting for a decision (see passerelle node pending)");
  }
  return Status::Ok();
}

Status ApprovalQueue::MarkAnswered(int64_t task) {
  ASSIGN_OR_RETURN(auto update, db_->Prepare("UPDATE held SET answered = 1 WHERE task = ?1"));
  update->BindInt(1, task);
  return update->Run();
}

}  // namespace passerelle::store
