#include "http/azure.h"

#include "base/testing.h"

namespace keyferry::http {
namespace {

TEST(AzureErrorTest, EnvelopeWithoutInnerError) {
  Response r =
      AzureError(404, "KeyNotFound", "A key with (name/id) k was not found.");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"KeyNotFound","message":"A key with (name/id) k was not found."}})");
  EXPECT_EQ(r.headers.Get("Content-Type").value_or(""),
            "application/json; charset=utf-8");
}

TEST(AzureErrorTest, EnvelopeWithInnerErrorAndEscaping) {
  Response r = AzureError(409, "Conflict", "say \"no\"\r\n",
                          "ObjectIsDeletedButRecoverable");
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"Conflict","message":"say \"no\"\r\n","innererror":{"code":"ObjectIsDeletedButRecoverable"}}})");
}

TEST(AzureErrorTest, StandardHeaders) {
  Response r = AzureError(400, "BadParameter", "x");
  std::string id(r.headers.Get("x-ms-request-id").value_or(""));
  // 8-4-4-4-12 lower-case hex, version 4, RFC 4122 variant.
  ASSERT_EQ(id.size(), 36u) << id;
  for (size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    EXPECT_TRUE(dash ? id[i] == '-'
                     : std::string_view("0123456789abcdef").find(id[i]) !=
                           std::string_view::npos)
        << id;
  }
  EXPECT_EQ(id[14], '4') << id;
  EXPECT_NE(std::string_view("89ab").find(id[19]), std::string_view::npos)
      << id;
  EXPECT_EQ(r.headers.Get("x-ms-keyvault-region").value_or(""), "local");
  EXPECT_TRUE(r.headers.Has("x-ms-keyvault-service-version"));
  Response other = AzureError(400, "BadParameter", "x");
  EXPECT_NE(other.headers.Get("x-ms-request-id"),
            r.headers.Get("x-ms-request-id"));
}

TEST(AzureErrorTest, AddStandardHeadersKeepsExistingOnes) {
  Response r;
  r.headers.Add("X-Ms-Request-Id", "fixed");
  AddStandardHeaders(r);
  EXPECT_EQ(r.headers.Get("x-ms-request-id").value_or(""), "fixed");
  EXPECT_EQ(r.headers.fields().size(), 3u);
}

TEST(ChallengeResponseTest, ExactHeaderAndBody) {
  Response r = ChallengeResponse("https://localhost:8443", "tenant-1");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(
      r.headers.Get("WWW-Authenticate").value_or(""),
      "Bearer authorization=\"https://login.microsoftonline.com/tenant-1\", "
      "resource=\"https://localhost:8443\"");
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"Unauthorized","message":"AKV10000: Request is missing a Bearer or PoP token."}})");
}

TEST(ParseApiVersionTest, AcceptsKnownVersions) {
  struct Case {
    const char* text;
    ApiLevel level;
    bool preview;
  } cases[] = {
      {"7.0", ApiLevel::k7_0, false},
      {"7.3", ApiLevel::k7_3, false},
      {"7.4-preview.1", ApiLevel::k7_4, true},
      {"7.5-preview", ApiLevel::k7_5, true},
      {"7.6", ApiLevel::k7_6, false},
      {"2016-10-01", ApiLevel::k2016_10_01, false},
      {"2025-07-01", ApiLevel::k2025_07_01, false},
  };
  for (const Case& c : cases) {
    ASSERT_OK_AND_ASSIGN(ApiVersion v, ParseApiVersion(c.text));
    EXPECT_EQ(v.level, c.level) << c.text;
    EXPECT_EQ(v.preview, c.preview) << c.text;
    EXPECT_EQ(v.text, c.text);
  }
  EXPECT_LT(ApiLevel::k2016_10_01, ApiLevel::k7_0);
  EXPECT_LT(ApiLevel::k7_6, ApiLevel::k2025_07_01);
}

TEST(ParseApiVersionTest, FailureUnknownVersionUsesAzureMessage) {
  for (const char* bad : {"7.7", "8.0", "7.4-beta", "7.4-preview.",
                          "2024-01-01", "", "7", "7.10"}) {
    absl::StatusOr<ApiVersion> v = ParseApiVersion(bad);
    EXPECT_THAT(v, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    EXPECT_EQ(v.status().message(),
              std::string("The specified version (") + bad +
                  ") is not recognized. Consider using the latest supported "
                  "version (2025-07-01).");
  }
}

TEST(RequestApiVersionTest, ReadsDecodedQueryName) {
  Request req;
  ASSERT_OK(ParseTarget("/keys/k/?api%2Dversion=7.4", req));
  ASSERT_OK_AND_ASSIGN(ApiVersion v, RequestApiVersion(req));
  EXPECT_EQ(v.level, ApiLevel::k7_4);
}

TEST(RequestApiVersionTest, FailureMissing) {
  Request req;
  ASSERT_OK(ParseTarget("/keys/k", req));
  EXPECT_THAT(RequestApiVersion(req),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(StatusMappingTest, MapsCodesToAzure) {
  struct Case {
    absl::Status status;
    int http;
    const char* code;
  } cases[] = {
      {absl::InvalidArgumentError("x"), 400, "BadParameter"},
      {absl::UnimplementedError("x"), 400, "BadParameter"},
      {absl::NotFoundError("x"), 404, "KeyNotFound"},
      {absl::AlreadyExistsError("x"), 409, "Conflict"},
      {absl::FailedPreconditionError("x"), 409, "Conflict"},
      {absl::PermissionDeniedError("x"), 403, "Forbidden"},
      {absl::UnauthenticatedError("x"), 401, "Unauthorized"},
      {absl::ResourceExhaustedError("x"), 429, "Throttled"},
      {absl::UnavailableError("x"), 503, "ServiceUnavailable"},
      {absl::InternalError("x"), 500, "InternalServerError"},
      {absl::DataLossError("x"), 500, "InternalServerError"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(HttpStatusFor(c.status), c.http) << c.status;
    EXPECT_EQ(AzureCodeFor(c.status), c.code) << c.status;
  }
}

TEST(StatusMappingTest, StatusResponseAllowsCodeOverride) {
  Response r = StatusResponse(absl::NotFoundError("no such deleted key"),
                              "DeletedKeyNotFound");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(
      r.body,
      R"({"error":{"code":"DeletedKeyNotFound","message":"no such deleted key"}})");
  Response d = StatusResponse(absl::AlreadyExistsError("exists"), "",
                              "ObjectIsBeingDeleted");
  EXPECT_EQ(d.status, 409);
  EXPECT_EQ(
      d.body,
      R"({"error":{"code":"Conflict","message":"exists","innererror":{"code":"ObjectIsBeingDeleted"}}})");
}

}  // namespace
}  // namespace keyferry::http
