// keyferry export: the .byok blob (or another cloud's format) of a key in
// the HSM, or of a plaintext key file for migration and tests.
#include "byok/export.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "byok/blob.h"
#include "byok/envelope.h"
#include "byok/pkcs11_export_session.h"
#include "byok/profile.h"
#include "cli/command.h"
#include "cli/files.h"
#include "cli/hsm_context.h"
#include "cli/key_common.h"
#include "crypto/keys.h"
#include "hsm/keys.h"
#include "hsm/templates.h"

namespace keyferry::cli {
namespace {

bool FileExists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

// ReadKek takes --kek as a file (PEM, DER, JWK) or, when no such file
// exists, as the label of a KEK imported into the token.
absl::StatusOr<crypto::EvpPkeyPtr> ReadKek(const std::string& kek,
                                           hsm::Session* session) {
  if (FileExists(kek)) return ReadKekFile(kek);
  crypto::EvpPkeyPtr key;
  if (session != nullptr) {
    auto h = hsm::FindPublicKey(*session, kek);
    if (!h.ok()) {
      return absl::NotFoundError(absl::StrCat(
          "--kek '", kek,
          "' is neither a file nor a KEK imported with 'keyferry kek import'"));
    }
    ASSIGN_OR_RETURN(hsm::RsaPublicParts pub, hsm::ReadRsaPublic(*session, *h));
    ASSIGN_OR_RETURN(key, crypto::RsaPublicFromParts(pub.n, pub.e));
  } else {
    return absl::NotFoundError(
        absl::StrCat("--kek file '", kek, "' does not exist"));
  }
  RETURN_IF_ERROR(byok::KekModulusBytes(key.get()).status());
  return key;
}

// FileKey is a plaintext key file's payload (§3 encoding) and its type.
struct FileKey {
  SecretBytes payload;
  byok::TargetKind kind;
};

// ReadFileKey reads a plaintext key file: its PKCS#8 encoding (RSA, EC) or
// its raw bytes (AES-128/192/256).
absl::StatusOr<FileKey> ReadFileKey(const std::string& path) {
  ASSIGN_OR_RETURN(SecretBytes raw, ReadSecretFile(path));
  FileKey out;
  auto key = crypto::ParsePrivateKey(raw);
  if (key.ok()) {
    ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key->get()));
    ASSIGN_OR_RETURN(out.kind, byok::ClassifyTarget(d.type, d.bits, d.curve));
    ASSIGN_OR_RETURN(out.payload, crypto::PrivateKeyToPkcs8Der(key->get()));
  } else if (raw.size() == 16 || raw.size() == 24 || raw.size() == 32) {
    ASSIGN_OR_RETURN(
        out.kind,
        byok::ClassifyTarget(crypto::KeyType::kAes,
                             static_cast<int>(raw.size() * 8), std::nullopt));
    out.payload = std::move(raw);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a private key (PEM/DER PKCS#8, PKCS#1, SEC1) nor a raw "
        "16/24/32-byte AES key"));
  }
  return out;
}

std::string Generator(const Hsm* h, bool from_file) {
  std::string g = absl::StrCat("keyferry ", KEYFERRY_VERSION, "; ");
  if (from_file || h == nullptr) {
    absl::StrAppend(&g, "software (key read from a file, not HSM-protected)");
  } else {
    absl::StrAppend(&g, h->token.manufacturer, " ", h->token.model,
                    " firmware ", h->token.firmware);
  }
  return g;
}

absl::StatusOr<byok::ExportOptions> ParseRoute(const Args& args) {
  byok::ExportOptions options;
  if (auto r = args.Get("route")) {
    if (*r == "auto")
      options.route = byok::Route::kAuto;
    else if (*r == "native")
      options.route = byok::Route::kNative;
    else if (*r == "two-step")
      options.route = byok::Route::kTwoStep;
    else
      return absl::InvalidArgumentError(
          "--route must be auto, native or two-step");
  }
  if (auto m = args.Get("kwp-mechanism")) {
    ASSIGN_OR_RETURN(options.kwp_mechanism, ParseMechanismNumber(*m));
  }
  return options;
}

// Wrapped is the outcome of either route, before the container.
struct Wrapped {
  std::vector<uint8_t> ciphertext;
  std::string route;
  byok::TargetKind kind = byok::TargetKind::kAes256;
};

absl::StatusOr<Wrapped> WrapFile(const Args& args, const byok::Profile& p,
                                 EVP_PKEY* kek) {
  if (args.Has("key")) {
    return absl::InvalidArgumentError("give --key or --from-file, not both");
  }
  ASSIGN_OR_RETURN(size_t n, byok::KekModulusBytes(kek));
  ASSIGN_OR_RETURN(FileKey key, ReadFileKey(*args.Get("from-file")));
  RETURN_IF_ERROR(byok::CheckTarget(p, key.kind, static_cast<int>(n * 8)));
  RETURN_IF_ERROR(byok::CheckDirectLength(p, key.payload.size(), n));
  Wrapped w;
  w.kind = key.kind;
  ASSIGN_OR_RETURN(w.ciphertext, byok::WrapPayload(kek, key.payload, p.wrap));
  w.route = "software (OpenSSL)";
  return w;
}

