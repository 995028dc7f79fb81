// kf_raw: the physical limit for keyferryd's benchmark. Runs the bare
// arithmetic of one operation in a tight loop on `--threads` threads (one
// per core by default) for `--seconds`, straight on OpenSSL 3 EVP through
// src/crypto, with keys parsed once up front, and prints
// {"op":…,"ops":N,"seconds":S,"rps":R}.
//
// The operations mirror bench/run.sh's: sign-* (EVP_PKEY_sign of a digest),
// verify-*, encrypt-oaep256-2048 (public), decrypt-oaep-2048, wrap-a256kw,
// unwrap-a256kw, create-* (key generation), and byok-* (what a BYOK import
// costs at its core: RSA-OAEP-SHA1 decrypt under the KEK, RFC 5649 unwrap,
// PKCS#8 parse of the target).
#include <openssl/evp.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/secret.h"
#include "byok/envelope.h"
#include "crypto/aes_wrap.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/rsa_oaep.h"
#include "crypto/sign.h"

namespace {

using namespace keyferry;  // NOLINT: a small tool
using crypto::Curve;
using crypto::SignAlg;

[[noreturn]] void Die(const std::string& m) {
  std::fprintf(stderr, "kf_raw: %s\n", m.c_str());
  std::exit(2);
}

template <typename T>
T Must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok())
    Die(std::string(what) + ": " + std::string(v.status().message()));
  return std::move(*v);
}

crypto::EvpPkeyPtr Rsa(int bits) {
  return Must(crypto::GenerateRsa(bits, 65537), "rsa keygen");
}
crypto::EvpPkeyPtr Ec(Curve c) {
  return Must(crypto::GenerateEc(c), "ec keygen");
}

std::vector<uint8_t> Digest(size_t n) { return std::vector<uint8_t>(n, 0x5a); }

