// The keys API's admission step: every role against every operation, through
// the route table (KeysApi::Handle), and the grants that decide it.
#include <set>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "base/error_code.h"
#include "http/keys_api.h"
#include "http/keys_api_testing.h"

namespace keyferry::http {
namespace {

using auth::Operation;

// OpRequest is one request that reaches the handler of `op`.
struct OpRequest {
  Operation op;
  const char* method;
  const char* target;
  const char* body;
};

const OpRequest kOpRequests[] = {
    {Operation::kGet, "GET", "/keys/k1", ""},
    {Operation::kList, "GET", "/keys", ""},
    {Operation::kListDeleted, "GET", "/deletedkeys", ""},
    {Operation::kGetDeleted, "GET", "/deletedkeys/zz", ""},
    {Operation::kCreate, "POST", "/keys/new/create", R"({"kty":"oct"})"},
    {Operation::kImport, "PUT", "/keys/imp", R"({"key":{"kty":"oct"}})"},
    {Operation::kUpdate, "PATCH", "/keys/k1", R"({"attributes":{}})"},
    {Operation::kDelete, "DELETE", "/keys/zz", ""},
    {Operation::kRecover, "POST", "/deletedkeys/zz/recover", ""},
    {Operation::kPurge, "DELETE", "/deletedkeys/zz", ""},
    {Operation::kBackup, "POST", "/keys/k1/backup", ""},
    {Operation::kRestore, "POST", "/keys/restore", R"({"value":"AAAA"})"},
    {Operation::kSign, "POST", "/keys/k1//sign", R"({"alg":"ES256"})"},
    {Operation::kVerify, "POST", "/keys/k1//verify", R"({"alg":"ES256"})"},
    {Operation::kEncrypt, "POST", "/keys/k1//encrypt", R"({"alg":"A1"})"},
    {Operation::kDecrypt, "POST", "/keys/k1//decrypt", R"({"alg":"A1"})"},
    {Operation::kWrapKey, "POST", "/keys/k1//wrapkey", R"({"alg":"A1"})"},
    {Operation::kUnwrapKey, "POST", "/keys/k1//unwrapkey", R"({"alg":"A1"})"},
    {Operation::kRotate, "POST", "/keys/zz/rotate", ""},
    {Operation::kGetRotationPolicy, "GET", "/keys/k1/rotationpolicy", ""},
    {Operation::kSetRotationPolicy, "PUT", "/keys/zz/rotationpolicy", "{}"},
    {Operation::kGetRandom, "POST", "/rng", R"({"count":8})"},
    {Operation::kRelease, "POST", "/keys/k1//release", R"({"target":"x"})"},
};

// kAllowed is Azure's built-in roles, written out independently of
// auth::Allows: what each test principal may do.
const std::set<Operation> kUserOps = {
    Operation::kGet,       Operation::kList,     Operation::kUpdate,
    Operation::kBackup,    Operation::kSign,     Operation::kVerify,
    Operation::kEncrypt,   Operation::kDecrypt,  Operation::kWrapKey,
    Operation::kUnwrapKey, Operation::kGetRandom};
const std::set<Operation> kEncUserOps = {Operation::kGet, Operation::kWrapKey,
                                         Operation::kUnwrapKey};
const std::set<Operation> kReleaseUserOps = {Operation::kRelease};
const std::set<Operation> kReaderOps = {
    Operation::kGet, Operation::kList, Operation::kListDeleted,
    Operation::kGetDeleted, Operation::kGetRotationPolicy};

bool Expected(std::string_view principal, Operation op) {
  if (principal == "officer") return true;
  if (principal == "user") return kUserOps.count(op) > 0;
  if (principal == "encuser") return kEncUserOps.count(op) > 0;
  if (principal == "reader") return kReaderOps.count(op) > 0;
  if (principal == "releaser") return kReleaseUserOps.count(op) > 0;
  return false;  // "elsewhere" (another vault's officer), "nobody"
}

bool RbacRefused(const Response& r) {
  return r.status == 403 && r.body.find("ForbiddenByRbac") != std::string::npos;
}

class KeysApiRbacTest : public KeysApiFixture {
 protected:
  void SetUp() override {
    KeysApiFixture::SetUp();
    ASSERT_EQ(Send("POST", "/keys/k1/create?api-version=7.4",
                   R"({"kty":"EC","crv":"P-256"})")
                  .status,
              200);
  }
};

TEST_F(KeysApiRbacTest, EveryRoleAgainstEveryOperation) {
  ASSERT_EQ(std::size(kOpRequests), 23u);  // every auth::Operation
  for (const char* who : {"officer", "user", "encuser", "reader", "releaser",
                          "elsewhere", "nobody"}) {
    for (const OpRequest& o : kOpRequests) {
      Response r = Send(o.method, absl::StrCat(o.target, "?api-version=7.4"),
                        o.body, who);
      SCOPED_TRACE(absl::StrCat(who, " ", o.method, " ", o.target, ": ",
                                r.status, " ", r.body));
      EXPECT_EQ(RbacRefused(r), !Expected(who, o.op));
      ASSERT_TRUE(r.audit.has_value());
      EXPECT_EQ(r.audit->principal, who);
      EXPECT_EQ(r.audit->vault, "myvault");
      if (RbacRefused(r)) {
        EXPECT_EQ(r.error_code, "Forbidden");
        EXPECT_NE(r.body.find(std::string(auth::DataAction(o.op))),
                  std::string::npos);
      }
    }
  }
}

TEST_F(KeysApiRbacTest, VaultGrantCoversOnlyItsVault) {
  Response there = Send("GET", "/keys?api-version=7.4", "", "elsewhere",
                        "othervault.localhost");
  EXPECT_EQ(there.status, 200) << there.body;
  Response here = Send("GET", "/keys?api-version=7.4", "", "elsewhere");
  EXPECT_TRUE(RbacRefused(here)) << here.body;
  EXPECT_NE(here.body.find("Resource: '/vaults/myvault'"), std::string::npos)
      << here.body;
}

// The role is checked before the api-version and the body: a refused
// caller learns nothing about either.
TEST_F(KeysApiRbacTest, RoleIsCheckedBeforeApiVersionAndBody) {
  Response r = Send("POST", "/keys/k1/create", "not json", "reader");
  EXPECT_TRUE(RbacRefused(r)) << r.body;
  Response ok = Send("POST", "/keys/k1/create", "not json", "officer");
  EXPECT_EQ(ok.status, 400);
  EXPECT_NE(ok.body.find("api-version"), std::string::npos) << ok.body;
}

TEST(GrantTest, ParseGrant) {
  ASSERT_OK_AND_ASSIGN(Grant g, ParseGrant("alice:MyVault:crypto-user"));
  EXPECT_EQ(g.principal, "alice");
  EXPECT_EQ(g.vault, "myvault");
  EXPECT_EQ(g.role, auth::Role::kCryptoUser);
  ASSERT_OK_AND_ASSIGN(g, ParseGrant("bob:*:Key Vault Reader"));
  EXPECT_EQ(g.vault, "*");
  EXPECT_EQ(g.role, auth::Role::kReader);
}

TEST(GrantTest, FailureMalformedGrant) {
  for (const char* bad : {"", "alice", "alice:v", ":v:reader", "alice::reader",
                          "alice:v:reader:x", "alice:v:janitor"}) {
    EXPECT_THAT(ParseGrant(bad), StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST(GrantTest, GrantsAllowMatchesPrincipalVaultAndRole) {
  const std::vector<Grant> grants = {
      {"alice", "v1", auth::Role::kReader},
      {"bob", "*", auth::Role::kCryptoServiceEncryptionUser}};
  EXPECT_TRUE(GrantsAllow(grants, "alice", "v1", Operation::kGet));
  EXPECT_FALSE(GrantsAllow(grants, "alice", "v2", Operation::kGet));
  EXPECT_FALSE(GrantsAllow(grants, "alice", "v1", Operation::kSign));
  EXPECT_TRUE(GrantsAllow(grants, "bob", "any", Operation::kWrapKey));
  EXPECT_FALSE(GrantsAllow(grants, "bob", "any", Operation::kDecrypt));
  EXPECT_FALSE(GrantsAllow(grants, "carol", "v1", Operation::kGet));
  EXPECT_FALSE(GrantsAllow({}, "alice", "v1", Operation::kGet));
}

TEST(GrantTest, CheckRoleRefusalCarriesAzureCodes) {
  const std::vector<Grant> grants = {{"alice", "v1", auth::Role::kReader}};
  EXPECT_OK(CheckRole(grants, "alice", "v1", "k", Operation::kGet));
  absl::Status s = CheckRole(grants, "alice", "v1", "k", Operation::kSign);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied));
  std::optional<ErrorCode> code = GetErrorCode(s);
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(code->code, "Forbidden");
  EXPECT_EQ(code->inner_code, "ForbiddenByRbac");
  EXPECT_THAT(s, StatusHasMessage("Resource: '/vaults/v1/keys/k'"));
  EXPECT_THAT(s, StatusHasMessage("Caller: oid=alice"));
  EXPECT_THAT(CheckRole(grants, "alice", "v1", "", Operation::kCreate),
              StatusHasMessage("Resource: '/vaults/v1'\r\n"));
}

}  // namespace
}  // namespace keyferry::http
