// Session's two-call functions and EC unwrap against the fake token's
// quirks (hsm/testing/fake_token.h): short size answers, an operation ended
// on CKR_BUFFER_TOO_SMALL, a garbage length, a token that is never
// satisfied, and an attribute a token demands in an unwrap template. The
// fake's crypto is OpenSSL's, so outputs are compared with OpenSSL.
#include "hsm/session.h"

#include <string>
#include <vector>

#include "base/testing.h"
#include "crypto/aead.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "crypto/random.h"
#include "hsm/errors.h"
#include "hsm/mechanisms.h"
#include "hsm/pkcs11.h"
#include "hsm/templates.h"
#include "hsm/testing/fake_token_testing.h"
#include "hsm/two_call.h"

namespace keyferry::hsm {
namespace {

using testing::FakeStats;
using testing::FakeToken;
using testing::OpenFake;

std::vector<uint8_t> Plain(const SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  return std::vector<uint8_t>(d.begin(), d.end());
}

// AesKey makes a session AES key of known `value` that may do everything
// the tests ask of it.
absl::StatusOr<ObjectHandle> AesKey(Session& s, const SecretBytes& value) {
  return s.CreateObject(
      {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
       Attr::Ulong(CKA_KEY_TYPE, CKK_AES), Attr::Bool(CKA_TOKEN, false),
       Attr::Secret(CKA_VALUE, value), Attr::Bool(CKA_WRAP, true),
       Attr::Bool(CKA_UNWRAP, true), Attr::Bool(CKA_ENCRYPT, true),
       Attr::Bool(CKA_DECRYPT, true), Attr::Bool(CKA_SIGN, true)});
}

// Secret makes an extractable generic secret of known `value` to wrap.
absl::StatusOr<ObjectHandle> Secret(Session& s, const SecretBytes& value) {
  return s.CreateObject(
      {Attr::Ulong(CKA_CLASS, CKO_SECRET_KEY),
       Attr::Ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
       Attr::Bool(CKA_TOKEN, false), Attr::Bool(CKA_SENSITIVE, true),
       Attr::Bool(CKA_EXTRACTABLE, true), Attr::Secret(CKA_VALUE, value)});
}

std::vector<unsigned long> OfferedSizes(const KfFakeStats& s) {
  return std::vector<unsigned long>(
      s.output_sizes,
      s.output_sizes +
          std::min<unsigned long>(s.output_size_count, KF_FAKE_MAX_SIZES));
}

TEST(SessionTwoCallTest, WrapWithShortSizeAnswerIsRfc5649) {
  for (const char* quirks : {"short-size", ""}) {
    SCOPED_TRACE(quirks);
    ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(quirks));
    ASSERT_OK_AND_ASSIGN(SecretBytes kek, crypto::RandomSecret(32));
    ASSERT_OK_AND_ASSIGN(ObjectHandle kek_h, AesKey(*t.session, kek));
    // 16 and 32: 8 bytes short; 20: 12; 33: 15.
    for (size_t len : {16, 20, 32, 33}) {
      ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(len));
      ASSERT_OK_AND_ASSIGN(ObjectHandle key_h, Secret(*t.session, key));
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> wrapped,
                           t.session->WrapKey({kAesKeyWrapKwp}, kek_h, key_h));
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> want,
                           crypto::KwpWrap(kek, key));
      EXPECT_EQ(wrapped, want) << len;
      EXPECT_EQ(wrapped.size(), (len + 7) / 8 * 8 + 8);
    }
    // Sized right the first time: the answer read as a floor plus slack.
    KfFakeStats s = FakeStats();
    EXPECT_EQ(s.wrap_calls, 8u);  // a size query and a call each
    EXPECT_EQ(s.too_small_answers, 0u);
  }
}

