#include "hsm/uri.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/strings.h"

namespace keyferry::hsm {
namespace {

absl::StatusOr<std::string> PercentDecode(absl::string_view in,
                                          absl::string_view attr) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("pkcs11 URI: bad percent-escape in '", attr, "'"));
    }
    out.push_back(static_cast<char>(
        std::strtol(std::string(in.substr(i + 1, 2)).c_str(), nullptr, 16)));
    i += 2;
  }
  return out;
}

absl::Status SetOnce(std::optional<std::string>& slot, std::string value,
                     absl::string_view attr) {
  if (slot.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pkcs11 URI: attribute '", attr, "' given twice"));
  }
  slot = std::move(value);
  return absl::OkStatus();
}

}  // namespace

bool IsPkcs11Uri(std::string_view s) {
  return absl::StartsWithIgnoreCase(Sv(s), "pkcs11:");
}

absl::StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri_in) {
  absl::string_view uri = Sv(uri_in);
  if (!IsPkcs11Uri(uri_in)) {
    return absl::InvalidArgumentError("pkcs11 URI must start with 'pkcs11:'");
  }
  absl::string_view rest = uri.substr(7);
  absl::string_view path = rest, query;
  if (size_t q = rest.find('?'); q != absl::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }
  Pkcs11Uri out;
  for (absl::string_view part : absl::StrSplit(path, ';', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("pkcs11 URI: path attribute without '=': '", part, "'"));
    }
    absl::string_view name = part.substr(0, eq);
    auto value = PercentDecode(part.substr(eq + 1), name);
    if (!value.ok()) return value.status();
    absl::Status st;
    if (name == "token") {
      st = SetOnce(out.token, *value, name);
    } else if (name == "manufacturer") {
      st = SetOnce(out.manufacturer, *value, name);
    } else if (name == "serial") {
      st = SetOnce(out.serial, *value, name);
    } else if (name == "model") {
      st = SetOnce(out.model, *value, name);
    } else if (name == "object") {
      st = SetOnce(out.object, *value, name);
    } else if (name == "type") {
      if (*value != "public" && *value != "private" && *value != "secret-key" &&
          *value != "cert" && *value != "data") {
        return absl::InvalidArgumentError(
            "pkcs11 URI: type must be public, private, secret-key, cert or "
            "data");
      }
      st = SetOnce(out.type, *value, name);
    } else if (name == "id") {
      if (out.id.has_value()) {
        return absl::InvalidArgumentError(
            "pkcs11 URI: attribute 'id' given twice");
      }
      out.id = std::vector<uint8_t>(value->begin(), value->end());
    } else if (name == "slot-id") {
      uint64_t slot;
      if (!absl::SimpleAtoi(*value, &slot)) {
        return absl::InvalidArgumentError(
            "pkcs11 URI: slot-id is not a number");
      }
      out.slot_id = slot;
    }
    if (!st.ok()) return st;
  }
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    size_t eq = part.find('=');
    absl::string_view name = part.substr(0, eq);
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "pkcs11 URI: query attribute without '=': '", name, "'"));
    }
    auto value = PercentDecode(part.substr(eq + 1), name);
    if (!value.ok()) return value.status();
    absl::Status st;
    if (name == "pin-value") {
      return absl::InvalidArgumentError(
          "pkcs11 URI: pin-value is refused (a PIN on the command line leaks "
          "into process lists); use pin-source=env:VAR or --pin-env");
    } else if (name == "module-path") {
      st = SetOnce(out.module_path, *value, name);
    } else if (name == "module-name") {
      st = SetOnce(out.module_name, *value, name);
    } else if (name == "pin-source") {
      st = SetOnce(out.pin_source, *value, name);
    } else if (name == "x-init-reserved") {
      if (value->find('\0') != std::string::npos) {
        return absl::InvalidArgumentError(
            "pkcs11 URI: x-init-reserved holds a NUL byte");
      }
      st = SetOnce(out.init_reserved, *value, name);
    }
    if (!st.ok()) return st;
  }
  return out;
}

}  // namespace keyferry::hsm
