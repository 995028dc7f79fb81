// PostgresKeyStore: key versions and names, and their listings.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "store/postgres_impl.h"
#include "store/postgres_store.h"

namespace keyferry::store {

using pg::Conn;
using pg::ExpectOne;
using pg::KeyNotFound;
using pg::kNameColumns;
using pg::kVersionColumns;
using pg::Lower;
using pg::Param;
using pg::ReadVersion;
using pg::Result;

absl::Status PostgresKeyStore::AddVersion(const KeyVersion& key,
                                          int recoverable_days) {
  const std::string name_lc = Lower(key.name);
  const std::string ops = pg::JoinOps(key.key_ops);
  // Two round trips besides BEGIN and COMMIT: each Batch runs its
  // statements one after the other, as separate Execs would (each with its
  // own snapshot), in one round trip. The SQL texts are those of
  // pg::LockName, pg::InsertVersion and pg::Changed (the same prepared
  // statements).
  return impl_->Write([&](Conn& c) -> absl::Status {
    // The name first (the versions' foreign key), then its row lock: a
    // concurrent first AddVersion waits here and then finds the name.
    ASSIGN_OR_RETURN(
        std::vector<Result> name,
        c.Batch("insert key",
                {{"INSERT INTO key_names(vault, name_lc, name, "
                  "recoverable_days, latest_seq) VALUES ($1, $2, $3, "
                  "$4, 0) ON CONFLICT (vault, name_lc) DO NOTHING",
                  {key.vault, name_lc, key.name, recoverable_days}},
                 {"SELECT deleted FROM key_names WHERE "
                  "vault=$1 AND name_lc=$2 FOR UPDATE",
                  {key.vault, name_lc}}}));
    if (name[1].rows() != 1) return absl::InternalError("store: name vanished");
    if (name[1].Bool(0, 0)) return absl::FailedPreconditionError("deleted");
    // The version, then the name's latest_seq: the seq the INSERT just
    // drew in this session (currval), then the change record.
    return c
        .Batch("insert version",
               {{"INSERT INTO key_versions(vault, name_lc, version, kty, bits, "
                 "curve, key_ops, public_jwk, sealed, enabled, nbf, exp, "
                 "created, updated, exportable, tags, managed, attest, "
                 "release_policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                 "$10, $11, $12, $13, $14, $15, $16, $17, $18, $19) RETURNING "
                 "seq",
                 {key.vault, name_lc, key.version, key.kty, key.bits, key.curve,
                  ops, key.public_jwk, Param::Bytes(key.blob), key.enabled,
                  key.not_before, key.expires, key.created, key.updated,
                  key.exportable, key.tags_json, key.managed,
                  Param::Bytes(key.attest), key.release_policy}},
                {"UPDATE key_names SET latest_seq=currval(pg_get_serial_"
                 "sequence('key_versions', 'seq')), row_version=row_version+1 "
                 "WHERE vault=$1 AND name_lc=$2",
                 {key.vault, name_lc}},
                {"INSERT INTO changes(vault, name_lc, op) VALUES ($1, $2, $3)",
                 {key.vault, name_lc, "add_version"}}})
        .status();
  });
}

absl::StatusOr<KeyVersion> PostgresKeyStore::GetVersion(
    std::string_view vault, std::string_view name, std::string_view version) {
  const std::string name_lc = Lower(name);
  const std::string version_lc = Lower(version);
  auto fetch =
      [&](absl::FunctionRef<void()> begin) -> absl::StatusOr<KeyVersion> {
    KeyVersion out;
    RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
      begin();
      absl::StatusOr<Result> r;
      if (version.empty()) {
        static const std::string sql = absl::StrCat(
            "SELECT ", kVersionColumns,
            " FROM key_names n JOIN key_versions v ON v.seq = "
            "n.latest_seq WHERE n.vault=$1 AND n.name_lc=$2 AND NOT "
            "n.deleted");
        r = c.Exec("read key", sql.c_str(), {vault, name_lc});
      } else {
        static const std::string sql = absl::StrCat(
            "SELECT ", kVersionColumns,
            " FROM key_names n JOIN key_versions v ON v.vault = n.vault "
            "AND v.name_lc = n.name_lc WHERE n.vault=$1 AND "
            "n.name_lc=$2 AND NOT n.deleted AND v.version=$3");
        r = c.Exec("read key", sql.c_str(), {vault, name_lc, version_lc});
      }
      if (!r.ok()) return r.status();
      if (r->rows() == 0) return KeyNotFound(name);
      out = ReadVersion(*r, 0);
      return absl::OkStatus();
    }));
    return out;
  };
  if (!impl_->coalesce_reads) return fetch([] {});
  // Length-prefixed: no two (vault, name, version) triples share a key.
  const std::string key = absl::StrCat(
      vault.size(), ":", Sv(vault), name_lc.size(), ":", name_lc, version_lc);
  return impl_->version_reads.Run(key, fetch);
}

