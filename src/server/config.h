// keyferryd configuration: a file of `key = value` lines, then command-line
// flags (`--key value` or `--key=value`) that override it. Every key is
// documented in kConfigKeys and printed by --help.
#ifndef KEYFERRY_SERVER_CONFIG_H_
#define KEYFERRY_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::server {

struct Config {
  std::string listen_address = "127.0.0.1";
  uint16_t port = 8443;
  // The port clients reach the vaults on, when it is not `port`: a load
  // balancer's in front of several nodes (0: `port`). Tokens name it.
  uint16_t public_port = 0;
  std::string
      data_dir;  // default $KEYFERRY_HOME or ~/.local/share/keyferry/server
  std::string domain = "localhost";
  std::vector<std::string> vaults = {"myvault"};
  // Further DNS names or IP addresses the generated certificate covers
  // (tls-names), e.g. the host's own name for clients on other machines.
  std::vector<std::string> tls_names;
  // Other host names of served vaults (vault-alias HOST=VAULT), {host,
  // vault}: clients that reach a vault by another name (a container's
  // service name, a test fixture's host) are served it; the generated
  // certificate covers each host.
  std::vector<std::pair<std::string, std::string>> vault_aliases;
  std::string tls_cert;  // empty: keyferryd makes a private CA and certificate
  std::string tls_key;
  std::string custody = "software";  // software | pkcs11
  // PKCS#11 custody: the module, the token (label or a pkcs11: URI with
  // token=…, optionally module-path=… and pin-source=file:…|env:…), and
  // the user PIN from a file or $KEYFERRY_PKCS11_PIN.
  std::string pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so";
  std::string
      pkcs11_module_init;  // C_Initialize pReserved, if the module needs one
  std::string pkcs11_token;
  std::string pkcs11_pin_file;
  // Audit log (docs/audit.md); default <data_dir>/audit.log.
  std::string audit_log;
  // What an answer waits for: "sync" (its record fdatasynced, the default)
  // or "write" (its record written; synced within a second).
  std::string audit_durability = "sync";
  std::string store = "sqlite";  // sqlite | postgres
  // store = postgres: the libpq conninfo or postgresql:// URI, from the
  // config file or --postgres-url (which must not hold a password: `ps`
  // shows it), else $KEYFERRY_POSTGRES_URL. The password may also come
  // from libpq's PGPASSFILE (~/.pgpass). Never logged.
  std::string postgres_url;
  int postgres_pool = 4;  // connections per keyferryd, 1 to 64
  std::string identity_address = "127.0.0.1";
  uint16_t identity_port = 8081;
  std::string log_level = "info";
  int threads = 0;  // 0: one per core
  // The one principal the managed-identity endpoint issues tokens to.
  std::string identity_principal = "keyferry-admin";
  // Local uids whose processes may get that principal's token without the
  // identity secret (the legacy MSI style: POST with Metadata: true), found
  // from the client's socket. Empty (the default): that style is refused.
  // "self" in the setting stands for keyferryd's own effective uid.
  std::vector<uint32_t> identity_legacy_uids;
  // Role grants "principal:vault:role" (vault "*" for all). Empty: the
  // identity principal is Crypto Officer on every vault.
  std::vector<std::string> grants;
  int recoverable_days = 90;  // soft-delete retention, 7 to 90
  // Authenticate the versions of a schema-1 store as they are (operator
  // opt-in: docs/storage.md §4).
  bool upgrade_store = false;
  // The longest an access token may live (exp - nbf/iat), in seconds: the
  // keys API refuses longer ones and `keyferryd token` will not mint them.
  // From kMinAccessTokenMaxLifetime (the identity endpoint's tokens live 3600
  // s) to kMaxAccessTokenMaxLifetime.
  int64_t token_max_lifetime = int64_t{24} * 3600;
  // false (default): keyferryd sets RLIMIT_CORE to 0 and makes itself not
  // dumpable at start (server/process.h), so no core file holds key material.
  bool allow_core_dumps = false;
  // A JSON file of keys to import at start, idempotently (docs/preload.md);
  // empty: none.
  std::string preload;
};

inline constexpr int64_t kMinAccessTokenMaxLifetime = 3600;
inline constexpr int64_t kMaxAccessTokenMaxLifetime = int64_t{30} * 24 * 3600;

struct ConfigKey {
  const char* name;
  const char* help;
};
// kConfigKeys lists every key the file and the flags accept.
extern const std::vector<ConfigKey> kConfigKeys;

// ParseConfigText applies `key = value` lines to `config`. Blank lines and
// lines starting with '#' are ignored. InvalidArgument names the line.
absl::Status ParseConfigText(std::string_view text, Config& config);

// ApplyFlag sets one key from the command line.
absl::Status ApplyFlag(std::string_view key, std::string_view value,
                       Config& config);

// LoadConfig builds the configuration from `argv` (without the program
// name): `--config FILE` is read first, then every other flag applies.
// The result is validated: port numbers, vault names (^[0-9a-z-]{3,24}$),
// domain, custody and store kinds, and tls_cert/tls_key given together.
// store = postgres needs postgres-url (or $KEYFERRY_POSTGRES_URL); a
// --postgres-url flag holding a password is refused (InvalidArgument that
// does not quote it).
absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& argv);

// CheckAccessTokenLifetime returns InvalidArgument, naming token-max-lifetime,
// when `lifetime_seconds` exceeds config.token_max_lifetime (a token keyferryd
// would refuse).
absl::Status CheckAccessTokenLifetime(const Config& config,
                                      int64_t lifetime_seconds);

// HelpText documents the flags and file keys.
std::string HelpText();

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_CONFIG_H_
