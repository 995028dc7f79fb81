// What key create, kek create and import share: the key declared on the
// command line, and what keyferry prints about a key it made in the token,
// so the three commands read and say it alike.
#ifndef KEYFERRY_CLI_KEY_COMMON_H_
#define KEYFERRY_CLI_KEY_COMMON_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "byok/profile.h"
#include "cli/args.h"
#include "cli/command.h"
#include "hsm/keys.h"
#include "hsm/session.h"

namespace keyferry::cli {

// SizeFromArgs reads --size: unset when absent, InvalidArgument "--size
// 'x' is not a number" otherwise.
absl::StatusOr<std::optional<int>> SizeFromArgs(const Args& args);

// KeySpecFromArgs reads --type, --size, --curve (hsm::ParseKeySpec),
// --label and every --flags (hsm::ParseFlags over the type's defaults).
// The first error, as those functions word it.
absl::StatusOr<hsm::KeySpec> KeySpecFromArgs(const Args& args);

// ProfileOptions are --format and the method options of `keyferry export`
// and `keyferry import` (byok/profile.h; docs/byok-format.md §5), with
// `format_help` for --format.
std::vector<OptionSpec> ProfileOptions(const char* format_help);

// ProfileFromArgs resolves --format (default azure) and its method option
// with byok::ResolveProfile; its errors are ResolveProfile's.
absl::StatusOr<byok::Profile> ProfileFromArgs(const Args& args);

// DescribeEntry names a key for people: "RSA-2048", "EC P-256", "AES-256".
std::string DescribeEntry(const hsm::KeyEntry& e);

// ReportNewKey prints "<verb> <type> key '<label>' id <hex>" and the flags
// the token reports for `h` (hsm::FormatFlags), warns on stderr about
// `flags_not_kept` (hsm::GeneratedKey), and notes the flags the token set
// otherwise than `asked`. An AES key whose CKA_VALUE_LEN the token left
// unset (SoftHSM 2.6.1 after C_UnwrapKey) is shown with `checked_aes_bits`,
// a size the caller checked otherwise. Fails only when the token cannot be
// read.
absl::Status ReportNewKey(hsm::Session& s, hsm::ObjectHandle h,
                          std::string_view verb, std::string_view label,
                          std::span<const uint8_t> id,
                          const hsm::KeyFlags& asked, hsm::KeyKind kind,
                          const std::vector<std::string>& flags_not_kept,
                          int checked_aes_bits = 0);

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_KEY_COMMON_H_
