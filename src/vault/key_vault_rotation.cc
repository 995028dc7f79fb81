// KeyVault: rotation, rotation policies and the background due work.
#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>
#include <string>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/error_code.h"
#include "base/json.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/blob.h"
#include "custody/cipher_rules.h"
#include "vault/attest.h"
#include "vault/key_vault.h"
#include "vault/key_vault_internal.h"

namespace keyferry::vault {
namespace {

using json = nlohmann::json;
using internal::DeletedKeyNotFound;
using internal::kBackupFormat;
using internal::KeyNotFound;
using internal::Lower;
using internal::NotFoundAs;

std::string DefaultRotationPolicy(std::string_view id) {
  json p = {
      {"id", id},
      {"lifetimeActions",
       json::array({{{"trigger", {{"timeBeforeExpiry", "P30D"}}},
                     {"action", {{"type", "Notify"}}}}})},
      {"attributes", json::object()},
  };
  return p.dump();
}

json PolicyDocument(const RotationPolicy& p) {
  json actions = json::array();
  for (const LifetimeAction& a : p.actions) {
    json trigger = json::object();
    if (a.time_after_create) {
      trigger["timeAfterCreate"] = a.time_after_create->text;
    }
    if (a.time_before_expiry) {
      trigger["timeBeforeExpiry"] = a.time_before_expiry->text;
    }
    actions.push_back(
        {{"trigger", trigger},
         {"action",
          {{"type",
            a.type == LifetimeAction::Type::kRotate ? "Rotate" : "Notify"}}}});
  }
  json attrs = {{"created", p.created}, {"updated", p.updated}};
  if (p.expiry_time) attrs["expiryTime"] = p.expiry_time->text;
  return {{"lifetimeActions", actions}, {"attributes", attrs}};
}

}  // namespace

absl::StatusOr<store::KeyVersion> KeyVault::Rotate(std::string_view vault,
                                                   std::string_view name) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(Kty kty, ParseKty(latest.kty));
  // Every key rotates the same way; a KEK's key_ops stay [import].
  std::vector<KeyOp> ops = OpsOf(latest);
  CreateKeyRequest req;
  req.kty = kty;
  custody::KeyKind kind = KindOf(kty);
  if (kind == custody::KeyKind::kEc) {
    ASSIGN_OR_RETURN(crypto::Curve c, crypto::ParseCurve(latest.curve));
    req.curve = c;
  } else {
    req.key_size = latest.bits;
  }
  if (kind == custody::KeyKind::kRsa) {
    ASSIGN_OR_RETURN(
        crypto::EvpPkeyPtr pub,
        crypto::ParsePublicKey(std::span<const uint8_t>(
            reinterpret_cast<const uint8_t*>(latest.public_jwk.data()),
            latest.public_jwk.size())));
    ASSIGN_OR_RETURN(crypto::RsaPublicParts parts,
                     crypto::GetRsaPublic(pub.get()));
    uint64_t e = 0;
    for (uint8_t b : parts.e) e = (e << 8) | b;
    if (e > 0 && e <= UINT32_MAX)
      req.public_exponent = static_cast<uint32_t>(e);
  }
  req.properties.key_ops = ops;
  req.properties.tags_json = latest.tags_json;
  req.properties.exportable = latest.exportable;
  req.properties.release_policy = ReleasePolicyInputOf(latest.release_policy);
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  if (!n.rotation_policy_json.empty()) {
    absl::StatusOr<RotationPolicy> p =
        ParseRotationPolicy(n.rotation_policy_json);
    if (p.ok() && p->expiry_time) {
      req.properties.expires = AddDuration(clock_(), *p->expiry_time);
    }
  }
  return Create(vault, latest.name, req);
}

