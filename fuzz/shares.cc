// Fuzzes the unseal inputs of src/seal/shares.h: a key-share file
// (ParseShareFile, then OpenShareFile without a passphrase: scrypt is not
// run, passphrase shares stop at FailedPrecondition) and the seal
// description (ParseSealInfo), and CheckShareFileMatches between the two
// when the input holds both, separated by a NUL. What parses must encode
// back (EncodeSealInfo) and parse to the same.
#include "seal/shares.h"

#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  std::string_view in = fuzz::Text(data, size);
  size_t nul = in.find('\0');
  std::string_view first = in.substr(0, nul);
  std::string_view second =
      nul == std::string_view::npos ? first : in.substr(nul + 1);

  absl::StatusOr<seal::ShareFile> file = seal::ParseShareFile(first);
  if (file.ok()) {
    absl::StatusOr<seal::Share> share =
        seal::OpenShareFile(*file, std::nullopt);
    if (share.ok() && share->x != file->index) {
      fuzz::Mismatch("OpenShareFile returned another share index");
    }
  }
  absl::StatusOr<seal::SealInfo> info = seal::ParseSealInfo(second);
  if (info.ok()) {
    absl::StatusOr<std::string> text = seal::EncodeSealInfo(*info);
    fuzz::CheckOk(text.status(), "EncodeSealInfo of a parsed seal");
    absl::StatusOr<seal::SealInfo> back = seal::ParseSealInfo(*text);
    if (!back.ok() || back->vault_id != info->vault_id ||
        back->shares != info->shares || back->threshold != info->threshold ||
        back->check != info->check ||
        back->share_checks != info->share_checks) {
      fuzz::Mismatch("ParseSealInfo(EncodeSealInfo(x)) != x");
    }
    if (file.ok()) (void)seal::CheckShareFileMatches(*file, *info);
  }
  return 0;
}
