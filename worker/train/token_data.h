// Token corpora: where they live, how they are read, how they are split.
//
// Tokens are byte-level by default (vocabulary 256): a text file's bytes are
// its tokens. A prepared corpus is a directory <data_dir>/<name>/ holding
// train.u8 and val.u8 (or .u16, little-endian uint16 tokens for larger
// vocabularies) and a meta.json describing them; deploy/data/prepare-english.sh
// makes the default one, "debian-en", and deploy/data/prepare-kjv.sh the small
// "kjv". A single file given by absolute path (text,
// .u8 or .u16) is split here: its last `validation_fraction` is held out.
// Files are memory-mapped read-only, so large corpora cost no copy.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "worker/train/run_config.h"

namespace ladder::train {

// A memory-mapped token file: 1 byte per token (.u8, text) or 2 (.u16).
class TokenFile {
 public:
  // Maps `path`; `width` is 1 or 2 bytes per token. Errors are kind `data`.
  static std::shared_ptr<TokenFile> Open(const std::string& path, int width, TrainError* error);
  ~TokenFile();
  TokenFile(const TokenFile&) = delete;
  TokenFile& operator=(const TokenFile&) = delete;

  int64_t size() const { return size_; }
  int width() const { return width_; }
  const std::string& path() const { return path_; }
  int32_t at(int64_t i) const {
    return width_ == 1
               ? static_cast<const uint8_t*>(data_)[i]
               : static_cast<int32_t>(static_cast<const uint8_t*>(data_)[2 * i]) |
                     (static_cast<int32_t>(static_cast<const uint8_t*>(data_)[2 * i + 1]) << 8);
  }
  // Largest token in [begin, end) (one pass over the bytes).
  int32_t MaxToken(int64_t begin, int64_t end) const;

 private:
  TokenFile() = default;
  std::string path_;
  const void* data_ = nullptr;
  size_t mapped_bytes_ = 0;
  int64_t size_ = 0;
  int width_ = 1;
};

// A contiguous range of one file's tokens.
struct TokenSpan {
  std::shared_ptr<TokenFile> file;
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  int32_t at(int64_t i) const { return file->at(begin + i); }
};

struct Corpus {
  std::string name;         // "kjv", or the path given
  std::string description;  // one line for logs and the result's details
  TokenSpan train;          // capped to data.unique_tokens when set
  TokenSpan validation;
  int64_t train_split_tokens = 0;  // the whole training split, before any cap
};

// $LADDER_DATA_DIR, else $HOME/.cache/ladder/data.
std::string DefaultDataDir();

// Resolves data.dataset (a prepared corpus name in `data_dir`, or an absolute
// path), maps it, applies unique_tokens and checks every token is below
// `vocab`. Needs at least 2*context+1 training and context+1 validation
// tokens. Errors are kind `data`, one line, naming the file or the remedy.
bool LoadCorpus(const DataSettings& data, const std::string& data_dir, int vocab, int context,
                Corpus* corpus, TrainError* error);

}  // namespace ladder::train
