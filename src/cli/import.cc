// keyferry kek create / import: the HSM as the destination of a transfer
// blob (docs/byok-format.md, "HSM as destination").
#include "byok/import.h"

#include <sys/stat.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/status.h"
#include "byok/blob.h"
#include "byok/profile.h"
#include "cli/command.h"
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

// KekCreateFlags: an import-only KEK. The private key may unwrap and
// nothing else; its public half may wrap (for a token that exports to it).
hsm::KeyFlags KekCreateFlags() {
  hsm::KeyFlags f = hsm::DefaultFlags(hsm::KeyKind::kRsa);
  f.sign = f.verify = f.decrypt = f.encrypt = false;
  f.unwrap = f.wrap = true;
  return f;
}

absl::Status RunKekCreate(const Args& args) {
  ASSIGN_OR_RETURN(std::string label, args.Require("label"));
  ASSIGN_OR_RETURN(std::string out_path, args.Require("out"));
  ASSIGN_OR_RETURN(std::optional<int> size, SizeFromArgs(args));
  ASSIGN_OR_RETURN(hsm::KeySpec spec,
                   hsm::ParseKeySpec("rsa", size, std::nullopt));
  spec.label = label;
  spec.flags = KekCreateFlags();
  RETURN_IF_ERROR(byok::CheckKekLabel(label));
  if (FileExists(out_path) && !args.Has("force")) {
    return absl::AlreadyExistsError(
        absl::StrCat(out_path, " exists (use --force to replace it)"));
  }
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  ASSIGN_OR_RETURN(hsm::GeneratedKey key, hsm::GenerateKey(*h.session, spec));
  ASSIGN_OR_RETURN(hsm::RsaPublicParts parts,
                   hsm::ReadRsaPublic(*h.session, key.private_or_secret));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::RsaPublicFromParts(parts.n, parts.e));
  ASSIGN_OR_RETURN(std::string pem, crypto::PublicKeyToPem(pub.get()));
  ASSIGN_OR_RETURN(std::string kid, byok::TokenKekKid(label, pub.get()));
  RETURN_IF_ERROR(WriteFileAtomic(
      out_path, std::span<const uint8_t>(
                    reinterpret_cast<const uint8_t*>(pem.data()), pem.size())));
  RETURN_IF_ERROR(ReportNewKey(*h.session, key.private_or_secret, "created",
                               label, key.id, spec.flags, spec.kind,
                               key.flags_not_kept));
  std::printf("wrote %s (the KEK's public key)\nkid: %s\n", out_path.c_str(),
              kid.c_str());
  return absl::OkStatus();
}

// FindKek finds the KEK's private key by label: an RSA key that may unwrap.
absl::StatusOr<hsm::ObjectHandle> FindKek(hsm::Session& s,
                                          const std::string& label) {
  absl::StatusOr<hsm::ObjectHandle> k = hsm::FindKey(s, label);
  if (!k.ok()) {
    return absl::Status(k.status().code(),
                        absl::StrCat("--kek: ", k.status().message()));
  }
  ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(s, *k));
  ASSIGN_OR_RETURN(hsm::KeyFlags f, hsm::ReadFlags(s, *k));
  if (e.kind != hsm::KeyKind::kRsa || e.klass != "private" || !f.unwrap) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--kek '", label,
        "' is not an RSA private key that may unwrap (make one with "
        "'keyferry kek create')"));
  }
  return *k;
}

absl::StatusOr<byok::TokenImportOptions> ImportOptions(const Args& args) {
  byok::TokenImportOptions o;
  if (auto r = args.Get("route")) {
    if (*r == "auto") {
      o.route = byok::Route::kAuto;
    } else if (*r == "native") {
      o.route = byok::Route::kNative;
    } else if (*r == "two-step") {
      o.route = byok::Route::kTwoStep;
    } else {
      return absl::InvalidArgumentError(
          "--route must be auto, native or two-step");
    }
  }
  if (auto m = args.Get("kwp-mechanism")) {
    ASSIGN_OR_RETURN(o.kwp_mechanism, ParseMechanismNumber(*m));
  }
  return o;
}

