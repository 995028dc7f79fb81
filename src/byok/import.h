// `keyferry import`: a transfer blob unwrapped into a token as a sensitive,
// non-extractable token key (docs/byok-format.md, "HSM as destination").
// Containers plug in as a parser yielding TransferBlob (C1 || C2 and the
// OAEP hash); the unwrap inside the token is byok/token_unwrap.h's.
#ifndef KEYFERRY_BYOK_IMPORT_H_
#define KEYFERRY_BYOK_IMPORT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "byok/export.h"
#include "crypto/rsa_oaep.h"
#include "crypto/ssl_ptr.h"
#include "hsm/keys.h"
#include "hsm/session.h"

namespace keyferry::byok {

// ImportFormat names a container `keyferry import` reads. Azure's .byok
// JSON only, today; AWS, GCP, OCI and Vault carry the same C1 || C2 with
// another OAEP hash and envelope, and plug in here.
enum class ImportFormat { kAzure };

// ParseImportFormat reads "azure". InvalidArgument for anything else.
absl::StatusOr<ImportFormat> ParseImportFormat(std::string_view name);

// TransferBlob is what a container holds for the token.
struct TransferBlob {
  std::vector<uint8_t> ciphertext;  // C1 || C2 (not secret)
  crypto::OaepHash oaep_hash = crypto::OaepHash::kSha1;
  std::optional<std::string> kid;  // the KEK the container names, if any
};

// ReadTransferBlob parses `text` as `format` (for Azure: byok::ParseBlob,
// strict). InvalidArgument naming the first rule that failed.
absl::StatusOr<TransferBlob> ReadTransferBlob(ImportFormat format,
                                              std::string_view text);

// TokenKekKid is the key identifier `keyferry kek create` prints for the
// token KEK labelled `label` with public key `kek_public`:
// https://hsm.keyferry.invalid/keys/<label>/<version>, where the version is
// the hex of the first 16 bytes of SHA-256 over the KEK's DER
// SubjectPublicKeyInfo, so the kid names this key pair and no other.
// InvalidArgument when `label` is not a key name (^[0-9a-zA-Z-]{1,127}$).
absl::StatusOr<std::string> TokenKekKid(std::string_view label,
                                        EVP_PKEY* kek_public);

// CheckKekLabel: InvalidArgument unless `label` is a key name
// (^[0-9a-zA-Z-]{1,127}$), as TokenKekKid needs.
absl::Status CheckKekLabel(std::string_view label);

// CheckBlobKek checks that a blob naming a kid names this KEK: a key name
// equal to `kek_label` and the version TokenKekKid computes (the host is
// not checked). A blob without a kid passes. InvalidArgument "the blob's
// kid names KEK ..., not ..." otherwise.
absl::Status CheckBlobKek(const TransferBlob& blob, std::string_view kek_label,
                          EVP_PKEY* kek_public);

struct TokenImportOptions {
  Route route = Route::kAuto;
  // The RFC 5649 mechanism; unset: the one ChooseKwp picks.
  std::optional<uint64_t> kwp_mechanism;
};

struct TokenImportResult {
  hsm::ObjectHandle key = 0;  // the new token object
  std::vector<uint8_t> id;    // its random CKA_ID
  std::string route;          // TokenUnwrapper::route()
  // As hsm::GeneratedKey::flags_not_kept: the caller must say so.
  std::vector<std::string> flags_not_kept;
};

// ImportToToken unwraps `blob` with the KEK private key `kek` (RSA
// 2048/3072/4096, CKA_UNWRAP) into a token object labelled `spec.label`
// with the flags of `spec.flags`, which must keep it sensitive,
// non-extractable and a token object (InvalidArgument otherwise).
// The route: CKM_RSA_AES_KEY_WRAP when the token lists it for unwrap and
// the hash is SHA-1 (unless options say two-step), else RSA-OAEP and the
// RFC 5649 mechanism whose unwrap passes its known-answer test.
// The payload is first unwrapped as a session object and checked against
// `spec` (type, RSA size, EC curve, AES size); only then is the token
// object made, and its own type, size or curve, sensitivity and
// extractability are read back. Any refusal (InvalidArgument naming what
// differs), a damaged blob or wrong KEK (InvalidArgument), a label in use
// (AlreadyExists) or a token failure leaves no object behind: the transfer
// key, the check object and a refused token object are destroyed on every
// path.
absl::StatusOr<TokenImportResult> ImportToToken(
    hsm::Session& s, hsm::ObjectHandle kek, const TransferBlob& blob,
    const hsm::KeySpec& spec, const TokenImportOptions& options);

}  // namespace keyferry::byok

#endif  // KEYFERRY_BYOK_IMPORT_H_
