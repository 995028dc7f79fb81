#include "store/pg_db.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::store::pg {
namespace {

struct OptionsFree {
  void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
};

std::string Trimmed(const char* s) {
  return std::string(absl::StripAsciiWhitespace(s ? s : ""));
}

// ParamArrays lays statement parameters out as libpq takes them.
struct ParamArrays {
  explicit ParamArrays(std::initializer_list<Param> params) {
    for (const Param& p : params) {
      values.push_back(p.data());
      lengths.push_back(p.size());
      formats.push_back(p.binary() ? 1 : 0);
    }
  }
  int size() const { return static_cast<int>(values.size()); }

  std::vector<const char*> values;
  std::vector<int> lengths, formats;
};

}  // namespace

absl::StatusOr<ConnInfo> ConnInfo::Parse(std::string_view conninfo) {
  ConnInfo info;
  info.conninfo = std::string(conninfo);
  char* err = nullptr;
  std::unique_ptr<PQconninfoOption, OptionsFree> opts(
      PQconninfoParse(info.conninfo.c_str(), &err));
  if (err != nullptr) PQfreemem(err);  // it may quote the password
  if (opts == nullptr) {
    return absl::InvalidArgumentError(
        "store: postgres-url is not a valid libpq connection string or "
        "postgresql:// URI");
  }
  std::string host, port, dbname;
  for (const PQconninfoOption* o = opts.get(); o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    std::string_view k = o->keyword;
    if (k == "password") info.password = o->val;
    if (k == "host" || (k == "hostaddr" && host.empty())) host = o->val;
    if (k == "port") port = o->val;
    if (k == "dbname") dbname = o->val;
  }
  info.target = absl::StrCat("host=", host.empty() ? "(default)" : host,
                             " port=", port.empty() ? "(default)" : port,
                             " dbname=", dbname.empty() ? "(default)" : dbname);
  return info;
}

std::string ConnInfo::Scrub(std::string_view msg) const {
  std::string out(msg);
  if (!conninfo.empty()) out = absl::StrReplaceAll(out, {{conninfo, "***"}});
  if (!password.empty()) out = absl::StrReplaceAll(out, {{password, "***"}});
  return out;
}

int64_t Result::affected() const {
  int64_t n = 0;
  (void)absl::SimpleAtoi(PQcmdTuples(r_.get()), &n);
  return n;
}

int64_t Result::Int(int row, int col) const {
  int64_t v = 0;
  (void)absl::SimpleAtoi(PQgetvalue(r_.get(), row, col), &v);
  return v;
}

std::vector<uint8_t> Result::Bytes(int row, int col) const {
  std::string_view t(PQgetvalue(r_.get(), row, col),
                     PQgetlength(r_.get(), row, col));
  if (absl::StartsWith(Sv(t), "\\x")) t.remove_prefix(2);
  std::string raw = absl::HexStringToBytes(Sv(t));
  return std::vector<uint8_t>(raw.begin(), raw.end());
}

absl::StatusOr<std::unique_ptr<Conn>> Conn::Open(const ConnInfo& info,
                                                 int connect_timeout_seconds) {
  // Defaults first: the expanded conninfo (dbname, expand_dbname=1)
  // overrides them; a connect_timeout after it overrides the conninfo's
  // (libpq keeps the last value of a repeated key word).
  const std::string timeout = std::to_string(connect_timeout_seconds);
  const char* keys[] = {"connect_timeout", "fallback_application_name",
                        "dbname", "connect_timeout", nullptr};
  const char* vals[] = {"10", "keyferryd", info.conninfo.c_str(),
                        timeout.c_str(), nullptr};
  if (connect_timeout_seconds <= 0) keys[3] = vals[3] = nullptr;
  ConnPtr c(PQconnectdbParams(keys, vals, 1));
  if (c == nullptr) {
    return absl::ResourceExhaustedError("store: libpq cannot allocate");
  }
  if (PQstatus(c.get()) != CONNECTION_OK) {
    return absl::UnavailableError(
        absl::StrCat("store: cannot connect to PostgreSQL (", info.target,
                     "): ", info.Scrub(Trimmed(PQerrorMessage(c.get())))));
  }
  auto conn = std::unique_ptr<Conn>(new Conn(std::move(c), &info));
  ASSIGN_OR_RETURN(Result r, conn->Exec("connect", "SHOW synchronous_commit"));
  if (r.rows() == 1 && r.Text(0, 0) == "off") {
    RETURN_IF_ERROR(conn->Run("connect", "SET synchronous_commit TO on"));
  }
  return conn;
}

