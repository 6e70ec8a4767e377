// ladder import FILE --name NAME: results trained elsewhere (CSV or JSON)
// become a finished sweep of kind "imported", fitted like any other.
//   CSV: a header with family, params, tokens, loss and optionally flops,
//        unique_tokens (any order; "final_loss"/"final_eval_loss" also name the loss)
//   JSON: [{"family": ..., "params": ..., "tokens": ..., "loss": ..., ...}, ...]
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {
namespace {

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

// Fills `req` from CSV text; false with *error naming the line and column.
bool ParseCsv(const std::string& text, v1::ImportResultsRequest* req, std::string* error) {
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
  int n = 1;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto cells = SplitCsv(line);
    auto get = [&](const char* name, double* out) -> bool {
      auto it = col.find(name);
      if (it == col.end() || it->second >= cells.size() || cells[it->second].empty()) {
        *out = 0;
        return true;
      }
      char* end = nullptr;
      *out = std::strtod(cells[it->second].c_str(), &end);
      if (end == cells[it->second].c_str() || *end != '\0') {
        *error = "line " + std::to_string(n) + ", column " + name + ": not a number: '" +
                 cells[it->second] + "'";
        return false;
      }
      return true;
    };
    auto* r = req->add_results();
    if (col["family"] >= cells.size()) {
      *error = "line " + std::to_string(n) + ": too few columns";
      return false;
    }
    r->set_family(cells[col["family"]]);
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

bool ParseJson(const std::string& text, v1::ImportResultsRequest* req, std::string* error) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    *error = "expected a JSON array of results";
    return false;
  }
  for (size_t i = 0; i < j.size(); ++i) {
    const auto& o = j[i];
    auto num = [&](const char* k) {
      return o.contains(k) && o[k].is_number() ? o[k].get<double>() : 0.0;
    };
    if (!o.is_object() || !o.contains("family") || !o["family"].is_string()) {
      *error = "[" + std::to_string(i) + "]: needs a string 'family'";
      return false;
    }
    auto* r = req->add_results();
    r->set_family(o["family"].get<std::string>());
    r->set_params(num("params"));
    r->set_tokens(num("tokens"));
    r->set_final_loss(o.contains("loss")         ? num("loss")
                      : o.contains("final_loss") ? num("final_loss")
                                                 : num("final_eval_loss"));
    r->set_flops(num("flops"));
    r->set_unique_tokens(num("unique_tokens"));
  }
  return true;
}

}  // namespace

void AddImportCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand(
      "import", "Import results trained elsewhere (CSV or JSON) as a sweep; prints its id");
  auto* file = new std::string;
  auto* name = new std::string;
  cmd->add_option("FILE", *file, "a .csv or .json file (or - for CSV on stdin)")->required();
  cmd->add_option("--name", *name, "sweep name (default: the file name)");
  cmd->callback([&ctx, exit_code, file, name] {
    std::string text, error;
    if (!ReadInput(*file, &text, &error)) {
      *exit_code = ctx.Usage(error);
      return;
    }
    v1::ImportResultsRequest req;
    req.set_name(name->empty() ? *file : *name);
    const bool json = file->size() > 5 && file->substr(file->size() - 5) == ".json";
    if (!(json ? ParseJson(text, &req, &error) : ParseCsv(text, &req, &error))) {
      *exit_code = ctx.Usage("import " + *file + ": " + error);
      return;
    }
    auto* stub = ctx.sweeps();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::Sweep s;
    grpc::Status st = stub->ImportResults(ctx.Call().get(), req, &s);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "import " + *file);
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(s) << "\n";
    } else {
      std::cout << s.id() << "\n";
      std::cerr << "imported " << req.results_size() << " results as sweep " << s.id()
                << "; fits follow shortly\n";
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
