#include "client/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "common/enums/proto_enums.h"

namespace ladder::cli {

std::string Si(double v) {
  if (!std::isfinite(v)) return "-";
  static const char* kUnits[] = {"", "k", "M", "G", "T", "P", "E", "Z"};
  double a = std::fabs(v);
  int u = 0;
  while (a >= 1000 && u < 7) {
    a /= 1000;
    v /= 1000;
    ++u;
  }
  char buf[32];
  if (u == 0) {
    std::snprintf(buf, sizeof buf, v == std::floor(v) ? "%.0f" : "%.3g", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g%s", v, kUnits[u]);
  }
  return buf;
}

std::string Sci(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string Duration(double s) {
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%dh%02dm", static_cast<int>(s / 3600),
                  static_cast<int>(s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%dm%02ds", static_cast<int>(s / 60), static_cast<int>(s) % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  }
  return buf;
}

std::string Bar(double f, int width) {
  f = std::clamp(std::isfinite(f) ? f : 0.0, 0.0, 1.0);
  const int full = static_cast<int>(std::lround(f * width));
  std::string out = "[";
  out.append(full, '#');
  out.append(width - full, '.');
  char pct[16];
  std::snprintf(pct, sizeof pct, "] %3d%%", static_cast<int>(std::lround(f * 100)));
  return out + pct;
}

std::string StateName(v1::RunState s) {
  auto state = enums::FromProto(s);
  return state ? std::string(enums::Name(*state)) : "?";
}

std::string StateName(v1::SweepState s) {
  auto state = enums::FromProto(s);
  return state ? std::string(enums::Name(*state)) : "?";
}

std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::ostringstream o;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    o << line << "\n";
  }
  return o.str();
}

void PrintWarnings(const google::protobuf::RepeatedPtrField<std::string>& warnings,
                   const std::string& indent) {
  for (const std::string& w : warnings) std::cout << indent << "warning: " << w << "\n";
}

}  // namespace ladder::cli
