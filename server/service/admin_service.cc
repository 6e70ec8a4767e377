#include "server/service/admin_service.h"

#include "common/grpc_status.h"
#include "common/logging.h"
#include "server/auth/request_authorizer.h"

namespace ladder {

grpc::Status AdminService::CreateToken(grpc::ServerContext* ctx, const v1::CreateTokenRequest* req,
                                       v1::CreateTokenResponse* resp) {
  if (grpc::Status st = RequireAuthorizedAdmin(*ctx); !st.ok()) return st;
  auto out = tokens_->Create(req->name(), {req->scopes().begin(), req->scopes().end()});
  if (!out.ok()) return ToGrpcStatus(out.status());
  LOG_INFO << "token " << out->token.id() << " '" << req->name() << "' created";
  *resp->mutable_token() = out->token;
  resp->set_secret(out->secret);
  return grpc::Status::OK;
}

grpc::Status AdminService::RevokeToken(grpc::ServerContext* ctx, const v1::RevokeTokenRequest* req,
                                       v1::Token* resp) {
  if (grpc::Status st = RequireAuthorizedAdmin(*ctx); !st.ok()) return st;
  auto out = tokens_->Revoke(req->token_id());
  if (!out.ok()) return ToGrpcStatus(out.status());
  LOG_INFO << "token " << req->token_id() << " revoked";
  *resp = *out;
  return grpc::Status::OK;
}

grpc::Status AdminService::ListTokens(grpc::ServerContext* ctx, const v1::ListTokensRequest*,
                                      v1::ListTokensResponse* resp) {
  if (grpc::Status st = RequireAuthorizedAdmin(*ctx); !st.ok()) return st;
  auto out = tokens_->List();
  if (!out.ok()) return ToGrpcStatus(out.status());
  for (auto& t : *out) *resp->add_tokens() = std::move(t);
  return grpc::Status::OK;
}

}  // namespace ladder
