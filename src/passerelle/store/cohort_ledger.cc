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
  population INTEGER NOT NULL, version INTEGER NOT NULL, task INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (dataset, digest, population));
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
    ASSIGN_OR_RETURN(auto read, db_->Prepare("SELECT hash, number FROM record WHERE dataset = ?1"));
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

Result<privacy::ReleasedSets*> CohortLedger::Index(const std::string& dataset) {
  if (auto it = indexes_.find(dataset); it != indexes_.end()) return &it->second;
  ASSIGN_OR_RETURN(auto read,
                   db_->Prepare("SELECT bits, population FROM released WHERE dataset = ?1 "
                                "ORDER BY rowid"));
  read->BindText(1, dataset);
  std::vector<std::pair<privacy::Cohort, bool>> sets;
  while (true) {
    ASSIGN_OR_RETURN(bool row, read->Step());
    if (!row) break;
    const std::string_view blob = read->Blob(0);
    std::vector<uint64_t> bits(blob.size() / sizeof(uint64_t));
    std::memcpy(bits.data(), blob.data(), bits.size() * sizeof(uint64_t));
    sets.emplace_back(privacy::Cohort::FromBits(std::move(bits)), read->Int(1) != 0);
  }
  privacy::ReleasedSets& released = indexes_[dataset];
  released.Add(sets);
  return &released;
}

Result<const privacy::ReleasedSets*> CohortLedger::Released(const std::string& dataset) {
  ASSIGN_OR_RETURN(privacy::ReleasedSets * released, Index(dataset));
  return released;
}

Status CohortLedger::Check(const std::string& dataset, std::span<const privacy::Cohort> populations,
                           std::span<const privacy::Cohort> counts, const privacy::Policy& policy) {
  ASSIGN_OR_RETURN(privacy::ReleasedSets * released, Index(dataset));
  return released->Check(populations, counts, policy);
}

Status CohortLedger::Record(const std::string& dataset, int64_t version,
                            std::span<const privacy::Cohort> populations,
                            std::span<const privacy::Cohort> counts, int64_t task) {
  ASSIGN_OR_RETURN(privacy::ReleasedSets * released, Index(dataset));
  const std::vector<std::pair<privacy::Cohort, bool>> fresh = released->Fresh(populations, counts);
  if (fresh.empty()) return Status::Ok();  // every round of a fit after the first
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT OR IGNORE INTO released "
                                "(dataset, digest, size, bits, population, version, task, at) "
                                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (const auto& [c, population] : fresh) {
    insert->BindText(1, dataset);
    insert->BindText(2, c.digest);
    insert->BindInt(3, static_cast<int64_t>(c.size));
    insert->BindBlob(4, c.bits.data(), c.bits.size() * sizeof(uint64_t));
    insert->BindInt(5, population ? 1 : 0);
    insert->BindInt(6, version);
    insert->BindInt(7, task);
    insert->BindText(8, UtcNowIso());
    if (Status s = insert->Run(); !s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  released->Add(fresh);
  return Status::Ok();
}

Result<size_t> CohortLedger::Count(const std::string& dataset) {
  ASSIGN_OR_RETURN(privacy::ReleasedSets * released, Index(dataset));
  return released->populations().size();
}

}  // namespace passerelle::store
