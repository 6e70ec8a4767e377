#include "common/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace ladder::utf8 {
namespace {

TEST(Utf8Test, AcceptsValidText) {
  EXPECT_TRUE(IsValid(""));
  EXPECT_TRUE(IsValid("plain ascii"));
  EXPECT_TRUE(IsValid("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));  // é € 😀
  EXPECT_TRUE(IsValid("\xF4\x8F\xBF\xBF"));                           // U+10FFFF
}

TEST(Utf8Test, RefusesWhatProtobufAndPostgresRefuse) {
  EXPECT_EQ(InvalidAt("ab\xFF"), 2u);
  EXPECT_EQ(InvalidAt("\xC0\xAF"), 0u);          // overlong '/'
  EXPECT_EQ(InvalidAt("\xE0\x80\xAF"), 0u);      // overlong, 3 bytes
  EXPECT_EQ(InvalidAt("x\xED\xA0\x80"), 1u);     // surrogate U+D800
  EXPECT_EQ(InvalidAt("\xF4\x90\x80\x80"), 0u);  // past U+10FFFF
  EXPECT_EQ(InvalidAt("\xE2\x82"), 0u);          // truncated
  EXPECT_EQ(InvalidAt("\x80"), 0u);              // lone continuation byte
  EXPECT_EQ(SequenceAt("\xC3\xA9", 0), 2u);
  EXPECT_EQ(SequenceAt("a", 5), 0u);
}

TEST(Utf8Test, PrefixNeverSplitsACharacter) {
  const std::string s = "ab\xE2\x82\xAC";  // "ab€"
  EXPECT_EQ(Prefix(s, 10), s);
  EXPECT_EQ(Prefix(s, 4), "ab");
  EXPECT_EQ(Prefix(s, 3), "ab");
  EXPECT_EQ(Prefix(s, 5), s);
  EXPECT_TRUE(IsValid(Prefix("\xE2\x82\xAC\xE2\x82\xAC", 4)));
}

}  // namespace
}  // namespace ladder::utf8
