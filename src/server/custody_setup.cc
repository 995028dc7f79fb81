#include "server/custody_setup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "custody/master_key.h"
#include "custody/pkcs11_custody.h"
#include "custody/software_custody.h"
#include "hsm/uri.h"
#include "seal/shamir.h"

namespace keyferry::server {
namespace {

std::string InDir(const Config& c, std::string_view file) {
  return absl::StrCat(c.data_dir, "/", Sv(file));
}

void DropTrailingNewline(SecretBytes& s) {
  auto d = s.data(SecretAccess::Get());
  size_t n = d.size();
  if (n > 0 && d[n - 1] == '\n') --n;
  if (n > 0 && d[n - 1] == '\r') --n;
  s.Resize(n);
}

absl::StatusOr<std::unique_ptr<custody::Custody>> OpenPkcs11(
    const Config& c, custody::MasterKeyPolicy master_keys,
    std::string* summary) {
  custody::Pkcs11Options o;
  o.module_path = c.pkcs11_module;
  o.load.init_reserved = c.pkcs11_module_init;
  o.master_keys = master_keys;
  std::optional<std::string> pin_source;
  if (hsm::IsPkcs11Uri(c.pkcs11_token)) {
    ASSIGN_OR_RETURN(hsm::Pkcs11Uri uri, hsm::ParsePkcs11Uri(c.pkcs11_token));
    if (!uri.token) {
      return absl::InvalidArgumentError(
          "config pkcs11-token: the pkcs11: URI needs token=<label>");
    }
    o.token_label = *uri.token;
    if (uri.module_path) o.module_path = *uri.module_path;
    if (uri.init_reserved) {
      if (!c.pkcs11_module_init.empty()) {
        return absl::InvalidArgumentError(
            "config: give the module's initialization string once: "
            "pkcs11-module-init or x-init-reserved= in pkcs11-token");
      }
      o.load.init_reserved = *uri.init_reserved;
    }
    pin_source = uri.pin_source;
  } else {
    o.token_label = c.pkcs11_token;
  }
  ASSIGN_OR_RETURN(o.pin, ReadPin(pin_source, c.pkcs11_pin_file));
  ASSIGN_OR_RETURN(std::unique_ptr<custody::Pkcs11Custody> p,
                   custody::Pkcs11Custody::Open(std::move(o)));
  *summary = p->Platform();
  for (const std::string& note : p->limits().notes) {
    absl::StrAppend(summary, "; limit: ", note);
  }
  return std::unique_ptr<custody::Custody>(std::move(p));
}

}  // namespace

absl::StatusOr<SecretBytes> ReadPin(const std::optional<std::string>& source,
                                    const std::string& pin_file) {
  SecretBytes pin;
  if (source && source->rfind("file:", 0) == 0) {
    ASSIGN_OR_RETURN(pin, ReadSecretFile(source->substr(5), 4096));
  } else if (source && source->rfind("env:", 0) == 0) {
    const char* v = std::getenv(source->substr(4).c_str());
    if (v == nullptr || *v == '\0') {
      return absl::InvalidArgumentError(absl::StrCat(
          "the PIN source ", *source, " names an unset environment variable"));
    }
    pin = SecretBytes(AsBytes(v));
  } else if (source) {
    return absl::InvalidArgumentError(
        "pin-source must be file:/path or env:NAME");
  } else if (!pin_file.empty()) {
    ASSIGN_OR_RETURN(pin, ReadSecretFile(pin_file, 4096));
  } else if (const char* v = std::getenv("KEYFERRY_PKCS11_PIN"); v && *v) {
    pin = SecretBytes(AsBytes(v));
  } else {
    return absl::InvalidArgumentError(
        "custody pkcs11 needs the token's user PIN: set pkcs11-pin-file, a "
        "pin-source in the URI, or KEYFERRY_PKCS11_PIN");
  }
  DropTrailingNewline(pin);
  if (pin.empty())
    return absl::InvalidArgumentError("the PKCS#11 PIN is empty");
  return pin;
}

absl::StatusOr<CustodySetup> OpenCustody(const Config& c,
                                         custody::MasterKeyPolicy master_keys) {
  CustodySetup out;
  if (c.custody == "pkcs11") {
    ASSIGN_OR_RETURN(out.custody, OpenPkcs11(c, master_keys, &out.summary));
    return out;
  }
  const std::string seal_path = InDir(c, "seal.json");
  const std::string key_path = InDir(c, "master.key");
  if (std::filesystem::exists(seal_path)) {
    if (std::filesystem::exists(key_path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "both ", seal_path, " and ", key_path,
          " exist: an interrupted `keyferryd init` or a restored copy. If the "
          "key shares were handed out, remove master.key; otherwise remove "
          "seal.json"));
    }
    ASSIGN_OR_RETURN(seal::SealInfo info, seal::ReadSealInfo(seal_path));
    auto sealed = std::make_unique<custody::SealedCustody>();
    out.sealed = sealed.get();
    out.custody = std::move(sealed);
    out.summary = absl::StrCat("software custody, sealed: ", info.threshold,
                               " of ", info.shares,
                               " key shares open it (keyferry vault unseal)");
    out.seal_info = std::move(info);
    return out;
  }
  bool created = false;
  ASSIGN_OR_RETURN(SecretBytes master, custody::LoadOrCreateMasterKey(
                                           key_path, &created, master_keys));
  ASSIGN_OR_RETURN(std::unique_ptr<custody::SoftwareCustody> sw,
                   custody::SoftwareCustody::New(std::move(master)));
  out.custody = std::move(sw);
  out.summary = absl::StrCat(
      "software custody with the master key in ", key_path,
      created ? " (created now)" : "",
      ": the development default, where the key file is the whole secret; "
      "run `keyferryd init --shares N --threshold K` to seal it");
  return out;
}

