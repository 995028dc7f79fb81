// Authenticated records and the store-to-custody binding
// (docs/security-model.md §6): a row changed on disk by someone without the
// master key is refused, never used, and a store opens only with the
// custody it was made with.
#include "vault/attest.h"

#include "base/encoding.h"
#include "base/testing.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/sqlite_store.h"
#include "vault/key_vault.h"
#include "vault/testing.h"

namespace keyferry::vault {
namespace {

std::unique_ptr<custody::SoftwareCustody> NewCustody() {
  std::vector<uint8_t> mk = crypto::RandomBytes(32).value();
  return custody::SoftwareCustody::New(SecretBytes(mk)).value();
}

class AttestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(t_,
                         TestVault::New([] { return int64_t{1'700'000'000}; }));
    store_ = &t_->store();
    custody_ = &t_->custody();
    vault_ = &t_->vault();
    path_ = t_->db_path();
  }

  // Sql changes the database behind keyferryd's back (TamperSql). The
  // statement must change at least one row, so no test passes because a
  // tamper did nothing (unless `must_change` is false).
  void Sql(const std::string& sql, bool must_change = true) {
    ASSERT_OK_AND_ASSIGN(int changed, TamperSql(path_, sql));
    if (must_change) {
      ASSERT_GT(changed, 0) << sql;
    }
  }

  store::KeyVersion CreateEc(const std::string& name) {
    CreateKeyRequest r;
    r.kty = Kty::kEcHsm;
    r.curve = crypto::Curve::kP256;
    return vault_->Create("myvault", name, r).value();
  }

  std::unique_ptr<TestVault> t_;
  std::string path_;
  store::SqliteKeyStore* store_ = nullptr;
  custody::SoftwareCustody* custody_ = nullptr;
  KeyVault* vault_ = nullptr;
};

TEST_F(AttestTest, AttestInputCoversEveryField) {
  store::KeyVersion k = CreateEc("k");
  const std::vector<uint8_t> base = AttestInput(k);
  std::vector<std::function<void(store::KeyVersion&)>> edits = {
      [](auto& v) { v.vault = "other"; },
      [](auto& v) { v.name = "K"; },
      [](auto& v) { v.version[0] ^= 1; },
      [](auto& v) { v.kty = "EC"; },
      [](auto& v) { v.bits = 384; },
      [](auto& v) { v.curve = "P-384"; },
      [](auto& v) { v.key_ops.push_back("decrypt"); },
      [](auto& v) { v.public_jwk += " "; },
      [](auto& v) { v.blob.back() ^= 1; },
      [](auto& v) { v.enabled = !v.enabled; },
      [](auto& v) { v.not_before = 0; },
      [](auto& v) { v.expires = 1; },
      [](auto& v) { v.created += 1; },
      [](auto& v) { v.updated += 1; },
      [](auto& v) { v.exportable = !v.exportable; },
      [](auto& v) { v.tags_json = R"({"a":"b"})"; },
      [](auto& v) { v.managed = !v.managed; },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    store::KeyVersion changed = k;
    edits[i](changed);
    EXPECT_NE(AttestInput(changed), base) << "edit " << i;
  }
  store::KeyVersion same = k;
  same.attest.clear();  // the tag itself is not covered
  EXPECT_EQ(AttestInput(same), base);
}

TEST_F(AttestTest, StoredVersionsCarryAVerifyingTag) {
  store::KeyVersion k = CreateEc("k");
  ASSERT_OK_AND_ASSIGN(store::KeyVersion stored,
                       store_->GetVersion("myvault", "k", ""));
  EXPECT_EQ(stored.attest.size(), 32u);
  EXPECT_OK(CheckAttested(*custody_, stored));
  // Another deployment's custody does not accept it.
  auto other = NewCustody();
  EXPECT_THAT(CheckAttested(*other, stored),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Each column that decides what a key is or may do, changed on disk: every
// read and every use refuses the key (DataLoss), and nothing is changed by
// the refusal.
TEST_F(AttestTest, FailureRowAlteredOnDiskIsNeverUsed) {
  store::KeyVersion victim = CreateEc("victim");
  store::KeyVersion attacker = CreateEc("attacker");
  // Several statements are split over two lines on purpose.
  const std::vector<std::string> tamper = {
      // widen key_ops; NOLINTNEXTLINE(bugprone-suspicious-missing-comma)
      "UPDATE key_versions SET key_ops='sign,verify,decrypt' "
      "WHERE name_lc='victim'",
      // publish another key's public key (so encrypt/verify use it)
      "UPDATE key_versions SET public_jwk=(SELECT public_jwk FROM "
      "key_versions WHERE name_lc='attacker') WHERE name_lc='victim'",
      // re-enable / extend validity
      "UPDATE key_versions SET enabled=1, exp=NULL WHERE name_lc='victim'",
      "UPDATE key_versions SET nbf=0 WHERE name_lc='victim'",
      "UPDATE key_versions SET kty='EC', curve='P-384', bits=384 "
      "WHERE name_lc='victim'",
      "UPDATE key_versions SET exportable=1 WHERE name_lc='victim'",
      // drop the tag
      "UPDATE key_versions SET attest=x'' WHERE name_lc='victim'",
      // another row's tag
      "UPDATE key_versions SET attest=(SELECT attest FROM key_versions "
      "WHERE name_lc='attacker') WHERE name_lc='victim'",
  };
  // Disable the victim first (through the vault), so re-enabling is a
  // meaningful attack.
  KeyProperties off;
  off.enabled = false;
  off.expires = 1'800'000'000;
  ASSERT_OK(vault_->Update("myvault", "victim", "", off).status());
  Sql("CREATE TABLE authentic AS SELECT * FROM key_versions "
      "WHERE name_lc='victim'",
      /*must_change=*/false);
  for (const std::string& sql : tamper) {
    SCOPED_TRACE(sql);
    Sql(sql);
    EXPECT_THAT(vault_->Get("myvault", "victim", ""),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->Sign("myvault", "victim", "", crypto::SignAlg::kEs256,
                             std::vector<uint8_t>(32, 1)),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->Verify("myvault", "victim", "", crypto::SignAlg::kEs256,
                               std::vector<uint8_t>(32, 1),
                               std::vector<uint8_t>(64, 1)),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->List("myvault", "", 25),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->ListVersions("myvault", "victim", "", 25),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->Backup("myvault", "victim"),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->Update("myvault", "victim", "", KeyProperties{}),
                StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_THAT(vault_->Rotate("myvault", "victim"),
                StatusIs(absl::StatusCode::kDataLoss));
    // The refusals changed nothing: no new version, the altered row as
    // the attacker left it.
    ASSERT_OK_AND_ASSIGN(auto versions,
                         store_->AllVersions("myvault", "victim"));
    EXPECT_EQ(versions.size(), 1u);
    // Put the authentic row back for the next attack: it is accepted.
    Sql("DELETE FROM key_versions WHERE name_lc='victim'; "
        "INSERT INTO key_versions SELECT * FROM authentic");
    ASSERT_OK(vault_->Get("myvault", "victim", "").status());
  }
  // The attacker's own key is untouched throughout.
  EXPECT_OK(vault_->Get("myvault", "attacker", "").status());
  EXPECT_EQ(attacker.name, "attacker");
  EXPECT_EQ(victim.name, "victim");
}

TEST_F(AttestTest, DeletedKeysAreCheckedToo) {
  CreateEc("gone");
  ASSERT_OK(vault_->Delete("myvault", "gone").status());
  Sql("UPDATE key_versions SET key_ops='sign,verify,decrypt' "
      "WHERE name_lc='gone'");
  EXPECT_THAT(vault_->GetDeleted("myvault", "gone"),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(vault_->ListDeleted("myvault", "", 25),
              StatusIs(absl::StatusCode::kDataLoss));
}

// Bind (at start or unseal) then record (once the first start made what it
// makes): the store names its custody from then on.
absl::Status BindAndRecord(store::KeyStore& store, custody::Custody& custody) {
  ASSIGN_OR_RETURN(StoreBinding b, BindStoreToCustody(store, custody, false));
  if (!b.bound_before) RETURN_IF_ERROR(RecordCustodyCheck(store, custody));
  return absl::OkStatus();
}

TEST_F(AttestTest, BindRecordsTheCheckValueOfANewStore) {
  EXPECT_TRUE(store_->created());
  ASSERT_OK_AND_ASSIGN(auto before, store_->GetMeta(kCustodyCheckMeta));
  EXPECT_FALSE(before.has_value());
  ASSERT_OK_AND_ASSIGN(StoreBinding b,
                       BindStoreToCustody(*store_, *custody_, false));
  EXPECT_FALSE(b.bound_before);
  ASSERT_OK_AND_ASSIGN(auto unrecorded, store_->GetMeta(kCustodyCheckMeta));
  EXPECT_FALSE(unrecorded.has_value());  // binding does not record
  ASSERT_OK(RecordCustodyCheck(*store_, *custody_));
  ASSERT_OK_AND_ASSIGN(auto after, store_->GetMeta(kCustodyCheckMeta));
  ASSERT_TRUE(after.has_value());
  ASSERT_OK_AND_ASSIGN(std::string check, CustodyCheckValue(*custody_));
  EXPECT_EQ(*after, check);
  EXPECT_EQ(check.size(), 64u);
  // Again: same custody, bound now.
  ASSERT_OK_AND_ASSIGN(b, BindStoreToCustody(*store_, *custody_, false));
  EXPECT_TRUE(b.bound_before);
  // Another custody cannot record over it.
  auto other = NewCustody();
  EXPECT_THAT(RecordCustodyCheck(*store_, *other),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(AttestTest, FailureBindWithAnotherMasterKey) {
  ASSERT_OK(BindAndRecord(*store_, *custody_));
  CreateEc("k");
  auto other = NewCustody();
  EXPECT_THAT(BindStoreToCustody(*store_, *other, true),
              StatusHasMessage("does not match the store"));
  // Nothing changed: the stored check value is still ours.
  ASSERT_OK_AND_ASSIGN(auto stored, store_->GetMeta(kCustodyCheckMeta));
  EXPECT_EQ(*stored, CustodyCheckValue(*custody_).value());
  // A store reopened from disk is not "created".
  ASSERT_OK(t_->Reopen([] { return int64_t{1'700'000'000}; }));
  store_ = &t_->store();
  vault_ = &t_->vault();
  EXPECT_FALSE(store_->created());
  EXPECT_THAT(BindStoreToCustody(*store_, *other, true),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_OK(BindStoreToCustody(*store_, *custody_, false).status());
}

TEST_F(AttestTest, FailureCheckValueRemovedFromAStoreWithKeys) {
  ASSERT_OK(BindAndRecord(*store_, *custody_));
  CreateEc("k");
  Sql("DELETE FROM meta WHERE k='custody_check'");
  // Even the right custody is refused: the database was altered.
  EXPECT_THAT(BindStoreToCustody(*store_, *custody_, true),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(auto stored, store_->GetMeta(kCustodyCheckMeta));
  EXPECT_FALSE(stored.has_value());
}

// The attack the upgrade path must not open: a schema-2 store whose tags
// and check value someone removed (after widening what the keys may do).
// upgrade-store does not tag it: the store was never schema 1.
TEST_F(AttestTest, FailureUpgradeStoreNeverTagsASchema2Store) {
  ASSERT_OK(BindAndRecord(*store_, *custody_));
  CreateEc("a");
  Sql("DELETE FROM meta WHERE k='custody_check'");
  Sql("UPDATE key_versions SET attest=x'', key_ops='sign,verify,decrypt'");
  EXPECT_THAT(
      BindStoreToCustody(*store_, *custody_, /*authenticate_legacy=*/true),
      StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(store_->AuthenticateVersions([](const store::KeyVersion&) {
    return absl::StatusOr<std::vector<uint8_t>>(std::vector<uint8_t>(32));
  }),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(vault_->Get("myvault", "a", ""),
              StatusIs(absl::StatusCode::kDataLoss));
}

// A real schema-1 store (no attest column, schema_version 1) is upgraded by
// Open, and its versions are authenticated only by the operator's explicit
// upgrade-store, only with the custody that opens its keys, and only once.
TEST_F(AttestTest, LegacyStoreNeedsTheOptInAndItsOwnCustody) {
  CreateEc("a");
  CreateEc("b");
  // What keyferryd before schema 2 left on disk.
  Sql("ALTER TABLE key_versions DROP COLUMN attest; "
      "ALTER TABLE key_versions DROP COLUMN release_policy; "
      "UPDATE meta SET v='1' WHERE k='schema_version'; "
      "DELETE FROM meta WHERE k='custody_check'");
  ASSERT_OK(t_->Reopen([] { return int64_t{1'700'000'000}; }));
  store_ = &t_->store();
  vault_ = &t_->vault();
  EXPECT_FALSE(store_->created());
  ASSERT_OK_AND_ASSIGN(auto marker,
                       store_->GetMeta(store::kLegacyUnauthenticatedMeta));
  EXPECT_TRUE(marker.has_value());
  auto other = NewCustody();
  EXPECT_THAT(BindStoreToCustody(*store_, *other, true),
              StatusHasMessage("does not open the keys"));
  EXPECT_THAT(BindStoreToCustody(*store_, *custody_, false),
              StatusHasMessage("--upgrade-store"));
  EXPECT_THAT(vault_->Get("myvault", "a", ""),
              StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_OK_AND_ASSIGN(StoreBinding b,
                       BindStoreToCustody(*store_, *custody_, true));
  EXPECT_EQ(b.authenticated, 2);
  EXPECT_FALSE(b.bound_before);
  ASSERT_OK(RecordCustodyCheck(*store_, *custody_));
  EXPECT_OK(vault_->Get("myvault", "a", "").status());
  EXPECT_OK(vault_
                ->Sign("myvault", "b", "", crypto::SignAlg::kEs256,
                       std::vector<uint8_t>(32, 1))
                .status());
  // Once: the marker is gone, so untagged rows from now on are DataLoss.
  ASSERT_OK_AND_ASSIGN(marker,
                       store_->GetMeta(store::kLegacyUnauthenticatedMeta));
  EXPECT_FALSE(marker.has_value());
}

// A schema-2 store (no release_policy column) is upgraded by Open: its
// versions keep their tags (the release-policy slot of AttestInput was
// always empty) and have no release policy.
TEST_F(AttestTest, Schema2StoreGainsReleasePolicyAndKeepsItsTags) {
  CreateEc("a");
  ASSERT_OK(RecordCustodyCheck(*store_, *custody_));
  Sql("ALTER TABLE key_versions DROP COLUMN release_policy; "
      "UPDATE meta SET v='2' WHERE k='schema_version'");
  ASSERT_OK(t_->Reopen([] { return int64_t{1'700'000'000}; }));
  store_ = &t_->store();
  vault_ = &t_->vault();
  ASSERT_OK_AND_ASSIGN(StoreBinding b,
                       BindStoreToCustody(*store_, *custody_, false));
  EXPECT_TRUE(b.bound_before);
  ASSERT_OK_AND_ASSIGN(store::KeyVersion k, vault_->Get("myvault", "a", ""));
  EXPECT_EQ(k.release_policy, "");
  ASSERT_OK_AND_ASSIGN(auto version, store_->GetMeta("schema_version"));
  EXPECT_EQ(version, std::optional<std::string>("3"));
}

// A file that holds data but no schema_version is not taken for a new store.
TEST(SqliteStoreOpen, FailureDataWithoutSchemaVersionIsNotNew) {
  char tmpl[] = "/tmp/kf_attest_open_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/k.db";
  {
    ASSERT_OK_AND_ASSIGN(auto s, store::SqliteKeyStore::Open({.path = path}));
    EXPECT_TRUE(s->created());
  }
  ASSERT_OK(TamperSql(path, "DELETE FROM meta").status());
  EXPECT_THAT(store::SqliteKeyStore::Open({.path = path}),
              StatusIs(absl::StatusCode::kDataLoss));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyferry::vault
