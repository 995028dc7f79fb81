// Export logic against a software fake of the token: failure paths and the
// guarantee that every temporary object is destroyed. The real token is
// exercised by tests/integration against SoftHSMv2.
#include "byok/export.h"

#include <map>
#include <set>
#include <vector>

#include "base/testing.h"
#include "byok/envelope.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"

namespace keyferry::byok {
namespace {

using crypto::KeyType;

// FakeExportSession keeps objects in memory and performs the mechanisms in
// software. Its knobs let a test break one step at a time.
class FakeExportSession : public ExportSession {
 public:
  struct Obj {
    enum Kind { kPublic, kSecret, kPrivate } kind;
    crypto::EvpPkeyPtr pkey;
    SecretBytes value;
    bool extractable = true;
  };

  bool offer_native = false;
  bool native_uses_sha256 = false;  // a token that ignores OAEP parameters
  bool kwp_padding_defect = false;
  bool fail_kwp_wrap = false;
  bool oaep_sha1_only = false;  // SoftHSM 2.6.1's CKM_RSA_PKCS_OAEP
  // Per-mechanism known-answer results (else the knobs above decide), the
  // mechanisms not offered, and every mechanism probed, in order.
  std::map<uint64_t, KwpProbe> kwp_probes;
  std::set<uint64_t> not_offered;
  std::vector<uint64_t> probed;
  std::set<ObjectRef> destroyed;

  ObjectRef AddSecret(SecretBytes v, bool extractable = true) {
    return Add({Obj::kSecret, nullptr, std::move(v), extractable});
  }
  ObjectRef AddPrivate(crypto::EvpPkeyPtr k) {
    return Add({Obj::kPrivate, std::move(k), SecretBytes(), true});
  }
  size_t live() const { return objects_.size() - targets_; }
  void set_targets(size_t n) { targets_ = n; }

  absl::StatusOr<TargetInfo> Describe(ObjectRef t) override {
    auto& o = objects_.at(t);
    TargetInfo info;
    info.label = "t";
    info.extractable = o.extractable;
    if (o.kind == Obj::kSecret) {
      info.type = KeyType::kAes;
      info.bits = static_cast<int>(o.value.size() * 8);
    } else {
      auto d = crypto::Describe(o.pkey.get());
      info.type = d->type;
      info.bits = d->bits;
      info.curve = d->curve;
    }
    return info;
  }
  bool HasWrapMechanism(uint64_t mech) override {
    if (not_offered.count(mech) != 0) return false;
    return mech != kCkmRsaAesKeyWrap || offer_native;
  }
  absl::StatusOr<ObjectRef> ImportRsaPublic(
      std::span<const uint8_t> n, std::span<const uint8_t> e) override {
    auto k = crypto::RsaPublicFromParts(n, e);
    if (!k.ok()) return k.status();
    return Add({Obj::kPublic, std::move(*k), SecretBytes(), false});
  }
  absl::StatusOr<ObjectRef> GenerateEphemeralAes(size_t bytes) override {
    return AddSecret(*crypto::RandomSecret(bytes));
  }
  absl::StatusOr<ObjectRef> CreateTestSecret(const SecretBytes& v,
                                             bool) override {
    return AddSecret(v);
  }
  absl::StatusOr<ObjectRef> GenerateTestEc(crypto::Curve c) override {
    return AddPrivate(*crypto::GenerateEc(c));
  }
  absl::StatusOr<std::vector<uint8_t>> WrapOaep(crypto::OaepHash h, ObjectRef w,
                                                ObjectRef t) override {
    if (oaep_sha1_only && h != crypto::OaepHash::kSha1) {
      return absl::InvalidArgumentError("C_WrapKey: CKR_ARGUMENTS_BAD (0x7)");
    }
    return crypto::RsaOaepEncrypt(
        objects_.at(w).pkey.get(), h,
        objects_.at(t).value.data(SecretAccess::Get()));
  }
  absl::StatusOr<std::vector<uint8_t>> WrapKwp(uint64_t, ObjectRef w,
                                               ObjectRef t) override {
    if (fail_kwp_wrap) return absl::InternalError("CKR_DEVICE_ERROR (0x30)");
    SecretBytes p = Payload(t);
    if (kwp_padding_defect) p.Resize((p.size() + 7) / 8 * 8);
    return crypto::KwpWrap(objects_.at(w).value, p);
  }
  absl::StatusOr<std::vector<uint8_t>> WrapRsaAes(crypto::OaepHash h,
                                                  ObjectRef kek,
                                                  ObjectRef t) override {
    auto ct = WrapToKek(objects_.at(kek).pkey.get(), Payload(t),
                        native_uses_sha256 ? crypto::OaepHash::kSha256 : h);
    return ct;
  }
  absl::StatusOr<KwpProbe> ProbeKwp(uint64_t mech) override {
    probed.push_back(mech);
    if (auto it = kwp_probes.find(mech); it != kwp_probes.end()) {
      return it->second;
    }
    KwpProbe p;
    p.unwrap_ok = true;
    p.wrap_ok = !kwp_padding_defect;
    p.padding_defect = kwp_padding_defect;
    return p;
  }
  absl::Status Destroy(ObjectRef o) override {
    destroyed.insert(o);
    objects_.erase(o);
    return absl::OkStatus();
  }
  std::string Description() override { return "fake"; }

