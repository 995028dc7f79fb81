#include "store/memory_store.h"

#include <algorithm>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::store {
namespace {

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Sv(s)); }

absl::Status KeyNotFound(std::string_view name) {
  return absl::NotFoundError(absl::StrCat("key ", Sv(name), " not found"));
}

KeyVersion WithName(KeyVersion v, const KeyName& n) {
  v.name = n.name;  // records carry the name as first created
  return v;
}

}  // namespace

void MemoryKeyStore::FailCommit(absl::Status status, int nth) {
  keyferry::MutexLock l(&mu_);
  commit_fault_ = std::move(status);
  commit_fault_in_ = std::max(1, nth);
}

void MemoryKeyStore::FailOp(std::string op, absl::Status status) {
  keyferry::MutexLock l(&mu_);
  op_faults_[std::move(op)] = std::move(status);
}

void MemoryKeyStore::FailReads(absl::Status status) {
  keyferry::MutexLock l(&mu_);
  read_fault_ = std::move(status);
}

void MemoryKeyStore::ClearFaults() {
  keyferry::MutexLock l(&mu_);
  op_faults_.clear();
  read_fault_ = absl::OkStatus();
  commit_fault_in_ = 0;
}

int MemoryKeyStore::commits() const {
  keyferry::MutexLock l(&mu_);
  return commits_;
}

absl::Status MemoryKeyStore::Write(
    std::string_view op, const std::function<absl::Status(State&)>& body) {
  keyferry::MutexLock l(&mu_);
  if (auto it = op_faults_.find(op); it != op_faults_.end()) return it->second;
  State next = state_;
  RETURN_IF_ERROR(body(next));
  if (commit_fault_in_ > 0 && --commit_fault_in_ == 0) return commit_fault_;
  state_ = std::move(next);
  ++commits_;
  return absl::OkStatus();
}

absl::Status MemoryKeyStore::ReadFault(std::string_view op) const {
  if (auto it = op_faults_.find(op); it != op_faults_.end()) return it->second;
  return read_fault_;
}

const MemoryKeyStore::Entry* MemoryKeyStore::Active(
    std::string_view vault, std::string_view name) const {
  auto it = state_.names.find({std::string(vault), Lower(name)});
  if (it == state_.names.end() || it->second.name.deleted) return nullptr;
  return &it->second;
}

absl::Status MemoryKeyStore::AddVersion(const KeyVersion& key,
                                        int recoverable_days) {
  return Write("AddVersion", [&](State& s) -> absl::Status {
    auto [it, made] = s.names.try_emplace({key.vault, Lower(key.name)});
    Entry& e = it->second;
    if (made) {
      e.name.vault = key.vault;
      e.name.name = key.name;
      e.name.recoverable_days = recoverable_days;
    } else if (e.name.deleted) {
      return absl::FailedPreconditionError("deleted");
    }
    for (const auto& [seq, v] : e.versions) {
      if (v.version == key.version) {
        return absl::AlreadyExistsError("store: the version exists");
      }
    }
    e.versions.emplace_back(s.next_seq++, key);
    return absl::OkStatus();
  });
}

absl::StatusOr<KeyVersion> MemoryKeyStore::GetVersion(
    std::string_view vault, std::string_view name, std::string_view version) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("GetVersion"));
  const Entry* e = Active(vault, name);
  if (e == nullptr) return KeyNotFound(name);
  if (version.empty()) return WithName(e->versions.back().second, e->name);
  const std::string want = Lower(version);
  for (const auto& [seq, v] : e->versions) {
    if (v.version == want) return WithName(v, e->name);
  }
  return KeyNotFound(name);
}

absl::Status MemoryKeyStore::UpdateVersion(const KeyVersion& key,
                                           const KeyVersion& before) {
  return Write("UpdateVersion", [&](State& s) -> absl::Status {
    auto it = s.names.find({key.vault, Lower(key.name)});
    if (it == s.names.end() || it->second.name.deleted) {
      return KeyNotFound(key.name);
    }
    for (auto& [seq, v] : it->second.versions) {
      if (v.version != key.version) continue;
      if (!SameMutableFields(v, before)) return ChangedMeanwhile();
      v.enabled = key.enabled;
      v.not_before = key.not_before;
      v.expires = key.expires;
      v.updated = key.updated;
      v.tags_json = key.tags_json;
      v.key_ops = key.key_ops;
      v.attest = key.attest;
      v.release_policy = key.release_policy;
      return absl::OkStatus();
    }
    return KeyNotFound(key.name);
  });
}

absl::StatusOr<Page<KeyVersion>> MemoryKeyStore::ListLatest(
    std::string_view vault, std::string_view after, int limit) {
  limit = std::max(1, limit);
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("ListLatest"));
  Page<KeyVersion> page;
  for (auto it = state_.names.upper_bound({std::string(vault), Lower(after)});
       it != state_.names.end() && it->first.first == vault; ++it) {
    if (it->second.name.deleted) continue;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = Lower(page.items.back().name);
      break;
    }
    page.items.push_back(
        WithName(it->second.versions.back().second, it->second.name));
  }
  return page;
}

