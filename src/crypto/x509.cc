#include "crypto/x509.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cstdint>
#include <ctime>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/file.h"
#include "base/secret.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/errors.h"
#include "crypto/keys.h"
#include "crypto/random.h"

namespace keyferry::crypto {
namespace {

constexpr long kDay = 24L * 60 * 60;

// IpBytes returns the 4 or 16 bytes of an IP address, empty for a DNS name.
std::vector<uint8_t> IpBytes(std::string_view name) {
  const std::string s(name);  // inet_pton needs a terminated string
  uint8_t buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) {
    return std::vector<uint8_t>(buf, buf + 4);
  }
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return std::vector<uint8_t>(buf, buf + 16);
  }
  return {};
}

std::string_view Ia5View(const ASN1_IA5STRING* s) {
  return std::string_view(
      reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
      static_cast<size_t>(ASN1_STRING_length(s)));
}

// CheckNames refuses an empty list and anything that is neither a DNS name
// nor an IP address: such text would otherwise reach the X509V3
// configuration strings below, where ',' starts another entry.
absl::Status CheckNames(std::span<const std::string> names,
                        std::string_view what) {
  if (names.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no ", Sv(what)));
  }
  for (const std::string& n : names) {
    if (!IsIpAddress(n) && !IsDnsName(n)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not a DNS name or IP address: ", n));
    }
  }
  return absl::OkStatus();
}

// NameConstraintsConf is the X509V3 configuration of the critical Name
// Constraints extension permitting exactly `subtrees`.
std::string NameConstraintsConf(std::span<const std::string> subtrees) {
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

// SanConf is the X509V3 configuration of a subjectAltName listing `names`.
std::string SanConf(std::span<const std::string> names) {
  std::string san;
  for (const std::string& n : names) {
    absl::StrAppend(&san, san.empty() ? "" : ",",
                    IsIpAddress(n) ? "IP:" : "DNS:", n);
  }
  return san;
}

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
  return InDnsSubtree(name, Ia5View(base->d.dNSName));
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

struct Extension {
  int nid;
  std::string value;
};

// NewCert builds a certificate for `key` with `fields` and `extensions`
// and signs it with `signer`. `issuer` is null for a self-signed one.
absl::StatusOr<Certificate> NewCert(EVP_PKEY* key,
                                    const CertificateFields& fields,
                                    X509* issuer, EVP_PKEY* signer,
                                    std::span<const Extension> extensions) {
  X509Ptr cert(X509_new());
  if (cert == nullptr) return SslError(absl::StatusCode::kInternal, "X509_new");
  ASSIGN_OR_RETURN(std::vector<uint8_t> serial, RandomBytes(16));
  serial[0] &= 0x7F;  // positive
  serial[0] |= 0x40;  // and 16 bytes long
  BnPtr bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (bn == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())) ==
          nullptr ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), fields.days * kDay) ==
          nullptr ||
      X509_set_pubkey(cert.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(fields.organization.c_str()),
          -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>(fields.common_name.c_str()),
          -1, -1, 0) != 1 ||
      X509_set_issuer_name(cert.get(), issuer != nullptr
                                           ? X509_get_subject_name(issuer)
                                           : name) != 1) {
    return SslError(absl::StatusCode::kInternal, "building certificate");
  }
  X509* ext_issuer = issuer != nullptr ? issuer : cert.get();
  for (const Extension& e : extensions) {
    RETURN_IF_ERROR(AddExtension(cert.get(), ext_issuer, e.nid, e.value));
  }
  if (X509_sign(cert.get(), signer, EVP_sha256()) <= 0) {
    return SslError(absl::StatusCode::kInternal, "X509_sign");
  }
  return Certificate(std::move(cert));
}

}  // namespace

bool IsIpAddress(std::string_view name) { return !IpBytes(name).empty(); }

bool IsDnsName(std::string_view name) {
  return !name.empty() && name.size() <= 253 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-*") ==
             std::string_view::npos;
}

bool InDnsSubtree(std::string_view name, std::string_view base) {
  if (base.empty()) return true;
  if (name.size() == base.size()) {
    return absl::EqualsIgnoreCase(Sv(name), Sv(base));
  }
  return name.size() > base.size() &&
         name[name.size() - base.size() - 1] == '.' &&
         absl::EndsWithIgnoreCase(Sv(name), Sv(base));
}

Certificate::Certificate(X509Ptr cert) : cert_(std::move(cert)) {}

absl::StatusOr<Certificate> Certificate::FromPem(std::string_view pem,
                                                 std::string_view what) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio == nullptr
                   ? nullptr
                   : PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("no certificate in ", Sv(what)));
  }
  return Certificate(std::move(cert));
}

absl::StatusOr<std::vector<std::vector<uint8_t>>> PemChainToDer(
    std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return SslError(absl::StatusCode::kInternal, "BIO");
  std::vector<std::vector<uint8_t>> out;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) break;
    const int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return SslError(absl::StatusCode::kInternal, "i2d_X509");
    std::vector<uint8_t> der(static_cast<size_t>(len));
    uint8_t* p = der.data();
    if (i2d_X509(cert.get(), &p) != len) {
      return SslError(absl::StatusCode::kInternal, "i2d_X509");
    }
    out.push_back(std::move(der));
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (out.empty()) {
    return absl::InvalidArgumentError("no certificate in the chain");
  }
  return out;
}

