// Fuzzes the .byok container reader byok/blob.h ParseBlob (and ParseKeyId,
// which it applies to "kid") plus the length analysis of `keyferry inspect`
// (byok/envelope.h Analyze). A blob accepted must serialize and parse back
// to the same fields.
#include "byok/blob.h"
#include "byok/envelope.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace keyferry;
  absl::StatusOr<byok::Blob> blob = byok::ParseBlob(fuzz::Text(data, size));
  if (!blob.ok()) return 0;
  absl::StatusOr<byok::Blob> back = byok::ParseBlob(byok::SerializeBlob(*blob));
  if (!back.ok() || back->kid != blob->kid ||
      back->ciphertext != blob->ciphertext ||
      back->generator != blob->generator ||
      back->schema_version != blob->schema_version) {
    fuzz::Mismatch("SerializeBlob(ParseBlob(x)) does not parse back the same");
  }
  fuzz::CheckOk(byok::ParseKeyId(blob->kid).status(),
                "ParseBlob accepted a kid ParseKeyId refuses");
  for (std::optional<size_t> n :
       {std::optional<size_t>(), std::optional<size_t>(256),
        std::optional<size_t>(384), std::optional<size_t>(512)}) {
    (void)byok::Analyze(blob->ciphertext.size(), n);
  }
  return 0;
}
