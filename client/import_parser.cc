#include "client/import_parser.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "common/utf8.h"

namespace ladder::cli {
namespace {

// Quoted values in errors are cut to this many bytes.
constexpr size_t kMaxShownBytes = 60;

// A succeeded run's state as export writes it (CSV: enums::Name; JSON: the
// proto enum's name); other runs have no results.
constexpr const char* kSucceeded = "succeeded";
constexpr const char* kSucceededJson = "RUN_STATE_SUCCEEDED";

// `s` quoted for an error line: cut to kMaxShownBytes, or a placeholder when
// it is not UTF-8 (the line must print as text).
std::string Quoted(const std::string& s) {
  if (!utf8::IsValid(s)) return "(not UTF-8)";
  if (s.size() <= kMaxShownBytes) return "'" + s + "'";
  return "'" + std::string(utf8::Prefix(s, kMaxShownBytes)) + "...'";
}

// What a column (CSV) or key (JSON) gives. kUnused: known in that format
// and read by nothing (an export's run_id, say); kNone: not of that format.
enum class Field {
  kNone,
  kUnused,
  kFamily,
  kParams,
  kTokens,
  kLoss,
  kFlops,
  kUniqueTokens,
  kBudget,
  kSeed,
  kState,   // a Ladder export's run state; runs not succeeded have no results
  kConfig,  // a JSON export's config_json: the seed and budget inside
};

// The formats a file may be in: a hand-written table, or `ladder export`'s
// CSV or JSON output (one entry per run, with its configuration).
enum Format { kPlain = 0, kExportCsv = 1, kExportJson = 2 };

struct Column {
  const char* name;
  Field as[3];  // by Format
};

constexpr Field kNo = Field::kNone, kUn = Field::kUnused;

// One table for the CSV headers, the JSON keys, errors and --help, so the
// list a refusal prints is the list the parser accepts. A field's own name
// in a format is its first row there. N is non-embedding parameters: an
// export's `params` is the total, so there N is non_embedding_params.
const std::vector<Column>& Columns() {
  static const std::vector<Column> columns = {
      {"family", {Field::kFamily, Field::kFamily, Field::kFamily}},
      {"params", {Field::kParams, kUn, kUn}},
      {"non_embedding_params", {kNo, Field::kParams, Field::kParams}},
      {"tokens", {Field::kTokens, Field::kTokens, Field::kTokens}},
      {"loss", {Field::kLoss, kNo, kNo}},
      {"final_loss", {Field::kLoss, kNo, kNo}},
      {"final_eval_loss", {Field::kLoss, Field::kLoss, Field::kLoss}},
      {"flops", {Field::kFlops, Field::kFlops, Field::kFlops}},
      {"unique_tokens", {Field::kUniqueTokens, Field::kUniqueTokens, Field::kUniqueTokens}},
      {"budget", {Field::kBudget, Field::kBudget, kNo}},
      {"compute_budget", {Field::kBudget, kNo, kNo}},
      {"seed", {Field::kSeed, Field::kSeed, kNo}},
      {"state", {kNo, Field::kState, Field::kState}},
      {"config_json", {kNo, kNo, Field::kConfig}},
      // Descriptive: what export writes besides the results.
      {"run_id", {kNo, kUn, kNo}},
      {"id", {kNo, kNo, kUn}},
      {"sweep_id", {kNo, kUn, kUn}},
      {"ordinal", {kNo, kUn, kUn}},
      {"shape", {kNo, kUn, kUn}},
      {"attempts", {kNo, kUn, kUn}},
      {"max_attempts", {kNo, kNo, kUn}},
      {"planned_params", {kNo, kUn, kUn}},
      {"planned_non_embedding_params", {kNo, kUn, kUn}},
      {"planned_tokens", {kNo, kUn, kUn}},
      {"planned_flops", {kNo, kUn, kUn}},
      {"planned_flops_6nd", {kNo, kUn, kUn}},
      {"memory_bytes", {kNo, kNo, kUn}},
      {"tokens_done", {kNo, kNo, kUn}},
      {"last_train_loss", {kNo, kNo, kUn}},
      {"tokens_per_second", {kNo, kNo, kUn}},
      {"epochs", {kNo, kUn, kUn}},
      {"flops_6nd", {kNo, kUn, kUn}},
      {"wall_seconds", {kNo, kUn, kUn}},
      {"device", {kNo, kUn, kUn}},
      {"trainer", {kNo, kUn, kUn}},
      {"simulated", {kNo, kUn, kUn}},
      {"worker", {kNo, kUn, kNo}},
      {"worker_name", {kNo, kNo, kUn}},
      {"last_error", {kNo, kNo, kUn}},
      {"learning_rate", {kNo, kUn, kNo}},
      {"curve", {kNo, kNo, kUn}},
      {"attempt_history", {kNo, kNo, kUn}},
  };
  return columns;
}

Field FieldNamed(Format format, const std::string& name) {
  for (const Column& c : Columns()) {
    if (name == c.name) return c.as[format];
  }
  return kNo;
}

std::string OwnName(Format format, Field field) {
  for (const Column& c : Columns()) {
    if (c.as[format] == field) return c.name;
  }
  return "";
}

// The fields a row must give; the rest default to 0 (not given).
std::vector<Field> Required(Format format) {
  if (format == kPlain) return {Field::kFamily, Field::kParams, Field::kTokens, Field::kLoss};
  return {Field::kFamily, Field::kState, Field::kParams, Field::kTokens, Field::kLoss};
}

// "family, params, tokens, loss (or final_loss, final_eval_loss), ..." for
// `format`: its fields with their aliases, then (exports) the unused names.
std::string AcceptedNames(Format format) {
  std::string out, unused;
  std::vector<Field> listed;
  for (const Column& first : Columns()) {
    const Field f = first.as[format];
    if (f == kNo || std::find(listed.begin(), listed.end(), f) != listed.end()) continue;
    if (f == kUn) {
      unused += std::string(unused.empty() ? "" : ", ") + first.name;
      continue;
    }
    listed.push_back(f);
    out += std::string(out.empty() ? "" : ", ") + first.name;
    int aliases = 0;
    for (const Column& c : Columns()) {
      if (&c == &first || c.as[format] != f) continue;
      out += std::string(aliases++ ? ", " : " (or ") + c.name;
    }
    if (aliases) out += ")";
  }
  return unused.empty() ? out : out + "; read by nothing: " + unused;
}

const char* FormatName(Format format) {
  switch (format) {
    case kExportCsv:
      return "a ladder export CSV";
    case kExportJson:
      return "a ladder export JSON";
    case kPlain:
      break;
  }
  return "";
}

// Files name each field once; `names` are the unknown ones seen, quoted.
std::string UnknownNames(Format format, const char* what, const std::vector<std::string>& names) {
  std::string out = std::string("unknown ") + what + (names.size() > 1 ? "s " : " ");
  for (size_t i = 0; i < names.size(); ++i) out += (i ? ", " : "") + names[i];
  if (format != kPlain) out += std::string(" in ") + FormatName(format);
  return out + " (accepted: " + AcceptedNames(format) + ")";
}

// Maps each known name in `names` (a CSV header's cells or a JSON object's
// keys) to its field. False with *error (prefixed by `at`) on an unknown
// name, a name given twice, or a field named twice.
bool MapNames(Format format, const std::vector<std::string>& names, const char* what,
              const std::string& at, std::map<Field, size_t>* index, std::string* error) {
  std::vector<std::string> unknown;
  std::map<Field, std::string> given_as;
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const Field f = FieldNamed(format, names[i]);
    if (f == kNo) {
      unknown.push_back(Quoted(names[i]));
      continue;
    }
    if (!seen.insert(names[i]).second) {
      *error = at + ": " + Quoted(names[i]) + " is given twice";
      return false;
    }
    if (f == kUn) continue;
    if (index->count(f)) {
      *error = at + ": " + Quoted(given_as[f]) + " and " + Quoted(names[i]) + " both give " +
               OwnName(format, f) + "; keep one";
      return false;
    }
    (*index)[f] = i;
    given_as[f] = names[i];
  }
  if (!unknown.empty()) {
    *error = at + ": " + UnknownNames(format, what, unknown);
    return false;
  }
  return true;
}

// False with *error naming the first field of Required(format) not in `index`.
bool HasRequired(Format format, const std::map<Field, size_t>& index, const char* what,
                 const std::string& at, std::string* error) {
  for (Field need : Required(format)) {
    if (!index.count(need)) {
      *error = at + ": missing " + what + " '" + OwnName(format, need) + "'" +
               (format == kPlain ? "" : std::string(" (") + FormatName(format) + ")");
      return false;
    }
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
    default:
      break;  // not numbers of double precision, or read by nothing
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

// A header is `ladder export` output when it has the export's run_id and
// state columns, neither of which a hand-written table may use.
Format CsvFormat(const std::vector<std::string>& header) {
  const bool run_id = std::find(header.begin(), header.end(), "run_id") != header.end();
  const bool state = std::find(header.begin(), header.end(), "state") != header.end();
  return run_id && state ? kExportCsv : kPlain;
}

// One CSV data row into `r`; `header` names the columns as the file wrote
// them. *skip: an export's run that did not succeed, so has no results.
bool ReadCsvRow(const std::vector<std::string>& cells, const std::map<Field, size_t>& col,
                const std::vector<std::string>& header, const std::string& at,
                v1::ImportedResult* r, bool* skip, std::string* error) {
  const size_t family_col = col.at(Field::kFamily);
  if (family_col >= cells.size()) {
    *error = at + ": too few columns";
    return false;
  }
  const auto state = col.find(Field::kState);
  *skip =
      state != col.end() && (state->second >= cells.size() || cells[state->second] != kSucceeded);
  if (*skip) return true;
  if (!utf8::IsValid(cells[family_col])) {
    *error = at + ", column " + header[family_col] + ": not valid UTF-8";
    return false;
  }
  r->set_family(cells[family_col]);
  for (const auto& [field, i] : col) {
    if (field == Field::kFamily || field == Field::kState || i >= cells.size() ||
        cells[i].empty()) {
      continue;
    }
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

// A JSON seed: a whole number an int64 holds.
bool JsonSeed(const nlohmann::json& value, int64_t* seed) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    *seed = value.get<int64_t>();
    return true;
  }
  return value.is_number() && ParseSeed(value.dump(), seed);
}

// A JSON number; in an export also the decimal string proto3 JSON writes an
// int64 as ("non_embedding_params": "1048576").
bool JsonNumber(Format format, const nlohmann::json& value, double* out) {
  if (value.is_number()) {
    *out = value.get<double>();
    return true;
  }
  if (format != kExportJson || !value.is_string()) return false;
  const std::string& s = value.get_ref<const std::string&>();
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end != s.c_str() && *end == '\0';
}

// One JSON element's numbers and seed into `r` (its family is already set).
bool ReadJsonNumbers(Format format, const nlohmann::json& o, const std::string& at,
                     v1::ImportedResult* r, std::string* error) {
  for (const auto& [key, value] : o.items()) {
    const Field field = FieldNamed(format, key);  // MapNames accepted every key
    if (field == Field::kFamily || field == Field::kState || field == Field::kConfig ||
        field == kUn || value.is_null()) {
      continue;
    }
    if (field == Field::kSeed) {
      int64_t seed = 0;
      if (!JsonSeed(value, &seed)) {
        *error = at + "." + key + ": must be a whole number";
        return false;
      }
      r->set_seed(seed);
      continue;
    }
    double v = 0;
    if (!JsonNumber(format, value, &v)) {
      *error = at + "." + key + ": must be a number";
      return false;
    }
    SetNumber(field, v, r);
  }
  return true;
}

// An export's config_json: the run's seed (train.seed) and IsoFLOP budget
// (plan.budget), where the coordinator keeps them for planned and imported
// runs alike.
bool ReadExportConfig(const nlohmann::json& value, const std::string& at, v1::ImportedResult* r,
                      std::string* error) {
  if (value.is_null() || (value.is_string() && value.get_ref<const std::string&>().empty()))
    return true;
  const auto config = value.is_string()
                          ? nlohmann::json::parse(value.get<std::string>(), nullptr, false)
                          : nlohmann::json();
  if (!config.is_object()) {
    *error = at + ".config_json: must be a JSON object in a string";
    return false;
  }
  const auto plan = config.find("plan");
  if (plan != config.end() && plan->is_object() && plan->contains("budget")) {
    const auto& budget = (*plan)["budget"];
    if (!budget.is_number()) {
      *error = at + ".config_json: plan.budget must be a number";
      return false;
    }
    r->set_budget(budget.get<double>());
  }
  const auto train = config.find("train");
  if (train != config.end() && train->is_object() && train->contains("seed")) {
    int64_t seed = 0;
    if (!JsonSeed((*train)["seed"], &seed)) {
      *error = at + ".config_json: train.seed must be a whole number";
      return false;
    }
    r->set_seed(seed);
  }
  return true;
}

// One element of a JSON file (`format` kPlain: a result; kExportJson: a Run)
// into `req`, or counted in *skipped (a run that did not succeed).
bool ReadJsonElement(Format format, const nlohmann::json& o, const std::string& at,
                     v1::ImportResultsRequest* req, int* skipped, std::string* error) {
  if (!o.is_object()) {
    *error = at + ": must be an object";
    return false;
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : o.items()) keys.push_back(key);
  std::map<Field, size_t> index;
  if (!MapNames(format, keys, "key", at, &index, error)) return false;
  if (format == kExportJson) {
    if (!HasRequired(format, index, "key", at, error)) return false;
    if (o["state"] != kSucceededJson) {
      ++*skipped;
      return true;
    }
  }
  const auto family = o.find("family");
  if (family == o.end() || !family->is_string()) {
    *error = at + ": needs a string 'family'";
    return false;
  }
  v1::ImportedResult r;
  r.set_family(family->get<std::string>());
  if (!ReadJsonNumbers(format, o, at, &r, error)) return false;
  if (format == kExportJson && o.contains("config_json") &&
      !ReadExportConfig(o["config_json"], at, &r, error)) {
    return false;
  }
  *req->add_results() = std::move(r);
  return true;
}

}  // namespace

std::string ImportAcceptedNames() { return AcceptedNames(kPlain); }

bool ParseImportCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error,
                    ImportNotes* notes) {
  ImportNotes ignored;
  if (!notes) notes = &ignored;
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line)) {
    *error = "empty file";
    return false;
  }
  const auto header = SplitCsv(line);
  const Format format = CsvFormat(header);
  notes->ladder_export = format == kExportCsv;
  std::map<Field, size_t> col;
  if (!MapNames(format, header, "column", "line 1", &col, error) ||
      !HasRequired(format, col, "column", "line 1", error)) {
    return false;
  }
  int64_t n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string at = "line " + std::to_string(n);
    if (TooMany(*req, at, error)) return false;
    v1::ImportedResult r;
    bool skip = false;
    if (!ReadCsvRow(SplitCsv(line), col, header, at, &r, &skip, error)) return false;
    if (skip) {
      ++notes->skipped;
    } else {
      *req->add_results() = std::move(r);
    }
  }
  return true;
}

bool ParseImportJson(const std::string& text, v1::ImportResultsRequest* req, std::string* error,
                     ImportNotes* notes) {
  ImportNotes ignored;
  if (!notes) notes = &ignored;
  // Without exceptions: a syntax error or a number no double holds (1e400)
  // gives a discarded value.
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  // `ladder export --format json` writes ListRunsResponse: {"runs": [...]}.
  const bool ladder_export =
      j.is_object() && j.size() == 1 && j.contains("runs") && j["runs"].is_array();
  if (j.is_discarded() || !(j.is_array() || ladder_export)) {
    *error = "expected a JSON array of results, or ladder export's {\"runs\": [...]}";
    return false;
  }
  notes->ladder_export = ladder_export;
  const Format format = ladder_export ? kExportJson : kPlain;
  const auto& elements = ladder_export ? j["runs"] : j;
  for (size_t i = 0; i < elements.size(); ++i) {
    const std::string at = (ladder_export ? "runs[" : "[") + std::to_string(i) + "]";
    if (TooMany(*req, at, error)) return false;
    if (!ReadJsonElement(format, elements[i], at, req, &notes->skipped, error)) return false;
  }
  return true;
}

}  // namespace ladder::cli
