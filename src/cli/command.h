// The keyferry command table: one entry per subcommand, as in BoringSSL's
// `bssl` tool. Each command returns OK or a Status whose message main()
// prints as one line on stderr.
#ifndef KEYFERRY_CLI_COMMAND_H_
#define KEYFERRY_CLI_COMMAND_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/args.h"

namespace keyferry::cli {

struct Command {
  const char* name;  // e.g. "key create"
  const char* summary;
  std::vector<OptionSpec> options;
  const char* positional;  // e.g. "FILE.byok", or "" for none
  absl::Status (*run)(const Args& args);
};

// Command groups, one file each.
std::vector<Command> TokenCommands();  // token.cc
std::vector<Command>
KeyCommands();  // key.cc: key create/list/flags, kek import
std::vector<Command> ExportCommands();   // export.cc
std::vector<Command> InspectCommands();  // inspect.cc: inspect, verify
std::vector<Command>
VaultCommands();  // vault.cc: vault status/unseal/seal, audit verify

// HsmOptions are the options every HSM-touching command accepts.
std::vector<OptionSpec> HsmOptions();

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_COMMAND_H_
