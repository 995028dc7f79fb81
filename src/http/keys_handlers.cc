#include "http/keys_handlers.h"

#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "base/encoding.h"
#include "base/status.h"
#include "base/strings.h"
#include "crypto/random.h"
#include "http/keys_request.h"

namespace keyferry::http::keys {
namespace {

using json = nlohmann::json;

// KeyUrl is the key's identifier without a version.
std::string KeyUrl(const Call& c) {
  return absl::StrCat(c.view.vault_url, "/keys/", Sv(c.Param("name")));
}

absl::StatusOr<Answer> Cipher(vault::KeyVault& v, const Call& c,
                              vault::KeyOp op) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(custody::CipherInput in, ReadCipher(body));
  ASSIGN_OR_RETURN(
      auto r, v.Cipher(c.vault(), c.Param("name"), c.Param("version"), op, in));
  json out = {{"kid", Kid(r.first, c.view.vault_url)},
              {"value", Base64UrlEncode(r.second.value)}};
  if (!r.second.iv.empty()) out["iv"] = Base64UrlEncode(r.second.iv);
  if (!r.second.tag.empty()) out["tag"] = Base64UrlEncode(r.second.tag);
  if (!in.aad.empty()) out["aad"] = Base64UrlEncode(in.aad);
  return Answer::About(out, r.first);
}

}  // namespace

absl::StatusOr<Answer> CreateKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(vault::CreateKeyRequest cr, ReadCreate(body));
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   v.Create(c.vault(), c.Param("name"), cr));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> ImportKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(vault::ImportKeyRequest ir,
                   ReadImport(body, c.view.vault_url.substr(
                                        std::string_view("https://").size())));
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   v.Import(c.vault(), c.Param("name"), std::move(ir)));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> ListKeys(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(PageParams p, ReadPage(c.req));
  ASSIGN_OR_RETURN(std::string prefix, ReadNamePrefix(c.req));
  if (!prefix.empty() && p.after < PrefixCursor(prefix)) {
    p.after = PrefixCursor(prefix);
  }
  ASSIGN_OR_RETURN(auto page, v.List(c.vault(), p.after, p.limit));
  json items = json::array();
  for (const auto& k : page.items) {
    // Names come in order: the first past the prefix ends the listing.
    if (!prefix.empty() &&
        !absl::StartsWith(absl::AsciiStrToLower(Sv(k.name)), prefix)) {
      page.next.reset();
      break;
    }
    items.push_back(KeyItem(c.view, k, false));
  }
  if (!prefix.empty() && page.next.has_value()) {
    // A full page: offer the next one only when a name with the prefix
    // follows (one more row read), so the last page says it is the last.
    ASSIGN_OR_RETURN(auto peek, v.List(c.vault(), *page.next, 1));
    if (peek.items.empty() ||
        !absl::StartsWith(absl::AsciiStrToLower(Sv(peek.items[0].name)),
                          prefix)) {
      page.next.reset();
    }
  }
  return Answer::Json(
      ListPage(c.view, std::move(items), "/keys", page.next, p.limit, prefix));
}

absl::StatusOr<Answer> ListKeyVersions(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(PageParams p, ReadPage(c.req));
  ASSIGN_OR_RETURN(
      auto page, v.ListVersions(c.vault(), c.Param("name"), p.after, p.limit));
  json items = json::array();
  for (const auto& k : page.items) items.push_back(KeyItem(c.view, k, true));
  return Answer::Json(
      ListPage(c.view, std::move(items),
               absl::StrCat("/keys/", Sv(c.Param("name")), "/versions"),
               page.next, p.limit));
}

absl::StatusOr<Answer> GetKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(store::KeyVersion k,
                   v.Get(c.vault(), c.Param("name"), c.Param("version")));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> UpdateKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(vault::KeyProperties props, ReadProperties(body, body));
  ASSIGN_OR_RETURN(store::KeyVersion k, v.Update(c.vault(), c.Param("name"),
                                                 c.Param("version"), props));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> DeleteKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(vault::DeletedKey d, v.Delete(c.vault(), c.Param("name")));
  return Answer::Json(DeletedKeyBundle(c.view, d));
}

