#include "passerelle/store/audit_log.h"

#include <gtest/gtest.h>

#include "passerelle/base/test_dir.h"
#include "passerelle/store/sqlite_db.h"

namespace passerelle::store {
namespace {

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::FreshTestDir("audit");
    auto log = AuditLog::Open(dir_);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    log_ = std::move(*log);
    for (int i = 1; i <= 4; ++i) {
      AuditEntry task;
      task.kind = "task";
      task.task = i;
      task.study = 1;
      task.researcher = "alice";
      task.detail = "{\"v\":1,\"task\":{\"analysis\":\"coxph\"}}";
      task.signature = "ab12";
      ASSERT_TRUE(log_->Append(task).ok());
      AuditEntry released = task;
      released.kind = "released";
      released.detail = "";
      released.signature = "";
      released.digest = "00ff";
      ASSERT_TRUE(log_->Append(released).ok());
    }
  }

  // Changes the audit file behind the log's back, as someone with the file could.
  void Tamper(const std::string& sql) {
    auto db = Database::Open(dir_ + "/audit.sqlite", false);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE((*db)->Exec(sql).ok());
  }

  std::string dir_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, AnIntactChainVerifies) {
  auto checked = log_->Verify();
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  EXPECT_EQ(*checked, 8);
  auto entries = log_->Entries(3, 2);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*entries)[0].seq, 3);
  EXPECT_EQ((*entries)[0].kind, "task");
  EXPECT_EQ((*entries)[1].prev, (*entries)[0].hash);
  // Reopened, the log goes on from where it was.
  log_.reset();
  auto reopened = AuditLog::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  AuditEntry e;
  e.kind = "refused";
  e.detail = "rule min_cohort_size";
  ASSERT_EQ((*reopened)->Append(e)->seq, 9);
  EXPECT_EQ(*(*reopened)->Verify(), 9);
}

TEST_F(AuditLogTest, AnEditedEntryIsNamed) {
  Tamper("UPDATE audit SET digest = '11ff' WHERE seq = 6");
  auto checked = log_->Verify();
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().message(),
            "audit entry 6: its hash does not match its contents (edited?)");
}

TEST_F(AuditLogTest, ARehashedEntryBreaksTheNextLink) {
  // Someone who edits an entry and recomputes its hash still breaks the entry after it.
  auto entries = log_->Entries(4, 1);
  ASSERT_TRUE(entries.ok());
  AuditEntry e = (*entries)[0];
  e.digest = "1111";
  const std::string forged = AuditLog::HashOf(e, e.prev);
  Tamper("UPDATE audit SET digest = '1111', hash = '" + forged + "' WHERE seq = 4");
  auto checked = log_->Verify();
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().message(),
            "audit entry 5: it does not follow the previous entry's hash");
}

TEST_F(AuditLogTest, ARemovedEntryIsNamed) {
  Tamper("DELETE FROM audit WHERE seq = 3");
  auto checked = log_->Verify();
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.status().message(), "audit entry 3 is missing (the next one is 4)");
}

}  // namespace
}  // namespace passerelle::store
