// SqliteKeyStore: soft delete, recover, purge, restore, rotation policy and
// the due-work queries.
#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"
#include "store/sqlite_db.h"
#include "store/sqlite_impl.h"
#include "store/sqlite_store.h"

namespace keyferry::store {

using sqlite::Connection;
using sqlite::InsertName;
using sqlite::InsertVersion;
using sqlite::JoinOps;
using sqlite::KeyNotFound;
using sqlite::kNameColumns;
using sqlite::kVersionColumnCount;
using sqlite::kVersionColumns;
using sqlite::Lower;
using sqlite::NameDeleted;
using sqlite::ReadName;
using sqlite::ReadVersion;
using sqlite::RunOne;
using sqlite::Stmt;

absl::Status SqliteKeyStore::MarkDeleted(std::string_view vault,
                                         std::string_view name,
                                         int64_t deleted_date,
                                         int64_t scheduled_purge_date) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET deleted=1, deleted_date=?, "
                          "scheduled_purge_date=? WHERE vault=? AND name_lc=? "
                          "AND deleted=0"));
    s->Bind(1, deleted_date)
        .Bind(2, scheduled_purge_date)
        .Bind(3, vault)
        .Bind(4, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>>
SqliteKeyStore::ListDeleted(std::string_view vault, std::string_view after,
                            int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s,
      (*r)->Prepare(absl::StrCat(
          "SELECT ", kVersionColumns, ", n.name_lc, ", kNameColumns,
          " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
          "WHERE n.vault=? AND n.deleted=1 AND n.name_lc > ? "
          "ORDER BY n.name_lc LIMIT ?")));
  s->Bind(1, vault).Bind(2, Lower(after)).Bind(3, int64_t{limit} + 1);
  Page<std::pair<KeyName, KeyVersion>> page;
  std::string last;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = last;
      break;
    }
    page.items.emplace_back(ReadName(*s, kVersionColumnCount + 1),
                            ReadVersion(*s));
    last = s->Text(kVersionColumnCount);
  }
  return page;
}

absl::Status SqliteKeyStore::Recover(std::string_view vault,
                                     std::string_view name) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET deleted=0, deleted_date=0, "
                          "scheduled_purge_date=0 WHERE vault=? AND name_lc=? "
                          "AND deleted=1"));
    s->Bind(1, vault).Bind(2, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::Purge(std::string_view vault,
                                   std::string_view name) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(name);
    ASSIGN_OR_RETURN(auto s,
                     c.Prepare("DELETE FROM key_names WHERE vault=? AND "
                               "name_lc=? AND deleted=1"));
    s->Bind(1, vault).Bind(2, name_lc);
    RETURN_IF_ERROR(RunOne(c, *s, name));
    ASSIGN_OR_RETURN(auto d, c.Prepare("DELETE FROM key_versions WHERE vault=? "
                                       "AND name_lc=?"));
    d->Bind(1, vault).Bind(2, name_lc);
    RETURN_IF_ERROR(d->Run());
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::Restore(const std::vector<KeyVersion>& versions,
                                     int recoverable_days) {
  RETURN_IF_ERROR(CheckRestoreBatch(versions));
  const KeyVersion& first = versions.front();
  const std::string name_lc = Lower(first.name);
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, first.vault, name_lc));
    if (deleted.has_value()) {
      return absl::AlreadyExistsError(
          absl::StrCat("key ", first.name, " already exists"));
    }
    int64_t seq = 0;
    for (const KeyVersion& v : versions) {
      RETURN_IF_ERROR(InsertVersion(c, v, &seq));
    }
    RETURN_IF_ERROR(InsertName(c, first, recoverable_days, seq));
    return absl::OkStatus();
  });
}

absl::Status SqliteKeyStore::SetRotationPolicy(std::string_view vault,
                                               std::string_view name,
                                               std::string_view policy_json,
                                               std::optional<int64_t> next) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET rotation_policy=?, "
                          "next_rotation=? WHERE vault=? AND name_lc=? AND "
                          "deleted=0"));
    s->Bind(1, policy_json).Bind(2, next).Bind(3, vault).Bind(4, Lower(name));
    RETURN_IF_ERROR(RunOne(c, *s, name));
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> SqliteKeyStore::ClaimRotation(std::string_view vault,
                                                   std::string_view name,
                                                   int64_t due,
                                                   int64_t lease_until) {
  bool claimed = false;
  RETURN_IF_ERROR(impl_->Write([&](Connection& c) -> absl::Status {
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_names SET next_rotation=? WHERE "
                          "vault=? AND name_lc=? AND deleted=0 AND "
                          "next_rotation=?"));
    s->Bind(1, lease_until).Bind(2, vault).Bind(3, Lower(name)).Bind(4, due);
    RETURN_IF_ERROR(s->Run());
    claimed = c.Changes() == 1;
    return absl::OkStatus();
  }));
  return claimed;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DueNames(const char* sql, int64_t now, int limit) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare(sql));
  s->Bind(1, now).Bind(2, int64_t{limit});
  std::vector<std::pair<std::string, std::string>> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.emplace_back(s->Text(0), s->Text(1));
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DueRotations(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE next_rotation IS NOT NULL AND "
      "deleted = 0 AND next_rotation <= ? ORDER BY next_rotation LIMIT ?",
      now, limit);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
SqliteKeyStore::DuePurges(int64_t now, int limit) {
  return DueNames(
      "SELECT vault, name FROM key_names WHERE deleted = 1 AND "
      "scheduled_purge_date <= ? ORDER BY scheduled_purge_date LIMIT ?",
      now, limit);
}

}  // namespace keyferry::store
