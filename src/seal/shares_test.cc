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

// seal.json and share files are read at start and at unseal; a deeply
// nested one is refused without recursing.
TEST(SealFilesTest, DeeplyNestedIsRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_THAT(ParseSealInfo(deep), StatusHasMessage("not a JSON object"));
  EXPECT_THAT(ParseSealInfo(R"({"format":)" + deep + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseShareFile(deep), StatusHasMessage("not a JSON object"));
  EXPECT_THAT(ParseShareFile(R"({"share":)" + deep + "}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
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

// WithShareChecks returns `s` with seal.json's share check values, as
// `keyferryd init` writes them.
Split3of5 WithShareChecks(Split3of5 s) {
  for (const Share& sh : s.shares) {
    s.info.share_checks.push_back(*ShareCheckValue(s.info.vault_id, sh));
  }
  return s;
}

// Bogus returns a well-formed share for index `x` that is not the real one,
// as anyone who can read seal-status can make.
Share Bogus(int x) {
  Share b;
  b.x = static_cast<uint8_t>(x);
  b.y = *crypto::RandomSecret(32);
  return b;
}

using Got = absl::StatusOr<std::optional<SecretBytes>>;
bool NotYet(const Got& g) { return g.ok() && !g->has_value(); }
bool Opened(const Got& g, const SecretBytes& master) {
  return g.ok() && g->has_value() && (*g)->ConstantTimeEquals(master);
}

TEST(ShareCheckValueTest, PerShareVaultAndIndexBound) {
  Split3of5 s = MakeSplit();
  ASSERT_OK_AND_ASSIGN(auto c1, ShareCheckValue("vault-a", s.shares[0]));
  ASSERT_OK_AND_ASSIGN(auto c1b, ShareCheckValue("vault-a", s.shares[0]));
  ASSERT_OK_AND_ASSIGN(auto c2, ShareCheckValue("vault-a", s.shares[1]));
  ASSERT_OK_AND_ASSIGN(auto other, ShareCheckValue("vault-b", s.shares[0]));
  Share moved = s.shares[0];
  moved.x = 2;
  ASSERT_OK_AND_ASSIGN(auto c_moved, ShareCheckValue("vault-a", moved));
  EXPECT_EQ(c1.size(), 32u);
  EXPECT_EQ(c1, c1b);
  EXPECT_NE(c1, c2);
  EXPECT_NE(c1, other);
  EXPECT_NE(c2, c_moved);
  // ShareCheckValues interpolates every share from any threshold of them.
  std::vector<Share> three = {s.shares[4], s.shares[1], s.shares[2]};
  ASSERT_OK_AND_ASSIGN(auto all, ShareCheckValues(s.info, three));
  ASSERT_EQ(all.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(all[i], *ShareCheckValue("vault-a", s.shares[i])) << i;
  }
}

TEST(ShareCheckValueTest, KnownAnswer) {
  // HMAC-SHA256(key = 32 zero bytes, "keyferry share check v1|v|2"),
  // computed with Python's hmac module.
  Share z;
  z.x = 2;
  z.y = SecretBytes(32);
  ASSERT_OK_AND_ASSIGN(auto c, ShareCheckValue("v", z));
  EXPECT_EQ(HexEncode(c),
            "75d10a2c1b5e005bd7dafc363a57a6b952780a36a610facc5eb058f8f8b90b86");
}

TEST(SealInfoTest, ShareChecksRoundTripAndAreOptional) {
  Split3of5 s = WithShareChecks(MakeSplit());
  ASSERT_OK_AND_ASSIGN(std::string text, EncodeSealInfo(s.info));
  ASSERT_OK_AND_ASSIGN(SealInfo back, ParseSealInfo(text));
  EXPECT_EQ(back.share_checks, s.info.share_checks);
  // A seal.json from before share checks still parses, without them.
  json old = json::parse(text);
  old.erase("share_checks");
  ASSERT_OK_AND_ASSIGN(SealInfo legacy, ParseSealInfo(old.dump()));
  EXPECT_TRUE(legacy.share_checks.empty());
  EXPECT_EQ(legacy.check, s.info.check);
  json bad = json::parse(text);
  bad["share_checks"].erase(0);
  EXPECT_THAT(ParseSealInfo(bad.dump()), StatusHasMessage("share_checks"));
  bad = json::parse(text);
  bad["share_checks"][1] = "AAAA";
  EXPECT_THAT(ParseSealInfo(bad.dump()), StatusHasMessage("32 bytes"));
}

TEST(UnsealerTest, CorrectShares) {
  Split3of5 s = WithShareChecks(MakeSplit());
  Unsealer u(s.info);
  EXPECT_EQ(u.progress(), 0);
  EXPECT_EQ(u.threshold(), 3);
  EXPECT_EQ(u.nonce(), "");
  EXPECT_TRUE(NotYet(u.Submit(s.shares[4], "")));
  EXPECT_EQ(u.progress(), 1);
  const std::string nonce = u.nonce();
  EXPECT_EQ(nonce.size(), 32u);
  EXPECT_TRUE(NotYet(u.Submit(s.shares[0], nonce)));
  EXPECT_EQ(u.nonce(), nonce);  // one attempt, one nonce
  Got g = u.Submit(s.shares[2], nonce);
  EXPECT_TRUE(Opened(g, s.master));
  EXPECT_EQ(u.progress(), 0);
  EXPECT_EQ(u.nonce(), "");
  // The next attempt gets another nonce.
  EXPECT_TRUE(NotYet(u.Submit(s.shares[1], "")));
  EXPECT_NE(u.nonce(), nonce);
}

TEST(UnsealerTest, ThroughShareFiles) {
  Split3of5 s = WithShareChecks(MakeSplit());
  Unsealer u(s.info);
  Got g = std::optional<SecretBytes>();
  for (int i : {1, 3, 4}) {
    std::string text =
        *EncodeShareFile(s.shares[i], s.info, Pass("pw"), kFastKdf);
    ASSERT_OK_AND_ASSIGN(ShareFile f, ParseShareFile(text));
    ASSERT_OK(CheckShareFileMatches(f, s.info));
    ASSERT_OK_AND_ASSIGN(Share sh, OpenShareFile(f, Pass("pw")));
    g = u.Submit(std::move(sh), u.nonce());
  }
  EXPECT_TRUE(Opened(g, s.master));
}

TEST(UnsealerTest, FailureWrongOrMissingNonceChangesNothing) {
  Split3of5 s = WithShareChecks(MakeSplit());
  Unsealer u(s.info);
  // No attempt yet: a nonce names nothing.
  EXPECT_THAT(u.Submit(s.shares[0], "0123"),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(u.progress(), 0);
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  const std::string nonce = u.nonce();
  Got missing = u.Submit(s.shares[1], "");
  EXPECT_THAT(missing, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(missing, StatusHasMessage("send its nonce"));
  Got wrong = u.Submit(s.shares[1], "ffff");
  EXPECT_THAT(wrong, StatusIs(absl::StatusCode::kAborted));
  EXPECT_THAT(wrong, StatusHasMessage("does not name the unseal attempt"));
  EXPECT_THAT(u.ResetAttempt("", s.shares[1]),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(u.ResetAttempt("ffff", s.shares[1]),
              StatusIs(absl::StatusCode::kAborted));
  EXPECT_EQ(u.progress(), 1);
  EXPECT_EQ(u.nonce(), nonce);
  // The honest holders carry on.
  ASSERT_TRUE(NotYet(u.Submit(s.shares[1], nonce)));
  EXPECT_TRUE(Opened(u.Submit(s.shares[2], nonce), s.master));
}

TEST(UnsealerTest, BogusShareIsRefusedAloneWithShareChecks) {
  Split3of5 s = WithShareChecks(MakeSplit());
  Split3of5 other = MakeSplit();  // another split of another key
  Unsealer u(s.info);
  // Refused even as the first share: no attempt starts.
  EXPECT_THAT(u.Submit(Bogus(2), ""), StatusHasMessage("does not match"));
  EXPECT_EQ(u.nonce(), "");
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  const std::string nonce = u.nonce();
  for (const Share& bad : {Bogus(2), other.shares[1], Bogus(3)}) {
    Got g = u.Submit(bad, nonce);
    EXPECT_THAT(g, StatusIs(absl::StatusCode::kInvalidArgument));
    EXPECT_THAT(g, StatusHasMessage("does not match this vault's seal"));
    EXPECT_EQ(u.progress(), 1);
    EXPECT_EQ(u.nonce(), nonce);
  }
  // A genuine share under another index does not pass either.
  Share moved = s.shares[1];
  moved.x = 4;
  EXPECT_THAT(u.Submit(moved, nonce), StatusHasMessage("does not match"));
  // Nor can a bogus share reset the attempt.
  EXPECT_THAT(u.ResetAttempt(nonce, Bogus(2)),
              StatusHasMessage("does not match"));
  EXPECT_EQ(u.progress(), 1);
  ASSERT_TRUE(NotYet(u.Submit(s.shares[1], nonce)));
  EXPECT_TRUE(Opened(u.Submit(s.shares[2], nonce), s.master));
}

TEST(UnsealerTest, LegacySealKeepsSharesAndFindsTheRightCombination) {
  Split3of5 s = MakeSplit();  // seal.json without share checks
  Unsealer u(s.info);
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  const std::string nonce = u.nonce();
  ASSERT_TRUE(NotYet(u.Submit(Bogus(2), nonce)));  // cannot be told apart
  // The third share completes a combination that fails the key check: the
  // shares stay, nobody starts over.
  ASSERT_TRUE(NotYet(u.Submit(s.shares[2], nonce)));
  EXPECT_TRUE(u.reconstruction_failed());
  EXPECT_EQ(u.progress(), 3);
  EXPECT_EQ(u.nonce(), nonce);
  // One more genuine share: {1, 3, 4} reconstructs the key.
  EXPECT_TRUE(Opened(u.Submit(s.shares[3], nonce), s.master));
  EXPECT_FALSE(u.reconstruction_failed());
  // And the seal has learnt every share's check value.
  ASSERT_EQ(u.info().share_checks.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(u.info().share_checks[i],
              *ShareCheckValue(s.info.vault_id, s.shares[i]));
  }
  // So from now on a bogus share is refused at once.
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  EXPECT_THAT(u.Submit(Bogus(2), u.nonce()),
              StatusHasMessage("does not match"));
}

TEST(UnsealerTest, ResetNeedsNonceAndAShare) {
  Split3of5 s = WithShareChecks(MakeSplit());
  Unsealer u(s.info);
  EXPECT_OK(u.ResetAttempt("", s.shares[3]));  // nothing to reset
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  ASSERT_TRUE(NotYet(u.Submit(s.shares[1], u.nonce())));
  const std::string nonce = u.nonce();
  EXPECT_OK(u.ResetAttempt(nonce, s.shares[3]));
  EXPECT_EQ(u.progress(), 0);
  EXPECT_EQ(u.nonce(), "");
  // The old nonce is stale now.
  EXPECT_THAT(u.Submit(s.shares[0], nonce),
              StatusIs(absl::StatusCode::kAborted));
  ASSERT_TRUE(NotYet(u.Submit(s.shares[0], "")));
  ASSERT_TRUE(NotYet(u.Submit(s.shares[1], u.nonce())));
  EXPECT_TRUE(Opened(u.Submit(s.shares[4], u.nonce()), s.master));
}

TEST(UnsealerTest, DuplicateAndOutOfRange) {
  Split3of5 s = MakeSplit();
  Unsealer u(s.info);
  ASSERT_TRUE(NotYet(u.Submit(s.shares[1], "")));
  const std::string n = u.nonce();
  auto dup = u.Submit(s.shares[1], n);
  EXPECT_THAT(dup, StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(dup, StatusHasMessage("share 2 was already submitted"));
  Share bad = s.shares[0];
  bad.x = 6;
  EXPECT_THAT(u.Submit(bad, n), StatusIs(absl::StatusCode::kInvalidArgument));
  bad.x = 0;
  EXPECT_THAT(u.Submit(bad, n), StatusIs(absl::StatusCode::kInvalidArgument));
  Share shorter = s.shares[3];
  shorter.y.Resize(16);
  EXPECT_THAT(u.Submit(shorter, n), StatusHasMessage("different length"));
  EXPECT_EQ(u.progress(), 1);
  u.Reset();
  EXPECT_EQ(u.progress(), 0);
  EXPECT_EQ(u.nonce(), "");
  EXPECT_TRUE(NotYet(u.Submit(s.shares[1], "")));
}

}  // namespace
}  // namespace keyferry::seal
