// The keyferry command table: one keyferry::Command (base/command.h) per
// subcommand, as in BoringSSL's `bssl` tool, grouped one file per group;
// main.cc dispatches through keyferry::RunProgram. Each command returns OK
// or a Status whose message is printed as one line on stderr.
#ifndef KEYFERRY_CLI_COMMAND_H_
#define KEYFERRY_CLI_COMMAND_H_

#include <vector>

#include "base/command.h"

namespace keyferry::cli {

// Command groups, one file each.
std::vector<Command> TokenCommands();  // token.cc
std::vector<Command>
KeyCommands();  // key.cc: key create/list/flags, kek import
std::vector<Command> ExportCommands();   // export.cc
std::vector<Command> ImportCommands();   // import.cc: kek create, import
std::vector<Command> InspectCommands();  // inspect.cc: inspect, verify
std::vector<Command>
VaultCommands();  // vault.cc: vault status/unseal/seal, audit verify

// HsmOptions are the options every HSM-touching command accepts.
std::vector<OptionSpec> HsmOptions();

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_COMMAND_H_
