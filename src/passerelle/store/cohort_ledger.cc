#include "passerelle/store/cohort_ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

// Populations per dataset lineage; records numbered by keyed hash. (A ledger from before the
// lineage, table `cohorts`, numbered rows per version; it is no longer read.)
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS released (
  dataset TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, bits BLOB NOT NULL,
  version INTEGER NOT NULL, task INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (dataset, digest));
CREATE TABLE IF NOT EXISTS record (
  dataset TEXT NOT NULL, hash TEXT NOT NULL, number INTEGER NOT NULL,
  PRIMARY KEY (dataset, hash));
)sql";

Result<std::string> ReadOrCreateKey(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "ledger.key").string();
  if (std::ifstream in(path); in) {
    std::string key;
    in >> key;
    if (key.size() == 64) return key;
    return Unavailable(path + " is damaged: the ledger cannot recognise records");
  }
  const std::string key = RandomHex(32);
  if (key.empty()) return Internal("no random bytes for the ledger's key");
  const mode_t old = ::umask(077);
  std::ofstream out(path);
  out << key << "\n";
  ::umask(old);
  if (!out) return Unavailable("cannot write " + path);
  ::chmod(path.c_str(), 0600);
  return key;
}

}  // namespace

CohortLedger::CohortLedger(std::unique_ptr<Database> db, std::string key)
    : db_(std::move(db)), key_(std::move(key)) {}
CohortLedger::~CohortLedger() = default;

Result<std::unique_ptr<CohortLedger>> CohortLedger::Open(const std::string& dir) {
  ASSIGN_OR_RETURN(auto db, OpenRecordFile(dir, "ledger.sqlite", kSchema, /*durable=*/true));
  ASSIGN_OR_RETURN(std::string key, ReadOrCreateKey(dir));
  return std::unique_ptr<CohortLedger>(new CohortLedger(std::move(db), std::move(key)));
}

Result<std::vector<uint32_t>> CohortLedger::Number(const std::string& dataset,
                                                   const std::vector<std::string>& identities) {
  std::unordered_map<std::string, uint32_t> known;
  uint32_t next = 0;
  {
    ASSIGN_OR_RETURN(auto read,
                     db_->Prepare("SELECT hash, number FROM record WHERE dataset = ?1"));
    read->BindText(1, dataset);
    while (true) {
      ASSIGN_OR_RETURN(bool row, read->Step());
      if (!row) break;
      const uint32_t number = static_cast<uint32_t>(read->Int(1));
      known.emplace(std::string(read->Text(0)), number);
      next = std::max(next, number + 1);
    }
  }
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT INTO record (dataset, hash, number) VALUES (?1, ?2, ?3)"));
  std::vector<uint32_t> numbers;
  numbers.reserve(identities.size());
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (const std::string& identity : identities) {
    // A keyed hash: the file holds no identifier, and no one without the key can test one.
    const std::string hash = Sha256Hex(key_ + '\0' + dataset + '\0' + identity);
    auto [it, added] = known.emplace(hash, next);
    if (added) {
      insert->BindText(1, dataset);
      insert->BindText(2, hash);
      insert->BindInt(3, next++);
      if (Status s = insert->Run(); !s.ok()) {
        (void)db_->Exec("ROLLBACK");
        return s;
      }
    }
    numbers.push_back(it->second);
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  return numbers;
}

Result<privacy::DifferencingIndex*> CohortLedger::Index(const std::string& dataset) {
  if (auto it = indexes_.find(dataset); it != indexes_.end()) return &it->second;
  privacy::DifferencingIndex index;
  ASSIGN_OR_RETURN(auto read, db_->Prepare("SELECT bits FROM released WHERE dataset = ?1"));
  read->BindText(1, dataset);
  while (true) {
    ASSIGN_OR_RETURN(bool row, read->Step());
    if (!row) break;
    const std::string_view blob = read->Blob(0);
    std::vector<uint64_t> bits(blob.size() / sizeof(uint64_t));
    std::memcpy(bits.data(), blob.data(), bits.size() * sizeof(uint64_t));
    index.Add(privacy::Cohort::FromBits(std::move(bits)));
  }
  return &indexes_.emplace(dataset, std::move(index)).first->second;
}

Result<const privacy::DifferencingIndex*> CohortLedger::Released(const std::string& dataset) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset));
  return index;
}

Status CohortLedger::Check(const std::string& dataset, std::span<const privacy::Cohort> release,
                           const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset));
  return index->Check(release, policy);
}

Status CohortLedger::Record(const std::string& dataset, int64_t version,
                            std::span<const privacy::Cohort> release, int64_t task) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset));
  const bool known = std::all_of(release.begin(), release.end(), [&](const privacy::Cohort& c) {
    return index->Contains(c.digest);
  });
  if (known) return Status::Ok();  // every round of a fit after the first
  ASSIGN_OR_RETURN(auto insert, db_->Prepare("INSERT OR IGNORE INTO released "
                                             "(dataset, digest, size, bits, version, task, at) "
                                             "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"));
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (const privacy::Cohort& c : release) {
    if (index->Contains(c.digest)) continue;
    insert->BindText(1, dataset);
    insert->BindText(2, c.digest);
    insert->BindInt(3, static_cast<int64_t>(c.size));
    insert->BindBlob(4, c.bits.data(), c.bits.size() * sizeof(uint64_t));
    insert->BindInt(5, version);
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

Result<size_t> CohortLedger::Count(const std::string& dataset) {
  ASSIGN_OR_RETURN(privacy::DifferencingIndex * index, Index(dataset));
  return index->size();
}

}  // namespace passerelle::store
