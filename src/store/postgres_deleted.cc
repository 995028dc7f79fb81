// PostgresKeyStore: soft delete, recover, purge, restore, rotation policy
// and the due-work queries.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "store/postgres_impl.h"
#include "store/postgres_store.h"

namespace keyferry::store {

using pg::Conn;
using pg::ExpectOne;
using pg::KeyNotFound;
using pg::kNameColumns;
using pg::kVersionColumnCount;
using pg::kVersionColumns;
using pg::Lower;
using pg::ReadName;
using pg::ReadVersion;
using pg::Result;

absl::Status PostgresKeyStore::MarkDeleted(std::string_view vault,
                                           std::string_view name,
                                           int64_t deleted_date,
                                           int64_t scheduled_purge_date) {
  const std::string name_lc = Lower(name);
  return impl_->Write([&](Conn& c) -> absl::Status {
    RETURN_IF_ERROR(ExpectOne(
        c.Exec("delete key",
               "UPDATE key_names SET deleted=true, deleted_date=$1, "
               "scheduled_purge_date=$2, row_version=row_version+1 WHERE "
               "vault=$3 AND name_lc=$4 AND NOT deleted",
               {deleted_date, scheduled_purge_date, vault, name_lc}),
        name));
    return pg::Changed(c, vault, name_lc, "delete");
  });
}

absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>>
PostgresKeyStore::ListDeleted(std::string_view vault, std::string_view after,
                              int limit) {
  limit = std::max(1, limit);
  const std::string after_lc = Lower(after);
  Page<std::pair<KeyName, KeyVersion>> page;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    static const std::string sql = absl::StrCat(
        "SELECT ", kVersionColumns, ", n.name_lc, ", kNameColumns,
        " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
        "WHERE n.vault=$1 AND n.deleted AND n.name_lc > $2 "
        "ORDER BY n.name_lc LIMIT $3");
    ASSIGN_OR_RETURN(Result r, c.Exec("list deleted keys", sql.c_str(),
                                      {vault, after_lc, int64_t{limit} + 1}));
    page = {};
    const int n = std::min(r.rows(), limit);
    for (int i = 0; i < n; ++i) {
      page.items.emplace_back(ReadName(r, i, kVersionColumnCount + 1),
                              ReadVersion(r, i));
    }
    if (r.rows() > limit) page.next = r.Text(n - 1, kVersionColumnCount);
    return absl::OkStatus();
  }));
  return page;
}

absl::Status PostgresKeyStore::Recover(std::string_view vault,
                                       std::string_view name) {
  const std::string name_lc = Lower(name);
  return impl_->Write([&](Conn& c) -> absl::Status {
    RETURN_IF_ERROR(ExpectOne(
        c.Exec("recover key",
               "UPDATE key_names SET deleted=false, deleted_date=0, "
               "scheduled_purge_date=0, row_version=row_version+1 WHERE "
               "vault=$1 AND name_lc=$2 AND deleted",
               {vault, name_lc}),
        name));
    return pg::Changed(c, vault, name_lc, "recover");
  });
}

absl::Status PostgresKeyStore::Purge(std::string_view vault,
                                     std::string_view name) {
  const std::string name_lc = Lower(name);
  return impl_->Write([&](Conn& c) -> absl::Status {
    // The versions go with the name (ON DELETE CASCADE).
    RETURN_IF_ERROR(ExpectOne(c.Exec("purge key",
                                     "DELETE FROM key_names WHERE vault=$1 "
                                     "AND name_lc=$2 AND deleted",
                                     {vault, name_lc}),
                              name));
    // Every node listening drops its cached keys once this commits
    // (postgres_listen.h).
    RETURN_IF_ERROR(c.Run("notify purge", "SELECT pg_notify($1, $2)",
                          {pg::kPurgeChannel, vault}));
    return pg::Changed(c, vault, name_lc, "purge");
  });
}

