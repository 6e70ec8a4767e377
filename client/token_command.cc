// ladder token create|revoke|list: API bearer tokens (admin scope).
#include <iostream>

#include "client/commands.h"
#include "client/format.h"

namespace ladder::cli {

void AddTokenCommand(CLI::App& app, CliContext& ctx, int* exit_code) {
  auto* cmd = app.add_subcommand("token", "Manage API tokens (needs an admin token)");
  cmd->require_subcommand(1);

  auto* create = cmd->add_subcommand("create", "Create a token; prints the secret once");
  auto* name = new std::string;
  auto* scopes = new std::vector<std::string>;
  create->add_option("--name", *name, "what the token is for")->required();
  create->add_option("--scopes", *scopes, "read, submit and/or admin")->delimiter(',')->required();
  create->callback([&ctx, exit_code, name, scopes] {
    auto* stub = ctx.admin();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::CreateTokenRequest req;
    req.set_name(*name);
    for (const auto& s : *scopes) req.add_scopes(s);
    v1::CreateTokenResponse resp;
    grpc::Status st = stub->CreateToken(ctx.Call().get(), req, &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "token create");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::cout << resp.secret() << "\n";
      std::cerr << "token " << resp.token().id() << " '" << *name
                << "' created; the secret is shown only once\n";
    }
    *exit_code = 0;
  });

  auto* revoke = cmd->add_subcommand("revoke", "Revoke a token by id");
  auto* id = new int64_t(0);
  revoke->add_option("ID", *id, "token id")->required();
  revoke->callback([&ctx, exit_code, id] {
    auto* stub = ctx.admin();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::RevokeTokenRequest req;
    req.set_token_id(*id);
    v1::Token t;
    grpc::Status st = stub->RevokeToken(ctx.Call().get(), req, &t);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "token revoke");
      return;
    }
    if (ctx.json())
      std::cout << ToJson(t) << "\n";
    else
      std::cout << "token " << t.id() << " '" << t.name() << "' revoked\n";
    *exit_code = 0;
  });

  auto* list = cmd->add_subcommand("list", "List tokens (never their secrets)");
  list->callback([&ctx, exit_code] {
    auto* stub = ctx.admin();
    if (!stub) {
      *exit_code = 2;
      return;
    }
    v1::ListTokensResponse resp;
    grpc::Status st = stub->ListTokens(ctx.Call().get(), v1::ListTokensRequest(), &resp);
    if (!st.ok()) {
      *exit_code = ctx.Fail(st, "token list");
      return;
    }
    if (ctx.json()) {
      std::cout << ToJson(resp) << "\n";
    } else {
      std::vector<std::vector<std::string>> rows = {{"id", "name", "scopes", "state"}};
      for (const auto& t : resp.tokens()) {
        std::string scopes;
        for (const auto& s : t.scopes()) scopes += (scopes.empty() ? "" : ",") + s;
        rows.push_back(
            {std::to_string(t.id()), t.name(), scopes, t.revoked_unix_ms() ? "revoked" : "live"});
      }
      std::cout << Table(rows);
    }
    *exit_code = 0;
  });
}

}  // namespace ladder::cli
