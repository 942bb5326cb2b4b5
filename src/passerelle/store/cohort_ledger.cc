#include "passerelle/store/cohort_ledger.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "passerelle/base/date.h"
#include "passerelle/base/sha256.h"
#include "passerelle/base/text.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

// Populations per dataset lineage; records numbered by keyed hash, a dataset's records kept as
// one array in the order of their hashes (`records`; a ledger from before kept a row of
// `record` for each, moved into the array the next time the dataset's records are numbered).
// (A ledger from before the lineage, table `cohorts`, numbered rows per version; it is no
// longer read.)
constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS released (
  dataset TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, bits BLOB NOT NULL,
  population INTEGER NOT NULL, version INTEGER NOT NULL, task INTEGER NOT NULL, at TEXT NOT NULL,
  PRIMARY KEY (dataset, digest, population));
CREATE TABLE IF NOT EXISTS record (
  dataset TEXT NOT NULL, hash TEXT NOT NULL, number INTEGER NOT NULL,
  PRIMARY KEY (dataset, hash));
CREATE TABLE IF NOT EXISTS records (dataset TEXT NOT NULL PRIMARY KEY, known BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS numbering (
  dataset TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL, source TEXT NOT NULL,
  numbers BLOB NOT NULL);
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

// The first 12 bytes of a record's keyed hash, from the ledger's hex (24 digits; a record
// written before, all 64). False when it is not one.
bool FromHex(std::string_view hex, unsigned char digest[12]) {
  if (hex.size() != 24 && hex.size() != 64) return false;
  for (size_t i = 0; i < 12; ++i) {
    int byte = 0;
    for (const char c : hex.substr(2 * i, 2)) {
      const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (v < 0) return false;
      byte = byte << 4 | v;
    }
    digest[i] = static_cast<unsigned char>(byte);
  }
  return true;
}

// The first 12 bytes of a record's keyed hash, as the ledger orders records: big-endian, the
// first 8 in `high`.
void HashPrefix(const unsigned char* digest, uint64_t* high, uint32_t* low) {
  *high = 0;
  *low = 0;
  for (int i = 0; i < 8; ++i) *high = *high << 8 | digest[i];
  for (int i = 8; i < 12; ++i) *low = *low << 8 | digest[i];
}

// A record the ledger knows, as its array keeps it (16 bytes, the machine's byte order): the
// first 12 bytes of its keyed hash and its number.
struct Known {
  uint64_t high = 0;
  uint32_t low = 0;
  uint32_t number = 0;
  bool Before(const Known& o) const { return high != o.high ? high < o.high : low < o.low; }
};
static_assert(sizeof(Known) == 16);

// The records the ledger knows of `dataset`, in the order of their hashes: its array, with the
// rows of the earlier layout (`moved` when there are any) merged in.
Result<std::vector<Known>> ReadKnown(Database* db, const std::string& dataset, bool* moved) {
  const std::string damaged = "the ledger of " + dataset + " is damaged: ";
  std::vector<Known> known;
  {
    ASSIGN_OR_RETURN(auto read, db->Prepare("SELECT known FROM records WHERE dataset = ?1"));
    read->BindText(1, dataset);
    ASSIGN_OR_RETURN(bool row, read->Step());
    const std::string_view blob = row ? read->Blob(0) : std::string_view();
    if (blob.size() % sizeof(Known) != 0) return Unavailable(damaged + "its records are cut");
    known.resize(blob.size() / sizeof(Known));
    if (!known.empty()) std::memcpy(known.data(), blob.data(), blob.size());
  }
  std::vector<Known> rows;
  {
    ASSIGN_OR_RETURN(auto read, db->Prepare("SELECT hash, number FROM record WHERE dataset = ?1 "
                                            "ORDER BY hash"));
    read->BindText(1, dataset);
    while (true) {
      ASSIGN_OR_RETURN(bool row, read->Step());
      if (!row) break;
      unsigned char digest[12];
      if (!FromHex(read->Text(0), digest))
        return Unavailable(damaged + "a record's hash is not one");
      Known r;
      HashPrefix(digest, &r.high, &r.low);
      r.number = static_cast<uint32_t>(read->Int(1));
      rows.push_back(r);
    }
  }
  *moved = !rows.empty();
  if (*moved) {
    std::vector<Known> all(known.size() + rows.size());
    std::merge(known.begin(), known.end(), rows.begin(), rows.end(), all.begin(),
               [](const Known& a, const Known& b) { return a.Before(b); });
    known = std::move(all);
  }
  for (size_t i = 1; i < known.size(); ++i) {
    if (known[i].Before(known[i - 1])) return Unavailable(damaged + "its records are not in order");
  }
  return known;
}

}  // namespace

RecordKeys::RecordKeys(std::string_view prefix, size_t rows) : hasher_(prefix) {
  keys_.reserve(rows);
}

void RecordKeys::Add(std::string_view identity) { Push(identity); }

void RecordKeys::AddIdentifier(std::string_view identifier) {
  identity_.assign("id:");
  identity_ += identifier;
  Push(identity_);
}

// A keyed hash: the ledger holds no identifier, and no one without the key can test one.
void RecordKeys::Push(std::string_view identity) {
  unsigned char digest[32];
  hasher_.Digest(identity, digest);
  Key& k = keys_.emplace_back();
  HashPrefix(digest, &k.high, &k.low);
  k.row = static_cast<uint32_t>(keys_.size() - 1);
}

RecordKeys CohortLedger::Keys(const std::string& dataset, size_t rows) const {
  return RecordKeys(key_ + '\0' + dataset + '\0', rows);
}

