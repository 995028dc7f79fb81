// make_seeds writes the seed inputs that only keyferry itself can make
// (custody blobs and backups under the fuzz targets' fixed test master key,
// share files, .byok blobs, signed tokens) into fuzz/corpus/<target>/.
// Run once when a format changes: build-asan/fuzz/make_seeds fuzz/corpus
// (fuzz/README.md). Not a fuzz target.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "auth/jwt.h"
#include "base/encoding.h"
#include "byok/blob.h"
#include "byok/envelope.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "custody/software_custody.h"
#include "fuzz_util.h"
#include "seal/shamir.h"
#include "seal/shares.h"
#include "store/memory_store.h"
#include "vault/key_vault.h"

namespace {

using namespace keyferry;
std::string g_out;

void Write(const std::string& target, const std::string& name,
           std::string_view prefix, std::string_view body) {
  std::filesystem::create_directories(g_out + "/" + target);
  std::ofstream f(g_out + "/" + target + "/" + name, std::ios::binary);
  f << prefix << body;
}

std::string Str(std::span<const uint8_t> b) { return AsString(b); }

void Backups() {
  store::MemoryKeyStore store;
  auto custody = *custody::SoftwareCustody::New(fuzz::FixedMasterKey());
  vault::KeyVault v(&store, custody.get(),
                    [] { return int64_t{1'800'000'000}; },
                    {.recoverable_days = 7});
  vault::CreateKeyRequest ec{.kty = vault::Kty::kEcHsm,
                             .curve = crypto::Curve::kP256};
  vault::CreateKeyRequest rsa{.kty = vault::Kty::kRsa, .key_size = 2048};
  fuzz::CheckOk(v.Create("fuzzvault", "fzb", ec).status(), "create");
  fuzz::CheckOk(v.Create("fuzzvault", "fzb", rsa).status(), "create 2");
  auto blob = v.Backup("fuzzvault", "fzb");
  fuzz::CheckOk(blob.status(), "backup");
  auto doc = custody->UnprotectBackup(*blob);
  fuzz::CheckOk(doc.status(), "unprotect");
  Write("backup", "seed_blob", std::string(1, '\0'), Str(*blob));
  Write("backup", "seed_document", "\x01", Str(*doc));
  Write("keys_api", "seed_restore", "\x11",
        absl::StrCat(R"({"value":")", Base64UrlEncode(*blob), R"("})"));
}

void Shares() {
  SecretBytes master = *crypto::RandomSecret(32);
  seal::SealInfo info{.vault_id = "fuzz-vault", .shares = 3, .threshold = 2};
  info.check = *seal::KeyCheckValue(master);
  auto split = *seal::Split(master, 3, 2);
  for (const seal::Share& share : split) {
    info.share_checks.push_back(*seal::ShareCheckValue("fuzz-vault", share));
  }
  std::string seal_json = *seal::EncodeSealInfo(info);
  std::string plain = *seal::EncodeShareFile(split[0], info, std::nullopt);
  std::string pass =
      *seal::EncodeShareFile(split[1], info, SecretBytes(AsBytes("pw")));
  Write("shares", "seed_plain", "", plain);
  Write("shares", "seed_passphrase", "", pass);
  Write("shares", "seed_plain_and_seal", plain,
        std::string(1, '\0') + seal_json);
  Write("shares", "seed_seal", "", seal_json);
}

void Byok() {
  auto kek = *crypto::GenerateRsa(2048);
  auto pub = *crypto::PublicKeyOf(kek.get());
  struct Payload {
    const char* name;
    SecretBytes bytes;
    char mode;  // byok_import's byte 0: bit 0 "payload", bits 1-2 expectation
  };
  std::vector<Payload> payloads;
  payloads.push_back({"aes256", *crypto::RandomSecret(32), '\x05'});
  payloads.push_back({"ec_p256",
                      *crypto::PrivateKeyToPkcs8Der(
                          crypto::GenerateEc(crypto::Curve::kP256)->get()),
                      '\x03'});
  payloads.push_back(
      {"rsa2048",
       *crypto::PrivateKeyToPkcs8Der(crypto::GenerateRsa(2048)->get()),
       '\x01'});
  for (const Payload& p : payloads) {
    byok::Blob blob;
    blob.kid =
        "https://myvault.localhost:8443/keys/kek/"
        "0123456789abcdef0123456789abcdef";
    blob.ciphertext = *byok::WrapToKek(pub.get(), p.bytes);
    blob.generator = "keyferry make_seeds";
    Write("byok_blob", absl::StrCat("seed_", p.name), "",
          byok::SerializeBlob(blob));
    Write("byok_import", absl::StrCat("seed_", p.name), std::string(1, p.mode),
          Str(p.bytes.data(SecretAccess::Get())));
  }
}

void Tokens() {
  auto key = *crypto::GenerateEc(crypto::Curve::kP256);
  auth::Claims c{"https://localhost:8443/identity",
                 "officer",
                 "https://localhost:8443",
                 "tenant-1",
                 1'800'000'000,
                 1'800'000'000,
                 1'800'003'600};
  std::string token = *auth::IssueAccessToken(key.get(), "k1", c);
  Write("jwt", "seed_token", std::string(1, '\0'), token);
  size_t dot = token.find('.');
  size_t dot2 = token.find('.', dot + 1);
  auto header = *Base64UrlDecode(token.substr(0, dot));
  auto payload = *Base64UrlDecode(token.substr(dot + 1, dot2 - dot - 1));
  Write("jwt", "seed_payload", "\x01", Str(payload));
  Write("jwt", "seed_header_payload", "\x01",
        absl::StrCat(Str(header), "\n", Str(payload)));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds CORPUS_DIR\n");
    return 2;
  }
  g_out = argv[1];
  Backups();
  Shares();
  Byok();
  Tokens();
  return 0;
}
