#include "server/store/pg_pool.h"

#include <sstream>

#include "common/logging.h"

namespace ladder::store {
namespace {

std::vector<const PgStatement*>& Registry() {
  static auto* statements = new std::vector<const PgStatement*>();
  return *statements;
}

// SQLSTATEs (PostgreSQL appendix A).
constexpr char kSerializationFailure[] = "40001";
constexpr char kDeadlockDetected[] = "40P01";

bool IsRetryable(const std::exception& e) {
  if (dynamic_cast<const pqxx::serialization_failure*>(&e) != nullptr) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return sql->sqlstate() == kSerializationFailure || sql->sqlstate() == kDeadlockDetected;
  }
  return false;
}

}  // namespace

PgStatement::PgStatement(const char* n, const char* s) : name(n), sql(s) {
  Registry().push_back(this);
}

const std::vector<const PgStatement*>& RegisteredStatements() { return Registry(); }

absl::Status StatusFromException(const char* what, const std::exception& e) {
  std::string msg = std::string(what) + ": " + e.what();
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
      dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError(msg);
  }
  if (IsRetryable(e)) return absl::AbortedError(msg);
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError(msg);
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    // Class 08: connection exceptions; 57P: operator intervention (shutdown).
    const std::string& state = sql->sqlstate();
    if (state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0) {
      return absl::UnavailableError(msg);
    }
  }
  return absl::InternalError(msg);
}

std::string PgArrayLiteral(const std::vector<int64_t>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(values[i]);
  }
  out += '}';
  return out;
}

std::string PgArrayLiteral(const std::vector<int32_t>& values) {
  return PgArrayLiteral(std::vector<int64_t>(values.begin(), values.end()));
}

std::string PgArrayLiteral(const std::vector<std::optional<std::string>>& values) {
  std::string out = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (!values[i]) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char c : *values[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string PgArrayLiteral(const std::vector<std::string>& values) {
  return PgArrayLiteral(std::vector<std::optional<std::string>>(values.begin(), values.end()));
}

PgPool::PgPool(Options options) : options_(std::move(options)) {}
PgPool::~PgPool() = default;

absl::StatusOr<std::unique_ptr<PgPool>> PgPool::Connect(const Options& options) {
  if (options.size <= 0) return absl::InvalidArgumentError("db pool size must be positive");
  std::unique_ptr<PgPool> pool(new PgPool(options));
  auto first = pool->Open();
  if (!first.ok()) return first.status();
  pool->Release(std::move(*first));
  return pool;
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Open() {
  try {
    auto conn = std::make_unique<pqxx::connection>(options_.url);
    for (const PgStatement* s : Registry()) conn->prepare(s->name, s->sql);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++open_;
    }
    return conn;
  } catch (const std::exception& e) {
    return StatusFromException("connect to database", e);
  }
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Acquire() {
  {
    std::unique_lock<std::mutex> lock(mu_);
    const auto deadline = std::chrono::steady_clock::now() + options_.acquire_timeout;
    while (idle_.empty() && open_ >= options_.size) {
      if (cv_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() &&
          open_ >= options_.size) {
        return absl::UnavailableError("database pool exhausted: no connection free in time");
      }
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
  }
  return Open();  // counted in open_ by Open()
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard<std::mutex> lock(mu_);
  if (conn && conn->is_open()) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  cv_.notify_one();
}

template <typename Txn, typename Fn>
absl::Status PgPool::Run(const char* what, const Fn& fn) {
  absl::Status last;
  for (int attempt = 0; attempt <= options_.max_retries; ++attempt) {
    auto conn = Acquire();
    if (!conn.ok()) return conn.status();
    bool broken = false;
    bool retryable = false;
    absl::Status status;
    try {
      Txn txn(**conn);
      status = fn(txn);
      if (status.ok()) txn.commit();
    } catch (const std::exception& e) {
      status = StatusFromException(what, e);
      retryable = IsRetryable(e);
      broken = status.code() == absl::StatusCode::kUnavailable || !(*conn)->is_open();
    }
    if (broken) {
      conn->reset();  // dropped; a fresh one is opened on demand
    }
    Release(std::move(*conn));
    if (!retryable) return status;
    last = status;
    LOG_DEBUG << what << ": retrying after " << status.message();
  }
  return last;
}

absl::Status PgPool::Transact(const char* what, const TxnFn& fn) {
  return Run<pqxx::work>(what, fn);
}

absl::Status PgPool::Autocommit(const char* what, const AutocommitFn& fn) {
  return Run<pqxx::nontransaction>(what, fn);
}

absl::Status PgPool::WithConnection(const char* what,
                                    const std::function<absl::Status(pqxx::connection&)>& fn) {
  auto conn = Acquire();
  if (!conn.ok()) return conn.status();
  absl::Status status;
  try {
    status = fn(**conn);
  } catch (const std::exception& e) {
    status = StatusFromException(what, e);
    if (status.code() == absl::StatusCode::kUnavailable) conn->reset();
  }
  Release(std::move(*conn));
  return status;
}

}  // namespace ladder::store
