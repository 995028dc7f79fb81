#include "base/encoding.h"

#include <array>

#include "absl/status/status.h"

namespace keyferry {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr char kStd[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrl[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Encode64(std::span<const uint8_t> data, const char* alphabet,
                     bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = data[i] << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (data[i] << 16) | (data[i + 1] << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Decode64(std::string_view text,
                                              const char* alphabet,
                                              const char* name) {
  std::array<int8_t, 256> rev;
  rev.fill(-1);
  for (int i = 0; i < 64; ++i)
    rev[static_cast<uint8_t>(alphabet[i])] = static_cast<int8_t>(i);
  size_t len = text.size();
  size_t pads = 0;
  while (len > 0 && text[len - 1] == '=' && pads < 2) {
    --len;
    ++pads;
  }
  if (pads > 0 && text.size() % 4 != 0) {
    return absl::InvalidArgumentError(std::string(name) +
                                      ": padding does not complete a quantum");
  }
  if (len % 4 == 1) {
    return absl::InvalidArgumentError(std::string(name) +
                                      ": truncated (length mod 4 is 1)");
  }
  std::vector<uint8_t> out;
  out.reserve(len / 4 * 3 + 2);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    int8_t v = rev[static_cast<uint8_t>(text[i])];
    if (v < 0) {
      return absl::InvalidArgumentError(std::string(name) +
                                        ": invalid character at offset " +
                                        std::to_string(i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xff));
    }
  }
  // Unused low bits of the last character must be zero (canonical form).
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) {
    return absl::InvalidArgumentError(std::string(name) +
                                      ": non-canonical trailing bits");
  }
  return out;
}

}  // namespace

std::string HexEncode(std::span<const uint8_t> data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> HexDecode(std::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError("hex: odd number of digits");
  }
  std::vector<uint8_t> out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError("hex: invalid digit at offset " +
                                        std::to_string(2 * i));
    }
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

absl::StatusOr<SecretBytes> HexDecodeSecret(std::string_view hex) {
  auto decoded = HexDecode(hex);
  if (!decoded.ok()) return decoded.status();
  SecretBytes out(*decoded);
  Zeroize(decoded->data(), decoded->size());
  return out;
}

std::string Base64UrlEncode(std::span<const uint8_t> data) {
  return Encode64(data, kUrl, /*pad=*/false);
}

absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(std::string_view text) {
  return Decode64(text, kUrl, "base64url");
}

std::string Base64Encode(std::span<const uint8_t> data) {
  return Encode64(data, kStd, /*pad=*/true);
}

absl::StatusOr<std::vector<uint8_t>> Base64Decode(std::string_view text) {
  return Decode64(text, kStd, "base64");
}

LengthPrefixed& LengthPrefixed::Add(std::span<const uint8_t> field) {
  const uint32_t n = static_cast<uint32_t>(field.size());
  for (int shift : {24, 16, 8, 0})
    out_.push_back(static_cast<uint8_t>(n >> shift));
  out_.insert(out_.end(), field.begin(), field.end());
  return *this;
}

}  // namespace keyferry
