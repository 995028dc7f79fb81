// The keys API's one rendering place: absl status codes to HTTP status and
// Azure code (with Response::error_code always set), codes a lower layer
// attached, and the Answer shapes. Request bodies: keys_request_test.cc.
#include "http/keys_render.h"

#include <nlohmann/json.hpp>
#include <string>

#include "base/error_code.h"
#include "base/testing.h"

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

}  // namespace
}  // namespace keyferry::http::keys
