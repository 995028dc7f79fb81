// keyferryd's tool commands, run instead of the server on a deployment's
// data directory (docs/security-model.md):
//   token --principal P [--resource R] [--lifetime S] [--share F ...]
//         [--passphrase-file F ...] [flags]   print an access token
//   vault add NAME | vault list [flags]        vaults kept in the data dir
//   init --shares N --threshold K --share-dir DIR [--passphrase-file F ...]
//        [flags]                               seal the master key
//   ca [--ca-bundle FILE] [flags]              the CA clients trust
// Each parses its own options with Args::ParseKnown and hands every other
// word to LoadConfig (configuration flags). Each returns OK after printing
// its result on stdout, or the Status main() prints as one line
// (InvalidArgument for a usage error).
#ifndef KEYFERRY_SERVER_TOOL_COMMANDS_H_
#define KEYFERRY_SERVER_TOOL_COMMANDS_H_

#include <vector>

#include "base/command.h"

namespace keyferry::server {

// ToolCommands returns the table entries "token", "vault", "vault add",
// "vault list", "init" and "ca".
std::vector<Command> ToolCommands();

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_TOOL_COMMANDS_H_
