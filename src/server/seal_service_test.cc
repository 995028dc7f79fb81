#include "server/seal_service.h"

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "seal/shamir.h"

namespace keyferry::server {
namespace {

using json = nlohmann::json;

http::Request Req(std::string method, std::string path, std::string body = "") {
  http::Request r;
  r.method = std::move(method);
  r.target = path;
  r.path_segments = {"sys", path.substr(5)};
  r.body = std::move(body);
  return r;
}

class SealServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(master_, crypto::RandomSecret(32));
    ASSERT_OK_AND_ASSIGN(shares_, seal::Split(master_, 3, 2));
    info_.vault_id = "v1";
    info_.shares = 3;
    info_.threshold = 2;
    ASSERT_OK_AND_ASSIGN(info_.check, seal::KeyCheckValue(master_));
    for (const seal::Share& sh : shares_) {
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> c,
                           seal::ShareCheckValue(info_.vault_id, sh));
      info_.share_checks.push_back(std::move(c));
    }
    MakeService();
  }

  // MakeService (re)creates the service for info_.
  void MakeService() {
    SealServiceOptions o;
    o.info = info_;
    o.custody = &sealed_;
    o.open = [this](SecretBytes m)
        -> absl::StatusOr<std::unique_ptr<custody::Custody>> {
      opened_with_ = m;
      ASSIGN_OR_RETURN(auto sw, custody::SoftwareCustody::New(std::move(m)));
      return std::unique_ptr<custody::Custody>(std::move(sw));
    };
    o.authorize_seal =
        [this](const http::Request&) -> absl::StatusOr<std::string> {
      if (!allow_seal_) return absl::PermissionDeniedError("not an officer");
      return std::string("officer");
    };
    o.save_info = [this](const seal::SealInfo& i) {
      saved_.push_back(i);
      return absl::OkStatus();
    };
    service_ = std::make_unique<SealService>(std::move(o));
  }

  std::string ShareBody(int i, const std::optional<SecretBytes>& pass = {},
                        const char* given_pass = nullptr,
                        const std::string& nonce = "") {
    auto text = seal::EncodeShareFile(shares_[i], info_, pass,
                                      seal::ScryptParams{1024, 8, 1});
    EXPECT_OK(text);
    json b = {{"share", json::parse(*text)}};
    if (given_pass) b["passphrase"] = given_pass;
    if (!nonce.empty()) b["nonce"] = nonce;
    return b.dump();
  }
  // WithNonce is share i's body for the attempt `nonce`.
  std::string WithNonce(int i, const std::string& nonce) {
    return ShareBody(i, {}, nullptr, nonce);
  }
  // BogusBody is a well-formed share file for `index` of this vault's split
  // with made-up bytes: what anyone who can read seal-status can send.
  std::string BogusBody(int index, const std::string& nonce = "",
                        bool reset = false) {
    seal::Share bogus;
    bogus.x = static_cast<uint8_t>(index);
    bogus.y = *crypto::RandomSecret(32);
    json b = {{"share", json::parse(*seal::EncodeShareFile(bogus, info_, {}))}};
    if (!nonce.empty()) b["nonce"] = nonce;
    if (reset) b["reset"] = true;
    return b.dump();
  }
  // Handle answers `r` and keeps the audit note of the answer as an event
  // "operation principal status".
  // Every error answer names its Azure code on the response too (what the
  // audit hook records), the same as in the body.
  http::Response Handle(const http::Request& r) {
    http::Response resp = service_->Handle(r);
    if (resp.status >= 400) {
      json e = json::parse(resp.body);
      EXPECT_EQ(resp.error_code, e["error"]["code"].get<std::string>());
    } else {
      EXPECT_EQ(resp.error_code, "");
    }
    if (resp.audit) {
      events_.push_back(resp.audit->operation + " " + resp.audit->principal +
                        " " + std::to_string(resp.status));
    }
    return resp;
  }
  http::Response Post(const std::string& body) {
    return Handle(Req("POST", "/sys/unseal", body));
  }
  json Status() {
    http::Response r = Handle(Req("GET", "/sys/seal-status"));
    EXPECT_EQ(r.status, 200);
    return json::parse(r.body);
  }

  SecretBytes master_, opened_with_;
  std::vector<seal::Share> shares_;
  seal::SealInfo info_;
  custody::SealedCustody sealed_;
  bool allow_seal_ = true;
  std::vector<std::string> events_;
  std::vector<seal::SealInfo> saved_;
  std::unique_ptr<SealService> service_;
};

