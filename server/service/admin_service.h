// ladder.v1.Admin: bearer tokens (admin scope, enforced by RequestAuthorizer
// on a TLS port). Refused on a plaintext port, where nothing authenticates
// the caller: tokens are made there with `ladder-coordinator create-token`.
//
// It talks to TokenStore directly, with no manager between: the rules of a
// token (secret generation, hashing, scope names, revocation) are the
// store's, shared with `ladder-coordinator create-token` and the
// RequestAuthorizer, and the only rule of the RPC (admin scope) is checked
// here; a manager would be a pass-through.
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/store/token_store.h"

namespace ladder {

class AdminService final : public v1::Admin::Service {
 public:
  explicit AdminService(store::TokenStore* tokens) : tokens_(tokens) {}
  grpc::Status CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest*,
                           v1::CreateTokenResponse*) override;
  grpc::Status RevokeToken(grpc::ServerContext*, const v1::RevokeTokenRequest*,
                           v1::Token*) override;
  grpc::Status ListTokens(grpc::ServerContext*, const v1::ListTokensRequest*,
                          v1::ListTokensResponse*) override;

 private:
  store::TokenStore* tokens_;
};

}  // namespace ladder
