// Several keyferryd nodes on one store (docs/storage.md §6.5): two KeyVaults
// share one MemoryKeyStore, as two nodes share one database, and a store
// hook lets one node act at the exact moment the other is between its read
// and its write. Each test checks what the database resolves: both updates
// kept, one rotation, a dead node's lease taken over without a second
// rotation.
#include <functional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/testing.h"
#include "crypto/sign.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "vault/key_vault.h"

namespace keyferry::vault {
namespace {

using ::testing::HasSubstr;

constexpr char kVault[] = "myvault";
constexpr int64_t kDay = 86400;
constexpr char kPolicy[] =
    R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P7D"},)"
    R"("action":{"type":"Rotate"}}]})";

// RacingStore runs `before_update` / `before_claim` once, just before the
// next UpdateVersion / ClaimRotation reaches the data: the other node's
// request landing between this node's read and its write.
class RacingStore : public store::MemoryKeyStore {
 public:
  std::function<void()> before_update;
  std::function<void()> before_claim;
  int updates = 0;
  int64_t last_lease = 0;  // lease_until of the last ClaimRotation

  absl::Status UpdateVersion(const store::KeyVersion& key,
                             const store::KeyVersion& before) override {
    ++updates;
    if (auto f = std::exchange(before_update, nullptr)) f();
    return MemoryKeyStore::UpdateVersion(key, before);
  }
  absl::StatusOr<bool> ClaimRotation(std::string_view vault,
                                     std::string_view name, int64_t due,
                                     int64_t lease_until) override {
    if (auto f = std::exchange(before_claim, nullptr)) f();
    last_lease = lease_until;
    return MemoryKeyStore::ClaimRotation(vault, name, due, lease_until);
  }
};

class KeyVaultNodesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> mk, crypto::RandomBytes(32));
    ASSERT_OK_AND_ASSIGN(custody_,
                         custody::SoftwareCustody::New(SecretBytes(mk)));
    for (auto& node : nodes_) {
      node = std::make_unique<KeyVault>(&store_, custody_.get(),
                                        [this] { return now_; },
                                        VaultOptions{.recoverable_days = 7});
    }
  }
  KeyVault& a() { return *nodes_[0]; }
  KeyVault& b() { return *nodes_[1]; }

  static CreateKeyRequest Ec() {
    CreateKeyRequest r;
    r.kty = Kty::kEc;
    r.curve = crypto::Curve::kP256;
    return r;
  }

  // MakeRotating creates `name` (through node A) with kPolicy: due 7 days
  // after its creation.
  void MakeRotating(const char* name) {
    ASSERT_OK(a().Create(kVault, name, Ec()).status());
    ASSERT_OK(
        a().SetRotationPolicy(kVault, name, kPolicy, "https://v/keys/r")
            .status());
  }

  int Versions(std::string_view name) {
    auto all = store_.AllVersions(kVault, name);
    EXPECT_OK(all.status());
    return all.ok() ? static_cast<int>(all->size()) : -1;
  }

  int64_t now_ = 1'700'000'000;
  RacingStore store_;
  std::unique_ptr<custody::SoftwareCustody> custody_;
  std::unique_ptr<KeyVault> nodes_[2];
};

TEST_F(KeyVaultNodesTest, ConcurrentUpdatesOfDifferentFieldsBothTakeEffect) {
  ASSERT_OK(a().Create(kVault, "k", Ec()).status());
  KeyProperties disable;
  disable.enabled = false;
  KeyProperties tag;
  tag.tags_json = R"({"owner":"ops"})";
  // Node A read the key (enabled, no tags); node B disables it before A
  // writes. A's write must not bring `enabled` back.
  store_.before_update = [&] {
    ASSERT_OK(b().Update(kVault, "k", "", disable).status());
  };
  ASSERT_OK_AND_ASSIGN(store::KeyVersion out, a().Update(kVault, "k", "", tag));
  EXPECT_FALSE(out.enabled);
  EXPECT_EQ(out.tags_json, R"({"owner":"ops"})");
  ASSERT_OK_AND_ASSIGN(store::KeyVersion stored, b().Get(kVault, "k", ""));
  EXPECT_FALSE(stored.enabled);
  EXPECT_EQ(stored.tags_json, R"({"owner":"ops"})");
  // A's first write lost, B's won, A's second won.
  EXPECT_EQ(store_.updates, 3);
}

TEST_F(KeyVaultNodesTest, UpdateThatKeepsLosingIsAConflictAndChangesNothing) {
  ASSERT_OK(a().Create(kVault, "k", Ec()).status());
  KeyProperties tag;
  tag.tags_json = R"({"n":"0"})";
  int other_writes = 0;
  // Before each of A's writes another node changes the key again.
  std::function<void()> interfere = [&] {
    KeyProperties other;
    other.tags_json = absl::StrCat(R"({"n":")", ++other_writes, R"("})");
    ++now_;
    ASSERT_OK(b().Update(kVault, "k", "", other).status());
    store_.before_update = interfere;  // B's own write consumed the hook
  };
  store_.before_update = interfere;
  absl::Status s = a().Update(kVault, "k", "", tag).status();
  store_.before_update = nullptr;
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_THAT(s.message(), HasSubstr("changed by other requests"));
  EXPECT_EQ(other_writes, KeyVault::kUpdateAttempts);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion stored, b().Get(kVault, "k", ""));
  EXPECT_EQ(stored.tags_json, absl::StrCat(R"({"n":")", other_writes, R"("})"));
}