absl::Status PostgresKeyStore::UpdateVersion(const KeyVersion& key,
                                             const KeyVersion& before) {
  const std::string name_lc = Lower(key.name);
  const std::string ops = pg::JoinOps(key.key_ops);
  return impl_->Write([&](Conn& c) -> absl::Status {
    // The name's row lock queues every writer of this key (§6.3), so the
    // version read next is the one the update below replaces.
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     pg::LockName(c, key.vault, name_lc));
    if (!deleted.has_value() || *deleted) return KeyNotFound(key.name);
    static const std::string read = absl::StrCat(
        "SELECT ", kVersionColumns,
        " FROM key_names n JOIN key_versions v ON v.vault = n.vault AND "
        "v.name_lc = n.name_lc WHERE n.vault=$1 AND n.name_lc=$2 AND "
        "v.version=$3");
    ASSIGN_OR_RETURN(Result r, c.Exec("read version", read.c_str(),
                                      {key.vault, name_lc, key.version}));
    if (r.rows() != 1) return KeyNotFound(key.name);
    if (!SameMutableFields(ReadVersion(r, 0), before)) {
      return ChangedMeanwhile();
    }
    RETURN_IF_ERROR(
        ExpectOne(c.Exec("update version",
                         "UPDATE key_versions SET enabled=$1, nbf=$2, exp=$3, "
                         "updated=$4, tags=$5, key_ops=$6, attest=$7, "
                         "release_policy=$8 WHERE vault=$9 AND name_lc=$10 AND "
                         "version=$11",
                         {key.enabled, key.not_before, key.expires, key.updated,
                          key.tags_json, ops, pg::Param::Bytes(key.attest),
                          key.release_policy, key.vault, name_lc, key.version}),
                  key.name));
    RETURN_IF_ERROR(c.Run("update key",
                          "UPDATE key_names SET row_version=row_version+1 "
                          "WHERE vault=$1 AND name_lc=$2",
                          {key.vault, name_lc}));
    return pg::Changed(c, key.vault, name_lc, "update_version");
  });
}

absl::StatusOr<Page<KeyVersion>> PostgresKeyStore::ListLatest(
    std::string_view vault, std::string_view after, int limit) {
  limit = std::max(1, limit);
  const std::string after_lc = Lower(after);
  Page<KeyVersion> page;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    static const std::string sql = absl::StrCat(
        "SELECT ", kVersionColumns, ", n.name_lc",
        " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
        "WHERE n.vault=$1 AND NOT n.deleted AND n.name_lc > $2 "
        "ORDER BY n.name_lc LIMIT $3");
    ASSIGN_OR_RETURN(Result r, c.Exec("list keys", sql.c_str(),
                                      {vault, after_lc, int64_t{limit} + 1}));
    page = {};
    const int n = std::min(r.rows(), limit);
    for (int i = 0; i < n; ++i) page.items.push_back(ReadVersion(r, i));
    if (r.rows() > limit) page.next = r.Text(n - 1, pg::kVersionColumnCount);
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<Page<KeyVersion>> PostgresKeyStore::ListVersions(
    std::string_view vault, std::string_view name, std::string_view after,
    int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(const int64_t after_seq, VersionCursor(after));
  const std::string name_lc = Lower(name);
  Page<KeyVersion> page;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     pg::NameDeleted(c, vault, name_lc));
    if (!deleted.has_value() || *deleted) return KeyNotFound(name);
    static const std::string sql = absl::StrCat(
        "SELECT ", kVersionColumns,
        " FROM key_versions v JOIN key_names n ON v.vault = n.vault AND "
        "v.name_lc = n.name_lc WHERE v.vault=$1 AND v.name_lc=$2 AND "
        "v.seq > $3 ORDER BY v.seq LIMIT $4");
    ASSIGN_OR_RETURN(Result r,
                     c.Exec("list versions", sql.c_str(),
                            {vault, name_lc, after_seq, int64_t{limit} + 1}));
    page = {};
    const int n = std::min(r.rows(), limit);
    for (int i = 0; i < n; ++i) page.items.push_back(ReadVersion(r, i));
    if (r.rows() > limit) page.next = std::to_string(r.Int(n - 1, 0));
    return absl::OkStatus();
  }));
  return page;
}

absl::StatusOr<std::vector<KeyVersion>> PostgresKeyStore::AllVersions(
    std::string_view vault, std::string_view name) {
  const std::string name_lc = Lower(name);
  std::vector<KeyVersion> out;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    static const std::string sql = absl::StrCat(
        "SELECT ", kVersionColumns,
        " FROM key_versions v JOIN key_names n ON v.vault = n.vault AND "
        "v.name_lc = n.name_lc WHERE v.vault=$1 AND v.name_lc=$2 "
        "ORDER BY v.seq");
    ASSIGN_OR_RETURN(Result r,
                     c.Exec("list versions", sql.c_str(), {vault, name_lc}));
    out.clear();
    for (int i = 0; i < r.rows(); ++i) out.push_back(ReadVersion(r, i));
    return absl::OkStatus();
  }));
  if (out.empty()) return KeyNotFound(name);
  return out;
}

absl::StatusOr<KeyName> PostgresKeyStore::GetName(std::string_view vault,
                                                  std::string_view name) {
  const std::string name_lc = Lower(name);
  KeyName out;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    static const std::string sql =
        absl::StrCat("SELECT ", kNameColumns,
                     " FROM key_names n WHERE n.vault=$1 AND n.name_lc=$2");
    ASSIGN_OR_RETURN(Result r,
                     c.Exec("read key", sql.c_str(), {vault, name_lc}));
    if (r.rows() == 0) return KeyNotFound(name);
    out = pg::ReadName(r, 0, 0);
    return absl::OkStatus();
  }));
  return out;
}

}  // namespace keyferry::store