absl::StatusOr<Answer> GetRotationPolicy(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(std::string p,
                   v.GetRotationPolicy(c.vault(), c.Param("name"), KeyUrl(c)));
  return Answer::Serialized(std::move(p));
}

absl::StatusOr<Answer> SetRotationPolicy(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(std::string policy, ReadRotationPolicy(std::move(body)));
  ASSIGN_OR_RETURN(
      std::string p,
      v.SetRotationPolicy(c.vault(), c.Param("name"), policy, KeyUrl(c)));
  return Answer::Serialized(std::move(p));
}

absl::StatusOr<Answer> RotateKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(store::KeyVersion k, v.Rotate(c.vault(), c.Param("name")));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> BackupKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> b,
                   v.Backup(c.vault(), c.Param("name")));
  return Answer::Json({{"value", Base64UrlEncode(b)}});
}

absl::StatusOr<Answer> RestoreKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(std::vector<uint8_t> blob, ReadRestore(body));
  ASSIGN_OR_RETURN(store::KeyVersion k, v.Restore(c.vault(), blob));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> Sign(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(SignRequest s, ReadSign(body));
  ASSIGN_OR_RETURN(auto r, v.Sign(c.vault(), c.Param("name"),
                                  c.Param("version"), s.alg, s.digest));
  return Answer::About({{"kid", Kid(r.first, c.view.vault_url)},
                        {"value", Base64UrlEncode(r.second)}},
                       r.first);
}

absl::StatusOr<Answer> Verify(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(VerifyRequest s, ReadVerify(body));
  ASSIGN_OR_RETURN(
      bool ok, v.Verify(c.vault(), c.Param("name"), c.Param("version"), s.alg,
                        s.digest, s.signature));
  return Answer::Json({{"value", ok}});
}

absl::StatusOr<Answer> Encrypt(vault::KeyVault& v, const Call& c) {
  return Cipher(v, c, vault::KeyOp::kEncrypt);
}
absl::StatusOr<Answer> Decrypt(vault::KeyVault& v, const Call& c) {
  return Cipher(v, c, vault::KeyOp::kDecrypt);
}
absl::StatusOr<Answer> WrapKey(vault::KeyVault& v, const Call& c) {
  return Cipher(v, c, vault::KeyOp::kWrapKey);
}
absl::StatusOr<Answer> UnwrapKey(vault::KeyVault& v, const Call& c) {
  return Cipher(v, c, vault::KeyOp::kUnwrapKey);
}

absl::StatusOr<Answer> ListDeletedKeys(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(PageParams p, ReadPage(c.req));
  ASSIGN_OR_RETURN(auto page, v.ListDeleted(c.vault(), p.after, p.limit));
  json items = json::array();
  for (const auto& [n, k] : page.items) {
    json item = KeyItem(c.view, k, false);
    AddDeleted(c.view, n, item);
    items.push_back(std::move(item));
  }
  return Answer::Json(
      ListPage(c.view, std::move(items), "/deletedkeys", page.next, p.limit));
}

absl::StatusOr<Answer> GetDeletedKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(vault::DeletedKey d,
                   v.GetDeleted(c.vault(), c.Param("name")));
  return Answer::Json(DeletedKeyBundle(c.view, d));
}

absl::StatusOr<Answer> RecoverKey(vault::KeyVault& v, const Call& c) {
  ASSIGN_OR_RETURN(store::KeyVersion k, v.Recover(c.vault(), c.Param("name")));
  return Answer::About(KeyBundle(c.view, k), k);
}

absl::StatusOr<Answer> PurgeKey(vault::KeyVault& v, const Call& c) {
  RETURN_IF_ERROR(v.Purge(c.vault(), c.Param("name")));
  return Answer::NoContent();
}

absl::StatusOr<Answer> GetRandom(vault::KeyVault&, const Call& c) {
  ASSIGN_OR_RETURN(json body, ParseBody(c.req));
  ASSIGN_OR_RETURN(int64_t n, ReadRandomCount(body));
  ASSIGN_OR_RETURN(std::vector<uint8_t> r,
                   crypto::RandomBytes(static_cast<size_t>(n)));
  return Answer::Json({{"value", Base64UrlEncode(r)}});
}

}  // namespace keyferry::http::keys