absl::StatusOr<std::unique_ptr<custody::Custody>> OpenCustodyForTool(
    const Config& c, const std::vector<std::string>& share_files,
    const std::vector<std::string>& passphrase_files) {
  const std::string seal_path = InDir(c, "seal.json");
  if (c.custody != "software" || !std::filesystem::exists(seal_path)) {
    if (!share_files.empty()) {
      return absl::InvalidArgumentError(
          "--share is for a deployment sealed with key shares; this one is "
          "not");
    }
    ASSIGN_OR_RETURN(CustodySetup setup,
                     OpenCustody(c, custody::MasterKeyPolicy::kMustExist));
    return std::move(setup.custody);
  }
  ASSIGN_OR_RETURN(seal::SealInfo info, seal::ReadSealInfo(seal_path));
  if (static_cast<int>(share_files.size()) < info.threshold) {
    return absl::InvalidArgumentError(absl::StrCat(
        "this deployment is sealed: give --share for ", info.threshold,
        " of its ", info.shares, " key share files"));
  }
  if (passphrase_files.size() > 1 &&
      passphrase_files.size() != share_files.size()) {
    return absl::InvalidArgumentError(
        "give --passphrase-file once (for every share) or once per share");
  }
  seal::Unsealer unsealer(info);
  std::optional<SecretBytes> master;
  for (size_t i = 0; i < share_files.size(); ++i) {
    ASSIGN_OR_RETURN(std::string text, ReadFile(share_files[i], 1 << 16));
    absl::StatusOr<seal::ShareFile> file = seal::ParseShareFile(text);
    Zeroize(text.data(), text.size());
    if (!file.ok()) return file.status();
    RETURN_IF_ERROR(seal::CheckShareFileMatches(*file, info));
    std::optional<SecretBytes> pass;
    if (!passphrase_files.empty()) {
      ASSIGN_OR_RETURN(
          SecretBytes p,
          ReadSecretFile(passphrase_files[passphrase_files.size() == 1 ? 0 : i],
                         4096));
      DropTrailingNewline(p);
      pass = std::move(p);
    }
    ASSIGN_OR_RETURN(seal::Share share, seal::OpenShareFile(*file, pass));
    ASSIGN_OR_RETURN(master,
                     unsealer.Submit(std::move(share), unsealer.nonce()));
    if (master.has_value()) break;
  }
  if (!master.has_value()) {
    return absl::InvalidArgumentError(
        "the given key shares do not reconstruct this vault's master key");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<custody::SoftwareCustody> sw,
                   custody::SoftwareCustody::New(std::move(*master)));
  return std::unique_ptr<custody::Custody>(std::move(sw));
}

