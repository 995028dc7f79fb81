#include "server/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "base/file.h"
#include "base/status.h"
#include "base/strings.h"
#include "store/postgres_store.h"

namespace keyferry::server {

const std::vector<ConfigKey> kConfigKeys = {
    {"listen", "HTTPS address:port of the vault API (default 127.0.0.1:8443)"},
    {"data-dir",
     "state directory: store, master key, TLS files (default "
     "$KEYFERRY_HOME/server "
     "or ~/.local/share/keyferry/server)"},
    {"domain",
     "vaults are https://<vault>.<domain>:<port> (default localhost)"},
    {"public-port",
     "the port clients reach the vaults on when it is not listen's: the "
     "load balancer's, in front of several nodes (tokens name it)"},
    {"vaults", "comma-separated vault names to serve (default myvault)"},
    {"tls-names",
     "further DNS names or IP addresses, comma-separated, for the generated "
     "certificate (e.g. this host's name); printed on start"},
    {"vault-alias",
     "HOST=VAULT[,HOST=VAULT...]: further host names (with a dot, no port) "
     "that serve a vault, e.g. keyvault.test.internal=myvault; the generated "
     "certificate covers them; printed on start"},
    {"tls-cert", "PEM certificate chain to serve instead of the generated one"},
    {"tls-key", "PEM private key for --tls-cert"},
    {"custody",
     "where key material lives: software (default; sealed with key shares "
     "after `keyferryd init`) or pkcs11"},
    {"pkcs11-module",
     "PKCS#11 module for custody pkcs11 (default "
     "/usr/lib/softhsm/libsofthsm2.so)"},
    {"pkcs11-module-init",
     "custody pkcs11: the module's initialization string (C_Initialize "
     "pReserved), for modules that need one, e.g. NSS softokn: "
     "configdir='sql:DIR' certPrefix='' keyPrefix='' secmod='secmod.db'"},
    {"pkcs11-token",
     "token label, or a pkcs11: URI (token=, module-path=, "
     "pin-source=file:…|env:…), for custody pkcs11"},
    {"pkcs11-pin-file",
     "file holding the token's user PIN (else $KEYFERRY_PKCS11_PIN)"},
    {"audit-log",
     "hash-chained audit log (default <data-dir>/audit.log; verify with "
     "`keyferry audit verify`)"},
    {"audit-durability",
     "what an answer waits for: sync (default: its audit record written and "
     "fdatasynced; survives a power loss) or write (written; survives kill "
     "-9, a power loss may lose the last second of records)"},
    {"store",
     "where metadata lives: sqlite (default, <data-dir>/keys.db) or postgres "
     "(postgres-url)"},
    {"postgres-url",
     "store postgres: libpq conninfo or postgresql:// URI (else "
     "$KEYFERRY_POSTGRES_URL). A password only in the config file, the "
     "environment variable or PGPASSFILE, never on the command line"},
    {"postgres-pool",
     "store postgres: connections per keyferryd (1-64, default 4)"},
    {"identity-listen",
     "loopback address:port of the managed-identity endpoint (default "
     "127.0.0.1:8081)"},
    {"log-level", "debug, info, warning or error (default info)"},
    {"threads", "I/O threads (default: one per core)"},
    {"identity-principal",
     "the principal the managed-identity endpoint issues tokens to "
     "(default keyferry-admin)"},
    {"identity-legacy-uids",
     "comma-separated local uids (numbers, or self for keyferryd's own) "
     "whose processes may get the identity principal's token WITHOUT the "
     "identity secret (legacy MSI style: POST with Metadata: true), checked "
     "against the owner of the client's socket; default: none, that style "
     "is refused. Any process of these uids can act as the identity "
     "principal"},
    {"grant",
     "principal:vault:role, repeatable (vault * for all; roles "
     "crypto-officer, crypto-user, crypto-service-encryption-user, reader); "
     "default: the identity principal is crypto-officer on every vault"},
    {"recoverable-days",
     "days a deleted key stays recoverable before it is purged (7-90, "
     "default 90)"},
    {"upgrade-store",
     "true: authenticate, once, the key versions of a store written before "
     "record authentication (schema 1) as they are now (default false: "
     "such a store is refused)"},
    {"token-max-lifetime",
     "longest lifetime (exp - nbf/iat) of an access token the vault accepts "
     "and `keyferryd token` mints, in seconds (3600-2592000, default 86400)"},
    {"allow-core-dumps",
     "true lets keyferryd write core files and be traced by its user; "
     "default false: no core dumps, not dumpable (a core file would hold key "
     "material)"},
    {"preload",
     "JSON file of keys (JWK, or .byok with its KEK named) to import at "
     "start, idempotently: a restart with the same file adds nothing; owner-"
     "only like master.key (docs/preload.md)"},
};

namespace {

absl::Status Bad(std::string_view key, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("config ", Sv(key), ": ", Sv(why)));
}

absl::Status ParseHostPort(std::string_view key, std::string_view v,
                           std::string& host, uint16_t& port) {
  size_t colon = v.rfind(':');
  if (colon == std::string_view::npos) return Bad(key, "expected address:port");
  std::string h(v.substr(0, colon));
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']')
    h = h.substr(1, h.size() - 2);
  uint32_t p;
  if (h.empty() || !absl::SimpleAtoi(Sv(v.substr(colon + 1)), &p) ||
      p > 65535) {
    return Bad(key, "expected address:port with a port from 0 to 65535");
  }
  host = h;
  port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

// ParseBool accepts exactly "true" or "false".
absl::Status ParseBool(std::string_view key, std::string_view v, bool& out) {
  if (v == "true" || v == "false") {
    out = v == "true";
    return absl::OkStatus();
  }
  return Bad(key, "true or false");
}

bool IsVaultName(std::string_view s) {
  if (s.size() < 3 || s.size() > 24) return false;
  for (char c : s) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
        !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
      return false;
    }
  }
  return s.front() != '-' && s.back() != '-';
}

