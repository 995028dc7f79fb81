#include "server/seal_service.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "http/azure.h"

namespace keyferry::server {

using json = nlohmann::json;

SealService::SealService(SealServiceOptions options)
    : options_(std::move(options)),
      info_(options_.info),
      unsealer_(options_.info) {}

bool SealService::IsSysPath(const http::Request& r) {
  return !r.path_segments.empty() && r.path_segments[0] == "sys";
}

http::Response SealService::SealedResponse() {
  return http::AzureError(
      503, "ServiceUnavailable",
      "keyferryd is sealed: submit key shares with `keyferry vault unseal` "
      "(POST /sys/unseal) before using the vault");
}

std::string SealService::StatusJson() {
  return json{{"sealed", options_.custody->sealed()},
              {"vault_id", info_.vault_id},
              {"threshold", info_.threshold},
              {"shares", info_.shares},
              {"progress", unsealer_.progress()},
              {"nonce", unsealer_.nonce()},
              {"reconstruction_failed", unsealer_.reconstruction_failed()}}
      .dump();
}

void SealService::SaveLearnedShareChecks() {
  const seal::SealInfo& learned = unsealer_.info();
  if (!info_.share_checks.empty() || learned.share_checks.empty() ||
      !options_.save_info) {
    return;
  }
  if (absl::Status s = options_.save_info(learned); !s.ok()) {
    Log(LogLevel::kWarning, "seal_share_checks_not_saved",
        {{"error", std::string(s.message())}});
    return;
  }
  info_ = learned;
  Log(LogLevel::kInfo, "seal_share_checks_added",
      {{"vault_id", learned.vault_id}});
}

http::Response SealService::Handle(const http::Request& r) {
  const std::string path =
      r.path_segments.size() >= 2 ? r.path_segments[1] : std::string();
  if (r.path_segments.size() == 2 && path == "seal-status" &&
      r.method == "GET") {
    keyferry::MutexLock lock(&mu_);
    return http::JsonResponse(200, StatusJson());
  }
  if (r.path_segments.size() == 2 && path == "unseal" && r.method == "POST") {
    return Unseal(r);
  }
  if (r.path_segments.size() == 2 && path == "seal" && r.method == "POST") {
    return Seal(r);
  }
  return http::AzureError(404, "NotFound",
                          "unknown /sys endpoint: use GET /sys/seal-status, "
                          "POST /sys/unseal or POST /sys/seal");
}

http::Response SealService::Unseal(const http::Request& r) {
  std::string who = "share ?";
  auto answer = [&](http::Response resp) {
    resp.audit.emplace();
    resp.audit->operation = "unseal";
    resp.audit->principal = who;
    return resp;
  };
  // Bounded parse (base/json.h): this body comes before any credential.
  absl::StatusOr<json> parsed = ParseJson(r.body);
  json body = parsed.ok() ? std::move(*parsed) : json();
  if (!body.is_object() || !body.contains("share") ||
      !(body["share"].is_string() || body["share"].is_object())) {
    return answer(http::AzureError(
        400, "BadParameter",
        "the body must be {\"share\": <share file>, \"passphrase\"?: …}"));
  }
  if ((body.contains("nonce") && !body["nonce"].is_string()) ||
      (body.contains("reset") && !body["reset"].is_boolean())) {
    return answer(
        http::AzureError(400, "BadParameter",
                         "\"nonce\" must be the attempt's nonce (a string from "
                         "/sys/seal-status) and \"reset\" true or false"));
  }
  const std::string nonce = body.value("nonce", "");
  const bool reset = body.value("reset", false);
  std::string share_text = body["share"].is_string()
                               ? body["share"].get<std::string>()
                               : body["share"].dump();
  absl::StatusOr<seal::ShareFile> file = seal::ParseShareFile(share_text);
  Zeroize(share_text.data(), share_text.size());
  if (!file.ok()) return answer(http::StatusResponse(file.status()));
  who = absl::StrCat("share ", file->index, reset ? " (reset)" : "");
  std::optional<SecretBytes> passphrase;
  if (body.contains("passphrase") && body["passphrase"].is_string()) {
    std::string& p = body["passphrase"].get_ref<std::string&>();
    passphrase = SecretBytes(AsBytes(p));
    Zeroize(p.data(), p.size());
  }
  keyferry::MutexLock lock(&mu_);
  if (!options_.custody->sealed()) {
    return answer(http::JsonResponse(200, StatusJson()));
  }
  // The nonce first: a submission for another attempt is refused before
  // any work (scrypt) and changes nothing.
  if (absl::Status s = unsealer_.CheckNonce(nonce); !s.ok()) {
    return answer(http::StatusResponse(s));
  }
  if (absl::Status s = seal::CheckShareFileMatches(*file, info_); !s.ok()) {
    return answer(http::StatusResponse(s));
  }
  absl::StatusOr<seal::Share> share = seal::OpenShareFile(*file, passphrase);
  if (!share.ok()) {
    return answer(http::StatusResponse(
        share.status().code() == absl::StatusCode::kFailedPrecondition
            ? absl::InvalidArgumentError(share.status().message())
            : share.status()));
  }
  if (reset) {
    if (absl::Status s = unsealer_.ResetAttempt(nonce, *share); !s.ok()) {
      return answer(http::StatusResponse(s));
    }
    Log(LogLevel::kWarning, "unseal_reset", {{"principal", who}});
    return answer(http::JsonResponse(200, StatusJson()));
  }
  absl::StatusOr<std::optional<SecretBytes>> master =
      unsealer_.Submit(std::move(*share), nonce);
  if (!master.ok()) return answer(http::StatusResponse(master.status()));
  if (master->has_value()) {
    absl::StatusOr<std::unique_ptr<custody::Custody>> inner =
        options_.open(std::move(**master));
    if (!inner.ok()) return answer(http::StatusResponse(inner.status()));
    options_.custody->Unseal(std::move(*inner));
    if (options_.on_unsealed) {
      if (absl::Status s = options_.on_unsealed(); !s.ok()) {
        options_.custody->Seal();
        return answer(http::StatusResponse(s));
      }
    }
    Log(LogLevel::kWarning, "unsealed", {{"vault_id", info_.vault_id}});
    SaveLearnedShareChecks();
  }
  return answer(http::JsonResponse(200, StatusJson()));
}

http::Response SealService::Seal(const http::Request& r) {
  absl::StatusOr<std::string> principal = options_.authorize_seal(r);
  if (!principal.ok()) {
    http::Response resp = http::StatusResponse(principal.status());
    resp.audit.emplace();
    resp.audit->operation = "seal";
    return resp;
  }
  keyferry::MutexLock lock(&mu_);
  options_.custody->Seal();
  unsealer_.Reset();
  Log(LogLevel::kWarning, "sealed", {{"principal", *principal}});
  http::Response resp = http::JsonResponse(200, StatusJson());
  resp.audit.emplace();
  resp.audit->operation = "seal";
  resp.audit->principal = *principal;
  return resp;
}

}  // namespace keyferry::server