 private:
  ObjectRef Add(Obj o) {
    objects_.emplace(next_, std::move(o));
    return next_++;
  }
  SecretBytes Payload(ObjectRef t) {
    auto& o = objects_.at(t);
    if (o.kind == Obj::kSecret) return o.value;
    return *crypto::PrivateKeyToPkcs8Der(o.pkey.get());
  }
  std::map<ObjectRef, Obj> objects_;
  ObjectRef next_ = 1;
  size_t targets_ = 0;
};

class ExportTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { kek_ = crypto::GenerateRsa(2048)->release(); }
  static void TearDownTestSuite() { EVP_PKEY_free(kek_); }
  static EVP_PKEY* kek_;
  FakeExportSession token_;
};
EVP_PKEY* ExportTest::kek_ = nullptr;

TEST_F(ExportTest, AesTwoStepOpensAndCleansUp) {
  SecretBytes key = *crypto::RandomSecret(32);
  ObjectRef t = token_.AddSecret(key);
  token_.set_targets(1);
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, {}));
  EXPECT_EQ(r.ciphertext.size(), 256u + 40u);
  EXPECT_THAT(r.route, ::testing::HasSubstr("two-step"));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek_, r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
  EXPECT_EQ(token_.live(), 0u);  // KEK copy, ephemeral key, probe objects
}

TEST_F(ExportTest, NativeRouteWhenOfferedAndCorrect) {
  token_.offer_native = true;
  SecretBytes key = *crypto::RandomSecret(16);
  ObjectRef t = token_.AddSecret(key);
  token_.set_targets(1);
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, {}));
  EXPECT_EQ(r.route, "native CKM_RSA_AES_KEY_WRAP");
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek_, r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, NativeIgnoringOaepHashFallsBackToTwoStep) {
  token_.offer_native = true;
  token_.native_uses_sha256 = true;
  ObjectRef t = token_.AddSecret(*crypto::RandomSecret(32));
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, {}));
  EXPECT_THAT(r.route, ::testing::HasSubstr("two-step"));
  ExportOptions only_native;
  only_native.route = Route::kNative;
  EXPECT_THAT(ExportFromToken(token_, t, kek_, only_native),
              StatusHasMessage("does not open as OAEP-SHA1"));
}

TEST_F(ExportTest, FailureNotExtractable) {
  ObjectRef t = token_.AddSecret(*crypto::RandomSecret(32), false);
  token_.set_targets(1);
  EXPECT_THAT(ExportFromToken(token_, t, kek_, {}),
              StatusHasMessage("not extractable"));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, PaddingDefectStillExportsAes) {
  token_.kwp_padding_defect = true;
  SecretBytes key = *crypto::RandomSecret(24);
  ObjectRef t = token_.AddSecret(key);
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, {}));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek_, r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
}

TEST_F(ExportTest, FailurePaddingDefectRefusesRsa) {
  token_.kwp_padding_defect = true;
  ObjectRef t = token_.AddPrivate(*crypto::GenerateRsa(2048));
  token_.set_targets(1);
  EXPECT_THAT(ExportFromToken(token_, t, kek_, {}),
              StatusHasMessage("zero-pads"));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, PaddingDefectDecidesEcByEncodingLength) {
  token_.kwp_padding_defect = true;
  // OpenSSL's PKCS#8 for P-256 (with public key) is 138 bytes: refused.
  ObjectRef p256 = token_.AddPrivate(*crypto::GenerateEc(crypto::Curve::kP256));
  EXPECT_THAT(ExportFromToken(token_, p256, kek_, {}),
              StatusHasMessage("138-byte PKCS#8"));
}

TEST_F(ExportTest, FailureKwpStepErrorCleansUp) {
  token_.fail_kwp_wrap = true;
  ObjectRef t = token_.AddSecret(*crypto::RandomSecret(32));
  token_.set_targets(1);
  EXPECT_THAT(ExportFromToken(token_, t, kek_, {}),
              StatusHasMessage("CKR_DEVICE_ERROR"));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, FailureKekNotRsa) {
  ObjectRef t = token_.AddSecret(*crypto::RandomSecret(32));
  auto ec = *crypto::GenerateEc(crypto::Curve::kP256);
  EXPECT_THAT(ExportFromToken(token_, t, ec.get(), {}),
              StatusHasMessage("KEK must be"));
}

