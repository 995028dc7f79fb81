// The CipherAlg vocabulary of custody.h: JOSE / Key Vault names and the oct
// key size each AES algorithm needs.
#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/strings.h"
#include "custody/custody.h"

namespace keyferry::custody {
namespace {

struct AlgInfo {
  CipherAlg alg;
  std::string_view name;
  int key_bytes;  // 0: RSA, or any AES key size
};

constexpr std::array<AlgInfo, 17> kAlgs = {{
    {CipherAlg::kRsa15, "RSA1_5", 0},
    {CipherAlg::kRsaOaep, "RSA-OAEP", 0},
    {CipherAlg::kRsaOaep256, "RSA-OAEP-256", 0},
    {CipherAlg::kA128Gcm, "A128GCM", 16},
    {CipherAlg::kA192Gcm, "A192GCM", 24},
    {CipherAlg::kA256Gcm, "A256GCM", 32},
    {CipherAlg::kA128Kw, "A128KW", 16},
    {CipherAlg::kA192Kw, "A192KW", 24},
    {CipherAlg::kA256Kw, "A256KW", 32},
    {CipherAlg::kA128Cbc, "A128CBC", 16},
    {CipherAlg::kA192Cbc, "A192CBC", 24},
    {CipherAlg::kA256Cbc, "A256CBC", 32},
    {CipherAlg::kA128CbcPad, "A128CBCPAD", 16},
    {CipherAlg::kA192CbcPad, "A192CBCPAD", 24},
    {CipherAlg::kA256CbcPad, "A256CBCPAD", 32},
    {CipherAlg::kCkmAesKeyWrap, "CKM_AES_KEY_WRAP", 0},
    {CipherAlg::kCkmAesKeyWrapPad, "CKM_AES_KEY_WRAP_PAD", 0},
}};

const AlgInfo* Find(CipherAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return &a;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<CipherAlg> ParseCipherAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("Invalid algorithm: '", Sv(name), "'."));
}

std::string_view CipherAlgName(CipherAlg alg) {
  const AlgInfo* a = Find(alg);
  return a != nullptr ? a->name : "?";
}

bool IsRsaCipher(CipherAlg alg) {
  return alg == CipherAlg::kRsa15 || alg == CipherAlg::kRsaOaep ||
         alg == CipherAlg::kRsaOaep256;
}

int CipherKeyBytes(CipherAlg alg) {
  const AlgInfo* a = Find(alg);
  return a != nullptr ? a->key_bytes : 0;
}

}  // namespace keyferry::custody