std::string Conn::Option(std::string_view keyword) const {
  std::string value;
  PQconninfoOption* options = PQconninfo(c_.get());
  if (options == nullptr) return value;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (keyword == o->keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(options);
  return value;
}

absl::Status Conn::Error(std::string_view what, const PGresult* r) {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state ? state : "";
  const char* primary =
      r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = info_->Scrub(primary ? std::string(primary)
                                         : Trimmed(PQerrorMessage(c_.get())));
  std::string text = absl::StrCat("store: ", Sv(what), ": ", msg);
  if (!sqlstate_.empty()) absl::StrAppend(&text, " (SQLSTATE ", sqlstate_, ")");
  if (!ok() || sqlstate_.empty() || absl::StartsWith(sqlstate_, "08") ||
      absl::StartsWith(sqlstate_, "53") ||
      absl::StartsWith(sqlstate_, "57P0")) {
    return absl::UnavailableError(
        absl::StrCat(text, " [PostgreSQL ", info_->target, "]"));
  }
  if (sqlstate_ == "23505") return absl::AlreadyExistsError(text);
  if (sqlstate_ == "40001" || sqlstate_ == "40P01") {
    return absl::AbortedError(text);
  }
  return absl::InternalError(text);
}

absl::StatusOr<std::string> Conn::Prepared(std::string_view what,
                                           const char* sql) {
  auto it = prepared_.find(absl::string_view(sql));
  if (it != prepared_.end()) return it->second;
  if (prepared_.size() >= kMaxPrepared) return std::string();
  std::string name = absl::StrCat("kf", ++next_statement_);
  ResultPtr r(PQprepare(c_.get(), name.c_str(), sql, 0, nullptr));
  if (r == nullptr || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    return Error(what, r.get());
  }
  prepared_.emplace(sql, name);
  return name;
}

absl::StatusOr<Result> Conn::Run1(std::string_view what, const char* sql,
                                  std::initializer_list<Param> params,
                                  bool* lost) {
  *lost = false;
  ASSIGN_OR_RETURN(std::string name, Prepared(what, sql));
  const ParamArrays p(params);
  ResultPtr r(name.empty()
                  ? PQexecParams(c_.get(), sql, p.size(), nullptr,
                                 p.values.data(), p.lengths.data(),
                                 p.formats.data(), /*resultFormat=*/0)
                  : PQexecPrepared(c_.get(), name.c_str(), p.size(),
                                   p.values.data(), p.lengths.data(),
                                   p.formats.data(), /*resultFormat=*/0));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    absl::Status err = Error(what, r.get());
    if (!name.empty() && sqlstate_ == "26000") {  // the server lost it
      prepared_.clear();
      *lost = true;
    }
    return err;
  }
  sqlstate_.clear();
  return Result(std::move(r));
}

absl::StatusOr<Result> Conn::Exec(std::string_view what, const char* sql,
                                  std::initializer_list<Param> params) {
  bool lost = false;
  absl::StatusOr<Result> r = Run1(what, sql, params, &lost);
  // Outside a transaction nothing ran: prepare again and retry once.
  if (lost && idle()) r = Run1(what, sql, params, &lost);
  return r;
}

bool Conn::SendPrepared(const std::string& name,
                        std::initializer_list<Param> params) {
  const ParamArrays p(params);
  return PQsendQueryPrepared(c_.get(), name.c_str(), p.size(), p.values.data(),
                             p.lengths.data(), p.formats.data(),
                             /*resultFormat=*/0) == 1;
}

