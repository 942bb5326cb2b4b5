#include "passerelle/store/cohort_ledger.h"

#include <algorithm>
#include <cstring>

#include "passerelle/base/date.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS cohorts (
  dataset TEXT NOT NULL, version INTEGER NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
  bits BLOB NOT NULL, task INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (dataset, version, digest));
)sql";

}  // namespace

CohortLedger::CohortLedger(std::unique_ptr<Database> db) : db_(std::move(db)) {}
CohortLedger::~CohortLedger() = default;

Result<std::unique_ptr<CohortLedger>> CohortLedger::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(auto db, OpenRecordFile(dir, "ledger.sqlite", kSchema, /*durable=*/true));
  return std::unique_ptr<CohortLedger>(new CohortLedger(std::move(db)));
}

Result<privacy::DifferencingIndex*> CohortLedger::Index(const std::string& dataset,
                                                        int64_t version) {
  const auto key = std::make_pair(dataset, version);
  if (auto it = indexes_.find(key); it != indexes_.end()) return &it->second;
  privacy::DifferencingIndex index;
  ASSIGN_OR_RETURN(auto read,
                   db_->Prepare("SELECT bits FROM cohorts WHERE dataset = ?1 AND version = ?2"));
  read->BindText(1, dataset);
  read->BindInt(2, version);
  while (true) {
    ASSIGN_OR_RETURN(bool row, read->Step());
    if (!row) break;
    const std::string_view blob = read->Blob(0);
    std::vector<uint64_t> bits(blob.size() / sizeof(uint64_t));
    std::memcpy(bits.data(), blob.data(), bits.size() * sizeof(uint64_t));
    index.Add(privacy::Cohort::FromBits(std::move(bits)));
  }
  return &indexes_.emplace(key, std::move(index)).first->second;
}

Status CohortLedger::Check(const std::string& dataset, int64_t version,
                           std::span<const privacy::Cohort> release,
                           const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset, version));
  return index->Check(release, policy);
}

Status CohortLedger::Record(const std::string& dataset, int64_t version,
                            std::span<const privacy::Cohort> release, int64_t task) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset, version));
  const bool known = std::all_of(release.begin(), release.end(), [&](const privacy::Cohort& c) {
    return index->Contains(c.digest);
  });
  if (known) return Status::Ok();  // every round of a fit after the first
  ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT OR IGNORE INTO cohorts "
                                             "(dataset, version, digest, size, bits, task, at) "
                                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (const privacy::Cohort& c : release) {
    if (index->Contains(c.digest)) continue;
    insert->BindText(1, dataset);
    insert->BindInt(2, version);
    insert->BindText(3, c.digest);
    insert->BindInt(4, static_cast<int64_t>(c.size));
    insert->BindBlob(5, c.bits.data(), c.bits.size() * sizeof(uint64_t));
    insert->BindInt(6, task);
    insert->BindText(7, UtcNowIso());
    if (Status s = insert->Run(); !s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  for (const privacy::Cohort& c : release) index->Add(c);
  return Status::Ok();
}

Result<size_t> CohortLedger::Count(const std::string& dataset, int64_t version) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset, version));
  return index->size();
}

}  // namespace passerelle::store
