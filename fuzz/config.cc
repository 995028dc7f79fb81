// Fuzzes keyferryd's configuration reading (src/server/config.h): the input
// up to the first NUL is a configuration file, read through LoadConfig's
// --config path (ParseConfigText, then Validate); what follows, split at
// NULs, is more command-line flags (ApplyFlag). Flags that name a file to
// read (--config) are left out, so the target reads only its own file.
#include "server/config.h"

#include <stdlib.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fuzz_util.h"

namespace {

const std::string& ConfigPath() {
  static const std::string* path = [] {
    char tmpl[] = "/tmp/kf_fuzz_config_XXXXXX";
    int fd = mkstemp(tmpl);
    keyferry::fuzz::Check(fd >= 0, "mkstemp");
    close(fd);
    static std::string kept(tmpl);
    atexit([] { unlink(kept.c_str()); });
    return &kept;
  }();
  return *path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  std::string_view in = fuzz::Text(data, size);
  size_t nul = in.find('\0');
  std::string_view file = in.substr(0, nul);

  server::Config direct;
  (void)server::ParseConfigText(file, direct);

  FILE* f = fopen(ConfigPath().c_str(), "wb");
  fuzz::Check(f != nullptr, "open the config file");
  fwrite(file.data(), 1, file.size(), f);
  fclose(f);
  std::vector<std::string> argv = {"--config", ConfigPath()};
  while (nul != std::string_view::npos) {
    size_t next = in.find('\0', nul + 1);
    std::string arg(in.substr(nul + 1, next == std::string_view::npos
                                           ? std::string_view::npos
                                           : next - nul - 1));
    if (arg.find("config") != std::string::npos) return 0;
    argv.push_back(std::move(arg));
    nul = next;
  }
  (void)server::LoadConfig(argv);
  return 0;
}
