"""Python SDK scenarios, part 3 (run by python_sdk_test.py): who may do what.
Authentication failures, RBAC roles, unknown keys, key state (enabled,
nbf/exp, key_ops), malformed requests, and the managed-identity endpoint and
ARM routes that give out tokens. Each refusal is checked with Azure's error
envelope and an unchanged store.
"""

import http.client
import json
import os
import subprocess
import time
from datetime import datetime, timedelta, timezone

from azure.core.exceptions import ResourceNotFoundError
from azure.keyvault.keys import KeyClient
from azure.keyvault.keys.crypto import (EncryptionAlgorithm, KeyWrapAlgorithm,
                                        SignatureAlgorithm)
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from sdk_common import (API, CTX, DATA_DIR, KEYFERRYD, PORT, RESOURCE,
                        RSA_WRAP, SDK_OPTS, TokenCredential, VAULT, b64u, case,
                        check, claims_of, digest_for, ec_jwk, kc, mint,
                        officer, public_key_of, raw, refused, remote, ts,
                        verify_outside)


@case
def authentication_failures():
    officer.create_ec_key("sdk-auth", curve="P-256")
    path = f"/keys/sdk-auth-new/create?api-version={API}"
    body = {"kty": "EC", "crv": "P-256"}

    o = refused("no token (create)", lambda: raw("POST", path, body), (401,),
                codes=("Unauthorized",))
    chal = dict((k.lower(), v) for k, v in o.headers).get(
        "www-authenticate", "")
    check("no token: WWW-Authenticate names the resource",
          f'resource="{RESOURCE}"' in chal, chal)
    refused("no token (get)",
            lambda: raw("GET", f"/keys/sdk-auth/?api-version={API}"), (401,),
            codes=("Unauthorized",))
    refused("Authorization not Bearer",
            lambda: raw("POST", path, body,
                        headers={"Authorization": "Basic b2ZmaWNlcjp4"}),
            (401,), codes=("Unauthorized",))

    # Expired: a negative lifetime if the mint takes it, else one second.
    try:
        expired = mint("officer", lifetime=-120)
    except subprocess.CalledProcessError:
        expired = mint("officer", lifetime=1)
        time.sleep(2.5)
    check("expired token really is expired",
          claims_of(expired)["exp"] < time.time(), str(claims_of(expired)))
    refused("expired token (raw)", lambda: raw("POST", path, body,
                                               token=expired),
            (401,), codes=("Unauthorized",))
    # Through the SDK only requests without a body: once the SDK has seen a
    # vault's challenge (ChallengeCache is per process) it sends the token at
    # once, and when that gets a 401 azure-keyvault-keys 4.8.0b3 re-sends the
    # request with its Content-Length but without its body
    # (ChallengeAuthPolicy.on_challenge: set_text_body(None)), so any server
    # waits for a body that never comes.
    refused("expired token (SDK)",
            lambda: KeyClient(VAULT, TokenCredential("officer", expired),
                              **SDK_OPTS)
            .get_key("sdk-auth"), (401,), codes=("Unauthorized",))

    good = mint("officer")
    check("minted token audience", claims_of(good).get("aud") == RESOURCE,
          str(claims_of(good)))
    head, payload, sig = good.split(".")
    i = len(sig) // 2
    flipped = sig[:i] + ("A" if sig[i] != "A" else "B") + sig[i + 1:]
    forged = f"{head}.{payload}.{flipped}"
    refused("forged token (signature char flipped)",
            lambda: raw("POST", path, body, token=forged), (401,),
            codes=("Unauthorized",))
    refused("forged token (SDK)",
            lambda: KeyClient(VAULT, TokenCredential("officer", forged),
                              **SDK_OPTS)
            .get_key("sdk-auth"), (401,), codes=("Unauthorized",))
    c = claims_of(good)
    c["sub"] = "someone-else"
    c["oid"] = "someone-else"
    altered = f"{head}.{b64u(json.dumps(c).encode())}.{sig}"
    refused("claims altered after signing",
            lambda: raw("POST", path, body, token=altered), (401,),
            codes=("Unauthorized",))
    none_head = b64u(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    refused("alg none token",
            lambda: raw("POST", path, body, token=f"{none_head}.{payload}."),
            (401,), codes=("Unauthorized",))
    # Same header and claims, signed by a stranger's P-256 key.
    stranger = ec.generate_private_key(ec.SECP256R1())
    der = stranger.sign(f"{head}.{payload}".encode(),
                        ec.ECDSA(hashes.SHA256()))
    r_, s_ = utils.decode_dss_signature(der)
    strange = f"{head}.{payload}.{b64u(r_.to_bytes(32, 'big') + s_.to_bytes(32, 'big'))}"
    refused("token signed by another key",
            lambda: raw("POST", path, body, token=strange), (401,),
            codes=("Unauthorized",))
    refused("garbage token", lambda: raw("POST", path, body,
                                         token="not.a.jwt"),
            (401,), codes=("Unauthorized",))
    for aud in ("https://vault.azure.net", f"https://localhost:{PORT + 1}",
                "https://management.core.windows.net/"):
        t = mint("officer", resource=aud)
        check(f"token for {aud} names that audience",
              claims_of(t).get("aud") in (aud, aud.rstrip("/")))
        refused(f"token for another audience {aud}",
                lambda: raw("POST", path, body, token=t), (401,),
                codes=("Unauthorized",))
    check("the good token still works",
          raw("GET", f"/keys/sdk-auth/?api-version={API}",
              token=good).status == 200)
    check("minted token names keyferryd's issuer and tenant",
          claims_of(good).get("iss") == f"{RESOURCE}/identity" and
          claims_of(good).get("tid"), str(claims_of(good)))
    # token-max-lifetime (default 24 h): the mint refuses more, in one line
    # with exit 2, and a token of exactly the maximum is accepted.
    day = mint("officer", lifetime=86400)
    c = claims_of(day)
    check("24 h token: exp - nbf is the lifetime",
          c["exp"] - c["nbf"] == 86400 and c["exp"] - c["iat"] == 86400,
          str(c))
    check("24 h token accepted",
          raw("GET", f"/keys/sdk-auth/?api-version={API}",
              token=day).status == 200)
    too_long = subprocess.run(
        [KEYFERRYD, "token", "--data-dir", DATA_DIR, "--listen",
         f"127.0.0.1:{PORT}", "--principal", "officer", "--lifetime",
         "86401"], capture_output=True, text=True)
    check("mint above token-max-lifetime refused (exit 2, one line)",
          too_long.returncode == 2 and not too_long.stdout and
          too_long.stderr.count("\n") == 1 and
          "token-max-lifetime" in too_long.stderr, repr(too_long))


@case
def authorization_roles():
    base = officer.create_ec_key("sdk-rbac", curve="P-256")
    rsa_k = officer.create_rsa_key("sdk-rbac-rsa", size=2048)
    oct_k = officer.create_oct_key("sdk-rbac-oct", size=256)
    d = b"\x03" * 32

    def denied(name, fn):
        refused(name, fn, (403,), codes=("Forbidden",),
                inner="ForbiddenByRbac")

    reader = kc("reader")
    check("reader can get", reader.get_key("sdk-rbac").id == base.id)
    check("reader can list", "sdk-rbac" in
          [p.name for p in reader.list_properties_of_keys()])
    check("reader can list versions", [
        p.version for p in reader.list_properties_of_key_versions("sdk-rbac")]
        == [base.properties.version])
    denied("reader create", lambda: reader.create_ec_key("sdk-rbac-new",
                                                         curve="P-256"))
    denied("reader sign", lambda: remote(base, "reader").sign(
        SignatureAlgorithm.es256, d))
    denied("reader decrypt", lambda: remote(rsa_k, "reader").decrypt(
        EncryptionAlgorithm.rsa_oaep, b"\x00" * 256))
    denied("reader update", lambda: reader.update_key_properties(
        "sdk-rbac", enabled=False))
    denied("reader delete", lambda: reader.begin_delete_key("sdk-rbac"))
    denied("reader import", lambda: reader.import_key(
        "sdk-rbac-new", ec_jwk(ec.generate_private_key(ec.SECP256R1()),
                               "P-256")))
    denied("reader backup", lambda: reader.backup_key("sdk-rbac"))

    user = kc("user")
    sig = remote(base, "user").sign(SignatureAlgorithm.es256, d).signature
    check("crypto user can sign", verify_outside(public_key_of(base.key),
                                                 "ES256", d, sig))
    check("crypto user can verify in keyferryd", remote(base, "user").verify(
        SignatureAlgorithm.es256, d, sig).is_valid)
    e = remote(rsa_k, "user").encrypt(EncryptionAlgorithm.rsa_oaep, b"u")
    check("crypto user can encrypt/decrypt", remote(rsa_k, "user").decrypt(
        EncryptionAlgorithm.rsa_oaep, e.ciphertext).plaintext == b"u")
    check("crypto user can get", user.get_key("sdk-rbac").id == base.id)
    denied("crypto user create", lambda: user.create_ec_key("sdk-rbac-new",
                                                            curve="P-256"))
    denied("crypto user delete", lambda: user.begin_delete_key("sdk-rbac"))
    denied("crypto user rotate", lambda: user.rotate_key("sdk-rbac"))
    denied("crypto user import", lambda: user.import_key(
        "sdk-rbac-new", ec_jwk(ec.generate_private_key(ec.SECP256R1()),
                               "P-256")))

    svc = kc("svcenc")
    w = remote(rsa_k, "svcenc").wrap_key(RSA_WRAP, b"\x09" * 32)
    check("service encryption user can wrap/unwrap (RSA)",
          remote(rsa_k, "svcenc").unwrap_key(
              RSA_WRAP, w.encrypted_key).key ==
          b"\x09" * 32)
    w = remote(oct_k, "svcenc").wrap_key(KeyWrapAlgorithm.aes_256,
                                         b"\x0a" * 32)
    check("service encryption user can wrap/unwrap (oct)",
          remote(oct_k, "svcenc").unwrap_key(
              KeyWrapAlgorithm.aes_256, w.encrypted_key).key == b"\x0a" * 32)
    check("service encryption user can get",
          svc.get_key("sdk-rbac").id == base.id)
    denied("service encryption user sign", lambda: remote(base, "svcenc")
           .sign(SignatureAlgorithm.es256, d))
    denied("service encryption user decrypt",
           lambda: remote(rsa_k, "svcenc").decrypt(
               EncryptionAlgorithm.rsa_oaep, e.ciphertext))
    denied("service encryption user create",
           lambda: svc.create_oct_key("sdk-rbac-new", size=256))
    denied("principal with no role: get",
           lambda: kc("nobody").get_key("sdk-rbac"))
    denied("principal with no role: list",
           lambda: list(kc("nobody").list_properties_of_keys()))


@case
def not_found():
    t = mint("officer")
    k = officer.create_ec_key("sdk-nf", curve="P-256")
    refused("get unknown key (SDK)",
            lambda: officer.get_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    err = _raises(lambda: officer.get_key("sdk-no-such-key"))
    check("404 is ResourceNotFoundError in the SDK",
          isinstance(err, ResourceNotFoundError), repr(err))
    refused("get unknown version",
            lambda: officer.get_key("sdk-nf", "0123456789abcdef" * 2),
            (404,), codes=("KeyNotFound",))
    refused("sign with unknown key (raw)",
            lambda: raw("POST", f"/keys/sdk-no-such-key//sign?api-version={API}",
                        {"alg": "ES256", "value": b64u(b"\x00" * 32)},
                        token=t), (404,), codes=("KeyNotFound",))
    refused("sign with unknown version",
            lambda: remote(f"{VAULT}/keys/sdk-nf/{'f' * 32}").sign(
                SignatureAlgorithm.es256, b"\x00" * 32), (404,),
            codes=("KeyNotFound",))
    refused("update unknown key",
            lambda: officer.update_key_properties("sdk-no-such-key",
                                                  enabled=False),
            (404,), codes=("KeyNotFound",))
    refused("delete unknown key",
            lambda: officer.begin_delete_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    refused("recover a key that is not deleted",
            lambda: officer.begin_recover_deleted_key("sdk-nf"), (404,),
            codes=("KeyNotFound",))
    refused("backup unknown key",
            lambda: officer.backup_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    refused("rotate unknown key",
            lambda: officer.rotate_key("sdk-no-such-key"), (404,),
            codes=("KeyNotFound",))
    check("known key still there", officer.get_key("sdk-nf").id == k.id)


def _raises(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        return err
    return None


@case
def key_state_enforced():
    t = mint("officer")
    name = "sdk-state"
    k = officer.create_ec_key(name, curve="P-256")
    officer.update_key_properties(name, enabled=False)
    refused("sign with a disabled key",
            lambda: remote(k).sign(SignatureAlgorithm.es256, b"\x00" * 32),
            (403,), codes=("Forbidden",), message="disabled")
    refused("sign with a disabled key (latest, raw)",
            lambda: raw("POST", f"/keys/{name}//sign?api-version={API}",
                        {"alg": "ES256", "value": b64u(b"\x00" * 32)},
                        token=t), (403,), codes=("Forbidden",),
            message="disabled")
    officer.update_key_properties(name, enabled=True)
    sig = remote(k).sign(SignatureAlgorithm.es256, b"\x00" * 32).signature
    check("re-enabled key signs", verify_outside(
        public_key_of(k.key), "ES256", b"\x00" * 32, sig))

    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    ek = officer.create_rsa_key("sdk-expired", size=2048, expires_on=past)
    check("expired key stored with its exp",
          ts(ek.properties.expires_on) == ts(past))
    refused("sign with an expired key",
            lambda: remote(ek).sign(SignatureAlgorithm.rs256, b"\x00" * 32),
            (403,), codes=("Forbidden",), message="expire")
    refused("encrypt with an expired key",
            lambda: remote(ek).encrypt(EncryptionAlgorithm.rsa_oaep, b"x"),
            (403,), codes=("Forbidden",), message="expire")
    future = datetime.now(timezone.utc) + timedelta(days=1)
    nk = officer.create_ec_key("sdk-notyet", curve="P-256",
                               not_before=future)
    refused("sign with a key before its nbf",
            lambda: remote(nk).sign(SignatureAlgorithm.es256, b"\x00" * 32),
            (403,), codes=("Forbidden",))

    ok = officer.create_rsa_key("sdk-ops", size=2048,
                                key_operations=["sign", "verify"])
    check("key_ops stored", sorted(ok.key_operations) == ["sign", "verify"],
          str(ok.key_operations))
    refused("encrypt with a key whose key_ops lack encrypt",
            lambda: remote(ok).encrypt(EncryptionAlgorithm.rsa_oaep, b"x"),
            (400, 403), codes=("BadParameter", "Forbidden"))
    refused("wrapKey with a key whose key_ops lack wrapKey",
            lambda: remote(ok).wrap_key(KeyWrapAlgorithm.rsa_oaep,
                                        b"\x00" * 16),
            (400, 403), codes=("BadParameter", "Forbidden"))
    refused("decrypt with a key whose key_ops lack decrypt",
            lambda: remote(ok).decrypt(EncryptionAlgorithm.rsa_oaep,
                                       b"\x00" * 256),
            (400, 403), codes=("BadParameter", "Forbidden"))
    d = digest_for("RS256", b"allowed")
    check("the allowed op still works", verify_outside(
        public_key_of(ok.key), "RS256", d,
        remote(ok).sign(SignatureAlgorithm.rs256, d).signature))


@case
def bad_requests():
    t = mint("officer")
    rsa_k = officer.create_rsa_key("sdk-bad", size=2048)
    ec_k = officer.create_ec_key("sdk-bad-ec", curve="P-384")
    oct_k = officer.create_oct_key("sdk-bad-oct", size=128)
    v = rsa_k.properties.version

    def post(path, body):
        return lambda: raw("POST", path + f"?api-version={API}", body,
                           token=t)

    bp = dict(statuses=(400,), codes=("BadParameter",))
    refused("sign with alg XX256", post(
        f"/keys/sdk-bad/{v}/sign", {"alg": "XX256",
                                    "value": b64u(b"\x00" * 32)}), **bp)
    refused("sign with alg XX256 (SDK)", lambda: remote(rsa_k).sign(
        "XX256", b"\x00" * 32), **bp)
    refused("encrypt with alg XX-OAEP", post(
        f"/keys/sdk-bad/{v}/encrypt", {"alg": "XX-OAEP",
                                       "value": b64u(b"x")}), **bp)
    refused("ES256 on a P-384 key", lambda: remote(ec_k).sign(
        SignatureAlgorithm.es256, b"\x00" * 32), **bp)
    refused("RS256 on an EC key", lambda: remote(ec_k).sign(
        SignatureAlgorithm.rs256, b"\x00" * 32), **bp)
    refused("A256GCM on an RSA key", post(
        f"/keys/sdk-bad/{v}/encrypt", {"alg": "A256GCM",
                                       "value": b64u(b"x")}), **bp)
    refused("A256KW on a 128-bit oct key", lambda: remote(oct_k).wrap_key(
        KeyWrapAlgorithm.aes_256, b"\x00" * 16), **bp)
    refused("RS256 with a 31-byte digest", lambda: remote(rsa_k).sign(
        SignatureAlgorithm.rs256, b"\x00" * 31), **bp)
    refused("sign without value", post(f"/keys/sdk-bad/{v}/sign",
                                       {"alg": "RS256"}), **bp)
    refused("value not base64url", post(
        f"/keys/sdk-bad/{v}/sign", {"alg": "RS256", "value": "***"}), **bp)
    refused("malformed JSON (create)", post(
        "/keys/sdk-bad-json/create", '{"kty": "EC", "crv": '), **bp)
    refused("malformed JSON (sign)", post(
        f"/keys/sdk-bad/{v}/sign", '{"alg": "RS256", value}'), **bp)
    refused("JSON array instead of object", post(
        "/keys/sdk-bad-json/create", '["EC"]'), **bp)
    refused("create without kty", post("/keys/sdk-bad-json/create",
                                       {"crv": "P-256"}), **bp)
    refused("create with unknown kty", post("/keys/sdk-bad-json/create",
                                            {"kty": "DSA"}), **bp)
    refused("create with unknown curve", post(
        "/keys/sdk-bad-json/create", {"kty": "EC", "crv": "P-192"}), **bp)
    refused("create RSA-1024", post("/keys/sdk-bad-json/create",
                                    {"kty": "RSA", "key_size": 1024}), **bp)
    refused("create oct-100", post("/keys/sdk-bad-json/create",
                                   {"kty": "oct", "key_size": 100}), **bp)
    refused("key_size of the wrong type", post(
        "/keys/sdk-bad-json/create", {"kty": "RSA", "key_size": "big"}), **bp)
    refused("unknown key_op", post(
        "/keys/sdk-bad-json/create",
        {"kty": "EC", "crv": "P-256", "key_ops": ["fly"]}), **bp)
    refused("bad key name", post("/keys/bad_name!/create",
                                 {"kty": "EC", "crv": "P-256"}),
            (400, 404), codes=("BadParameter", "NotFound", "KeyNotFound"))
    refused("unsupported api-version", lambda: raw(
        "POST", "/keys/sdk-bad-json/create?api-version=6.0",
        {"kty": "EC", "crv": "P-256"}, token=t), **bp)
    refused("missing api-version", lambda: raw(
        "POST", "/keys/sdk-bad-json/create", {"kty": "EC", "crv": "P-256"},
        token=t), **bp)
    big = '{"kty":"EC","crv":"P-256","tags":{"a":"' + "x" * (1 << 20) + '"}}'
    check("oversized body is over 1 MiB", len(big) > (1 << 20))
    refused("oversized body (> 1 MiB)", post("/keys/sdk-bad-big/create", big),
            (413, 400))
    refused("oversized body on sign", post(
        f"/keys/sdk-bad/{v}/sign",
        json.dumps({"alg": "RS256", "value": "A" * ((1 << 20) + 10)})),
        (413, 400))
    check("server healthy after the bad requests",
          raw("GET", f"/keys/sdk-bad/{v}?api-version={API}",
              token=t).status == 200)


@case
def identity_endpoint_and_arm():
    """The managed-identity endpoint's styles, and ARM's routes.

    App Service 2019-08-01 (X-IDENTITY-HEADER) and 2017-09-01 (secret, as
    msrestazure sends it for az) both need the identity secret; the
    secretless legacy MSI POST is refused by default (identity-legacy-uids
    enables it: tests/e2e/identity_legacy_test.sh).
    """
    from urllib.parse import quote, urlparse
    ep = urlparse(os.environ["IDENTITY_ENDPOINT"])

    def ident(method, path, body=None, headers=None):
        conn = http.client.HTTPSConnection(ep.hostname, ep.port, context=CTX,
                                           timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        finally:
            conn.close()

    secret = {"X-IDENTITY-HEADER": os.environ["IDENTITY_HEADER"]}
    q = f"{ep.path}?api-version=2019-08-01&resource={quote(RESOURCE, safe='')}"
    st, doc = ident("GET", q, headers=secret)
    check("App Service style token", st == 200 and
          doc["token_type"] == "Bearer" and doc["resource"] == RESOURCE,
          str(doc))
    claims = claims_of(doc["access_token"])
    check("token names the one configured principal",
          claims["sub"] == "officer" and claims["aud"] == RESOURCE,
          str(claims))
    check("token names keyferryd's issuer",
          claims["iss"] == f"{RESOURCE}/identity", str(claims))
    check("identity token lives 3600 s",
          claims["exp"] - claims["nbf"] == 3600, str(claims))
    check("no X-IDENTITY-HEADER -> refused", ident("GET", q)[0] in (400, 401))
    check("wrong X-IDENTITY-HEADER -> refused",
          ident("GET", q, headers={"X-IDENTITY-HEADER": "wrong"})[0]
          in (400, 401))
    # App Service 2017-09-01 exactly as msrestazure's get_msi_token_webapp
    # builds it: MSI_ENDPOINT + "/?resource=R&api-version=2017-09-01" (R not
    # encoded) with header "secret".
    mgmt = "https://management.core.windows.net/"
    q17 = f"{ep.path}/?resource={mgmt}&api-version=2017-09-01"
    st, arm = ident("GET", q17, headers={"secret": os.environ["IDENTITY_HEADER"]})
    check("App Service 2017 style token", st == 200 and
          "access_token" in arm and arm["resource"] == mgmt and
          arm["expires_on"].isdigit(), str(arm))
    check("2017 style without secret -> 401", ident("GET", q17)[0] == 401)
    check("2017 style with the wrong secret -> 401",
          ident("GET", q17, headers={"secret": "wrong"})[0] == 401)
    form = "resource=" + quote(mgmt, safe="")
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    st, legacy = ident("POST", ep.path, body=form,
                       headers={"Metadata": "true", **form_type})
    check("legacy MSI style (no secret) refused by default",
          st == 401 and legacy.get("error") == "unauthorized" and
          "disabled" in legacy.get("error_description", "") and
          "access_token" not in legacy, str(legacy))
    check("legacy MSI without Metadata -> refused",
          ident("POST", ep.path, body=form, headers=form_type)[0] in (400, 401))
    # ARM, as `az cloud register` and `az login --identity` call it.
    r = raw("GET", "//metadata/endpoints?api-version=2015-01-01",
            host="localhost")
    check("ARM metadata endpoints", r.status == 200 and
          r.doc["authentication"]["audiences"], r.text)
    r = raw("GET", "/subscriptions?api-version=2019-11-01",
            token=arm["access_token"], host="localhost")
    check("ARM subscriptions", r.status == 200 and
          r.doc["value"][0]["tenantId"] == claims["tid"], r.text)
    check("ARM subscriptions need a token",
          raw("GET", "/subscriptions?api-version=2019-11-01",
              host="localhost").status == 401)
    check("identity token lists keys",
          raw("GET", f"/keys?api-version={API}",
              token=doc["access_token"]).status == 200)