absl::Status RunImport(const Args& args) {
  // Everything that needs no token is checked before the token is opened.
  ASSIGN_OR_RETURN(std::string path, args.Require("byok"));
  ASSIGN_OR_RETURN(std::string kek_label, args.Require("kek"));
  ASSIGN_OR_RETURN(byok::Profile profile, ProfileFromArgs(args));
  ASSIGN_OR_RETURN(hsm::KeySpec spec, KeySpecFromArgs(args));
  ASSIGN_OR_RETURN(byok::TokenImportOptions options, ImportOptions(args));
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, byok::kMaxBlobBytes));
  absl::StatusOr<byok::TransferBlob> blob =
      byok::ReadTransferBlob(profile, text);
  if (!blob.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", blob.status().message()));
  }
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  hsm::Session& s = *h.session;
  ASSIGN_OR_RETURN(hsm::ObjectHandle kek, FindKek(s, kek_label));
  ASSIGN_OR_RETURN(hsm::RsaPublicParts parts, hsm::ReadRsaPublic(s, kek));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr kek_pub,
                   crypto::RsaPublicFromParts(parts.n, parts.e));
  RETURN_IF_ERROR(byok::CheckBlobKek(*blob, kek_label, kek_pub.get()));
  // The destination's own rules, as export applies them (profile.h).
  const int kek_bits = EVP_PKEY_get_bits(kek_pub.get());
  RETURN_IF_ERROR(byok::CheckWrappingKey(profile, kek_bits));
  ASSIGN_OR_RETURN(byok::TargetKind target,
                   byok::ClassifyTarget(spec.kind, spec.bits, spec.curve));
  RETURN_IF_ERROR(byok::CheckTarget(profile, target, kek_bits));
  ASSIGN_OR_RETURN(byok::TokenImportResult r,
                   byok::ImportToToken(s, kek, *blob, spec, options));
  RETURN_IF_ERROR(ReportNewKey(s, r.key, "imported", spec.label, r.id,
                               spec.flags, spec.kind, r.flags_not_kept,
                               spec.bits));
  std::printf("route: %s\n", r.route.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ImportCommands() {
  auto kek = HsmOptions();
  kek.push_back({"label", false,
                 "label of the new KEK (a key name: letters, digits, -)"});
  kek.push_back({"size", false, "RSA 2048 (default), 3072 or 4096"});
  kek.push_back({"out", false, "file for the KEK's public key (SPKI PEM)"});
  kek.push_back({"force", true, "replace an existing output file"});
  auto imp = HsmOptions();
  imp.push_back({"byok", false, "the transfer file (.byok or --format's)"});
  imp.push_back(
      {"kek", false, "label of the KEK made with 'keyferry kek create'"});
  for (OptionSpec& o : ProfileOptions(
           "azure (default, .byok JSON), azure-release, aws, gcp, vault or "
           "oci: what 'keyferry export --format' wrote (docs/byok-format.md "
           "section 7)")) {
    imp.push_back(std::move(o));
  }
  imp.push_back({"type", false, "declared key type: rsa, ec or aes"});
  imp.push_back({"size", false, "RSA 2048/3072/4096 or AES 128/192/256"});
  imp.push_back({"curve", false, "EC curve: P-256, P-384, P-521, secp256k1"});
  imp.push_back({"label", false, "label of the imported key"});
  imp.push_back(
      {"flags", false,
       "comma-separated flags as for 'key create' (default: its defaults); "
       "the key stays sensitive, non-extractable and in the token",
       true});
  imp.push_back({"route", false, "auto (default), native or two-step"});
  imp.push_back(
      {"kwp-mechanism", false,
       "RFC 5649 mechanism number (default: chosen by known-answer test "
       "among 0x210A and 0x210B)"});
  return {
      {"kek create",
       "make an import-only RSA key pair in the HSM and write its public key",
       kek, "", RunKekCreate},
      {"import", "unwrap a transfer blob into the HSM as a non-extractable key",
       imp, "", RunImport},
  };
}

}  // namespace keyferry::cli
