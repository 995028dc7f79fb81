// Secure Key Release in the vault: Azure's export rules on create, import
// and update, and the release itself with a software custody.
#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/error_code.h"
#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "release/testing.h"
#include "vault/key_vault.h"
#include "vault/testing.h"

namespace keyferry::vault {
namespace {

using json = nlohmann::json;
using release::test_support::TestIssuer;
using release::test_support::WrappingJwk;
using ::testing::HasSubstr;

constexpr char kIss[] = "https://attest.test/";
constexpr char kVault[] = "myvault";

std::string PolicyText(const std::string& claim_value = "true") {
  return json::parse(R"({"anyOf":[{"allOf":[{"claim":"sdk-test","equals":)" +
                     claim_value + R"(}],"authority":")" + kIss +
                     R"("}],"version":"1.0.0"})")
      .dump();
}

class ReleaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_, TestVault::New([this] { return now_; }));
    vault_ = &t_->vault();
    ASSERT_OK(trusted_.Add(kIss, issuer_.Jwks()));
    ASSERT_OK_AND_ASSIGN(wrapping_, crypto::GenerateRsa(2048));
  }

  static KeyProperties Exportable(bool immutable = false) {
    KeyProperties p;
    p.exportable = true;
    p.release_policy =
        ReleasePolicyInput{std::nullopt, PolicyText(), immutable};
    return p;
  }
  absl::StatusOr<store::KeyVersion> Create(std::string_view name, Kty kty,
                                           KeyProperties p) {
    CreateKeyRequest r;
    r.kty = kty;
    r.properties = std::move(p);
    return vault_->Create(kVault, name, r);
  }
  json Claims() const {
    return json{{"iss", kIss},
                {"exp", now_ + 300},
                {"sdk-test", true},
                {"x-ms-runtime",
                 {{"keys", json::array({WrappingJwk(wrapping_.get())})},
                  {"client-payload", {{"nonce", "MTIzNA=="}}}}}};
  }
  ReleaseRequest Request(const json& claims) const {
    ReleaseRequest r;
    r.target = issuer_.Mint(claims);
    return r;
  }
  // Opened is the released key material, unwrapped as Azure's sample
  // clients do: split key_hsm's ciphertext at the wrapping modulus.
  SecretBytes Opened(const Released& r, crypto::OaepHash hash) const {
    absl::StatusOr<std::vector<uint8_t>> raw = Base64UrlDecode(r.key_hsm);
    EXPECT_OK(raw);
    json env = json::parse(AsString(*raw));
    EXPECT_EQ(env["schema_version"], "1.0");
    EXPECT_EQ(env["header"]["alg"], "dir");
    EXPECT_EQ(env["header"]["kid"], "TpmEphemeralEncryptionKey");
    absl::StatusOr<std::vector<uint8_t>> ct =
        Base64UrlDecode(env["ciphertext"].get<std::string>());
    EXPECT_OK(ct);
    absl::StatusOr<SecretBytes> plain =
        byok::UnwrapWithKek(wrapping_.get(), *ct, hash);
    EXPECT_OK(plain);
    return plain.ok() ? *std::move(plain) : SecretBytes();
  }
  void ExpectForbidden(const absl::StatusOr<Released>& r, const char* why) {
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied));
    EXPECT_THAT(r, StatusHasMessage(why));
  }

  int64_t now_ = 1'800'000'000;
  std::unique_ptr<TestVault> t_;
  KeyVault* vault_ = nullptr;
  TestIssuer issuer_ = TestIssuer::Rsa();
  release::TrustedAuthorities trusted_;
  crypto::EvpPkeyPtr wrapping_;
};

