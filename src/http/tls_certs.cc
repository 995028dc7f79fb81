#include "http/tls_certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/decoder.h>
#include <openssl/encoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/log.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/errors.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/ssl_ptr.h"

namespace keyferry::http {
namespace {

using crypto::BioPtr;
using crypto::EvpPkeyPtr;
using crypto::SslDeleter;
using crypto::SslError;
using crypto::X509Ptr;
using X509ExtensionPtr =
    std::unique_ptr<X509_EXTENSION,
                    SslDeleter<X509_EXTENSION, X509_EXTENSION_free>>;
using GeneralNamesPtr =
    std::unique_ptr<GENERAL_NAMES,
                    SslDeleter<GENERAL_NAMES, GENERAL_NAMES_free>>;
using NameConstraintsPtr =
    std::unique_ptr<NAME_CONSTRAINTS,
                    SslDeleter<NAME_CONSTRAINTS, NAME_CONSTRAINTS_free>>;

constexpr long kDay = 24 * 60 * 60;
constexpr long kCaDays = 3650;
constexpr long kLeafDays = 825;
constexpr long kRenewDays = 30;

bool IsIpAddress(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

// IpBytes returns the 4 or 16 bytes of an IP address, empty for a DNS name.
std::vector<uint8_t> IpBytes(const std::string& name) {
  uint8_t buf[16];
  if (inet_pton(AF_INET, name.c_str(), buf) == 1) {
    return std::vector<uint8_t>(buf, buf + 4);
  }
  if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
    return std::vector<uint8_t>(buf, buf + 16);
  }
  return {};
}

bool IsDnsName(const std::string& name) {
  return !name.empty() && name.size() <= 253 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-*") ==
             std::string::npos;
}

// InDnsSubtree reports whether DNS name `name` lies in the RFC 5280 dNSName
// subtree `base`: equal, or `base` with labels added on the left.
bool InDnsSubtree(std::string_view name, std::string_view base) {
  if (base.empty()) return true;
  if (name.size() == base.size()) {
    return absl::EqualsIgnoreCase(Sv(name), Sv(base));
  }
  return name.size() > base.size() &&
         name[name.size() - base.size() - 1] == '.' &&
         absl::EndsWithIgnoreCase(Sv(name), Sv(base));
}

// PermittedSubtrees returns the CA's Name Constraints (RFC 5280 §4.2.1.10)
// for `names` (ServerNames): each IP address as a single-address subtree,
// and each DNS name not already inside another's subtree. keyferryd passes
// the vault domain among the names, so every <vault>.<domain>, including
// vaults added later, stays inside the domain's subtree.
std::vector<std::string> PermittedSubtrees(
    const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (IsIpAddress(n)) {
      out.push_back(n);
      continue;
    }
    bool inside = false;
    for (const std::string& m : names) {
      inside = inside || (m != n && !IsIpAddress(m) && InDnsSubtree(n, m));
    }
    if (!inside) out.push_back(n);
  }
  return out;
}

// NameConstraintsConf is the X509V3 configuration of the critical Name
// Constraints extension permitting exactly `subtrees`.
std::string NameConstraintsConf(const std::vector<std::string>& subtrees) {
  std::string conf = "critical";
  for (const std::string& t : subtrees) {
    std::vector<uint8_t> ip = IpBytes(t);
    if (ip.empty()) {
      absl::StrAppend(&conf, ",permitted;DNS:", t);
    } else {
      absl::StrAppend(&conf, ",permitted;IP:", t,
                      ip.size() == 4
                          ? "/255.255.255.255"
                          : "/ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    }
  }
  return conf;
}

// CaScope tells how a stored CA's Name Constraints relate to the names the
// leaf needs.
enum class CaScope {
  kUnconstrained,  // no Name Constraints: a CA made before keyferry had them
  kPermits,        // every name lies inside a permitted subtree
  kTooNarrow,      // some name does not (the domain or the names changed)
};

bool SubtreePermits(const GENERAL_NAME* base, const std::string& name) {
  std::vector<uint8_t> ip = IpBytes(name);
  if (!ip.empty()) {
    if (base->type != GEN_IPADD) return false;
    const ASN1_OCTET_STRING* s = base->d.iPAddress;
    if (static_cast<size_t>(ASN1_STRING_length(s)) != 2 * ip.size()) {
      return false;
    }
    const unsigned char* d = ASN1_STRING_get0_data(s);
    for (size_t i = 0; i < ip.size(); ++i) {
      const uint8_t mask = d[ip.size() + i];
      if ((ip[i] & mask) != (d[i] & mask)) return false;
    }
    return true;
  }
  if (base->type != GEN_DNS) return false;
  const ASN1_IA5STRING* s = base->d.dNSName;
  return InDnsSubtree(
      name,
      std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s))));
}

