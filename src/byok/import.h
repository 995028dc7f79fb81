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
#include "byok/profile.h"
#include "crypto/rsa_oaep.h"
#include "crypto/ssl_ptr.h"
#include "hsm/keys.h"
#include "hsm/session.h"

namespace keyferry::byok {

// TransferBlob is what a container holds for the token.
struct TransferBlob {
  // Hybrid: C1 || C2; direct: one RSA-OAEP block of the key (not secret).
  std::vector<uint8_t> ciphertext;
  crypto::OaepHash oaep_hash = crypto::OaepHash::kSha1;
  bool hybrid = true;
  std::optional<std::string> kid;  // the KEK the container names, if any
};

// ReadTransferBlob parses `text` as the container of `profile`
// (byok/profile.h, docs/byok-format.md §7): Azure's .byok JSON (ParseBlob,
// strict); azure-release's base64url key_hsm JSON, whose header.enc must be
// the profile's method; AWS's and GCP's raw bytes; Vault's JSON, whose
// hash_function must be the profile's; OCI's JSON, whose wrappingAlgorithm
// must be the profile's. The OAEP hash and hybrid/direct are the profile's.
// InvalidArgument naming the first rule that failed.
absl::StatusOr<TransferBlob> ReadTransferBlob(const Profile& profile,
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
// the blob is hybrid with SHA-1 (unless options say two-step), else RSA-OAEP
// with the blob's hash and the RFC 5649 mechanism whose unwrap passes its
// known-answer test; a direct blob (AES keys only) is one RSA-OAEP unwrap.
// A token whose CKM_RSA_PKCS_OAEP with the blob's hash fails its
// known-answer test (SoftHSM 2.6.1 has SHA-1 only) is refused with
// FailedPrecondition "token lacks CKM_RSA_PKCS_OAEP with SHA-256 ..." before
// anything is made. A direct AES key whose token leaves CKA_VALUE_LEN unset
// is measured by wrapping an extractable session copy under an in-token
// ephemeral AES key (RFC 5649 output length), both destroyed at once.
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