TEST_F(ReleaseTest, FailureExportRulesOnCreateStoreNothing) {
  KeyProperties no_policy;
  no_policy.exportable = true;
  EXPECT_THAT(Create("a", Kty::kRsaHsm, no_policy),
              StatusHasMessage("AKV.SKR.1004: Exportable keys must have "
                               "release policy."));
  KeyProperties policy_only = Exportable();
  policy_only.exportable = std::nullopt;
  EXPECT_THAT(Create("a", Kty::kRsaHsm, policy_only),
              StatusHasMessage("AKV.SKR.1005: Non-exportable keys must not "
                               "have release policy."));
  EXPECT_THAT(Create("a", Kty::kRsa, Exportable()),
              StatusHasMessage("AKV.SKR.1006"));
  KeyProperties bad = Exportable();
  bad.release_policy->data = R"({"version":"1.0.0","anyOf":[]})";
  EXPECT_THAT(Create("a", Kty::kRsaHsm, bad),
              StatusHasMessage("release_policy.data"));
  bad = Exportable();
  bad.release_policy->content_type = "text/plain";
  EXPECT_THAT(Create("a", Kty::kRsaHsm, bad),
              StatusHasMessage("release_policy.contentType"));
  EXPECT_THAT(vault_->Get(kVault, "a", ""),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(ReleaseTest, PolicyIsStoredAsKeyVaultReserialisesIt) {
  ASSERT_OK_AND_ASSIGN(store::KeyVersion k,
                       Create("k", Kty::kRsaHsm, Exportable(true)));
  EXPECT_TRUE(k.exportable);
  json record = json::parse(k.release_policy);
  EXPECT_EQ(record["contentType"], "application/json; charset=utf-8");
  EXPECT_EQ(record["immutable"], true);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> data,
                       Base64UrlDecode(record["data"].get<std::string>()));
  EXPECT_EQ(AsString(data),
            std::string(R"({"version":"1.0.0","anyOf":[{"authority":")") +
                kIss + R"(","allOf":[{"claim":"sdk-test","equals":true}]}]})");
  // Authenticated like every other field: it survives a read.
  ASSERT_OK_AND_ASSIGN(store::KeyVersion again, vault_->Get(kVault, "k", ""));
  EXPECT_EQ(again.release_policy, k.release_policy);
}

TEST_F(ReleaseTest, ReleasesRsaAsPkcs8ToTheTokensKey) {
  ASSERT_OK_AND_ASSIGN(store::KeyVersion k,
                       Create("k", Kty::kRsaHsm, Exportable()));
  ReleaseRequest req = Request(Claims());
  req.enc = release::ReleaseEnc::kRsaAesKeyWrap256;
  ASSERT_OK_AND_ASSIGN(Released r,
                       vault_->Release(kVault, "k", "", trusted_, req));
  EXPECT_EQ(r.key.version, k.version);
  EXPECT_EQ(r.issuer, kIss);
  SecretBytes p8 = Opened(r, crypto::OaepHash::kSha256);
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr priv,
                       crypto::ParsePkcs8Der(p8, false));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(k.public_jwk)));
  EXPECT_TRUE(crypto::PublicKeysEqual(priv.get(), pub.get()));
  // A signature of the vault verifies under the released key.
  const std::vector<uint8_t> digest(32, 9);
  ASSERT_OK_AND_ASSIGN(
      auto signed_,
      vault_->Sign(kVault, "k", "", crypto::SignAlg::kPs256, digest));
  ASSERT_OK_AND_ASSIGN(
      bool ok, crypto::VerifyDigest(priv.get(), crypto::SignAlg::kPs256, digest,
                                    signed_.second));
  EXPECT_TRUE(ok);
}

