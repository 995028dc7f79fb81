// The keys API's body readers (keys_request.h), table-driven: every reader
// with bodies of each member's wrong JSON type, out-of-range and
// non-integer numbers, unknown enumeration values, and the bodies real
// clients send (az, the Python and JS SDKs: nulls for unset members). Then
// a few rows end to end through KeysApi: the 400 reaches the client as
// BadParameter and nothing was created or changed.
#include "http/keys_request.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/testing.h"
#include "http/keys_api_testing.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

enum class Reader {
  kCreate,
  kImport,
  kUpdate,
  kSign,
  kVerify,
  kCipher,
  kRandom,
  kRestore,
  kRotationPolicy,
};

// Read runs `reader` over `body` as the handler would.
absl::Status Read(Reader reader, const json& body) {
  switch (reader) {
    case Reader::kCreate:
      return ReadCreate(body).status();
    case Reader::kImport:
      return ReadImport(body, "myvault.localhost:8443").status();
    case Reader::kUpdate:
      return ReadProperties(body, body).status();
    case Reader::kSign:
      return ReadSign(body).status();
    case Reader::kVerify:
      return ReadVerify(body).status();
    case Reader::kCipher:
      return ReadCipher(body).status();
    case Reader::kRandom:
      return ReadRandomCount(body).status();
    case Reader::kRestore:
      return ReadRestore(body).status();
    case Reader::kRotationPolicy:
      return ReadRotationPolicy(body).status();
  }
  return absl::InternalError("unknown reader");
}

// Row is one body for one reader: accepted when `field` is null, else a 400
// (InvalidArgument) whose message names `field`.
struct Row {
  Reader reader;
  const char* body;
  const char* field;
};

using R = Reader;
constexpr const char* kOk = nullptr;

