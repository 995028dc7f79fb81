// Secure Key Release through the keys API: release_policy on create,
// update and read, POST …/release in Azure's shape, its RBAC and refusals.
#include <nlohmann/json.hpp>

#include "absl/strings/str_split.h"
#include "base/encoding.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/x509.h"
#include "http/keys_api_testing.h"

namespace keyferry::http {
namespace {

using json = nlohmann::json;
using release::test_support::WrappingJwk;
using ::testing::HasSubstr;

std::string PolicyB64(const std::string& authority, const json& equals) {
  json p = {{"version", "1.0.0"},
            {"anyOf",
             {{{"authority", authority},
               {"anyOf",
                {{{"claim", "x-ms-attestation-type"}, {"equals", equals}}}}}}}};
  return Base64UrlEncode(AsBytes(p.dump()));
}

class ReleaseApiTest : public KeysApiFixture {
 protected:
  void SetUp() override {
    KeysApiFixture::SetUp();
    ASSERT_OK_AND_ASSIGN(wrapping_, crypto::GenerateRsa(2048));
  }
  Response CreateExportable(const std::string& name, bool immutable = false,
                            const char* api = "7.4") {
    json body = {{"kty", "EC-HSM"},
                 {"attributes", {{"exportable", true}}},
                 {"release_policy",
                  {{"immutable", immutable},
                   {"data", PolicyB64(kAttestIssuer, "sevsnpvm")}}}};
    return Send("POST",
                absl::StrCat("/keys/", name, "/create?api-version=", api),
                body.dump());
  }
  json Claims(const std::string& type = "sevsnpvm") const {
    return json{{"iss", kAttestIssuer},
                {"exp", kNow + 600},
                {"x-ms-attestation-type", type},
                {"x-ms-runtime",
                 {{"keys", json::array({WrappingJwk(wrapping_.get())})}}}};
  }
  Response Release(const std::string& path, const json& body,
                   std::string_view principal = "releaser") {
    return Send("POST", absl::StrCat(path, "?api-version=7.4"), body.dump(),
                principal);
  }
  static std::string Message(const Response& r) {
    return json::parse(r.body)["error"]["message"].get<std::string>();
  }
  crypto::EvpPkeyPtr wrapping_;
};

TEST_F(ReleaseApiTest, CreateShowsExportableAndPolicy) {
  Response r = CreateExportable("k", true);
  ASSERT_EQ(r.status, 200) << r.body;
  json b = json::parse(r.body);
  EXPECT_EQ(b["attributes"]["exportable"], true);
  EXPECT_EQ(b["release_policy"]["immutable"], true);
  EXPECT_EQ(b["release_policy"]["contentType"],
            "application/json; charset=utf-8");
  json policy = json::parse(AsString(
      *Base64UrlDecode(b["release_policy"]["data"].get<std::string>())));
  EXPECT_EQ(policy["anyOf"][0]["anyOf"][0]["equals"], "sevsnpvm");
  // Older api-versions show neither.
  Response old = Send("GET", "/keys/k?api-version=7.2");
  EXPECT_FALSE(json::parse(old.body).contains("release_policy"));
}

TEST_F(ReleaseApiTest, FailureBelowApiVersion73) {
  Response r = CreateExportable("k", false, "7.2");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(Message(r), HasSubstr("AKV.SKR.1001"));
  Response rel = Send("POST", "/keys/k/release?api-version=7.2",
                      R"({"target":"x"})", "releaser");
  EXPECT_EQ(rel.status, 400);
}

TEST_F(ReleaseApiTest, ReleaseAnswersAJwsSignedByTheVaultCertificate) {
  ASSERT_EQ(CreateExportable("k").status, 200);
  Response r = Release("/keys/k//release", {{"target", attest_.Mint(Claims())},
                                            {"nonce", nullptr}});
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string jws = json::parse(r.body)["value"].get<std::string>();
  std::vector<std::string> parts = absl::StrSplit(jws, '.');
  ASSERT_EQ(parts.size(), 3u);
  json h = json::parse(AsString(*Base64UrlDecode(parts[0])));
  ASSERT_OK_AND_ASSIGN(auto chain, crypto::PemChainToDer(tls_pem_));
  EXPECT_EQ(h["x5c"][0], Base64Encode(chain[0]));
  EXPECT_EQ(h["alg"], "ES256");
  const std::string in = parts[0] + "." + parts[1];
  ASSERT_OK_AND_ASSIGN(
      bool signed_ok,
      crypto::VerifyDigest(tls_public_.get(), crypto::SignAlg::kEs256,
                           crypto::Sha256(AsBytes(in)),
                           *Base64UrlDecode(parts[2])));
  EXPECT_TRUE(signed_ok);
  json p = json::parse(AsString(*Base64UrlDecode(parts[1])));
  EXPECT_EQ(p["request"]["enc"], "CKM_RSA_AES_KEY_WRAP");
  EXPECT_EQ(p["request"]["api-version"], "7.4");
  EXPECT_EQ(p["request"]["kid"], "https://myvault.localhost:8443/keys/k");
  EXPECT_FALSE(p["request"].contains("nonce"));
  const json& key = p["response"]["key"];
  EXPECT_EQ(key["attributes"]["exportable"], true);
  EXPECT_TRUE(key.contains("release_policy"));
  json env = json::parse(
      AsString(*Base64UrlDecode(key["key"]["key_hsm"].get<std::string>())));
  EXPECT_EQ(env["header"]["enc"], "CKM_RSA_AES_KEY_WRAP");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                       Base64UrlDecode(env["ciphertext"].get<std::string>()));
  ASSERT_OK_AND_ASSIGN(
      SecretBytes p8,
      byok::UnwrapWithKek(wrapping_.get(), ct, crypto::OaepHash::kSha1));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr priv,
                       crypto::ParsePkcs8Der(p8, false));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr pub,
                       crypto::ParsePublicKey(AsBytes(key["key"].dump())));
  EXPECT_TRUE(crypto::PublicKeysEqual(priv.get(), pub.get()));
}

