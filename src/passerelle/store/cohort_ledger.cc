#include "passerelle/store/cohort_ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
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

namespace {

// A record as Number holds it: the first 12 bytes of its keyed hash (the ledger keeps the hex of
// all 32), and a number. Twelve bytes tell 10 million records apart but for odds of about one
// in 10^15, in 16 bytes of memory a record.
struct KeyedRecord {
  uint64_t high = 0;
  uint32_t low = 0;
  uint32_t number = 0;
  bool SameKey(const KeyedRecord& o) const { return high == o.high && low == o.low; }
  bool operator<(const KeyedRecord& o) const {
    return high != o.high ? high < o.high : low != o.low ? low < o.low : number < o.number;
  }
};

KeyedRecord FromDigest(const unsigned char* digest, uint32_t number) {
  KeyedRecord r;
  for (int i = 0; i < 8; ++i) r.high = r.high << 8 | digest[i];
  for (int i = 8; i < 12; ++i) r.low = r.low << 8 | digest[i];
  r.number = number;
  return r;
}

// The ledger's hex hash, or false when it is not one.
bool FromHex(std::string_view hex, uint32_t number, KeyedRecord* out) {
  if (hex.size() != 64) return false;
  unsigned char digest[12];
  for (size_t i = 0; i < sizeof digest; ++i) {
    int byte = 0;
    for (const char c : hex.substr(2 * i, 2)) {
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return false;
      byte = byte << 4 | v;
    }
    digest[i] = static_cast<unsigned char>(byte);
  }
  *out = FromDigest(digest, number);
  return true;
}

}  // namespace

Result<std::vector<uint32_t>> CohortLedger::Number(const std::string& dataset,
                                                   const std::vector<std::string>& identities) {
  // A keyed hash: the file holds no identifier, and no one without the key can test one.
  const std::string prefix = key_ + '\0' + dataset + '\0';
  const auto digest = [&prefix](std::string& message, const std::string& identity,
                                unsigned char out[32]) {
    message.resize(prefix.size());
    message += identity;
    Sha256Raw(message, out);
  };
  std::vector<KeyedRecord> known;
  known.reserve(identities.size());  // the ledger knows about as many: grown once at most
  uint32_t next = 0;
  {
    ASSIGN_OR_RETURN(auto read,
                     db_->Prepare("SELECT hash, number FROM record WHERE +dataset = ?1"));
    read->BindText(1, dataset);
    while (true) {
      ASSIGN_OR_RETURN(bool row, read->Step());
      if (!row) break;
      const uint32_t number = static_cast<uint32_t>(read->Int(1));
      KeyedRecord r;
      if (!FromHex(read->Text(0), number, &r)) {
        return Unavailable("the ledger of " + dataset + " is damaged: a record's hash is not one");
      }
      known.push_back(r);
      next = std::max(next, number + 1);
    }
  }
  std::sort(known.begin(), known.end());
  // Each identity's number when the ledger knows it, on two threads; kNew otherwise.
  constexpr uint32_t kNew = UINT32_MAX;
  std::vector<uint32_t> numbers(identities.size(), kNew);
  const auto look_up = [&](size_t begin, size_t end) {
    std::string message = prefix;
    unsigned char hash[32];
    for (size_t i = begin; i < end; ++i) {
      digest(message, identities[i], hash);
      const KeyedRecord key = FromDigest(hash, 0);
      const auto it = std::lower_bound(known.begin(), known.end(), key);
      if (it != known.end() && it->SameKey(key)) numbers[i] = it->number;
    }
  };
  {
    const size_t half = identities.size() / 2;
    std::thread second(look_up, half, identities.size());
    look_up(0, half);
    second.join();
  }
  known = {};
  // The new ones numbered in the order of their rows, an identity given twice numbered once.
  std::vector<KeyedRecord> fresh;  // number: the row
  std::string message = prefix;
  unsigned char hash[32];
  for (size_t i = 0; i < identities.size(); ++i) {
    if (numbers[i] != kNew) continue;
    digest(message, identities[i], hash);
    fresh.push_back(FromDigest(hash, static_cast<uint32_t>(i)));
  }
  std::sort(fresh.begin(), fresh.end());
  std::vector<std::pair<uint32_t, uint32_t>> repeats;  // a row, and the first row of its identity
  for (size_t k = 1, first = 0; k < fresh.size(); ++k) {
    if (!fresh[k].SameKey(fresh[first])) {
      first = k;
    } else {
      repeats.emplace_back(fresh[k].number, fresh[first].number);
    }
  }
  std::sort(repeats.begin(), repeats.end());
  auto repeat = repeats.begin();
  for (size_t i = 0; i < identities.size(); ++i) {
    if (numbers[i] != kNew) continue;
    const bool repeated = repeat != repeats.end() && repeat->first == i;
    numbers[i] = repeated ? numbers[(repeat++)->second] : next++;
  }
  // Written in the order of their hashes, the ledger's key: each lands after the one before.
  ASSIGN_OR_RETURN(auto insert,
                   db_->Prepare("INSERT INTO record (dataset, hash, number) VALUES (?1, ?2, ?3)"));
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  for (size_t k = 0; k < fresh.size(); ++k) {
    if (k > 0 && fresh[k].SameKey(fresh[k - 1])) continue;
    const uint32_t row = fresh[k].number;
    digest(message, identities[row], hash);
    insert->BindText(1, dataset);
    insert->BindText(2, HexEncode(std::string_view(reinterpret_cast<char*>(hash), sizeof hash)));
    insert->BindInt(3, numbers[row]);
    if (Status s = insert->Run(); !s.ok()) {
      (void)db_->Exec("ROLLBACK");
      return s;
    }
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
