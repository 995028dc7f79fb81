#include "server/preload.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/ssl_ptr.h"
#include "vault/testing.h"

namespace keyferry::server {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// CodeAndMessage matches a Status with code `code` whose message `m`
// matches.
MATCHER_P2(CodeAndMessage, code, m, "") {
  *result_listener << "status " << arg;
  return arg.code() == code &&
         ::testing::Matches(m)(std::string(arg.message()));
}

// Member is the big-number parameter `param` of `key` as base64url.
std::string Member(EVP_PKEY* key, const char* param) {
  BIGNUM* raw = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, param, &raw), 1) << param;
  crypto::BnPtr bn(raw);
  std::vector<uint8_t> bytes(static_cast<size_t>(BN_num_bytes(bn.get())));
  BN_bn2bin(bn.get(), bytes.data());
  return Base64UrlEncode(bytes);
}

json RsaJwk() {
  absl::StatusOr<crypto::EvpPkeyPtr> k = crypto::GenerateRsa(2048);
  EXPECT_OK(k.status());
  EVP_PKEY* p = k->get();
  return {{"kty", "RSA"},
          {"n", Member(p, OSSL_PKEY_PARAM_RSA_N)},
          {"e", Member(p, OSSL_PKEY_PARAM_RSA_E)},
          {"d", Member(p, OSSL_PKEY_PARAM_RSA_D)},
          {"p", Member(p, OSSL_PKEY_PARAM_RSA_FACTOR1)},
          {"q", Member(p, OSSL_PKEY_PARAM_RSA_FACTOR2)},
          {"dp", Member(p, OSSL_PKEY_PARAM_RSA_EXPONENT1)},
          {"dq", Member(p, OSSL_PKEY_PARAM_RSA_EXPONENT2)},
          {"qi", Member(p, OSSL_PKEY_PARAM_RSA_COEFFICIENT1)}};
}

constexpr char kOctK[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

json OctEntry(const std::string& name, json tags = json::object()) {
  return {
      {"vault", "myvault"},
      {"name", name},
      {"import", {{"key", {{"kty", "oct"}, {"k", kOctK}}}, {"tags", tags}}}};
}

class PreloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_, vault::TestVault::New(vault::SystemClock));
    target_.vaults = {"myvault", "other"};
    target_.port = 8443;
    const uint8_t secret[] = {'d', 'e', 'p', 'l', 'o', 'y'};
    target_.version_key = SecretBytes(secret);
  }

  // Apply parses `doc` and applies it, collecting the audit records.
  absl::StatusOr<PreloadCounts> Apply(const json& doc) {
    ASSIGN_OR_RETURN(std::vector<PreloadEntry> entries,
                     ParsePreload(doc.dump(2), t_->dir(), target_));
    return ApplyPreload(t_->vault(), std::move(entries), target_,
                        [this](audit::Record r) {
                          records_.push_back(std::move(r));
                          return absl::OkStatus();
                        });
  }

  absl::Status ParseError(const std::string& text) {
    return ParsePreload(text, t_->dir(), target_).status();
  }

  size_t Versions(const std::string& name) {
    auto page = t_->vault().ListVersions("myvault", name, "", 25);
    EXPECT_OK(page.status());
    return page.ok() ? page->items.size() : 0;
  }

  std::unique_ptr<vault::TestVault> t_;
  PreloadTarget target_;
  std::vector<audit::Record> records_;
};

