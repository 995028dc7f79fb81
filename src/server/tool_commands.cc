#include "server/tool_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "auth/jwt.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "base/strings.h"
#include "server/config.h"
#include "server/custody_setup.h"
#include "server/deployment.h"
#include "server/process.h"
#include "server/tls_setup.h"
#include "vault/key_vault.h"

namespace keyferry::server {
namespace {

bool IsInt(std::string_view v) {
  int n = 0;
  return absl::SimpleAtoi(Sv(v), &n);
}

bool IsInt64(std::string_view v) {
  int64_t n = 0;
  return absl::SimpleAtoi(Sv(v), &n);
}

absl::Status RunVault(const Args&) {
  return absl::InvalidArgumentError("vault add NAME | vault list");
}

// RunVaultList prints the configured vaults and those added with `vault
// add` (the store's, then an older deployment's <data-dir>/vaults not yet
// adopted).
absl::Status RunVaultList(const Args& args) {
  ASSIGN_OR_RETURN(Config c, LoadConfig(args.rest()));
  ASSIGN_OR_RETURN(std::unique_ptr<store::KeyStore> store,
                   OpenToolStore(c, /*must_exist=*/true));
  ASSIGN_OR_RETURN(std::vector<std::string> added, AddedVaults(*store));
  ASSIGN_OR_RETURN(std::vector<std::string> legacy, LegacyAddedVaults(c));
  for (const std::string& v : legacy) {
    if (std::find(added.begin(), added.end(), v) == added.end()) {
      added.push_back(v);
    }
  }
  for (const std::string& v : c.vaults) {
    std::printf("%s (configured)\n", v.c_str());
  }
  for (const std::string& v : added) {
    if (std::find(c.vaults.begin(), c.vaults.end(), v) == c.vaults.end()) {
      std::printf("%s\n", v.c_str());
    }
  }
  return absl::OkStatus();
}

// RunVaultAdd records the name (the first word after "vault add") in the
// store, once: every node of the deployment serves it after its next start.
absl::Status RunVaultAdd(const Args& args) {
  if (args.rest().empty()) {
    return absl::InvalidArgumentError("vault add needs a name");
  }
  const std::string name = args.rest()[0];
  ASSIGN_OR_RETURN(Config c, LoadConfig(std::vector<std::string>(
                                 args.rest().begin() + 1, args.rest().end())));
  RETURN_IF_ERROR(
      LoadConfig({"--vaults", name, "--data-dir", c.data_dir}).status());
  ASSIGN_OR_RETURN(std::unique_ptr<store::KeyStore> store,
                   OpenToolStore(c, /*must_exist=*/true));
  bool added = false;
  if (std::find(c.vaults.begin(), c.vaults.end(), name) == c.vaults.end()) {
    ASSIGN_OR_RETURN(added, AddVault(*store, name));
  }
  if (!added) {
    std::printf("vault %s exists\n", name.c_str());
    return absl::OkStatus();
  }
  std::printf(
      "vault %s added: https://%s.%s:%u (served by each node after its next "
      "start)\n",
      name.c_str(), name.c_str(), c.domain.c_str(), c.port);
  return absl::OkStatus();
}

// RunAccessToken mints a token for --principal with the deployment's token key,
// which the custody holds: minting needs what using a key needs (the
// master key file, K key shares, or the token's PIN).
absl::Status RunAccessToken(const Args& args) {
  const std::string principal = args.Get("principal").value_or("");
  const std::string resource = args.Get("resource").value_or("");
  int64_t lifetime = 3600;
  if (auto lt = args.Get("lifetime")) (void)absl::SimpleAtoi(*lt, &lifetime);
  if (principal.empty()) {
    return absl::InvalidArgumentError("token needs --principal");
  }
  ASSIGN_OR_RETURN(Config c, LoadConfig(args.rest()));
  // Secrets are read below (PIN, master key, shares), as in Serve.
  RETURN_IF_ERROR(RestrictCoreDumps(c.allow_core_dumps, /*log_outcome=*/false));
  RETURN_IF_ERROR(CheckAccessTokenLifetime(c, lifetime));
  ASSIGN_OR_RETURN(std::unique_ptr<store::KeyStore> store,
                   OpenToolStore(c, /*must_exist=*/true));
  ASSIGN_OR_RETURN(std::unique_ptr<custody::Custody> custody,
                   OpenCustodyForTool(c, args.GetAll("share"),
                                      args.GetAll("passphrase-file")));
  ASSIGN_OR_RETURN(bool bound, BindCustody(c, *store, *custody));
  ASSIGN_OR_RETURN(std::unique_ptr<AccessTokenSigner> signer,
                   LoadSigner(c, *store, *custody, bound));
  ASSIGN_OR_RETURN(Deployment d, OpenDeployment(c, *store));
  const int64_t now = vault::SystemClock();
  auth::Claims claims;
  claims.issuer = Issuer(c);
  claims.subject = principal;
  claims.audience = resource.empty() ? Resource(c) : resource;
  claims.tenant = d.tenant;
  claims.issued_at = now;
  // exp - nbf is the lifetime asked for (a negative one, for tests, makes
  // an expired token valid for the second before exp).
  claims.not_before = std::min(now, now + lifetime - 1);
  claims.expires = now + lifetime;
  ASSIGN_OR_RETURN(std::string token, signer->Issue(claims));
  std::printf("%s\n", token.c_str());
  return absl::OkStatus();
}

// CheckInitKeepsKeys opens (or makes, empty) the store: init splits
// master.key, or makes a master key for a new deployment, never a new one
// for a store that already has keys. Making the store now means a store
// missing later is known to be lost.
absl::Status CheckInitKeepsKeys(const Config& c) {
  const bool had_key = std::filesystem::exists(DataPath(c, "master.key"));
  ASSIGN_OR_RETURN(std::unique_ptr<store::KeyStore> store,
                   OpenToolStore(c, /*must_exist=*/false));
  ASSIGN_OR_RETURN(custody::MasterKeyPolicy policy, MasterKeysFor(*store));
  if (policy == custody::MasterKeyPolicy::kMustExist && !had_key) {
    return absl::FailedPreconditionError(
        "the store holds keys but master.key is missing: restore master.key "
        "before `keyferryd init` splits it (a new master key would orphan "
        "the keys)");
  }
  return absl::OkStatus();
}

absl::Status RunInit(const Args& args) {
  InitOptions o;
  if (auto v = args.Get("shares")) (void)absl::SimpleAtoi(*v, &o.shares);
  if (auto v = args.Get("threshold")) (void)absl::SimpleAtoi(*v, &o.threshold);
  o.share_dir = args.Get("share-dir").value_or("");
  o.passphrase_files = args.GetAll("passphrase-file");
  if (o.shares == 0 || o.threshold == 0 || o.share_dir.empty()) {
    return absl::InvalidArgumentError(
        "init needs --shares N --threshold K --share-dir DIR");
  }
  ASSIGN_OR_RETURN(Config c, LoadConfig(args.rest()));
  // Init holds the master key and the shares in memory, as Serve.
  RETURN_IF_ERROR(RestrictCoreDumps(c.allow_core_dumps, /*log_outcome=*/false));
  RETURN_IF_ERROR(EnsureDataDir(c.data_dir));
  RETURN_IF_ERROR(CheckInitKeepsKeys(c));
  ASSIGN_OR_RETURN(std::vector<std::string> paths, Init(c, o));
  std::printf(
      "keyferryd initialized: the master key is split into %d key shares, "
      "any %d of which unseal it.\n",
      o.shares, o.threshold);
  for (const std::string& p : paths) std::printf("  %s\n", p.c_str());
  std::printf(
      "Hand each share to its own operator and remove it from this machine. "
      "keyferryd now starts sealed: unseal with `keyferry vault unseal "
      "--share FILE`.\n");
  return absl::OkStatus();
}

// RunCa prints the CA certificate clients trust (made, as `serve` would
// make it, when the data directory has none yet), or with --ca-bundle FILE
// writes the system CAs followed by it to FILE.
absl::Status RunCa(const Args& args) {
  ASSIGN_OR_RETURN(Config c, LoadConfig(args.rest()));
  if (!c.tls_cert.empty()) {
    return absl::FailedPreconditionError(
        "keyferryd serves the operator's certificate (tls-cert): trust the "
        "CA that issued it");
  }
  ASSIGN_OR_RETURN(ServerTls tls, PrepareTls(c));
  if (auto bundle = args.Get("ca-bundle")) {
    ASSIGN_OR_RETURN(int system,
                     WriteCaBundle(*bundle, tls.ca, kSystemCaBundle));
    std::printf("wrote %s: %d system CA certificates and keyferryd's CA\n",
                bundle->c_str(), system);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(std::string pem, ReadFile(tls.ca));
  std::fputs(pem.c_str(), stdout);
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ToolCommands() {
  std::vector<OptionSpec> token = {
      {"principal", false, "the token's subject (oid)"},
      {"resource", false, "its audience (default the deployment's URL)"},
      {"lifetime", false, "seconds (default 3600)", false, "seconds", IsInt64},
      {"share", false, "a key share file (sealed deployment)", false, "a file"},
      {"passphrase-file", false, "the passphrase of an encrypted share", false,
       "a file"}};
  std::vector<OptionSpec> init = {
      {"shares", false, "how many key shares (N)", false, "a number", IsInt},
      {"threshold", false, "how many unseal (K)", false, "a number", IsInt},
      {"share-dir", false, "where the shares are written", false,
       "a directory"},
      {"passphrase-file", false, "encrypt a share with this passphrase", false,
       "a file"}};
  return {
      {"token", "mint an access token", token, "", RunAccessToken},
      {"vault",
       "vaults added to the deployment (kept in the store)",
       {},
       "",
       RunVault},
      {"vault add", "add a vault", {}, "NAME", RunVaultAdd},
      {"vault list", "list the vaults", {}, "", RunVaultList},
      {"init", "seal the master key with key shares", init, "", RunInit},
      {"ca",
       "print the CA certificate clients trust (--ca-bundle FILE: the system "
       "CAs and it, in one file)",
       {{"ca-bundle", false, "write the bundle here", false, "a file"}},
       "",
       RunCa},
  };
}

}  // namespace keyferry::server
