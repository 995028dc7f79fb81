// Command lines of keyferry's programs (keyferry, keyferryd): a table of
// subcommands with declared options, as in BoringSSL's `bssl` tool, the
// parser of their arguments, and the dispatch both programs run from
// main(). Every command returns OK or a Status whose message is printed as
// one line on stderr.
#ifndef KEYFERRY_BASE_COMMAND_H_
#define KEYFERRY_BASE_COMMAND_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace keyferry {

// OptionSpec declares `--name` (with a value unless `is_flag`).
struct OptionSpec {
  std::string name;
  bool is_flag = false;
  std::string help;
  bool repeated = false;  // the value may follow as several words
  // needs names the value in "needs" errors ("--lifetime needs seconds").
  std::string needs = "a value";
  // accepts, when set, checks a value; a refused one is a "needs" error.
  bool (*accepts)(std::string_view value) = nullptr;
};

class Args {
 public:
  // Parse reads `argv` against `specs`: `--name value`, `--name=value`,
  // flags, and positional words. InvalidArgument names the offending word:
  // "unknown option --x", "option --x takes no value", "option --x needs
  // <needs>" (no value, or one `accepts` refuses). A repeated option takes
  // words up to the next `--`-prefixed one.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<OptionSpec>& specs);

  // ParseKnown takes the declared options out of `argv` and keeps every
  // other word, in order, in rest() for a second parser (keyferryd's
  // configuration flags). A declared `--name` (the exact word) takes the
  // next word, whatever it is (a flag takes none); no next word, or one
  // `accepts` refuses, is InvalidArgument "--name needs <needs>".
  static absl::StatusOr<Args> ParseKnown(const std::vector<std::string>& argv,
                                         const std::vector<OptionSpec>& specs);

  bool Has(std::string_view name) const;
  // Get returns the last value given for `name`, or nullopt.
  std::optional<std::string> Get(std::string_view name) const;
  std::vector<std::string> GetAll(std::string_view name) const;
  // Require returns the value or InvalidArgument "missing --name".
  absl::StatusOr<std::string> Require(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  // rest holds the words ParseKnown did not take (empty after Parse).
  const std::vector<std::string>& rest() const { return rest_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
  std::vector<std::string> rest_;
};

// FormatHelp lists the options of a subcommand, one per line.
std::string FormatHelp(const std::vector<OptionSpec>& specs);

struct Command {
  const char* name;  // one or more words, e.g. "key create"
  const char* summary;
  std::vector<OptionSpec> options;
  const char* positional;  // e.g. "FILE.byok", or "" for none
  absl::Status (*run)(const Args& args);
};

// FormatCommandList lists `commands`, one "  name  summary" line each.
std::string FormatCommandList(const std::vector<Command>& commands);

// Program describes one binary's command line for RunProgram.
struct Program {
  const char* name = "";  // "keyferry": errors and --version name it
  std::vector<Command> commands;
  std::string usage;  // printed on stdout for --help, -h and help
  // default_command names the command run with all the words when the
  // first ones name no command (keyferryd's "serve"). Without one, no
  // words print the usage (exit 2) and an unknown command is the error
  // "<name>: unknown command 'W1 W2' (see <name> --help)" (exit 2).
  const char* default_command = nullptr;
  bool version_word = false;  // "version" as --version
  // command_help: `COMMAND --help` (or -h) anywhere after the command
  // prints its usage line, summary and options (exit 0).
  bool command_help = true;
  // pass_through: commands parse with Args::ParseKnown, not Args::Parse.
  bool pass_through = false;
  // errors_name_command: a failure prints "<name> <command>: <message>"
  // rather than "<name>: <message>".
  bool errors_name_command = true;
};

// RunProgram runs the command `words` (argv without the program name)
// name, longest match first ("key create" before "key"), and returns the
// exit code: 0, or for a failure 2 when it is InvalidArgument (a usage
// error) and 1 otherwise, after printing its message as one line (line
// breaks become spaces) on stderr.
int RunProgram(const Program& program, const std::vector<std::string>& words);

}  // namespace keyferry

#endif  // KEYFERRY_BASE_COMMAND_H_