// A 16-byte oct key and a P-256 point are enough for the import rows that
// must get past the reader's own checks.
constexpr Row kRows[] = {
    // Create: what az and the SDKs send.
    {R::kCreate,
     R"({"kty":"RSA-HSM","key_size":2048,"key_ops":["import"],"attributes":{"enabled":true}})",
     kOk},
    {R::kCreate, R"({"kty":"RSA","key_size":3072,"public_exponent":65537})",
     kOk},
    {R::kCreate, R"({"kty":"RSA","key_size":4096.0,"public_exponent":3})", kOk},
    {R::kCreate,
     R"({"kty":"EC","crv":"P-256","key_size":null,"public_exponent":null,"tags":null})",
     kOk},
    {R::kCreate, R"({"kty":"EC-HSM","crv":"p-384","key_size":384})", kOk},
    {R::kCreate, R"({"kty":"EC","crv":"SECP256K1"})", kOk},
    {R::kCreate, R"({"kty":"oct-HSM","key_size":128,"attributes":{}})", kOk},
    {R::kCreate, R"({"kty":"EC","crv":"P-256","unknown":{"x":[1]}})", kOk},
    // Create: key_size.
    {R::kCreate, R"({"kty":"RSA","key_size":4294969344})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":2048.5})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":true})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":"2048"})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":1e300})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":-1e300})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":18446744073709551615})",
     "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":-9223372036854775808})",
     "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":-2048})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":1024})", "key_size"},
    {R::kCreate, R"({"kty":"RSA","key_size":256})", "key_size"},
    {R::kCreate, R"({"kty":"EC","crv":"P-256","key_size":2048})", "key_size"},
    {R::kCreate, R"({"kty":"oct","key_size":100})", "key_size"},
    {R::kCreate, R"({"kty":"oct","key_size":[128]})", "key_size"},
    // Create: public_exponent.
    {R::kCreate, R"({"kty":"RSA","public_exponent":-1})", "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":4294967297})",
     "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":4294967295})",
     "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":65536})", "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":1})", "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":65537.5})",
     "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":"65537"})",
     "public_exponent"},
    {R::kCreate, R"({"kty":"RSA","public_exponent":true})", "public_exponent"},
    {R::kCreate, R"({"kty":"EC","public_exponent":65537})", "public_exponent"},
    // Create: kty, crv, key_ops, attributes, tags, release_policy.
    {R::kCreate, R"({"key_size":2048})", "kty"},
    {R::kCreate, R"({"kty":null})", "kty"},
    {R::kCreate, R"({"kty":1})", "kty"},
    {R::kCreate, R"({"kty":"DSA"})", "kty"},
    {R::kCreate, R"({"kty":"rsa"})", "kty"},
    {R::kCreate, R"({"kty":"EC","crv":256})", "crv"},
    {R::kCreate, R"({"kty":"EC","crv":"P-999"})", "crv"},
    {R::kCreate, R"({"kty":"EC","crv":"prime256v1"})", "crv"},
    {R::kCreate, R"({"kty":"EC","crv":["P-256"]})", "crv"},
    {R::kCreate, R"({"kty":"EC","key_ops":"sign"})", "key_ops"},
    {R::kCreate, R"({"kty":"EC","key_ops":["sign",1]})", "key_ops"},
    {R::kCreate, R"({"kty":"EC","key_ops":["fly"]})", "key_ops"},
    {R::kCreate, R"({"kty":"EC","attributes":5})", "attributes"},
    {R::kCreate, R"({"kty":"EC","attributes":[]})", "attributes"},
    {R::kCreate, R"({"kty":"EC","tags":[]})", "tags"},
    {R::kCreate, R"({"kty":"EC","tags":{"team":1}})", "tags.team"},
    {R::kCreate, R"({"kty":"EC","release_policy":{}})", "release_policy.data"},
    {R::kCreate, R"({"kty":"EC","release_policy":[]})", "release_policy"},
    {R::kCreate, R"({"kty":"EC","release_policy":{"data":"!!"}})",
     "release_policy.data"},
    {R::kCreate,
     R"({"kty":"EC","release_policy":{"data":"e30","immutable":1}})",
     "release_policy.immutable"},
    {R::kCreate,
     R"({"kty":"EC","release_policy":{"data":"e30","contentType":5}})",
     "release_policy.contentType"},
    {R::kCreate,
     R"({"kty":"EC-HSM","attributes":{"exportable":true},"release_policy":{"immutable":true,"data":"e30"}})",
     kOk},
    // Update: attributes as the SDKs send them, then each member's errors.
    {R::kUpdate, R"({"attributes":{"enabled":true,"exp":1700000000}})", kOk},
    {R::kUpdate,
     R"({"attributes":{"enabled":null,"nbf":null,"exp":null},"tags":null,"key_ops":null})",
     kOk},
    {R::kUpdate,
     R"({"attributes":{"enabled":false,"nbf":0,"exp":253402300799,"created":1700000000,"updated":1700000000,"recoverableDays":90,"recoveryLevel":"Recoverable+Purgeable","exportable":false}})",
     kOk},
    {R::kUpdate, R"({"tags":{"a":"b"},"key_ops":["sign","verify"]})", kOk},
    {R::kUpdate, R"({})", kOk},
    {R::kUpdate, R"({"attributes":{"enabled":"yes"}})", "attributes.enabled"},
    {R::kUpdate, R"({"attributes":{"enabled":1}})", "attributes.enabled"},
    {R::kUpdate, R"({"attributes":{"nbf":"x"}})", "attributes.nbf"},
    {R::kUpdate, R"({"attributes":{"nbf":true}})", "attributes.nbf"},
    {R::kUpdate, R"({"attributes":{"exp":1700000000.5}})", "attributes.exp"},
    {R::kUpdate, R"({"attributes":{"exp":-1}})", "attributes.exp"},
    {R::kUpdate, R"({"attributes":{"exp":253402300800}})", "attributes.exp"},
    {R::kUpdate, R"({"attributes":{"exp":1e300}})", "attributes.exp"},
    {R::kUpdate, R"({"attributes":{"created":"now"}})", "attributes.created"},
    {R::kUpdate, R"({"attributes":{"updated":[1]}})", "attributes.updated"},
    {R::kUpdate, R"({"attributes":{"recoverableDays":1000}})",
     "attributes.recoverableDays"},
    {R::kUpdate, R"({"attributes":{"recoveryLevel":5}})",
     "attributes.recoveryLevel"},
    {R::kUpdate, R"({"attributes":{"exportable":"no"}})",
     "attributes.exportable"},
    {R::kUpdate, R"({"attributes":{"exportable":true}})", kOk},
    {R::kUpdate, R"({"release_policy":{"data":"e30"}})", kOk},
    {R::kUpdate, R"({"key_ops":{"0":"sign"}})", "key_ops"},
    // Import: az's BYOK body, the JS SDK's, an oct JWK; then errors.
    {R::kImport,
     R"({"Hsm":false,"key":{"kty":"RSA-HSM","key_hsm":"eyJ9"},"attributes":{"enabled":true}})",
     kOk},
    {R::kImport,
     R"({"Hsm":true,"key":{"kty":"EC-HSM","crv":"P-256","key_ops":["sign","verify"],"key_hsm":"eyJ9"},"attributes":{}})",
     kOk},
    {R::kImport,
     R"({"Hsm":null,"key":{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA","kid":null}})",
     kOk},
    {R::kImport, R"({"attributes":{}})", "key"},
    {R::kImport, R"({"key":1})", "key"},
    {R::kImport, R"({"key":"RSA"})", "key"},
    {R::kImport, R"({"Hsm":"true","key":{"kty":"RSA-HSM","key_hsm":"eyJ9"}})",
     "Hsm"},
    {R::kImport, R"({"key":{"kty":5,"key_hsm":"eyJ9"}})", "key.kty"},
    {R::kImport, R"({"key":{"kty":"DSA","key_hsm":"eyJ9"}})", "key.kty"},
    {R::kImport, R"({"key":{"kty":"EC-HSM","crv":256,"key_hsm":"eyJ9"}})",
     "key.crv"},
    {R::kImport, R"({"key":{"kty":"EC-HSM","crv":"P-192","key_hsm":"eyJ9"}})",
     "key.crv"},
    {R::kImport, R"({"key":{"kty":"RSA-HSM","key_hsm":5}})", "key.key_hsm"},
    {R::kImport, R"({"key":{"kty":"RSA-HSM","key_hsm":"***"}})", "key.key_hsm"},
    {R::kImport, R"({"key":{"kty":"RSA-HSM","key_hsm":"eyJ9","kid":5}})",
     "key.kid"},
    {R::kImport,
     R"({"key":{"kty":"RSA-HSM","key_hsm":"eyJ9","key_ops":"sign"}})",
     "key.key_ops"},
    {R::kImport,
     R"({"key":{"kty":"RSA-HSM","key_hsm":"eyJ9","key_ops":["fly"]}})",
     "key.key_ops"},
    {R::kImport, R"({"key":{"kty":"oct"}})", "key.k"},
    {R::kImport, R"({"key":{"kty":"oct","k":16}})", "key.k"},
    {R::kImport, R"({"key":{"kty":"RSA","e":"AQAB"}})", "'n'"},
    {R::kImport, R"({"key":{"kty":"RSA","n":5,"e":"AQAB"}})", "'n'"},
    {R::kImport,
     R"({"key":{"kty":"RSA-HSM","key_hsm":"eyJ9"},"attributes":{"exp":"x"}})",
     "attributes.exp"},
    // Sign and verify.
    {R::kSign, R"({"alg":"RS256","value":"AAEC"})", kOk},
    {R::kSign, R"({"alg":"ES256","value":"AA==","extra":null})", kOk},
    {R::kSign, R"({"value":"AA"})", "alg"},
    {R::kSign, R"({"alg":5,"value":"AA"})", "alg"},
    {R::kSign, R"({"alg":"XS256","value":"AA"})", "alg"},
    {R::kSign, R"({"alg":"RS256"})", "value"},
    {R::kSign, R"({"alg":"RS256","value":5})", "value"},
    {R::kSign, R"({"alg":"RS256","value":"***"})", "value"},
    {R::kVerify, R"({"alg":"PS256","digest":"AA","value":"AA"})", kOk},
    {R::kVerify, R"({"alg":"PS256","value":"AA"})", "digest"},
    {R::kVerify, R"({"alg":"PS256","digest":[],"value":"AA"})", "digest"},
    {R::kVerify, R"({"alg":"PS256","digest":"AA","value":true})", "value"},
    {R::kVerify, R"({"alg":null,"digest":"AA","value":"AA"})", "alg"},
    // Encrypt, decrypt, wrap, unwrap.
    {R::kCipher, R"({"alg":"RSA-OAEP-256","value":"AA"})", kOk},
    {R::kCipher,
     R"({"alg":"A256GCM","value":"AA","iv":null,"aad":null,"tag":null})", kOk},
    {R::kCipher, R"({"alg":"XX-OAEP","value":"AA"})", "alg"},
    {R::kCipher, R"({"alg":{},"value":"AA"})", "alg"},
    {R::kCipher, R"({"alg":"A256GCM"})", "value"},
    {R::kCipher, R"({"alg":"A256GCM","value":"AA","iv":5})", "iv"},
    {R::kCipher, R"({"alg":"A256GCM","value":"AA","aad":[]})", "aad"},
    {R::kCipher, R"({"alg":"A256GCM","value":"AA","tag":true})", "tag"},
    // Random bytes.
    {R::kRandom, R"({"count":128})", kOk},
    {R::kRandom, R"({"count":1.0})", kOk},
    {R::kRandom, R"({})", "count"},
    {R::kRandom, R"({"count":0})", "count"},
    {R::kRandom, R"({"count":129})", "count"},
    {R::kRandom, R"({"count":true})", "count"},
    {R::kRandom, R"({"count":"5"})", "count"},
    {R::kRandom, R"({"count":1.5})", "count"},
    {R::kRandom, R"({"count":1e300})", "count"},
    {R::kRandom, R"({"count":18446744073709551616})", "count"},
    // Restore.
    {R::kRestore, R"({"value":"AAAA"})", kOk},
    {R::kRestore, R"({})", "value"},
    {R::kRestore, R"({"value":5})", "value"},
    {R::kRestore, R"({"value":"***"})", "value"},
    // Rotation policy: the SDKs' body (explicit nulls), then types.
    {R::kRotationPolicy,
     R"({"id":null,"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D","timeBeforeExpiry":null},"action":{"type":"Rotate"}}],"attributes":{"expiryTime":"P1Y","created":null,"updated":null}})",
     kOk},
    {R::kRotationPolicy, R"({"lifetimeActions":[]})", kOk},
    {R::kRotationPolicy, R"({"id":5})", "id"},
    {R::kRotationPolicy, R"({"attributes":5})", "attributes"},
    {R::kRotationPolicy, R"({"attributes":{"expiryTime":90}})", "expiryTime"},
    {R::kRotationPolicy, R"({"attributes":{"created":"x"}})",
     "attributes.created"},
    {R::kRotationPolicy, R"({"lifetimeActions":{}})", "lifetimeActions"},
    {R::kRotationPolicy, R"({"lifetimeActions":[5]})", "lifetimeActions"},
    {R::kRotationPolicy,
     R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":"P90D"},"action":{"type":1}}]})",
     "lifetimeActions"},
    {R::kRotationPolicy,
     R"({"lifetimeActions":[{"trigger":5,"action":{"type":"Rotate"}}]})",
     "trigger"},
    {R::kRotationPolicy,
     R"({"lifetimeActions":[{"trigger":{"timeAfterCreate":90},"action":{"type":"Rotate"}}]})",
     "timeAfterCreate"},
};

