#include "passerelle/net/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "passerelle/base/test_dir.h"

namespace passerelle::net {
namespace {

namespace fs = std::filesystem;

class PkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = passerelle::testing::FreshTestDir("pki");
    ASSERT_TRUE(CreateAuthority(dir_ + "/ca", {}).ok());
  }
  std::string dir_;
};

TEST_F(PkiTest, IssuesNodeAndHubCertificatesTheCaAccepts) {
  IssueOptions node;
  node.name = "wuhan";
  ASSERT_TRUE(IssueCertificate(dir_ + "/ca", dir_ + "/certs", node).ok());
  auto info = VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/wuhan.crt");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->subject, "wuhan");
  EXPECT_EQ(info->role, "node");
  EXPECT_EQ(info->sha256.size(), 64u);
  IssueOptions hub;
  hub.name = "hub";
  hub.role = CertificateRole::kHub;
  ASSERT_TRUE(IssueCertificate(dir_ + "/ca", dir_ + "/certs", hub).ok());
  EXPECT_EQ(VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/hub.crt")->role, "hub");
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/certs/wuhan.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // private keys are the owner's only
}

TEST_F(PkiTest, RefusesAnotherCaAndAnExpiredCertificate) {
  ASSERT_TRUE(CreateAuthority(dir_ + "/other", {"Someone else", 365}).ok());
  IssueOptions stranger;
  stranger.name = "stranger";
  ASSERT_TRUE(IssueCertificate(dir_ + "/other", dir_ + "/certs", stranger).ok());
  auto other = VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/stranger.crt");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(other.status().message().find("unable to get local issuer certificate"),
            std::string::npos)
      << other.status().message();

  IssueOptions old;
  old.name = "old";
  old.days = 10;
  old.backdate_days = 20;
  ASSERT_TRUE(IssueCertificate(dir_ + "/ca", dir_ + "/certs", old).ok());
  auto expired = VerifyCertificate(dir_ + "/ca/ca.crt", dir_ + "/certs/old.crt");
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("certificate has expired"), std::string::npos)
      << expired.status().message();
}

TEST_F(PkiTest, ARevokedCertificateIsRefusedAndEarlierRevocationsStay) {
  const std::string ca_crt = dir_ + "/ca/ca.crt", crl = RevocationListPath(dir_ + "/ca");
  EXPECT_EQ(RevocationListBeside(ca_crt), crl);  // the CA wrote an empty list beside ca.crt
  for (const char* name : {"lyon", "wuhan", "hub"}) {
    IssueOptions o;
    o.name = name;
    ASSERT_TRUE(IssueCertificate(dir_ + "/ca", dir_ + "/certs", o).ok());
  }
  EXPECT_TRUE(VerifyCertificate(ca_crt, dir_ + "/certs/lyon.crt", crl).ok());
  ASSERT_TRUE(RevokeCertificate(dir_ + "/ca", dir_ + "/certs/lyon.crt").ok());
  ASSERT_TRUE(RevokeCertificate(dir_ + "/ca", dir_ + "/certs/hub.crt").ok());
  for (const char* name : {"lyon", "hub"}) {
    auto revoked = VerifyCertificate(ca_crt, dir_ + "/certs/" + name + ".crt", crl);
    ASSERT_FALSE(revoked.ok()) << name;
    EXPECT_NE(revoked.status().message().find("certificate revoked"), std::string::npos)
        << revoked.status().message();
  }
  EXPECT_TRUE(VerifyCertificate(ca_crt, dir_ + "/certs/wuhan.crt", crl).ok());

  // Only this CA's certificates can be put on its list.
  ASSERT_TRUE(CreateAuthority(dir_ + "/other", {"Someone else", 365}).ok());
  IssueOptions stranger;
  stranger.name = "stranger";
  ASSERT_TRUE(IssueCertificate(dir_ + "/other", dir_ + "/certs", stranger).ok());
  EXPECT_EQ(RevokeCertificate(dir_ + "/ca", dir_ + "/certs/stranger.crt").code(),
            StatusCode::kInvalidArgument);
}

TEST_F(PkiTest, ClearErrors) {
  EXPECT_EQ(CreateAuthority(dir_ + "/ca", {}).code(), StatusCode::kAlreadyExists);
  IssueOptions bad;
  bad.name = "../escape";
  EXPECT_EQ(IssueCertificate(dir_ + "/ca", dir_ + "/certs", bad).code(),
            StatusCode::kInvalidArgument);
  bad.name = "x";
  EXPECT_EQ(IssueCertificate(dir_ + "/nowhere", dir_ + "/certs", bad).code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace passerelle::net