TEST_F(PreloadTest, PreloadTwiceGivesTheSameKeys) {
  json doc = json::array(
      {{{"vault", "myvault"}, {"name", "rsa"}, {"import", {{"key", RsaJwk()}}}},
       OctEntry("aes")});
  ASSERT_OK_AND_ASSIGN(PreloadCounts first, Apply(doc));
  EXPECT_EQ(first.imported, 2);
  EXPECT_EQ(first.present, 0);
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[0].principal, "preload");
  EXPECT_EQ(records_[0].operation, "import (preload)");
  EXPECT_EQ(records_[0].status, 200);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion rsa1,
                       t_->vault().Get("myvault", "rsa", ""));
  ASSERT_OK_AND_ASSIGN(store::KeyVersion aes1,
                       t_->vault().Get("myvault", "aes", ""));
  EXPECT_EQ(rsa1.version, records_[0].version);

  ASSERT_OK_AND_ASSIGN(PreloadCounts second, Apply(doc));
  EXPECT_EQ(second.imported, 0);
  EXPECT_EQ(second.present, 2);
  EXPECT_EQ(records_.size(), 2u);  // nothing done, nothing recorded
  ASSERT_OK_AND_ASSIGN(store::KeyVersion rsa2,
                       t_->vault().Get("myvault", "rsa", ""));
  ASSERT_OK_AND_ASSIGN(store::KeyVersion aes2,
                       t_->vault().Get("myvault", "aes", ""));
  EXPECT_EQ(rsa2.version, rsa1.version);
  EXPECT_EQ(aes2.version, aes1.version);
  EXPECT_EQ(rsa2.updated, rsa1.updated);
  EXPECT_EQ(Versions("rsa"), 1u);
  EXPECT_EQ(Versions("aes"), 1u);
}

TEST_F(PreloadTest, VersionIgnoresLayoutButNotContent) {
  const std::string a =
      R"([{"vault":"myvault","name":"aes","import":{"key":{"kty":"oct","k":")" +
      std::string(kOctK) + R"("}}}])";
  const std::string b =
      "[ {\"import\": {\"key\": {\"k\": \"" + std::string(kOctK) +
      "\", \"kty\": \"oct\"}},\n  \"name\": \"aes\", \"vault\": \"myvault\"} ]";
  ASSERT_OK_AND_ASSIGN(auto ea, ParsePreload(a, t_->dir(), target_));
  ASSERT_OK_AND_ASSIGN(auto eb, ParsePreload(b, t_->dir(), target_));
  ASSERT_TRUE(ea[0].import && eb[0].import);
  EXPECT_EQ(ea[0].entry_digest, eb[0].entry_digest);
  const SecretBytes& key = target_.version_key;
  ASSERT_OK_AND_ASSIGN(
      std::string v, PreloadVersion(key, "myvault", "aes", ea[0].entry_digest));
  EXPECT_EQ(v.size(), 32u);
  EXPECT_OK(vault::ValidateVersion(v));
  const std::vector<uint8_t> x = {1}, y = {2};
  auto version = [](const SecretBytes& k, std::string_view vault,
                    std::string_view name, const std::vector<uint8_t>& d) {
    return PreloadVersion(k, vault, name, d).value_or("");
  };
  EXPECT_NE(version(key, "myvault", "aes", x),
            version(key, "myvault", "aes", y));
  EXPECT_NE(version(key, "myvault", "aes", x), version(key, "other", "aes", x));
  EXPECT_EQ(version(key, "myvault", "AES", x),
            version(key, "myvault", "aes", x));
  // Keyed: another deployment's secret gives another id for the same entry.
  const uint8_t other_key[] = {'o', 't', 'h', 'e', 'r'};
  EXPECT_NE(version(SecretBytes(other_key), "myvault", "aes", x),
            version(key, "myvault", "aes", x));
  EXPECT_FALSE(PreloadVersion(SecretBytes(), "myvault", "aes", x).ok());
}

