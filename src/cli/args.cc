#include "cli/args.h"

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace keyferry::cli {

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
    const OptionSpec* spec = nullptr;
    for (const auto& s : specs) {
      if (s.name == name) spec = &s;
    }
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
    if (inline_value.has_value()) {
      slot.push_back(*inline_value);
      continue;
    }
    if (i + 1 >= argv.size() || absl::StartsWith(argv[i + 1], "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("option --", name, " needs a value"));
    }
    slot.push_back(argv[++i]);
    while (spec->repeated && i + 1 < argv.size() &&
           !absl::StartsWith(argv[i + 1], "--")) {
      slot.push_back(argv[++i]);
    }
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

}  // namespace keyferry::cli