absl::Status PostgresKeyStore::Restore(const std::vector<KeyVersion>& versions,
                                       int recoverable_days) {
  RETURN_IF_ERROR(CheckRestoreBatch(versions));
  const KeyVersion& first = versions.front();
  const std::string name_lc = Lower(first.name);
  return impl_->Write([&](Conn& c) -> absl::Status {
    absl::StatusOr<Result> made =
        c.Exec("restore key",
               "INSERT INTO key_names(vault, name_lc, name, recoverable_days, "
               "latest_seq) VALUES ($1, $2, $3, $4, 0)",
               {first.vault, name_lc, first.name, recoverable_days});
    if (absl::IsAlreadyExists(made.status())) {
      return absl::AlreadyExistsError(
          absl::StrCat("key ", first.name, " already exists"));
    }
    RETURN_IF_ERROR(made.status());
    int64_t seq = 0;
    for (const KeyVersion& v : versions) {
      ASSIGN_OR_RETURN(seq, pg::InsertVersion(c, v));
    }
    RETURN_IF_ERROR(c.Run("restore key",
                          "UPDATE key_names SET latest_seq=$1 WHERE vault=$2 "
                          "AND name_lc=$3",
                          {seq, first.vault, name_lc}));
    return pg::Changed(c, first.vault, name_lc, "restore");
  });
}

absl::Status PostgresKeyStore::SetRotationPolicy(std::string_view vault,
                                                 std::string_view name,
                                                 std::string_view policy_json,
                                                 std::optional<int64_t> next) {
  const std::string name_lc = Lower(name);
  return impl_->Write([&](Conn& c) -> absl::Status {
    RETURN_IF_ERROR(ExpectOne(
        c.Exec("set rotation policy",
               "UPDATE key_names SET rotation_policy=$1, next_rotation=$2, "
               "row_version=row_version+1 WHERE vault=$3 AND name_lc=$4 AND "
               "NOT deleted",
               {policy_json, next, vault, name_lc}),
        name));
    return pg::Changed(c, vault, name_lc, "rotation_policy");
  });
}

absl::StatusOr<bool> PostgresKeyStore::ClaimRotation(std::string_view vault,
                                                     std::string_view name,
                                                     int64_t due,
                                                     int64_t lease_until) {
  const std::string name_lc = Lower(name);
  bool claimed = false;
  RETURN_IF_ERROR(impl_->Write([&](Conn& c) -> absl::Status {
    // The UPDATE's row lock makes a second claimer wait for the first and
    // then see its lease: next_rotation no longer equals `due`.
    ASSIGN_OR_RETURN(
        Result r,
        c.Exec("claim rotation",
               "UPDATE key_names SET next_rotation=$1, "
               "row_version=row_version+1 WHERE vault=$2 AND name_lc=$3 AND "
               "NOT deleted AND next_rotation=$4",
               {lease_until, vault, name_lc, due}));
    claimed = r.affected() == 1;
    if (!claimed) return absl::OkStatus();
    return pg::Changed(c, vault, name_lc, "claim_rotation");
  }));
  return claimed;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PostgresKeyStore::DueNames(const char* sql, int64_t now, int limit) {
  std::vector<std::pair<std::string, std::string>> out;
  RETURN_IF_ERROR(impl_->Read([&](Conn& c) -> absl::Status {
    ASSIGN_OR_RETURN(Result r, c.Exec("due work", sql, {now, int64_t{limit}}));
    out.clear();
    for (int i = 0; i < r.rows(); ++i) {
      out.emplace_back(r.Text(i, 0), r.Text(i, 1));
    }
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PostgresKeyStore::DueRotations(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE next_rotation IS NOT NULL AND "
      "NOT deleted AND next_rotation <= $1 ORDER BY next_rotation, vault, "
      "name_lc LIMIT $2",
      now, limit);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
PostgresKeyStore::DuePurges(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE deleted AND "
      "scheduled_purge_date <= $1 ORDER BY scheduled_purge_date, vault, "
      "name_lc LIMIT $2",
      now, limit);
}

}  // namespace keyferry::store
