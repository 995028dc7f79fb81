// keyferry: the BYOK tool. Dispatches to the command table of command.h.
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/command.h"

namespace keyferry::cli {
namespace {

std::vector<Command> AllCommands() {
  std::vector<Command> all;
  for (auto group : {TokenCommands, KeyCommands, ExportCommands,
                     InspectCommands, VaultCommands}) {
    auto cmds = group();
    all.insert(all.end(), cmds.begin(), cmds.end());
  }
  return all;
}

void PrintUsage(const std::vector<Command>& cmds) {
  std::string out = absl::StrCat("keyferry ", KEYFERRY_VERSION,
                                 " - Bring Your Own Key for PKCS#11 HSMs\n\n"
                                 "usage: keyferry COMMAND [OPTIONS]\n\n");
  for (const auto& c : cmds) {
    std::string left = absl::StrCat("  ", c.name);
    if (left.size() < 16) left.resize(16, ' ');
    absl::StrAppend(&out, left, " ", c.summary, "\n");
  }
  absl::StrAppend(&out,
                  "\n'keyferry COMMAND --help' shows a command's options.\n");
  std::fputs(out.c_str(), stdout);
}

int Run(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  auto cmds = AllCommands();
  if (words.empty() || words[0] == "--help" || words[0] == "-h" ||
      words[0] == "help") {
    PrintUsage(cmds);
    return words.empty() ? 2 : 0;
  }
  if (words[0] == "--version" || words[0] == "version") {
    std::printf("keyferry %s\n", KEYFERRY_VERSION);
    return 0;
  }
  // Longest match: "key create" before "key".
  const Command* cmd = nullptr;
  size_t used = 0;
  for (const auto& c : cmds) {
    std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
    if (parts.size() > words.size()) continue;
    if (std::equal(parts.begin(), parts.end(), words.begin()) &&
        parts.size() > used) {
      cmd = &c;
      used = parts.size();
    }
  }
  if (cmd == nullptr) {
    std::fprintf(
        stderr, "keyferry: unknown command '%s' (see keyferry --help)\n",
        absl::StrJoin(words.begin(),
                      words.begin() + std::min<size_t>(2, words.size()), " ")
            .c_str());
    return 2;
  }
  std::vector<std::string> rest(words.begin() + used, words.end());
  for (const auto& w : rest) {
    if (w == "--help" || w == "-h") {
      std::printf("usage: keyferry %s [OPTIONS] %s\n%s\n\n%s", cmd->name,
                  cmd->positional, cmd->summary,
                  FormatHelp(cmd->options).c_str());
      return 0;
    }
  }
  auto args = Args::Parse(rest, cmd->options);
  absl::Status st = args.ok() ? cmd->run(*args) : args.status();
  if (!st.ok()) {
    std::string msg(st.message());
    for (char& c : msg) {
      if (c == '\n' || c == '\r') c = ' ';
    }
    std::fprintf(stderr, "keyferry %s: %s\n", cmd->name, msg.c_str());
    return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace
}  // namespace keyferry::cli

int main(int argc, char** argv) { return keyferry::cli::Run(argc, argv); }
