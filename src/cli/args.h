// Command-line arguments of one keyferry subcommand: declared options, then
// parsing that rejects anything undeclared.
#ifndef KEYFERRY_CLI_ARGS_H_
#define KEYFERRY_CLI_ARGS_H_

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace keyferry::cli {

// OptionSpec declares `--name` (with a value unless `is_flag`).
struct OptionSpec {
  std::string name;
  bool is_flag = false;
  std::string help;
  bool repeated = false;  // the value may follow as several words
};

class Args {
 public:
  // Parse reads `argv` against `specs`: `--name value`, `--name=value`,
  // flags, and positional words. InvalidArgument names the offending word.
  // A repeated option takes words up to the next `--`-prefixed one.
  static absl::StatusOr<Args> Parse(const std::vector<std::string>& argv,
                                    const std::vector<OptionSpec>& specs);

  bool Has(std::string_view name) const;
  std::optional<std::string> Get(std::string_view name) const;
  std::vector<std::string> GetAll(std::string_view name) const;
  // Require returns the value or InvalidArgument "missing --name".
  absl::StatusOr<std::string> Require(std::string_view name) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> positional_;
};

// FormatHelp lists the options of a subcommand, one per line.
std::string FormatHelp(const std::vector<OptionSpec>& specs);

}  // namespace keyferry::cli

#endif  // KEYFERRY_CLI_ARGS_H_
