// keyferry inspect / verify: offline checks of a .byok blob.
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "byok/blob.h"
#include "byok/envelope.h"
#include "cli/command.h"
#include "cli/files.h"
#include "crypto/keys.h"

namespace keyferry::cli {
namespace {

absl::StatusOr<std::string> ReadBlobFile(const Args& args) {
  if (args.positional().size() != 1) {
    return absl::InvalidArgumentError("expects exactly one FILE.byok");
  }
  auto text = ReadFile(args.positional()[0], 1 << 20);
  if (!text.ok()) return text.status();
  return text;
}

absl::Status RunInspect(const Args& args) {
  ASSIGN_OR_RETURN(std::string text, ReadBlobFile(args));
  ASSIGN_OR_RETURN(byok::Blob blob, byok::ParseBlob(text));
  ASSIGN_OR_RETURN(byok::KeyId kid, byok::ParseKeyId(blob.kid));
  std::optional<size_t> n;
  if (auto kek_path = args.Get("kek")) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr kek, ReadKekFile(*kek_path));
    ASSIGN_OR_RETURN(n, byok::KekModulusBytes(kek.get()));
  }
  ASSIGN_OR_RETURN(byok::Analysis a, byok::Analyze(blob.ciphertext.size(), n));
  if (a.fitting_targets.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "AES-KWP part of ", a.c2, " bytes fits no supported target key"));
  }
  std::string out = absl::StrCat(
      "format:      Azure .byok, schema_version ", blob.schema_version, "\n",
      "kek:         ", blob.kid, "\n", "  vault:     ", kid.host, "\n",
      "  key:       ", kid.name, " version ", kid.version, "\n",
      "alg/enc:     ", blob.alg, " / ", blob.enc, "\n",
      "generator:   ", blob.generator.empty() ? "(none)" : blob.generator, "\n",
      "ciphertext:  ", a.total, " bytes, base64url ",
      blob.ciphertext_was_padded ? "padded" : "unpadded", "\n",
      "  RSA-OAEP:  ", a.modulus_bytes, " bytes (KEK RSA-", a.modulus_bytes * 8,
      a.modulus_inferred ? ", inferred: give --kek to check" : "", ")\n",
      "  AES-KWP:   ", a.c2, " bytes (payload ", a.payload_min, "..",
      a.payload_max, " bytes)\n",
      "target fits: ", absl::StrJoin(a.fitting_targets, ", "), "\n",
      "result:      structure OK\n");
  std::fputs(out.c_str(), stdout);
  return absl::OkStatus();
}

absl::Status RunVerify(const Args& args) {
  ASSIGN_OR_RETURN(std::string text, ReadBlobFile(args));
  ASSIGN_OR_RETURN(byok::Blob blob, byok::ParseBlob(text));
  ASSIGN_OR_RETURN(std::string kek_path, args.Require("kek-private"));
  ASSIGN_OR_RETURN(SecretBytes kek_bytes, ReadSecretFile(kek_path));
  auto kek = crypto::ParsePrivateKey(kek_bytes);
  if (!kek.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kek_path, ": not a private key (", kek.status().message(), ")"));
  }
  std::optional<bool> expect_aes;
  if (args.Has("expect-secret-hex")) expect_aes = true;
  if (args.Has("expect-public")) expect_aes = false;
  ASSIGN_OR_RETURN(SecretBytes payload,
                   byok::UnwrapWithKek(kek->get(), blob.ciphertext));
  ASSIGN_OR_RETURN(byok::RecoveredKey key,
                   byok::DecodePayload(payload, expect_aes));
  std::string what;
  if (key.type == crypto::KeyType::kAes) {
    what = absl::StrCat("AES-", key.bits);
  } else {
    crypto::KeyDescription d{key.type, key.bits, key.curve, true};
    what = crypto::DescribeForHumans(d);
  }
  if (auto hex = args.Get("expect-secret-hex")) {
    ASSIGN_OR_RETURN(SecretBytes want, HexDecodeSecret(*hex));
    if (!want.ConstantTimeEquals(key.secret)) {
      return absl::FailedPreconditionError(
          absl::StrCat("blob opens, but the ", what,
                       " key inside differs from --expect-secret-hex"));
    }
  }
  if (auto pub_path = args.Get("expect-public")) {
    ASSIGN_OR_RETURN(crypto::EvpPkeyPtr want, ReadPublicKeyFile(*pub_path));
    if (!crypto::PublicKeysEqual(want.get(), key.pkey.get())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "blob opens, but the ", what,
          " key inside does not match the public key of --expect-public"));
    }
  }
  std::string out =
      absl::StrCat("verified: ", what, " key recovered with ", blob.kid);
  if (key.trailing_zeros > 0) {
    absl::StrAppend(&out, "; note: payload carries ", key.trailing_zeros,
                    " trailing zero bytes (SoftHSM 2.6.1 padding defect)");
  }
  if (args.Has("expect-secret-hex") || args.Has("expect-public")) {
    absl::StrAppend(&out, "; matches the expected key");
  }
  std::printf("%s\n", out.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> InspectCommands() {
  return {
      {"inspect",
       "offline structural check of a .byok blob",
       {{"kek", false,
         "KEK public key (PEM, DER or JWK) to check lengths against"}},
       "FILE.byok",
       RunInspect},
      {"verify",
       "open a .byok blob with a test KEK private key and check the key inside",
       {{"kek-private", false, "KEK private key (PEM or DER), for tests only"},
        {"expect-public", false,
         "public key the recovered RSA/EC key must match"},
        {"expect-secret-hex", false, "AES key the recovered key must equal"}},
       "FILE.byok",
       RunVerify},
  };
}

}  // namespace keyferry::cli
