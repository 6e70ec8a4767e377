#include "common/logging.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>

namespace ladder {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::mutex g_tag_mu;
std::string g_tag = "ladder";  // guarded by g_tag_mu
}  // namespace

void SetLogLevel(LogLevel level) { g_level = static_cast<int>(level); }

void SetLogTag(std::string tag) {
  std::lock_guard<std::mutex> lock(g_tag_mu);
  g_tag = std::move(tag);
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= g_level.load(); }

void LogLine(LogLevel level, std::string_view message) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t secs = system_clock::to_time_t(now);
  const int ms =
      static_cast<int>(duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  static constexpr char kLetters[] = {'D', 'I', 'W', 'E'};
  std::string line;
  {
    std::lock_guard<std::mutex> lock(g_tag_mu);
    line.reserve(message.size() + g_tag.size() + 40);
    line += stamp;
    line += '.';
    line += static_cast<char>('0' + ms / 100);
    line += static_cast<char>('0' + ms / 10 % 10);
    line += static_cast<char>('0' + ms % 10);
    line += "Z ";
    line += kLetters[static_cast<int>(level)];
    line += ' ';
    line += g_tag;
    line += "] ";
  }
  line += message;
  line += '\n';
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace ladder
