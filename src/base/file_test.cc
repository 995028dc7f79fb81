#include "base/file.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/testing.h"

namespace keyferry {
namespace {

std::string TempDir() {
  char tmpl[] = "/tmp/kf_file_test.XXXXXX";
  return mkdtemp(tmpl);
}

int CountEntries(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") ++n;
  }
  closedir(d);
  return n;
}

TEST(FileTest, AtomicWriteThenRead) {
  std::string dir = TempDir();
  std::string path = dir + "/a.txt";
  ASSERT_OK(WriteFileAtomic(path, AsBytes("hello"), 0600));
  ASSERT_OK_AND_ASSIGN(auto text, ReadFile(path));
  EXPECT_EQ(text, "hello");
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK(WriteFileAtomic(path, AsBytes("bye"), 0600));
  ASSERT_OK_AND_ASSIGN(text, ReadFile(path));
  EXPECT_EQ(text, "bye");
  EXPECT_EQ(CountEntries(dir), 1);
}

TEST(FileTest, FailureMissingDirLeavesNothing) {
  std::string dir = TempDir();
  EXPECT_FALSE(WriteFileAtomic(dir + "/no/such/x", AsBytes("x")).ok());
  EXPECT_EQ(CountEntries(dir), 0);
}

TEST(FileTest, ReadSecretFile) {
  std::string dir = TempDir();
  ASSERT_OK(WriteFileAtomic(dir + "/pin", AsBytes("1234\n"), 0600));
  ASSERT_OK_AND_ASSIGN(SecretBytes pin, ReadSecretFile(dir + "/pin"));
  EXPECT_TRUE(pin.ConstantTimeEquals(SecretBytes(AsBytes("1234\n"))));
  EXPECT_THAT(ReadSecretFile(dir + "/pin", 3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ReadSecretFile(dir + "/none"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(FileTest, FailureNotFound) {
  EXPECT_THAT(ReadFile("/nonexistent/file"),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(FileTest, FailureTooLarge) {
  std::string dir = TempDir();
  ASSERT_OK(WriteFileAtomic(dir + "/big", AsBytes("0123456789")));
  EXPECT_THAT(ReadFile(dir + "/big", 5),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace keyferry
