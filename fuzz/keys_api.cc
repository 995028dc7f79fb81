// Fuzzes the keys API's request bodies through http::KeysApi::Handle, the
// code keyferryd runs for every request after the transport: a real
// KeyVault over the in-memory store and a software custody (fixed test
// master key), tokens checked as in production. Byte 0 picks the route
// (kRoutes), the rest is the JSON body. Keys "rsa", "ec" and "oct" are made
// once and only read; "upd" takes updates and rotation policies; "fz" is
// created or imported and purged again after each input, so inputs do not
// pile up state.
#include "http/keys_api.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "auth/jwt.h"
#include "base/strings.h"
#include "crypto/keys.h"
#include "custody/software_custody.h"
#include "fuzz_util.h"
#include "store/memory_store.h"
#include "vault/key_vault.h"

namespace {

using namespace keyferry;

constexpr int64_t kNow = 1'800'000'000;
constexpr char kVault[] = "myvault";

struct Route {
  const char* method;
  const char* path;
};
// kRoutes: every keys-API call that reads a body.
constexpr Route kRoutes[] = {
    {"POST", "/keys/fz/create"},    {"PUT", "/keys/fz"},
    {"PATCH", "/keys/upd"},         {"PUT", "/keys/upd/rotationpolicy"},
    {"POST", "/keys/rsa//sign"},    {"POST", "/keys/ec//sign"},
    {"POST", "/keys/rsa//verify"},  {"POST", "/keys/ec//verify"},
    {"POST", "/keys/rsa//encrypt"}, {"POST", "/keys/rsa//decrypt"},
    {"POST", "/keys/oct//encrypt"}, {"POST", "/keys/oct//decrypt"},
    {"POST", "/keys/rsa//wrapkey"}, {"POST", "/keys/rsa//unwrapkey"},
    {"POST", "/keys/oct//wrapkey"}, {"POST", "/keys/oct//unwrapkey"},
    {"POST", "/keys/upd/backup"},   {"POST", "/keys/restore"},
    {"POST", "/keys/upd/rotate"},   {"POST", "/rng"},
};
constexpr size_t kRouteCount = sizeof(kRoutes) / sizeof(kRoutes[0]);

struct Setup {
  store::MemoryKeyStore store;
  std::unique_ptr<custody::SoftwareCustody> custody;
  std::unique_ptr<vault::KeyVault> vault;
  crypto::EvpPkeyPtr token_key;
  std::unique_ptr<http::KeysApi> api;
  std::string authorization;
};

http::Response Send(Setup& s, std::string_view method, std::string_view path,
                    std::string_view body) {
  http::Request r;
  r.method = std::string(method);
  r.target = absl::StrCat(Sv(path), "?api-version=7.4");
  fuzz::CheckOk(http::ParseTarget(r.target, r), "ParseTarget");
  r.host = "myvault.localhost";
  r.host_port = 8443;
  r.headers.Add("Host", "myvault.localhost:8443");
  r.headers.Add("Authorization", s.authorization);
  r.body = std::string(body);
  return s.api->Handle(r);
}

void MustCreate(Setup& s, const char* name, const char* body) {
  http::Response r =
      Send(s, "POST", absl::StrCat("/keys/", name, "/create"), body);
  if (r.status != 200) {
    fprintf(stderr, "create %s: %d %s\n", name, r.status, r.body.c_str());
    abort();
  }
}

Setup& Get() {
  static Setup* s = [] {
    auto* s = new Setup;
    auto c = custody::SoftwareCustody::New(fuzz::FixedMasterKey());
    fuzz::CheckOk(c.status(), "custody");
    s->custody = std::move(*c);
    s->vault = std::make_unique<vault::KeyVault>(
        &s->store, s->custody.get(), [] { return kNow; },
        vault::VaultOptions{.recoverable_days = 7});
    auto k = crypto::GenerateEc(crypto::Curve::kP256);
    fuzz::CheckOk(k.status(), "token key");
    s->token_key = std::move(*k);
    http::KeysApiOptions o;
    o.vaults = {kVault};
    o.tenant = "tenant-1";
    o.token_key = s->token_key.get();
    o.token_issuer = "https://localhost:8443/identity";
    o.clock = [] { return kNow; };
    o.grants = {*http::ParseGrant("officer:*:crypto-officer")};
    auto api = http::KeysApi::New(std::move(o), s->vault.get());
    fuzz::CheckOk(api.status(), "KeysApi");
    s->api = std::move(*api);
    auth::Claims claims{"https://localhost:8443/identity",
                        "officer",
                        "https://localhost:8443",
                        "tenant-1",
                        kNow,
                        kNow,
                        kNow + 3600};
    auto token = auth::IssueAccessToken(s->token_key.get(), "k1", claims);
    fuzz::CheckOk(token.status(), "token");
    s->authorization = absl::StrCat("Bearer ", *token);
    MustCreate(*s, "rsa", R"({"kty":"RSA","key_size":2048})");
    MustCreate(*s, "ec", R"({"kty":"EC","crv":"P-256"})");
    MustCreate(*s, "oct", R"({"kty":"oct-HSM","key_size":256})");
    MustCreate(*s, "upd", R"({"kty":"EC","crv":"P-256"})");
    return s;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Setup& s = Get();
  const Route& route = kRoutes[data[0] % kRouteCount];
  http::Response r =
      Send(s, route.method, route.path, fuzz::Text(data + 1, size - 1));
  if (r.status >= 500) {
    fprintf(stderr, "%s %s -> %d %s\n", route.method, route.path, r.status,
            r.body.c_str());
    fuzz::Mismatch("a request body made the keys API answer 5xx");
  }
  for (const char* name : {"fz", "fzb"}) {
    if (s.vault->Delete(kVault, name).ok()) {
      fuzz::CheckOk(s.vault->Purge(kVault, name), "purge");
    }
  }
  return 0;
}
