// keyferry vault status|unseal|seal (a sealed keyferryd's /sys endpoints,
// docs/sealing.md §5) and keyferry audit verify (docs/audit.md).
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

// Answer turns keyferryd's reply into one line of status, or the error.
absl::Status Answer(const http::CallResult& r) {
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
  std::printf("%s (%d of %d shares submitted; %d needed; vault id %s)\n",
              b.value("sealed", true) ? "sealed" : "unsealed",
              b.value("progress", 0), b.value("shares", 0),
              b.value("threshold", 0), b.value("vault_id", "").c_str());
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
  ASSIGN_OR_RETURN(std::string clear,
                   seal::EncodeShareFile(share, info, std::nullopt));
  std::string body = absl::StrCat("{\"share\":", clear, "}");
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

absl::Status AuditVerify(const Args& a) {
  ASSIGN_OR_RETURN(std::string log, a.Require("log"));
  std::optional<std::string> head = a.Get("head");
  ASSIGN_OR_RETURN(audit::VerifyResult v, audit::Verify(log, head));
  std::printf("audit log %s: %llu records, chain intact; head %s\n",
              log.c_str(), static_cast<unsigned long long>(v.records),
              v.last_hash.c_str());
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
      {"vault unseal", "submit one key share to a sealed keyferryd",
       With({{"share", false, "the share file (share-N.json)"},
             {"passphrase-file", false,
              "file holding the share's passphrase, if it has one"}}),
       "", Unseal},
      {"vault seal", "seal keyferryd: drop its master key from memory",
       With({{"token-file", false,
              "operator's access token (else $KEYFERRY_TOKEN)"}}),
       "", Seal},
      {"audit verify",
       "check an audit log's hash chain (removed, altered, reordered records)",
       {{"log", false, "the audit log (keyferryd's <data-dir>/audit.log)"},
        {"head", false,
         "the head hash recorded earlier, to detect a truncated tail"}},
       "",
       AuditVerify},
  };
}

}  // namespace keyferry::cli
