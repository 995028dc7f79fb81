// Request readers of the keys API: a JSON body into the request structs the
// vault takes, with the validation and the exact messages Azure clients see
// (docs/api.md). Every reader returns InvalidArgument (400 BadParameter) for
// a body it refuses. Readers may throw nlohmann::json::exception for a
// member of the wrong type where the API has always let the dispatcher
// answer it (keys_api.cc: "The request body has a member of the wrong
// type."). Pure functions; thread-safe.
#ifndef KEYFERRY_HTTP_KEYS_REQUEST_H_
#define KEYFERRY_HTTP_KEYS_REQUEST_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/sign.h"
#include "custody/custody.h"
#include "http/message.h"
#include "vault/key_vault.h"

namespace keyferry::http::keys {

// kMaxPage is the largest (and default) page of a list.
inline constexpr int kMaxPage = 25;

// ParseBody parses a JSON object body, refusing deep nesting before
// anything walks it (base/json.h). InvalidArgument for an empty body or
// anything but a JSON object.
absl::StatusOr<nlohmann::json> ParseBody(const Request& request);

// B64Field decodes the base64url string member `name` of `body` (padding
// and the standard alphabet tolerated). An absent or null member is
// InvalidArgument when `required`, else empty.
absl::StatusOr<std::vector<uint8_t>> B64Field(const nlohmann::json& body,
                                              const char* name, bool required);

// StringField is the string member `name` of `body`, or "" when absent or
// not a string.
std::string StringField(const nlohmann::json& body, const char* name);

// PageParams are a list request's maxresults (1..25) and $skiptoken cursor.
struct PageParams {
  int limit = kMaxPage;
  std::string after;
};
absl::StatusOr<PageParams> ReadPage(const Request& request);

// ReadProperties reads attributes, tags and key_ops of create, import and
// update bodies. `key_ops` comes from `ops_holder` (the body for create and
// update, the JWK for import).
absl::StatusOr<vault::KeyProperties> ReadProperties(
    const nlohmann::json& body, const nlohmann::json& ops_holder);

// ReadCreate reads a create-key body.
absl::StatusOr<vault::CreateKeyRequest> ReadCreate(const nlohmann::json& body);

// ReadImport reads an import-key body for the vault at `vault_host`
// (host[:port], as the client addressed it).
absl::StatusOr<vault::ImportKeyRequest> ReadImport(const nlohmann::json& body,
                                                   std::string vault_host);

// SignRequest is a sign body ({"alg","value"}: the digest).
struct SignRequest {
  crypto::SignAlg alg;
  std::vector<uint8_t> digest;
};
absl::StatusOr<SignRequest> ReadSign(const nlohmann::json& body);

// VerifyRequest is a verify body ({"alg","digest","value"}: the signature).
struct VerifyRequest {
  crypto::SignAlg alg;
  std::vector<uint8_t> digest;
  std::vector<uint8_t> signature;
};
absl::StatusOr<VerifyRequest> ReadVerify(const nlohmann::json& body);

// ReadCipher reads an encrypt, decrypt, wrapkey or unwrapkey body.
absl::StatusOr<custody::CipherInput> ReadCipher(const nlohmann::json& body);

// ReadRandomCount reads an rng body's "count" (1..128).
absl::StatusOr<int64_t> ReadRandomCount(const nlohmann::json& body);

// DropNullAttributes removes the null members of a rotation policy's
// "attributes" (clients send explicit nulls for unset members).
void DropNullAttributes(nlohmann::json& policy);

}  // namespace keyferry::http::keys

#endif  // KEYFERRY_HTTP_KEYS_REQUEST_H_