// IsHostName: lower-case DNS labels of a-z, 0-9 and inner '-', dot
// separated, at least two labels (the SDKs need a parent for the challenge
// resource), at most 253 characters.
bool IsHostName(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  int labels = 0;
  for (absl::string_view label : absl::StrSplit(Sv(s), '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' ||
        label.back() == '-') {
      return false;
    }
    for (char c : label) {
      if (!absl::ascii_islower(static_cast<unsigned char>(c)) &&
          !absl::ascii_isdigit(static_cast<unsigned char>(c)) && c != '-') {
        return false;
      }
    }
    ++labels;
  }
  return labels >= 2;
}

// ParseVaultAliases reads "HOST=VAULT[,HOST=VAULT...]" into c.vault_aliases
// (replacing earlier ones); Validate checks them against the vaults.
absl::Status ParseVaultAliases(std::string_view v, Config& c) {
  c.vault_aliases.clear();
  for (absl::string_view part : absl::StrSplit(Sv(v), ',',
                                               absl::SkipWhitespace())) {
    std::pair<std::string, std::string> alias = absl::StrSplit(
        absl::StripAsciiWhitespace(part), absl::MaxSplits('=', 1));
    alias.first = absl::AsciiStrToLower(absl::StripAsciiWhitespace(alias.first));
    alias.second =
        absl::AsciiStrToLower(absl::StripAsciiWhitespace(alias.second));
    if (!IsHostName(alias.first) || alias.second.empty()) {
      return Bad("vault-alias",
                 absl::StrCat("'", absl::StripAsciiWhitespace(part),
                              "' is not HOST=VAULT with HOST a host name that "
                              "has a dot and no port"));
    }
    c.vault_aliases.push_back(std::move(alias));
  }
  return absl::OkStatus();
}

// ValidateVaultAliases: each alias names a served vault, is not itself a
// vault's own host and is given once.
absl::Status ValidateVaultAliases(const Config& c) {
  for (size_t i = 0; i < c.vault_aliases.size(); ++i) {
    const auto& [host, vault] = c.vault_aliases[i];
    if (std::find(c.vaults.begin(), c.vaults.end(), vault) == c.vaults.end()) {
      return Bad("vault-alias",
                 absl::StrCat(host, "=", vault, ": no vault '", vault,
                              "' is served (vaults)"));
    }
    for (const std::string& v : c.vaults) {
      if (host == absl::StrCat(v, ".", c.domain)) {
        return Bad("vault-alias",
                   absl::StrCat(host, " is already vault ", v, "'s host"));
      }
    }
    for (size_t j = 0; j < i; ++j) {
      if (c.vault_aliases[j].first == host) {
        return Bad("vault-alias", absl::StrCat(host, " is given twice"));
      }
    }
  }
  return absl::OkStatus();
}

std::string DefaultDataDir() {
  if (const char* h = std::getenv("KEYFERRY_HOME"); h && *h) {
    return absl::StrCat(h, "/server");
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home && *home ? home : "/tmp",
                      "/.local/share/keyferry/server");
}

