#include "byok/pkcs11_export_session.h"

#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "hsm/errors.h"
#include "hsm/keys.h"
#include "hsm/mechanisms.h"
#include "hsm/templates.h"

namespace keyferry::byok {
namespace {

// RFC 5649 §6 known-answer vectors.
constexpr char kRfcKek[] = "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8";
constexpr char kKey20[] = "c37b7e6492584340bed12207808941155068f738";
constexpr char kWrap20[] =
    "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a";
constexpr char kKey7[] = "466f7250617369";
constexpr char kWrap7[] = "afbeb0f07dfbf5419200f2ccb50bb24f";
// SoftHSM 2.6.1's output for the 7-byte vector: a correct KWP of the key
// zero-padded to 8 bytes (shared reference softhsm-2.6.1.md §4).
constexpr char kSoftHsmDefect7[] = "0e13c7817f2e6681f64d911b7dd014d5";

}  // namespace

absl::StatusOr<TargetInfo> Pkcs11ExportSession::Describe(ObjectRef target) {
  ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(s_, target));
  TargetInfo info;
  info.type = e.kind;
  info.bits = e.bits;
  info.curve = e.curve;
  info.label = e.label;
  ASSIGN_OR_RETURN(info.extractable, hsm::IsExtractable(s_, target));
  return info;
}

bool Pkcs11ExportSession::HasWrapMechanism(uint64_t mech) {
  auto m = s_.module().GetMechanism(s_.slot(), mech);
  return m.ok() && m->wrap;
}

absl::StatusOr<ObjectRef> Pkcs11ExportSession::ImportRsaPublic(
    std::span<const uint8_t> n, std::span<const uint8_t> e) {
  return hsm::ImportRsaPublicKey(s_, n, e, /*token=*/false, "");
}

absl::StatusOr<ObjectRef> Pkcs11ExportSession::GenerateEphemeralAes(
    size_t bytes) {
  return s_.GenerateKey({hsm::kAesKeyGen},
                        hsm::EphemeralWrapKeyTemplate(bytes));
}

absl::StatusOr<ObjectRef> Pkcs11ExportSession::CreateTestSecret(
    const SecretBytes& value, bool aes_wrapping_key) {
  return s_.CreateObject(hsm::TestSecretTemplate(value, aes_wrapping_key));
}

absl::StatusOr<ObjectRef> Pkcs11ExportSession::GenerateTestEc(
    crypto::Curve curve) {
  ASSIGN_OR_RETURN(
      auto pair,
      s_.GenerateKeyPair({hsm::kEcKeyPairGen}, hsm::TestEcPublicTemplate(curve),
                         hsm::TestEcPrivateTemplate()));
  hsm::ScopedObject pub(s_, pair.first);
  return pair.second;
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11ExportSession::WrapOaep(
    crypto::OaepHash hash, ObjectRef wrapping, ObjectRef target) {
  return s_.WrapKey(hsm::RsaOaep(hash), wrapping, target);
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11ExportSession::WrapKwp(
    uint64_t mech, ObjectRef wrapping, ObjectRef target) {
  return s_.WrapKey({mech}, wrapping, target);
}

absl::StatusOr<std::vector<uint8_t>> Pkcs11ExportSession::WrapRsaAes(
    crypto::OaepHash hash, ObjectRef kek, ObjectRef target) {
  return s_.WrapKey(hsm::RsaAesKeyWrap(256, hash), kek, target);
}

absl::StatusOr<ExportSession::KwpProbe> Pkcs11ExportSession::ProbeKwp(
    uint64_t mech) {
  KwpProbe r;
  ASSIGN_OR_RETURN(SecretBytes kek, HexDecodeSecret(kRfcKek));
  auto kek_ref = CreateTestSecret(kek, true);
  if (!kek_ref.ok()) {
    r.detail = absl::StrCat("cannot create the 192-bit probe KEK: ",
                            kek_ref.status().message());
    return r;
  }
  ScopedObject kek_obj(*this, *kek_ref);
  bool wrap_ok = true, unwrap_ok = true;
  std::string detail;
  for (auto [key_hex, wrap_hex] :
       {std::pair{kKey20, kWrap20}, std::pair{kKey7, kWrap7}}) {
    ASSIGN_OR_RETURN(SecretBytes key, HexDecodeSecret(key_hex));
    ASSIGN_OR_RETURN(std::vector<uint8_t> want, HexDecode(wrap_hex));
    ASSIGN_OR_RETURN(ObjectRef key_ref, CreateTestSecret(key, false));
    ScopedObject key_obj(*this, key_ref);
    auto got = s_.WrapKey({mech}, kek_obj.get(), key_obj.get());
    if (!got.ok()) {
      wrap_ok = false;
      absl::StrAppend(&detail, "wrap of ", key.size(),
                      "-byte vector: ", got.status().message(), "; ");
    } else if (*got != want) {
      wrap_ok = false;
      if (key.size() == 7 && HexEncode(*got) == kSoftHsmDefect7) {
        r.padding_defect = true;
        absl::StrAppend(
            &detail, "wrap zero-pads before RFC 5649 (SoftHSM 2.6.1 defect); ");
      } else {
        absl::StrAppend(&detail, "wrap of ", key.size(),
                        "-byte vector differs from RFC 5649; ");
      }
    }
    auto unwrapped = s_.UnwrapKey({mech}, kek_obj.get(), want,
                                  hsm::TestSecretUnwrapTemplate());
    if (!unwrapped.ok()) {
      unwrap_ok = false;
      absl::StrAppend(&detail, "unwrap of ", key.size(),
                      "-byte vector: ", unwrapped.status().message(), "; ");
      continue;
    }
    ScopedObject out_obj(*this, *unwrapped);
    auto value = hsm::ReadSecretValue(s_, out_obj.get());
    if (!value.ok() || !value->ConstantTimeEquals(key)) {
      unwrap_ok = false;
      absl::StrAppend(&detail, "unwrap of ", key.size(),
                      "-byte vector gives a different key; ");
    }
  }
  r.wrap_ok = wrap_ok;
  r.unwrap_ok = unwrap_ok;
  r.detail = detail.empty()
                 ? "RFC 5649 section 6 vectors wrap and unwrap correctly"
                 : detail.substr(0, detail.size() - 2);
  if (r.padding_defect && !unwrap_ok) r.padding_defect = false;
  return r;
}

absl::Status Pkcs11ExportSession::Destroy(ObjectRef object) {
  return s_.Destroy(object);
}

}  // namespace keyferry::byok
