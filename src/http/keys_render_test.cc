// The keys API's one rendering place: absl status codes to HTTP status and
// Azure code (with Response::error_code always set), codes a lower layer
// attached, the Answer shapes, and request-body errors through a route.
#include "http/keys_render.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/error_code.h"
#include "http/keys_api_testing.h"
#include "http/keys_request.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;

TEST(KeysErrorMappingTest, EveryStatusCode) {
  struct {
    absl::StatusCode code;
    int http;
    const char* azure;
  } cases[] = {
      {absl::StatusCode::kInvalidArgument, 400, "BadParameter"},
      {absl::StatusCode::kOutOfRange, 400, "BadParameter"},
      {absl::StatusCode::kUnimplemented, 400, "BadParameter"},
      {absl::StatusCode::kUnauthenticated, 401, "Unauthorized"},
      {absl::StatusCode::kPermissionDenied, 403, "Forbidden"},
      {absl::StatusCode::kNotFound, 404, "KeyNotFound"},
      {absl::StatusCode::kAlreadyExists, 409, "Conflict"},
      {absl::StatusCode::kFailedPrecondition, 409, "Conflict"},
      {absl::StatusCode::kAborted, 409, "Conflict"},
      {absl::StatusCode::kResourceExhausted, 429, "Throttled"},
      {absl::StatusCode::kUnavailable, 503, "ServiceUnavailable"},
      {absl::StatusCode::kDeadlineExceeded, 503, "ServiceUnavailable"},
      {absl::StatusCode::kInternal, 500, "InternalServerError"},
      {absl::StatusCode::kUnknown, 500, "InternalServerError"},
      {absl::StatusCode::kDataLoss, 500, "InternalServerError"},
      {absl::StatusCode::kCancelled, 500, "InternalServerError"},
  };
  for (const auto& c : cases) {
    Response r = ErrorResponse(absl::Status(c.code, "what went wrong"));
    EXPECT_EQ(r.status, c.http) << c.azure;
    EXPECT_EQ(r.error_code, c.azure);
    json body = json::parse(r.body);
    EXPECT_EQ(body["error"]["code"], c.azure);
    EXPECT_EQ(body["error"]["message"], "what went wrong");
    EXPECT_FALSE(body["error"].contains("innererror"));
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""), kJsonContentType);
    EXPECT_TRUE(r.headers.Has("x-ms-request-id"));
  }
}

TEST(KeysErrorMappingTest, AttachedCodeWins) {
  Response r = ErrorResponse(WithErrorCode(
      absl::PermissionDeniedError("Operation sign is not allowed"), "Forbidden",
      "KeyDisabled"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.error_code, "Forbidden");
  json body = json::parse(r.body);
  EXPECT_EQ(body["error"]["innererror"]["code"], "KeyDisabled");
  Response c = ErrorResponse(WithErrorCode(absl::FailedPreconditionError("x"),
                                           "ObjectIsBeingDeleted"));
  EXPECT_EQ(c.status, 409);
  EXPECT_EQ(c.error_code, "ObjectIsBeingDeleted");
}

TEST(KeysRenderTest, AnswersRenderAsJson) {
  Response ok = Render(Answer::Json({{"value", true}}));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, R"({"value":true})");
  EXPECT_EQ(ok.error_code, "");
  EXPECT_FALSE(ok.audit.has_value());
  Response raw = Render(Answer::Serialized(R"({"id":"x"})"));
  EXPECT_EQ(raw.body, R"({"id":"x"})");
  Response none = Render(Answer::NoContent());
  EXPECT_EQ(none.status, 204);
  EXPECT_EQ(none.body, "");
  EXPECT_FALSE(none.headers.Has("Content-Type"));
  EXPECT_TRUE(none.headers.Has("x-ms-request-id"));
  store::KeyVersion k;
  k.name = "k1";
  k.version = "abc";
  Response about = Render(Answer::About({{"kid", "x"}}, k));
  ASSERT_TRUE(about.audit.has_value());
  EXPECT_EQ(about.audit->key, "k1");
  EXPECT_EQ(about.audit->version, "abc");
  Response err = Render(absl::NotFoundError("gone"));
  EXPECT_EQ(err.status, 404);
  EXPECT_EQ(err.error_code, "KeyNotFound");
}

TEST(KeysRequestTest, Readers) {
  json body = json::parse(R"({"value":"AQI","iv":"AQ==","tag":"+/8","n":1})");
  ASSERT_OK_AND_ASSIGN(std::vector<uint8_t> v, B64Field(body, "value", true));
  EXPECT_EQ(v, (std::vector<uint8_t>{1, 2}));
  ASSERT_OK_AND_ASSIGN(v, B64Field(body, "tag", true));  // standard alphabet
  EXPECT_EQ(v, (std::vector<uint8_t>{0xfb, 0xff}));
  ASSERT_OK_AND_ASSIGN(v, B64Field(body, "aad", false));
  EXPECT_TRUE(v.empty());
  EXPECT_THAT(B64Field(body, "aad", true),
              StatusHasMessage("\"aad\" is required"));
  EXPECT_THAT(B64Field(body, "n", true),
              StatusHasMessage("must be a base64url string"));
  EXPECT_THAT(ReadRandomCount(json::parse(R"({"count":0})")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadRandomCount(json::parse(R"({"count":129})")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(int64_t n,
                       ReadRandomCount(json::parse(R"({"count":128})")));
  EXPECT_EQ(n, 128);
  EXPECT_THAT(ReadProperties(json::parse(R"({"attributes":{"exp":"x"}})"),
                             json::object()),
              StatusHasMessage("attributes.exp must be Unix seconds"));
  json policy = json::parse(R"({"attributes":{"expiryTime":null,"a":1}})");
  DropNullAttributes(policy);
  EXPECT_EQ(policy.dump(), R"({"attributes":{"a":1}})");
}

using KeysBodyErrorTest = KeysApiFixture;

// Body errors through a route: each is a 400 BadParameter with its message.
TEST_F(KeysBodyErrorTest, BodyErrorsAreBadParameter) {
  struct {
    const char* body;
    const char* message;
  } cases[] = {
      {"", "The request body is empty."},
      {"[1]", "not a valid JSON object"},
      {"{", "not a valid JSON object"},
      {R"({"kty":"EC","key_size":"big"})", "member of the wrong type"},
      {R"({"kty":"EC","crv":"P-999"})", "Unsupported curve 'P-999'."},
      {R"({"kty":"EC","crv":"P-256","key_ops":"sign"})",
       "key_ops must be an array of strings."},
      {R"({"kty":"EC","crv":"P-256","release_policy":{}})",
       "release policies are not supported"},
  };
  for (const auto& c : cases) {
    Response r = Send("POST", "/keys/k1/create?api-version=7.4", c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.error_code, "BadParameter") << c.body;
    EXPECT_NE(r.body.find(c.message), std::string::npos) << r.body;
  }
  Response imp = Send("PUT", "/keys/k1?api-version=7.4", R"({"key":1})");
  EXPECT_NE(imp.body.find("must be a valid JsonWebKey object"),
            std::string::npos);
  Response sign = Send("POST", "/keys/k1//sign?api-version=7.4",
                       R"({"alg":"XS256","value":"AA"})");
  EXPECT_NE(sign.body.find("Invalid algorithm: 'XS256'."), std::string::npos);
}

}  // namespace
}  // namespace keyferry::http::keys
