#include "passerelle/store/cohort_ledger.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <numeric>
#include <thread>

#include "passerelle/base/sha256.h"
#include "passerelle/base/test_dir.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

privacy::Cohort FirstRows(size_t n) {
  std::vector<size_t> rows(n);
  std::iota(rows.begin(), rows.end(), 0);
  return privacy::Cohort::FromRows(rows, 500);
}

TEST(CohortLedger, RemembersReleasedCohortsPerDatasetAcrossVersionsAndRestarts) {
  const std::string dir = testing::FreshTestDir("ledger");
  const privacy::Policy policy = privacy::DefaultPolicy("lyon");
  {
    auto ledger = CohortLedger::Open(dir);
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ASSERT_TRUE((*ledger)->Check("gu", std::vector{FirstRows(200)}, {}, policy).ok());
    ASSERT_TRUE((*ledger)->Record("gu", 1, std::vector{FirstRows(200)}, {}, 7).ok());
    // Recording the same cohort again (the next round of a fit) keeps one entry.
    ASSERT_TRUE((*ledger)->Record("gu", 1, std::vector{FirstRows(200)}, {}, 8).ok());
    EXPECT_EQ(*(*ledger)->Count("gu"), 1u);
  }
  auto ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(*(*ledger)->Count("gu"), 1u);
  const Status refused = (*ledger)->Check("gu", std::vector{FirstRows(199)}, {}, policy);
  EXPECT_EQ(refused.code(), StatusCode::kPermissionDenied);
  EXPECT_NE(refused.message().find("rule min_cohort_difference"), std::string::npos);
  EXPECT_TRUE((*ledger)->Check("gu", std::vector{FirstRows(200)}, {}, policy).ok());
  // Another dataset has its own ledger.
  EXPECT_TRUE((*ledger)->Check("other", std::vector{FirstRows(199)}, {}, policy).ok());
}