absl::StatusOr<Certificate> Certificate::ReadPemFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string pem, ReadFile(path));
  return FromPem(pem, path);
}

absl::StatusOr<std::string> Certificate::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_X509(bio.get(), cert_.get()) != 1) {
    return SslError(absl::StatusCode::kInternal, "PEM_write_bio_X509");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

bool Certificate::ValidFor(int days) const {
  time_t later = std::time(nullptr) + days * kDay;
  const bool ok = X509_cmp_current_time(X509_get0_notBefore(cert_.get())) < 0 &&
                  X509_cmp_time(X509_get0_notAfter(cert_.get()), &later) > 0;
  ERR_clear_error();
  return ok;
}

bool Certificate::IsCa() const {
  const bool ok = X509_check_ca(cert_.get()) != 0;
  ERR_clear_error();
  return ok;
}

bool Certificate::MatchesKey(EVP_PKEY* key) const {
  const bool ok = X509_check_private_key(cert_.get(), key) == 1;
  ERR_clear_error();
  return ok;
}

bool Certificate::SignedBy(EVP_PKEY* issuer_key) const {
  const bool ok = X509_verify(cert_.get(), issuer_key) == 1;
  ERR_clear_error();
  return ok;
}

bool Certificate::HasDnsSan(std::string_view name) const {
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert_.get(), NID_subject_alt_name, nullptr, nullptr)));
  ERR_clear_error();
  if (names == nullptr) return false;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS &&
        absl::EqualsIgnoreCase(Sv(Ia5View(gn->d.dNSName)), Sv(name))) {
      return true;
    }
  }
  return false;
}

bool Certificate::HasIpSan(const std::string& ip) const {
  const bool ok = X509_check_ip_asc(cert_.get(), ip.c_str(), 0) == 1;
  ERR_clear_error();
  return ok;
}

bool Certificate::HasSan(const std::string& name) const {
  return IsIpAddress(name) ? HasIpSan(name) : HasDnsSan(name);
}

NameConstraintsScope Certificate::ScopeFor(std::span<const std::string> names,
                                           std::string* outside) const {
  std::string ignored;
  if (outside == nullptr) outside = &ignored;
  int critical = -1;
  NameConstraintsPtr nc(static_cast<NAME_CONSTRAINTS*>(
      X509_get_ext_d2i(cert_.get(), NID_name_constraints, &critical, nullptr)));
  if (nc == nullptr) {
    ERR_clear_error();
    return critical == -1 ? NameConstraintsScope::kUnconstrained
                          : NameConstraintsScope::kTooNarrow;
  }
  // keyferry writes permitted subtrees only; anything else is not ours.
  if (nc->excludedSubtrees != nullptr || nc->permittedSubtrees == nullptr) {
    *outside = "(unexpected Name Constraints)";
    return NameConstraintsScope::kTooNarrow;
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
      return NameConstraintsScope::kTooNarrow;
    }
  }
  return NameConstraintsScope::kPermits;
}

absl::StatusOr<Certificate> NewConstrainedCa(
    EVP_PKEY* key, const CertificateFields& fields,
    std::span<const std::string> permitted) {
  RETURN_IF_ERROR(CheckNames(permitted, "permitted subtree"));
  const Extension extensions[] = {
      {NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
      {NID_key_usage, "critical,keyCertSign,cRLSign"},
      {NID_name_constraints, NameConstraintsConf(permitted)},
      {NID_subject_key_identifier, "hash"},
  };
  return NewCert(key, fields, nullptr, key, extensions);
}

absl::StatusOr<Certificate> IssueServerCertificate(
    const Certificate& ca, EVP_PKEY* ca_key, EVP_PKEY* key,
    const CertificateFields& fields, std::span<const std::string> names) {
  RETURN_IF_ERROR(CheckNames(names, "subject alternative name"));
  const Extension extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "serverAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
      {NID_subject_alt_name, SanConf(names)},
  };
  return NewCert(key, fields, ca.get(), ca_key, extensions);
}

absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyPemFile(const std::string& path) {
  ASSIGN_OR_RETURN(SecretBytes pem, ReadSecretFile(path));
  std::span<const uint8_t> bytes = pem.data(SecretAccess::Get());
  const unsigned char* data = bytes.data();
  size_t len = bytes.size();
  EVP_PKEY* raw = nullptr;
  OsslDecoderCtxPtr dctx(OSSL_DECODER_CTX_new_for_pkey(
      &raw, "PEM", nullptr, nullptr, EVP_PKEY_KEYPAIR, nullptr, nullptr));
  if (dctx == nullptr || OSSL_DECODER_from_data(dctx.get(), &data, &len) != 1 ||
      raw == nullptr) {
    EVP_PKEY_free(raw);
    return SslError(absl::StatusCode::kInvalidArgument,
                    absl::StrCat("no private key in ", path));
  }
  return EvpPkeyPtr(raw);
}

absl::Status WritePrivateKeyPemFile(const std::string& path, EVP_PKEY* key) {
  ASSIGN_OR_RETURN(SecretBytes pem, PrivateKeyToPem(key));
  return WriteFileAtomic(path, pem.data(SecretAccess::Get()), 0600);
}

}  // namespace keyferry::crypto
