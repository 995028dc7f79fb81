// Share files and the seal metadata for a vault whose master key is split
// with Shamir secret sharing (docs/sealing.md).
//
// seal.json (in the data dir) records how the key was split, a key check
// value that tells a correct reconstruction from a wrong one, and one share
// check value per share that tells a genuine share from a bogus one on its
// own. Each share file (share-<x>.json, handed to one operator) holds one
// Share, in the clear or encrypted under a passphrase (scrypt + AES-256-GCM,
// header bound as AAD).
#ifndef KEYFERRY_SEAL_SHARES_H_
#define KEYFERRY_SEAL_SHARES_H_

#include <cstdint>
#include <optional>
#include <span>
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
  // share_checks[i] is ShareCheckValue(vault_id, share i + 1): `shares`
  // entries, or none for a seal written before keyferry recorded them.
  std::vector<std::vector<uint8_t>> share_checks = {};
};

// KeyCheckValue returns HMAC-SHA256(master, "keyferry seal check v1").
absl::StatusOr<std::vector<uint8_t>> KeyCheckValue(const SecretBytes& master);

// ShareCheckValue returns HMAC-SHA256(key = share.y, message =
// "keyferry share check v1|<vault_id>|<share.x>"): what seal.json records
// to recognise share x of this vault without any other share. InvalidArgument
// for an empty share.
absl::StatusOr<std::vector<uint8_t>> ShareCheckValue(std::string_view vault_id,
                                                     const Share& share);

// ShareCheckValues returns the share check values of all `info.shares`
// shares, given `threshold` shares of the split (any that reconstruct the
// key: every other share is interpolated from them).
absl::StatusOr<std::vector<std::vector<uint8_t>>> ShareCheckValues(
    const SealInfo& info, std::span<const Share> shares);

// EncodeSealInfo / ParseSealInfo convert seal.json:
// {"format":"keyferry-seal-v1","vault_id":…,"shares":N,"threshold":K,
//  "check":"<base64url>","share_checks":["<base64url>", … N]}; share_checks
// is left out when empty, and optional when parsed (older seals). Parse
// returns InvalidArgument naming the bad field.
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

// Unsealer collects the shares of one unseal attempt until `threshold` of
// them reconstruct the master key (checked against the key check value).
// Thread-compatible: the caller serializes access.
//
// An attempt starts with its first accepted share and gets a random nonce;
// every later submission, and a reset, must name that nonce (HashiCorp
// Vault's design). The nonce is not a secret (GET /sys/seal-status shows
// it): it keeps a share meant for one attempt out of another and refuses
// submissions and resets made without looking at the current state.
//
// A bad share never wipes the others. With share check values in seal.json
// a share that is not share x of this split is refused on submission and
// changes nothing. Without them (seals written before), a bogus share is
// accepted like any other; once `threshold` shares are in, the Unsealer
// tries the combinations of `threshold` shares that include the newest one,
// keeps every share when none reconstructs the key (reconstruction_failed()
// then says so), and succeeds as soon as enough correct shares are in. What
// it cannot undo there: a bogus share holds its index, so the genuine
// holder of that index is refused (AlreadyExists) until a reset.
class Unsealer {
 public:
  explicit Unsealer(SealInfo info);

  // CheckNonce returns OK when a submission or reset naming `nonce` is for
  // the attempt in progress: `nonce` equals nonce(), or both are empty (no
  // attempt yet: the submission starts one). InvalidArgument "an unseal
  // attempt is in progress …" for an empty `nonce` while one is; Aborted
  // "… does not name the unseal attempt in progress …" for any other.
  absl::Status CheckNonce(std::string_view nonce) const;

  // Submit adds `share` to the attempt `nonce` names (CheckNonce) and, once
  // `threshold` or more shares are in, looks for `threshold` of them that
  // reconstruct the master key: at most kMaxCombinations combinations, all
  // including `share`. Returns the master key when found (the attempt ends:
  // shares zeroized, nonce cleared; a seal without share check values gains
  // them, derived from the shares that reconstructed the key: see info()),
  // nullopt when more shares are needed.
  //
  // Errors change nothing: CheckNonce's; FailedPrecondition when the seal
  // information is not valid; InvalidArgument when the index is outside
  // 1..N, the length differs from earlier shares, or (with share check
  // values) "share X does not match this vault's seal"; AlreadyExists
  // "share X was already submitted" for a repeated index.
  absl::StatusOr<std::optional<SecretBytes>> Submit(Share share,
                                                    std::string_view nonce);

  // ResetAttempt discards the attempt `nonce` names (CheckNonce). `share`
  // must be one of this vault's shares: checked against its share check
  // value when seal.json has them (InvalidArgument "share X does not match
  // …" otherwise); without them only its index and length are checked, so
  // the nonce is all a reset then needs. Errors change nothing. With no
  // attempt in progress and an empty nonce this is a no-op.
  absl::Status ResetAttempt(std::string_view nonce, const Share& share);

  // kMaxCombinations bounds the work of one Submit.
  static constexpr int kMaxCombinations = 1000;

  // progress is the number of shares in the attempt.
  int progress() const { return static_cast<int>(shares_.size()); }
  int threshold() const { return info_.threshold; }
  // nonce names the attempt in progress; empty while progress() is 0.
  const std::string& nonce() const { return nonce_; }
  // reconstruction_failed tells that `threshold` or more shares are in but
  // no combination tried reconstructs the key: at least one share is wrong.
  bool reconstruction_failed() const { return reconstruction_failed_; }
  const SealInfo& info() const { return info_; }
  // Reset discards (and zeroizes) the attempt unconditionally (sealing).
  void Reset();

 private:
  // CheckShare validates `share` for this seal (index, length, share check).
  absl::Status CheckShare(const Share& share) const;
  // Reconstruct tries the combinations that include the newest share.
  absl::StatusOr<std::optional<SecretBytes>> Reconstruct();

  SealInfo info_;
  std::vector<Share> shares_;
  std::string nonce_;
  bool reconstruction_failed_ = false;
};

}  // namespace keyferry::seal

#endif  // KEYFERRY_SEAL_SHARES_H_
