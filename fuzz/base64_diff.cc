// Differential: base/encoding.h Base64Decode / Base64UrlDecode against
// OpenSSL's EVP_DecodeBlock. OpenSSL's block decoder is laxer than ours (it
// trims whitespace, reads '=' anywhere as zero bits and ignores non-zero
// trailing bits), so the rules are:
//   1. whatever we accept, OpenSSL accepts (after padding, and after mapping
//      the URL alphabet to the standard one) and decodes to the same bytes,
//      and our encoder gives back the text we read (we accept only the
//      canonical form);
//   2. whatever OpenSSL accepts whose canonical encoding is the input itself
//      (no whitespace, padding only at the end, zero trailing bits), we
//      accept too, padded and unpadded.
// Any disagreement aborts.
#include <openssl/evp.h>

#include <optional>
#include <string>
#include <vector>

#include "base/encoding.h"
#include "fuzz_util.h"

namespace {

using keyferry::fuzz::Mismatch;

// OpenSslDecode decodes standard-alphabet `text` whose length is a multiple
// of 4 with EVP_DecodeBlock, dropping the bytes the '=' padding stands for.
std::optional<std::vector<uint8_t>> OpenSslDecode(const std::string& text) {
  if (text.size() % 4 != 0 || text.size() > 1 << 20) return std::nullopt;
  std::vector<uint8_t> out(text.size() / 4 * 3 + 1);
  int n = EVP_DecodeBlock(out.data(),
                          reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t pads = 0;
  for (size_t i = text.size(); i > 0 && text[i - 1] == '=' && pads < 2; --i) {
    ++pads;
  }
  if (static_cast<size_t>(n) < pads) return std::nullopt;
  out.resize(static_cast<size_t>(n) - pads);
  return out;
}

std::string Padded(std::string s) {
  while (s.size() % 4 != 0) s.push_back('=');
  return s;
}

std::string StripPadding(std::string s) {
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::string UrlToStd(std::string s) {
  for (char& c : s) {
    if (c == '-') c = '+';
    if (c == '_') c = '/';
  }
  return s;
}

void CheckStandard(const std::string& text) {
  absl::StatusOr<std::vector<uint8_t>> ours = keyferry::Base64Decode(text);
  if (ours.ok()) {
    std::optional<std::vector<uint8_t>> theirs = OpenSslDecode(Padded(text));
    if (!theirs || *theirs != *ours) {
      Mismatch("base64: we accept, OpenSSL refuses or differs");
    }
    if (keyferry::Base64Encode(*ours) != Padded(text)) {
      Mismatch("base64: accepted text is not the canonical encoding");
    }
  }
  std::optional<std::vector<uint8_t>> theirs = OpenSslDecode(text);
  if (theirs && keyferry::Base64Encode(*theirs) == text) {
    for (const std::string& form : {text, StripPadding(text)}) {
      absl::StatusOr<std::vector<uint8_t>> again = keyferry::Base64Decode(form);
      if (!again.ok() || *again != *theirs) {
        Mismatch("base64: OpenSSL accepts a canonical text that we refuse");
      }
    }
  }
}

void CheckUrl(const std::string& text) {
  absl::StatusOr<std::vector<uint8_t>> ours = keyferry::Base64UrlDecode(text);
  if (ours.ok()) {
    if (text.find_first_of("+/") != std::string::npos) {
      Mismatch("base64url: accepted a standard-alphabet character");
    }
    std::optional<std::vector<uint8_t>> theirs =
        OpenSslDecode(Padded(UrlToStd(text)));
    if (!theirs || *theirs != *ours) {
      Mismatch("base64url: we accept, OpenSSL refuses or differs");
    }
    if (keyferry::Base64UrlEncode(*ours) != StripPadding(text)) {
      Mismatch("base64url: accepted text is not the canonical encoding");
    }
  }
  if (text.find_first_of("+/") != std::string::npos) return;
  std::optional<std::vector<uint8_t>> theirs = OpenSslDecode(UrlToStd(text));
  if (theirs && keyferry::Base64UrlEncode(*theirs) == StripPadding(text) &&
      Padded(StripPadding(text)) == text) {
    absl::StatusOr<std::vector<uint8_t>> again =
        keyferry::Base64UrlDecode(StripPadding(text));
    absl::StatusOr<std::vector<uint8_t>> padded =
        keyferry::Base64UrlDecode(text);
    if (!again.ok() || *again != *theirs || !padded.ok() ||
        *padded != *theirs) {
      Mismatch("base64url: OpenSSL accepts a canonical text that we refuse");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(keyferry::fuzz::Text(data, size));
  CheckStandard(text);
  CheckUrl(text);
  return 0;
}
