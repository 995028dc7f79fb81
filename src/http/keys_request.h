// Request readers of the keys API: a JSON body into the request structs the
// vault takes, with the validation and the exact messages Azure clients see
// (docs/api.md §3, "Request bodies"). Every member is read through Fields
// with its JSON type and, for numbers, its range; a reader returns
// InvalidArgument (400 BadParameter) naming the member at fault for a body
// it refuses, and never throws. An absent member and a null member are the
// same (the SDKs send explicit nulls for unset members); members the API
// does not define are ignored. Pure functions; thread-safe.
#ifndef KEYFERRY_HTTP_KEYS_REQUEST_H_
#define KEYFERRY_HTTP_KEYS_REQUEST_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "crypto/sign.h"
#include "custody/custody.h"
#include "http/message.h"
#include "vault/key_vault.h"

namespace keyferry::http::keys {

// kMaxPage is the largest (and default) page of a list.
inline constexpr int kMaxPage = 25;

// kMaxUnixSeconds is the latest time an attribute may name:
// 9999-12-31T23:59:59Z. Times are Unix seconds from 0 to this.
inline constexpr int64_t kMaxUnixSeconds = 253'402'300'799;

// Fields reads the members of one JSON object of a request body, each with
// the JSON type the API gives it. `prefix` names the object in messages
// ("attributes." gives "attributes.exp"). Each reader answers "not given"
// (nullopt, nullptr, empty) for an absent or null member, and
// InvalidArgument naming the member for any other JSON type than its own:
//   The property "attributes.exp" must be an integer.
// The Required forms add InvalidArgument `The property "x" is required.`
// for a member not given. When the object itself is not a JSON object every
// member is "not given". Borrows `object` for its lifetime; never throws.
class Fields {
 public:
  // `object` must outlive the Fields (it is not copied): a temporary is
  // refused at compile time.
  explicit Fields(const nlohmann::json& object, std::string prefix = "");
  explicit Fields(nlohmann::json&& object, std::string prefix = "") = delete;

  // Path is how messages name the member `name`: prefix + name.
  std::string Path(std::string_view name) const;

  // Given is whether the member `name` is present and not null.
  bool Given(std::string_view name) const;

  absl::StatusOr<std::optional<std::string>> String(
      std::string_view name) const;
  absl::StatusOr<std::string> RequiredString(std::string_view name) const;
  absl::StatusOr<std::optional<bool>> Bool(std::string_view name) const;

  // Int reads an integer from `min` to `max` (both within ±2^53). A JSON
  // number with a fraction or an exponent counts only when its value is an
  // integer (2048.0 is 2048; 2048.5 is refused). Booleans are not numbers.
  // Out of range (1e300 and 2^64 included): InvalidArgument
  //   The property "key_size" must be an integer from 1 to 16384.
  absl::StatusOr<std::optional<int64_t>> Int(std::string_view name, int64_t min,
                                             int64_t max) const;
  absl::StatusOr<int64_t> RequiredInt(std::string_view name, int64_t min,
                                      int64_t max) const;

  // Strings reads an array of strings ("must be an array of strings").
  absl::StatusOr<std::optional<std::vector<std::string>>> Strings(
      std::string_view name) const;

  // Object is the member when it is a JSON object, nullptr when not given.
  absl::StatusOr<const nlohmann::json*> Object(std::string_view name) const;

  // Bytes decodes a base64url string (padding and the standard alphabet
  // tolerated): empty when not given, or InvalidArgument
  // `The property "x" is required.` when `required`; a string that does
  // not decode is `The property "x" is not valid base64url.`
  absl::StatusOr<std::vector<uint8_t>> Bytes(std::string_view name,
                                             bool required) const;

 private:
  // Member is the member `name`, or nullptr when absent or null.
  const nlohmann::json* Member(std::string_view name) const;
  absl::Status WrongType(std::string_view name, std::string_view what) const;

  const nlohmann::json& object_;
  std::string prefix_;
};

// ParseBody parses a JSON object body, refusing deep nesting before
// anything walks it (base/json.h). InvalidArgument for an empty body or
// anything but a JSON object.
absl::StatusOr<nlohmann::json> ParseBody(const Request& request);

// B64Field is Fields(body).Bytes(name, required).
absl::StatusOr<std::vector<uint8_t>> B64Field(const nlohmann::json& body,
                                              const char* name, bool required);

// PageParams are a list request's maxresults (1..25) and $skiptoken cursor.
struct PageParams {
  int limit = kMaxPage;
  std::string after;
};
// ReadPage reads the query: maxresults is decimal digits only, 1 to 25.
absl::StatusOr<PageParams> ReadPage(const Request& request);

// ReadNamePrefix reads keyferryd's `prefix` query extension of GET /keys
// (docs/api.md; the web console's search): "" when absent, else the
// lower-cased prefix, 1-127 of [0-9a-zA-Z-] (InvalidArgument otherwise).
absl::StatusOr<std::string> ReadNamePrefix(const Request& request);

// PrefixCursor is the listing cursor just before every name starting with
// `prefix` (lower case, non-empty): names are listed in byte order after the
// cursor, and name characters are at most 'z', so the prefix with its last
// character decremented and '~' appended sorts after every smaller name and
// before every name with the prefix.
std::string PrefixCursor(std::string_view prefix);

// ReadProperties reads attributes, tags and key_ops of create, import and
// update bodies. `key_ops` comes from `ops_holder` (the body for create and
// update, the JWK "key" for import: `ops_prefix` "key." names it there).
// attributes: enabled (bool), nbf/exp (integer 0..kMaxUnixSeconds),
// exportable (bool; true is refused); the read-only created/updated (same
// range), recoverableDays (7..90), recoveryLevel and hsmPlatform (strings)
// are type-checked and ignored. tags: an object of strings (vault rules).
absl::StatusOr<vault::KeyProperties> ReadProperties(
    const nlohmann::json& body, const nlohmann::json& ops_holder,
    std::string ops_prefix = "");

// ReadCreate reads a create-key body: kty (required, one of the six),
// key_size (RSA 2048/3072/4096, EC 256/384/521, oct 128/192/256),
// public_exponent (RSA only: odd, 3 to 2^31-1), crv (P-256, P-384, P-521,
// P-256K; SECP256K1 and any letter case accepted), and the properties.
absl::StatusOr<vault::CreateKeyRequest> ReadCreate(const nlohmann::json& body);

// ReadImport reads an import-key body for the vault at `vault_host`
// (host[:port], as the client addressed it): Hsm (bool), key (required
// object: kty, crv, key_ops, and key_hsm, k or the private JWK members),
// and the properties.
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

// ReadRestore reads a restore body's "value" (the backup blob).
absl::StatusOr<std::vector<uint8_t>> ReadRestore(const nlohmann::json& body);

// ReadRotationPolicy checks a rotation-policy body under the vault's rules
// (vault::ParseRotationPolicy) after dropping its null attributes, and
// returns the JSON text to store.
absl::StatusOr<std::string> ReadRotationPolicy(nlohmann::json body);

// DropNullAttributes removes the null members of a rotation policy's
// "attributes" (clients send explicit nulls for unset members).
void DropNullAttributes(nlohmann::json& policy);

}  // namespace keyferry::http::keys

#endif  // KEYFERRY_HTTP_KEYS_REQUEST_H_
