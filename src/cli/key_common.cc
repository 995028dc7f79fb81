#include "cli/key_common.h"

#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"

namespace keyferry::cli {

absl::StatusOr<std::optional<int>> SizeFromArgs(const Args& args) {
  std::optional<int> size;
  if (auto s = args.Get("size")) {
    int v;
    if (!absl::SimpleAtoi(*s, &v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--size '", *s, "' is not a number"));
    }
    size = v;
  }
  return size;
}

absl::StatusOr<hsm::KeySpec> KeySpecFromArgs(const Args& args) {
  ASSIGN_OR_RETURN(std::string type, args.Require("type"));
  ASSIGN_OR_RETURN(std::optional<int> size, SizeFromArgs(args));
  std::optional<std::string> curve = args.Get("curve");
  ASSIGN_OR_RETURN(
      hsm::KeySpec spec,
      hsm::ParseKeySpec(
          type, size,
          curve ? std::optional<std::string_view>(*curve) : std::nullopt));
  ASSIGN_OR_RETURN(spec.label, args.Require("label"));
  for (const auto& f : args.GetAll("flags")) {
    ASSIGN_OR_RETURN(spec.flags, hsm::ParseFlags(f, spec.flags));
  }
  return spec;
}

std::string DescribeEntry(const hsm::KeyEntry& e) {
  switch (e.kind) {
    case hsm::KeyKind::kRsa:
      return absl::StrCat("RSA-", e.bits);
    case hsm::KeyKind::kEc:
      return absl::StrCat("EC ", Sv(crypto::CurveJwkName(*e.curve)));
    case hsm::KeyKind::kAes:
      return absl::StrCat("AES-", e.bits);
  }
  return "?";
}

absl::Status ReportNewKey(hsm::Session& s, hsm::ObjectHandle h,
                          std::string_view verb, std::string_view label,
                          std::span<const uint8_t> id,
                          const hsm::KeyFlags& asked, hsm::KeyKind kind,
                          const std::vector<std::string>& flags_not_kept,
                          int checked_aes_bits) {
  ASSIGN_OR_RETURN(hsm::KeyEntry e, hsm::DescribeKey(s, h));
  if (e.kind == hsm::KeyKind::kAes && e.bits == 0) e.bits = checked_aes_bits;
  ASSIGN_OR_RETURN(hsm::KeyFlags flags, hsm::ReadFlags(s, h));
  std::printf(
      "%.*s %s key '%.*s' id %s\nflags: %s\n", static_cast<int>(verb.size()),
      verb.data(), DescribeEntry(e).c_str(), static_cast<int>(label.size()),
      label.data(), HexEncode(id).c_str(), hsm::FormatFlags(flags).c_str());
  if (!flags_not_kept.empty()) {
    std::fprintf(
        stderr,
        "keyferry: warning: the token cannot store %s (PKCS#11 2.40 "
        "attributes), so the key was made without them and the token's own "
        "rules apply: a token may let copies of this key be made, even "
        "extractable ones\n",
        absl::StrJoin(flags_not_kept, ", ").c_str());
  }
  // A token may accept a flag and make the key its own way: say so, from
  // the flags just read.
  const std::vector<std::string> changed =
      hsm::FlagsChangedByToken(asked, flags, kind, flags_not_kept);
  if (!changed.empty()) {
    std::printf(
        "note: the token made the key %s, otherwise than asked (its own "
        "rule)\n",
        absl::StrJoin(changed, ", ").c_str());
  }
  return absl::OkStatus();
}

std::vector<OptionSpec> ProfileOptions(const char* format_help) {
  return {
      {"format", false, format_help},
      {"enc", false,
       "azure-release: CKM_RSA_AES_KEY_WRAP (default), "
       "RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384"},
      {"wrapping-algorithm", false,
       "aws: RSA_AES_KEY_WRAP_SHA_1|RSA_AES_KEY_WRAP_SHA_256|"
       "RSAES_OAEP_SHA_1|RSAES_OAEP_SHA_256; oci: "
       "RSA_OAEP_AES_SHA256 (default) or RSA_OAEP_SHA256"},
      {"import-method", false,
       "gcp: rsa-oaep-{3072,4096}-sha{1,256}-aes-256 or "
       "rsa-oaep-{3072,4096}-sha256"},
      {"hash-function", false,
       "vault: SHA256 (default), SHA1, SHA384 or SHA512"},
  };
}

absl::StatusOr<byok::Profile> ProfileFromArgs(const Args& args) {
  byok::MethodOptions methods{args.Get("enc"), args.Get("wrapping-algorithm"),
                              args.Get("import-method"),
                              args.Get("hash-function")};
  return byok::ResolveProfile(args.Get("format").value_or("azure"), methods);
}

}  // namespace keyferry::cli
