// Structure-aware .byok import through the software custody's ImportByok
// (what KeyVault::Import runs for a .byok under software custody): the
// RSA-OAEP part C1 is always valid for a fixed test KEK held by the
// custody, so the fuzzer works on what plain mutation never reaches, the
// AES-KWP part and the payload inside it.
// Input: byte 0 = mode (bit 0: the rest is the payload, wrapped here under
// the ephemeral key; else the rest is C2 itself; bits 1-2: the expected key
// kind), then the bytes. The ciphertext goes through a serialized .byok
// (SerializeBlob / ParseBlob) first, as the import path reads it.
#include <memory>

#include "base/encoding.h"
#include "byok/blob.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/rsa_oaep.h"
#include "custody/software_custody.h"
#include "fuzz_util.h"

namespace {

using namespace keyferry;

struct Setup {
  std::unique_ptr<custody::SoftwareCustody> custody;
  custody::HeldKey kek;
  crypto::EvpPkeyPtr kek_public;
  SecretBytes ephemeral;    // the fixed k
  std::vector<uint8_t> c1;  // OAEP(k) under the KEK, made once
  std::vector<uint8_t> kek_binding{'k', 'e', 'k'};
  std::vector<uint8_t> binding{'n', 'e', 'w'};
};

Setup& Get() {
  static Setup* s = [] {
    auto* s = new Setup;
    auto c = custody::SoftwareCustody::New(fuzz::FixedMasterKey());
    fuzz::CheckOk(c.status(), "custody");
    s->custody = std::move(*c);
    auto kek = s->custody->Generate(
        {.kind = custody::KeyKind::kRsa, .bits = 2048}, s->kek_binding);
    fuzz::CheckOk(kek.status(), "KEK");
    s->kek = std::move(*kek);
    auto pub = crypto::ParsePublicKey(AsBytes(s->kek.public_jwk));
    fuzz::CheckOk(pub.status(), "KEK public");
    s->kek_public = std::move(*pub);
    uint8_t k[32];
    for (int i = 0; i < 32; ++i) k[i] = static_cast<uint8_t>(i * 7 + 1);
    s->ephemeral = SecretBytes(std::span<const uint8_t>(k));
    auto c1 =
        crypto::RsaOaepEncrypt(s->kek_public.get(), crypto::OaepHash::kSha1,
                               s->ephemeral.data(SecretAccess::Get()));
    fuzz::CheckOk(c1.status(), "C1");
    s->c1 = std::move(*c1);
    return s;
  }();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Setup& s = Get();
  std::span<const uint8_t> rest(data + 1, size - 1);
  std::vector<uint8_t> ciphertext = s.c1;
  if (data[0] & 1) {
    if (rest.empty() || rest.size() > 8192) return 0;
    auto c2 = crypto::KwpWrap(s.ephemeral, SecretBytes(rest));
    fuzz::CheckOk(c2.status(), "KwpWrap");
    ciphertext.insert(ciphertext.end(), c2->begin(), c2->end());
  } else {
    ciphertext.insert(ciphertext.end(), rest.begin(), rest.end());
  }
  byok::Blob blob;
  blob.kid =
      "https://fuzz.vault.localhost:8443/keys/kek/"
      "0123456789abcdef0123456789abcdef";
  blob.ciphertext = std::move(ciphertext);
  absl::StatusOr<byok::Blob> parsed =
      byok::ParseBlob(byok::SerializeBlob(blob));
  if (!parsed.ok()) return 0;  // over the container's size limit
  static const custody::KeyRequest kExpected[] = {
      {.kind = custody::KeyKind::kRsa, .bits = 2048},
      {.kind = custody::KeyKind::kEc, .curve = crypto::Curve::kP256},
      {.kind = custody::KeyKind::kOct, .bits = 256},
      {.kind = custody::KeyKind::kRsa, .bits = 3072},
  };
  const custody::KeyRequest& want = kExpected[(data[0] >> 1) & 3];
  absl::StatusOr<custody::HeldKey> held = s.custody->ImportByok(
      s.kek, s.kek_binding, parsed->ciphertext, want, s.binding);
  if (held.ok() && held->kind != want.kind) {
    fuzz::Mismatch("ImportByok took a key of another kind than expected");
  }
  return 0;
}
