// Test support for the keys API: a KeysApi over a real vault (SQLite store
// in a temporary directory, software custody under a random master key,
// vault/testing.h), tokens signed by a generated P-256 key, and requests
// made by hand (no transport). Header-only; for tests.
//
// Vaults "myvault" and "othervault"; grants: officer, user, encuser,
// releaser and reader hold Crypto Officer, Crypto User, Crypto Service
// Encryption User, Crypto Service Release User and Reader on every vault;
// "elsewhere" is Crypto Officer on othervault only; "nobody" has no grant.
// Secure Key Release trusts one attestation authority, kAttestIssuer, whose
// tokens `attest_` mints; results are signed with the key of `tls_pem`, a
// self-signed EC P-256 certificate standing for the vault's TLS one.
#ifndef KEYFERRY_HTTP_KEYS_API_TESTING_H_
#define KEYFERRY_HTTP_KEYS_API_TESTING_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "auth/jwt.h"
#include "base/strings.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "http/keys_api.h"
#include "release/testing.h"
#include "vault/testing.h"

namespace keyferry::http {

class KeysApiFixture : public ::testing::Test {
 protected:
  static constexpr int64_t kNow = 1'800'000'000;
  static constexpr char kResource[] = "https://localhost:8443";
  static constexpr char kIssuer[] = "https://localhost:8443/identity";
  static constexpr char kTenant[] = "tenant-1";

  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_, vault::TestVault::New([] { return kNow; }));
    ASSERT_OK_AND_ASSIGN(key_, crypto::GenerateEc(crypto::Curve::kP256));
    KeysApiOptions o;
    o.vaults = {"myvault", "othervault"};
    o.tenant = kTenant;
    o.token_key = key_.get();
    o.token_issuer = kIssuer;
    o.token_max_lifetime = 86400;
    o.subscription_id = "sub-1";
    o.clock = [] { return kNow; };
    auto trusted = std::make_shared<release::TrustedAuthorities>();
    ASSERT_OK(trusted->Add(kAttestIssuer, attest_.Jwks()));
    o.release_authorities = std::move(trusted);
    ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr tls_key,
                         crypto::GenerateEc(crypto::Curve::kP256));
    crypto::CertificateFields f{.organization = "keyferry test",
                                .common_name = "myvault.localhost",
                                .days = 30};
    const std::vector<std::string> names{"localhost"};
    ASSERT_OK_AND_ASSIGN(crypto::Certificate cert,
                         crypto::NewConstrainedCa(tls_key.get(), f, names));
    ASSERT_OK_AND_ASSIGN(tls_pem_, cert.ToPem());
    ASSERT_OK_AND_ASSIGN(tls_public_, crypto::PublicKeyOf(tls_key.get()));
    ASSERT_OK_AND_ASSIGN(o.release_signer, release::ReleaseSigner::New(
                                               tls_pem_, std::move(tls_key)));
    for (const char* g :
         {"officer:*:crypto-officer", "user:*:crypto-user",
          "encuser:*:crypto-service-encryption-user", "reader:*:reader",
          "releaser:*:crypto-service-release-user",
          "elsewhere:othervault:crypto-officer"}) {
      ASSERT_OK_AND_ASSIGN(Grant grant, ParseGrant(g));
      o.grants.push_back(grant);
    }
    Configure(o);
    ASSERT_OK_AND_ASSIGN(api_, KeysApi::New(std::move(o), &t_->vault()));
  }
  // Configure may change the options before the API is made.
  virtual void Configure(KeysApiOptions& options) { (void)options; }
  void TearDown() override {
    api_.reset();
    t_.reset();
  }

  // Token is a good token for `principal` (audience: kResource).
  std::string Token(std::string_view principal) {
    auth::Claims c{
        kIssuer,    std::string(principal), kResource, kTenant, kNow, kNow,
        kNow + 3600};
    absl::StatusOr<std::string> t = auth::IssueAccessToken(key_.get(), "k1", c);
    EXPECT_OK(t);
    return t.value_or("");
  }

  // Send answers `method` `target` on `host`:8443 with `body`, as
  // `principal` (no Authorization header when empty).
  Response Send(std::string_view method, std::string_view target,
                std::string_view body = "",
                std::string_view principal = "officer",
                std::string_view host = "myvault.localhost") {
    Request r;
    r.method = std::string(method);
    r.target = std::string(target);
    EXPECT_OK(ParseTarget(r.target, r));
    r.host = std::string(host);
    r.host_port = 8443;
    r.headers.Add("Host", absl::StrCat(Sv(host), ":8443"));
    if (!principal.empty()) {
      r.headers.Add("Authorization", absl::StrCat("Bearer ", Token(principal)));
    }
    r.body = std::string(body);
    return api_->Handle(r);
  }

  static constexpr char kAttestIssuer[] = "https://attest.localhost/";
  std::unique_ptr<vault::TestVault> t_;
  crypto::EvpPkeyPtr key_;
  release::test_support::TestIssuer attest_ =
      release::test_support::TestIssuer::Ec();
  std::string tls_pem_;
  crypto::EvpPkeyPtr tls_public_;
  std::unique_ptr<KeysApi> api_;
};

}  // namespace keyferry::http

#endif  // KEYFERRY_HTTP_KEYS_API_TESTING_H_
