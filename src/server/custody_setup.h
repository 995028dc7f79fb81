// Which custody keyferryd runs on, from the configuration and the data
// directory (docs/security-model.md §§2-3, docs/sealing.md):
//   custody = pkcs11                 Pkcs11Custody on the configured token
//   <data-dir>/seal.json exists      software custody behind the seal: the
//                                    master key exists only in memory, after
//                                    K key shares were submitted
//   otherwise                        software custody with the master key in
//                                    <data-dir>/master.key (development
//                                    default; start-up says so)
// and `keyferryd init`, which splits the master key into shares.
#ifndef KEYFERRY_SERVER_CUSTODY_SETUP_H_
#define KEYFERRY_SERVER_CUSTODY_SETUP_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "custody/custody.h"
#include "custody/master_key.h"
#include "custody/sealed_custody.h"
#include "seal/shares.h"
#include "server/config.h"

namespace keyferry::server {

struct CustodySetup {
  std::unique_ptr<custody::Custody> custody;  // what the vault uses
  // Set when the software custody is sealed: `custody` is this object.
  custody::SealedCustody* sealed = nullptr;
  std::optional<seal::SealInfo> seal_info;
  std::string summary;  // one line for the start-up log
};

// OpenCustody builds the custody. `master_keys` (decided by the store:
// master_key.h) says whether a new master key (master.key, or the token's
// master keys) may, or must, be made. FailedPrecondition when both
// seal.json and master.key exist (an interrupted init or a restored copy:
// the operator must decide which one is right).
absl::StatusOr<CustodySetup> OpenCustody(const Config& config,
                                         custody::MasterKeyPolicy master_keys);

// OpenCustodyForTool opens the custody of an existing deployment for an
// offline tool (`keyferryd token`): never a new master key. A sealed
// deployment needs `share_files` (at least its threshold) and their
// passphrases (`passphrase_files`: none, one for every share, or one per
// share); the master key they rebuild must match seal.json.
absl::StatusOr<std::unique_ptr<custody::Custody>> OpenCustodyForTool(
    const Config& config, const std::vector<std::string>& share_files,
    const std::vector<std::string>& passphrase_files);

// ReadPin returns the PKCS#11 user PIN: from the URI's pin-source
// (file:/path or env:NAME), else `pin_file`, else $KEYFERRY_PKCS11_PIN.
// One trailing newline is dropped.
absl::StatusOr<SecretBytes> ReadPin(
    const std::optional<std::string>& pin_source, const std::string& pin_file);

struct InitOptions {
  int shares = 0;
  int threshold = 0;
  std::string share_dir;
  // Empty: shares unprotected; one file: that passphrase for every share;
  // N files: one per share, in order.
  std::vector<std::string> passphrase_files;
};

// Init splits the software custody's master key (the existing master.key,
// which is then overwritten and removed, or a new random key) into share
// files share-1.json … share-N.json in options.share_dir (mode 0600, never
// over an existing file) and writes seal.json. The master key itself is
// never written. Returns the share file paths.
absl::StatusOr<std::vector<std::string>> Init(const Config& config,
                                              const InitOptions& options);

}  // namespace keyferry::server

#endif  // KEYFERRY_SERVER_CUSTODY_SETUP_H_