// ScopeOf compares `ca`'s Name Constraints with `names`; `outside` gets the
// first name they do not permit.
CaScope ScopeOf(X509* ca, const std::vector<std::string>& names,
                std::string* outside) {
  int critical = -1;
  NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(ca, NID_name_constraints, &critical, nullptr)));
  if (nc == nullptr) {
    ERR_clear_error();
    return critical == -1 ? CaScope::kUnconstrained : CaScope::kTooNarrow;
  }
  // keyferry writes permitted subtrees only; anything else is not ours.
  if (nc->excludedSubtrees != nullptr || nc->permittedSubtrees == nullptr) {
    *outside = "(unexpected Name Constraints)";
    return CaScope::kTooNarrow;
  }
  for (const std::string& n : names) {
    bool permitted = false;
    for (int i = 0;
         !permitted && i < sk_GENERAL_SUBTREE_num(nc->permittedSubtrees); ++i) {
      permitted = SubtreePermits(
          sk_GENERAL_SUBTREE_value(nc->permittedSubtrees, i)->base, n);
    }
    if (!permitted) {
      *outside = n;
      return CaScope::kTooNarrow;
    }
  }
  return CaScope::kPermits;
}

// ValidFor reports whether `cert` is valid now and `days` from now.
bool ValidFor(X509* cert, long days) {
  time_t later = std::time(nullptr) + days * kDay;
  return X509_cmp_current_time(X509_get0_notBefore(cert)) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &later) > 0;
}

absl::StatusOr<X509Ptr> ReadCert(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) return SslError(absl::StatusCode::kNotFound, path);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("no certificate in ", path));
  }
  return cert;
}

absl::StatusOr<EvpPkeyPtr> ReadKey(const std::string& path) {
  BioPtr bio(BIO_new_file(path.c_str(), "r"));
  if (bio == nullptr) return SslError(absl::StatusCode::kNotFound, path);
  EVP_PKEY* raw = nullptr;
  crypto::OsslDecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (dctx == nullptr || OSSL_DECODER_from_bio(dctx.get(), bio.get()) != 1 ||
      raw == nullptr) {
    EVP_PKEY_free(raw);
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("no private key in ", path));
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM_write_bio_X509");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid,
                          const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return SslError(absl::StatusCode::kInternal,
                    absl::StrCat("adding extension ", OBJ_nid2sn(nid)));
  }
  return absl::OkStatus();
}

// NewCert fills the fields shared by the CA and the leaf. `issuer` is null
// for the self-signed CA.
absl::StatusOr<X509Ptr> NewCert(EVP_PKEY* key, const std::string& common_name,
                                X509* issuer, long days) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return SslError(absl::StatusCode::kInternal, "X509_new");
  ASSIGN_OR_RETURN(std::vector<uint8_t> serial, crypto::RandomBytes(16));
  serial[0] &= 0x7F;  // positive
  serial[0] |= 0x40;  // and 16 bytes long
  crypto::BnPtr bn(BN_bin2bn(serial.data(), serial.size(), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (bn == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ==
          nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), days * kDay) == nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>("keyferry"), -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(issuer)
                                           : name) != 1) {
    return SslError(absl::StatusCode::kInternal, "building certificate");
  }
  return cert;
}

absl::Status Sign(X509* cert, EVP_PKEY* key) {
  if (X509_sign(cert, key, EVP_sha256()) <= 0) {
    return SslError(absl::StatusCode::kInternal, "X509_sign");
  }
  return absl::OkStatus();
}

absl::Status WriteKey(const std::string& path, EVP_PKEY* key) {
  ASSIGN_OR_RETURN(SecretBytes pem, crypto::PrivateKeyToPem(key));
  return WriteFileAtomic(path, pem.data(SecretAccess::Get()), 0600);
}

struct Ca {
  X509Ptr cert;
  EvpPkeyPtr key;
};

