#include "vault/model.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/error_code.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"

namespace keyferry::vault {
namespace {

struct KtyName_ {
  Kty kty;
  const char* name;
};
constexpr KtyName_ kKtys[] = {{Kty::kRsa, "RSA"}, {Kty::kRsaHsm, "RSA-HSM"},
                              {Kty::kEc, "EC"},   {Kty::kEcHsm, "EC-HSM"},
                              {Kty::kOct, "oct"}, {Kty::kOctHsm, "oct-HSM"}};

struct OpName {
  KeyOp op;
  const char* name;
};
constexpr OpName kOps[] = {
    {KeyOp::kEncrypt, "encrypt"}, {KeyOp::kDecrypt, "decrypt"},
    {KeyOp::kSign, "sign"},       {KeyOp::kVerify, "verify"},
    {KeyOp::kWrapKey, "wrapKey"}, {KeyOp::kUnwrapKey, "unwrapKey"},
    {KeyOp::kImport, "import"},   {KeyOp::kExport, "export"}};

}  // namespace

absl::StatusOr<Kty> ParseKty(std::string_view s) {
  for (const auto& k : kKtys) {
    if (s == k.name) return k.kty;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "The value \"", Sv(s),
      "\" of kty is not one of RSA, RSA-HSM, EC, EC-HSM, oct, oct-HSM."));
}

std::string_view KtyName(Kty k) {
  for (const auto& e : kKtys) {
    if (e.kty == k) return e.name;
  }
  return "";
}

custody::KeyKind KindOf(Kty k) {
  switch (k) {
    case Kty::kRsa:
    case Kty::kRsaHsm:
      return custody::KeyKind::kRsa;
    case Kty::kEc:
    case Kty::kEcHsm:
      return custody::KeyKind::kEc;
    case Kty::kOct:
    case Kty::kOctHsm:
      return custody::KeyKind::kOct;
  }
  return custody::KeyKind::kRsa;
}

bool IsHsm(Kty k) {
  return k == Kty::kRsaHsm || k == Kty::kEcHsm || k == Kty::kOctHsm;
}

absl::StatusOr<KeyOp> ParseKeyOp(std::string_view s) {
  for (const auto& o : kOps) {
    if (s == o.name) return o.op;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "The value \"", Sv(s), "\" of key_ops is not a valid key operation."));
}

std::string_view KeyOpName(KeyOp op) {
  for (const auto& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "";
}

absl::StatusOr<std::vector<KeyOp>> ParseKeyOps(
    const std::vector<std::string>& ops) {
  std::vector<KeyOp> out;
  for (const auto& s : ops) {
    ASSIGN_OR_RETURN(KeyOp op, ParseKeyOp(s));
    if (std::find(out.begin(), out.end(), op) == out.end()) out.push_back(op);
  }
  return out;
}

std::vector<KeyOp> DefaultKeyOps(custody::KeyKind k) {
  switch (k) {
    case custody::KeyKind::kRsa:
      return {KeyOp::kEncrypt, KeyOp::kDecrypt, KeyOp::kSign,
              KeyOp::kVerify,  KeyOp::kWrapKey, KeyOp::kUnwrapKey};
    case custody::KeyKind::kEc:
      return {KeyOp::kSign, KeyOp::kVerify};
    case custody::KeyKind::kOct:
      return {KeyOp::kEncrypt, KeyOp::kDecrypt, KeyOp::kWrapKey,
              KeyOp::kUnwrapKey};
  }
  return {};
}

absl::Status ValidateKeyName(std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 127 &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-';
      });
  if (!ok) {
    return absl::InvalidArgumentError(
        "The request URI contains an invalid name: key names match "
        "^[0-9a-zA-Z-]{1,127}$");
  }
  return absl::OkStatus();
}

absl::Status ValidateVersion(std::string_view v) {
  bool ok = v.size() == 32 && std::all_of(v.begin(), v.end(), [](char c) {
              return absl::ascii_isxdigit(static_cast<unsigned char>(c));
            });
  if (!ok) {
    return absl::InvalidArgumentError(
        "A key version is 32 hexadecimal characters.");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NewVersion() {
  ASSIGN_OR_RETURN(std::vector<uint8_t> r, crypto::RandomBytes(16));
  return HexEncode(r);
}

bool UsesPrivateKey(KeyOp op) {
  return op == KeyOp::kSign || op == KeyOp::kDecrypt ||
         op == KeyOp::kUnwrapKey || op == KeyOp::kImport;
}

KeyUse CheckKeyUse(const Attributes& a, const std::vector<KeyOp>& ops, KeyOp op,
                   int64_t now) {
  if (!a.enabled && UsesPrivateKey(op)) return KeyUse::kDisabled;
  if (op != KeyOp::kVerify) {
    if (a.not_before && now < *a.not_before) return KeyUse::kNotYetValid;
    if (a.expires && now >= *a.expires) return KeyUse::kExpired;
  }
  if (std::find(ops.begin(), ops.end(), op) == ops.end()) {
    return KeyUse::kOpNotPermitted;
  }
  return KeyUse::kAllowed;
}

absl::Status CheckOperation(const Attributes& a,
                            const std::vector<std::string>& key_ops, KeyOp op,
                            int64_t now) {
  std::vector<KeyOp> ops;
  for (const std::string& s : key_ops) {
    absl::StatusOr<KeyOp> o = ParseKeyOp(s);
    if (o.ok()) ops.push_back(*o);
  }
  const std::string_view name = KeyOpName(op);
  auto forbidden = [](std::string message, std::string_view inner) {
    return WithErrorCode(absl::PermissionDeniedError(message), "Forbidden",
                         inner);
  };
  switch (CheckKeyUse(a, ops, op, now)) {
    case KeyUse::kAllowed:
      return absl::OkStatus();
    case KeyUse::kDisabled:
      return forbidden(absl::StrCat("Operation ", Sv(name),
                                    " is not allowed on a disabled key."),
                       "KeyDisabled");
    case KeyUse::kNotYetValid:
      return forbidden(absl::StrCat("Operation ", Sv(name),
                                    " is not allowed: the key is not yet "
                                    "valid (nbf is in the future)."),
                       "KeyNotYetValid");
    case KeyUse::kExpired:
      return forbidden(absl::StrCat("Operation ", Sv(name),
                                    " is not allowed: the key has expired."),
                       "KeyExpired");
    case KeyUse::kOpNotPermitted:
      break;
  }
  return forbidden(
      absl::StrCat("Operation ", Sv(name),
                   " is not permitted on this key: its key_ops are [",
                   absl::StrJoin(key_ops, ", "), "]."),
      "KeyOperationForbidden");
}

bool IsKek(Kty kty, int bits, const std::vector<KeyOp>& ops) {
  return kty == Kty::kRsaHsm &&
         (bits == 2048 || bits == 3072 || bits == 4096) && ops.size() == 1 &&
         ops[0] == KeyOp::kImport;
}

}  // namespace keyferry::vault
