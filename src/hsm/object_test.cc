#include "hsm/object.h"

#include <vector>

#include "base/testing.h"
#include "hsm/mechanisms.h"

namespace keyferry::hsm {
namespace {

struct RecordingDestroyer : ObjectDestroyer {
  absl::Status Destroy(ObjectHandle h) override {
    destroyed.push_back(h);
    return result;
  }
  std::vector<ObjectHandle> destroyed;
  absl::Status result = absl::OkStatus();
};

TEST(ScopedObjectTest, DestroysOnScopeExit) {
  RecordingDestroyer d;
  { ScopedObject o(d, 7); }
  EXPECT_EQ(d.destroyed, std::vector<ObjectHandle>{7});
}

TEST(ScopedObjectTest, ReleasedObjectIsKept) {
  RecordingDestroyer d;
  {
    ScopedObject o(d, 7);
    EXPECT_EQ(o.Release(), 7u);
    EXPECT_FALSE(o.owns());
  }
  EXPECT_TRUE(d.destroyed.empty());
}

TEST(ScopedObjectTest, ResetDestroysOnceAndReturnsTheStatus) {
  RecordingDestroyer d;
  d.result = absl::InternalError("gone");
  ScopedObject o(d, 3);
  EXPECT_EQ(o.Reset().code(), absl::StatusCode::kInternal);
  EXPECT_OK(o.Reset());
  EXPECT_EQ(d.destroyed.size(), 1u);
}

TEST(ScopedObjectTest, MoveTransfersOwnership) {
  RecordingDestroyer d;
  {
    ScopedObject a(d, 1);
    ScopedObject b(std::move(a));
    EXPECT_FALSE(a.owns());  // NOLINT(bugprone-use-after-move): the point
    ScopedObject c(d, 2);
    c = std::move(b);  // destroys 2, takes 1
    EXPECT_EQ(d.destroyed, std::vector<ObjectHandle>{2});
  }
  EXPECT_EQ(d.destroyed, (std::vector<ObjectHandle>{2, 1}));
}

TEST(MechanismsTest, DigestInfoPrefixesTheDigest) {
  const std::vector<uint8_t> d(32, 0xab);
  std::vector<uint8_t> info = Pkcs1DigestInfo(d);
  ASSERT_EQ(info.size(), 19u + 32u);
  EXPECT_EQ(info[0], 0x30);
  EXPECT_EQ(info[14], 0x01);  // id-sha256
  EXPECT_EQ(info[18], 0x20);
  EXPECT_EQ(info.back(), 0xab);
  EXPECT_EQ(Pkcs1DigestInfo(std::vector<uint8_t>(48))[14], 0x02);
  EXPECT_EQ(Pkcs1DigestInfo(std::vector<uint8_t>(64))[14], 0x03);
}

TEST(MechanismsTest, ParametersOutliveTheirBuilderAndMoves) {
  const std::vector<uint8_t> iv(12, 1), aad = {1, 2, 3};
  OwnedMechanism m = AesGcm(iv, aad);
  OwnedMechanism copy = m;
  EXPECT_EQ(copy.get().type, kAesGcm);
  EXPECT_NE(copy.get().param, nullptr);
  EXPECT_EQ(copy.get().param, m.get().param);
  EXPECT_EQ(RsaAesKeyWrap(256).get().type, kRsaAesKeyWrap);
  EXPECT_EQ(RsaOaep(crypto::OaepHash::kSha1).get().type, kRsaPkcsOaep);
  EXPECT_GT(RsaPss(32).get().param_len, 0u);
  EXPECT_EQ(AesCbc(iv, /*pad=*/true).type, kAesCbcPad);
}

}  // namespace
}  // namespace keyferry::hsm
