#include "passerelle/net/signing.h"

#include <gtest/gtest.h>

namespace passerelle::net {
namespace {

TEST(Signing, SignedTasksVerifyAndTamperingIsCaught) {
  auto hub = GenerateSigningKey();
  ASSERT_TRUE(hub.ok());
  EXPECT_EQ(hub->public_key.size(), 64u);
  const std::string task = "{\"study\": 7, \"round\": 1, \"analysis\": \"coxph\"}";
  auto signature = Sign(task, hub->secret_key);
  ASSERT_TRUE(signature.ok());
  EXPECT_TRUE(VerifySignature(task, *signature, hub->public_key).ok());
  std::string tampered = task;
  tampered[10] = '8';
  EXPECT_EQ(VerifySignature(tampered, *signature, hub->public_key).code(),
            StatusCode::kPermissionDenied);
  auto other = GenerateSigningKey();
  EXPECT_EQ(VerifySignature(task, *signature, other->public_key).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(VerifySignature(task, "zz", hub->public_key).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Sign(task, "1234").status().code(), StatusCode::kInvalidArgument);
}

TEST(Signing, KnownAnswerFromRfc8032) {
  // RFC 8032, section 7.1, TEST 1: empty message.
  const std::string secret =
      "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
      "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
  const std::string expected =
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
      "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
  auto signature = Sign("", secret);
  ASSERT_TRUE(signature.ok());
  EXPECT_EQ(*signature, expected);
  EXPECT_TRUE(VerifySignature("", expected,
                              "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                  .ok());
}

}  // namespace
}  // namespace passerelle::net
