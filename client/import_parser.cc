#include "client/import_parser.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/utf8.h"

namespace ladder::cli {
namespace {

// Quoted values in errors are cut to this many bytes.
constexpr size_t kMaxShownBytes = 60;

std::string Shown(const std::string& s) {
  if (s.size() <= kMaxShownBytes) return s;
  return std::string(utf8::Prefix(s, kMaxShownBytes)) + "...";
}

std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(cell);
      cell.clear();
    } else if (c != '\r') {
      cell += c;
    }
  }
  out.push_back(cell);
  return out;
}

bool TooMany(const v1::ImportResultsRequest& req, const std::string& where, std::string* error) {
  if (req.results_size() < kMaxImportResults) return false;
  *error = where + ": more than " + std::to_string(kMaxImportResults) +
           " results (the coordinator's limit for one sweep)";
  return true;
}

}  // namespace

bool ParseImportCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) {
    *error = "empty file";
    return false;
  }
  std::map<std::string, size_t> col;
  const auto header = SplitCsv(line);
  for (size_t i = 0; i < header.size(); ++i) col[header[i]] = i;
  for (const char* alias : {"final_loss", "final_eval_loss"}) {
    if (!col.count("loss") && col.count(alias)) col["loss"] = col[alias];
  }
  for (const char* need : {"family", "params", "tokens", "loss"}) {
    if (!col.count(need)) {
      *error = std::string("line 1: missing column '") + need + "'";
      return false;
    }
  }
  const size_t family_col = col["family"];
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = "line " + std::to_string(n);
    if (TooMany(*req, at, error)) return false;
    const auto cells = SplitCsv(line);
    auto get = [&](const char* name, double* out) -> bool {
      auto it = col.find(name);
      if (it == col.end() || it->second >= cells.size() || cells[it->second].empty()) {
        *out = 0;
        return true;
      }
      const std::string& cell = cells[it->second];
      char* end = nullptr;
      *out = std::strtod(cell.c_str(), &end);
      if (end == cell.c_str() || *end != '\0') {
        *error = at + ", column " + name + ": not a number: '" +
                 (utf8::IsValid(cell) ? Shown(cell) : "(not UTF-8)") + "'";
        return false;
      }
      return true;
    };
    if (family_col >= cells.size()) {
      *error = at + ": too few columns";
      return false;
    }
    if (!utf8::IsValid(cells[family_col])) {
      *error = at + ", column family: not valid UTF-8";
      return false;
    }
    auto* r = req->add_results();
    r->set_family(cells[family_col]);
    double v;
    if (!get("params", &v)) return false;
    r->set_params(v);
    if (!get("tokens", &v)) return false;
    r->set_tokens(v);
    if (!get("loss", &v)) return false;
    r->set_final_loss(v);
    if (!get("flops", &v)) return false;
    r->set_flops(v);
    if (!get("unique_tokens", &v)) return false;
    r->set_unique_tokens(v);
  }
  return true;
}

bool ParseImportJson(const std::string& text, v1::ImportResultsRequest* req, std::string* error) {
  // Without exceptions: a syntax error or a number no double holds (1e400)
  // gives a discarded value.
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_array()) {
    *error = "expected a JSON array of results";
    return false;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string at = "[" + std::to_string(i) + "]";
    if (TooMany(*req, at, error)) return false;
    const auto& o = j[i];
    if (!o.is_object()) {
      *error = at + ": must be an object";
      return false;
    }
    const auto family = o.find("family");
    if (family == o.end() || !family->is_string()) {
      *error = at + ": needs a string 'family'";
      return false;
    }
    bool ok = true;
    auto num = [&](const char* k) -> double {
      const auto it = o.find(k);
      if (it == o.end() || it->is_null()) return 0.0;
      if (!it->is_number()) {
        if (ok) *error = at + "." + k + ": must be a number";
        ok = false;
        return 0.0;
      }
      return it->get<double>();
    };
    auto* r = req->add_results();
    r->set_family(family->get<std::string>());
    r->set_params(num("params"));
    r->set_tokens(num("tokens"));
    r->set_final_loss(o.contains("loss")         ? num("loss")
                      : o.contains("final_loss") ? num("final_loss")
                                                 : num("final_eval_loss"));
    r->set_flops(num("flops"));
    r->set_unique_tokens(num("unique_tokens"));
    if (!ok) return false;
  }
  return true;
}

}  // namespace ladder::cli
