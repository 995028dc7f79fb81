// KeyVault's failure paths, on the seams: a MemoryKeyStore whose commits or
// reads fail on demand, and a FaultyCustody over a real software custody.
// Each test checks the answer KeyVault gives (the status the API maps: its
// code and message) and that nothing changed (keys, versions, deleted keys).
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/testing.h"
#include "byok/blob.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "vault/faulty_custody.h"
#include "vault/key_vault.h"

namespace keyferry::vault {
namespace {

constexpr char kVault[] = "myvault";

class KeyVaultFailureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> mk, crypto::RandomBytes(32));
    ASSERT_OK_AND_ASSIGN(real_, custody::SoftwareCustody::New(SecretBytes(mk)));
    custody_ = std::make_unique<FaultyCustody>(real_.get());
    vault_ = std::make_unique<KeyVault>(
        &store_, custody_.get(), [this] { return now_; },
        VaultOptions{.recoverable_days = 7});
  }

  static CreateKeyRequest Ec() {
    CreateKeyRequest r;
    r.kty = Kty::kEc;
    r.curve = crypto::Curve::kP256;
    return r;
  }

  // Snapshot describes everything a client can list: active keys with all
  // their versions and attributes, and deleted keys.
  std::string Snapshot() {
    std::string out;
    auto keys = vault_->List(kVault, "", 100);
    EXPECT_OK(keys.status());
    if (!keys.ok()) return "";
    for (const store::KeyVersion& k : keys->items) {
      auto versions = vault_->ListVersions(kVault, k.name, "", 100);
      EXPECT_OK(versions.status());
      if (!versions.ok()) continue;
      for (const store::KeyVersion& v : versions->items) {
        absl::StrAppend(&out, v.name, "/", v.version, " en=", v.enabled,
                        " upd=", v.updated, " tags=", v.tags_json,
                        " exp=", v.expires.value_or(-1), "\n");
      }
    }
    auto deleted = vault_->ListDeleted(kVault, "", 100);
    EXPECT_OK(deleted.status());
    if (deleted.ok()) {
      for (const auto& [name, latest] : deleted->items) {
        absl::StrAppend(&out, "deleted ", name.name, "/", latest.version, "\n");
      }
    }
    return out;
  }

  // FailNextCommit arms the store's next commit to fail as a full disk does.
  void FailNextCommit() { store_.FailCommit(DiskFull()); }
  static absl::Status DiskFull() {
    return absl::UnavailableError("store: step: database or disk is full (13)");
  }

  int64_t now_ = 1'700'000'000;
  store::MemoryKeyStore store_;
  std::unique_ptr<custody::SoftwareCustody> real_;
  std::unique_ptr<FaultyCustody> custody_;
  std::unique_ptr<KeyVault> vault_;
};

// A purge (asked for, or due) drops the custody's cached keys; a purge that
// fails does not need to.
TEST_F(KeyVaultFailureTest, PurgeForgetsCachedKeys) {
  ASSERT_OK(vault_->Create(kVault, "a", Ec()).status());
  ASSERT_OK(vault_->Create(kVault, "b", Ec()).status());
  ASSERT_OK(vault_->Delete(kVault, "a").status());
  ASSERT_OK(vault_->Delete(kVault, "b").status());
  EXPECT_EQ(custody_->forgets(), 0);
  ASSERT_OK(vault_->Purge(kVault, "a"));
  EXPECT_EQ(custody_->forgets(), 1);
  EXPECT_FALSE(vault_->Purge(kVault, "a").ok());
  EXPECT_EQ(custody_->forgets(), 1);
  now_ += int64_t{8} * 86400;  // b's scheduled purge date has passed
  ASSERT_OK_AND_ASSIGN(auto work, vault_->RunDueWork());
  EXPECT_EQ(work.second, 1);
  EXPECT_EQ(custody_->forgets(), 2);
}

TEST_F(KeyVaultFailureTest, CreateCommitFailsChangesNothing) {
  ASSERT_OK(vault_->Create(kVault, "a", Ec()).status());
  const std::string before = Snapshot();
  FailNextCommit();
  EXPECT_EQ(vault_->Create(kVault, "b", Ec()).status(), DiskFull());
  FailNextCommit();
  EXPECT_EQ(vault_->Create(kVault, "a", Ec()).status(), DiskFull());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KeyVaultFailureTest, ImportCommitFailsChangesNothing) {
  const std::string before = Snapshot();
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr key,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ImportKeyRequest r;
  r.kty = Kty::kEc;
  r.private_key = std::move(key);
  FailNextCommit();
  EXPECT_EQ(vault_->Import(kVault, "imp", std::move(r)).status(), DiskFull());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KeyVaultFailureTest, CustodyFailsDuringCreateOrImport) {
  ASSERT_OK(vault_->Create(kVault, "a", Ec()).status());
  const std::string before = Snapshot();
  const absl::Status token = absl::UnavailableError("pkcs11: token removed");
  custody_->Fail(FaultyCustody::Call::kGenerate, token);
  EXPECT_EQ(vault_->Create(kVault, "b", Ec()).status(), token);
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr key,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ImportKeyRequest r;
  r.kty = Kty::kEc;
  r.private_key = std::move(key);
  custody_->Fail(FaultyCustody::Call::kImportPrivate, token);
  EXPECT_EQ(vault_->Import(kVault, "imp", std::move(r)).status(), token);
  // The record authentication after the key is made: still nothing stored.
  custody_->Fail(FaultyCustody::Call::kAuthenticateRecord, token);
  EXPECT_FALSE(vault_->Create(kVault, "c", Ec()).ok());
  EXPECT_EQ(Snapshot(), before);
  EXPECT_EQ(store_.commits(), 1);
}