// BodyOf is a request carrying `body`.
Request BodyOf(std::string_view body) {
  Request r;
  r.body = std::string(body);
  return r;
}

TEST(KeysRequestTest, EveryReaderRow) {
  for (const Row& row : kRows) {
    SCOPED_TRACE(row.body);
    absl::StatusOr<json> body = ParseBody(BodyOf(row.body));
    ASSERT_OK(body);
    absl::Status s = Read(row.reader, *body);
    if (row.field == kOk) {
      EXPECT_OK(s);
    } else {
      EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument));
      EXPECT_THAT(std::string(s.message()), HasSubstr(row.field));
    }
  }
}

TEST(KeysRequestTest, AcceptedValuesAreReadExactly) {
  ASSERT_OK_AND_ASSIGN(
      vault::CreateKeyRequest rsa,
      ReadCreate(json::parse(
          R"({"kty":"RSA","key_size":4096.0,"public_exponent":2147483647})")));
  EXPECT_EQ(rsa.key_size, 4096);
  EXPECT_EQ(rsa.public_exponent, 2147483647u);
  ASSERT_OK_AND_ASSIGN(
      vault::CreateKeyRequest ec,
      ReadCreate(json::parse(R"({"kty":"EC-HSM","crv":"secp256k1"})")));
  EXPECT_EQ(ec.kty, vault::Kty::kEcHsm);
  EXPECT_EQ(ec.curve, crypto::Curve::kSecp256k1);
  EXPECT_FALSE(ec.key_size.has_value());
  ASSERT_OK_AND_ASSIGN(
      vault::KeyProperties p,
      ReadProperties(
          json::parse(
              R"({"attributes":{"enabled":false,"nbf":null,"exp":1700000000},"tags":{"a":"b"},"key_ops":["sign","sign","verify"]})"),
          json::parse(R"({"key_ops":["sign","sign","verify"]})")));
  EXPECT_EQ(p.enabled, false);
  EXPECT_FALSE(p.not_before.has_value());
  EXPECT_EQ(p.expires, 1700000000);
  EXPECT_EQ(p.tags_json, R"({"a":"b"})");
  EXPECT_EQ(p.key_ops, (std::vector<vault::KeyOp>{vault::KeyOp::kSign,
                                                  vault::KeyOp::kVerify}));
  ASSERT_OK_AND_ASSIGN(int64_t n,
                       ReadRandomCount(json::parse(R"({"count":2e1})")));
  EXPECT_EQ(n, 20);
  ASSERT_OK_AND_ASSIGN(
      std::string policy,
      ReadRotationPolicy(json::parse(
          R"({"attributes":{"expiryTime":"P60D","created":null}})")));
  EXPECT_EQ(policy, R"({"attributes":{"expiryTime":"P60D"}})");
}