absl::Status KeyVault::Reschedule(std::string_view vault,
                                  std::string_view name) {
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  if (n.rotation_policy_json.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(RotationPolicy p,
                   ParseRotationPolicy(n.rotation_policy_json));
  ASSIGN_OR_RETURN(store::KeyVersion latest,
                   store_->GetVersion(vault, name, ""));
  RETURN_IF_ERROR(CheckAttested(*custody_, latest));
  std::optional<int64_t> due = RotationDue(p, latest.created, latest.expires);
  return store_->SetRotationPolicy(vault, name, n.rotation_policy_json, due);
}

absl::StatusOr<std::string> KeyVault::GetRotationPolicy(
    std::string_view vault, std::string_view name, std::string_view key_url) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  std::string id = absl::StrCat(Sv(key_url), "/rotationpolicy");
  if (n.rotation_policy_json.empty()) return DefaultRotationPolicy(id);
  absl::StatusOr<json> parsed = ParseJson(n.rotation_policy_json);
  if (!parsed.ok()) return absl::DataLossError("stored policy damaged");
  json& doc = *parsed;
  doc["id"] = id;
  return doc.dump();
}

absl::StatusOr<std::string> KeyVault::SetRotationPolicy(
    std::string_view vault, std::string_view name, std::string_view body,
    std::string_view key_url) {
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  ASSIGN_OR_RETURN(store::KeyName n, store_->GetName(vault, name));
  ASSIGN_OR_RETURN(RotationPolicy p, ParseRotationPolicy(body));
  const int64_t now = clock_();
  p.created = now;
  if (!n.rotation_policy_json.empty()) {  // a replaced policy keeps `created`
    absl::StatusOr<json> old_doc = ParseJson(n.rotation_policy_json);
    if (old_doc.ok() && old_doc->is_object() &&
        old_doc->contains("attributes") &&
        (*old_doc)["attributes"].is_object()) {
      p.created = (*old_doc)["attributes"].value("created", now);
    }
  }
  p.updated = now;
  json doc = PolicyDocument(p);
  std::optional<int64_t> due = RotationDue(p, latest.created, latest.expires);
  absl::Status s = store_->SetRotationPolicy(vault, name, doc.dump(), due);
  if (!s.ok()) return NotFoundAs(s, name);
  doc["id"] = absl::StrCat(Sv(key_url), "/rotationpolicy");
  return doc.dump();
}

absl::StatusOr<std::string> KeyVault::RotateDue(const std::string& vault,
                                                const std::string& name,
                                                int64_t now, int64_t* lease) {
  *lease = 0;
  absl::StatusOr<store::KeyName> n = store_->GetName(vault, name);
  if (absl::IsNotFound(n.status())) return std::string();  // purged meanwhile
  RETURN_IF_ERROR(n.status());
  if (!n->next_rotation || *n->next_rotation > now) return std::string();
  // The lease runs from the claim, not from the start of the run: a run
  // that rotated many keys before this one must not hand out a lease that
  // has already expired.
  const int64_t until = clock_() + kRotationLease;
  ASSIGN_OR_RETURN(bool claimed, store_->ClaimRotation(
                                     vault, name, *n->next_rotation, until));
  if (!claimed) return std::string();
  *lease = until;
  // Safe to repeat: when the latest version is already newer than the
  // policy's due time, a rotation happened (a node that rotated and died
  // before it rescheduled); only the schedule is missing.
  ASSIGN_OR_RETURN(RotationPolicy p,
                   ParseRotationPolicy(n->rotation_policy_json));
  ASSIGN_OR_RETURN(store::KeyVersion latest, Get(vault, name, ""));
  std::optional<int64_t> due = RotationDue(p, latest.created, latest.expires);
  if (!due || *due > now) {
    RETURN_IF_ERROR(Reschedule(vault, name));
    return std::string();
  }
  ASSIGN_OR_RETURN(store::KeyVersion rotated, Rotate(vault, name));
  return rotated.version;
}

