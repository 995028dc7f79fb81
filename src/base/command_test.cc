#include "base/command.h"

#include "absl/strings/numbers.h"
#include "base/testing.h"

namespace keyferry {
namespace {

using ::testing::ElementsAre;
using ::testing::internal::CaptureStderr;
using ::testing::internal::CaptureStdout;
using ::testing::internal::GetCapturedStderr;
using ::testing::internal::GetCapturedStdout;

bool IsNumber(std::string_view v) {
  int n = 0;
  return absl::SimpleAtoi(absl::string_view(v.data(), v.size()), &n);
}

std::vector<OptionSpec> Specs() {
  std::vector<OptionSpec> s;
  s.push_back({"label", false, "a label"});
  s.push_back({"force", true, "do it"});
  s.push_back({"share", false, "share files", /*repeated=*/true, "a file"});
  s.push_back({"count", false, "how many", false, "a number", IsNumber});
  return s;
}

TEST(ArgsTest, ParseValuesFlagsAndPositional) {
  ASSERT_OK_AND_ASSIGN(
      Args a, Args::Parse({"in.byok", "--label", "k1", "--force", "--label=k2",
                           "--share", "a", "b", "--count", "3", "--", "x"},
                          Specs()));
  EXPECT_EQ(a.Get("label"), "k2");  // the last one
  EXPECT_THAT(a.GetAll("label"), ElementsAre("k1", "k2"));
  EXPECT_TRUE(a.Has("force"));
  EXPECT_THAT(a.GetAll("share"), ElementsAre("a", "b"));
  EXPECT_EQ(a.Get("count"), "3");
  EXPECT_THAT(a.positional(), ElementsAre("in.byok", "--", "x"));
  EXPECT_TRUE(a.rest().empty());
  EXPECT_FALSE(a.Get("missing").has_value());
  EXPECT_THAT(a.Require("missing"), StatusHasMessage("missing --missing"));
}

TEST(ArgsTest, FailureParseNamesTheWord) {
  EXPECT_THAT(Args::Parse({"--nope"}, Specs()),
              StatusHasMessage("unknown option --nope"));
  EXPECT_THAT(Args::Parse({"--force=yes"}, Specs()),
              StatusHasMessage("option --force takes no value"));
  EXPECT_THAT(Args::Parse({"--label"}, Specs()),
              StatusHasMessage("option --label needs a value"));
  EXPECT_THAT(Args::Parse({"--label", "--force"}, Specs()),
              StatusHasMessage("option --label needs a value"));
  EXPECT_THAT(Args::Parse({"--count", "many"}, Specs()),
              StatusHasMessage("option --count needs a number"));
  EXPECT_THAT(Args::Parse({"--count"}, Specs()),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ParseKnown leaves every undeclared word, in order, for a second parser.
TEST(ArgsTest, ParseKnownKeepsTheRest) {
  ASSERT_OK_AND_ASSIGN(
      Args a,
      Args::ParseKnown({"--data-dir", "/d", "--label", "--odd", "--share", "f1",
                        "pos", "--share", "f2", "--label=x", "--force"},
                       Specs()));
  EXPECT_EQ(a.Get("label"), "--odd");  // the next word, whatever it is
  EXPECT_THAT(a.GetAll("share"), ElementsAre("f1", "f2"));
  EXPECT_TRUE(a.Has("force"));
  EXPECT_THAT(a.rest(), ElementsAre("--data-dir", "/d", "pos", "--label=x"));
  EXPECT_TRUE(a.positional().empty());
}

TEST(ArgsTest, FailureParseKnownNeeds) {
  EXPECT_THAT(Args::ParseKnown({"--label"}, Specs()),
              StatusHasMessage("--label needs a value"));
  EXPECT_THAT(Args::ParseKnown({"--share"}, Specs()),
              StatusHasMessage("--share needs a file"));
  absl::StatusOr<Args> a = Args::ParseKnown({"--count", "x"}, Specs());
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "--count needs a number");
  EXPECT_EQ(a.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ArgsTest, FormatHelpAlignsOptions) {
  std::vector<OptionSpec> s;
  s.push_back({"label", false, "a label"});
  s.push_back({"force", true, "do it"});
  EXPECT_EQ(FormatHelp(s),
            "  --label VALUE              a label\n"
            "  --force                    do it\n");
}

// What the commands of the test program saw.
std::vector<std::string>* seen = nullptr;

absl::Status RunKeyCreate(const Args& a) {
  seen->push_back("key create " + a.Get("label").value_or(""));
  return absl::OkStatus();
}
absl::Status RunKey(const Args&) {
  seen->push_back("key");
  return absl::OkStatus();
}
absl::Status RunBad(const Args&) {
  return absl::InvalidArgumentError("bad\nthing");
}
absl::Status RunBroken(const Args&) { return absl::UnavailableError("down"); }
absl::Status RunServe(const Args& a) {
  seen->push_back("serve " + std::to_string(a.rest().size()));
  return absl::OkStatus();
}

class RunProgramTest : public ::testing::Test {
 protected:
  void SetUp() override { seen = &calls_; }
  void TearDown() override { seen = nullptr; }

  static Program Tool() {
    Program p;
    p.name = "tool";
    p.commands = {{"key create", "make a key", Specs(), "", RunKeyCreate},
                  {"key", "key things", {}, "", RunKey},
                  {"bad", "fails", {}, "FILE", RunBad},
                  {"broken", "fails", {}, "", RunBroken}};
    p.usage = "usage: tool COMMAND\n";
    p.version_word = true;
    return p;
  }

  // Run runs `words` and keeps the exit code and the output.
  int Run(const Program& p, const std::vector<std::string>& words) {
    CaptureStdout();
    CaptureStderr();
    int rc = RunProgram(p, words);
    out_ = GetCapturedStdout();
    err_ = GetCapturedStderr();
    return rc;
  }

  std::vector<std::string> calls_;
  std::string out_, err_;
};

TEST_F(RunProgramTest, LongestNameWins) {
  EXPECT_EQ(Run(Tool(), {"key", "create", "--label", "k"}), 0);
  EXPECT_EQ(Run(Tool(), {"key"}), 0);
  EXPECT_THAT(calls_, ElementsAre("key create k", "key"));
}

TEST_F(RunProgramTest, UsageHelpAndVersion) {
  EXPECT_EQ(Run(Tool(), {}), 2);
  EXPECT_EQ(out_, "usage: tool COMMAND\n");
  for (const char* w : {"--help", "-h", "help"}) {
    EXPECT_EQ(Run(Tool(), {w}), 0);
    EXPECT_EQ(out_, "usage: tool COMMAND\n");
  }
  EXPECT_EQ(Run(Tool(), {"version"}), 0);
  EXPECT_EQ(out_, std::string("tool ") + KEYFERRY_VERSION + "\n");
  EXPECT_EQ(Run(Tool(), {"bad", "x", "--help"}), 0);
  EXPECT_EQ(out_, "usage: tool bad [OPTIONS] FILE\nfails\n\n");
  EXPECT_TRUE(calls_.empty());
}

TEST_F(RunProgramTest, FailuresAreOneLineWithExitCodes) {
  EXPECT_EQ(Run(Tool(), {"nope", "more", "words"}), 2);
  EXPECT_EQ(err_, "tool: unknown command 'nope more' (see tool --help)\n");
  EXPECT_EQ(Run(Tool(), {"bad"}), 2);
  EXPECT_EQ(err_, "tool bad: bad thing\n");
  EXPECT_EQ(Run(Tool(), {"broken"}), 1);
  EXPECT_EQ(err_, "tool broken: down\n");
  EXPECT_EQ(Run(Tool(), {"key", "create", "--nope"}), 2);
  EXPECT_EQ(err_, "tool key create: unknown option --nope\n");
}

// keyferryd's shape: a default command, pass-through parsing, errors
// naming the program only, no per-command help.
TEST_F(RunProgramTest, DefaultCommandAndPassThrough) {
  Program p = Tool();
  p.commands.push_back({"serve", "run", {}, "", RunServe});
  p.default_command = "serve";
  p.version_word = false;
  p.command_help = false;
  p.pass_through = true;
  p.errors_name_command = false;
  EXPECT_EQ(Run(p, {}), 0);
  EXPECT_EQ(Run(p, {"--port", "1"}), 0);
  EXPECT_EQ(Run(p, {"version"}), 0);
  EXPECT_EQ(Run(p, {"serve", "--help"}), 0);
  EXPECT_THAT(calls_, ElementsAre("serve 0", "serve 2", "serve 1", "serve 1"));
  EXPECT_EQ(Run(p, {"key", "create", "--label"}), 2);
  EXPECT_EQ(err_, "tool: --label needs a value\n");
  EXPECT_EQ(Run(p, {"--version"}), 0);
  EXPECT_EQ(out_, std::string("tool ") + KEYFERRY_VERSION + "\n");
}

}  // namespace
}  // namespace keyferry