absl::StatusOr<Page<KeyVersion>> MemoryKeyStore::ListVersions(
    std::string_view vault, std::string_view name, std::string_view after,
    int limit) {
  limit = std::max(1, limit);
  ASSIGN_OR_RETURN(const int64_t after_seq, VersionCursor(after));
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("ListVersions"));
  const Entry* e = Active(vault, name);
  if (e == nullptr) return KeyNotFound(name);
  Page<KeyVersion> page;
  int64_t last = 0;
  for (const auto& [seq, v] : e->versions) {
    if (seq <= after_seq) continue;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = std::to_string(last);
      break;
    }
    page.items.push_back(WithName(v, e->name));
    last = seq;
  }
  return page;
}

absl::StatusOr<std::vector<KeyVersion>> MemoryKeyStore::AllVersions(
    std::string_view vault, std::string_view name) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("AllVersions"));
  auto it = state_.names.find({std::string(vault), Lower(name)});
  if (it == state_.names.end()) return KeyNotFound(name);
  std::vector<KeyVersion> out;
  for (const auto& [seq, v] : it->second.versions) {
    out.push_back(WithName(v, it->second.name));
  }
  return out;
}

absl::StatusOr<KeyName> MemoryKeyStore::GetName(std::string_view vault,
                                                std::string_view name) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("GetName"));
  auto it = state_.names.find({std::string(vault), Lower(name)});
  if (it == state_.names.end()) return KeyNotFound(name);
  return it->second.name;
}

absl::Status MemoryKeyStore::MarkDeleted(std::string_view vault,
                                         std::string_view name,
                                         int64_t deleted_date,
                                         int64_t scheduled_purge_date) {
  return Write("MarkDeleted", [&](State& s) -> absl::Status {
    auto it = s.names.find({std::string(vault), Lower(name)});
    if (it == s.names.end() || it->second.name.deleted) {
      return KeyNotFound(name);
    }
    it->second.name.deleted = true;
    it->second.name.deleted_date = deleted_date;
    it->second.name.scheduled_purge_date = scheduled_purge_date;
    return absl::OkStatus();
  });
}

absl::StatusOr<Page<std::pair<KeyName, KeyVersion>>>
MemoryKeyStore::ListDeleted(std::string_view vault, std::string_view after,
                            int limit) {
  limit = std::max(1, limit);
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("ListDeleted"));
  Page<std::pair<KeyName, KeyVersion>> page;
  for (auto it = state_.names.upper_bound({std::string(vault), Lower(after)});
       it != state_.names.end() && it->first.first == vault; ++it) {
    if (!it->second.name.deleted) continue;
    if (static_cast<int>(page.items.size()) == limit) {
      page.next = Lower(page.items.back().first.name);
      break;
    }
    page.items.emplace_back(
        it->second.name,
        WithName(it->second.versions.back().second, it->second.name));
  }
  return page;
}

absl::Status MemoryKeyStore::Recover(std::string_view vault,
                                     std::string_view name) {
  return Write("Recover", [&](State& s) -> absl::Status {
    auto it = s.names.find({std::string(vault), Lower(name)});
    if (it == s.names.end() || !it->second.name.deleted) {
      return KeyNotFound(name);
    }
    it->second.name.deleted = false;
    it->second.name.deleted_date = 0;
    it->second.name.scheduled_purge_date = 0;
    return absl::OkStatus();
  });
}

absl::Status MemoryKeyStore::Purge(std::string_view vault,
                                   std::string_view name) {
  return Write("Purge", [&](State& s) -> absl::Status {
    auto it = s.names.find({std::string(vault), Lower(name)});
    if (it == s.names.end() || !it->second.name.deleted) {
      return KeyNotFound(name);
    }
    s.names.erase(it);
    return absl::OkStatus();
  });
}

absl::Status MemoryKeyStore::Restore(const std::vector<KeyVersion>& versions,
                                     int recoverable_days) {
  RETURN_IF_ERROR(CheckRestoreBatch(versions));
  const KeyVersion& first = versions.front();
  const std::string name_lc = Lower(first.name);
  return Write("Restore", [&](State& s) -> absl::Status {
    if (s.names.contains({first.vault, name_lc})) {
      return absl::AlreadyExistsError(
          absl::StrCat("key ", first.name, " already exists"));
    }
    Entry e;
    e.name.vault = first.vault;
    e.name.name = first.name;
    e.name.recoverable_days = recoverable_days;
    for (const KeyVersion& v : versions) {
      for (const auto& [seq, w] : e.versions) {
        if (w.version == v.version) {
          return absl::AlreadyExistsError("store: the version exists");
        }
      }
      e.versions.emplace_back(s.next_seq++, v);
    }
    s.names.emplace(std::make_pair(first.vault, name_lc), std::move(e));
    return absl::OkStatus();
  });
}