TEST_F(KeyVaultNodesTest, TwoNodesRunningDueWorkRotateOnce) {
  MakeRotating("rot");
  now_ += 7 * kDay;
  // Both nodes found the key due; B claims and rotates it while A is about
  // to claim.
  std::pair<int, int> b_work;
  store_.before_claim = [&] {
    ASSERT_OK_AND_ASSIGN(b_work, b().RunDueWork());
  };
  ASSERT_OK_AND_ASSIGN(auto a_work, a().RunDueWork());
  EXPECT_EQ(b_work.first, 1);
  EXPECT_EQ(a_work.first, 0);
  EXPECT_EQ(Versions("rot"), 2);
  ASSERT_OK_AND_ASSIGN(store::KeyName n, store_.GetName(kVault, "rot"));
  EXPECT_EQ(n.next_rotation, now_ + 7 * kDay);  // rescheduled, no lease left
}

TEST_F(KeyVaultNodesTest, LeaseOfADeadNodeIsTakenOverWithoutRotatingTwice) {
  MakeRotating("rot");
  now_ += 7 * kDay;
  ASSERT_OK_AND_ASSIGN(store::KeyName n, store_.GetName(kVault, "rot"));
  ASSERT_TRUE(n.next_rotation.has_value());
  // Node A claimed, rotated, and died before it rescheduled: the lease is
  // what the store holds.
  const int64_t lease = now_ + KeyVault::kRotationLease;
  ASSERT_OK_AND_ASSIGN(bool claimed, store_.ClaimRotation(
                                         kVault, "rot", *n.next_rotation, lease));
  ASSERT_TRUE(claimed);
  ASSERT_OK(a().Rotate(kVault, "rot").status());
  ASSERT_OK(store_.SetRotationPolicy(kVault, "rot", n.rotation_policy_json,
                                     lease));
  // While the lease holds nobody takes it.
  ASSERT_OK_AND_ASSIGN(auto early, b().RunDueWork());
  EXPECT_EQ(early.first, 0);
  EXPECT_EQ(Versions("rot"), 2);
  // After it, B takes it over, sees the rotation done and only reschedules.
  now_ = lease;
  ASSERT_OK_AND_ASSIGN(auto late, b().RunDueWork());
  EXPECT_EQ(late.first, 0);
  EXPECT_EQ(Versions("rot"), 2);
  ASSERT_OK_AND_ASSIGN(store::KeyName after, store_.GetName(kVault, "rot"));
  ASSERT_TRUE(after.next_rotation.has_value());
  EXPECT_GT(*after.next_rotation, now_);
}

// A node whose claim failed (the store answered an error) must not move a
// schedule it does not hold: here B has rotated meanwhile, and A pulling
// next_rotation to its 1 s retry would make the key due again at once.
TEST_F(KeyVaultNodesTest, FailedClaimLeavesTheOtherNodesScheduleAlone) {
  MakeRotating("rot");
  now_ += 7 * kDay;
  store_.before_claim = [&] {
    ASSERT_OK(b().RunDueWork().status());  // B claims, rotates, reschedules
    store_.FailOp("ClaimRotation",
                  absl::UnavailableError("store: connection lost"));
  };
  ASSERT_OK_AND_ASSIGN(auto a_work, a().RunDueWork());
  EXPECT_EQ(a_work.first, 0);
  ASSERT_EQ(a().DueWorkFailures().size(), 1u);
  store_.ClearFaults();
  ASSERT_OK_AND_ASSIGN(store::KeyName n, store_.GetName(kVault, "rot"));
  EXPECT_EQ(n.next_rotation, now_ + 7 * kDay);  // B's schedule stands
  now_ += 2;
  ASSERT_OK_AND_ASSIGN(auto again, a().RunDueWork());
  EXPECT_EQ(again.first, 0);
  EXPECT_EQ(Versions("rot"), 2);
}

// The lease runs from the moment of the claim: a run that spent longer than
// a lease on earlier keys still hands out a lease in the future.
TEST_F(KeyVaultNodesTest, LeaseRunsFromTheClaimNotFromTheStartOfTheRun) {
  MakeRotating("rot1");
  MakeRotating("rot2");
  now_ += 7 * kDay;
  // The first key's rotation takes two leases' time (a slow token).
  store_.before_claim = [&] { now_ += 2 * KeyVault::kRotationLease; };
  ASSERT_OK_AND_ASSIGN(auto work, a().RunDueWork());
  EXPECT_EQ(work.first, 2);
  // The second key's lease (the last claim) runs from its own claim.
  EXPECT_EQ(store_.last_lease, now_ + KeyVault::kRotationLease);
  EXPECT_EQ(Versions("rot1"), 2);
  EXPECT_EQ(Versions("rot2"), 2);
}

TEST_F(KeyVaultNodesTest, DisableOnOneNodeIsRefusedByTheOtherAtOnce) {
  ASSERT_OK(a().Create(kVault, "k", Ec()).status());
  const std::vector<uint8_t> digest(32, 7);
  ASSERT_OK(b().Sign(kVault, "k", "", crypto::SignAlg::kEs256, digest).status());
  KeyProperties disable;
  disable.enabled = false;
  ASSERT_OK(a().Update(kVault, "k", "", disable).status());
  EXPECT_FALSE(b().Sign(kVault, "k", "", crypto::SignAlg::kEs256, digest).ok());
}

}  // namespace
}  // namespace keyferry::vault
