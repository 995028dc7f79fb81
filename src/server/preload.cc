#include "server/preload.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/json.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/strings.h"
#include "byok/blob.h"
#include "crypto/keys.h"
#include "crypto/mac.h"
#include "http/azure.h"
#include "http/keys_request.h"
#include "vault/model.h"

namespace keyferry::server {
namespace {

using json = nlohmann::json;

constexpr char kPrincipal[] = "preload";
// The members an entry may have (docs/preload.md §1).
constexpr std::string_view kEntryMembers[] = {"vault", "name", "import",
                                              "create_kek", "byok_file"};

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Sv(s)); }

// Where names the entry in messages: "entry 3 (myvault/aes)".
std::string Where(int index, std::string_view vault, std::string_view name) {
  if (vault.empty() && name.empty()) return absl::StrCat("entry ", index);
  return absl::StrCat("entry ", index, " (", Sv(vault), "/", Sv(name), ")");
}

absl::Status EntryError(int index, std::string_view vault,
                        std::string_view name, const absl::Status& why) {
  return absl::Status(
      why.code(), absl::StrCat(Where(index, vault, name), ": ", why.message()));
}

// Under resolves `path` against `base_dir` unless it is absolute.
std::string Under(const std::string& base_dir, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  return (std::filesystem::path(base_dir) / path).string();
}

// WithByokFile puts the .byok file's bytes in import.key.key_hsm.
absl::Status WithByokFile(json& import, const std::string& file) {
  if (!import.contains("key") || !import["key"].is_object()) {
    return absl::InvalidArgumentError(
        "byok_file needs import.key with the kty the blob holds");
  }
  json& key = import["key"];
  if (key.contains("key_hsm") && !key["key_hsm"].is_null()) {
    return absl::InvalidArgumentError(
        "byok_file and import.key.key_hsm cannot both be given");
  }
  absl::StatusOr<std::string> blob = ReadFile(file, size_t{64} * 1024);
  if (!blob.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "byok_file ", file, " cannot be read: ", blob.status().message()));
  }
  key["key_hsm"] = Base64UrlEncode(AsBytes(*blob));
  return absl::OkStatus();
}

// ByokHost is the vault host to check a BYOK blob's kid against: its own
// host:port when its host is this vault's (the port is not compared:
// docs/preload.md §1), else the vault's.
absl::StatusOr<std::string> ByokHost(const vault::ImportKeyRequest& r,
                                     const std::string& vault_host) {
  std::string text(r.key_hsm->begin(), r.key_hsm->end());
  absl::StatusOr<byok::Blob> blob = byok::ParseBlob(text);
  if (!blob.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "byok_file is not a valid BYOK blob: ", blob.status().message()));
  }
  ASSIGN_OR_RETURN(byok::KeyId kid, byok::ParseKeyId(blob->kid));
  const std::string host = Lower(kid.host);
  const size_t colon = host.rfind(':');
  const std::string bare =
      colon == std::string::npos ? host : host.substr(0, colon);
  return bare == vault_host ? kid.host : vault_host;
}

// ParseKek reads a create_kek member.
absl::Status ParseKek(const json& kek, const std::string& base_dir,
                      PreloadEntry& e) {
  if (!kek.is_object()) {
    return absl::InvalidArgumentError("create_kek must be an object");
  }
  http::keys::Fields f(kek, "create_kek.");
  for (auto it = kek.begin(); it != kek.end(); ++it) {
    if (it.key() != "key_size" && it.key() != "public_pem") {
      return absl::InvalidArgumentError(
          absl::StrCat("create_kek has no member \"", it.key(),
                       "\" (key_size, public_pem)"));
    }
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> bits, f.Int("key_size", 2048, 4096));
  e.kek_bits = static_cast<int>(bits.value_or(2048));
  if (e.kek_bits != 2048 && e.kek_bits != 3072 && e.kek_bits != 4096) {
    return absl::InvalidArgumentError(
        "create_kek.key_size must be 2048, 3072 or 4096");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> pem, f.String("public_pem"));
  if (pem) {
    if (pem->empty()) {
      return absl::InvalidArgumentError("create_kek.public_pem is empty");
    }
    e.public_pem_path = Under(base_dir, *pem);
  }
  return absl::OkStatus();
}