// Known-answer results for ChooseKwp.
ExportSession::KwpProbe Passes() {
  ExportSession::KwpProbe p;
  p.wrap_ok = p.unwrap_ok = true;
  p.detail = "passes";
  return p;
}
ExportSession::KwpProbe Fails() {
  ExportSession::KwpProbe p;
  p.detail = "RFC 3394 with PKCS#7 padding";
  return p;
}
ExportSession::KwpProbe PaddingDefect() {
  ExportSession::KwpProbe p;
  p.unwrap_ok = p.padding_defect = true;
  p.detail = "zero-pads";
  return p;
}

TEST_F(ExportTest, ChooseKwpSkipsAPadMechanismThatIsNotRfc5649) {
  token_.kwp_probes = {{kCkmAesKeyWrapPad, Fails()},
                       {kCkmAesKeyWrapKwp, Passes()}};
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token_, std::nullopt));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapKwp);
  EXPECT_TRUE(c.listed);
  EXPECT_TRUE(c.probe.wrap_ok && c.probe.unwrap_ok);
  ASSERT_EQ(c.others.size(), 1u);
  EXPECT_THAT(c.others[0], ::testing::HasSubstr("(0x210A): fails"));
  EXPECT_THAT(c.others[0], ::testing::HasSubstr("PKCS#7"));
  EXPECT_EQ(token_.probed,
            (std::vector<uint64_t>{kCkmAesKeyWrapPad, kCkmAesKeyWrapKwp}));
}

TEST_F(ExportTest, ChooseKwpPrefersThePadMechanismWhenBothPass) {
  token_.kwp_probes = {{kCkmAesKeyWrapPad, Passes()},
                       {kCkmAesKeyWrapKwp, Passes()}};
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token_, std::nullopt));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapPad);
  EXPECT_TRUE(c.others.empty());
  // The first that passes ends the search.
  EXPECT_EQ(token_.probed, (std::vector<uint64_t>{kCkmAesKeyWrapPad}));
}

TEST_F(ExportTest, ChooseKwpTakesTheOnlyPaddingDefectOne) {
  // Rank 1 (unwraps right, wrap zero-pads) beats rank 0 wherever it is.
  for (bool defect_first : {true, false}) {
    SCOPED_TRACE(defect_first);
    FakeExportSession token;
    const uint64_t defect =
        defect_first ? kCkmAesKeyWrapPad : kCkmAesKeyWrapKwp;
    const uint64_t failing =
        defect_first ? kCkmAesKeyWrapKwp : kCkmAesKeyWrapPad;
    token.kwp_probes = {{defect, PaddingDefect()}, {failing, Fails()}};
    ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token, std::nullopt));
    EXPECT_EQ(c.mechanism, defect);
    EXPECT_TRUE(c.probe.padding_defect);
    EXPECT_FALSE(c.probe.wrap_ok);
    ASSERT_EQ(c.others.size(), 1u);
    EXPECT_THAT(c.others[0], ::testing::HasSubstr("fails"));
    EXPECT_EQ(token.probed.size(), 2u);
  }
}

TEST_F(ExportTest, ChooseKwpTakesTheFirstOfEqualRank) {
  struct Case {
    ExportSession::KwpProbe probe;
    const char* verdict;
  };
  // Both with the defect, or both failing: the first candidate, its
  // failure kept in its probe, the other listed.
  for (const Case& c :
       {Case{PaddingDefect(), "wrap zero-pads"}, Case{Fails(), "fails"}}) {
    SCOPED_TRACE(c.verdict);
    FakeExportSession token;
    token.kwp_probes = {{kCkmAesKeyWrapPad, c.probe},
                        {kCkmAesKeyWrapKwp, c.probe}};
    ASSERT_OK_AND_ASSIGN(KwpChoice chosen, ChooseKwp(token, std::nullopt));
    EXPECT_EQ(chosen.mechanism, kCkmAesKeyWrapPad);
    EXPECT_EQ(chosen.probe.detail, c.probe.detail);
    ASSERT_EQ(chosen.others.size(), 1u);
    EXPECT_THAT(chosen.others[0],
                ::testing::HasSubstr(std::string("(0x210B): ") + c.verdict));
  }
}

