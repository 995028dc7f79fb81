#include "vault/attest.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "vault/key_vault.h"

namespace keyferry::vault {
namespace {

constexpr char kVersionMagic[] = "KFV1";
constexpr std::string_view kCheckRecord = "keyferry custody check v1";

class Encoder {
 public:
  Encoder& Bytes(std::span<const uint8_t> b) {
    out_.Add(b);
    return *this;
  }
  Encoder& Str(std::string_view s) { return Bytes(AsBytes(s)); }
  Encoder& Int(int64_t v) { return Str(std::to_string(v)); }
  Encoder& OptInt(const std::optional<int64_t>& v) {
    return v ? Int(*v) : Str("");
  }
  Encoder& Bool(bool b) { return Str(b ? "1" : "0"); }
  std::vector<uint8_t> Take() { return out_.Take(); }

 private:
  LengthPrefixed out_{kVersionMagic};
};

}  // namespace

std::vector<uint8_t> AttestInput(const store::KeyVersion& k) {
  return Encoder()
      .Str(k.vault)
      .Str(absl::AsciiStrToLower(Sv(k.name)))
      .Str(k.name)
      .Str(k.version)
      .Str(k.kty)
      .Int(k.bits)
      .Str(k.curve)
      .Str(absl::StrJoin(k.key_ops, ","))
      .Str(k.public_jwk)
      .Bytes(k.blob)
      .Bool(k.enabled)
      .OptInt(k.not_before)
      .OptInt(k.expires)
      .Int(k.created)
      .Int(k.updated)
      .Bool(k.exportable)
      .Str(k.tags_json)
      .Bool(k.managed)
      .Str(k.release_policy)  // "" for none, as before schema 3
      .Take();
}

absl::Status Attest(custody::Custody& custody, store::KeyVersion& k) {
  ASSIGN_OR_RETURN(k.attest, custody.AuthenticateRecord(AttestInput(k)));
  return absl::OkStatus();
}

absl::Status CheckAttested(custody::Custody& custody,
                           const store::KeyVersion& k) {
  absl::Status s = k.attest.empty()
                       ? absl::DataLossError("no tag")
                       : custody.VerifyRecord(AttestInput(k), k.attest);
  if (s.code() != absl::StatusCode::kDataLoss) return s;
  Log(LogLevel::kError, "stored_record_altered",
      {{"vault", k.vault},
       {"key", k.name},
       {"version", k.version},
       {"why", k.attest.empty() ? "the version has no authentication tag"
                                : "the version's authentication tag does not "
                                  "verify: the database row was changed "
                                  "outside keyferryd"}});
  return absl::DataLossError(absl::StrCat(
      "The stored record of key ", k.name,
      " failed its integrity check; keyferryd refuses to use it (the "
      "operator finds the details in the server log)."));
}

absl::StatusOr<std::string> CustodyCheckValue(custody::Custody& custody) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> tag,
                   custody.AuthenticateRecord(AsBytes(kCheckRecord)));
  return HexEncode(tag);
}

absl::StatusOr<StoreBinding> BindStoreToCustody(store::KeyStore& store,
                                                custody::Custody& custody,
                                                bool authenticate_legacy) {
  StoreBinding out;
  ASSIGN_OR_RETURN(std::string check, CustodyCheckValue(custody));
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   store.GetMeta(kCustodyCheckMeta));
  if (stored.has_value()) {
    if (*stored != check) {
      return absl::FailedPreconditionError(
          "the master key does not match the store: keys.db belongs to "
          "another master key (a replaced or foreign master.key, other key "
          "shares, or another token); start with the master key it was made "
          "with");
    }
    out.bound_before = true;
    return out;
  }
  ASSIGN_OR_RETURN(bool has_versions, store.HasVersions());
  if (!has_versions) return out;
  ASSIGN_OR_RETURN(std::optional<std::string> legacy,
                   store.GetMeta(store::kLegacyUnauthenticatedMeta));
  if (!legacy.has_value()) {
    return absl::DataLossError(
        "the store holds keys but no custody check value: the database was "
        "altered outside keyferryd");
  }
  // A store upgraded from schema 1: it must be this custody's. Versions are
  // tried until one opens (a rebind to its own binding opens the sealed
  // material and seals it again, in memory only).
  bool opened = false;
  absl::StatusOr<int64_t> n = store.AuthenticateVersions(
      [&](const store::KeyVersion& k) -> absl::StatusOr<std::vector<uint8_t>> {
        if (!opened) {
          const std::vector<uint8_t> b =
              KeyVault::Binding(k.vault, k.name, k.version);
          absl::StatusOr<custody::HeldKey> r = custody.Rebind(HeldOf(k), b, b);
          if (!r.ok()) {
            return absl::FailedPreconditionError(absl::StrCat(
                "the master key does not open the keys in the store (key ",
                k.name, ": ", r.status().message(),
                "); start with the master key the store was made with"));
          }
          opened = true;
        }
        if (!authenticate_legacy) {
          return absl::FailedPreconditionError(
              "the store predates record authentication (schema 1): its key "
              "versions carry no tag. Start keyferryd once with "
              "--upgrade-store true to authenticate them as they are now");
        }
        return custody.AuthenticateRecord(AttestInput(k));
      });
  if (!n.ok()) return n.status();
  out.authenticated = *n;
  return out;
}

absl::Status RecordCustodyCheck(store::KeyStore& store,
                                custody::Custody& custody) {
  ASSIGN_OR_RETURN(std::string check, CustodyCheckValue(custody));
  ASSIGN_OR_RETURN(std::string now_stored,
                   store.SetMetaIfAbsent(kCustodyCheckMeta, check));
  if (now_stored != check) {
    return absl::FailedPreconditionError(
        "the master key does not match the store (another node recorded a "
        "different one)");
  }
  return absl::OkStatus();
}

}  // namespace keyferry::vault