TEST(KeysRequestTest, FieldsReaders) {
  json body = json::parse(
      R"({"value":"AQI","iv":"AQ==","tag":"+/8","n":1,"z":null,"b":true})");
  Fields f(body, "x.");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> v, f.Bytes("value", true));
  EXPECT_EQ(v, (std::vector<uint8_t>{1, 2}));
  ASSERT_OK_AND_ASSIGN(v, f.Bytes("tag", true));  // standard alphabet
  EXPECT_EQ(v, (std::vector<uint8_t>{0xfb, 0xff}));
  ASSERT_OK_AND_ASSIGN(v, f.Bytes("iv", true));  // padding
  EXPECT_EQ(v, (std::vector<uint8_t>{1}));
  ASSERT_OK_AND_ASSIGN(v, f.Bytes("aad", false));
  EXPECT_TRUE(v.empty());
  EXPECT_THAT(f.Bytes("aad", true),
              StatusHasMessage("The property \"x.aad\" is required."));
  EXPECT_THAT(f.Bytes("n", true),
              StatusHasMessage("The property \"x.n\" must be a string."));
  EXPECT_THAT(f.Int("b", 0, 1),
              StatusHasMessage("The property \"x.b\" must be an integer."));
  EXPECT_THAT(f.Int("n", 2, 3),
              StatusHasMessage("\"x.n\" must be an integer from 2 to 3."));
  EXPECT_THAT(f.RequiredInt("z", 0, 1), StatusHasMessage("is required"));
  EXPECT_THAT(f.Bool("n"), StatusHasMessage("must be a boolean"));
  EXPECT_THAT(f.Object("n"), StatusHasMessage("must be an object"));
  EXPECT_THAT(f.Strings("n"), StatusHasMessage("must be an array of strings"));
  EXPECT_FALSE(f.Given("z"));
  EXPECT_TRUE(f.Given("n"));
  // A non-object holds no members.
  const json array = json::parse("[1]");
  Fields none(array);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> absent, none.Int("0", 0, 9));
  EXPECT_FALSE(absent.has_value());
  // A client's long string is cut short in a message.
  json long_alg = {{"alg", std::string(10000, 'A')}, {"value", "AA"}};
  absl::Status s = ReadSign(long_alg).status();
  EXPECT_THAT(s, StatusHasMessage("..."));
  EXPECT_LT(s.message().size(), 400u);
}