absl::StatusOr<std::vector<std::string>> Init(const Config& c,
                                              const InitOptions& o) {
  if (c.custody != "software") {
    return absl::InvalidArgumentError(
        "init seals the software custody; a PKCS#11 token is protected by "
        "its own PIN and security officer");
  }
  if (o.share_dir.empty()) {
    return absl::InvalidArgumentError("init needs --share-dir");
  }
  if (!o.passphrase_files.empty() && o.passphrase_files.size() != 1 &&
      static_cast<int>(o.passphrase_files.size()) != o.shares) {
    return absl::InvalidArgumentError(
        "give --passphrase-file once (for every share) or once per share");
  }
  const std::string seal_path = InDir(c, "seal.json");
  const std::string key_path = InDir(c, "master.key");
  if (std::filesystem::exists(seal_path)) {
    return absl::AlreadyExistsError(absl::StrCat(
        "keyferryd is already initialized with key shares (", seal_path, ")"));
  }
  std::vector<std::optional<SecretBytes>> passphrases;
  for (const std::string& f : o.passphrase_files) {
    ASSIGN_OR_RETURN(SecretBytes p, ReadSecretFile(f, 4096));
    DropTrailingNewline(p);
    if (p.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(f, " is empty"));
    }
    passphrases.emplace_back(std::move(p));
  }
  // The master key: the development key file's, so existing keys stay
  // usable, or a new one.
  const bool migrate = std::filesystem::exists(key_path);
  SecretBytes master;
  if (migrate) {
    bool created = false;
    ASSIGN_OR_RETURN(
        master, custody::LoadOrCreateMasterKey(
                    key_path, &created, custody::MasterKeyPolicy::kMustExist));
  } else {
    ASSIGN_OR_RETURN(master, crypto::RandomSecret(custody::kMasterKeyBytes));
  }
  ASSIGN_OR_RETURN(std::vector<seal::Share> shares,
                   seal::Split(master, o.shares, o.threshold));
  seal::SealInfo info;
  ASSIGN_OR_RETURN(std::vector<uint8_t> id, crypto::RandomBytes(16));
  info.vault_id = HexEncode(id);
  info.shares = o.shares;
  info.threshold = o.threshold;
  ASSIGN_OR_RETURN(info.check, seal::KeyCheckValue(master));
  for (const seal::Share& s : shares) {
    ASSIGN_OR_RETURN(std::vector<uint8_t> check,
                     seal::ShareCheckValue(info.vault_id, s));
    info.share_checks.push_back(std::move(check));
  }

  std::error_code ec;
  std::filesystem::create_directories(o.share_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot create ", o.share_dir, ": ", ec.message()));
  }
  ::chmod(o.share_dir.c_str(), 0700);
  std::vector<std::string> paths;
  for (const seal::Share& s : shares) {
    std::string p = absl::StrCat(o.share_dir, "/share-", s.x, ".json");
    if (std::filesystem::exists(p)) {
      return absl::AlreadyExistsError(
          absl::StrCat(p, " exists; give an empty --share-dir"));
    }
    paths.push_back(std::move(p));
  }
  for (size_t i = 0; i < shares.size(); ++i) {
    std::optional<SecretBytes> pass;
    if (passphrases.size() == 1) pass = passphrases[0];
    if (passphrases.size() > 1) pass = passphrases[i];
    ASSIGN_OR_RETURN(std::string text,
                     seal::EncodeShareFile(shares[i], info, pass));
    text.push_back('\n');
    absl::Status w = WriteFileAtomic(paths[i], AsBytes(text), 0600);
    Zeroize(text.data(), text.size());
    RETURN_IF_ERROR(w);
  }
  // seal.json last: until it exists the deployment is unchanged.
  RETURN_IF_ERROR(seal::WriteSealInfo(seal_path, info));
  if (migrate) RETURN_IF_ERROR(ShredFile(key_path));
  return paths;
}

}  // namespace keyferry::server