absl::StatusOr<Wrapped> WrapInToken(const Args& args, const byok::Profile& p,
                                    Hsm& h, EVP_PKEY* kek) {
  ASSIGN_OR_RETURN(byok::ExportOptions options, ParseRoute(args));
  options.wrap = p.wrap;
  ASSIGN_OR_RETURN(size_t n, byok::KekModulusBytes(kek));
  ASSIGN_OR_RETURN(hsm::ObjectHandle target, SelectKey(h, args));
  ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(*h.session, target));
  Wrapped w;
  ASSIGN_OR_RETURN(w.kind, byok::ClassifyTarget(e.kind, e.bits, e.curve));
  RETURN_IF_ERROR(byok::CheckTarget(p, w.kind, static_cast<int>(n * 8)));
  if (e.kind == hsm::KeyKind::kAes) {
    RETURN_IF_ERROR(byok::CheckDirectLength(p, e.bits / 8, n));
  }
  byok::Pkcs11ExportSession token(*h.session, Generator(&h, false));
  ASSIGN_OR_RETURN(byok::ExportResult r,
                   byok::ExportFromToken(token, target, kek, options));
  w.ciphertext = std::move(r.ciphertext);
  w.route = r.route;
  return w;
}

absl::Status RunExport(const Args& args) {
  ASSIGN_OR_RETURN(std::string out_path, args.Require("out"));
  ASSIGN_OR_RETURN(std::string kek_arg, args.Require("kek"));
  ASSIGN_OR_RETURN(byok::Profile profile, ProfileFromArgs(args));
  std::optional<std::string> kid = args.Get("kid");
  if (profile.container == byok::Container::kAzureByok) {
    if (!kid) {
      return absl::InvalidArgumentError(
          "missing --kid (the KEK's key identifier, version included, from "
          "'az keyvault key create')");
    }
    RETURN_IF_ERROR(byok::ParseKeyId(*kid).status());
  }
  if (profile.container == byok::Container::kAzureRelease && !kid) {
    return absl::InvalidArgumentError(
        "missing --kid (the kid of the key the release wraps to)");
  }
  if (FileExists(out_path) && !args.Has("force")) {
    return absl::AlreadyExistsError(
        absl::StrCat(out_path, " exists (use --force to replace it)"));
  }
  bool from_file = args.Has("from-file");
  std::optional<Hsm> h;
  crypto::EvpPkeyPtr kek;
  if (from_file) {
    ASSIGN_OR_RETURN(kek, ReadKek(kek_arg, nullptr));
  } else {
    ASSIGN_OR_RETURN(h, OpenHsm(args));
    ASSIGN_OR_RETURN(kek, ReadKek(kek_arg, h->session.get()));
  }
  RETURN_IF_ERROR(
      byok::CheckWrappingKey(profile, EVP_PKEY_get_bits(kek.get())));
  Wrapped w;
  if (from_file) {
    ASSIGN_OR_RETURN(w, WrapFile(args, profile, kek.get()));
  } else {
    ASSIGN_OR_RETURN(w, WrapInToken(args, profile, *h, kek.get()));
  }
  byok::ContainerFields fields;
  fields.kid = kid.value_or("");
  fields.generator = Generator(h ? &*h : nullptr, from_file);
  fields.target = w.kind;
  ASSIGN_OR_RETURN(std::string file,
                   byok::WriteContainer(profile, w.ciphertext, fields));
  RETURN_IF_ERROR(WriteFileAtomic(out_path, AsBytes(file), 0644));
  if (from_file) {
    std::fprintf(
        stderr,
        "keyferry export: note: the key came from a file, so it was not "
        "HSM-protected; it was wrapped in software\n");
  }
  std::printf("wrote %s: %s key, %s %s, %zu-byte ciphertext, route %s\n",
              out_path.c_str(), std::string(byok::TargetName(w.kind)).c_str(),
              profile.format.c_str(), profile.method.c_str(),
              w.ciphertext.size(), w.route.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ExportCommands() {
  auto opts = HsmOptions();
  opts.push_back(
      {"key", false, "target key label or PKCS#11 URI (object=, id=)"});
  opts.push_back(
      {"kek", false, "KEK: PEM/DER/JWK file, or label of an imported KEK"});
  opts.push_back({"kid", false,
                  "azure: KEK key identifier with version; azure-release: "
                  "the kid of the key the release wraps to"});
  opts.push_back({"out", false, "output file"});
  opts.push_back({"force", true, "replace an existing output file"});
  for (OptionSpec& o : ProfileOptions(
           "azure (default, .byok JSON), azure-release (key_hsm), aws, gcp "
           "(raw bytes), vault or oci (JSON); docs/byok-format.md section 5")) {
    opts.push_back(std::move(o));
  }
  opts.push_back({"route", false, "auto (default), native or two-step"});
  opts.push_back(
      {"kwp-mechanism", false,
       "RFC 5649 mechanism number (default: chosen by known-answer test "
       "among 0x210A and 0x210B)"});
  opts.push_back({"from-file", false,
                  "plaintext key file (PEM/DER PKCS#8, PKCS#1, SEC1, raw AES) "
                  "instead of --key"});
  return {{"export",
           "wrap a key for a cloud key vault (Azure, AWS, GCP, Vault, OCI)",
           opts, "", RunExport}};
}

}  // namespace keyferry::cli
