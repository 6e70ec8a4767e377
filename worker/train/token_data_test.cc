#include "worker/train/token_data.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

namespace ladder::train {
namespace {

class TokenDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ladder-token-data-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  std::string Write(const std::string& name, const std::string& bytes) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  bool Load(const std::string& dataset, int vocab, int context, Corpus* corpus, TrainError* error,
            std::optional<int64_t> unique = std::nullopt) {
    DataSettings data;
    data.dataset = dataset;
    data.unique_tokens = unique;
    return LoadCorpus(data, dir_, vocab, context, corpus, error);
  }

  std::string dir_;
};

TEST_F(TokenDataTest, TextFileIsBytesWithItsTailHeldOut) {
  std::string text(1000, 'a');
  text[0] = 'Z';
  text[950] = 'Q';
  Corpus c;
  TrainError e;
  ASSERT_TRUE(Load(Write("book.txt", text), 256, 16, &c, &e)) << e.message;
  EXPECT_EQ(c.train.size(), 950);
  EXPECT_EQ(c.validation.size(), 50);
  EXPECT_EQ(c.train.at(0), 'Z');
  EXPECT_EQ(c.validation.at(0), 'Q');
}

TEST_F(TokenDataTest, U16FileIsLittleEndian) {
  std::string bytes;
  for (int i = 0; i < 400; ++i) {
    const int token = 1000 + i;
    bytes.push_back(static_cast<char>(token & 0xff));
    bytes.push_back(static_cast<char>(token >> 8));
  }
  Corpus c;
  TrainError e;
  ASSERT_TRUE(Load(Write("tokens.u16", bytes), 2000, 8, &c, &e)) << e.message;
  EXPECT_EQ(c.train.size() + c.validation.size(), 400);
  EXPECT_EQ(c.train.at(0), 1000);
  EXPECT_EQ(c.train.at(5), 1005);
}

TEST_F(TokenDataTest, PreparedCorpusIsFoundByName) {
  ::mkdir((dir_ + "/tiny").c_str(), 0755);
  Write("tiny/train.u8", std::string(300, 'x'));
  Write("tiny/val.u8", std::string(40, 'y'));
  Corpus c;
  TrainError e;
  ASSERT_TRUE(Load("tiny", 256, 16, &c, &e)) << e.message;
  EXPECT_EQ(c.train.size(), 300);
  EXPECT_EQ(c.validation.size(), 40);
  EXPECT_EQ(c.validation.at(0), 'y');
}

TEST_F(TokenDataTest, UnpreparedKjvNamesThePreparationScript) {
  Corpus c;
  TrainError e;
  ASSERT_FALSE(Load("kjv", 256, 16, &c, &e));
  EXPECT_EQ(e.kind, ErrorKind::kData);
  EXPECT_NE(e.message.find("deploy/data/prepare-kjv.sh"), std::string::npos) << e.message;
}

TEST_F(TokenDataTest, UniqueTokensCapTheTrainingSplit) {
  Corpus c;
  TrainError e;
  ASSERT_TRUE(Load(Write("book.txt", std::string(2000, 'a')), 256, 16, &c, &e, 500)) << e.message;
  EXPECT_EQ(c.train.size(), 500);
  EXPECT_EQ(c.train_split_tokens, 1900);
}

TEST_F(TokenDataTest, UniqueTokensBeyondTheSplitAreRefused) {
  Corpus c;
  TrainError e;
  ASSERT_FALSE(Load(Write("book.txt", std::string(2000, 'a')), 256, 16, &c, &e, 5000));
  EXPECT_EQ(e.kind, ErrorKind::kData);
  EXPECT_NE(e.message.find("exceeds the training split"), std::string::npos) << e.message;
}

TEST_F(TokenDataTest, TokensOutsideTheVocabularyAreRefused) {
  Corpus c;
  TrainError e;
  ASSERT_FALSE(Load(Write("book.txt", std::string(2000, 'z')), 100, 16, &c, &e));
  EXPECT_EQ(e.kind, ErrorKind::kData);
  EXPECT_NE(e.message.find("holds token 122, outside model.vocab (100)"), std::string::npos)
      << e.message;
}

TEST_F(TokenDataTest, TooSmallCorpusIsRefused) {
  Corpus c;
  TrainError e;
  ASSERT_FALSE(Load(Write("book.txt", std::string(100, 'a')), 256, 64, &c, &e));
  EXPECT_EQ(e.kind, ErrorKind::kData);
}

TEST_F(TokenDataTest, MissingRelativeAndEmptyFilesAreDataErrors) {
  Corpus c;
  TrainError e;
  ASSERT_FALSE(Load(dir_ + "/missing.txt", 256, 16, &c, &e));
  EXPECT_EQ(e.kind, ErrorKind::kData);
  EXPECT_NE(e.message.find("cannot open"), std::string::npos);
  ASSERT_FALSE(Load("relative/path.txt", 256, 16, &c, &e));
  EXPECT_NE(e.message.find("absolute path"), std::string::npos);
  ASSERT_FALSE(Load(Write("empty.txt", ""), 256, 16, &c, &e));
  EXPECT_NE(e.message.find("is empty"), std::string::npos);
}

}  // namespace
}  // namespace ladder::train
