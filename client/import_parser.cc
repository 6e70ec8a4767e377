#include "client/import_parser.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

#include "common/utf8.h"

namespace ladder::cli {
namespace {

// Quoted values in errors are cut to this many bytes.
constexpr size_t kMaxShownBytes = 60;

// `s` quoted for an error line: cut to kMaxShownBytes, or a placeholder when
// it is not UTF-8 (the line must print as text).
std::string Quoted(const std::string& s) {
  if (!utf8::IsValid(s)) return "(not UTF-8)";
  if (s.size() <= kMaxShownBytes) return "'" + s + "'";
  return "'" + std::string(utf8::Prefix(s, kMaxShownBytes)) + "...'";
}

// The fields of one imported result.
enum class Field { kFamily, kParams, kTokens, kLoss, kFlops, kUniqueTokens, kBudget, kSeed };

struct FieldNames {
  Field field;
  std::vector<std::string> names;  // the field's own name first, then its aliases
};

// One table for the CSV header, the JSON keys, errors and --help, so the
// list a refusal prints is the list the parser accepts.
const std::vector<FieldNames>& Fields() {
  static const std::vector<FieldNames> fields = {
      {Field::kFamily, {"family"}},
      {Field::kParams, {"params"}},
      {Field::kTokens, {"tokens"}},
      {Field::kLoss, {"loss", "final_loss", "final_eval_loss"}},
      {Field::kFlops, {"flops"}},
      {Field::kUniqueTokens, {"unique_tokens"}},
      {Field::kBudget, {"budget", "compute_budget"}},
      {Field::kSeed, {"seed"}},
  };
  return fields;
}

std::optional<Field> FieldNamed(const std::string& name) {
  for (const FieldNames& f : Fields()) {
    for (const std::string& n : f.names) {
      if (n == name) return f.field;
    }
  }
  return std::nullopt;
}

const std::string& OwnName(Field field) {
  for (const FieldNames& f : Fields()) {
    if (f.field == field) return f.names.front();
  }
  static const std::string none;
  return none;
}

// Files name each field once; `names` are the unknown ones seen, quoted.
std::string UnknownNames(const char* what, const std::vector<std::string>& names) {
  std::string out = std::string("unknown ") + what + (names.size() > 1 ? "s " : " ");
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  return out + " (accepted: " + ImportAcceptedNames() + ")";
}

// Maps each known name in `names` (a CSV header's cells or a JSON object's
// keys) to its field. False with *error (prefixed by `at`) on an unknown
// name or a field named twice.
bool MapNames(const std::vector<std::string>& names, const char* what, const std::string& at,
              std::map<Field, size_t>* index, std::string* error) {
  std::vector<std::string> unknown;
  std::map<Field, std::string> given_as;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::optional<Field> f = FieldNamed(names[i]);
    if (!f) {
      unknown.push_back(Quoted(names[i]));
      continue;
    }
    if (index->count(*f)) {
      *error = at + ": " +
               (given_as[*f] == names[i] ? Quoted(names[i]) + " is given twice"
                                         : Quoted(given_as[*f]) + " and " + Quoted(names[i]) +
                                               " both give " + OwnName(*f) + "; keep one");
      return false;
    }
    (*index)[*f] = i;
    given_as[*f] = names[i];
  }
  if (!unknown.empty()) {
    *error = at + ": " + UnknownNames(what, unknown);
    return false;
  }
  return true;
}

// A seed: a whole number an int64 holds ("7", or "7.0" as spreadsheets and
// pandas write integers of a column with gaps).
bool ParseSeed(const std::string& text, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (end != text.c_str() && *end == '\0' && errno == 0) {
    *out = v;
    return true;
  }
  const double d = std::strtod(text.c_str(), &end);
  // 2^63: the first double past int64.
  if (end == text.c_str() || *end != '\0' || !std::isfinite(d) || d != std::floor(d) ||
      std::fabs(d) >= 9223372036854775808.0) {
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

void SetNumber(Field field, double v, v1::ImportedResult* r) {
  switch (field) {
    case Field::kParams:
      r->set_params(v);
      break;
    case Field::kTokens:
      r->set_tokens(v);
      break;
    case Field::kLoss:
      r->set_final_loss(v);
      break;
    case Field::kFlops:
      r->set_flops(v);
      break;
    case Field::kUniqueTokens:
      r->set_unique_tokens(v);
      break;
    case Field::kBudget:
      r->set_budget(v);
      break;
    case Field::kFamily:
    case Field::kSeed:
      break;  // not numbers of double precision
  }
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

// One CSV data row into `r`; `header` names the columns as the file wrote them.
bool ReadCsvRow(const std::vector<std::string>& cells, const std::map<Field, size_t>& col,
                const std::vector<std::string>& header, const std::string& at,
                v1::ImportedResult* r, std::string* error) {
  const size_t family_col = col.at(Field::kFamily);
  if (family_col >= cells.size()) {
    *error = at + ": too few columns";
    return false;
  }
  if (!utf8::IsValid(cells[family_col])) {
    *error = at + ", column " + header[family_col] + ": not valid UTF-8";
    return false;
  }
  r->set_family(cells[family_col]);
  for (const auto& [field, i] : col) {
    if (field == Field::kFamily || i >= cells.size() || cells[i].empty()) continue;
    const std::string& cell = cells[i];
    if (field == Field::kSeed) {
      int64_t seed = 0;
      if (!ParseSeed(cell, &seed)) {
        *error = at + ", column " + header[i] + ": not a whole number: " + Quoted(cell);
        return false;
      }
      r->set_seed(seed);
      continue;
    }
    char* end = nullptr;
    const double v = std::strtod(cell.c_str(), &end);
    if (end == cell.c_str() || *end != '\0') {
      *error = at + ", column " + header[i] + ": not a number: " + Quoted(cell);
      return false;
    }
    SetNumber(field, v, r);
  }
  return true;
}

// One JSON element's numbers and seed into `r` (its family is already set).
bool ReadJsonNumbers(const nlohmann::json& o, const std::string& at, v1::ImportedResult* r,
                     std::string* error) {
  for (const auto& [key, value] : o.items()) {
    const Field field = *FieldNamed(key);  // MapNames accepted every key
    if (field == Field::kFamily || value.is_null()) continue;
    if (field == Field::kSeed) {
      int64_t seed = 0;
      if (value.is_number_integer() && !value.is_number_unsigned()) {
        seed = value.get<int64_t>();
      } else if (!value.is_number() || !ParseSeed(value.dump(), &seed)) {
        *error = at + "." + key + ": must be a whole number";
        return false;
      }
      r->set_seed(seed);
      continue;
    }
    if (!value.is_number()) {
      *error = at + "." + key + ": must be a number";
      return false;
    }
    SetNumber(field, value.get<double>(), r);
  }
  return true;
}

}  // namespace

std::string ImportAcceptedNames() {
  std::string out;
  for (const FieldNames& f : Fields()) {
    if (!out.empty()) out += ", ";
    out += f.names.front();
    for (size_t i = 1; i < f.names.size(); ++i) out += (i == 1 ? " (or " : ", ") + f.names[i];
    if (f.names.size() > 1) out += ")";
  }
  return out;
}

bool ParseImportCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) {
    *error = "empty file";
    return false;
  }
  const auto header = SplitCsv(line);
  std::map<Field, size_t> col;
  if (!MapNames(header, "column", "line 1", &col, error)) return false;
  for (Field need : {Field::kFamily, Field::kParams, Field::kTokens, Field::kLoss}) {
    if (!col.count(need)) {
      *error = "line 1: missing column '" + OwnName(need) + "'";
      return false;
    }
  }
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = "line " + std::to_string(n);
    if (TooMany(*req, at, error)) return false;
    if (!ReadCsvRow(SplitCsv(line), col, header, at, req->add_results(), error)) return false;
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
    std::vector<std::string> keys;
    for (const auto& [key, value] : o.items()) keys.push_back(key);
    std::map<Field, size_t> index;
    if (!MapNames(keys, "key", at, &index, error)) return false;
    const auto family = o.find("family");
    if (family == o.end() || !family->is_string()) {
      *error = at + ": needs a string 'family'";
      return false;
    }
    auto* r = req->add_results();
    r->set_family(family->get<std::string>());
    if (!ReadJsonNumbers(o, at, r, error)) return false;
  }
  return true;
}

}  // namespace ladder::cli
