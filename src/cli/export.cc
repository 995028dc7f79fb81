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
#include "cli/command.h"
#include "cli/files.h"
#include "cli/hsm_context.h"
#include "crypto/keys.h"
#include "hsm/keys.h"
#include "hsm/templates.h"

namespace keyferry::cli {
namespace {

enum class Format { kAzure, kAws, kGcp };

absl::StatusOr<Format> ParseFormat(const std::string& s) {
  if (s == "azure") return Format::kAzure;
  if (s == "aws") return Format::kAws;
  if (s == "gcp") return Format::kGcp;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown --format '", s, "' (azure, aws or gcp)"));
}

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

// WrapFromFile wraps a plaintext key file in software: its PKCS#8 encoding
// (RSA, EC) or its raw bytes (AES-128/192/256).
absl::StatusOr<std::vector<uint8_t>> WrapFromFile(const std::string& path,
                                                  EVP_PKEY* kek,
                                                  std::string* what) {
  ASSIGN_OR_RETURN(SecretBytes raw, ReadSecretFile(path));
  SecretBytes payload;
  auto key = crypto::ParsePrivateKey(raw);
  if (key.ok()) {
    ASSIGN_OR_RETURN(crypto::KeyDescription d, crypto::Describe(key->get()));
    if (d.type == crypto::KeyType::kRsa && d.bits != 2048 && d.bits != 3072 &&
        d.bits != 4096) {
      return absl::InvalidArgumentError(absl::StrCat(
          "RSA target must be 2048, 3072 or 4096 bits, not ", d.bits));
    }
    ASSIGN_OR_RETURN(payload, crypto::PrivateKeyToPkcs8Der(key->get()));
    *what = crypto::DescribeForHumans(d);
  } else if (raw.size() == 16 || raw.size() == 24 || raw.size() == 32) {
    payload = raw;
    *what = absl::StrCat("AES-", raw.size() * 8);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        ": not a private key (PEM/DER PKCS#8, PKCS#1, SEC1) nor a raw "
        "16/24/32-byte AES key"));
  }
  return byok::WrapToKek(kek, payload);
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

absl::Status RunExport(const Args& args) {
  ASSIGN_OR_RETURN(std::string out_path, args.Require("out"));
  ASSIGN_OR_RETURN(std::string kek_arg, args.Require("kek"));
  ASSIGN_OR_RETURN(Format format,
                   ParseFormat(args.Get("format").value_or("azure")));
  std::optional<std::string> kid = args.Get("kid");
  if (format == Format::kAzure) {
    if (!kid) {
      return absl::InvalidArgumentError(
          "missing --kid (the KEK's key identifier, version included, from "
          "'az keyvault key create')");
    }
    RETURN_IF_ERROR(byok::ParseKeyId(*kid).status());
  }
  if (FileExists(out_path) && !args.Has("force")) {
    return absl::AlreadyExistsError(
        absl::StrCat(out_path, " exists (use --force to replace it)"));
  }
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

  std::vector<uint8_t> ciphertext;
  std::string route, what;
  std::optional<Hsm> h;
  crypto::EvpPkeyPtr kek;
  bool from_file = args.Has("from-file");
  if (from_file) {
    if (args.Has("key")) {
      return absl::InvalidArgumentError("give --key or --from-file, not both");
    }
    ASSIGN_OR_RETURN(kek, ReadKek(kek_arg, nullptr));
    ASSIGN_OR_RETURN(ciphertext,
                     WrapFromFile(*args.Get("from-file"), kek.get(), &what));
    route = "software (OpenSSL)";
  } else {
    ASSIGN_OR_RETURN(h, OpenHsm(args));
    ASSIGN_OR_RETURN(kek, ReadKek(kek_arg, h->session.get()));
    ASSIGN_OR_RETURN(hsm::ObjectHandle target, SelectKey(*h, args));
    ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(*h->session, target));
    what =
        e.kind == hsm::KeyKind::kRsa ? absl::StrCat("RSA-", e.bits)
        : e.kind == hsm::KeyKind::kEc
            ? absl::StrCat("EC ", std::string(crypto::CurveJwkName(*e.curve)))
            : absl::StrCat("AES-", e.bits);
    byok::Pkcs11ExportSession token(*h->session, Generator(&*h, false));
    ASSIGN_OR_RETURN(byok::ExportResult r,
                     byok::ExportFromToken(token, target, kek.get(), options));
    ciphertext = std::move(r.ciphertext);
    route = r.route;
  }

  std::vector<uint8_t> file;
  if (format == Format::kAzure) {
    byok::Blob blob;
    blob.kid = *kid;
    blob.ciphertext = ciphertext;
    blob.generator = Generator(h ? &*h : nullptr, from_file);
    std::string text = byok::SerializeBlob(blob);
    file.assign(text.begin(), text.end());
  } else {
    // AWS RSA_AES_KEY_WRAP_SHA_1 and GCP RSA_OAEP_*_SHA1_AES_256 take the
    // same bytes, raw (docs/byok-format.md §5).
    if (format == Format::kGcp && EVP_PKEY_get_bits(kek.get()) < 3072) {
      return absl::InvalidArgumentError(
          "GCP import jobs use RSA 3072 or 4096 wrapping keys");
    }
    file = ciphertext;
  }
  RETURN_IF_ERROR(WriteFileAtomic(out_path, file, 0644));
  if (from_file) {
    std::fprintf(
        stderr,
        "keyferry export: note: the key came from a file, so it was not "
        "HSM-protected; it was wrapped in software\n");
  }
  std::printf("wrote %s: %s key, %zu-byte ciphertext, route %s\n",
              out_path.c_str(), what.c_str(), ciphertext.size(), route.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> ExportCommands() {
  auto opts = HsmOptions();
  opts.push_back(
      {"key", false, "target key label or PKCS#11 URI (object=, id=)"});
  opts.push_back(
      {"kek", false, "KEK: PEM/DER/JWK file, or label of an imported KEK"});
  opts.push_back({"kid", false, "KEK key identifier with version (Azure)"});
  opts.push_back({"out", false, "output file"});
  opts.push_back({"force", true, "replace an existing output file"});
  opts.push_back(
      {"format", false, "azure (default, .byok JSON), aws or gcp (raw bytes)"});
  opts.push_back({"route", false, "auto (default), native or two-step"});
  opts.push_back(
      {"kwp-mechanism", false,
       "RFC 5649 mechanism number (default: chosen by known-answer test "
       "among 0x210A and 0x210B)"});
  opts.push_back({"from-file", false,
                  "plaintext key file (PEM/DER PKCS#8, PKCS#1, SEC1, raw AES) "
                  "instead of --key"});
  return {{"export", "wrap a key for a cloud key vault (.byok for Azure)", opts,
           "", RunExport}};
}

}  // namespace keyferry::cli
