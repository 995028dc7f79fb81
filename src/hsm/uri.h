// PKCS#11 URIs (RFC 7512): which module, token and object to use.
#ifndef KEYFERRY_HSM_URI_H_
#define KEYFERRY_HSM_URI_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::hsm {

// Pkcs11Uri holds the attributes keyferry uses; absent ones are nullopt.
struct Pkcs11Uri {
  // Path attributes.
  std::optional<std::string> token;         // token label
  std::optional<std::string> manufacturer;  // token manufacturer
  std::optional<std::string> serial;        // token serial
  std::optional<std::string> model;         // token model
  std::optional<std::string> object;        // object label
  std::optional<std::vector<uint8_t>> id;   // CKA_ID bytes
  std::optional<std::string>
      type;  // public | private | secret-key | cert | data
  std::optional<uint64_t> slot_id;
  // Query attributes.
  std::optional<std::string> module_path;
  std::optional<std::string> module_name;
  std::optional<std::string> pin_source;  // e.g. "env:VAR" or "file:/path"
  // Vendor query attribute x-init-reserved (p11-kit's name): the module's
  // initialization string, LoadOptions::init_reserved (hsm/module.h).
  std::optional<std::string> init_reserved;
};

// ParsePkcs11Uri parses `uri`. Percent-escapes are decoded. `pin-value` is
// refused: a PIN in a URI ends up in argv, shell history and process lists.
// Unknown attributes are ignored as RFC 7512 §2.3 allows, except in the
// vendor-neutral path where a repeated attribute is an error.
absl::StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri);

// IsPkcs11Uri tells whether `s` starts with the "pkcs11:" scheme.
bool IsPkcs11Uri(std::string_view s);

}  // namespace keyferry::hsm

#endif  // KEYFERRY_HSM_URI_H_