absl::Status Validate(Config& c) {
  if (c.data_dir.empty()) c.data_dir = DefaultDataDir();
  if (c.vaults.empty()) return Bad("vaults", "at least one vault");
  for (const auto& v : c.vaults) {
    if (!IsVaultName(v)) {
      return Bad(
          "vaults",
          absl::StrCat("'", v, "' is not 3-24 of a-z, 0-9 and inner '-'"));
    }
  }
  if (c.domain.empty() || c.domain.front() == '.' || c.domain.back() == '.') {
    return Bad("domain",
               "must be a host name such as localhost or kv.example.com");
  }
  RETURN_IF_ERROR(ValidateVaultAliases(c));
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return Bad("tls-cert", "tls-cert and tls-key go together");
  }
  if (!c.tls_cert.empty() && !c.tls_names.empty()) {
    return Bad("tls-names",
               "is for the generated certificate; tls-cert brings its own "
               "names");
  }
  if (c.custody != "software" && c.custody != "pkcs11") {
    return Bad(
        "custody",
        absl::StrCat("'", c.custody, "' is not available (software, pkcs11)"));
  }
  if (c.custody == "pkcs11" && c.pkcs11_token.empty()) {
    return Bad("pkcs11-token", "custody pkcs11 needs the token's label or URI");
  }
  if (c.audit_log.empty()) c.audit_log = c.data_dir + "/audit.log";
  if (c.store != "sqlite" && c.store != "postgres") {
    return Bad("store", absl::StrCat("'", c.store,
                                     "' is not available (sqlite, postgres)"));
  }
  if (c.store == "postgres" && c.postgres_url.empty()) {
    const char* env = std::getenv("KEYFERRY_POSTGRES_URL");
    if (env == nullptr || *env == '\0') {
      return Bad("postgres-url",
                 "store postgres needs postgres-url or $KEYFERRY_POSTGRES_URL");
    }
    c.postgres_url = env;
  }
  if (c.log_level != "debug" && c.log_level != "info" &&
      c.log_level != "warning" && c.log_level != "error") {
    return Bad("log-level", "debug, info, warning or error");
  }
  return absl::OkStatus();
}

// ParsePublicPort sets c.public_port from `v` (1-65535).
absl::Status ParsePublicPort(std::string_view v, Config& c) {
  uint32_t p = 0;
  if (!absl::SimpleAtoi(Sv(v), &p) || p < 1 || p > 65535) {
    return Bad("public-port", "a port from 1 to 65535");
  }
  c.public_port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

}  // namespace

// kStringFlags are the keys whose value is kept as written (after
// trimming); Validate checks them.
constexpr struct {
  std::string_view key;
  std::string Config::*field;
} kStringFlags[] = {
    {"data-dir", &Config::data_dir},
    {"tls-cert", &Config::tls_cert},
    {"tls-key", &Config::tls_key},
    {"custody", &Config::custody},
    {"pkcs11-module", &Config::pkcs11_module},
    {"pkcs11-module-init", &Config::pkcs11_module_init},
    {"pkcs11-token", &Config::pkcs11_token},
    {"pkcs11-pin-file", &Config::pkcs11_pin_file},
    {"preload", &Config::preload},
    {"audit-log", &Config::audit_log},
    {"store", &Config::store},
    {"log-level", &Config::log_level},
};