absl::StatusOr<Ca> IssueCa(const TlsFiles& files,
                           const std::vector<std::string>& names) {
  ASSIGN_OR_RETURN(EvpPkeyPtr key, crypto::GenerateEc(crypto::Curve::kP256));
  ASSIGN_OR_RETURN(X509Ptr cert,
                   NewCert(key.get(), "keyferry local CA", nullptr, kCaDays));
  RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_basic_constraints,
                               "critical,CA:TRUE,pathlen:0"));
  RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_key_usage,
                               "critical,keyCertSign,cRLSign"));
  RETURN_IF_ERROR(AddExtension(cert.get(), cert.get(), NID_name_constraints,
                               NameConstraintsConf(PermittedSubtrees(names))));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), cert.get(), NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(Sign(cert.get(), key.get()));
  ASSIGN_OR_RETURN(std::string pem, CertPem(cert.get()));
  RETURN_IF_ERROR(WriteKey(files.ca_key_pem, key.get()));
  RETURN_IF_ERROR(WriteFileAtomic(files.ca_pem, AsBytes(pem), 0644));
  return Ca{std::move(cert), std::move(key)};
}

// LoadCa returns the stored CA when it is usable, nullopt otherwise.
std::optional<Ca> LoadCa(const TlsFiles& files) {
  absl::StatusOr<X509Ptr> cert = ReadCert(files.ca_pem);
  absl::StatusOr<EvpPkeyPtr> key = ReadKey(files.ca_key_pem);
  if (!cert.ok() || !key.ok() ||
      X509_check_private_key(cert->get(), key->get()) != 1 ||
      X509_check_ca(cert->get()) == 0 || !ValidFor(cert->get(), kRenewDays)) {
    ERR_clear_error();
    return std::nullopt;
  }
  return Ca{std::move(*cert), std::move(*key)};
}

bool HasDnsSan(X509* cert, const std::string& name) {
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != GEN_DNS) continue;
    const ASN1_IA5STRING* s = gn->d.dNSName;
    std::string_view v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    if (absl::EqualsIgnoreCase(Sv(v), Sv(name))) return true;
  }
  return false;
}

// LeafFits reports whether the stored leaf can be reused under `ca`.
bool LeafFits(const TlsFiles& files, const Ca& ca,
              const std::vector<std::string>& names) {
  absl::StatusOr<X509Ptr> leaf = ReadCert(files.server_pem);
  absl::StatusOr<EvpPkeyPtr> key = ReadKey(files.server_key_pem);
  bool fits = leaf.ok() && key.ok() &&
              X509_check_private_key(leaf->get(), key->get()) == 1 &&
              X509_verify(leaf->get(), ca.key.get()) == 1 &&
              ValidFor(leaf->get(), kRenewDays);
  for (size_t i = 0; fits && i < names.size(); ++i) {
    fits = IsIpAddress(names[i])
               ? X509_check_ip_asc(leaf->get(), names[i].c_str(), 0) == 1
               : HasDnsSan(leaf->get(), names[i]);
  }
  ERR_clear_error();
  return fits;
}

absl::Status IssueLeaf(const TlsFiles& files, const Ca& ca,
                       const std::vector<std::string>& names) {
  std::string san;
  for (const std::string& n : names) {
    absl::StrAppend(&san, san.empty() ? "" : ",",
                    IsIpAddress(n) ? "IP:" : "DNS:", n);
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, crypto::GenerateEc(crypto::Curve::kP256));
  ASSIGN_OR_RETURN(X509Ptr cert,
                   NewCert(key.get(), "localhost", ca.cert.get(), kLeafDays));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca.cert.get(), NID_basic_constraints,
                               "critical,CA:FALSE"));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca.cert.get(), NID_key_usage,
                               "critical,digitalSignature"));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth"));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca.cert.get(),
                               NID_subject_key_identifier, "hash"));
  RETURN_IF_ERROR(AddExtension(cert.get(), ca.cert.get(),
                               NID_authority_key_identifier, "keyid:always"));
  RETURN_IF_ERROR(
      AddExtension(cert.get(), ca.cert.get(), NID_subject_alt_name, san));
  RETURN_IF_ERROR(Sign(cert.get(), ca.key.get()));
  ASSIGN_OR_RETURN(std::string leaf_pem, CertPem(cert.get()));
  ASSIGN_OR_RETURN(std::string ca_pem, CertPem(ca.cert.get()));
  // Key first: a crash in between leaves a leaf that fails LeafFits and is
  // reissued on the next start.
  RETURN_IF_ERROR(WriteKey(files.server_key_pem, key.get()));
  return WriteFileAtomic(files.server_pem, AsBytes(leaf_pem + ca_pem), 0644);
}