TEST(SessionTwoCallTest, GcmEncryptWithoutTagInAnswerMatchesOpenSsl) {
  // The quirky token answers the size query without the tag and would end
  // the operation on CKR_BUFFER_TOO_SMALL; the conformant one does neither.
  for (const char* quirks : {"short-size,ends-on-too-small", ""}) {
    SCOPED_TRACE(quirks);
    ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(quirks));
    ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(32));
    ASSERT_OK_AND_ASSIGN(ObjectHandle key_h, AesKey(*t.session, key));
    const std::vector<size_t> lengths = {1, 16, 31, 100, 1000};
    for (size_t len : lengths) {
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> iv,
                           crypto::RandomBytes(crypto::kGcmNonceBytes));
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> data, crypto::RandomBytes(len));
      const std::vector<uint8_t> aad = {'k', 'f'};
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                           t.session->Encrypt(AesGcm(iv, aad), key_h, data));
      ASSERT_OK_AND_ASSIGN(crypto::GcmCiphertext want,
                           crypto::AesGcmEncrypt(key, iv, data, aad));
      std::vector<uint8_t> joined = want.ciphertext;
      joined.insert(joined.end(), want.tag.begin(), want.tag.end());
      EXPECT_EQ(ct, joined) << len;
      ASSERT_OK_AND_ASSIGN(SecretBytes back,
                           t.session->Decrypt(AesGcm(iv, aad), key_h, ct));
      EXPECT_EQ(Plain(back), data);
    }
    // Never too small, so never started again: one init per encryption.
    KfFakeStats s = FakeStats();
    EXPECT_EQ(s.encrypt_init_calls, lengths.size());
    EXPECT_EQ(s.decrypt_init_calls, lengths.size());
    EXPECT_EQ(s.too_small_answers, 0u);
  }
}

TEST(SessionTwoCallTest, SignStartedAgainOnlyWhenTheTokenEndedIt) {
  struct Case {
    const char* quirks;
    unsigned long inits, too_small;
  };
  const Case cases[] = {
      // Answers 16 for a 32-byte MAC and ends the operation: started again.
      {"short-size,ends-on-too-small", 2, 1},
      // Answers 16 but keeps the operation, as PKCS#11 says: not started
      // again.
      {"short-size", 1, 1},
      {"", 1, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.quirks);
    ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(c.quirks));
    ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(32));
    ASSERT_OK_AND_ASSIGN(ObjectHandle key_h, AesKey(*t.session, key));
    const std::string msg = "two calls";
    std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(msg.data()),
                                  msg.size());
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> mac,
                         t.session->Sign({CKM_SHA256_HMAC}, key_h, data));
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> want,
                         crypto::HmacSha256(key, data));
    EXPECT_EQ(mac, want);
    KfFakeStats s = FakeStats();
    EXPECT_EQ(s.sign_init_calls, c.inits);
    EXPECT_EQ(s.too_small_answers, c.too_small);
  }
}

TEST(SessionTwoCallTest, GarbageLengthIsNotAllocated) {
  ASSERT_OK_AND_ASSIGN(FakeToken t,
                       OpenFake("short-size,ends-on-too-small,garbage-length"));
  ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(ObjectHandle key_h, AesKey(*t.session, key));
  const std::vector<uint8_t> data = {1, 2, 3};
  ASSERT_OK_AND_ASSIGN(SecretBytes mac,
                       t.session->SignSecret({CKM_SHA256_HMAC}, key_h, data));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> want,
                       crypto::HmacSha256(key, data));
  EXPECT_EQ(Plain(mac), want);
  // The short answer (16), then double it: never the garbage the token
  // named after CKR_BUFFER_TOO_SMALL.
  KfFakeStats s = FakeStats();
  EXPECT_EQ(s.too_small_answers, 1u);
  EXPECT_EQ(OfferedSizes(s), (std::vector<unsigned long>{16, 32}));
  EXPECT_EQ(s.sign_init_calls, 2u);
}

TEST(SessionTwoCallTest, GrowthStopsAtTheLimitNamingTheCall) {
  for (const char* quirks : {"always-too-small",
                             "always-too-small,"
                             "ends-on-too-small"}) {
    SCOPED_TRACE(quirks);
    ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(quirks));
    ASSERT_OK_AND_ASSIGN(SecretBytes key, crypto::RandomSecret(16));
    ASSERT_OK_AND_ASSIGN(ObjectHandle key_h, AesKey(*t.session, key));
    const std::vector<uint8_t> data(10, 0x5a);
    absl::StatusOr<std::vector<uint8_t>> mac =
        t.session->Sign({CKM_SHA256_HMAC}, key_h, data);
    EXPECT_THAT(mac, StatusHasMessage("C_Sign"));
    EXPECT_EQ(GetCkr(mac.status()),
              std::optional<unsigned long>(CKR_BUFFER_TOO_SMALL));
    KfFakeStats s = FakeStats();
    // The first buffer and kMaxTwoCallGrowths larger ones, each doubled,
    // then (where the token kept the operation active) the largest, to end
    // it.
    static_assert(kMaxTwoCallGrowths == 4);
    const bool ends = std::string(quirks).find("ends") != std::string::npos;
    std::vector<unsigned long> want = {32, 64, 128, 256, 512};
    if (!ends) want.push_back(kMaxTwoCallOutput);
    EXPECT_EQ(OfferedSizes(s), want);
    EXPECT_EQ(s.sign_init_calls, ends ? 1u + kMaxTwoCallGrowths : 1u);
    if (!ends) {
      // This token keeps the operation active whatever the buffer: the
      // session is unusable, and its next operation says so in a way the
      // session pool treats as a lost session.
      absl::StatusOr<std::vector<uint8_t>> next =
          t.session->Sign({CKM_SHA256_HMAC}, key_h, data);
      EXPECT_EQ(GetCkr(next.status()),
                std::optional<unsigned long>(CKR_OPERATION_ACTIVE));
      EXPECT_TRUE(IsStaleHandle(next.status()));
      continue;
    }

    std::vector<uint8_t> iv(crypto::kGcmNonceBytes, 1);
    absl::StatusOr<std::vector<uint8_t>> ct =
        t.session->Encrypt(AesGcm(iv, {}), key_h, data);
    EXPECT_THAT(ct, StatusHasMessage("C_Encrypt"));
    EXPECT_THAT(ct, StatusHasMessage("CKR_BUFFER_TOO_SMALL"));
  }
}

