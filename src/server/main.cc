// keyferryd: the self-hosted key vault. Wiring only: configuration, the
// data directory, custody, store, the keys API and the identity endpoint
// (docs/security-model.md, docs/api.md, docs/storage.md).
//
//   keyferryd [serve] [--config FILE] [--flag value …]   run the vault
//   keyferryd token --principal P [--resource R] [--lifetime S] [flags]
//                                                      mint an access token
//   keyferryd vault add NAME | vault list [flags]      vaults added to the
//                                                      deployment (store)
//   keyferryd init --shares N --threshold K --share-dir DIR
//                  [--passphrase-file F …] [flags]     seal the master key
//   keyferryd ca [--ca-bundle FILE] [flags]           the CA clients trust
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
    "       keyferryd ca [--ca-bundle FILE] [--key value ...]\n"
    "       keyferryd --help | --version\n"
    "\n"
    "Several nodes (README \"Several nodes on PostgreSQL\", deploy/): give\n"
    "every node store = postgres on one database, the same domain,\n"
    "public-port (the load balancer's), certificate (tls-cert, tls-key:\n"
    "*.<domain> and <domain>, the load balancer's name) and master key\n"
    "(master.key copied, the same key shares, or the same PKCS#11 token),\n"
    "and its own data-dir and audit log; put HAProxy in front (TLS\n"
    "passthrough, health checks on /healthz). The nodes share the keys,\n"
    "token key, tenant id, identity secret and added vaults through the\n"
    "database; a node with another master key refuses to start.\n";

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
