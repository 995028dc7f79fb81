#include "store/sqlite_db.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::store::sqlite {

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return out;
}

absl::Status DbError(sqlite3* db, std::string_view what) {
  int code = sqlite3_extended_errcode(db);
  std::string msg = absl::StrCat("store: ", Sv(what), ": ", sqlite3_errmsg(db),
                                 " (", code, ")");
  if ((code & 0xff) == SQLITE_FULL || (code & 0xff) == SQLITE_IOERR) {
    return absl::UnavailableError(msg);
  }
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED) {
    return absl::UnavailableError(msg);
  }
  if ((code & 0xff) == SQLITE_CONSTRAINT) {
    return absl::AlreadyExistsError(msg);
  }
  return absl::InternalError(msg);
}

absl::StatusOr<std::unique_ptr<Connection>> Connection::Open(
    const std::string& path, bool writer) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
              (writer ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DbPtr db(raw);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(
        absl::StrCat("store: cannot open ", path, ": ",
                     raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_extended_result_codes(db.get(), 1);
  sqlite3_busy_timeout(db.get(), 10'000);
  auto c = std::unique_ptr<Connection>(new Connection(std::move(db)));
  RETURN_IF_ERROR(c->Exec("PRAGMA foreign_keys=ON"));
  RETURN_IF_ERROR(c->Exec("PRAGMA synchronous=FULL"));
  if (writer) {
    RETURN_IF_ERROR(c->Exec("PRAGMA journal_mode=WAL"));
  }
  return c;
}

absl::Status Connection::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return absl::InternalError(absl::StrCat("store: ", msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Stmt>> Connection::Prepare(
    const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_.get(), sql.c_str(), -1,
                           SQLITE_PREPARE_PERSISTENT, &s,
                           nullptr) != SQLITE_OK) {
      return DbError(db_.get(), "prepare");
    }
    it = cache_.emplace(sql, StmtPtr(s)).first;
  }
  return std::make_unique<Stmt>(db_.get(), it->second.get());
}

std::string JoinOps(const std::vector<std::string>& ops) {
  return absl::StrJoin(ops, ",");
}

namespace {

std::vector<std::string> SplitOps(const std::string& s) {
  if (s.empty()) return {};
  return absl::StrSplit(s, ',');
}

}  // namespace

KeyVersion ReadVersion(const Stmt& s) {
  KeyVersion k;
  k.name = s.Text(1);
  k.version = s.Text(2);
  k.kty = s.Text(3);
  k.bits = static_cast<int>(s.Int(4));
  k.curve = s.Text(5);
  k.key_ops = SplitOps(s.Text(6));
  k.public_jwk = s.Text(7);
  k.blob = s.Blob(8);
  k.enabled = s.Int(9) != 0;
  k.not_before = s.OptInt(10);
  k.expires = s.OptInt(11);
  k.created = s.Int(12);
  k.updated = s.Int(13);
  k.exportable = s.Int(14) != 0;
  k.tags_json = s.Text(15);
  k.managed = s.Int(16) != 0;
  k.vault = s.Text(17);
  k.attest = s.Blob(18);
  k.release_policy = s.Text(19);
  return k;
}

KeyName ReadName(const Stmt& s, int base) {
  KeyName n;
  n.vault = s.Text(base + 0);
  n.name = s.Text(base + 1);
  n.deleted = s.Int(base + 2) != 0;
  n.deleted_date = s.Int(base + 3);
  n.scheduled_purge_date = s.Int(base + 4);
  n.recoverable_days = static_cast<int>(s.Int(base + 5));
  n.rotation_policy_json = s.Text(base + 6);
  n.next_rotation = s.OptInt(base + 7);
  return n;
}

absl::Status InsertVersion(Connection& c, const KeyVersion& k,
                           int64_t* seq_out) {
  ASSIGN_OR_RETURN(
      auto s,
      c.Prepare("INSERT INTO key_versions(vault, name_lc, version, kty, bits, "
                "curve, key_ops, public_jwk, sealed, enabled, nbf, exp, "
                "created, updated, exportable, tags, managed, attest, "
                "release_policy) VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING seq"));
  s->Bind(1, k.vault)
      .Bind(2, Lower(k.name))
      .Bind(3, k.version)
      .Bind(4, k.kty)
      .Bind(5, int64_t{k.bits})
      .Bind(6, k.curve)
      .Bind(7, JoinOps(k.key_ops))
      .Bind(8, k.public_jwk)
      .BindBlob(9, k.blob)
      .Bind(10, int64_t{k.enabled})
      .Bind(11, k.not_before)
      .Bind(12, k.expires)
      .Bind(13, k.created)
      .Bind(14, k.updated)
      .Bind(15, int64_t{k.exportable})
      .Bind(16, k.tags_json)
      .Bind(17, int64_t{k.managed})
      .BindBlob(18, k.attest)
      .Bind(19, k.release_policy);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return absl::InternalError("store: insert returned no seq");
  *seq_out = s->Int(0);
  return absl::OkStatus();
}

absl::Status InsertName(Connection& c, const KeyVersion& k,
                        int recoverable_days, int64_t latest_seq) {
  ASSIGN_OR_RETURN(auto s,
                   c.Prepare("INSERT INTO key_names(vault, name_lc, name, "
                             "recoverable_days, latest_seq) VALUES "
                             "(?,?,?,?,?)"));
  s->Bind(1, k.vault)
      .Bind(2, Lower(k.name))
      .Bind(3, k.name)
      .Bind(4, int64_t{recoverable_days})
      .Bind(5, latest_seq);
  return s->Run();
}

absl::StatusOr<std::optional<bool>> NameDeleted(Connection& c,
                                                std::string_view vault,
                                                std::string_view name_lc) {
  ASSIGN_OR_RETURN(auto s,
                   c.Prepare("SELECT deleted FROM key_names WHERE vault=? AND "
                             "name_lc=?"));
  s->Bind(1, vault).Bind(2, name_lc);
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return std::optional<bool>();
  return std::optional<bool>(s->Int(0) != 0);
}

absl::Status KeyNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("key ", Sv(name), " not found"));
}

absl::Status RunOne(Connection& c, Stmt& s, std::string_view name) {
  RETURN_IF_ERROR(s.Run());
  if (c.Changes() != 1) return KeyNotFound(name);
  return absl::OkStatus();
}

}  // namespace keyferry::store::sqlite
