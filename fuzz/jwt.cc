// Fuzzes auth/jwt.h VerifyAccessToken, the bearer-token check of every keys-API
// call. Byte 0 picks the mode:
//   even: the rest is the compact token as a client would send it;
//   odd:  structure-aware: the rest is "<header JSON>\n<payload JSON>" (or
//         only the payload, under the header keyferryd issues), signed here
//         with the fixed test key, so the signature holds and the header,
//         claim readers and CheckClaims get exercised.
// Accepted claims must pass CheckClaims again and match the requirements.
#include "auth/jwt.h"

#include <openssl/sha.h>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "crypto/keys.h"
#include "crypto/sign.h"
#include "fuzz_util.h"

namespace {

using namespace keyferry;

constexpr int64_t kNow = 1'800'000'000;
constexpr auth::AccessTokenRequirements kWant{
    .issuer = "https://localhost:8443/identity",
    .tenant = "tenant-1",
    .audience = "https://localhost:8443",
};

EVP_PKEY* Key() {
  static EVP_PKEY* key = [] {
    auto k = crypto::GenerateEc(crypto::Curve::kP256);
    fuzz::CheckOk(k.status(), "token key");
    return k->release();
  }();
  return key;
}

std::string Signed(std::string_view header, std::string_view payload) {
  std::string input = absl::StrCat(Base64UrlEncode(AsBytes(header)), ".",
                                   Base64UrlEncode(AsBytes(payload)));
  uint8_t digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const uint8_t*>(input.data()), input.size(), digest);
  auto sig = crypto::SignDigest(Key(), crypto::SignAlg::kEs256, digest);
  fuzz::CheckOk(sig.status(), "ES256 signature");
  return absl::StrCat(input, ".", Base64UrlEncode(*sig));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view rest = fuzz::Text(data + 1, size - 1);
  std::string token;
  if (data[0] & 1) {
    size_t nl = rest.find('\n');
    token = nl == std::string_view::npos
                ? Signed(R"({"alg":"ES256","typ":"JWT","kid":"k1"})", rest)
                : Signed(rest.substr(0, nl), rest.substr(nl + 1));
  } else {
    token = std::string(rest);
  }
  absl::StatusOr<auth::Claims> c = auth::VerifyAccessToken(token, Key(), kWant, kNow);
  if (!c.ok()) return 0;
  fuzz::CheckOk(auth::CheckClaims(*c, kWant, kNow),
                "VerifyAccessToken accepted claims CheckClaims refuses");
  if (c->issuer != kWant.issuer || c->tenant != kWant.tenant ||
      c->subject.empty() || c->expires + kWant.skew_seconds <= kNow ||
      auth::AccessTokenLifetime(*c) > kWant.max_lifetime_seconds) {
    fuzz::Mismatch("VerifyAccessToken accepted claims outside the requirements");
  }
  return 0;
}