TEST(KeysRequestTest, BodyAndPage) {
  EXPECT_THAT(ParseBody(BodyOf("")), StatusHasMessage("body is empty"));
  EXPECT_THAT(ParseBody(BodyOf("[1]")), StatusHasMessage("JSON object"));
  EXPECT_THAT(ParseBody(BodyOf("{")), StatusHasMessage("JSON object"));
  // A number beyond double's range does not parse at all.
  EXPECT_THAT(ParseBody(BodyOf(R"({"kty":"RSA","key_size":1e400})")),
              StatusHasMessage("JSON object"));
  for (const char* bad : {"0", "26", "+5", " 5", "5.0", "1e1", "x", "-1",
                          "99999999999999999999"}) {
    Request r;
    r.query = {{"maxresults", bad}};
    EXPECT_THAT(ReadPage(r), StatusHasMessage("maxresults")) << bad;
  }
  Request r;
  r.query = {{"maxresults", "25"}};
  ASSERT_OK_AND_ASSIGN(PageParams p, ReadPage(r));
  EXPECT_EQ(p.limit, 25);
  json policy = json::parse(R"({"attributes":{"expiryTime":null,"a":1}})");
  DropNullAttributes(policy);
  EXPECT_EQ(policy.dump(), R"({"attributes":{"a":1}})");
}

