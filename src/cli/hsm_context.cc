#include "cli/hsm_context.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "hsm/keys.h"

namespace keyferry::cli {
namespace {

absl::Status MakeDirs(const std::string& path) {
  std::string cur;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!cur.empty() && mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
        return absl::PermissionDeniedError(
            absl::StrCat("cannot create directory ", cur));
      }
    }
    if (i < path.size()) cur.push_back(path[i]);
  }
  return absl::OkStatus();
}

// UseDefaultSoftHsm writes keyferry's own softhsm2.conf (tokens under the
// data directory) and points SOFTHSM2_CONF at it before the module loads.
absl::Status UseDefaultSoftHsm() {
  std::string dir = DataDir() + "/softhsm";
  RETURN_IF_ERROR(MakeDirs(dir + "/tokens"));
  std::string conf = dir + "/softhsm2.conf";
  std::string text = absl::StrCat(
      "# Written by keyferry: its own token store, apart from the system's.\n",
      "directories.tokendir = ", dir, "/tokens\n",
      "objectstore.backend = file\n", "log.level = ERROR\n",
      "slots.removable = false\n");
  auto existing = ReadFile(conf);
  if (!existing.ok() || *existing != text) {
    RETURN_IF_ERROR(WriteFileAtomic(conf, AsBytes(text), 0600));
  }
  setenv("SOFTHSM2_CONF", conf.c_str(), 1);
  return absl::OkStatus();
}

absl::Status ApplyPinSource(const std::string& source, HsmTarget& t) {
  if (absl::StartsWith(source, "env:")) {
    t.pin_env = source.substr(4);
  } else if (absl::StartsWith(source, "file:")) {
    t.pin_file = source.substr(5);
  } else {
    return absl::InvalidArgumentError(
        "pin-source must be env:VARIABLE or file:PATH");
  }
  return absl::OkStatus();
}

}  // namespace

std::string DataDir() {
  if (const char* home = getenv("KEYFERRY_HOME"); home && *home) return home;
  const char* h = getenv("HOME");
  return absl::StrCat(h && *h ? h : "/tmp", "/.local/share/keyferry");
}

absl::StatusOr<HsmTarget> ResolveTarget(const Args& args) {
  HsmTarget t;
  bool explicit_hsm = args.Has("hsm") || args.Has("module") ||
                      args.Has("token") || args.Has("module-init");
  if (auto uri_text = args.Get("hsm")) {
    ASSIGN_OR_RETURN(hsm::Pkcs11Uri uri, hsm::ParsePkcs11Uri(*uri_text));
    if (uri.module_path) t.module_path = *uri.module_path;
    t.token_label = uri.token;
    t.slot_id = uri.slot_id;
    t.object = uri.object;
    t.object_id = uri.id;
    if (uri.pin_source) RETURN_IF_ERROR(ApplyPinSource(*uri.pin_source, t));
    if (uri.init_reserved) t.load.init_reserved = *uri.init_reserved;
  }
  if (auto m = args.Get("module")) t.module_path = *m;
  if (auto init = args.Get("module-init")) {
    if (!t.load.init_reserved.empty()) {
      return absl::InvalidArgumentError(
          "give the module's initialization string once: --module-init or "
          "x-init-reserved= in the PKCS#11 URI");
    }
    if (t.module_path.empty()) {
      return absl::InvalidArgumentError(
          "--module-init is for the module named by --module or module-path=");
    }
    t.load.init_reserved = *init;
  }
  if (auto tok = args.Get("token")) t.token_label = *tok;
  if (auto env = args.Get("pin-env")) t.pin_env = *env;
  if (!explicit_hsm) {
    t.is_default_token = true;
    t.module_path = kDefaultModule;
    t.token_label = kDefaultTokenLabel;
    RETURN_IF_ERROR(UseDefaultSoftHsm());
  }
  if (t.module_path.empty()) t.module_path = kDefaultModule;
  if (!t.token_label && !t.slot_id) {
    return absl::InvalidArgumentError(
        "name the token: --token LABEL or token=LABEL in the PKCS#11 URI");
  }
  return t;
}

