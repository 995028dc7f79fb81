#include "byok/blob.h"

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/json.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::byok {
namespace {

using json = nlohmann::json;

absl::Status Bad(std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("byok blob: ", Sv(msg)));
}

bool IsKeyName(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsVersion(std::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsHost(std::string_view s) {
  if (s.empty() || s.size() > 253 + 6) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' &&
        c != '.' && c != ':' && c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

// Bounded parsing (base/json.h); a .byok blob nests one level.
absl::StatusOr<json> ParseBlobJson(std::string_view text) {
  absl::StatusOr<json> j = keyferry::ParseJson(text);
  if (!j.ok()) return Bad(StdSv(j.status().message()));
  return j;
}

absl::StatusOr<std::string> StringMember(const json& obj, const char* name,
                                         std::string_view where) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return Bad(absl::StrCat("missing \"", Sv(where), name, "\""));
  }
  if (!it->is_string()) {
    return Bad(absl::StrCat("\"", Sv(where), name, "\" is not a string"));
  }
  return it->get<std::string>();
}

}  // namespace

std::string KeyId::ToString() const {
  return absl::StrCat("https://", host, "/keys/", name, "/", version);
}

absl::StatusOr<KeyId> ParseKeyId(std::string_view kid) {
  constexpr std::string_view kScheme = "https://";
  if (!absl::StartsWith(Sv(kid), Sv(kScheme))) {
    return absl::InvalidArgumentError(
        "kid must start with https:// (a full Key Vault key identifier)");
  }
  std::string_view rest = kid.substr(kScheme.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return absl::InvalidArgumentError("kid has no path /keys/<name>/<version>");
  }
  KeyId out;
  out.host = std::string(rest.substr(0, slash));
  if (!IsHost(out.host)) {
    return absl::InvalidArgumentError("kid host is not a valid host name");
  }
  std::string_view path = rest.substr(slash);
  constexpr std::string_view kKeys = "/keys/";
  if (!absl::StartsWithIgnoreCase(Sv(path), Sv(kKeys))) {
    return absl::InvalidArgumentError(
        "kid path must be /keys/<name>/<version>");
  }
  path.remove_prefix(kKeys.size());
  size_t mid = path.find('/');
  if (mid == std::string_view::npos) {
    return absl::InvalidArgumentError(
        "kid has no key version (the KEK's full identifier, version included, "
        "is required)");
  }
  out.name = std::string(path.substr(0, mid));
  out.version = std::string(path.substr(mid + 1));
  if (!IsKeyName(out.name)) {
    return absl::InvalidArgumentError(
        "kid key name must match ^[0-9a-zA-Z-]{1,127}$");
  }
  if (!IsVersion(out.version)) {
    return absl::InvalidArgumentError(
        "kid key version must be 32 hexadecimal characters");
  }
  return out;
}

absl::StatusOr<Blob> ParseBlob(std::string_view text) {
  if (text.size() > kMaxBlobBytes) {
    return Bad(absl::StrCat("larger than ", kMaxBlobBytes, " bytes"));
  }
  ASSIGN_OR_RETURN(json doc, ParseBlobJson(text));
  if (!doc.is_object()) return Bad("top level is not a JSON object");
  Blob blob;
  ASSIGN_OR_RETURN(blob.schema_version,
                   StringMember(doc, "schema_version", ""));
  if (blob.schema_version != kSchemaVersion) {
    return Bad(absl::StrCat("unsupported schema_version (expected \"",
                            Sv(kSchemaVersion), "\")"));
  }
  auto header = doc.find("header");
  if (header == doc.end() || !header->is_object()) {
    return Bad("missing \"header\" object");
  }
  ASSIGN_OR_RETURN(blob.kid, StringMember(*header, "kid", "header."));
  ASSIGN_OR_RETURN(blob.alg, StringMember(*header, "alg", "header."));
  ASSIGN_OR_RETURN(blob.enc, StringMember(*header, "enc", "header."));
  if (blob.alg != kAlgDir) {
    return Bad("header.alg must be \"dir\"");
  }
  if (blob.enc != kEncRsaAesKeyWrap) {
    return Bad("header.enc must be \"CKM_RSA_AES_KEY_WRAP\"");
  }
  if (auto kid = ParseKeyId(blob.kid); !kid.ok()) {
    return Bad(absl::StrCat("header.", kid.status().message()));
  }
  ASSIGN_OR_RETURN(std::string ct, StringMember(doc, "ciphertext", ""));
  blob.ciphertext_was_padded = absl::EndsWith(Sv(ct), "=");
  auto decoded = Base64UrlDecode(ct);
  if (!decoded.ok()) {
    return Bad(absl::StrCat("ciphertext is not valid base64url (",
                            decoded.status().message(), ")"));
  }
  blob.ciphertext = std::move(*decoded);
  if (blob.ciphertext.empty()) return Bad("ciphertext is empty");
  if (auto gen = doc.find("generator"); gen != doc.end()) {
    if (!gen->is_string()) return Bad("\"generator\" is not a string");
    blob.generator = gen->get<std::string>();
  }
  return blob;
}

std::string SerializeBlob(const Blob& blob) {
  // Built by hand to fix the member order of docs/byok-format.md §1.
  auto quote = [](const std::string& s) {
    return json(s).dump(-1, ' ', false, json::error_handler_t::replace);
  };
  return absl::StrCat(
      "{\"schema_version\":", quote(blob.schema_version),
      ",\"header\":{\"kid\":", quote(blob.kid), ",\"alg\":", quote(blob.alg),
      ",\"enc\":", quote(blob.enc),
      "},\"ciphertext\":", quote(Base64UrlEncode(blob.ciphertext)),
      ",\"generator\":", quote(blob.generator), "}\n");
}

}  // namespace keyferry::byok