TEST(CohortLedger, NumbersRecordsByKeyedHashSoAReimportKeepsThem) {
  const std::string dir = testing::FreshTestDir("ledger_numbers");
  std::vector<uint32_t> first, second;
  {
    auto ledger = CohortLedger::Open(dir);
    ASSERT_TRUE(ledger.ok());
    first = *(*ledger)->Number("gu", {"id:a", "id:b", "id:c"});
  }
  struct stat key {};
  ASSERT_EQ(::stat((dir + "/ledger.key").c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600u);
  auto ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  // The next import: rows in another order, one patient gone, one new.
  second = *(*ledger)->Number("gu", {"id:c", "id:d", "id:a"});
  EXPECT_EQ(second[0], first[2]);
  EXPECT_EQ(second[2], first[0]);
  EXPECT_NE(second[1], first[0]);
  EXPECT_NE(second[1], first[1]);
  EXPECT_NE(second[1], first[2]);
  // New records take the next numbers in the order of their rows; one given twice, one number;
  // a dataset's numbers are its own.
  const auto third = *(*ledger)->Number("gu", {"id:e", "id:a", "id:f", "id:e"});
  EXPECT_EQ(third, (std::vector<uint32_t>{second[1] + 1, first[0], second[1] + 2, second[1] + 1}));
  EXPECT_EQ(*(*ledger)->Number("other", {"id:x", "id:a"}), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(*(*ledger)->Number("gu", {}), std::vector<uint32_t>());
  // A population of version 1 and the same patients but one in version 2 are told apart.
  const privacy::Policy policy = privacy::DefaultPolicy("lyon");
  std::vector<size_t> rows(20);
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<std::string> v1, v2;
  for (int i = 0; i < 20; ++i) v1.push_back("id:p" + std::to_string(i));
  v2 = v1;
  v2.erase(v2.begin() + 7);  // a patient removed from the export
  const auto n1 = *(*ledger)->Number("gu", v1);
  const auto n2 = *(*ledger)->Number("gu", v2);
  ASSERT_TRUE(
      (*ledger)
          ->Record("gu", 1, std::vector{privacy::Cohort::FromRows(rows, 20).Renumbered(n1)}, {}, 1)
          .ok());
  rows.pop_back();
  EXPECT_FALSE(
      (*ledger)
          ->Check("gu", std::vector{privacy::Cohort::FromRows(rows, 19).Renumbered(n2)}, {}, policy)
          .ok());
}

// Keys taken as the rows are read number records as their identities do: the same record the
// same number, from a ledger written before (its hashes of 64 hex digits) too; an identifier
// given twice is said, a row without one leaves the keys unusable.
TEST(CohortLedger, RowsKeyedAsTheyAreReadKeepTheirIdentitiesNumbers) {
  const std::string dir = testing::FreshTestDir("ledger_keys");
  auto ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  {
    // A record the ledger numbered before it kept 24 hex digits of each hash.
    std::ifstream in(dir + "/ledger.key");
    std::string key;
    in >> key;
    auto db = Database::Open(dir + "/ledger.sqlite", false);
    ASSERT_TRUE(db.ok());
    const std::string hash = Sha256Hex(key + '\0' + "gu" + '\0' + "id:old");
    ASSERT_TRUE((*db)->Exec("INSERT INTO record VALUES ('gu', '" + hash + "', 41)").ok());
  }
  const std::vector<uint32_t> by_identity = *(*ledger)->Number("gu", {"id:a", "id:b", "id:old"});
  EXPECT_EQ(by_identity, (std::vector<uint32_t>{42, 43, 41}));
  RecordKeys keys = (*ledger)->Keys("gu", 4);
  for (const char* id : {"c", "old", "b", "a"}) keys.AddIdentifier(id);
  bool repeated = true;
  EXPECT_EQ(*(*ledger)->Number("gu", std::move(keys), &repeated),
            (std::vector<uint32_t>{44, 41, 43, 42}));
  EXPECT_FALSE(repeated);
  RecordKeys twice = (*ledger)->Keys("gu", 3);
  for (const char* id : {"a", "d", "a"}) twice.AddIdentifier(id);
  EXPECT_EQ(*(*ledger)->Number("gu", std::move(twice), &repeated),
            (std::vector<uint32_t>{42, 45, 42}));
  EXPECT_TRUE(repeated);
  RecordKeys gap = (*ledger)->Keys("gu", 2);
  gap.AddIdentifier("a");
  gap.AddMissing();
  EXPECT_FALSE(gap.complete());
  EXPECT_EQ((*ledger)->Number("gu", std::move(gap)).status().code(), StatusCode::kInvalidArgument);
  // Reopened, the ledger finds each record again, whichever way its hash was written.
  ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(*(*ledger)->Number("gu", {"id:d", "id:old", "id:c", "id:e"}),
            (std::vector<uint32_t>{45, 41, 44, 46}));
  // The record of the earlier layout (a row of its own) was moved into the dataset's array.
  auto db = Database::Open(dir + "/ledger.sqlite", false);
  ASSERT_TRUE(db.ok());
  auto rows = (*db)->Prepare("SELECT (SELECT count(*) FROM record), length(known) FROM records");
  ASSERT_TRUE(rows.ok() && *(*rows)->Step());
  EXPECT_EQ((*rows)->Int(0), 0);
  EXPECT_EQ((*rows)->Int(1), 6 * 16);  // old, a, b, c, d and e, 16 bytes each
}

TEST(CohortLedger, KeepsOneNumberingADatasetForTheVersionAndSourceItWasFoundFor) {
  const std::string dir = testing::FreshTestDir("ledger_numbering");
  {
    auto ledger = CohortLedger::Open(dir);
    ASSERT_TRUE(ledger.ok());
    auto none = (*ledger)->Kept("gu", 1, "a");
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());
    ASSERT_TRUE((*ledger)->Keep("gu", 1, "a", std::vector<uint32_t>{7, 3, 5}).ok());
    ASSERT_TRUE((*ledger)->Keep("other", 4, "b", std::vector<uint32_t>{}).ok());
  }
  // Reopened: kept for that version and source only.
  auto ledger = CohortLedger::Open(dir);
  ASSERT_TRUE(ledger.ok());
  EXPECT_EQ(**(*ledger)->Kept("gu", 1, "a"), (std::vector<uint32_t>{7, 3, 5}));
  EXPECT_FALSE((*ledger)->Kept("gu", 1, "another import")->has_value());
  EXPECT_FALSE((*ledger)->Kept("gu", 2, "a")->has_value());
  EXPECT_TRUE((*(*ledger)->Kept("other", 4, "b"))->empty());
  // A new version's numbers take the place of the old ones.
  ASSERT_TRUE((*ledger)->Keep("gu", 2, "c", std::vector<uint32_t>{1}).ok());
  EXPECT_FALSE((*ledger)->Kept("gu", 1, "a")->has_value());
  EXPECT_EQ(**(*ledger)->Kept("gu", 2, "c"), (std::vector<uint32_t>{1}));
}

// An import command and the site's node hold the ledger each: numbering the same new records
// at the same time, they give each record one number, the one both see.
TEST(CohortLedger, TwoHoldersNumberingTheSameNewRecordsAtOnceGiveEachOneNumber) {
  const std::string dir = testing::FreshTestDir("ledger_concurrent");
  ASSERT_TRUE(CohortLedger::Open(dir).ok());  // the key written once, before both open it
  constexpr size_t kRecords = 20000;
  std::vector<std::string> forward, backward;
  for (size_t i = 0; i < kRecords; ++i) forward.push_back("id:P" + std::to_string(i));
  backward.assign(forward.rbegin(), forward.rend());
  std::vector<uint32_t> numbers[2];
  Status status[2];
  std::thread holders[2];
  for (int h = 0; h < 2; ++h) {
    holders[h] = std::thread([&, h] {
      auto ledger = CohortLedger::Open(dir);
      if (!ledger.ok()) {
        status[h] = ledger.status();
        return;
      }
      for (int round = 0; round < 5 && status[h].ok(); ++round) {
        auto n = (*ledger)->Number("gu", h == 0 ? forward : backward);
        status[h] = n.status();
        if (n.ok()) numbers[h] = std::move(*n);
      }
    });
  }
  for (std::thread& t : holders) t.join();
  ASSERT_TRUE(status[0].ok()) << status[0].ToString();
  ASSERT_TRUE(status[1].ok()) << status[1].ToString();
  // The same record, the same number; every number once.
  std::vector<uint32_t> reversed(numbers[1].rbegin(), numbers[1].rend());
  EXPECT_EQ(numbers[0], reversed);
  std::vector<uint32_t> sorted = numbers[0];
  std::sort(sorted.begin(), sorted.end());
  std::vector<uint32_t> each(kRecords);
  std::iota(each.begin(), each.end(), 0);
  EXPECT_EQ(sorted, each);
  // A third holder, later, finds them all known.
  auto later = CohortLedger::Open(dir);
  ASSERT_TRUE(later.ok());
  EXPECT_EQ(*(*later)->Number("gu", forward), numbers[0]);
}

}  // namespace
}  // namespace passerelle::store
