#include "seal/shares.h"

#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/random.h"

namespace keyferry::seal {
namespace {

using json = nlohmann::json;

// Cheap scrypt for most tests; one test uses the default.
constexpr ScryptParams kFastKdf{1024, 8, 1};

std::string TempDir() {
  char t[] = "/tmp/kf_seal.XXXXXX";
  return mkdtemp(t);
}

SecretBytes Pass(std::string_view s) { return SecretBytes(AsBytes(s)); }

struct Split3of5 {
  SecretBytes master;
  SealInfo info;
  std::vector<Share> shares;
};

Split3of5 MakeSplit(int n = 5, int k = 3, std::string vault = "vault-a") {
  Split3of5 s;
  s.master = *crypto::RandomSecret(32);
  s.info.vault_id = vault;
  s.info.shares = n;
  s.info.threshold = k;
  s.info.check = *KeyCheckValue(s.master);
  s.shares = *Split(s.master, n, k);
  return s;
}

TEST(KeyCheckValueTest, DeterministicAndKeyDependent) {
  SecretBytes a = *crypto::RandomSecret(32);
  SecretBytes b = *crypto::RandomSecret(32);
  ASSERT_OK_AND_ASSIGN(auto ca, KeyCheckValue(a));
  ASSERT_OK_AND_ASSIGN(auto ca2, KeyCheckValue(a));
  ASSERT_OK_AND_ASSIGN(auto cb, KeyCheckValue(b));
  EXPECT_EQ(ca.size(), 32u);
  EXPECT_EQ(ca, ca2);
  EXPECT_NE(ca, cb);
  EXPECT_THAT(KeyCheckValue(SecretBytes()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KeyCheckValueTest, KnownAnswer) {
  // HMAC-SHA256(key = 32 zero bytes, "keyferry seal check v1"), computed with
  // `openssl mac` and Python hmac.
  ASSERT_OK_AND_ASSIGN(auto c, KeyCheckValue(SecretBytes(32)));
  EXPECT_EQ(HexEncode(c),
            "cb03e4b945fd52d6511484006b78884b50ac9ac1260ca089070fc269d4bc9801");
}

TEST(SealInfoTest, WriteReadRoundTrip) {
  Split3of5 s = MakeSplit();
  std::string path = TempDir() + "/seal.json";
  ASSERT_OK(WriteSealInfo(path, s.info));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(path));
  json j = json::parse(text);
  EXPECT_EQ(j["format"], "keyferry-seal-v1");
  EXPECT_EQ(j["vault_id"], "vault-a");
  EXPECT_EQ(j["shares"], 5);
  EXPECT_EQ(j["threshold"], 3);
  EXPECT_EQ(j["check"], Base64UrlEncode(s.info.check));
  ASSERT_OK_AND_ASSIGN(SealInfo back, ReadSealInfo(path));
  EXPECT_EQ(back.vault_id, s.info.vault_id);
  EXPECT_EQ(back.shares, 5);
  EXPECT_EQ(back.threshold, 3);
  EXPECT_EQ(back.check, s.info.check);
}

TEST(SealInfoTest, ParseErrors) {
  EXPECT_THAT(ParseSealInfo("nope"), StatusHasMessage("not a JSON object"));
  EXPECT_THAT(ParseSealInfo(R"({"format":"x"})"), StatusHasMessage("format"));
  std::string good = *EncodeSealInfo(MakeSplit().info);
  json j = json::parse(good);
  j["threshold"] = 9;
  EXPECT_THAT(ParseSealInfo(j.dump()), StatusHasMessage("threshold 9"));
  j = json::parse(good);
  j["check"] = "AAAA";
  EXPECT_THAT(ParseSealInfo(j.dump()), StatusHasMessage("\"check\""));
  EXPECT_THAT(ReadSealInfo(TempDir() + "/missing.json"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(ShareFileTest, RoundTripWithoutPassphrase) {
  Split3of5 s = MakeSplit();
  ASSERT_OK_AND_ASSIGN(std::string text,
                       EncodeShareFile(s.shares[1], s.info, std::nullopt));
  json j = json::parse(text);
  EXPECT_EQ(j["format"], "keyferry-share-v1");
  EXPECT_EQ(j["protection"], "none");
  EXPECT_EQ(j["index"], 2);
  EXPECT_FALSE(j.contains("ciphertext"));
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
  EXPECT_EQ(f.vault_id, "vault-a");
  EXPECT_EQ(f.index, 2);
  EXPECT_EQ(f.threshold, 3);
  EXPECT_EQ(f.shares, 5);
  EXPECT_EQ(f.protection, Protection::kNone);
  ASSERT_OK_AND_ASSIGN(Share back, OpenShareFile(f, std::nullopt));
  EXPECT_EQ(back.x, 2);
  EXPECT_TRUE(back.y.ConstantTimeEquals(s.shares[1].y));
  EXPECT_OK(CheckShareFileMatches(f, s.info));
}

TEST(ShareFileTest, RoundTripWithPassphrase) {
  Split3of5 s = MakeSplit();
  ASSERT_OK_AND_ASSIGN(
      std::string text,
      EncodeShareFile(s.shares[4], s.info, Pass("correct horse"), kFastKdf));
  json j = json::parse(text);
  EXPECT_EQ(j["protection"], "passphrase");
  EXPECT_FALSE(j.contains("share"));
  EXPECT_EQ(j["kdf"]["alg"], "scrypt");
  EXPECT_EQ(j["kdf"]["N"], 1024);
  EXPECT_EQ(j["kdf"]["r"], 8);
  EXPECT_EQ(j["kdf"]["p"], 1);
  EXPECT_EQ(Base64UrlDecode(j["kdf"]["salt"].get<std::string>())->size(), 16u);
  EXPECT_EQ(Base64UrlDecode(j["nonce"].get<std::string>())->size(), 12u);
  EXPECT_EQ(Base64UrlDecode(j["tag"].get<std::string>())->size(), 16u);
  EXPECT_EQ(Base64UrlDecode(j["ciphertext"].get<std::string>())->size(), 32u);
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
  EXPECT_EQ(f.protection, Protection::kPassphrase);
  ASSERT_OK_AND_ASSIGN(Share back, OpenShareFile(f, Pass("correct horse")));
  EXPECT_EQ(back.x, 5);
  EXPECT_TRUE(back.y.ConstantTimeEquals(s.shares[4].y));
}

TEST(ShareFileTest, DefaultScryptCost) {
  Split3of5 s = MakeSplit();
  ASSERT_OK_AND_ASSIGN(std::string text,
                       EncodeShareFile(s.shares[0], s.info, Pass("pw")));
  EXPECT_EQ(json::parse(text)["kdf"]["N"], 32768);
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
  ASSERT_OK_AND_ASSIGN(Share back, OpenShareFile(f, Pass("pw")));
  EXPECT_TRUE(back.y.ConstantTimeEquals(s.shares[0].y));
}

TEST(ShareFileTest, MissingPassphrase) {
  Split3of5 s = MakeSplit();
  std::string text =
      *EncodeShareFile(s.shares[2], s.info, Pass("pw"), kFastKdf);
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
  auto r = OpenShareFile(f, std::nullopt);
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(r, StatusHasMessage("share 3 is protected by a passphrase"));
}

TEST(ShareFileTest, WrongPassphrase) {
  Split3of5 s = MakeSplit();
  std::string text =
      *EncodeShareFile(s.shares[2], s.info, Pass("pw"), kFastKdf);
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
  auto r = OpenShareFile(f, Pass("pW"));
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r, StatusHasMessage("wrong passphrase or damaged share file"));
}

TEST(ShareFileTest, TamperedHeaderFails) {
  Split3of5 s = MakeSplit();
  json j =
      json::parse(*EncodeShareFile(s.shares[1], s.info, Pass("pw"), kFastKdf));
  for (auto [key, value] : {std::pair<std::string, json>{"index", 3},
                            {"threshold", 2},
                            {"shares", 4},
                            {"vault_id", "vault-b"}}) {
    json t = j;
    t[key] = value;
    ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(t.dump()));
    EXPECT_THAT(OpenShareFile(f, Pass("pw")),
                StatusHasMessage("wrong passphrase or damaged share file"))
        << key;
  }
}

TEST(ShareFileTest, TamperedCiphertextFails) {
  Split3of5 s = MakeSplit();
  json j =
      json::parse(*EncodeShareFile(s.shares[1], s.info, Pass("pw"), kFastKdf));
  std::vector<uint8_t> ct =
      *Base64UrlDecode(j["ciphertext"].get<std::string>());
  ct[7] ^= 0x01;
  j["ciphertext"] = Base64UrlEncode(ct);
  ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(j.dump()));
  EXPECT_THAT(OpenShareFile(f, Pass("pw")),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ShareFileTest, ParseErrors) {
  Split3of5 s = MakeSplit();
  json good =
      json::parse(*EncodeShareFile(s.shares[1], s.info, Pass("pw"), kFastKdf));
  EXPECT_THAT(ParseShareFile("[]"), StatusHasMessage("not a JSON object"));
  json t = good;
  t["format"] = "keyferry-share-v2";
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("format"));
  t = good;
  t["index"] = 6;
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("outside 1..5"));
  t = good;
  t["protection"] = "magic";
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("protection"));
  t = good;
  t["kdf"]["N"] = 1000;  // not a power of two
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("scrypt parameters"));
  t = good;
  t["kdf"]["N"] = 1 << 24;  // too costly
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("scrypt parameters"));
  t = good;
  t["nonce"] = "AAAA";
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("\"nonce\""));
  t = good;
  t.erase("tag");
  EXPECT_THAT(ParseShareFile(t.dump()), StatusHasMessage("\"tag\""));
}