// MakeOp returns the loop body for `op`, with its inputs prepared.
std::function<bool()> MakeOp(const std::string& op) {
  struct SignCase {
    const char* name;
    std::function<crypto::EvpPkeyPtr()> key;
    SignAlg alg;
  };
  const std::vector<SignCase> signs = {
      {"rs256-2048", [] { return Rsa(2048); }, SignAlg::kRs256},
      {"rs256-3072", [] { return Rsa(3072); }, SignAlg::kRs256},
      {"rs256-4096", [] { return Rsa(4096); }, SignAlg::kRs256},
      {"ps256-2048", [] { return Rsa(2048); }, SignAlg::kPs256},
      {"es256", [] { return Ec(Curve::kP256); }, SignAlg::kEs256},
      {"es384", [] { return Ec(Curve::kP384); }, SignAlg::kEs384},
      {"es512", [] { return Ec(Curve::kP521); }, SignAlg::kEs512},
      {"es256k", [] { return Ec(Curve::kSecp256k1); }, SignAlg::kEs256k},
  };
  for (const SignCase& c : signs) {
    const bool sign = op == std::string("sign-") + c.name;
    const bool verify = op == std::string("verify-") + c.name;
    if (!sign && !verify) continue;
    auto key = std::make_shared<crypto::EvpPkeyPtr>(c.key());
    auto digest = std::make_shared<std::vector<uint8_t>>(
        Digest(crypto::DigestBytes(c.alg)));
    SignAlg alg = c.alg;
    if (sign) {
      return [key, digest, alg] {
        return crypto::SignDigest(key->get(), alg, *digest).ok();
      };
    }
    auto sig = std::make_shared<std::vector<uint8_t>>(
        Must(crypto::SignDigest(key->get(), alg, *digest), "sign"));
    auto pub = std::make_shared<crypto::EvpPkeyPtr>(
        Must(crypto::PublicKeyOf(key->get()), "public"));
    return [pub, digest, sig, alg] {
      auto ok = crypto::VerifyDigest(pub->get(), alg, *digest, *sig);
      return ok.ok() && *ok;
    };
  }
  if (op == "encrypt-oaep256-2048" || op == "decrypt-oaep-2048") {
    auto key = std::make_shared<crypto::EvpPkeyPtr>(Rsa(2048));
    auto pub = std::make_shared<crypto::EvpPkeyPtr>(
        Must(crypto::PublicKeyOf(key->get()), "public"));
    std::vector<uint8_t> pt(32, 7);
    if (op == "encrypt-oaep256-2048") {
      return [pub, pt] {
        return crypto::RsaOaepEncrypt(pub->get(), crypto::OaepHash::kSha256, pt)
            .ok();
      };
    }
    auto ct = std::make_shared<std::vector<uint8_t>>(
        Must(crypto::RsaOaepEncrypt(pub->get(), crypto::OaepHash::kSha1, pt),
             "oaep"));
    return [key, ct] {
      return crypto::RsaOaepDecrypt(key->get(), crypto::OaepHash::kSha1, *ct)
          .ok();
    };
  }
  if (op == "wrap-a256kw" || op == "unwrap-a256kw") {
    auto kek =
        std::make_shared<SecretBytes>(Must(crypto::RandomSecret(32), "random"));
    auto cek =
        std::make_shared<SecretBytes>(Must(crypto::RandomSecret(32), "random"));
    if (op == "wrap-a256kw") {
      return [kek, cek] { return crypto::KwWrap(*kek, *cek).ok(); };
    }
    auto wrapped = std::make_shared<std::vector<uint8_t>>(
        Must(crypto::KwWrap(*kek, *cek), "wrap"));
    return [kek, wrapped] { return crypto::KwUnwrap(*kek, *wrapped).ok(); };
  }
  if (op == "create-rsa2048") {
    return [] { return crypto::GenerateRsa(2048, 65537).ok(); };
  }
  if (op == "create-ec256") {
    return [] { return crypto::GenerateEc(Curve::kP256).ok(); };
  }
  if (op == "create-oct256") {
    return [] { return crypto::RandomSecret(32).ok(); };
  }
  if (op == "byok-rsa2048-kek4096" || op == "byok-aes256-kek4096") {
    auto kek = std::make_shared<crypto::EvpPkeyPtr>(Rsa(4096));
    auto pub = std::make_shared<crypto::EvpPkeyPtr>(
        Must(crypto::PublicKeyOf(kek->get()), "public"));
    const bool rsa = op == "byok-rsa2048-kek4096";
    SecretBytes payload =
        rsa ? Must(crypto::PrivateKeyToPkcs8Der(Rsa(2048).get()), "pkcs8")
            : Must(crypto::RandomSecret(32), "random");
    auto ct = std::make_shared<std::vector<uint8_t>>(
        Must(byok::WrapToKek(pub->get(), payload), "byok seal"));
    return [kek, ct, rsa] {
      auto p = byok::UnwrapWithKek(kek->get(), *ct);
      if (!p.ok()) return false;
      if (!rsa) return p->size() == 32;
      return crypto::ParsePkcs8Der(*p, /*allow_trailing_zeros=*/false).ok();
    };
  }
  Die("unknown operation " + op);
}

}  // namespace

int main(int argc, char** argv) {
  std::string op;
  double seconds = 3;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--op") {
      op = v;
    } else if (a == "--seconds") {
      seconds = std::atof(v.c_str());
    } else if (a == "--threads") {
      threads = std::atoi(v.c_str());
    } else {
      Die("unknown flag " + a);
    }
  }
  if (op.empty()) Die("--op is required");
  if (threads < 1) threads = 1;
  std::function<bool()> body = MakeOp(op);
  if (!body()) Die(op + " failed");
  std::atomic<bool> stop{false};
  std::atomic<long> total{0}, failures{0};
  std::vector<std::thread> pool;
  auto t0 = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      long n = 0, bad = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!body()) ++bad;
        ++n;
      }
      total += n;
      failures += bad;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (failures.load() != 0) Die(op + ": an operation failed");
  std::printf("{\"op\":\"%s\",\"ops\":%ld,\"seconds\":%.3f,\"rps\":%.1f}\n",
              op.c_str(), total.load(), wall,
              static_cast<double>(total.load()) / wall);
  return 0;
}
