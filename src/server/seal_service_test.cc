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
    o.on_event = [this](std::string_view op, std::string_view who, int status,
                        std::string_view) {
      events_.push_back(std::string(op) + " " + std::string(who) + " " +
                        std::to_string(status));
    };
    service_ = std::make_unique<SealService>(std::move(o));
  }

  std::string ShareBody(int i, const std::optional<SecretBytes>& pass = {},
                        const char* given_pass = nullptr) {
    auto text = seal::EncodeShareFile(shares_[i], info_, pass,
                                      seal::ScryptParams{1024, 8, 1});
    EXPECT_OK(text);
    json b = {{"share", json::parse(*text)}};
    if (given_pass) b["passphrase"] = given_pass;
    return b.dump();
  }
  json Status() {
    http::Response r = service_->Handle(Req("GET", "/sys/seal-status"));
    EXPECT_EQ(r.status, 200);
    return json::parse(r.body);
  }

  SecretBytes master_, opened_with_;
  std::vector<seal::Share> shares_;
  seal::SealInfo info_;
  custody::SealedCustody sealed_;
  bool allow_seal_ = true;
  std::vector<std::string> events_;
  std::unique_ptr<SealService> service_;
};

TEST_F(SealServiceTest, UnsealWithThresholdSharesThenSeal) {
  EXPECT_EQ(Status()["sealed"], true);
  EXPECT_EQ(Status()["threshold"], 2);
  EXPECT_THAT(sealed_.Generate({custody::KeyKind::kOct, 128, std::nullopt},
                               AsBytes("b")),
              StatusIs(absl::StatusCode::kUnavailable));
  http::Response r1 =
      service_->Handle(Req("POST", "/sys/unseal", ShareBody(0)));
  EXPECT_EQ(r1.status, 200) << r1.body;
  EXPECT_EQ(json::parse(r1.body)["progress"], 1);
  EXPECT_TRUE(sealed_.sealed());
  http::Response r2 =
      service_->Handle(Req("POST", "/sys/unseal", ShareBody(2)));
  EXPECT_EQ(r2.status, 200) << r2.body;
  EXPECT_EQ(json::parse(r2.body)["sealed"], false);
  EXPECT_TRUE(opened_with_.ConstantTimeEquals(master_));
  EXPECT_OK(sealed_.Generate({custody::KeyKind::kOct, 128, std::nullopt},
                             AsBytes("b")));

  allow_seal_ = false;
  http::Response refused = service_->Handle(Req("POST", "/sys/seal"));
  EXPECT_EQ(refused.status, 403);
  EXPECT_FALSE(sealed_.sealed());
  allow_seal_ = true;
  http::Response s = service_->Handle(Req("POST", "/sys/seal"));
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
  // A share of another split of another key: the check value refuses it and
  // the collected shares are dropped.
  ASSERT_OK_AND_ASSIGN(SecretBytes other, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(std::vector<seal::Share> foreign,
                       seal::Split(other, 3, 2));
  EXPECT_EQ(service_->Handle(Req("POST", "/sys/unseal", ShareBody(0))).status,
            200);
  EXPECT_EQ(service_->Handle(Req("POST", "/sys/unseal", ShareBody(0))).status,
            409);
  shares_[1] = std::move(foreign[1]);
  http::Response bad =
      service_->Handle(Req("POST", "/sys/unseal", ShareBody(1)));
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("do not reconstruct"), std::string::npos) << bad.body;
  EXPECT_TRUE(sealed_.sealed());
  EXPECT_EQ(Status()["progress"], 0);

  SecretBytes pass(AsBytes("correct horse"));
  http::Response no_pass =
      service_->Handle(Req("POST", "/sys/unseal", ShareBody(2, pass)));
  EXPECT_EQ(no_pass.status, 400);
  EXPECT_NE(no_pass.body.find("passphrase"), std::string::npos);
  http::Response wrong = service_->Handle(
      Req("POST", "/sys/unseal", ShareBody(2, pass, "wrong horse")));
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(service_
                ->Handle(Req("POST", "/sys/unseal",
                             ShareBody(2, pass, "correct horse")))
                .status,
            200);
  EXPECT_EQ(Status()["progress"], 1);

  // Another vault's share file.
  info_.vault_id = "v2";
  EXPECT_EQ(service_->Handle(Req("POST", "/sys/unseal", ShareBody(0))).status,
            400);
  EXPECT_EQ(service_->Handle(Req("POST", "/sys/unseal", "{}")).status, 400);
  EXPECT_EQ(service_->Handle(Req("POST", "/sys/unseal", "not json")).status,
            400);
  EXPECT_EQ(service_->Handle(Req("GET", "/sys/other")).status, 404);
}

}  // namespace
}  // namespace keyferry::server