TEST_F(ReleaseApiTest, EveryPathFormAndTheNonceEcho) {
  Response c = CreateExportable("k");
  ASSERT_EQ(c.status, 200);
  const std::string kid = json::parse(c.body)["key"]["kid"].get<std::string>();
  const std::string version = kid.substr(kid.rfind('/') + 1);
  json claims = Claims();
  claims["nonce"] = "n-1";
  for (const std::string& path :
       {std::string("/keys/k/release"), std::string("/keys/k//release"),
        absl::StrCat("/keys/k/", version, "/release")}) {
    Response r = Release(path, {{"target", attest_.Mint(claims)},
                                {"nonce", "n-1"},
                                {"enc", "RSA_AES_KEY_WRAP_256"}});
    ASSERT_EQ(r.status, 200) << path << r.body;
    std::vector<std::string> parts =
        absl::StrSplit(json::parse(r.body)["value"].get<std::string>(), '.');
    json p = json::parse(AsString(*Base64UrlDecode(parts[1])));
    EXPECT_EQ(p["request"]["nonce"], "n-1");
    EXPECT_EQ(p["request"]["enc"], "RSA_AES_KEY_WRAP_256");
    EXPECT_EQ(r.audit->operation, "release");
    EXPECT_EQ(r.audit->version, version);
  }
}

TEST_F(ReleaseApiTest, RolesThatMayRelease) {
  ASSERT_EQ(CreateExportable("k").status, 200);
  const json body = {{"target", attest_.Mint(Claims())}};
  EXPECT_EQ(Release("/keys/k/release", body, "officer").status, 200);
  EXPECT_EQ(Release("/keys/k/release", body, "releaser").status, 200);
  for (const char* who : {"user", "encuser", "reader"}) {
    Response r = Release("/keys/k/release", body, who);
    EXPECT_EQ(r.status, 403) << who;
    EXPECT_EQ(r.error_code, "Forbidden") << who;
    EXPECT_THAT(Message(r), HasSubstr("keys/release/action")) << who;
  }
  // The release user may not even read the key.
  EXPECT_EQ(Send("GET", "/keys/k?api-version=7.4", "", "releaser").status, 403);
}

TEST_F(ReleaseApiTest, FailureRefusalsAreForbiddenAndCarryNoKey) {
  ASSERT_EQ(CreateExportable("k").status, 200);
  ASSERT_EQ(
      Send("POST", "/keys/plain/create?api-version=7.4", R"({"kty":"EC-HSM"})")
          .status,
      200);
  struct {
    std::string path;
    json body;
    const char* message;
  } cases[] = {
      {"/keys/plain/release",
       {{"target", attest_.Mint(Claims())}},
       "is not exportable"},
      {"/keys/k/release",
       {{"target", attest_.Mint(Claims("tdx"))}},
       "does not satisfy the key's release policy"},
      {"/keys/k/release",
       {{"target", attest_.Mint(Claims())}, {"nonce", "other"}},
       "nonce"},
      {"/keys/k/release", {{"target", "not.a.token"}}, "compact JWS"},
  };
  for (const auto& c : cases) {
    Response r = Release(c.path, c.body);
    EXPECT_EQ(r.status, 403) << c.message;
    EXPECT_EQ(r.error_code, "Forbidden");
    EXPECT_THAT(Message(r), HasSubstr(c.message));
    EXPECT_EQ(r.body.find("key_hsm"), std::string::npos);
  }
  Response bad = Release("/keys/k/release", {{"target", ""}});
  EXPECT_EQ(bad.status, 400);
  bad = Release("/keys/k/release",
                {{"target", attest_.Mint(Claims())}, {"enc", "RSA-OAEP"}});
  EXPECT_EQ(bad.status, 400);
}

TEST_F(ReleaseApiTest, FailureImmutablePolicyCannotChange) {
  ASSERT_EQ(CreateExportable("k", true).status, 200);
  json patch = {
      {"release_policy", {{"data", PolicyB64(kAttestIssuer, "tdx")}}}};
  Response r = Send("PATCH", "/keys/k?api-version=7.4", patch.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.error_code, "BadParameter");
  EXPECT_EQ(Message(r),
            "AKV.SKR.1020: Immutable Key Release Policy cannot be modified.");
  // The old policy still decides.
  EXPECT_EQ(
      Release("/keys/k/release", {{"target", attest_.Mint(Claims())}}).status,
      200);
}

}  // namespace
}  // namespace keyferry::http
