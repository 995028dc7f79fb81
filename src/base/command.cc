#include "base/command.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <iterator>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace keyferry {
namespace {

const OptionSpec* FindSpec(const std::vector<OptionSpec>& specs,
                           std::string_view name) {
  const OptionSpec* spec = nullptr;
  for (const auto& s : specs) {
    if (s.name == name) spec = &s;
  }
  return spec;
}

// FindCommand returns the command `words` start with, longest name first,
// and how many words its name has; nullptr when none.
const Command* FindCommand(const std::vector<Command>& commands,
                           const std::vector<std::string>& words,
                           size_t& used) {
  const Command* cmd = nullptr;
  used = 0;
  for (const auto& c : commands) {
    std::vector<std::string> parts = absl::StrSplit(c.name, ' ');
    if (parts.size() > words.size()) continue;
    if (std::equal(parts.begin(), parts.end(), words.begin()) &&
        parts.size() > used) {
      cmd = &c;
      used = parts.size();
    }
  }
  return cmd;
}

const Command* FindByName(const std::vector<Command>& commands,
                          std::string_view name) {
  for (const auto& c : commands) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

bool IsHelpWord(const std::string& w) { return w == "--help" || w == "-h"; }

// Fail prints the one-line error of `st` and returns its exit code.
int Fail(const Program& program, const Command& cmd, const absl::Status& st) {
  std::string msg(st.message());
  for (char& c : msg) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (program.errors_name_command) {
    std::fprintf(stderr, "%s %s: %s\n", program.name, cmd.name, msg.c_str());
  } else {
    std::fprintf(stderr, "%s: %s\n", program.name, msg.c_str());
  }
  return st.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

absl::StatusOr<Args> Args::Parse(const std::vector<std::string>& argv,
                                 const std::vector<OptionSpec>& specs) {
  Args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (!absl::StartsWith(word, "--") || word == "--") {
      out.positional_.push_back(word);
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    const OptionSpec* spec = FindSpec(specs, name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option --", name));
    }
    auto& slot = out.values_[name];
    if (spec->is_flag) {
      if (inline_value.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat("option --", name, " takes no value"));
      }
      slot.push_back("true");
      continue;
    }
    const absl::Status needs = absl::InvalidArgumentError(
        absl::StrCat("option --", name, " needs ", spec->needs));
    if (inline_value.has_value()) {
      slot.push_back(*inline_value);
    } else if (i + 1 >= argv.size() || absl::StartsWith(argv[i + 1], "--")) {
      return needs;
    } else {
      slot.push_back(argv[++i]);
      while (spec->repeated && i + 1 < argv.size() &&
             !absl::StartsWith(argv[i + 1], "--")) {
        slot.push_back(argv[++i]);
      }
    }
    if (spec->accepts != nullptr) {
      for (const std::string& v : slot) {
        if (!spec->accepts(v)) return needs;
      }
    }
  }
  return out;
}

absl::StatusOr<Args> Args::ParseKnown(const std::vector<std::string>& argv,
                                      const std::vector<OptionSpec>& specs) {
  Args out;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    const OptionSpec* spec =
        absl::StartsWith(word, "--")
            ? FindSpec(specs, std::string_view(word).substr(2))
            : nullptr;
    if (spec == nullptr) {
      out.rest_.push_back(word);
      continue;
    }
    auto& slot = out.values_[spec->name];
    if (spec->is_flag) {
      slot.push_back("true");
      continue;
    }
    if (i + 1 >= argv.size() ||
        (spec->accepts != nullptr && !spec->accepts(argv[i + 1]))) {
      return absl::InvalidArgumentError(
          absl::StrCat("--", spec->name, " needs ", spec->needs));
    }
    slot.push_back(argv[++i]);
  }
  return out;
}

bool Args::Has(std::string_view name) const {
  return values_.find(name) != values_.end();
}

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return {};
  return it->second;
}

absl::StatusOr<std::string> Args::Require(std::string_view name) const {
  auto v = Get(name);
  if (!v.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing --", std::string(name)));
  }
  return *v;
}

std::string FormatHelp(const std::vector<OptionSpec>& specs) {
  std::string out;
  for (const auto& s : specs) {
    std::string left = "  --" + s.name + (s.is_flag ? "" : " VALUE");
    if (left.size() < 28) left.resize(28, ' ');
    absl::StrAppend(&out, left, " ", s.help, "\n");
  }
  return out;
}

std::string FormatCommandList(const std::vector<Command>& commands) {
  std::string out;
  for (const auto& c : commands) {
    std::string left = absl::StrCat("  ", c.name);
    if (left.size() < 16) left.resize(16, ' ');
    absl::StrAppend(&out, left, " ", c.summary, "\n");
  }
  return out;
}

int RunProgram(const Program& program, const std::vector<std::string>& words) {
  const bool bare = words.empty();
  if (bare && program.default_command == nullptr) {
    std::fputs(program.usage.c_str(), stdout);
    return 2;
  }
  if (!bare && (IsHelpWord(words[0]) || words[0] == "help")) {
    std::fputs(program.usage.c_str(), stdout);
    return 0;
  }
  if (!bare && (words[0] == "--version" ||
                (program.version_word && words[0] == "version"))) {
    std::printf("%s %s\n", program.name, KEYFERRY_VERSION);
    return 0;
  }
  size_t used = 0;
  const Command* cmd = FindCommand(program.commands, words, used);
  if (cmd == nullptr && program.default_command != nullptr) {
    cmd = FindByName(program.commands, program.default_command);
  }
  if (cmd == nullptr) {
    std::fprintf(
        stderr, "%s: unknown command '%s' (see %s --help)\n", program.name,
        absl::StrJoin(
            words.begin(),
            words.begin() + std::min<std::ptrdiff_t>(2, std::ssize(words)), " ")
            .c_str(),
        program.name);
    return 2;
  }
  std::vector<std::string> rest(
      words.begin() + static_cast<std::ptrdiff_t>(used), words.end());
  if (program.command_help &&
      std::any_of(rest.begin(), rest.end(), IsHelpWord)) {
    std::printf("usage: %s %s [OPTIONS] %s\n%s\n\n%s", program.name, cmd->name,
                cmd->positional, cmd->summary,
                FormatHelp(cmd->options).c_str());
    return 0;
  }
  absl::StatusOr<Args> args = program.pass_through
                                  ? Args::ParseKnown(rest, cmd->options)
                                  : Args::Parse(rest, cmd->options);
  absl::Status st = args.ok() ? cmd->run(*args) : args.status();
  return st.ok() ? 0 : Fail(program, *cmd, st);
}

}  // namespace keyferry