absl::StatusOr<std::vector<Result>> Conn::Batch(
    std::string_view what, std::initializer_list<Statement> statements) {
  std::vector<std::string> names;
  for (const Statement& s : statements) {
    ASSIGN_OR_RETURN(std::string name, Prepared(what, s.sql));
    names.push_back(std::move(name));
  }
  std::vector<Result> out;
  if (std::find(names.begin(), names.end(), "") != names.end()) {
    // The cache is full: one at a time, unprepared.
    for (const Statement& s : statements) {
      ASSIGN_OR_RETURN(Result r, Exec(what, s.sql, s.params));
      out.push_back(std::move(r));
    }
    return out;
  }
  if (PQenterPipelineMode(c_.get()) != 1) return Error(what, nullptr);
  bool sent = true;
  size_t i = 0;
  for (const Statement& s : statements) {
    sent = sent && SendPrepared(names[i++], s.params);
  }
  sent = sent && PQpipelineSync(c_.get()) == 1;
  // Every queued statement answers with a result and a null, then the Sync
  // with PGRES_PIPELINE_SYNC; a lost connection ends the answers early.
  absl::Status first = sent ? absl::OkStatus() : Error(what, nullptr);
  int nulls = 0;
  while (sent) {
    ResultPtr r(PQgetResult(c_.get()));
    if (r == nullptr) {                 // the end of one statement's results
      if (!ok() || ++nulls > 1) break;  // two in a row: nothing pending
      continue;
    }
    nulls = 0;
    ExecStatusType st = PQresultStatus(r.get());
    if (st == PGRES_PIPELINE_SYNC) break;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      out.emplace_back(std::move(r));
    } else if (first.ok()) {
      first = st == PGRES_PIPELINE_ABORTED
                  ? absl::InternalError("store: pipeline aborted")
                  : Error(what, r.get());
      if (sqlstate_ == "26000") prepared_.clear();  // the server lost them
    }
  }
  if (PQexitPipelineMode(c_.get()) != 1 && ok()) {
    // Answers left unread: this session is not usable as it is.
    absl::Status lost = Error(what, nullptr);
    (void)Reset();
    if (first.ok()) first = lost;
  }
  if (first.ok() && out.size() != names.size()) first = Error(what, nullptr);
  if (!first.ok()) return first;
  sqlstate_.clear();
  return out;
}

absl::Status Conn::Run(std::string_view what, const char* sql,
                       std::initializer_list<Param> params) {
  return Exec(what, sql, params).status();
}

absl::Status Conn::Script(std::string_view what, const char* sql) {
  ResultPtr r(PQexec(c_.get(), sql));
  ExecStatusType st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    return Error(what, r.get());
  }
  sqlstate_.clear();
  return absl::OkStatus();
}

bool Conn::Reset() {
  prepared_.clear();
  PQreset(c_.get());
  return ok();
}

Pool::Pool(ConnInfo info, int size)
    : info_(std::move(info)), size_(size < 1 ? 1 : size) {}

Pool::Lease::~Lease() {
  if (c_ != nullptr) pool_->Return(std::move(c_));
}

absl::StatusOr<Pool::Lease> Pool::Borrow() {
  std::unique_ptr<Conn> c;
  {
    keyferry::MutexLock l(&mu_);
    while (idle_.empty() && open_ >= size_) cv_.Wait(&mu_);
    if (!idle_.empty()) {
      c = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserved while it is opened below
    }
  }
  if (c != nullptr && !c->ok() && !c->Reset()) c.reset();  // slot kept
  if (c == nullptr) {
    absl::StatusOr<std::unique_ptr<Conn>> opened = Conn::Open(info_);
    if (!opened.ok()) {
      {
        keyferry::MutexLock l(&mu_);
        --open_;
      }
      cv_.Signal();
      return opened.status();
    }
    c = std::move(opened).value();
  }
  return Lease(this, std::move(c));
}

void Pool::Return(std::unique_ptr<Conn> c) {
  const bool keep = c->ok() && c->idle();
  if (!keep) c.reset();  // broken, or left in a transaction: close it
  {
    keyferry::MutexLock l(&mu_);
    if (keep) {
      idle_.push_back(std::move(c));
    } else {
      --open_;
    }
  }
  cv_.Signal();
}

int Pool::open() {
  keyferry::MutexLock l(&mu_);
  return open_;
}

}  // namespace keyferry::store::pg
