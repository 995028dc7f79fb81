// keyferry key create / key list / key flags / kek import.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/status.h"
#include "base/strings.h"
#include "cli/command.h"
#include "cli/files.h"
#include "cli/hsm_context.h"
#include "cli/key_common.h"
#include "crypto/keys.h"
#include "hsm/keys.h"

namespace keyferry::cli {
namespace {

absl::Status RunKeyCreate(const Args& args) {
  ASSIGN_OR_RETURN(hsm::KeySpec spec, KeySpecFromArgs(args));
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  // RSA-4096 generation takes seconds: show progress on a terminal.
  std::atomic<bool> done{false};
  std::thread progress;
  if (spec.kind == hsm::KeyKind::kRsa && isatty(STDERR_FILENO)) {
    progress = std::thread([&done, bits = spec.bits] {
      const char spin[] = "|/-\\";
      for (int i = 0; !done; ++i) {
        std::fprintf(stderr, "\rgenerating RSA-%d in the HSM %c", bits,
                     spin[i % 4]);
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
      }
      std::fprintf(stderr, "\r%40s\r", "");
    });
  }
  auto key = hsm::GenerateKey(*h.session, spec);
  done = true;
  if (progress.joinable()) progress.join();
  if (!key.ok()) return key.status();
  return ReportNewKey(*h.session, key->private_or_secret, "created", spec.label,
                      key->id, spec.flags, spec.kind, key->flags_not_kept);
}

absl::Status RunKeyList(const Args& args) {
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  ASSIGN_OR_RETURN(auto keys, hsm::ListKeys(*h.session));
  std::printf("%-8s %-10s %-24s %s\n", "class", "type", "label", "id");
  for (const auto& e : keys) {
    std::printf("%-8s %-10s %-24s %s\n", e.klass.c_str(),
                DescribeEntry(e).c_str(), e.label.c_str(),
                HexEncode(e.id).c_str());
  }
  return absl::OkStatus();
}

absl::Status RunKeyFlags(const Args& args) {
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  ASSIGN_OR_RETURN(hsm::ObjectHandle k, SelectKey(h, args));
  ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(*h.session, k));
  ASSIGN_OR_RETURN(hsm::KeyFlags f, hsm::ReadFlags(*h.session, k));
  std::printf("%s %s '%s' id %s\n%s\n", e.klass.c_str(),
              DescribeEntry(e).c_str(), e.label.c_str(),
              HexEncode(e.id).c_str(), hsm::FormatFlags(f).c_str());
  return absl::OkStatus();
}

absl::Status RunKekImport(const Args& args) {
  ASSIGN_OR_RETURN(std::string path, args.Require("file"));
  ASSIGN_OR_RETURN(std::string label, args.Require("label"));
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr kek, ReadKekFile(path));
  int bits = EVP_PKEY_get_bits(kek.get());
  ASSIGN_OR_RETURN(crypto::RsaPublicParts parts,
                   crypto::GetRsaPublic(kek.get()));
  ASSIGN_OR_RETURN(Hsm h, OpenHsm(args));
  if (hsm::FindPublicKey(*h.session, label).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("a public key labelled '", label, "' already exists"));
  }
  RETURN_IF_ERROR(hsm::ImportRsaPublicKey(*h.session, parts.n, parts.e,
                                          /*token=*/true, label)
                      .status());
  std::printf("imported KEK '%s' (RSA-%d) from %s\n", label.c_str(), bits,
              path.c_str());
  return absl::OkStatus();
}

}  // namespace

std::vector<Command> KeyCommands() {
  auto create = HsmOptions();
  create.push_back({"type", false, "rsa, ec or aes"});
  create.push_back({"size", false, "RSA 2048/3072/4096 or AES 128/192/256"});
  create.push_back(
      {"curve", false, "EC curve: P-256, P-384, P-521, secp256k1"});
  create.push_back({"label", false, "label of the new key"});
  create.push_back(
      {"flags", false,
       "comma-separated flags: sensitive, extractable, modifiable, copyable, "
       "destroyable, token, private, encrypt, decrypt, sign, verify, wrap, "
       "unwrap, derive, wrapwithtrusted, and their non forms",
       true});
  auto select = HsmOptions();
  select.push_back({"key", false, "key label or PKCS#11 URI (object=, id=)"});
  auto kek = HsmOptions();
  kek.push_back({"file", false, "KEK public key: PEM, DER or JWK"});
  kek.push_back({"label", false, "label to store it under"});
  return {
      {"key create", "generate a key inside the HSM with explicit flags",
       create, "", RunKeyCreate},
      {"key list", "list the token's keys", HsmOptions(), "", RunKeyList},
      {"key flags", "show a key's flags (as Primus Tools' ListKeyFlags)",
       select, "", RunKeyFlags},
      {"kek import", "store a Key Exchange Key's public key in the token", kek,
       "", RunKekImport},
  };
}

}  // namespace keyferry::cli