// ParseEntry checks one entry (`e.index` set) of the array.
absl::Status ParseEntry(const json& entry, const std::string& base_dir,
                        const PreloadTarget& target, PreloadEntry& e) {
  if (!entry.is_object()) {
    return absl::InvalidArgumentError("an entry must be a JSON object");
  }
  http::keys::Fields f(entry);
  ASSIGN_OR_RETURN(e.vault, f.RequiredString("vault"));
  ASSIGN_OR_RETURN(e.name, f.RequiredString("name"));
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    if (std::find(std::begin(kEntryMembers), std::end(kEntryMembers),
                  it.key()) == std::end(kEntryMembers)) {
      return absl::InvalidArgumentError(
          absl::StrCat("no member \"", it.key(),
                       "\" (vault, name, import, create_kek, byok_file)"));
    }
  }
  if (std::find(target.vaults.begin(), target.vaults.end(), e.vault) ==
      target.vaults.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("vault ", e.vault, " is not one keyferryd serves"));
  }
  RETURN_IF_ERROR(vault::ValidateKeyName(e.name));
  ASSIGN_OR_RETURN(const json* import, f.Object("import"));
  ASSIGN_OR_RETURN(const json* kek, f.Object("create_kek"));
  if ((import == nullptr) == (kek == nullptr)) {
    return absl::InvalidArgumentError(
        "an entry has exactly one of import and create_kek");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> byok_file, f.String("byok_file"));
  if (kek != nullptr) {
    if (byok_file) {
      return absl::InvalidArgumentError("byok_file goes with import");
    }
    return ParseKek(*kek, base_dir, e);
  }
  json body = *import;
  if (byok_file) {
    RETURN_IF_ERROR(WithByokFile(body, Under(base_dir, *byok_file)));
  }
  const std::string vault_host = absl::StrCat(e.vault, ".", target.domain);
  ASSIGN_OR_RETURN(vault::ImportKeyRequest r,
                   http::keys::ReadImport(body, vault_host));
  if (r.key_hsm) {
    ASSIGN_OR_RETURN(r.vault_host, ByokHost(r, vault_host));
  }
  std::string canonical = body.dump();
  e.entry_digest = crypto::Sha256(AsBytes(canonical));
  // The canonical text may hold key material: wipe it.
  std::fill(canonical.begin(), canonical.end(), '\0');
  e.import = std::move(r);
  return absl::OkStatus();
}

void LogEntry(const PreloadEntry& e, std::string_view version,
              std::string_view outcome) {
  Log(LogLevel::kInfo, "preload",
      {{"entry", std::to_string(e.index)},
       {"vault", e.vault},
       {"key", e.name},
       {"version", std::string(version)},
       {"outcome", std::string(outcome)}});
}

audit::Record RecordOf(const PreloadEntry& e, std::string_view operation,
                       std::string_view version, const absl::Status& s) {
  audit::Record rec;
  rec.principal = kPrincipal;
  rec.vault = e.vault;
  rec.operation = std::string(operation);
  rec.key = e.name;
  rec.version = std::string(version);
  rec.status = s.ok() ? 200 : http::HttpStatusFor(s);
  if (!s.ok()) rec.error_code = http::AzureCodeFor(s);
  return rec;
}