using KeysBodyEndToEndTest = KeysApiFixture;

// MessageOf is the error message of an Azure error body ("" if none).
std::string MessageOf(const Response& r) {
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object() || !j.contains("error") || !j["error"].is_object() ||
      !j["error"].contains("message") || !j["error"]["message"].is_string()) {
    return "";
  }
  return j["error"]["message"].get<std::string>();
}

// Create bodies refused end to end: a 400 BadParameter naming the member,
// and no key by that name afterwards.
TEST_F(KeysBodyEndToEndTest, CreateRefusedCreatesNothing) {
  struct {
    const char* body;
    const char* message;
  } cases[] = {
      {R"({"kty":"RSA","key_size":4294969344})", "\"key_size\""},
      {R"({"kty":"RSA","key_size":2048.5})", "\"key_size\""},
      {R"({"kty":"RSA","key_size":true})", "\"key_size\""},
      {R"({"kty":"RSA","key_size":1e300})", "\"key_size\""},
      {R"({"kty":"RSA","public_exponent":-1})", "\"public_exponent\""},
      {R"({"kty":"EC","crv":256})", "\"crv\""},
      {R"({"kty":"EC","crv":"P-999"})", "of crv"},
      {R"({"kty":"EC","key_size":"big"})", "\"key_size\""},
      {R"({"kty":"EC","crv":"P-256","key_ops":"sign"})", "\"key_ops\""},
      {R"({"kty":"EC","crv":"P-256","release_policy":{}})",
       "\"release_policy.data\" is required"},
      {R"({"kty":"EC-HSM","attributes":{"exportable":true}})",
       "AKV.SKR.1004: Exportable keys must have release policy."},
      {R"({"kty":"EC-HSM","release_policy":{"data":"e30"}})",
       "AKV.SKR.1005: Non-exportable keys must not have release policy."},
      {R"({"kty":"EC","attributes":{"exportable":true},"release_policy":{"data":"eyJ2ZXJzaW9uIjoiMS4wLjAiLCJhbnlPZiI6W3siYXV0aG9yaXR5IjoiYSIsImFsbE9mIjpbeyJjbGFpbSI6ImMiLCJlcXVhbHMiOjF9XX1dfQ"}})",
       "AKV.SKR.1006"},
      {R"({"kty":"EC-HSM","attributes":{"exportable":true},"release_policy":{"data":"e30"}})",
       "release_policy.data"},
      {"", "The request body is empty."},
      {"[1]", "not a valid JSON object"},
  };
  for (const auto& c : cases) {
    Response r = Send("POST", "/keys/k1/create?api-version=7.4", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.error_code, "BadParameter") << c.body;
    EXPECT_THAT(MessageOf(r), HasSubstr(c.message)) << c.body;
    EXPECT_EQ(Send("GET", "/keys/k1/?api-version=7.4").status, 404) << c.body;
  }
  // The same route still creates a key from a good body.
  Response ok =
      Send("POST", "/keys/k1/create?api-version=7.4",
           R"({"kty":"RSA","key_size":2048.0,"public_exponent":65537})");
  EXPECT_EQ(ok.status, 200) << ok.body;
}

