// The keyferry CLI parses its arguments with the shared command-line parser
// of base/command.h (keyferry::Args, keyferry::OptionSpec, FormatHelp);
// this header keeps the CLI's include of it.
#ifndef KEYFERRY_CLI_ARGS_H_
#define KEYFERRY_CLI_ARGS_H_

#include "base/command.h"

#endif  // KEYFERRY_CLI_ARGS_H_