// ApplyImport imports one entry unless its version is there.
absl::Status ApplyImport(vault::KeyVault& vault, PreloadEntry& e,
                         const PreloadRecorder& record, PreloadCounts& n) {
  const std::string version = *e.import->version;
  absl::StatusOr<store::KeyVersion> have = vault.Get(e.vault, e.name, version);
  if (have.ok()) {
    ++n.present;
    LogEntry(e, version, "present");
    return absl::OkStatus();
  }
  if (have.status().code() != absl::StatusCode::kNotFound) {
    return have.status();
  }
  absl::StatusOr<store::KeyVersion> made =
      vault.Import(e.vault, e.name, std::move(*e.import));
  if (made.status().code() == absl::StatusCode::kAlreadyExists) {
    ++n.present;  // another node of the store imported it meanwhile
    LogEntry(e, version, "present");
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(
      record(RecordOf(e, "import (preload)", version, made.status())));
  RETURN_IF_ERROR(made.status());
  ++n.imported;
  LogEntry(e, version, "imported");
  return absl::OkStatus();
}

// WritePublicPem writes the KEK's public key where the entry says.
absl::Status WritePublicPem(const PreloadEntry& e, const store::KeyVersion& k) {
  if (e.public_pem_path.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(crypto::EvpPkeyPtr pub,
                   crypto::ParsePublicKey(AsBytes(k.public_jwk)));
  ASSIGN_OR_RETURN(std::string pem, crypto::PublicKeyToPem(pub.get()));
  return WriteFileAtomic(e.public_pem_path, AsBytes(pem), 0644);
}

// ApplyKek creates the entry's KEK unless the name has one.
absl::Status ApplyKek(vault::KeyVault& vault, const PreloadEntry& e,
                      const PreloadTarget& target,
                      const PreloadRecorder& record, PreloadCounts& n) {
  absl::StatusOr<store::KeyVersion> k = vault.Get(e.vault, e.name, "");
  if (k.ok()) {
    ASSIGN_OR_RETURN(vault::Kty kty, vault::ParseKty(k->kty));
    if (!vault::IsKek(kty, k->bits, vault::OpsOf(*k))) {
      return absl::InvalidArgumentError(
          "the key exists and is not a key exchange key");
    }
    ++n.kek_present;
    LogEntry(e, k->version, "kek present");
  } else if (k.status().code() == absl::StatusCode::kNotFound) {
    vault::CreateKeyRequest r;
    r.kty = vault::Kty::kRsaHsm;
    r.key_size = e.kek_bits;
    r.properties.key_ops = std::vector<vault::KeyOp>{vault::KeyOp::kImport};
    k = vault.Create(e.vault, e.name, r);
    RETURN_IF_ERROR(record(
        RecordOf(e, "create (preload)", k.ok() ? k->version : "", k.status())));
    RETURN_IF_ERROR(k.status());
    ++n.created;
    LogEntry(e, k->version, "created");
  } else {
    return k.status();
  }
  Log(LogLevel::kInfo, "preload_kek",
      {{"kid", absl::StrCat("https://", e.vault, ".", target.domain, ":",
                            target.port, "/keys/", e.name, "/", k->version)},
       {"public_pem", e.public_pem_path}});
  return WritePublicPem(e, *k);
}

}  // namespace

absl::StatusOr<std::string> PreloadVersion(const SecretBytes& key,
                                           std::string_view vault,
                                           std::string_view name,
                                           std::span<const uint8_t> digest) {
  if (key.empty()) {
    return absl::InternalError("preload: no key for the version ids");
  }
  std::string input =
      absl::StrCat("keyferry-preload/2", std::string(1, '\0'), Sv(vault),
                   std::string(1, '\0'), Lower(name), std::string(1, '\0'));
  input.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  ASSIGN_OR_RETURN(std::vector<uint8_t> mac,
                   crypto::HmacSha256(key, AsBytes(input)));
  return HexEncode(mac).substr(0, 32);
}

absl::StatusOr<std::vector<PreloadEntry>> ParsePreload(
    std::string_view text, const std::string& base_dir,
    const PreloadTarget& target) {
  absl::StatusOr<json> doc = ParseJson(text);
  // ParseJson's messages quote nothing of the text (it may hold keys).
  if (!doc.ok()) return doc.status();
  if (!doc->is_array()) {
    return absl::InvalidArgumentError("the file must be a JSON array");
  }
  std::vector<PreloadEntry> entries;
  for (size_t i = 0; i < doc->size(); ++i) {
    PreloadEntry e;
    e.index = static_cast<int>(i + 1);
    absl::Status s = ParseEntry((*doc)[i], base_dir, target, e);
    if (!s.ok()) return EntryError(e.index, e.vault, e.name, s);
    entries.push_back(std::move(e));
  }
  return entries;
}

absl::StatusOr<PreloadCounts> ApplyPreload(vault::KeyVault& vault,
                                           std::vector<PreloadEntry> entries,
                                           const PreloadTarget& target,
                                           const PreloadRecorder& record) {
  PreloadCounts n;
  for (PreloadEntry& e : entries) {
    absl::Status s;
    if (e.import) {
      absl::StatusOr<std::string> v =
          PreloadVersion(target.version_key, e.vault, e.name, e.entry_digest);
      if (v.ok()) e.import->version = *v;
      s = v.ok() ? ApplyImport(vault, e, record, n) : v.status();
    } else {
      s = ApplyKek(vault, e, target, record, n);
    }
    if (!s.ok()) return EntryError(e.index, e.vault, e.name, s);
  }
  return n;
}

namespace {

absl::Status InFile(const std::string& path, const absl::Status& s) {
  return absl::Status(s.code(),
                      absl::StrCat("preload ", path, ": ", s.message()));
}

}  // namespace

absl::StatusOr<std::vector<PreloadEntry>> LoadPreload(
    const std::string& path, const PreloadTarget& target) {
  absl::StatusOr<SecretBytes> text =
      ReadOwnerOnlySecretFile(path, kMaxPreloadFileBytes);
  if (!text.ok()) return InFile(path, text.status());
  std::span<const uint8_t> bytes = text->data(SecretAccess::Get());
  const std::string base_dir =
      std::filesystem::path(path).parent_path().string();
  absl::StatusOr<std::vector<PreloadEntry>> entries =
      ParsePreload(std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                    bytes.size()),
                   base_dir.empty() ? "." : base_dir, target);
  if (!entries.ok()) return InFile(path, entries.status());
  return entries;
}

absl::StatusOr<PreloadCounts> RunPreload(const std::string& path,
                                         std::vector<PreloadEntry> entries,
                                         vault::KeyVault& vault,
                                         const PreloadTarget& target,
                                         const PreloadRecorder& record) {
  absl::StatusOr<PreloadCounts> n =
      ApplyPreload(vault, std::move(entries), target, record);
  if (!n.ok()) return InFile(path, n.status());
  Log(LogLevel::kInfo, "preload_done",
      {{"file", path},
       {"imported", std::to_string(n->imported)},
       {"present", std::to_string(n->present)},
       {"kek_created", std::to_string(n->created)},
       {"kek_present", std::to_string(n->kek_present)}});
  return n;
}

}  // namespace keyferry::server
