// Fuzzes crypto/keys.h's DER/PEM readers: ParsePrivateKey (PKCS#8, PKCS#1,
// SEC1; PEM or DER), ParsePkcs8Der (the .byok payload reader, with and
// without SoftHSM's trailing zeros), ParsePublicKey (SPKI, PKCS#1, JWK) and
// DerSequenceLength. A private key accepted must re-encode as PKCS#8 and
// parse back to the same public key.
#include "crypto/keys.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  std::span<const uint8_t> in(data, size);
  SecretBytes secret(in);
  std::optional<size_t> seq = crypto::DerSequenceLength(in);
  if (seq && *seq > size) fuzz::Mismatch("DerSequenceLength past the input");

  absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::ParsePrivateKey(secret);
  for (bool zeros : {false, true}) {
    absl::StatusOr<crypto::EvpPkeyPtr> p8 =
        crypto::ParsePkcs8Der(secret, zeros);
    if (!p8.ok()) continue;
    if (!zeros && (!seq || *seq != size)) {
      fuzz::Mismatch("ParsePkcs8Der accepted bytes after the SEQUENCE");
    }
    if (!zeros && !key.ok()) {
      fuzz::Mismatch("ParsePkcs8Der accepts, ParsePrivateKey not");
    }
  }
  if (key.ok() && crypto::Describe(key->get()).ok()) {
    absl::StatusOr<SecretBytes> der = crypto::PrivateKeyToPkcs8Der(key->get());
    fuzz::CheckOk(der.status(), "an accepted private key does not re-encode");
    absl::StatusOr<crypto::EvpPkeyPtr> back =
        crypto::ParsePkcs8Der(*der, false);
    fuzz::CheckOk(back.status(), "re-encoded PKCS#8 does not parse back");
    if (!crypto::PublicKeysEqual(key->get(), back->get())) {
      fuzz::Mismatch("PKCS#8 round trip changed the key");
    }
  }
  absl::StatusOr<crypto::EvpPkeyPtr> pub = crypto::ParsePublicKey(in);
  if (pub.ok() && crypto::Describe(pub->get()).ok()) {
    fuzz::CheckOk(crypto::PublicKeyToDer(pub->get()).status(),
                  "an accepted public key does not re-encode");
  }
  return 0;
}
