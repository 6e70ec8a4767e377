#include "worker/train/checkpoint.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "worker/train/events.h"

namespace ladder::train {
namespace {

constexpr int64_t kFormatVersion = 1;

bool FsyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// Checkpoint files in `dir` as (step, path), newest first.
std::vector<std::pair<int64_t, std::string>> ListCheckpoints(const std::string& dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return found;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    long long step = 0;
    char tail[8] = {0};
    // Exactly "ckpt-<digits>.pt" (temporary files end in ".pt.tmp").
    if (name.size() > 8 && std::sscanf(name.c_str(), "ckpt-%lld.%7s", &step, tail) == 2 &&
        std::strcmp(tail, "pt") == 0) {
      found.emplace_back(step, dir + "/" + name);
    }
  }
  ::closedir(d);
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  return found;
}

}  // namespace

std::string SaveCheckpoint(const std::string& dir, const std::string& fingerprint,
                           LanguageModel& model, const AdamW& optimizer, const LoopState& state,
                           std::string* error) {
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt-%012lld.pt", static_cast<long long>(state.step));
  const std::string path = dir + "/" + name;
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    archive.write("format_version", c10::IValue(kFormatVersion));
    archive.write("fingerprint", c10::IValue(fingerprint));
    archive.write("step", c10::IValue(state.step));
    archive.write("tokens", c10::IValue(state.tokens));
    archive.write("wall_seconds", c10::IValue(state.wall_seconds));
    archive.write("loss_sum", c10::IValue(state.loss_sum));
    archive.write("loss_count", c10::IValue(state.loss_count));
    archive.write("loss_ema", c10::IValue(state.loss_ema));
    archive.write("best_loss_ema", c10::IValue(state.best_loss_ema));
    archive.write("ema_started", c10::IValue(state.ema_started));
    torch::serialize::OutputArchive model_archive, optimizer_archive;
    model->save(model_archive);
    optimizer.Save(optimizer_archive);
    archive.write("model", model_archive);
    archive.write("optimizer", optimizer_archive);
    archive.save_to(tmp);
  } catch (const std::exception& e) {
    *error = std::string("cannot write ") + tmp + ": " + e.what();
    std::remove(tmp.c_str());
    return "";
  }
  if (!FsyncPath(tmp, false) || std::rename(tmp.c_str(), path.c_str()) != 0) {
    *error = "cannot commit " + path + ": " + std::strerror(errno);
    std::remove(tmp.c_str());
    return "";
  }
  FsyncPath(dir, true);
  const auto all = ListCheckpoints(dir);
  for (size_t i = 2; i < all.size(); ++i) std::remove(all[i].second.c_str());
  return path;
}

std::optional<std::string> LoadLatestCheckpoint(const std::string& dir,
                                                const std::string& fingerprint,
                                                LanguageModel& model, AdamW& optimizer,
                                                LoopState* state, const torch::Device& device) {
  for (const auto& [step, path] : ListCheckpoints(dir)) {
    try {
      torch::serialize::InputArchive archive;
      archive.load_from(path, device);
      c10::IValue v;
      archive.read("format_version", v);
      if (v.toInt() != kFormatVersion) {
        Log("skipping " + path + ": checkpoint format " + std::to_string(v.toInt()));
        continue;
      }
      archive.read("fingerprint", v);
      if (v.toStringRef() != fingerprint) {
        Log("skipping " + path + ": it was written for a different run configuration");
        continue;
      }
      LoopState s;
      archive.read("step", v), s.step = v.toInt();
      archive.read("tokens", v), s.tokens = v.toInt();
      archive.read("wall_seconds", v), s.wall_seconds = v.toDouble();
      archive.read("loss_sum", v), s.loss_sum = v.toDouble();
      archive.read("loss_count", v), s.loss_count = v.toInt();
      archive.read("loss_ema", v), s.loss_ema = v.toDouble();
      archive.read("best_loss_ema", v), s.best_loss_ema = v.toDouble();
      archive.read("ema_started", v), s.ema_started = v.toBool();
      torch::serialize::InputArchive model_archive, optimizer_archive;
      archive.read("model", model_archive);
      archive.read("optimizer", optimizer_archive);
      model->load(model_archive);
      optimizer.Load(optimizer_archive);
      *state = s;
      return path;
    } catch (const std::exception& e) {
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      Log("skipping unreadable checkpoint " + path + ": " + what);
    }
  }
  return std::nullopt;
}

}  // namespace ladder::train
