// SqliteKeyStore: key versions and names, and their listings.
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

absl::Status SqliteKeyStore::AddVersion(const KeyVersion& key,
                                        int recoverable_days) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(key.name);
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, key.vault, name_lc));
    if (deleted.has_value() && *deleted) {
      return absl::FailedPreconditionError("deleted");
    }
    int64_t seq = 0;
    RETURN_IF_ERROR(InsertVersion(c, key, &seq));
    if (deleted.has_value()) {
      ASSIGN_OR_RETURN(auto s, c.Prepare("UPDATE key_names SET latest_seq=? "
                                         "WHERE vault=? AND name_lc=?"));
      s->Bind(1, seq).Bind(2, key.vault).Bind(3, name_lc);
      RETURN_IF_ERROR(s->Run());
    } else {
      RETURN_IF_ERROR(InsertName(c, key, recoverable_days, seq));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<KeyVersion> SqliteKeyStore::GetVersion(
    std::string_view vault, std::string_view name, std::string_view version) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  const std::string name_lc = Lower(name);
  std::unique_ptr<Stmt> s;
  if (version.empty()) {
    ASSIGN_OR_RETURN(
        s, (*r)->Prepare(absl::StrCat(
               "SELECT ", kVersionColumns,
               " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
               "WHERE n.vault=? AND n.name_lc=? AND n.deleted=0")));
    s->Bind(1, vault).Bind(2, name_lc);
  } else {
    ASSIGN_OR_RETURN(
        s, (*r)->Prepare(absl::StrCat(
               "SELECT ", kVersionColumns,
               " FROM key_names n JOIN key_versions v ON v.vault = n.vault AND "
               "v.name_lc = n.name_lc WHERE n.vault=? AND n.name_lc=? AND "
               "n.deleted=0 AND v.version=?")));
    s->Bind(1, vault).Bind(2, name_lc).Bind(3, Lower(version));
  }
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return KeyNotFound(name);
  return ReadVersion(*s);
}

absl::Status SqliteKeyStore::UpdateVersion(const KeyVersion& key,
                                           const KeyVersion& before) {
  return impl_->Write([&](Connection& c) -> absl::Status {
    const std::string name_lc = Lower(key.name);
    ASSIGN_OR_RETURN(std::optional<bool> deleted,
                     NameDeleted(c, key.vault, name_lc));
    if (!deleted.has_value() || *deleted) return KeyNotFound(key.name);
    // The writer connection serializes writers: what this reads is what the
    // update below replaces.
    ASSIGN_OR_RETURN(
        auto q, c.Prepare(absl::StrCat(
                    "SELECT ", kVersionColumns,
                    " FROM key_names n JOIN key_versions v ON v.vault = "
                    "n.vault AND v.name_lc = n.name_lc WHERE n.vault=? AND "
                    "n.name_lc=? AND v.version=?")));
    q->Bind(1, key.vault).Bind(2, name_lc).Bind(3, key.version);
    ASSIGN_OR_RETURN(bool row, q->Step());
    if (!row) return KeyNotFound(key.name);
    if (!SameMutableFields(ReadVersion(*q), before)) return ChangedMeanwhile();
    ASSIGN_OR_RETURN(
        auto s, c.Prepare("UPDATE key_versions SET enabled=?, nbf=?, exp=?, "
                          "updated=?, tags=?, key_ops=?, attest=?, "
                          "release_policy=? WHERE vault=? AND name_lc=? AND "
                          "version=?"));
    s->Bind(1, int64_t{key.enabled})
        .Bind(2, key.not_before)
        .Bind(3, key.expires)
        .Bind(4, key.updated)
        .Bind(5, key.tags_json)
        .Bind(6, JoinOps(key.key_ops))
        .BindBlob(7, key.attest)
        .Bind(8, key.release_policy)
        .Bind(9, key.vault)
        .Bind(10, name_lc)
        .Bind(11, key.version);
    RETURN_IF_ERROR(RunOne(c, *s, key.name));
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<KeyVersion>> SqliteKeyStore::ListLatest(
    std::string_view vault, std::string_view after, int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s,
      (*r)->Prepare(absl::StrCat(
          "SELECT ", kVersionColumns, ", n.name_lc",
          " FROM key_names n JOIN key_versions v ON v.seq = n.latest_seq "
          "WHERE n.vault=? AND n.deleted=0 AND n.name_lc > ? "
          "ORDER BY n.name_lc LIMIT ?")));
  s->Bind(1, vault).Bind(2, Lower(after)).Bind(3, int64_t{limit} + 1);
  Page<KeyVersion> page;
  std::string last;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = last;
      break;
    }
    page.items.push_back(ReadVersion(*s));
    last = s->Text(kVersionColumnCount);
  }
  return page;
}

absl::StatusOr<Page<KeyVersion>> SqliteKeyStore::ListVersions(
    std::string_view vault, std::string_view name, std::string_view after,
    int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(const int64_t after_seq, VersionCursor(after));
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  const std::string name_lc = Lower(name);
  ASSIGN_OR_RETURN(std::optional<bool> deleted,
                   NameDeleted(**r, vault, name_lc));
  if (!deleted.has_value() || *deleted) return KeyNotFound(name);
  ASSIGN_OR_RETURN(
      auto s, (*r)->Prepare(absl::StrCat(
                  "SELECT ", kVersionColumns,
                  " FROM key_versions v JOIN key_names n ON v.vault = n.vault "
                  "AND v.name_lc = n.name_lc WHERE v.vault=? AND v.name_lc=? "
                  "AND v.seq > ? ORDER BY v.seq LIMIT ?")));
  s->Bind(1, vault)
      .Bind(2, name_lc)
      .Bind(3, after_seq)
      .Bind(4, int64_t{limit} + 1);
  Page<KeyVersion> page;
  int64_t last = 0;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = std::to_string(last);
      break;
    }
    page.items.push_back(ReadVersion(*s));
    last = s->Int(0);
  }
  return page;
}

absl::StatusOr<std::vector<KeyVersion>> SqliteKeyStore::AllVersions(
    std::string_view vault, std::string_view name) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(
      auto s, (*r)->Prepare(absl::StrCat(
                  "SELECT ", kVersionColumns,
                  " FROM key_versions v JOIN key_names n ON v.vault = n.vault "
                  "AND v.name_lc = n.name_lc WHERE v.vault=? AND v.name_lc=? "
                  "ORDER BY v.seq")));
  s->Bind(1, vault).Bind(2, Lower(name));
  std::vector<KeyVersion> out;
  while (true) {
    ASSIGN_OR_RETURN(bool row, s->Step());
    if (!row) break;
    out.push_back(ReadVersion(*s));
  }
  if (out.empty()) return KeyNotFound(name);
  return out;
}

absl::StatusOr<KeyName> SqliteKeyStore::GetName(std::string_view vault,
                                                std::string_view name) {
  ASSIGN_OR_RETURN(auto r, impl_->Read());
  ASSIGN_OR_RETURN(auto s, (*r)->Prepare(absl::StrCat(
                               "SELECT ", kNameColumns,
                               " FROM key_names n WHERE n.vault=? AND "
                               "n.name_lc=?")));
  s->Bind(1, vault).Bind(2, Lower(name));
  ASSIGN_OR_RETURN(bool row, s->Step());
  if (!row) return KeyNotFound(name);
  return ReadName(*s, 0);
}

}  // namespace keyferry::store