TEST_F(ReleaseTest, ReleasesEcAndOct) {
  ASSERT_OK(Create("ec", Kty::kEcHsm, Exportable()).status());
  ASSERT_OK_AND_ASSIGN(Released ec, vault_->Release(kVault, "ec", "", trusted_,
                                                    Request(Claims())));
  SecretBytes p8 = Opened(ec, crypto::OaepHash::kSha1);
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr priv,
                       crypto::ParsePkcs8Der(p8, false));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(ec.key.public_jwk)));
  EXPECT_TRUE(crypto::PublicKeysEqual(priv.get(), pub.get()));

  ASSERT_OK(Create("oct", Kty::kOctHsm, Exportable()).status());
  ReleaseRequest req = Request(Claims());
  req.enc = release::ReleaseEnc::kRsaAesKeyWrap384;
  ASSERT_OK_AND_ASSIGN(Released oct,
                       vault_->Release(kVault, "oct", "", trusted_, req));
  SecretBytes aes = Opened(oct, crypto::OaepHash::kSha384);
  ASSERT_EQ(aes.size(), 32u);
  // What the vault wraps with the key, the released bytes unwrap.
  custody::CipherInput in;
  in.alg = custody::CipherAlg::kA256Kw;
  in.value = std::vector<uint8_t>(32, 0x42);
  ASSERT_OK_AND_ASSIGN(auto wrapped,
                       vault_->Cipher(kVault, "oct", "", KeyOp::kWrapKey, in));
  ASSERT_OK_AND_ASSIGN(SecretBytes back,
                       crypto::KwUnwrap(aes, wrapped.second.value));
  EXPECT_TRUE(back.ConstantTimeEquals(SecretBytes(in.value)));
}

TEST_F(ReleaseTest, FailureRefusalsReleaseNothing) {
  ASSERT_OK(Create("k", Kty::kRsaHsm, Exportable()).status());
  CreateKeyRequest plain;
  plain.kty = Kty::kRsaHsm;
  ASSERT_OK(vault_->Create(kVault, "plain", plain).status());
  ExpectForbidden(
      vault_->Release(kVault, "plain", "", trusted_, Request(Claims())),
      "is not exportable");
  json c = Claims();
  c["sdk-test"] = false;
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, Request(c)),
                  "does not satisfy the key's release policy");
  c = Claims();
  c.erase("sdk-test");
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, Request(c)),
                  "claim \"sdk-test\" is missing");
  c = Claims();
  c["iss"] = "https://other.test/";
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, Request(c)),
                  "not a trusted attestation authority");
  c = Claims();
  c["exp"] = now_ - 3600;
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, Request(c)),
                  "expired");
  TestIssuer impostor = TestIssuer::Rsa(issuer_.kid);
  ReleaseRequest forged;
  forged.target = impostor.Mint(Claims());
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, forged),
                  "signature does not verify");
  // A second authority trusted by keyferryd but not named by the policy.
  TestIssuer other = TestIssuer::Rsa("o");
  ASSERT_OK(trusted_.Add("https://other.test/", other.Jwks()));
  c = Claims();
  c["iss"] = "https://other.test/";
  ReleaseRequest by_other;
  by_other.target = other.Mint(c);
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, by_other),
                  "issuer is not an authority of the policy");
}

TEST_F(ReleaseTest, NonceMustBeTheTokens) {
  ASSERT_OK(Create("k", Kty::kRsaHsm, Exportable()).status());
  ReleaseRequest r = Request(Claims());
  r.nonce = "5678";
  ExpectForbidden(vault_->Release(kVault, "k", "", trusted_, r), "nonce");
  r.nonce = "1234";  // x-ms-runtime.client-payload.nonce is base64 of it
  EXPECT_OK(vault_->Release(kVault, "k", "", trusted_, r).status());
  r.nonce = "MTIzNA==";
  EXPECT_OK(vault_->Release(kVault, "k", "", trusted_, r).status());
}

TEST_F(ReleaseTest, FailureDisabledKey) {
  ASSERT_OK(Create("k", Kty::kRsaHsm, Exportable()).status());
  KeyProperties off;
  off.enabled = false;
  ASSERT_OK(vault_->Update(kVault, "k", "", off).status());
  absl::StatusOr<Released> r =
      vault_->Release(kVault, "k", "", trusted_, Request(Claims()));
  ExpectForbidden(r, "disabled");
  EXPECT_EQ(GetErrorCode(r.status())->inner_code, "KeyDisabled");
}

