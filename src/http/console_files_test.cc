#include "http/console_files.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace keyferry::http {
namespace {

Request Get(std::string_view target, std::string method = "GET") {
  Request r;
  r.method = std::move(method);
  r.target = std::string(target);
  EXPECT_TRUE(ParseTarget(target, r).ok()) << target;
  return r;
}

const EmbeddedFile kFake[] = {
    {"index.html", "<!doctype html><title>t</title>"},
    {"app.js", "export const a = 1;"},
    {"console.css", "body{}"},
};

void ExpectSecurityHeaders(const Response& r) {
  EXPECT_EQ(r.headers.Get("Content-Security-Policy").value_or(""), kConsoleCsp);
  EXPECT_EQ(r.headers.Get("X-Frame-Options").value_or(""), "DENY");
  EXPECT_EQ(r.headers.Get("X-Content-Type-Options").value_or(""), "nosniff");
  EXPECT_EQ(r.headers.Get("Referrer-Policy").value_or(""), "no-referrer");
  EXPECT_EQ(r.headers.Get("Cache-Control").value_or(""), "no-cache");
}

TEST(ConsoleFiles, IndexForBareAndSlashPaths) {
  for (std::string_view t : {"/console", "/console/", "/console/index.html"}) {
    Response r = ServeConsoleFile(kFake, Get(t));
    EXPECT_EQ(r.status, 200) << t;
    EXPECT_EQ(r.body, "<!doctype html><title>t</title>") << t;
    EXPECT_EQ(r.headers.Get("Content-Type").value_or(""),
              "text/html; charset=utf-8");
    ExpectSecurityHeaders(r);
  }
}

TEST(ConsoleFiles, ContentTypesByExtension) {
  Response js = ServeConsoleFile(kFake, Get("/console/app.js"));
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "export const a = 1;");
  EXPECT_EQ(js.headers.Get("Content-Type").value_or(""),
            "text/javascript; charset=utf-8");
  Response css = ServeConsoleFile(kFake, Get("/console/console.css"));
  EXPECT_EQ(css.headers.Get("Content-Type").value_or(""),
            "text/css; charset=utf-8");
  EXPECT_EQ(ContentTypeOf("x.svg"), "image/svg+xml");
  EXPECT_EQ(ContentTypeOf("x.bin"), "application/octet-stream");
  EXPECT_EQ(ContentTypeOf("js"), "application/octet-stream");
}

TEST(ConsoleFiles, FailureUnknownFileIs404WithHeaders) {
  Response r = ServeConsoleFile(kFake, Get("/console/nope.js"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.error_code, "NotFound");
  EXPECT_EQ(r.body.find("export"), std::string::npos);
  ExpectSecurityHeaders(r);
}

TEST(ConsoleFiles, FailureNoTraversalOrSubdirectories) {
  // Encoded separators and dot segments stay inside one segment and are
  // looked up as names, which no embedded file has.
  for (std::string_view t :
       {"/console/..%2F..%2Fetc%2Fpasswd", "/console/%2e%2e", "/console/..",
        "/console/%2Fetc%2Fpasswd", "/console/x/app.js", "/console/app.js/",
        "/console/app.js%00", "/console/APP.JS", "/console/.%2Fapp.js"}) {
    Response r = ServeConsoleFile(kFake, Get(t));
    EXPECT_EQ(r.status, 404) << t;
    EXPECT_TRUE(r.body.find("export") == std::string::npos) << t;
  }
}

TEST(ConsoleFiles, FailureWriteMethodsRefused) {
  for (std::string m : {"POST", "PUT", "DELETE", "PATCH"}) {
    Response r = ServeConsoleFile(kFake, Get("/console/app.js", m));
    EXPECT_EQ(r.status, 405) << m;
    EXPECT_EQ(r.headers.Get("Allow").value_or(""), "GET, HEAD");
    ExpectSecurityHeaders(r);
  }
}

TEST(ConsoleFiles, PathClassification) {
  EXPECT_TRUE(IsConsoleFilePath(Get("/console")));
  EXPECT_TRUE(IsConsoleFilePath(Get("/console/")));
  EXPECT_TRUE(IsConsoleFilePath(Get("/console/app.js")));
  EXPECT_TRUE(IsConsoleFilePath(Get("/console/a/b")));
  EXPECT_FALSE(IsConsoleFilePath(Get("/console/api/whoami")));
  EXPECT_FALSE(IsConsoleFilePath(Get("/console/api")));
  EXPECT_FALSE(IsConsoleFilePath(Get("/keys")));
  EXPECT_FALSE(IsConsoleFilePath(Get("/consoles")));
}

TEST(ConsoleFiles, EmbeddedConsoleHasItsFiles) {
  std::span<const EmbeddedFile> files = EmbeddedConsoleFiles();
  Response index = ServeConsoleFile(files, Get("/console/"));
  ASSERT_EQ(index.status, 200);
  // The page loads its script and style from this origin, never inline.
  EXPECT_NE(index.body.find("<script type=\"module\" src=\"/console/app.js\">"),
            std::string::npos);
  EXPECT_EQ(index.body.find("style="), std::string::npos);
  EXPECT_EQ(index.body.find("onclick"), std::string::npos);
  for (const EmbeddedFile& f : files) {
    Response r = ServeConsoleFile(
        files, Get(std::string("/console/") + std::string(f.name)));
    EXPECT_EQ(r.status, 200) << f.name;
    EXPECT_EQ(r.body, f.data) << f.name;
    EXPECT_NE(ContentTypeOf(f.name), "application/octet-stream") << f.name;
    // No eval and no inline event handlers anywhere.
    EXPECT_EQ(f.data.find("eval("), std::string_view::npos) << f.name;
    EXPECT_EQ(f.data.find("new Function"), std::string_view::npos) << f.name;
    EXPECT_EQ(f.data.find("innerHTML"), std::string_view::npos) << f.name;
  }
}

}  // namespace
}  // namespace keyferry::http
