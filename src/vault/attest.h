// Authenticated store records (docs/security-model.md §6).
//
// The store is outside keyferryd's trust boundary: whoever can write the
// database file (for instance while the vault is sealed) must not be able
// to change what a key is or may do. Every stored key version therefore
// carries `attest`, a tag the custody makes over AttestInput(version) with
// a secret only it holds (Custody::AuthenticateRecord), and the vault
// refuses a version whose tag does not verify (DataLoss), never using it.
//
// The store also remembers which custody it belongs to: the tag of a fixed
// record, kept as the store's "custody_check" metadata. BindStoreToCustody
// compares it at start (or unseal), so a missing, replaced or foreign
// master key is a refusal to start, never a silent new key.
#ifndef KEYFERRY_VAULT_ATTEST_H_
#define KEYFERRY_VAULT_ATTEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custody/custody.h"
#include "store/key_store.h"

namespace keyferry::vault {

// AttestInput is the byte string a version's tag covers: "KFV1" and then
// every field of `k` except `attest`, each length-prefixed (u32be) so no
// two different versions encode alike: vault, lower-cased name, name,
// version, kty, bits, curve, key_ops, public_jwk, blob (column "sealed"),
// enabled, nbf, exp, created, updated, exportable, tags, managed, and the
// release policy (empty for none: the slot was always there, so tags made
// before release policies existed still verify).
std::vector<uint8_t> AttestInput(const store::KeyVersion& k);

// Attest sets `k.attest` to the custody's tag over AttestInput(k).
absl::Status Attest(custody::Custody& custody, store::KeyVersion& k);

// CheckAttested verifies `k.attest`. DataLoss (and an error log line
// "stored_record_altered" naming the vault, key and version) when the tag
// is missing or does not verify; the custody's own error (e.g. Unavailable
// while sealed) otherwise.
absl::Status CheckAttested(custody::Custody& custody,
                           const store::KeyVersion& k);

// kCustodyCheckMeta is the store metadata key of the custody check value.
inline constexpr char kCustodyCheckMeta[] = "custody_check";

// CustodyCheckValue is the hex of the custody's tag over a fixed record: the
// same for every custody holding the same master secret, different (with
// overwhelming probability) for any other.
absl::StatusOr<std::string> CustodyCheckValue(custody::Custody& custody);

// StoreBinding is what BindStoreToCustody found.
struct StoreBinding {
  // The store already named this custody (its check value matched). When
  // false the store is new or upgraded from schema 1, and the caller
  // records the check value (RecordCustodyCheck) once whatever the first
  // start makes (the token signing key) is in place.
  bool bound_before = false;
  int64_t authenticated = 0;  // schema-1 versions tagged now
};

// BindStoreToCustody makes sure `store` belongs to `custody`, at start (or
// at unseal, for a sealed custody):
//  - a store with a check value: it must equal the custody's, else
//    FailedPrecondition "the master key does not match the store …";
//  - a store without one and without key versions: new (bound_before
//    false);
//  - a store without one that holds versions: only a store upgraded from
//    schema 1 (its metadata marks it), else DataLoss (the check value was
//    removed). The custody must open one of its versions
//    (FailedPrecondition otherwise), and the versions are then tagged as
//    they are, only when `authenticate_legacy` (the operator's
//    upgrade-store), else FailedPrecondition saying so.
absl::StatusOr<StoreBinding> BindStoreToCustody(store::KeyStore& store,
                                                custody::Custody& custody,
                                                bool authenticate_legacy);

// RecordCustodyCheck stores the custody's check value in the store (when
// absent; FailedPrecondition when another value got there first).
absl::Status RecordCustodyCheck(store::KeyStore& store,
                                custody::Custody& custody);

}  // namespace keyferry::vault

#endif  // KEYFERRY_VAULT_ATTEST_H_
