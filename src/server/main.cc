// keyferryd: the self-hosted key vault. Wiring only: configuration, the
// data directory, custody, store, the keys API and the identity endpoint
// (docs/security-model.md, docs/api.md, docs/storage.md).
//
//   keyferryd [serve] [--config FILE] [--flag value …]   run the vault
//   keyferryd token --principal P [--resource R] [--lifetime S] [flags]
//                                                      mint an access token
//   keyferryd vault add NAME | vault list [flags]      vaults kept in the
//                                                      data directory
//   keyferryd init --shares N --threshold K --share-dir DIR
//                  [--passphrase-file F …] [flags]     seal the master key
//   keyferryd --help | --version
//
// The command line is the shared one of base/command.h (as keyferry's):
// "serve" (serve.h) is the default command, the others are
// tool_commands.h's; every word a command does not declare is a
// configuration flag (config.h).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/command.h"
#include "server/config.h"
#include "server/serve.h"
#include "server/tool_commands.h"

namespace keyferry::server {
namespace {

constexpr char kUsage[] =
    "usage: keyferryd [serve] [--config FILE] [--key value ...]\n"
    "       keyferryd token --principal NAME [--resource URL] "
    "[--lifetime SECONDS] [--key value ...]\n"
    "       keyferryd vault add NAME | vault list [--key value ...]\n"
    "       keyferryd init --shares N --threshold K --share-dir DIR\n"
    "                      [--passphrase-file FILE ...] [--key value ...]\n"
    "       keyferryd --help | --version\n";

absl::Status RunServe(const Args& args) { return Serve(args.rest()); }

Program KeyferrydProgram() {
  Program p;
  p.name = "keyferryd";
  p.commands = ToolCommands();
  p.commands.push_back({"serve", "run the vault", {}, "", RunServe});
  p.usage = absl::StrCat(kUsage, "\n", HelpText());
  p.default_command = "serve";
  p.command_help = false;  // `COMMAND --help` is a configuration flag
  p.pass_through = true;
  p.errors_name_command = false;
  return p;
}

}  // namespace
}  // namespace keyferry::server

int main(int argc, char** argv) {
  return keyferry::RunProgram(keyferry::server::KeyferrydProgram(),
                              std::vector<std::string>(argv + 1, argv + argc));
}