// CheckKeyFileIfPresent is CheckPrivateKeyFile for a file keyferryd made
// and may make again: a missing file is fine.
absl::Status CheckKeyFileIfPresent(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0 && errno == ENOENT) {
    return absl::OkStatus();
  }
  return CheckPrivateKeyFile(path);
}

}  // namespace

absl::Status CheckPrivateKeyFile(const std::string& path) {
  absl::Status s = CheckOwnerOnly(path, "TLS private key file");
  if (absl::IsNotFound(s)) {
    return absl::NotFoundError(
        absl::StrCat("cannot stat TLS private key file ", path));
  }
  return s;
}

TlsFiles TlsFilesIn(const std::string& dir) {
  TlsFiles f;
  f.ca_pem = dir + "/ca.pem";
  f.ca_key_pem = dir + "/ca-key.pem";
  f.server_pem = dir + "/server.pem";
  f.server_key_pem = dir + "/server-key.pem";
  return f;
}

std::vector<std::string> ServerNames(const TlsCertOptions& options) {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  for (const auto* list : {&options.vault_hosts, &options.extra_names}) {
    for (const std::string& n : *list) {
      std::string lower = absl::AsciiStrToLower(Sv(n));
      if (std::find(names.begin(), names.end(), lower) == names.end()) {
        names.push_back(std::move(lower));
      }
    }
  }
  return names;
}

absl::StatusOr<TlsFiles> EnsureTlsCertificates(const TlsCertOptions& options) {
  std::vector<std::string> names = ServerNames(options);
  for (const std::string& n : names) {
    if (!IsIpAddress(n) && !IsDnsName(n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a DNS name or IP address: ", n));
    }
  }
  std::error_code ec;
  if (std::filesystem::create_directories(options.dir, ec)) {
    std::filesystem::permissions(options.dir, std::filesystem::perms::owner_all,
                                 ec);
  }
  if (ec) {
    return absl::InternalError(
        absl::StrCat("creating ", options.dir, ": ", ec.message()));
  }
  TlsFiles files = TlsFilesIn(options.dir);
  RETURN_IF_ERROR(CheckKeyFileIfPresent(files.ca_key_pem));
  RETURN_IF_ERROR(CheckKeyFileIfPresent(files.server_key_pem));
  std::optional<Ca> ca = LoadCa(files);
  std::string outside;
  switch (ca.has_value() ? ScopeOf(ca->cert.get(), names, &outside)
                         : CaScope::kPermits) {
    case CaScope::kPermits:
      break;
    case CaScope::kUnconstrained:
      // Kept: clients trust this CA, and a new one would break every one of
      // them while the old one stays in their trust stores anyway.
      Log(LogLevel::kWarning, "tls_ca_unconstrained",
          {{"path", files.ca_pem},
           {"note",
            "this CA has no Name Constraints: whoever steals ca-key.pem can "
            "issue certificates for any host that its clients accept. Remove "
            "ca.pem and ca-key.pem to get a constrained CA at the next "
            "start, trust the new ca.pem and stop trusting the old one"}});
      break;
    case CaScope::kTooNarrow:
      Log(LogLevel::kWarning, "tls_ca_replaced",
          {{"path", files.ca_pem},
           {"reason",
            absl::StrCat("its Name Constraints do not permit ", outside)},
           {"note", "clients must trust the new ca.pem"}});
      ca.reset();
      break;
  }
  if (!ca.has_value()) {
    ASSIGN_OR_RETURN(Ca fresh, IssueCa(files, names));
    ca = std::move(fresh);
    files.ca_issued = true;
    Log(LogLevel::kInfo, "tls_ca_issued", {{"path", files.ca_pem}});
  }
  if (files.ca_issued || !LeafFits(files, *ca, names)) {
    RETURN_IF_ERROR(IssueLeaf(files, *ca, names));
    files.leaf_issued = true;
    Log(LogLevel::kInfo, "tls_leaf_issued",
        {{"path", files.server_pem}, {"names", std::to_string(names.size())}});
  }
  return files;
}

}  // namespace keyferry::http