TEST_F(KeyVaultFailureTest, ByokImportCommitOrCustodyFailsChangesNothing) {
  CreateKeyRequest kek_req;
  kek_req.kty = Kty::kRsaHsm;
  kek_req.properties.key_ops = std::vector<KeyOp>{KeyOp::kImport};
  ASSERT_OK_AND_ASSIGN(store::KeyVersion kek,
                       vault_->Create(kVault, "kek", kek_req));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr kek_pub,
                       crypto::ParsePublicKey(AsBytes(kek.public_jwk)));
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr target,
                       crypto::GenerateEc(crypto::Curve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes pkcs8,
                       crypto::PrivateKeyToPkcs8Der(target.get()));
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> ct,
                       byok::WrapToKek(kek_pub.get(), pkcs8));
  byok::Blob blob;
  blob.kid = "https://myvault.localhost/keys/kek/" + kek.version;
  blob.ciphertext = ct;
  const std::string text = byok::SerializeBlob(blob);
  auto request = [&] {
    ImportKeyRequest r;
    r.kty = Kty::kEcHsm;
    r.curve = crypto::Curve::kP256;
    r.vault_host = "myvault.localhost";
    r.key_hsm = std::vector<uint8_t>(text.begin(), text.end());
    return r;
  };
  const std::string before = Snapshot();
  FailNextCommit();
  EXPECT_EQ(vault_->Import(kVault, "byok", request()).status(), DiskFull());
  const absl::Status token = absl::UnavailableError("pkcs11: session lost");
  custody_->Fail(FaultyCustody::Call::kImportByok, token);
  EXPECT_EQ(vault_->Import(kVault, "byok", request()).status(), token);
  EXPECT_EQ(Snapshot(), before);
  // With the seams healed the same request goes through.
  EXPECT_OK(vault_->Import(kVault, "byok", request()).status());
}

TEST_F(KeyVaultFailureTest, RotateAndUpdateCommitFailsChangesNothing) {
  ASSERT_OK(vault_->Create(kVault, "k", Ec()).status());
  const std::string before = Snapshot();
  now_ += 10;
  FailNextCommit();
  EXPECT_EQ(vault_->Rotate(kVault, "k").status(), DiskFull());
  KeyProperties p;
  p.enabled = false;
  p.tags_json = R"({"a":"b"})";
  FailNextCommit();
  EXPECT_EQ(vault_->Update(kVault, "k", "", p).status(), DiskFull());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KeyVaultFailureTest, DeletePurgeRecoverCommitFailsChangesNothing) {
  ASSERT_OK(vault_->Create(kVault, "k", Ec()).status());
  ASSERT_OK(vault_->Create(kVault, "gone", Ec()).status());
  ASSERT_OK(vault_->Delete(kVault, "gone").status());
  const std::string before = Snapshot();
  FailNextCommit();
  EXPECT_EQ(vault_->Delete(kVault, "k").status(), DiskFull());
  FailNextCommit();
  EXPECT_EQ(vault_->Purge(kVault, "gone"), DiskFull());
  FailNextCommit();
  EXPECT_EQ(vault_->Recover(kVault, "gone").status(), DiskFull());
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(KeyVaultFailureTest, RestoreCommitOrRebindFailsChangesNothing) {
  ASSERT_OK(vault_->Create(kVault, "k", Ec()).status());
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> backup,
                       vault_->Backup(kVault, "k"));
  ASSERT_OK(vault_->Delete(kVault, "k").status());
  ASSERT_OK(vault_->Purge(kVault, "k"));
  const std::string before = Snapshot();
  FailNextCommit();
  EXPECT_EQ(vault_->Restore(kVault, backup).status(), DiskFull());
  const absl::Status token = absl::InternalError("custody: unwrap failed");
  custody_->Fail(FaultyCustody::Call::kUnprotectBackup, token);
  EXPECT_EQ(vault_->Restore(kVault, backup).status(), token);
  EXPECT_EQ(Snapshot(), before);
  EXPECT_OK(vault_->Restore(kVault, backup).status());
}

TEST_F(KeyVaultFailureTest, StoreDataLossIsAnsweredAndChangesNothing) {
  ASSERT_OK(vault_->Create(kVault, "k", Ec()).status());
  const std::string before = Snapshot();
  const absl::Status damaged = absl::DataLossError("store: damaged record");
  store_.FailReads(damaged);
  EXPECT_EQ(vault_->Get(kVault, "k", "").status(), damaged);
  std::vector<uint8_t> digest(32, 1);
  EXPECT_EQ(
      vault_->Sign(kVault, "k", "", crypto::SignAlg::kEs256, digest).status(),
      damaged);
  EXPECT_EQ(vault_->List(kVault, "", 10).status(), damaged);
  EXPECT_FALSE(vault_->Rotate(kVault, "k").ok());
  EXPECT_FALSE(vault_->Delete(kVault, "k").ok());
  store_.ClearFaults();
  EXPECT_EQ(Snapshot(), before);
}

}  // namespace
}  // namespace keyferry::vault