TEST_F(SealServiceTest, UnsealWithThresholdSharesThenSeal) {
  EXPECT_EQ(Status()["sealed"], true);
  EXPECT_EQ(Status()["threshold"], 2);
  EXPECT_THAT(sealed_.Generate({custody::KeyKind::kOct, 128, std::nullopt},
                               AsBytes("b")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(Status()["nonce"], "");
  http::Response r1 = Handle(Req("POST", "/sys/unseal", ShareBody(0)));
  EXPECT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(json::parse(r1.body)["progress"], 1);
  const std::string nonce = json::parse(r1.body)["nonce"];
  EXPECT_EQ(nonce.size(), 32u);
  EXPECT_EQ(Status()["nonce"], nonce);
  EXPECT_TRUE(sealed_.sealed());
  http::Response r2 = Handle(Req("POST", "/sys/unseal", WithNonce(2, nonce)));
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(json::parse(r2.body)["sealed"], false);
  EXPECT_EQ(json::parse(r2.body)["nonce"], "");
  EXPECT_TRUE(opened_with_.ConstantTimeEquals(master_));
  EXPECT_TRUE(saved_.empty());  // seal.json had share checks already
  EXPECT_OK(sealed_.Generate({custody::KeyKind::kOct, 128, std::nullopt},
                             AsBytes("b")));

  allow_seal_ = false;
  http::Response refused = Handle(Req("POST", "/sys/seal"));
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(refused.error_code, "Forbidden");
  EXPECT_FALSE(sealed_.sealed());
  allow_seal_ = true;
  http::Response s = Handle(Req("POST", "/sys/seal"));
  EXPECT_EQ(s.status, 200);
  EXPECT_TRUE(sealed_.sealed());
  EXPECT_EQ(Status()["progress"], 0);
  EXPECT_THAT(sealed_.Generate({custody::KeyKind::kOct, 128, std::nullopt},
                               AsBytes("b")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(events_, (std::vector<std::string>{
                         "unseal share 1 200", "unseal share 3 200",
                         "seal  403", "seal officer 200"}));
}

TEST_F(SealServiceTest, FailureWrongDuplicateOrProtectedShares) {
  // A share of another split of another key fails its share check: refused
  // alone, the attempt keeps its share.
  ASSERT_OK_AND_ASSIGN(SecretBytes other, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(std::vector<seal::Share> foreign,
                       seal::Split(other, 3, 2));
  http::Response first = Post(ShareBody(0));
  EXPECT_EQ(first.status, 200);
  const std::string nonce = json::parse(first.body)["nonce"];
  EXPECT_EQ(Post(WithNonce(0, nonce)).status, 409);
  shares_[1] = std::move(foreign[1]);
  http::Response bad = Post(WithNonce(1, nonce));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("does not match this vault's seal"),
            std::string::npos)
      << bad.body;
  EXPECT_TRUE(sealed_.sealed());
  EXPECT_EQ(Status()["progress"], 1);
  EXPECT_EQ(Status()["nonce"], nonce);

  SecretBytes pass(AsBytes("correct horse"));
  http::Response no_pass = Post(ShareBody(2, pass, nullptr, nonce));
  EXPECT_EQ(no_pass.status, 400);
  EXPECT_NE(no_pass.body.find("passphrase"), std::string::npos);
  http::Response wrong = Post(ShareBody(2, pass, "wrong horse", nonce));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(Status()["progress"], 1);
  http::Response right = Post(ShareBody(2, pass, "correct horse", nonce));
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_EQ(json::parse(right.body)["sealed"], false);

  // Another vault's share file.
  ASSERT_EQ(Handle(Req("POST", "/sys/seal")).status, 200);
  info_.vault_id = "v2";
  EXPECT_EQ(Post(ShareBody(0)).status, 400);
  EXPECT_EQ(Post("{}").status, 400);
  EXPECT_EQ(Post("not json").status, 400);
  EXPECT_EQ(Post(R"({"share": {}, "nonce": 7})").status, 400);
  EXPECT_EQ(Post(R"({"share": {}, "reset": "yes"})").status, 400);
  EXPECT_EQ(Status()["progress"], 0);
  EXPECT_EQ(Handle(Req("GET", "/sys/other")).status, 404);
}

TEST_F(SealServiceTest, FailureBogusShareWithoutNonceChangesNothing) {
  http::Response first = Post(ShareBody(0));
  ASSERT_EQ(first.status, 200);
  const json before = Status();
  // A stranger's made-up share, and even a genuine share, without the
  // attempt's nonce: refused before anything is looked at.
  for (const std::string& body : {BogusBody(2), ShareBody(1)}) {
    http::Response r = Post(body);
    EXPECT_EQ(r.status, 400) << r.body;
    json e = json::parse(r.body);
    EXPECT_EQ(e["error"]["code"], "BadParameter");
    EXPECT_NE(e["error"]["message"].get<std::string>().find("send its nonce"),
              std::string::npos)
        << r.body;
    EXPECT_EQ(Status(), before);
  }
  // The honest holder, with the nonce, completes the unseal.
  http::Response r = Post(WithNonce(1, before["nonce"]));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(sealed_.sealed());
}

TEST_F(SealServiceTest, FailureWrongNonceChangesNothing) {
  ASSERT_EQ(Post(ShareBody(0)).status, 200);
  const json before = Status();
  for (const std::string& body :
       {BogusBody(2, "00000000000000000000000000000000"),
        WithNonce(1, "00000000000000000000000000000000"),
        BogusBody(2, "00000000000000000000000000000000", /*reset=*/true)}) {
    http::Response r = Post(body);
    EXPECT_EQ(r.status, 409) << r.body;
    json e = json::parse(r.body);
    EXPECT_EQ(e["error"]["code"], "Conflict");
    EXPECT_NE(e["error"]["message"].get<std::string>().find(
                  "does not name the unseal attempt in progress"),
              std::string::npos)
        << r.body;
    EXPECT_EQ(Status(), before);
  }
  // With no attempt in progress, a stale nonce is refused too.
  ASSERT_EQ(Post(WithNonce(1, before["nonce"])).status, 200);  // unsealed
  ASSERT_EQ(Handle(Req("POST", "/sys/seal")).status, 200);
  EXPECT_EQ(Post(WithNonce(1, before["nonce"])).status, 409);
  EXPECT_EQ(Status()["progress"], 0);
}

TEST_F(SealServiceTest, FailureBogusShareWithTheNonceIsRefusedAlone) {
  ASSERT_EQ(Post(ShareBody(0)).status, 200);
  const json before = Status();
  const std::string nonce = before["nonce"];
  for (int index : {2, 3}) {
    http::Response r = Post(BogusBody(index, nonce));
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_NE(r.body.find("does not match this vault's seal"),
              std::string::npos)
        << r.body;
    EXPECT_EQ(Status(), before);
  }
  // Nor may it reset the attempt.
  EXPECT_EQ(Post(BogusBody(2, nonce, /*reset=*/true)).status, 400);
  EXPECT_EQ(Status(), before);
  EXPECT_EQ(Post(WithNonce(2, nonce)).status, 200);
  EXPECT_FALSE(sealed_.sealed());
  EXPECT_TRUE(opened_with_.ConstantTimeEquals(master_));
}

TEST_F(SealServiceTest, ResetNeedsTheNonceAndAGenuineShare) {
  ASSERT_EQ(Post(ShareBody(0)).status, 200);
  const std::string nonce = Status()["nonce"];
  json reset = json::parse(WithNonce(1, nonce));
  reset["reset"] = true;
  json no_nonce = reset;
  no_nonce.erase("nonce");
  EXPECT_EQ(Post(no_nonce.dump()).status, 400);
  EXPECT_EQ(Status()["progress"], 1);
  http::Response r = Post(reset.dump());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["progress"], 0);
  EXPECT_EQ(json::parse(r.body)["nonce"], "");
  EXPECT_TRUE(sealed_.sealed());
  EXPECT_EQ(events_.back(), "unseal share 2 (reset) 200");
  // A fresh attempt.
  ASSERT_EQ(Post(ShareBody(1)).status, 200);
  EXPECT_NE(Status()["nonce"], nonce);
}

TEST_F(SealServiceTest, LegacySealKeepsProgressAndLearnsShareChecks) {
  info_.share_checks.clear();  // a seal.json written before share checks
  MakeService();
  ASSERT_EQ(Post(ShareBody(0)).status, 200);
  const std::string nonce = Status()["nonce"];
  // Without share checks a bogus share cannot be told apart: it is taken,
  // the combination fails, and the honest share stays in.
  http::Response r = Post(BogusBody(2, nonce));
  EXPECT_EQ(r.status, 200) << r.body;
  json st = Status();
  EXPECT_EQ(st["sealed"], true);
  EXPECT_EQ(st["progress"], 2);
  EXPECT_EQ(st["reconstruction_failed"], true);
  EXPECT_EQ(st["nonce"], nonce);
  // The third holder's share completes {1, 3}: no one started over.
  r = Post(WithNonce(2, nonce));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(sealed_.sealed());
  EXPECT_TRUE(opened_with_.ConstantTimeEquals(master_));
  // seal.json is rewritten once, with every share's check value.
  ASSERT_EQ(saved_.size(), 1u);
  ASSERT_EQ(saved_[0].share_checks.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(saved_[0].share_checks[i],
              *seal::ShareCheckValue("v1", shares_[i]));
  }
  EXPECT_EQ(saved_[0].check, info_.check);
  // After sealing again, a bogus share is refused at once.
  ASSERT_EQ(Handle(Req("POST", "/sys/seal")).status, 200);
  ASSERT_EQ(Post(ShareBody(0)).status, 200);
  EXPECT_EQ(Post(BogusBody(2, Status()["nonce"])).status, 400);
  EXPECT_EQ(Status()["progress"], 1);
  EXPECT_EQ(saved_.size(), 1u);
}

TEST(SealServiceStatic, SealedResponseCarriesItsCode) {
  http::Response r = SealService::SealedResponse();
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.error_code, "ServiceUnavailable");
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "ServiceUnavailable");
}

}  // namespace
}  // namespace keyferry::server