absl::StatusOr<SecretBytes> ReadSecretFromEnvOrPrompt(const std::string& env,
                                                      const std::string& what) {
  if (const char* v = getenv(env.c_str()); v != nullptr && *v != '\0') {
    return SecretBytes(AsBytes(v));
  }
  if (!isatty(STDIN_FILENO)) {
    return absl::FailedPreconditionError(
        absl::StrCat("no ", what, ": set the environment variable ", env,
                     " (or run on a terminal to be prompted)"));
  }
  std::fprintf(stderr, "%s: ", what.c_str());
  std::fflush(stderr);
  termios old_tio;
  tcgetattr(STDIN_FILENO, &old_tio);
  termios tio = old_tio;
  tio.c_lflag &= ~static_cast<tcflag_t>(ECHO);
  tcsetattr(STDIN_FILENO, TCSANOW, &tio);
  SecretBytes pin(256);
  auto buf = pin.mutable_data(SecretAccess::Get());
  size_t n = 0;
  char c;
  while (n < buf.size() && read(STDIN_FILENO, &c, 1) == 1 && c != '\n') {
    buf[n++] = static_cast<uint8_t>(c);
  }
  tcsetattr(STDIN_FILENO, TCSANOW, &old_tio);
  std::fputc('\n', stderr);
  pin.Resize(n);
  if (pin.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("empty ", what));
  }
  return pin;
}

absl::StatusOr<uint64_t> ParseMechanismNumber(const std::string& text) {
  uint64_t v = 0;
  bool ok = absl::StartsWith(text, "0x") || absl::StartsWith(text, "0X")
                ? absl::SimpleHexAtoi(text.substr(2), &v)
                : absl::SimpleAtoi(text, &v);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a mechanism number (e.g. 0x210A)"));
  }
  return v;
}

absl::StatusOr<Hsm> OpenHsm(const Args& args) {
  Hsm h;
  ASSIGN_OR_RETURN(h.target, ResolveTarget(args));
  ASSIGN_OR_RETURN(h.module,
                   hsm::Module::Load(h.target.module_path, h.target.load));
  if (h.target.slot_id) {
    h.slot = *h.target.slot_id;
  } else {
    auto slot = h.module->FindSlotByTokenLabel(*h.target.token_label);
    if (!slot.ok()) {
      if (h.target.is_default_token) {
        return absl::FailedPreconditionError(
            "keyferry's default token does not exist yet: run 'keyferry token "
            "init' first");
      }
      return slot.status();
    }
    h.slot = *slot;
  }
  ASSIGN_OR_RETURN(h.token, h.module->GetTokenInfo(h.slot));
  SecretBytes pin;
  if (h.target.pin_file) {
    ASSIGN_OR_RETURN(pin, ReadSecretFile(*h.target.pin_file, 4096));
    auto p = pin.data(SecretAccess::Get());
    size_t n = p.size();
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r')) --n;
    pin.Resize(n);
  } else {
    ASSIGN_OR_RETURN(pin,
                     ReadSecretFromEnvOrPrompt(h.target.pin_env, "user PIN"));
  }
  ASSIGN_OR_RETURN(h.session, hsm::Session::Open(*h.module, h.slot, pin));
  return h;
}

// SelectKey finds the key named by --key: a label, or a PKCS#11 URI with
// object= and/or id=; the URI given to --hsm may also name it.
absl::StatusOr<hsm::ObjectHandle> SelectKey(Hsm& h, const Args& args) {
  std::string label;
  std::optional<std::vector<uint8_t>> id;
  if (auto k = args.Get("key")) {
    if (hsm::IsPkcs11Uri(*k)) {
      ASSIGN_OR_RETURN(hsm::Pkcs11Uri uri, hsm::ParsePkcs11Uri(*k));
      label = uri.object.value_or("");
      id = uri.id;
    } else {
      label = *k;
    }
  } else if (h.target.object || h.target.object_id) {
    label = h.target.object.value_or("");
    id = h.target.object_id;
  } else {
    return absl::InvalidArgumentError("missing --key LABEL");
  }
  if (id) return hsm::FindKey(*h.session, label, std::span<const uint8_t>(*id));
  return hsm::FindKey(*h.session, label);
}

}  // namespace keyferry::cli
