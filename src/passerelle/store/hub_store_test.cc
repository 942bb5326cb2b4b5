#include "passerelle/store/hub_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "passerelle/base/test_dir.h"

namespace passerelle::store {
namespace {

namespace fs = std::filesystem;

class HubStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("hub");
    auto hub = HubStore::Create(dir_);
    ASSERT_TRUE(hub.ok()) << hub.status().ToString();
    hub_ = std::move(*hub);
  }
  std::string dir_;
  std::unique_ptr<HubStore> hub_;
};

TEST_F(HubStoreTest, TokensAreShownOnceAndStoredHashed) {
  auto token = hub_->AddUser("alice");
  ASSERT_TRUE(token.ok());
  EXPECT_EQ(token->rfind("psr_", 0), 0u);
  EXPECT_EQ(*hub_->Authenticate(*token), "alice");
  EXPECT_EQ(hub_->Authenticate("psr_wrong").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(hub_->AddUser("alice").status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(hub_->AddUser("bad name").status().code(), StatusCode::kInvalidArgument);
  // The file never holds the token itself.
  hub_.reset();
  std::ifstream in(dir_ + "/hub.sqlite", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ifstream wal(dir_ + "/hub.sqlite-wal", std::ios::binary);
  const std::string wal_bytes((std::istreambuf_iterator<char>(wal)),
                              std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.find(*token), std::string::npos);
  EXPECT_EQ(wal_bytes.find(*token), std::string::npos);
}

TEST_F(HubStoreTest, SitesArePinnedByCertificate) {
  ASSERT_TRUE(hub_->AddSite("wuhan", "aa11").ok());
  EXPECT_TRUE(hub_->RecognizeSite("wuhan", "aa11").ok());
  EXPECT_EQ(hub_->RecognizeSite("wuhan", "bb22").status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(hub_->RecognizeSite("lyon", "aa11").status().code(), StatusCode::kPermissionDenied);
  auto sites = hub_->Sites();
  ASSERT_EQ(sites->size(), 1u);
  EXPECT_FALSE((*sites)[0].last_seen.empty());
}

// A poll makes the site's unanswered tasks pending again (its node lost them), but for the one
// the node says it is answering while it polls for the next.
TEST_F(HubStoreTest, APollResendsWhatTheNodeDoesNotHold) {
  ASSERT_TRUE(hub_->AddUser("alice").ok());
  ASSERT_TRUE(hub_->AddSite("wuhan", "aa").ok());
  auto study = hub_->AddStudy("alice", "OS by organ", "{\"analyses\": []}");
  ASSERT_TRUE(study.ok());
  for (int round = 1; round <= 2; ++round) {
    TaskRecord t;
    t.study = *study;
    t.site = "wuhan";
    t.round = round;
    t.payload = "{}";
    t.signature = "00";
    ASSERT_TRUE(hub_->AddTask(t).ok());
  }
  auto first = hub_->NextTask("wuhan");
  ASSERT_TRUE(first.ok() && first->has_value());
  // The node answers the first while it polls: the first stays with it, the second goes out.
  ASSERT_TRUE(hub_->ResendUnanswered("wuhan", (*first)->id).ok());
  auto second = hub_->NextTask("wuhan");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_GT((*second)->id, (*first)->id);
  EXPECT_FALSE((*hub_->NextTask("wuhan")).has_value());
  // A node that restarted holds neither: both go out again, in order.
  ASSERT_TRUE(hub_->ResendUnanswered("wuhan").ok());
  EXPECT_EQ((*hub_->NextTask("wuhan"))->id, (*first)->id);
  EXPECT_EQ((*hub_->NextTask("wuhan"))->id, (*second)->id);
}

TEST_F(HubStoreTest, TasksFlowInOrderAndSurviveARestart) {
  ASSERT_TRUE(hub_->AddUser("alice").ok());
  ASSERT_TRUE(hub_->AddSite("wuhan", "aa").ok());
  ASSERT_TRUE(hub_->AddSite("lyon", "bb").ok());
  auto study = hub_->AddStudy("alice", "OS by organ", "{\"analyses\": []}");
  ASSERT_TRUE(study.ok());
  for (const char* site : {"wuhan", "lyon", "wuhan"}) {
    TaskRecord t;
    t.study = *study;
    t.site = site;
    t.round = 1;
    t.payload = "{}";
    t.signature = "00";
    ASSERT_TRUE(hub_->AddTask(t).ok());
  }
  auto first = hub_->NextTask("wuhan");
  ASSERT_TRUE(first.ok() && first->has_value());
  EXPECT_EQ((*first)->status, "sent");
  ASSERT_TRUE(hub_->CompleteTask((*first)->id, "wuhan", "done", "{\"loglik\": -1}").ok());
  // A replayed answer is refused, and so is an answer from another site.
  EXPECT_EQ(hub_->CompleteTask((*first)->id, "wuhan", "done", "{}").code(),
            StatusCode::kFailedPrecondition);
  auto lyons = hub_->NextTask("lyon");
  ASSERT_TRUE(lyons.ok() && lyons->has_value());
  EXPECT_EQ(hub_->CompleteTask((*lyons)->id, "wuhan", "done", "{}").code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(hub_->FinishStudy(*study, "done", "{\"results\": {}}").ok());

  hub_.reset();  // the hub restarts
  auto reopened = HubStore::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  auto second = (*reopened)->NextTask("wuhan");
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_GT((*second)->id, (*first)->id);
  EXPECT_FALSE((*(*reopened)->NextTask("wuhan")).has_value());
  auto record = (*reopened)->Study(*study);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->status, "done");
  EXPECT_EQ(record->result, "{\"results\": {}}");
  EXPECT_EQ(record->owner, "alice");
  EXPECT_TRUE((*(*reopened)->RunningStudies()).empty());
  auto tasks = (*reopened)->StudyTasks(*study);
  ASSERT_EQ(tasks->size(), 3u);
  EXPECT_EQ((*tasks)[0].status, "done");
  EXPECT_EQ((*tasks)[0].result, "{\"loglik\": -1}");
  EXPECT_EQ((*tasks)[1].status, "sent");  // lyon's, taken above
}

}  // namespace
}  // namespace passerelle::store
