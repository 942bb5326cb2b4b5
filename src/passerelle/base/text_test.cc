#include "passerelle/base/text.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "passerelle/base/sha256.h"

namespace passerelle {
namespace {

TEST(Text, QuoteCellShowsControlBytesAndCutsBetweenCharacters) {
  EXPECT_EQ(QuoteCell("plain"), "\"plain\"");
  EXPECT_EQ(QuoteCell(std::string("1\0"
                                  "9\t",
                                  4)),
            "\"1\\x009\\x09\"");
  const std::string long_text = std::string(39, 'a') + "北京";
  EXPECT_EQ(QuoteCell(long_text), "\"" + std::string(39, 'a') + "...\"");
  EXPECT_EQ(QuoteCell(std::string(40, 'b')), "\"" + std::string(40, 'b') + "\"");
  // C1 controls and the marks that turn text around on a terminal; other text as it is.
  EXPECT_EQ(QuoteCell("a\xC2\x85"
                      "b\xE2\x80\xAE"
                      "c\xE2\x81\xA6"
                      "d\xE2\x80\x8F"),
            "\"a\\u0085b\\u202ec\\u2066d\\u200f\"");
  EXPECT_EQ(QuoteCell("é北京\xE2\x80\x94"), "\"é北京\xE2\x80\x94\"");
  // Bytes that are not UTF-8 (Latin-1, GBK, a surrogate) as their values.
  EXPECT_EQ(QuoteCell("caf\xE9 \xCE\xE4 \xED\xA0\x80"), "\"caf\\xe9 \\xce\\xe4 \\xed\\xa0\\x80\"");
}

TEST(Text, Utf8Validation) {
  EXPECT_FALSE(FindInvalidUtf8("plain"));
  EXPECT_FALSE(FindInvalidUtf8("Léon Bérard 武汉"));
  EXPECT_EQ(FindInvalidUtf8("ab\xce\xe4"), 2u);    // GBK bytes for a Chinese character
  EXPECT_EQ(FindInvalidUtf8("x\xc0\xaf"), 1u);     // overlong '/'
  EXPECT_EQ(FindInvalidUtf8("\xed\xa0\x80"), 0u);  // UTF-16 surrogate
  EXPECT_EQ(FindInvalidUtf8("ok\xe6\xad"), 2u);    // truncated sequence
  EXPECT_EQ(FindInvalidUtf8("caf\xe9"), 3u);       // Latin-1 e acute
}

TEST(Text, Names) {
  EXPECT_TRUE(IsValidName("os_days"));
  EXPECT_TRUE(IsValidName("ph.ecog"));
  EXPECT_FALSE(IsValidName("1x"));
  EXPECT_FALSE(IsValidName("a b"));
  EXPECT_FALSE(IsValidName("x;drop"));
  EXPECT_FALSE(IsValidName(""));
}

TEST(Text, Sha256KnownAnswer) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Sha256 incremental;
  incremental.Update("a");
  incremental.Update("bc");
  EXPECT_EQ(incremental.FinishHex(), Sha256Hex("abc"));
}

TEST(Text, Sha256PrefixDigestsEachMessageAfterTheSamePrefix) {
  // A prefix longer than a block (the ledger's key is 64 characters, then the dataset).
  const std::string prefix = std::string(64, 'k') + '\0' + "gu" + '\0';
  Sha256Prefix hasher(prefix);
  for (const std::string& rest :
       std::vector<std::string>{"id:a", "", "id:a", std::string(200, 'x')}) {
    unsigned char digest[32];
    hasher.Digest(rest, digest);
    std::string hex;
    for (unsigned char byte : digest) {
      static const char kDigits[] = "0123456789abcdef";
      hex += kDigits[byte >> 4];
      hex += kDigits[byte & 15];
    }
    EXPECT_EQ(hex, Sha256Hex(prefix + rest)) << rest;
  }
}

TEST(Text, Sha256ThreadHashesChunksInOrder) {
  // Two buffers taken in turn, each refilled once the hasher is done with it, as a CSV file's
  // chunks are.
  std::string whole, buffers[2];
  Sha256Thread hasher;
  for (int chunk = 0; chunk < 50; ++chunk) {
    hasher.Wait(1);
    std::string& buffer = buffers[chunk % 2];
    buffer.assign(1000 + chunk, static_cast<char>('a' + chunk % 26));
    whole += buffer;
    hasher.Update(buffer);
  }
  EXPECT_EQ(hasher.FinishHex(), Sha256Hex(whole));
  Sha256Thread nothing;
  EXPECT_EQ(nothing.FinishHex(), Sha256Hex(""));
}

}  // namespace
}  // namespace passerelle
