// BlobHeader of custody.h: the header both custodies' blobs start with.
#include <string_view>
#include <vector>

#include "custody/custody.h"

namespace keyferry::custody {

std::vector<uint8_t> BlobHeader(std::string_view magic, const HeldKey& key) {
  std::vector<uint8_t> h(magic.begin(), magic.end());
  h.resize(4);  // magic is exactly 4 bytes; a shorter one is zero-padded
  h.push_back(static_cast<uint8_t>(key.kind));
  h.push_back(static_cast<uint8_t>(key.bits >> 8));
  h.push_back(static_cast<uint8_t>(key.bits));
  h.push_back(key.curve ? static_cast<uint8_t>(*key.curve) : 0xff);
  return h;
}

}  // namespace keyferry::custody
