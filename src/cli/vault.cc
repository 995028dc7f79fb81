// keyferry vault status|unseal|seal (a sealed keyferryd's /sys endpoints,
// docs/sealing.md §4) and keyferry audit verify (docs/audit.md).
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "audit/audit_log.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/status.h"
#include "cli/command.h"
#include "http/client.h"
#include "seal/shares.h"

namespace keyferry::cli {
namespace {

using json = nlohmann::json;

std::vector<OptionSpec> ServerOptions() {
  return {
      {"url", false, "keyferryd's address, e.g. https://localhost:8443"},
      {"ca", false,
       "CA certificate to verify keyferryd with (default: the "
       "system store)"},
  };
}

absl::StatusOr<http::CallResult> Call(const Args& a, std::string method,
                                      std::string path, std::string body,
                                      std::string token = "") {
  ASSIGN_OR_RETURN(std::string url, a.Require("url"));
  while (!url.empty() && url.back() == '/') url.pop_back();
  http::CallOptions o;
  o.method = std::move(method);
  o.url = url + path;
  o.body = std::move(body);
  o.ca_file = a.Get("ca").value_or("");
  if (!token.empty()) o.headers.push_back({"Authorization", "Bearer " + token});
  absl::StatusOr<http::CallResult> r = http::HttpsCall(o);
  Zeroize(o.body.data(), o.body.size());
  return r;
}

// Text, Int and Flag read a member of keyferryd's JSON answer, or the
// default when it is missing or of another type (never throw).
std::string Text(const json& b, const char* key) {
  auto it = b.find(key);
  return it != b.end() && it->is_string() ? it->get<std::string>() : "";
}
int Int(const json& b, const char* key) {
  auto it = b.find(key);
  return it != b.end() && it->is_number_integer() ? it->get<int>() : 0;
}
bool Flag(const json& b, const char* key, bool otherwise) {
  auto it = b.find(key);
  return it != b.end() && it->is_boolean() ? it->get<bool>() : otherwise;
}

// PrintStatus prints a seal status as one line (and a warning line when the
// shares in do not reconstruct the key).
void PrintStatus(const json& b) {
  const std::string nonce = Text(b, "nonce");
  std::printf("%s (%d of %d shares submitted; %d needed; vault id %s%s%s)\n",
              Flag(b, "sealed", true) ? "sealed" : "unsealed",
              Int(b, "progress"), Int(b, "shares"), Int(b, "threshold"),
              Text(b, "vault_id").c_str(), nonce.empty() ? "" : "; attempt ",
              nonce.c_str());
  if (Flag(b, "reconstruction_failed", false)) {
    std::printf(
        "the shares submitted so far do not reconstruct the master key: at "
        "least one is wrong. Further shares are tried with them; to start "
        "over, a holder runs `keyferry vault unseal --reset --share FILE`.\n");
  }
}

// StatusOf returns keyferryd's JSON seal status from a reply, or its error
// as one line.
absl::StatusOr<json> StatusOf(const http::CallResult& r) {
  absl::StatusOr<json> parsed = ParseJson(r.body);
  json b = parsed.ok() ? std::move(*parsed) : json();
  if (r.status != 200) {
    std::string msg = b.is_object() && b.contains("error")
                          ? b["error"].value("message", r.body)
                          : r.body;
    return absl::FailedPreconditionError(
        absl::StrCat("keyferryd answered ", r.status, ": ", msg));
  }
  if (!b.is_object()) return absl::InternalError("keyferryd sent no JSON");
  return b;
}

// Answer prints keyferryd's reply as a status line, or returns the error.
absl::Status Answer(const http::CallResult& r) {
  ASSIGN_OR_RETURN(json b, StatusOf(r));
  PrintStatus(b);
  return absl::OkStatus();
}

absl::Status Status(const Args& a) {
  ASSIGN_OR_RETURN(http::CallResult r, Call(a, "GET", "/sys/seal-status", ""));
  return Answer(r);
}

absl::Status Unseal(const Args& a) {
  ASSIGN_OR_RETURN(std::string path, a.Require("share"));
  ASSIGN_OR_RETURN(SecretBytes text, ReadSecretFile(path, 1 << 16));
  auto tv = text.data(SecretAccess::Get());
  ASSIGN_OR_RETURN(seal::ShareFile file,
                   seal::ParseShareFile(std::string_view(
                       reinterpret_cast<const char*>(tv.data()), tv.size())));
  // A protected share is opened here: the passphrase never leaves this
  // machine; keyferryd receives the share over TLS.
  std::optional<SecretBytes> passphrase;
  if (std::optional<std::string> pf = a.Get("passphrase-file")) {
    ASSIGN_OR_RETURN(SecretBytes p, ReadSecretFile(*pf, 4096));
    auto pv = p.data(SecretAccess::Get());
    size_t n = pv.size();
    while (n > 0 && (pv[n - 1] == '\n' || pv[n - 1] == '\r')) --n;
    p.Resize(n);
    passphrase = std::move(p);
  }
  ASSIGN_OR_RETURN(seal::Share share, seal::OpenShareFile(file, passphrase));
  seal::SealInfo info;
  info.vault_id = file.vault_id;
  info.shares = file.shares;
  info.threshold = file.threshold;
  // The attempt in progress, if any: its nonce goes with the share, so the
  // share counts for the attempt this holder saw and no other.
  ASSIGN_OR_RETURN(http::CallResult sr, Call(a, "GET", "/sys/seal-status", ""));
  ASSIGN_OR_RETURN(json status, StatusOf(sr));
  if (!Flag(status, "sealed", true)) {
    PrintStatus(status);  // already unsealed: nothing to submit
    return absl::OkStatus();
  }
  const std::string nonce = Text(status, "nonce");
  ASSIGN_OR_RETURN(std::string clear,
                   seal::EncodeShareFile(share, info, std::nullopt));
  std::string body =
      absl::StrCat("{\"share\":", clear, ",\"nonce\":", json(nonce).dump(),
                   a.Has("reset") ? ",\"reset\":true" : "", "}");
  Zeroize(clear.data(), clear.size());
  ASSIGN_OR_RETURN(http::CallResult r,
                   Call(a, "POST", "/sys/unseal", std::move(body)));
  return Answer(r);
}

absl::Status Seal(const Args& a) {
  std::string token;
  if (std::optional<std::string> f = a.Get("token-file")) {
    ASSIGN_OR_RETURN(std::string t, ReadFile(*f, 1 << 16));
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    token = std::move(t);
  } else if (const char* t = std::getenv("KEYFERRY_TOKEN"); t && *t) {
    token = t;
  } else {
    return absl::InvalidArgumentError(
        "vault seal needs an operator's access token: --token-file FILE or "
        "KEYFERRY_TOKEN");
  }
  ASSIGN_OR_RETURN(http::CallResult r,
                   Call(a, "POST", "/sys/seal", "", std::move(token)));
  return Answer(r);
}

// AuditVerify checks one chain per log given: several nodes on one
// database keep one chain each (docs/security-model.md §4). Every log is
// checked and reported; the first broken one is the error.
absl::Status AuditVerify(const Args& a) {
  const std::vector<std::string> logs = a.GetAll("log");
  if (logs.empty()) return absl::InvalidArgumentError("missing --log");
  std::optional<std::string> head = a.Get("head");
  if (head && logs.size() > 1) {
    return absl::InvalidArgumentError(
        "--head names the head of one log: give one --log with it");
  }
  std::vector<audit::VerifyResult> results;
  int broken = 0;
  absl::Status first_error;
  std::string first_broken;
  for (const std::string& log : logs) {
    absl::StatusOr<audit::VerifyResult> v = audit::Verify(log, head);
    if (v.ok()) {
      results.push_back(*v);
      continue;
    }
    if (broken++ == 0) {
      first_error = v.status();
      first_broken = log;
    }
  }
  if (broken > 0) {
    if (logs.size() == 1) return first_error;
    return absl::Status(
        first_error.code(),
        absl::StrCat(first_broken, ": ", first_error.message(), " (", broken,
                     " of ", logs.size(), " logs broken)"));
  }
  uint64_t total = 0;
  for (size_t i = 0; i < logs.size(); ++i) {
    total += results[i].records;
    std::printf("audit log %s: %llu records, chain intact; head %s\n",
                logs[i].c_str(),
                static_cast<unsigned long long>(results[i].records),
                results[i].last_hash.c_str());
  }
  if (logs.size() > 1) {
    std::printf("%zu audit logs, %llu records, every chain intact\n",
                logs.size(), static_cast<unsigned long long>(total));
  }
  return absl::OkStatus();
}

std::vector<OptionSpec> With(std::vector<OptionSpec> extra) {
  std::vector<OptionSpec> o = ServerOptions();
  o.insert(o.end(), extra.begin(), extra.end());
  return o;
}

}  // namespace

std::vector<Command> VaultCommands() {
  return {
      {"vault status", "show whether keyferryd is sealed", With({}), "",
       Status},
      {"vault unseal",
       "submit one key share to a sealed keyferryd (for the attempt in "
       "progress, named by its nonce from seal-status)",
       With({{"share", false, "the share file (share-N.json)"},
             {"passphrase-file", false,
              "file holding the share's passphrase, if it has one"},
             {"reset", true,
              "discard the attempt in progress instead (needs a share of "
              "this vault)"}}),
       "", Unseal},
      {"vault seal", "seal keyferryd: drop its master key from memory",
       With({{"token-file", false,
              "operator's access token (else $KEYFERRY_TOKEN)"}}),
       "", Seal},
      {"audit verify",
       "check audit logs' hash chains (removed, altered, reordered records)",
       {{"log", false,
         "the audit log (keyferryd's <data-dir>/audit.log); several nodes "
         "keep one each: give every node's (--log A B C)",
         true},
        {"head", false,
         "the head hash recorded earlier, to detect a truncated tail"}},
       "",
       AuditVerify},
  };
}

}  // namespace keyferry::cli