absl::StatusOr<std::pair<int, int>> KeyVault::RunDueWork(
    const std::function<absl::Status(const DueWorkEvent&)>& on_work) {
  auto tell = [&](std::string_view work, const std::string& vault,
                  const std::string& name, std::string version,
                  absl::Status status) -> absl::Status {
    if (!on_work) return absl::OkStatus();
    return on_work(DueWorkEvent{std::string(work), vault, name,
                                std::move(version), std::move(status)});
  };
  const int64_t now = clock_();
  int rotated = 0, purged = 0;
  // Done records a success; Failed a failure, and returns when to retry.
  auto id = [](std::string_view work, std::string_view vault,
               std::string_view name) {
    return absl::StrCat(Sv(work), "/", Sv(vault), "/", Lower(name));
  };
  auto done = [&](const std::string& key) {
    keyferry::MutexLock l(&due_mu_);
    due_failures_.erase(key);
  };
  auto failed = [&](std::string_view work, const std::string& vault,
                    const std::string& name,
                    const absl::Status& error) -> int64_t {
    keyferry::MutexLock l(&due_mu_);
    DueWorkFailure& f = due_failures_[id(work, vault, name)];
    f.vault = vault;
    f.name = name;
    f.work = std::string(work);
    f.error = std::string(error.message());
    ++f.failures;
    const int64_t backoff = std::min<int64_t>(
        int64_t{1} << std::min(f.failures - 1, 20), kMaxDueWorkBackoff);
    f.next_attempt = clock_() + backoff;
    Log(LogLevel::kError, "due_work_failed",
        {{"work", f.work},
         {"vault", vault},
         {"key", name},
         {"failures", std::to_string(f.failures)},
         {"retry_in_seconds", std::to_string(backoff)},
         {"error", f.error}});
    return f.next_attempt;
  };
  ASSIGN_OR_RETURN(auto due, store_->DueRotations(now, 100));
  for (const auto& [vault, name] : due) {
    int64_t lease = 0;
    absl::StatusOr<std::string> r = RotateDue(vault, name, now, &lease);
    if (r.ok() && r->empty()) {  // another node's, gone, or done already
      done(id("rotate", vault, name));
      continue;
    }
    RETURN_IF_ERROR(tell("rotate", vault, name, r.ok() ? *r : "", r.status()));
    if (r.ok()) {
      done(id("rotate", vault, name));
      ++rotated;
      continue;
    }
    const int64_t retry = failed("rotate", vault, name, r.status());
    // The policy stays. A rotation this node claimed has its lease handed
    // over to the retry time (persisted, so the query does not return the
    // key again before then), on condition that the lease is still this
    // node's: one taken over meanwhile is the other node's to schedule.
    // Without a claim (the store failed before it) the schedule is not
    // this node's to move; the next run asks again.
    if (lease == 0) continue;
    absl::StatusOr<bool> moved =
        store_->ClaimRotation(vault, name, lease, retry);
    if (!moved.ok()) return moved.status();
  }
  // Purges waiting for their retry stay due: ask for that many more, so
  // they never crowd out the others.
  size_t waiting = 0;
  {
    keyferry::MutexLock l(&due_mu_);
    for (const auto& [key, f] : due_failures_) waiting += f.work == "purge";
  }
  const int purge_limit = 100 + static_cast<int>(waiting);
  ASSIGN_OR_RETURN(auto purges, store_->DuePurges(now, purge_limit));
  if (static_cast<int>(purges.size()) < purge_limit) {
    // The whole due list: a purge waiting for its retry that is not on it
    // was done by another node, or its key recovered: nothing waits.
    std::set<std::string> listed;
    for (const auto& [vault, name] : purges) {
      listed.insert(id("purge", vault, name));
    }
    keyferry::MutexLock l(&due_mu_);
    std::erase_if(due_failures_, [&](const auto& entry) {
      return entry.second.work == "purge" && !listed.contains(entry.first);
    });
  }
  for (const auto& [vault, name] : purges) {
    const std::string key = id("purge", vault, name);
    {
      keyferry::MutexLock l(&due_mu_);
      auto it = due_failures_.find(key);
      if (it != due_failures_.end() && it->second.next_attempt > now) continue;
    }
    absl::Status s = store_->Purge(vault, name);
    if (s.ok() || s.code() == absl::StatusCode::kNotFound) {
      done(key);
      if (s.ok()) ++purged;
    } else {
      failed("purge", vault, name, s);
    }
    if (s.code() != absl::StatusCode::kNotFound)
      RETURN_IF_ERROR(tell("purge", vault, name, "", s));
  }
  if (purged > 0) custody_->ForgetCachedKeys();
  return std::make_pair(rotated, purged);
}

std::vector<DueWorkFailure> KeyVault::DueWorkFailures() const {
  keyferry::MutexLock l(&due_mu_);
  std::vector<DueWorkFailure> out;
  for (const auto& [key, f] : due_failures_) out.push_back(f);
  return out;
}

}  // namespace keyferry::vault