TEST_F(ReleaseTest, UpdateRules) {
  ASSERT_OK(Create("m", Kty::kRsaHsm, Exportable()).status());
  ASSERT_OK(Create("i", Kty::kRsaHsm, Exportable(true)).status());
  CreateKeyRequest plain;
  plain.kty = Kty::kEcHsm;
  ASSERT_OK(vault_->Create(kVault, "plain", plain).status());
  KeyProperties flip;
  flip.exportable = false;
  EXPECT_THAT(vault_->Update(kVault, "m", "", flip),
              StatusHasMessage("AKV.SKR.1014"));
  flip.exportable = true;
  EXPECT_THAT(vault_->Update(kVault, "plain", "", flip),
              StatusHasMessage("AKV.SKR.1014"));
  KeyProperties policy;
  policy.release_policy = ReleasePolicyInput{std::nullopt, PolicyText("false")};
  EXPECT_THAT(vault_->Update(kVault, "plain", "", policy),
              StatusHasMessage("AKV.SKR.1005"));
  EXPECT_THAT(
      vault_->Update(kVault, "i", "", policy),
      StatusHasMessage(
          "AKV.SKR.1020: Immutable Key Release Policy cannot be modified."));
  // The mutable one changes, and the new policy decides.
  ASSERT_OK(vault_->Update(kVault, "m", "", policy).status());
  ExpectForbidden(vault_->Release(kVault, "m", "", trusted_, Request(Claims())),
                  "does not satisfy");
  json c = Claims();
  c["sdk-test"] = false;
  EXPECT_OK(vault_->Release(kVault, "m", "", trusted_, Request(c)).status());
  // Once immutable, never again.
  policy.release_policy->immutable = true;
  ASSERT_OK(vault_->Update(kVault, "m", "", policy).status());
  EXPECT_THAT(vault_->Update(kVault, "m", "", policy),
              StatusHasMessage("AKV.SKR.1020"));
}

TEST_F(ReleaseTest, RotateAndBackupKeepExportableAndPolicy) {
  ASSERT_OK_AND_ASSIGN(store::KeyVersion k,
                       Create("k", Kty::kEcHsm, Exportable(true)));
  ASSERT_OK_AND_ASSIGN(store::KeyVersion v2, vault_->Rotate(kVault, "k"));
  EXPECT_NE(v2.version, k.version);
  EXPECT_TRUE(v2.exportable);
  EXPECT_EQ(v2.release_policy, k.release_policy);
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> backup,
                       vault_->Backup(kVault, "k"));
  ASSERT_OK(vault_->Delete(kVault, "k").status());
  ASSERT_OK(vault_->Purge(kVault, "k"));
  ASSERT_OK_AND_ASSIGN(store::KeyVersion restored,
                       vault_->Restore(kVault, backup));
  EXPECT_TRUE(restored.exportable);
  EXPECT_EQ(restored.release_policy, k.release_policy);
  EXPECT_OK(vault_->Release(kVault, "k", k.version, trusted_, Request(Claims()))
                .status());
}

TEST(ReleasePolicyRecordTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(std::string rec,
                       ReleasePolicyRecord({std::nullopt, PolicyText(), true}));
  std::optional<ReleasePolicyInput> back = ReleasePolicyInputOf(rec);
  ASSERT_TRUE(back.has_value());
  EXPECT_TRUE(back->immutable);
  EXPECT_TRUE(ReleasePolicyImmutable(rec));
  ASSERT_OK_AND_ASSIGN(std::string again, ReleasePolicyRecord(*back));
  EXPECT_EQ(again, rec);
  EXPECT_FALSE(ReleasePolicyInputOf("").has_value());
  EXPECT_FALSE(ReleasePolicyImmutable(""));
}

}  // namespace
}  // namespace keyferry::vault