absl::Status MemoryKeyStore::SetRotationPolicy(std::string_view vault,
                                               std::string_view name,
                                               std::string_view policy_json,
                                               std::optional<int64_t> next) {
  return Write("SetRotationPolicy", [&](State& s) -> absl::Status {
    auto it = s.names.find({std::string(vault), Lower(name)});
    if (it == s.names.end() || it->second.name.deleted) {
      return KeyNotFound(name);
    }
    it->second.name.rotation_policy_json = std::string(policy_json);
    it->second.name.next_rotation = next;
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> MemoryKeyStore::ClaimRotation(std::string_view vault,
                                                   std::string_view name,
                                                   int64_t due,
                                                   int64_t lease_until) {
  bool claimed = false;
  RETURN_IF_ERROR(Write("ClaimRotation", [&](State& s) -> absl::Status {
    auto it = s.names.find({std::string(vault), Lower(name)});
    if (it == s.names.end() || it->second.name.deleted ||
        it->second.name.next_rotation != due) {
      return absl::OkStatus();
    }
    it->second.name.next_rotation = lease_until;
    claimed = true;
    return absl::OkStatus();
  }));
  return claimed;
}

absl::Status MemoryKeyStore::Ping() {
  keyferry::MutexLock l(&mu_);
  return ReadFault("Ping");
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
MemoryKeyStore::Due(std::string_view op, bool purge, int64_t now, int limit) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault(op));
  std::vector<std::tuple<int64_t, std::string, std::string>> due;
  for (const auto& [key, e] : state_.names) {
    if (purge ? (e.name.deleted && e.name.scheduled_purge_date <= now)
              : (!e.name.deleted && e.name.next_rotation &&
                 *e.name.next_rotation <= now)) {
      due.emplace_back(
          purge ? e.name.scheduled_purge_date : *e.name.next_rotation,
          e.name.vault, e.name.name);
    }
  }
  std::stable_sort(due.begin(), due.end(), [](const auto& a, const auto& b) {
    return std::get<0>(a) < std::get<0>(b);
  });
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [when, vault, name] : due) {
    if (static_cast<int>(out.size()) >= limit) break;
    out.emplace_back(vault, name);
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
MemoryKeyStore::DueRotations(int64_t now, int limit) {
  return Due("DueRotations", /*purge=*/false, now, limit);
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>>
MemoryKeyStore::DuePurges(int64_t now, int limit) {
  return Due("DuePurges", /*purge=*/true, now, limit);
}

absl::StatusOr<int64_t> MemoryKeyStore::CountKeys(std::string_view vault) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("CountKeys"));
  int64_t n = 0;
  for (const auto& [key, e] : state_.names) n += key.first == vault;
  return n;
}

absl::StatusOr<std::optional<std::string>> MemoryKeyStore::GetMeta(
    std::string_view key) {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("GetMeta"));
  auto it = state_.meta.find(std::string(key));
  if (it == state_.meta.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::StatusOr<std::string> MemoryKeyStore::SetMetaIfAbsent(
    std::string_view key, std::string_view value) {
  std::string stored;
  RETURN_IF_ERROR(Write("SetMetaIfAbsent", [&](State& s) -> absl::Status {
    stored = s.meta.try_emplace(std::string(key), value).first->second;
    return absl::OkStatus();
  }));
  return stored;
}

absl::StatusOr<bool> MemoryKeyStore::HasVersions() {
  keyferry::MutexLock l(&mu_);
  RETURN_IF_ERROR(ReadFault("HasVersions"));
  return !state_.names.empty();
}

absl::StatusOr<int64_t> MemoryKeyStore::AuthenticateVersions(
    const std::function<
        absl::StatusOr<std::vector<uint8_t>>(const KeyVersion&)>& attest) {
  int64_t done = 0;
  RETURN_IF_ERROR(Write("AuthenticateVersions", [&](State& s) -> absl::Status {
    done = 0;
    const bool legacy = s.meta.contains(kLegacyUnauthenticatedMeta);
    for (auto& [key, e] : s.names) {
      for (auto& [seq, v] : e.versions) {
        if (!v.attest.empty()) continue;
        if (!legacy) {
          return absl::DataLossError(
              "store: key versions have no authentication tag, but the store "
              "was not upgraded from schema 1");
        }
        ASSIGN_OR_RETURN(v.attest, attest(WithName(v, e.name)));
        ++done;
      }
    }
    s.meta.erase(kLegacyUnauthenticatedMeta);
    return absl::OkStatus();
  }));
  return done;
}

}  // namespace keyferry::store