TEST_F(PreloadTest, ChangedEntryAddsAVersionAndRevertingAddsNone) {
  ASSERT_OK(Apply(json::array({OctEntry("aes")})).status());
  ASSERT_OK_AND_ASSIGN(store::KeyVersion v1,
                       t_->vault().Get("myvault", "aes", ""));
  ASSERT_OK_AND_ASSIGN(PreloadCounts n,
                       Apply(json::array({OctEntry("aes", {{"t", "2"}})})));
  EXPECT_EQ(n.imported, 1);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion v2,
                       t_->vault().Get("myvault", "aes", ""));
  EXPECT_NE(v2.version, v1.version);
  EXPECT_EQ(v2.tags_json, R"({"t":"2"})");
  ASSERT_OK_AND_ASSIGN(n, Apply(json::array({OctEntry("aes")})));
  EXPECT_EQ(n.present, 1);
  EXPECT_EQ(Versions("aes"), 2u);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion latest,
                       t_->vault().Get("myvault", "aes", ""));
  EXPECT_EQ(latest.version, v2.version);
}

TEST_F(PreloadTest, FailureBadFilesNameTheEntry) {
  EXPECT_THAT(ParseError("[{"),
              CodeAndMessage(absl::StatusCode::kInvalidArgument,
                             HasSubstr("not valid JSON")));
  EXPECT_THAT(ParseError("{}"),
              CodeAndMessage(absl::StatusCode::kInvalidArgument,
                             HasSubstr("must be a JSON array")));
  json good = OctEntry("aes");
  json unknown_kty = OctEntry("bad");
  unknown_kty["import"]["key"]["kty"] = "DSA";
  EXPECT_THAT(ParseError(json::array({good, unknown_kty}).dump()),
              CodeAndMessage(absl::StatusCode::kInvalidArgument,
                             StartsWith("entry 2 (myvault/bad): ")));
  json typo = OctEntry("aes");
  typo["improt"] = json::object();
  EXPECT_THAT(
      ParseError(json::array({typo}).dump()),
      CodeAndMessage(absl::StatusCode::kInvalidArgument,
                     HasSubstr("entry 1 (myvault/aes): no member \"improt\"")));
  json foreign = OctEntry("aes");
  foreign["vault"] = "nosuch";
  EXPECT_THAT(
      ParseError(json::array({foreign}).dump()),
      CodeAndMessage(absl::StatusCode::kInvalidArgument,
                     HasSubstr("vault nosuch is not one keyferryd serves")));
  json both = OctEntry("aes");
  both["create_kek"] = json::object();
  EXPECT_THAT(
      ParseError(json::array({both}).dump()),
      CodeAndMessage(absl::StatusCode::kInvalidArgument,
                     HasSubstr("exactly one of import and create_kek")));
  json no_name = OctEntry("aes");
  no_name.erase("name");
  EXPECT_THAT(
      ParseError(json::array({no_name}).dump()),
      CodeAndMessage(absl::StatusCode::kInvalidArgument,
                     HasSubstr("entry 1 (myvault/): The property \"name\"")));
  json no_blob = OctEntry("byok");
  no_blob["import"]["key"] = {{"kty", "RSA-HSM"}};
  no_blob["byok_file"] = "missing.byok";
  EXPECT_THAT(ParseError(json::array({no_blob}).dump()),
              CodeAndMessage(absl::StatusCode::kInvalidArgument,
                             HasSubstr("byok_file")));
  json kek_import = OctEntry("kek");
  kek_import["import"]["key"] = RsaJwk();
  kek_import["import"]["key"]["key_ops"] = {"import"};
  // Refused (by the reader or the vault): nothing of the file leaks.
  absl::Status s = Apply(json::array({kek_import})).status();
  EXPECT_THAT(s, CodeAndMessage(absl::StatusCode::kInvalidArgument,
                                HasSubstr("entry 1 (myvault/kek): ")));
  EXPECT_THAT(
      std::string(s.message()),
      Not(HasSubstr(
          kek_import["import"]["key"]["d"].get<std::string>().substr(0, 16))));
}