// WrappedPrivateKey is a P-256 (`ec`) or RSA-2048 private key as PKCS#8,
// RFC 5649-wrapped under `kek`.
absl::StatusOr<std::vector<uint8_t>> WrappedPrivateKey(const SecretBytes& kek,
                                                       bool ec) {
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr k,
                   ec ? crypto::GenerateEc(crypto::Curve::kP256)
                      : crypto::GenerateRsa(2048));
  ASSIGN_OR_RETURN(SecretBytes p8, crypto::PrivateKeyToPkcs8Der(k.get()));
  return crypto::KwpWrap(kek, p8);
}

TEST(SessionUnwrapTest, EcPrivateKeyRetriedWithTheDemandedAttribute) {
  for (const char* quirks : {"demand-ec-attr", "demand-attr-all", ""}) {
    SCOPED_TRACE(quirks);
    const bool demands = *quirks != '\0';
    ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake(quirks));
    ASSERT_OK_AND_ASSIGN(SecretBytes kek, crypto::RandomSecret(32));
    ASSERT_OK_AND_ASSIGN(ObjectHandle kek_h, AesKey(*t.session, kek));
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> wrapped,
                         WrappedPrivateKey(kek, true));
    ASSERT_OK_AND_ASSIGN(
        ObjectHandle h,
        t.session->UnwrapKey({kAesKeyWrapKwp}, kek_h, wrapped,
                             PrivateKeyTemplate(crypto::KeyType::kEc, false)));
    ASSERT_OK_AND_ASSIGN(uint64_t type, t.session->GetUlong(h, CKA_KEY_TYPE));
    EXPECT_EQ(type, CKK_EC);
    KfFakeStats s = FakeStats();
    EXPECT_EQ(s.unwrap_calls, demands ? 2u : 1u);
    EXPECT_EQ(s.unwrap_db_attr_sent, demands ? 1u : 0u);
    EXPECT_EQ(s.unwrap_db_attr_len, demands ? 32u : 0u);
    if (demands) {
      ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> db,
                           t.session->GetAttribute(h, kNssDbAttribute));
      EXPECT_EQ(db.size(), 32u);
    }
  }
}

TEST(SessionUnwrapTest, NonEcUnwrapIsNotRetried) {
  ASSERT_OK_AND_ASSIGN(FakeToken t, OpenFake("demand-attr-all"));
  ASSERT_OK_AND_ASSIGN(SecretBytes kek, crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(ObjectHandle kek_h, AesKey(*t.session, kek));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> wrapped,
                       WrappedPrivateKey(kek, false));
  absl::StatusOr<ObjectHandle> h =
      t.session->UnwrapKey({kAesKeyWrapKwp}, kek_h, wrapped,
                           PrivateKeyTemplate(crypto::KeyType::kRsa, false));
  EXPECT_EQ(GetCkr(h.status()),
            std::optional<unsigned long>(CKR_TEMPLATE_INCOMPLETE));
  EXPECT_THAT(h, StatusHasMessage("C_UnwrapKey"));
  KfFakeStats s = FakeStats();
  EXPECT_EQ(s.unwrap_calls, 1u);
  EXPECT_EQ(s.unwrap_db_attr_sent, 0u);
}

}  // namespace
}  // namespace keyferry::hsm