absl::Status ApplyFlag(std::string_view key, std::string_view value,
                       Config& c) {
  std::string v(absl::StripAsciiWhitespace(Sv(value)));
  for (const auto& f : kStringFlags) {
    if (key == f.key) {
      c.*f.field = v;
      return absl::OkStatus();
    }
  }
  if (key == "listen") return ParseHostPort(key, v, c.listen_address, c.port);
  if (key == "identity-listen") {
    RETURN_IF_ERROR(ParseHostPort(key, v, c.identity_address, c.identity_port));
    if (c.identity_address != "127.0.0.1" && c.identity_address != "::1" &&
        c.identity_address != "localhost") {
      return Bad(key, "the identity endpoint listens on loopback only");
    }
    return absl::OkStatus();
  }
  if (key == "public-port") return ParsePublicPort(v, c);
  if (key == "domain") {
    c.domain = absl::AsciiStrToLower(v);
    return absl::OkStatus();
  }
  if (key == "vaults") {
    c.vaults.clear();
    for (absl::string_view part :
         absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      c.vaults.push_back(std::string(absl::StripAsciiWhitespace(part)));
    }
    return absl::OkStatus();
  }
  if (key == "tls-names") {
    c.tls_names.clear();
    for (absl::string_view part :
         absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      c.tls_names.push_back(
          absl::AsciiStrToLower(absl::StripAsciiWhitespace(part)));
    }
    return absl::OkStatus();
  }
  if (key == "vault-alias") return ParseVaultAliases(v, c);
  if (key == "audit-durability") {
    if (v != "sync" && v != "write") return Bad(key, "sync or write");
    c.audit_durability = v;
    return absl::OkStatus();
  }
  if (key == "threads") {
    if (!absl::SimpleAtoi(v, &c.threads) || c.threads < 0 || c.threads > 256) {
      return Bad(key, "a number from 0 to 256");
    }
    return absl::OkStatus();
  }
  if (key == "identity-principal") {
    if (v.empty() || v.find(':') != std::string::npos) {
      return Bad(key, "a non-empty name without ':'");
    }
    c.identity_principal = v;
    return absl::OkStatus();
  }
  if (key == "identity-legacy-uids") {
    c.identity_legacy_uids.clear();
    for (absl::string_view part :
         absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      part = absl::StripAsciiWhitespace(part);
      uint32_t uid = 0;
      if (part == "self") {
        uid = static_cast<uint32_t>(::geteuid());
      } else if (!absl::SimpleAtoi(part, &uid) ||
                 uid == static_cast<uint32_t>(-1)) {
        return Bad(key,
                   absl::StrCat("'", part, "' is not a numeric uid or 'self'"));
      }
      if (std::find(c.identity_legacy_uids.begin(),
                    c.identity_legacy_uids.end(),
                    uid) == c.identity_legacy_uids.end()) {
        c.identity_legacy_uids.push_back(uid);
      }
    }
    return absl::OkStatus();
  }
  if (key == "grant") {
    if (std::count(v.begin(), v.end(), ':') != 2) {
      return Bad(key, "principal:vault:role");
    }
    c.grants.push_back(v);
    return absl::OkStatus();
  }
  if (key == "upgrade-store") return ParseBool(key, v, c.upgrade_store);
  if (key == "postgres-url") {
    c.postgres_url = v;  // checked by the store; never quoted in errors
    return absl::OkStatus();
  }
  if (key == "postgres-pool") {
    if (!absl::SimpleAtoi(v, &c.postgres_pool) || c.postgres_pool < 1 ||
        c.postgres_pool > 64) {
      return Bad(key, "a number of connections from 1 to 64");
    }
    return absl::OkStatus();
  }
  if (key == "recoverable-days") {
    if (!absl::SimpleAtoi(v, &c.recoverable_days) || c.recoverable_days < 7 ||
        c.recoverable_days > 90) {
      return Bad(key, "a number of days from 7 to 90");
    }
    return absl::OkStatus();
  }
  if (key == "token-max-lifetime") {
    if (!absl::SimpleAtoi(v, &c.token_max_lifetime) ||
        c.token_max_lifetime < kMinAccessTokenMaxLifetime ||
        c.token_max_lifetime > kMaxAccessTokenMaxLifetime) {
      return Bad(key, absl::StrCat("a number of seconds from ",
                                   kMinAccessTokenMaxLifetime, " to ",
                                   kMaxAccessTokenMaxLifetime));
    }
    return absl::OkStatus();
  }
  if (key == "allow-core-dumps") {
    return ParseBool(key, v, c.allow_core_dumps);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown option '", Sv(key), "'"));
}

absl::Status ParseConfigText(std::string_view text, Config& c) {
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(Sv(text), '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    size_t eq = line.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_no, ": expected key = value"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(line.substr(0, eq));
    absl::Status st = ApplyFlag(StdSv(key), StdSv(line.substr(eq + 1)), c);
    if (!st.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("config line ", line_no, ": ", st.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Config> LoadConfig(const std::vector<std::string>& argv) {
  Config c;
  std::vector<std::pair<std::string, std::string>> flags;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument '", a, "'"));
    }
    a = a.substr(2);
    std::string value;
    if (size_t eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("option --", a, " needs a value"));
    }
    flags.emplace_back(a, value);
  }
  for (const auto& [k, v] : flags) {
    if (k != "config") continue;
    ASSIGN_OR_RETURN(std::string text, ReadFile(v, 1 << 20));
    RETURN_IF_ERROR(ParseConfigText(text, c));
  }
  for (const auto& [k, v] : flags) {
    if (k == "config") continue;
    if (k == "postgres-url") {
      ASSIGN_OR_RETURN(bool has_password, store::PostgresUrlHasPassword(v));
      if (has_password) {
        return Bad(k,
                   "a password on the command line is visible to every user "
                   "(ps): put it in the config file, $KEYFERRY_POSTGRES_URL "
                   "or a PGPASSFILE");
      }
    }
    RETURN_IF_ERROR(ApplyFlag(k, v, c));
  }
  RETURN_IF_ERROR(Validate(c));
  return c;
}

absl::Status CheckAccessTokenLifetime(const Config& c,
                                      int64_t lifetime_seconds) {
  if (lifetime_seconds <= c.token_max_lifetime) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--lifetime ", lifetime_seconds, " is above token-max-lifetime (",
      c.token_max_lifetime, " s): the vault would refuse the token"));
}

std::string HelpText() {
  std::string out =
      "usage: keyferryd [--config FILE] [--KEY VALUE ...]\n\n"
      "Options (also accepted in the config file as 'KEY = VALUE'):\n";
  for (const auto& k : kConfigKeys) {
    std::string left = absl::StrCat("  --", k.name);
    if (left.size() < 22) left.resize(22, ' ');
    absl::StrAppend(&out, left, " ", k.help, "\n");
  }
  return out;
}

}  // namespace keyferry::server
