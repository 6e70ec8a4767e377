#include "worker/train/token_data.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace ladder::train {
namespace {

bool DataError(TrainError* error, const std::string& message) {
  error->kind = ErrorKind::kData;
  error->message = message;
  return false;
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool IsCorpusName(const std::string& name) {
  if (name.empty() || name[0] == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

}  // namespace

std::shared_ptr<TokenFile> TokenFile::Open(const std::string& path, int width, TrainError* error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    DataError(error, "cannot open " + path + ": " + std::strerror(errno));
    return nullptr;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    DataError(error, "cannot stat " + path + ": " + std::strerror(errno));
    ::close(fd);
    return nullptr;
  }
  if (st.st_size == 0) {
    ::close(fd);
    DataError(error, path + " is empty");
    return nullptr;
  }
  if (width == 2 && st.st_size % 2 != 0) {
    ::close(fd);
    DataError(error, path + " has an odd number of bytes, so it is not a .u16 token file");
    return nullptr;
  }
  void* data = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (data == MAP_FAILED) {
    DataError(error, "cannot map " + path + ": " + std::strerror(errno));
    return nullptr;
  }
  std::shared_ptr<TokenFile> file(new TokenFile());
  file->path_ = path;
  file->data_ = data;
  file->mapped_bytes_ = static_cast<size_t>(st.st_size);
  file->width_ = width;
  file->size_ = st.st_size / width;
  return file;
}

TokenFile::~TokenFile() {
  if (data_ != nullptr) ::munmap(const_cast<void*>(data_), mapped_bytes_);
}

int32_t TokenFile::MaxToken(int64_t begin, int64_t end) const {
  const uint8_t* bytes = static_cast<const uint8_t*>(data_);
  if (width_ == 1) {
    uint8_t m = 0;
    for (int64_t i = begin; i < end; ++i) m = std::max(m, bytes[i]);
    return m;
  }
  int32_t m = 0;
  for (int64_t i = begin; i < end; ++i) m = std::max(m, at(i));
  return m;
}

std::string DefaultDataDir() {
  if (const char* dir = std::getenv("LADDER_DATA_DIR"); dir != nullptr && dir[0] != '\0')
    return dir;
  if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.cache/ladder/data";
  }
  return "/tmp/ladder-data";
}

bool LoadCorpus(const DataSettings& data, const std::string& data_dir, int vocab, int context,
                Corpus* corpus, TrainError* error) {
  Corpus c;
  c.name = data.dataset;
  const std::string& dataset = data.dataset;
  if (!dataset.empty() && dataset[0] == '/') {
    // One file: text or .u8 (1 byte per token) or .u16; hold out its tail.
    const int width = EndsWith(dataset, ".u16") ? 2 : 1;
    auto file = TokenFile::Open(dataset, width, error);
    if (!file) return false;
    const int64_t n = file->size();
    const auto held_out = static_cast<int64_t>(std::llround(n * data.validation_fraction));
    c.train = {file, 0, n - held_out};
    c.validation = {file, n - held_out, n};
    c.description = dataset + " (" + std::to_string(n) + " tokens, last " +
                    std::to_string(held_out) + " held out)";
  } else if (IsCorpusName(dataset)) {
    const std::string dir = data_dir + "/" + dataset;
    std::shared_ptr<TokenFile> train, val;
    for (int width : {1, 2}) {
      const std::string ext = width == 1 ? ".u8" : ".u16";
      if (FileExists(dir + "/train" + ext) && FileExists(dir + "/val" + ext)) {
        if (!(train = TokenFile::Open(dir + "/train" + ext, width, error))) return false;
        if (!(val = TokenFile::Open(dir + "/val" + ext, width, error))) return false;
        break;
      }
    }
    if (!train) {
      std::string hint =
          dataset == "kjv"         ? " (run deploy/data/prepare-kjv.sh, or set LADDER_DATA_DIR)"
          : dataset == "debian-en" ? " (run deploy/data/prepare-english.sh, or set LADDER_DATA_DIR)"
                                   : " (expected train.u8 and val.u8, or .u16)";
      return DataError(error, "dataset \"" + dataset + "\" is not prepared in " + dir + hint);
    }
    c.train = {train, 0, train->size()};
    c.validation = {val, 0, val->size()};
    c.description = dataset + " from " + dir + " (" + std::to_string(train->size()) + " train + " +
                    std::to_string(val->size()) + " validation tokens)";
  } else {
    return DataError(
        error, "data.dataset must be a prepared corpus name or an absolute path (got \"" + dataset +
                   "\")");
  }

  c.train_split_tokens = c.train.size();
  if (data.unique_tokens) {
    if (*data.unique_tokens > c.train.size()) {
      return DataError(error, "data.unique_tokens (" + std::to_string(*data.unique_tokens) +
                                  ") exceeds the training split of " + dataset + " (" +
                                  std::to_string(c.train.size()) + " tokens)");
    }
    c.train.end = c.train.begin + *data.unique_tokens;
  }
  if (c.train.size() < 2 * static_cast<int64_t>(context) + 1) {
    return DataError(error, dataset + " has too few training tokens (" +
                                std::to_string(c.train.size()) + ") for context " +
                                std::to_string(context) + " (need " +
                                std::to_string(2 * context + 1) + ")");
  }
  if (c.validation.size() < context + 1) {
    return DataError(error, dataset + " has too few validation tokens (" +
                                std::to_string(c.validation.size()) + ") for context " +
                                std::to_string(context));
  }
  for (const TokenSpan* span : {&c.train, &c.validation}) {
    const int32_t max_token = span->file->MaxToken(span->begin, span->end);
    if (max_token >= vocab) {
      return DataError(error, span->file->path() + " holds token " + std::to_string(max_token) +
                                  ", outside model.vocab (" + std::to_string(vocab) + ")");
    }
  }
  *corpus = std::move(c);
  return true;
}

}  // namespace ladder::train