// Import, update, sign and rng bodies refused end to end; the key is as it
// was.
TEST_F(KeysBodyEndToEndTest, OtherBodiesRefused) {
  Response imp =
      Send("PUT", "/keys/k2?api-version=7.4",
           R"({"Hsm":"yes","key":{"kty":"oct","k":"AAAAAAAAAAAAAAAAAAAAAA"}})");
  EXPECT_EQ(imp.status, 400);
  EXPECT_THAT(MessageOf(imp), HasSubstr("\"Hsm\""));
  EXPECT_EQ(Send("GET", "/keys/k2/?api-version=7.4").status, 404);
  EXPECT_THAT(
      MessageOf(Send("PUT", "/keys/k2?api-version=7.4", R"({"key":1})")),
      HasSubstr("must be a valid JsonWebKey object"));

  Response made =
      Send("POST", "/keys/k3/create?api-version=7.4",
           R"({"kty":"EC","crv":"P-256","attributes":{"exp":1900000000}})");
  ASSERT_EQ(made.status, 200) << made.body;
  Response upd = Send("PATCH", "/keys/k3/?api-version=7.4",
                      R"({"attributes":{"exp":1900000000.5}})");
  EXPECT_EQ(upd.status, 400);
  EXPECT_EQ(upd.error_code, "BadParameter");
  EXPECT_THAT(MessageOf(upd), HasSubstr("attributes.exp"));
  json after = json::parse(Send("GET", "/keys/k3/?api-version=7.4").body);
  EXPECT_EQ(after["attributes"]["exp"], 1900000000);

  Response sign = Send("POST", "/keys/k3//sign?api-version=7.4",
                       R"({"alg":"XS256","value":"AA"})");
  EXPECT_EQ(sign.status, 400);
  EXPECT_THAT(MessageOf(sign), HasSubstr("of alg"));
  Response rng = Send("POST", "/rng?api-version=7.4", R"({"count":true})");
  EXPECT_EQ(rng.status, 400);
  EXPECT_THAT(MessageOf(rng), HasSubstr("\"count\""));
  Response policy = Send("PUT", "/keys/k3/rotationpolicy?api-version=7.4",
                         R"({"lifetimeActions":{}})");
  EXPECT_EQ(policy.status, 400);
  EXPECT_THAT(MessageOf(policy), HasSubstr("lifetimeActions"));
}

}  // namespace
}  // namespace keyferry::http::keys