TEST(ShareFileTest, EncodeErrors) {
  Split3of5 s = MakeSplit();
  Share bad = s.shares[0];
  bad.x = 6;
  EXPECT_THAT(EncodeShareFile(bad, s.info, std::nullopt),
              StatusHasMessage("outside 1..5"));
  EXPECT_THAT(EncodeShareFile(s.shares[0], s.info, Pass("")),
              StatusHasMessage("passphrase is empty"));
  EXPECT_THAT(EncodeShareFile(s.shares[0], s.info, Pass("x"), {1000, 8, 1}),
              StatusHasMessage("scrypt parameters"));
}

TEST(ShareFileTest, CheckMatches) {
  Split3of5 s = MakeSplit();
  ShareFile f = *ParseShareFile(*EncodeShareFile(s.shares[0], s.info, {}));
  SealInfo other = s.info;
  other.vault_id = "vault-b";
  EXPECT_THAT(CheckShareFileMatches(f, other),
              StatusHasMessage("belongs to vault"));
  other = s.info;
  other.threshold = 2;
  EXPECT_THAT(CheckShareFileMatches(f, other),
              StatusHasMessage("3-of-5 split"));
}

TEST(UnsealerTest, CorrectShares) {
  Split3of5 s = MakeSplit();
  Unsealer u(s.info);
  EXPECT_EQ(u.progress(), 0);
  EXPECT_EQ(u.threshold(), 3);
  ASSERT_OK_AND_ASSIGN(bool done, u.Submit(s.shares[4]));
  EXPECT_FALSE(done);
  EXPECT_EQ(u.progress(), 1);
  ASSERT_OK_AND_ASSIGN(done, u.Submit(s.shares[0]));
  EXPECT_FALSE(done);
  EXPECT_THAT(u.Finish(), StatusHasMessage("need 3 shares to unseal, have 2"));
  EXPECT_EQ(u.progress(), 2);
  ASSERT_OK_AND_ASSIGN(done, u.Submit(s.shares[2]));
  EXPECT_TRUE(done);
  EXPECT_EQ(u.progress(), 3);
  EXPECT_THAT(u.Submit(s.shares[3]),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK_AND_ASSIGN(SecretBytes key, u.Finish());
  EXPECT_TRUE(key.ConstantTimeEquals(s.master));
  EXPECT_EQ(u.progress(), 0);
}

TEST(UnsealerTest, ThroughShareFiles) {
  Split3of5 s = MakeSplit();
  Unsealer u(s.info);
  bool done = false;
  for (int i : {1, 3, 4}) {
    std::string text =
        *EncodeShareFile(s.shares[i], s.info, Pass("pw"), kFastKdf);
    ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
    ASSERT_OK(CheckShareFileMatches(f, s.info));
    ASSERT_OK_AND_ASSIGN(Share sh, OpenShareFile(f, Pass("pw")));
    ASSERT_OK_AND_ASSIGN(done, u.Submit(std::move(sh)));
  }
  EXPECT_TRUE(done);
  ASSERT_OK_AND_ASSIGN(SecretBytes key, u.Finish());
  EXPECT_TRUE(key.ConstantTimeEquals(s.master));
}

TEST(UnsealerTest, WrongShareSetFailsCheckAndResets) {
  Split3of5 s = MakeSplit();
  Split3of5 other = MakeSplit();  // another split of another key
  Unsealer u(s.info);
  ASSERT_OK(u.Submit(s.shares[0]));
  ASSERT_OK(u.Submit(other.shares[1]));
  ASSERT_OK(u.Submit(s.shares[2]));
  auto r = u.Finish();
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(r,
              StatusHasMessage("do not reconstruct this vault's master key"));
  EXPECT_EQ(u.progress(), 0);
  // Starting again with good shares works.
  for (int i : {0, 1, 2}) ASSERT_OK(u.Submit(s.shares[i]));
  ASSERT_OK_AND_ASSIGN(SecretBytes key, u.Finish());
  EXPECT_TRUE(key.ConstantTimeEquals(s.master));
}

TEST(UnsealerTest, DuplicateAndOutOfRange) {
  Split3of5 s = MakeSplit();
  Unsealer u(s.info);
  ASSERT_OK(u.Submit(s.shares[1]));
  auto dup = u.Submit(s.shares[1]);
  EXPECT_THAT(dup, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(dup, StatusHasMessage("share 2 was already submitted"));
  Share bad = s.shares[0];
  bad.x = 6;
  EXPECT_THAT(u.Submit(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.x = 0;
  EXPECT_THAT(u.Submit(bad), StatusIs(absl::StatusCode::kInvalidArgument));
  Share shorter = s.shares[3];
  shorter.y.Resize(16);
  EXPECT_THAT(u.Submit(shorter), StatusHasMessage("different length"));
  EXPECT_EQ(u.progress(), 1);
  u.Reset();
  EXPECT_EQ(u.progress(), 0);
  EXPECT_OK(u.Submit(s.shares[1]));
}

}  // namespace
}  // namespace keyferry::seal