TEST_F(PreloadTest, FailureStopsAtTheEntryAndKeepsTheOnesBefore) {
  ASSERT_OK(t_->vault()
                .Import("myvault", "gone",
                        [] {
                          vault::ImportKeyRequest r;
                          r.kty = vault::Kty::kOct;
                          r.secret = SecretBytes(std::vector<uint8_t>(16, 1));
                          return r;
                        }())
                .status());
  ASSERT_OK(t_->vault().Delete("myvault", "gone").status());
  absl::Status s =
      Apply(json::array({OctEntry("aes"), OctEntry("gone"), OctEntry("after")}))
          .status();
  EXPECT_THAT(s, CodeAndMessage(absl::StatusCode::kFailedPrecondition,
                                StartsWith("entry 2 (myvault/gone): ")));
  EXPECT_EQ(Versions("aes"), 1u);
  EXPECT_THAT(t_->vault().Get("myvault", "after", "").status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(records_.size(), 2u);
  EXPECT_EQ(records_[1].key, "gone");
  EXPECT_EQ(records_[1].status, 409);
}

TEST_F(PreloadTest, KekIsCreatedOnceAndItsPemWritten) {
  json kek = {{"vault", "myvault"},
              {"name", "kek"},
              {"create_kek", {{"key_size", 3072}, {"public_pem", "kek.pem"}}}};
  ASSERT_OK_AND_ASSIGN(PreloadCounts n, Apply(json::array({kek})));
  EXPECT_EQ(n.created, 1);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion k,
                       t_->vault().Get("myvault", "kek", ""));
  EXPECT_EQ(k.kty, "RSA-HSM");
  EXPECT_EQ(k.bits, 3072);
  EXPECT_EQ(k.key_ops, std::vector<std::string>{"import"});
  const std::string pem_path = t_->dir() + "/kek.pem";
  ASSERT_OK_AND_ASSIGN(std::string pem, ReadFile(pem_path));
  ASSERT_OK_AND_ASSIGN(
      crypto::EvpPkeyPtr from_pem,
      crypto::ParsePublicKey(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(pem.data()), pem.size())));
  ASSERT_OK_AND_ASSIGN(
      crypto::EvpPkeyPtr from_jwk,
      crypto::ParsePublicKey(std::span<const uint8_t>(
          reinterpret_cast<const uint8_t*>(k.public_jwk.data()),
          k.public_jwk.size())));
  EXPECT_EQ(EVP_PKEY_eq(from_pem.get(), from_jwk.get()), 1);
  std::filesystem::remove(pem_path);

  ASSERT_OK_AND_ASSIGN(n, Apply(json::array({kek})));
  EXPECT_EQ(n.created, 0);
  EXPECT_EQ(n.kek_present, 1);
  EXPECT_EQ(Versions("kek"), 1u);
  EXPECT_TRUE(std::filesystem::exists(pem_path));  // written again

  ASSERT_OK(Apply(json::array({OctEntry("aes")})).status());
  json not_kek = kek;
  not_kek["name"] = "aes";
  EXPECT_THAT(Apply(json::array({not_kek})).status(),
              CodeAndMessage(absl::StatusCode::kInvalidArgument,
                             HasSubstr("not a key exchange key")));
}

TEST_F(PreloadTest, FailureFileReadableByOthers) {
  const std::string path = t_->dir() + "/keys.json";
  {
    std::ofstream f(path);
    f << json::array({OctEntry("aes")}).dump();
  }
  auto run = [&]() -> absl::StatusOr<PreloadCounts> {
    ASSIGN_OR_RETURN(std::vector<PreloadEntry> entries,
                     LoadPreload(path, target_));
    return RunPreload(path, std::move(entries), t_->vault(), target_,
                      [](audit::Record) { return absl::OkStatus(); });
  };
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  EXPECT_THAT(run().status(),
              CodeAndMessage(absl::StatusCode::kPermissionDenied,
                             StartsWith("preload " + path + ": ")));
  EXPECT_THAT(t_->vault().Get("myvault", "aes", "").status(),
              StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  ASSERT_OK_AND_ASSIGN(PreloadCounts n, run());
  EXPECT_EQ(n.imported, 1);
}

}  // namespace
}  // namespace keyferry::server
