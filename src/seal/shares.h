// Share files and the seal metadata for a vault whose master key is split
// with Shamir secret sharing (docs/sealing.md).
//
// seal.json (in the data dir) records how the key was split and a key check
// value that tells a correct reconstruction from a wrong one. Each share file
// (share-<x>.json, handed to one operator) holds one Share, in the clear or
// encrypted under a passphrase (scrypt + AES-256-GCM, header bound as AAD).
#ifndef KEYFERRY_SEAL_SHARES_H_
#define KEYFERRY_SEAL_SHARES_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/secret.h"
#include "seal/shamir.h"

namespace keyferry::seal {

inline constexpr char kSealFormat[] = "keyferry-seal-v1";
inline constexpr char kShareFormat[] = "keyferry-share-v1";
inline constexpr size_t kKeyCheckBytes = 32;

// SealInfo is the content of seal.json. Not secret.
struct SealInfo {
  std::string vault_id;
  int shares = 0;
  int threshold = 0;
  std::vector<uint8_t> check;  // KeyCheckValue(master key)
};

// KeyCheckValue returns HMAC-SHA256(master, "keyferry seal check v1").
absl::StatusOr<std::vector<uint8_t>> KeyCheckValue(const SecretBytes& master);

// EncodeSealInfo / ParseSealInfo convert seal.json:
// {"format":"keyferry-seal-v1","vault_id":…,"shares":N,"threshold":K,
//  "check":"<base64url>"}. Parse returns InvalidArgument naming the bad field.
absl::StatusOr<std::string> EncodeSealInfo(const SealInfo& info);
absl::StatusOr<SealInfo> ParseSealInfo(std::string_view json);
// WriteSealInfo writes seal.json atomically with mode 0600.
absl::Status WriteSealInfo(const std::string& path, const SealInfo& info);
// ReadSealInfo reads and parses seal.json (NotFound when it does not exist).
absl::StatusOr<SealInfo> ReadSealInfo(const std::string& path);

// scrypt cost for passphrase-protected shares. Files always record theirs;
// the default is what keyferryd writes (about 32 MiB of memory).
struct ScryptParams {
  uint64_t n = 32768;
  uint32_t r = 8;
  uint32_t p = 1;
};

enum class Protection { kNone, kPassphrase };

// ShareFile is a parsed share file. For kNone `share` holds the share bytes;
// for kPassphrase the kdf/salt/nonce/ciphertext/tag fields are set.
struct ShareFile {
  std::string vault_id;
  int index = 0;
  int threshold = 0;
  int shares = 0;
  Protection protection = Protection::kNone;
  SecretBytes share;
  ScryptParams kdf;
  std::vector<uint8_t> salt;        // 16 bytes
  std::vector<uint8_t> nonce;       // 12 bytes
  std::vector<uint8_t> ciphertext;  // same length as the share
  std::vector<uint8_t> tag;         // 16 bytes
};

// ShareAad returns "keyferry-share-v1|<vault_id>|<index>|<threshold>|<shares>",
// the AES-GCM additional data binding a protected share's header.
std::string ShareAad(std::string_view vault_id, int index, int threshold,
                     int shares);

// EncodeShareFile returns the JSON share file for `share` of the split
// described by `info`. With a passphrase the share is encrypted under
// scrypt(passphrase, random salt; `kdf`) with AES-256-GCM; without one it is
// written in the clear ("protection":"none"). The result holds secret
// material either way: write it with mode 0600.
absl::StatusOr<std::string> EncodeShareFile(
    const Share& share, const SealInfo& info,
    const std::optional<SecretBytes>& passphrase,
    const ScryptParams& kdf = ScryptParams());

// ParseShareFile checks the structure of a share file (format, header
// ranges, field sizes, bounded scrypt cost). InvalidArgument naming the bad
// field. Does not need the passphrase.
absl::StatusOr<ShareFile> ParseShareFile(std::string_view json);

// OpenShareFile returns the Share. FailedPrecondition "share N is protected
// by a passphrase" when one is needed and not given; InvalidArgument "wrong
// passphrase or damaged share file" when decryption fails. A passphrase given
// for an unprotected share is ignored.
absl::StatusOr<Share> OpenShareFile(
    const ShareFile& file, const std::optional<SecretBytes>& passphrase);

// CheckShareFileMatches returns InvalidArgument when `file` belongs to
// another vault or another split than `info` describes.
absl::Status CheckShareFileMatches(const ShareFile& file, const SealInfo& info);

// Unsealer collects shares until `threshold` distinct ones are in, then
// reconstructs the master key and checks it against the seal's key check
// value. Thread-compatible: the caller serializes access.
class Unsealer {
 public:
  explicit Unsealer(SealInfo info);

  // Submit adds one share and returns true once `threshold` distinct shares
  // have been submitted. InvalidArgument when the index is outside 1..N or
  // the length differs from earlier shares; AlreadyExists "share X was
  // already submitted" for a repeated index; FailedPrecondition when enough
  // shares are already in (call Finish).
  absl::StatusOr<bool> Submit(Share share);

  // Finish combines the shares and verifies the key check value (constant
  // time). The collected shares are cleared in every case but a
  // FailedPrecondition for too few shares. On mismatch: InvalidArgument "the
  // submitted shares do not reconstruct this vault's master key; start
  // again".
  absl::StatusOr<SecretBytes> Finish();

  // progress is the number of shares submitted so far.
  int progress() const { return static_cast<int>(shares_.size()); }
  int threshold() const { return info_.threshold; }
  const SealInfo& info() const { return info_; }
  // Reset discards (and zeroizes) the submitted shares.
  void Reset();

 private:
  SealInfo info_;
  std::vector<Share> shares_;
};

}  // namespace keyferry::seal

#endif  // KEYFERRY_SEAL_SHARES_H_
