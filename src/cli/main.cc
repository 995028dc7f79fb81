// keyferry: the BYOK tool. Dispatches to the command table of command.h
// through the shared command line of base/command.h.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/command.h"

namespace keyferry::cli {
namespace {

Program KeyferryProgram() {
  Program p;
  p.name = "keyferry";
  for (auto group : {TokenCommands, KeyCommands, ExportCommands, ImportCommands,
                     InspectCommands, VaultCommands}) {
    auto cmds = group();
    p.commands.insert(p.commands.end(), cmds.begin(), cmds.end());
  }
  p.usage =
      absl::StrCat("keyferry ", KEYFERRY_VERSION,
                   " - Bring Your Own Key for PKCS#11 HSMs\n\n"
                   "usage: keyferry COMMAND [OPTIONS]\n\n",
                   FormatCommandList(p.commands),
                   "\n'keyferry COMMAND --help' shows a command's options.\n");
  p.version_word = true;
  return p;
}

}  // namespace
}  // namespace keyferry::cli

int main(int argc, char** argv) {
  return keyferry::RunProgram(keyferry::cli::KeyferryProgram(),
                              std::vector<std::string>(argv + 1, argv + argc));
}
