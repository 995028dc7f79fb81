#include "auth/signing_key.h"

#include <sys/stat.h>
#include <unistd.h>

#include "base/encoding.h"
#include "base/file.h"
#include "base/testing.h"
#include "crypto/keys.h"

namespace keyferry::auth {
namespace {

std::string TempDir() {
  char t[] = "/tmp/kf_signing.XXXXXX";
  return mkdtemp(t);
}

TEST(SigningKeyTest, CreateThenReload) {
  std::string path = TempDir() + "/token-signing.pem";
  ASSERT_OK_AND_ASSIGN(SigningKey a, LoadOrCreateSigningKey(path));
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_OK_AND_ASSIGN(SigningKey b, LoadOrCreateSigningKey(path));
  EXPECT_TRUE(crypto::PublicKeysEqual(a.key.get(), b.key.get()));
  EXPECT_EQ(a.key_id, b.key_id);
  EXPECT_EQ(a.key_id.size(), 16u);
}

TEST(SigningKeyTest, FailureModeAndContent) {
  std::string dir = TempDir();
  std::string path = dir + "/k.pem";
  ASSERT_OK(LoadOrCreateSigningKey(path).status());
  chmod(path.c_str(), 0640);
  EXPECT_THAT(LoadOrCreateSigningKey(path), StatusHasMessage("must be 0600"));
  ASSERT_OK(WriteFileAtomic(dir + "/junk.pem", AsBytes("junk"), 0600));
  EXPECT_THAT(LoadOrCreateSigningKey(dir + "/junk.pem"),
              StatusIs(absl::StatusCode::kDataLoss));
}

}  // namespace
}  // namespace keyferry::auth