Result<std::vector<uint32_t>> CohortLedger::Number(const std::string& dataset,
                                                   const std::vector<std::string>& identities) {
  RecordKeys keys = Keys(dataset, identities.size());
  for (const std::string& identity : identities) keys.Add(identity);
  return Number(dataset, std::move(keys));
}

Result<std::vector<uint32_t>> CohortLedger::Number(const std::string& dataset, RecordKeys keys,
                                                   bool* repeated) {
  if (!keys.complete()) {
    return InvalidArgument("the ledger numbers rows by their identities: a row has none");
  }
  using Key = RecordKeys::Key;
  std::vector<Key>& k = keys.keys_;
  std::sort(k.begin(), k.end());
  // The rows the ledger knows, found by walking its records in the order of their hashes
  // beside the rows sorted the same way.
  constexpr uint32_t kNew = UINT32_MAX;
  std::vector<uint32_t> numbers(k.size(), kNew);
  uint32_t next = 0;
  // Read and written under the ledger's write lock: a site's node and its import command
  // number the same new records once.
  RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
  struct Rollback {
    Database* db;
    bool open = true;
    ~Rollback() {
      if (open) (void)db->Exec("ROLLBACK");
    }
  } rollback{db_.get()};
  bool moved = false;  // records of the earlier layout, read into the array
  ASSIGN_OR_RETURN(std::vector<Known> known, ReadKnown(db_.get(), dataset, &moved));
  {
    size_t i = 0;
    for (const Known& r : known) {
      next = std::max(next, r.number + 1);
      const Key key{r.high, r.low};
      while (i < k.size() && k[i].Before(key)) ++i;
      for (size_t j = i; j < k.size() && k[j].SameKey(key); ++j) numbers[k[j].row] = r.number;
    }
  }
  // The new ones numbered in the order of their rows, an identity given twice numbered once.
  std::vector<bool> fresh(k.size());
  std::vector<std::pair<uint32_t, uint32_t>> repeats;  // a row, and the first row of its identity
  for (size_t j = 0, first = 0; j < k.size(); ++j) {
    if (j > 0 && k[j].SameKey(k[first])) {
      repeats.emplace_back(k[j].row, k[first].row);
    } else {
      first = j;
    }
    fresh[k[j].row] = numbers[k[j].row] == kNew;
  }
  if (repeated) *repeated = !repeats.empty();
  std::sort(repeats.begin(), repeats.end());
  auto repeat = repeats.begin();
  size_t added = 0;
  for (size_t row = 0; row < numbers.size(); ++row) {
    if (numbers[row] != kNew) continue;
    const bool again = repeat != repeats.end() && repeat->first == row;
    if (!again) ++added;
    numbers[row] = again ? numbers[(repeat++)->second] : next++;
  }
  // The new records merged into the array, which is written whole: one value, where a row for
  // each record cost the most of an import's numbering.
  if (added > 0 || moved) {
    std::vector<Known> all;
    all.reserve(known.size() + added);
    auto old = known.begin();
    for (size_t j = 0; j < k.size(); ++j) {
      if (!fresh[k[j].row] || (j > 0 && k[j].SameKey(k[j - 1]))) continue;
      const Known r{k[j].high, k[j].low, numbers[k[j].row]};
      while (old != known.end() && old->Before(r)) all.push_back(*old++);
      all.push_back(r);
    }
    all.insert(all.end(), old, known.end());
    known = {};
    ASSIGN_OR_RETURN(auto write, db_->Prepare("INSERT OR REPLACE INTO records (dataset, known) "
                                              "VALUES (?1, ?2)"));
    write->BindText(1, dataset);
    write->BindBlob(2, all.data(), all.size() * sizeof(Known));
    RETURN_IF_ERROR(write->Run());
    if (moved) {
      ASSIGN_OR_RETURN(auto drop, db_->Prepare("DELETE FROM record WHERE dataset = ?1"));
      drop->BindText(1, dataset);
      RETURN_IF_ERROR(drop->Run());
    }
  }
  RETURN_IF_ERROR(db_->Exec("COMMIT"));
  rollback.open = false;
  return numbers;
}

Result<std::optional<std::vector<uint32_t>>> CohortLedger::Kept(const std::string& dataset,
                                                                int64_t version,
                                                                const std::string& source) {
  ASSIGN_OR_RETURN(auto read, db_->Prepare("SELECT numbers FROM numbering WHERE dataset = ?1 "
                                           "AND version = ?2 AND source = ?3"));
  read->BindText(1, dataset);
  read->BindInt(2, version);
  read->BindText(3, source);
  ASSIGN_OR_RETURN(bool row, read->Step());
  if (!row) return std::optional<std::vector<uint32_t>>();
  const std::string_view blob = read->Blob(0);
  std::vector<uint32_t> numbers(blob.size() / sizeof(uint32_t));
  if (!numbers.empty()) {
    std::memcpy(numbers.data(), blob.data(), numbers.size() * sizeof(uint32_t));
  }
  return std::optional(std::move(numbers));
}

Status CohortLedger::Keep(const std::string& dataset, int64_t version, const std::string& source,
                          std::span<const uint32_t> numbers) {
  ASSIGN_OR_RETURN(auto write,
                   db_->Prepare("INSERT OR REPLACE INTO numbering (dataset, version, source, "
                                "numbers) VALUES (?1, ?2, ?3, ?4)"));
  write->BindText(1, dataset);
  write->BindInt(2, version);
  write->BindText(3, source);
  write->BindBlob(4, numbers.data(), numbers.size_bytes());
  return write->Run();
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