TEST_F(ExportTest, ChooseKwpProbesOnlyTheRequestedMechanism) {
  token_.kwp_probes = {{kCkmAesKeyWrapPad, Passes()},
                       {kCkmAesKeyWrapKwp, Fails()}};
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token_, kCkmAesKeyWrapKwp));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapKwp);
  EXPECT_FALSE(c.probe.wrap_ok);  // reported as it is, not replaced
  EXPECT_TRUE(c.others.empty());
  EXPECT_EQ(token_.probed, (std::vector<uint64_t>{kCkmAesKeyWrapKwp}));
}

TEST_F(ExportTest, ChooseKwpSkipsAMechanismNotOffered) {
  token_.not_offered = {kCkmAesKeyWrapPad};
  token_.kwp_probes = {{kCkmAesKeyWrapKwp, Passes()}};
  ASSERT_OK_AND_ASSIGN(KwpChoice c, ChooseKwp(token_, std::nullopt));
  EXPECT_EQ(c.mechanism, kCkmAesKeyWrapKwp);
  ASSERT_EQ(c.others.size(), 1u);
  EXPECT_THAT(c.others[0], ::testing::HasSubstr("not offered"));
  EXPECT_EQ(token_.probed, (std::vector<uint64_t>{kCkmAesKeyWrapKwp}));
}

TEST_F(ExportTest, TwoStepExportUsesTheChosenMechanism) {
  token_.kwp_probes = {{kCkmAesKeyWrapPad, Fails()},
                       {kCkmAesKeyWrapKwp, Passes()}};
  SecretBytes key = *crypto::RandomSecret(32);
  ObjectRef t = token_.AddSecret(key);
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, {}));
  EXPECT_THAT(r.route, ::testing::HasSubstr("CKM_AES_KEY_WRAP_KWP (0x210B)"));
  ASSERT_OK_AND_ASSIGN(SecretBytes back, UnwrapWithKek(kek_, r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
}

TEST_F(ExportTest, HybridSha256OpensWithSha256) {
  SecretBytes key = *crypto::RandomSecret(32);
  ObjectRef t = token_.AddSecret(key);
  token_.set_targets(1);
  ExportOptions o;
  o.wrap = {crypto::OaepHash::kSha256, true};
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, o));
  EXPECT_THAT(r.route, ::testing::HasSubstr("two-step: RSA-OAEP-SHA256 + "));
  EXPECT_FALSE(UnwrapWithKek(kek_, r.ciphertext).ok());  // not SHA-1
  ASSERT_OK_AND_ASSIGN(
      SecretBytes back,
      UnwrapWithKek(kek_, r.ciphertext, crypto::OaepHash::kSha256));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, DirectAesIsOneOaepBlock) {
  SecretBytes key = *crypto::RandomSecret(16);
  ObjectRef t = token_.AddSecret(key);
  token_.set_targets(1);
  ExportOptions o;
  o.wrap = {crypto::OaepHash::kSha512, false};
  ASSERT_OK_AND_ASSIGN(ExportResult r, ExportFromToken(token_, t, kek_, o));
  EXPECT_EQ(r.route, "direct: RSA-OAEP-SHA512 in the token");
  ASSERT_EQ(r.ciphertext.size(), 256u);
  ASSERT_OK_AND_ASSIGN(
      SecretBytes back,
      crypto::RsaOaepDecrypt(kek_, crypto::OaepHash::kSha512, r.ciphertext));
  EXPECT_TRUE(back.ConstantTimeEquals(key));
  EXPECT_EQ(token_.live(), 0u);
}

TEST_F(ExportTest, FailureTokenWithoutOaepHashNamesTheMechanism) {
  token_.oaep_sha1_only = true;
  ObjectRef t = token_.AddSecret(*crypto::RandomSecret(32));
  token_.set_targets(1);
  for (bool hybrid : {true, false}) {
    ExportOptions o;
    o.wrap = {crypto::OaepHash::kSha256, hybrid};
    EXPECT_THAT(ExportFromToken(token_, t, kek_, o),
                StatusHasMessage("token lacks CKM_RSA_PKCS_OAEP with SHA-256 "
                                 "(CKG_MGF1_SHA256)"));
  }
  EXPECT_EQ(token_.live(), 0u);
  // SHA-1 still works on such a token.
  EXPECT_OK(ExportFromToken(token_, t, kek_, {}).status());
}

TEST_F(ExportTest, FailureDirectOfAPrivateKey) {
  ObjectRef t = token_.AddPrivate(*crypto::GenerateEc(crypto::Curve::kP256));
  token_.set_targets(1);
  ExportOptions o;
  o.wrap = {crypto::OaepHash::kSha1, false};
  EXPECT_THAT(ExportFromToken(token_, t, kek_, o),
              StatusHasMessage("wraps only secret (AES) keys directly"));
  EXPECT_EQ(token_.live(), 0u);
}

}  // namespace
}  // namespace keyferry::byok
