// Fuzzes the JWK readers: crypto/jwk.h PrivateKeyFromJwk (the keys API's
// import of RSA/EC keys) and crypto/keys.h ParsePublicKey on JSON text
// (public JWKs), after the bounded base/json.h parse the server uses.
// A key accepted must be consistent (CheckKeyPair) and describable.
#include "crypto/jwk.h"

#include "base/json.h"
#include "crypto/keys.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  absl::StatusOr<nlohmann::json> j = ParseJson(fuzz::Text(data, size));
  if (j.ok() && j->is_object()) {
    absl::StatusOr<crypto::EvpPkeyPtr> key = crypto::PrivateKeyFromJwk(*j);
    if (key.ok()) {
      fuzz::CheckOk(crypto::CheckKeyPair(key->get()),
                    "PrivateKeyFromJwk accepted an inconsistent key");
      fuzz::CheckOk(crypto::Describe(key->get()).status(),
                    "PrivateKeyFromJwk accepted a key Describe refuses");
    }
  }
  absl::StatusOr<crypto::EvpPkeyPtr> pub = crypto::ParsePublicKey({data, size});
  if (pub.ok()) (void)crypto::PublicKeyToJwk(pub->get());
  return 0;
}
