"""Python SDK scenarios, part 2 (run by python_sdk_test.py): a key's life
cycle (versions and updates, paging, delete/recover/purge, backup/restore,
rotation and its policy), random bytes, API versions and the second vault.
"""

import time
from datetime import datetime, timezone

from azure.keyvault.keys import (KeyClient, KeyRotationLifetimeAction,
                                 KeyRotationPolicy, KeyRotationPolicyAction)
from azure.keyvault.keys.crypto import (EncryptionAlgorithm, KeyWrapAlgorithm,
                                        SignatureAlgorithm)

from sdk_common import (API, OFFICER_CRED, OTHER_VAULT, RECOVERABLE_DAYS,
                        RSA_PADDING, SDK_OPTS, VAULT, attempt, b64u, case,
                        check, digest_for, envelope_ok, kc, kid_ok,
                        local_crypto, mint, officer, officer_sign,
                        public_key_of, raw, refused, remote, ts, unb64u,
                        verify_outside)


@case
def get_versions_update():
    name = "sdk-versions"
    made = [officer.create_ec_key(name, curve="P-256",
                                  tags={"gen": str(i)}) for i in range(5)]
    versions = [m.properties.version for m in made]
    check("five distinct versions", len(set(versions)) == 5)
    latest = officer.get_key(name)
    check("get latest (empty version) is the last created",
          latest.properties.version == versions[-1] and
          latest.key.x == made[-1].key.x)
    for i, m in enumerate(made):
        g = officer.get_key(name, m.properties.version)
        check(f"get by version {i}",
              g.id == m.id and g.key.x == m.key.x and
              g.properties.tags == {"gen": str(i)})
    check("names are case-insensitive",
          officer.get_key(name.upper()).properties.version == versions[-1])

    listed = list(officer.list_properties_of_key_versions(name))
    check("list versions returns each version once",
          sorted(p.version for p in listed) == sorted(versions),
          str([p.version for p in listed]))
    pages = list(officer.list_properties_of_key_versions(
        name, max_page_size=2).by_page())
    flat = [p.version for page in pages for p in page]
    check("versions paged by 2: 3 pages", len(pages) == 3, str(len(pages)))
    check("versions paged by 2: all, once", sorted(flat) == sorted(versions),
          str(flat))
    check("version items carry tags and ids",
          all(p.id.endswith("/" + p.version) and p.tags is not None
              for p in listed))

    # Update one old version: only that version changes.
    old = versions[1]
    exp = datetime.fromtimestamp(int(time.time()) + 86400 * 30, timezone.utc)
    nbf = datetime.fromtimestamp(int(time.time()) - 3600, timezone.utc)
    before_updated = made[1].properties.updated_on
    time.sleep(1.1)
    u = officer.update_key_properties(name, old, enabled=False,
                                      expires_on=exp, not_before=nbf,
                                      tags={"team": "crypto", "env": "e2e"})
    check("update answers the updated version", u.properties.version == old)
    check("update enabled=false", u.properties.enabled is False)
    check("update exp", ts(u.properties.expires_on) == ts(exp),
          str(u.properties.expires_on))
    check("update nbf", ts(u.properties.not_before) == ts(nbf),
          str(u.properties.not_before))
    check("update tags replaced",
          u.properties.tags == {"team": "crypto", "env": "e2e"},
          str(u.properties.tags))
    check("updated timestamp moved",
          ts(u.properties.updated_on) > ts(before_updated),
          f"{u.properties.updated_on} {before_updated}")
    check("created timestamp kept",
          ts(u.properties.created_on) == ts(made[1].properties.created_on))
    g = officer.get_key(name, old)
    check("update persisted", g.properties.enabled is False and
          ts(g.properties.expires_on) == ts(exp) and
          g.properties.tags == {"team": "crypto", "env": "e2e"})
    check("other versions untouched",
          officer.get_key(name).properties.enabled is True and
          officer.get_key(name).properties.tags == {"gen": "4"} and
          officer.get_key(name, versions[0]).properties.tags == {"gen": "0"})
    # Update the latest without a version; key_ops narrowed.
    u2 = officer.update_key_properties(name, key_operations=["verify"],
                                       tags={})
    check("update latest without version",
          u2.properties.version == versions[-1] and
          sorted(u2.key_operations) == ["verify"] and
          not u2.properties.tags, f"{u2.key_operations} {u2.properties.tags}")
    refused("sign with a key whose key_ops were narrowed to verify",
            lambda: remote(u2).sign(SignatureAlgorithm.es256, b"\x01" * 32),
            (400, 403), codes=("BadParameter", "Forbidden"))
    # Re-enable the old version and use it.
    officer.update_key_properties(name, old, enabled=True)
    sig = officer_sign(officer.get_key(name, old), "ES256", b"\x02" * 32)
    check("re-enabled old version signs",
          verify_outside(public_key_of(made[1].key), "ES256", b"\x02" * 32,
                         sig))


@case
def list_paging():
    names = [f"sdk-page-{i:02d}" for i in range(30)]
    for n in names:
        officer.create_ec_key(n, curve="P-256")
    every = [p for p in officer.list_properties_of_keys()]
    every_names = [p.name for p in every]
    check("list returns more than one page's worth (> 25)",
          len(every) > 25, str(len(every)))
    check("list (default paging) has every page key once",
          all(every_names.count(n) == 1 for n in names),
          str(sorted(set(names) - set(every_names))))
    check("list has no duplicates", len(every_names) == len(set(every_names)))
    check("list items: kid is the key's id without a version",
          all(p.id == f"{VAULT}/keys/{p.name}" for p in every),
          str([p.id for p in every[:3]]))
    sizes = []
    flat = []
    for p in officer.list_properties_of_keys(max_page_size=7).by_page():
        items = list(p)
        sizes.append(len(items))
        flat.extend(i.name for i in items)
    check("every page holds at most 7", all(n <= 7 for n in sizes),
          str(sizes))
    check("paging by 7 follows nextLink over every key",
          sorted(flat) == sorted(every_names),
          f"{len(flat)} vs {len(every_names)}")
    check("paging by 7 uses ceil(n/7) pages or more",
          len(sizes) >= -(-len(every_names) // 7), str(sizes))
    # Raw: maxresults and nextLink as the REST API defines them (1..25).
    t = mint("officer")
    r = raw("GET", f"/keys?api-version={API}&maxresults=3", token=t)
    check("raw list maxresults=3: 3 items and a nextLink",
          r.status == 200 and len(r.doc["value"]) == 3 and
          r.doc.get("nextLink", "").startswith(VAULT + "/keys?"), r.text[:300])
    if r.status == 200 and r.doc.get("nextLink"):
        nl = r.doc["nextLink"]
        path = nl[len(VAULT):]
        r2 = raw("GET", path, token=t)
        check("nextLink is followable and gives the next items",
              r2.status == 200 and r2.doc["value"] and
              {i["kid"] for i in r2.doc["value"]}.isdisjoint(
                  {i["kid"] for i in r.doc["value"]}), r2.text[:300])
    refused("maxresults=26", lambda: raw(
        "GET", f"/keys?api-version={API}&maxresults=26", token=t), (400,),
        codes=("BadParameter",))


@case
def delete_recover():
    name = "sdk-life"
    k = officer.create_rsa_key(name, size=2048, tags={"keep": "me"})
    d = digest_for("PS256", b"before delete")
    sig = officer_sign(k, "PS256", d)
    deleted = officer.begin_delete_key(name).result()
    check("deleted key: recovery id",
          deleted.recovery_id == f"{VAULT}/deletedkeys/{name}",
          str(deleted.recovery_id))
    check("deleted key: dates",
          deleted.deleted_date is not None and
          deleted.scheduled_purge_date is not None and
          abs((deleted.scheduled_purge_date - deleted.deleted_date)
              .total_seconds() - RECOVERABLE_DAYS * 86400) < 5)
    check("deleted key: material and id kept",
          deleted.key.n == k.key.n and deleted.id == k.id and
          deleted.properties.tags == {"keep": "me"})
    got = officer.get_deleted_key(name)
    check("get_deleted_key", got.id == k.id and
          got.recovery_id == deleted.recovery_id and got.key.n == k.key.n)
    check("list_deleted_keys has it",
          name in [x.name for x in officer.list_deleted_keys()])
    check("deleted key gone from list",
          name not in [p.name for p in officer.list_properties_of_keys()])
    o = attempt(lambda: officer.get_key(name))
    check("get of a deleted key -> 404 KeyNotFound",
          o.status == 404 and o.code == "KeyNotFound", str(o))
    refused("create over a deleted-but-recoverable name",
            lambda: officer.create_rsa_key(name, size=2048), (409,),
            codes=("Conflict",))
    rec = officer.begin_recover_deleted_key(name).result()
    check("recover answers the key", rec.id == k.id and rec.key.n == k.key.n)
    check("recovered key not deleted any more",
          name not in [x.name for x in officer.list_deleted_keys()])
    back = officer.get_key(name)
    check("recovered key: same version and tags",
          back.properties.version == k.properties.version and
          back.properties.tags == {"keep": "me"})
    check("recovered key verifies the old signature in keyferryd",
          remote(back).verify(SignatureAlgorithm.ps256, d, sig).is_valid)
    d2 = digest_for("RS256", b"after recover")
    check("recovered key signs again",
          verify_outside(public_key_of(k.key), "RS256", d2,
                         officer_sign(back, "RS256", d2)))


@case
def delete_purge():
    name = "sdk-purge"
    k = officer.create_ec_key(name, curve="P-384")
    officer.create_ec_key(name, curve="P-384")  # two versions
    officer.begin_delete_key(name).result()
    officer.purge_deleted_key(name)
    o = attempt(lambda: officer.get_deleted_key(name))
    check("purged: get_deleted_key -> 404", o.status == 404 and
          envelope_ok(o.doc), str(o))
    o = attempt(lambda: officer.get_key(name))
    check("purged: get_key -> 404 KeyNotFound", o.status == 404 and
          o.code == "KeyNotFound", str(o))
    o = attempt(lambda: officer.get_key(name, k.properties.version))
    check("purged: old version -> 404", o.status == 404, str(o))
    check("purged: not listed as deleted",
          name not in [x.name for x in officer.list_deleted_keys()])
    again = officer.create_ec_key(name, curve="P-256")
    check("purged name reusable with a new version",
          again.properties.version != k.properties.version and
          again.key.crv == "P-256")
    check("reused name has only the new version",
          [p.version for p in officer.list_properties_of_key_versions(name)]
          == [again.properties.version])
    refused("purge of a key that is not deleted",
            lambda: officer.purge_deleted_key(name), (404, 409),
            codes=("KeyNotFound", "Conflict", "NotFound"))


@case
def backup_restore():
    name = "sdk-backup"
    v1 = officer.create_rsa_key(name, size=2048, tags={"v": "1"})
    v2 = officer.create_rsa_key(name, size=2048, tags={"v": "2"})
    blob = officer.backup_key(name)
    check("backup is opaque bytes", isinstance(blob, bytes) and
          len(blob) > 64 and v1.key.n not in blob and v2.key.n not in blob)
    refused("restore while the key exists",
            lambda: officer.restore_key_backup(blob), (409,),
            codes=("Conflict",))
    officer.begin_delete_key(name).result()
    refused("restore while the key is deleted but recoverable",
            lambda: officer.restore_key_backup(blob), (409,),
            codes=("Conflict",))
    officer.purge_deleted_key(name)
    check("gone before restore",
          attempt(lambda: officer.get_key(name)).status == 404)
    r = officer.restore_key_backup(blob)
    check("restore answers the latest version",
          r.properties.version == v2.properties.version and
          r.key.n == v2.key.n and r.properties.tags == {"v": "2"},
          r.id)
    check("restore brings back every version",
          sorted(p.version for p in
                 officer.list_properties_of_key_versions(name)) ==
          sorted([v1.properties.version, v2.properties.version]))
    old = officer.get_key(name, v1.properties.version)
    check("restored old version intact",
          old.key.n == v1.key.n and old.properties.tags == {"v": "1"})
    d = digest_for("RS384", b"restored")
    check("restored key signs for the original public key",
          verify_outside(public_key_of(v2.key), "RS384", d,
                         officer_sign(r, "RS384", d)))
    ct = public_key_of(v1.key).encrypt(b"old version",
                                       RSA_PADDING["RSA-OAEP"])
    check("restored old version decrypts",
          local_crypto(old).decrypt(EncryptionAlgorithm.rsa_oaep,
                                    ct).plaintext == b"old version")
    # Into the other vault of the same deployment.
    other = kc("officer", OTHER_VAULT)
    r2 = other.restore_key_backup(blob)
    check("restore into othervault",
          r2.id.startswith(OTHER_VAULT + "/keys/" + name + "/") and
          r2.key.n == v2.key.n, r2.id)
    check("othervault copy is listed there",
          name in [p.name for p in other.list_properties_of_keys()])
    tampered = bytearray(blob)
    tampered[len(tampered) // 2] ^= 0x01
    officer.begin_delete_key(name).result()
    officer.purge_deleted_key(name)
    refused("restore of a tampered backup",
            lambda: officer.restore_key_backup(bytes(tampered)), (400,),
            codes=("BadParameter",))
    refused("restore of garbage",
            lambda: officer.restore_key_backup(b"not a backup at all"),
            (400,), codes=("BadParameter",))


@case
def rotate_and_policy():
    name = "sdk-rotate"
    k = officer.create_rsa_key(name, size=2048, key_operations=[
        "sign", "verify"], tags={"t": "1"})
    r = officer.rotate_key(name)
    check("rotate makes a new version",
          r.properties.version != k.properties.version and kid_ok(r, name))
    check("rotated key is new material of the same type and size",
          r.key_type == k.key_type and r.key.n != k.key.n and
          len(r.key.n) == len(k.key.n))
    check("rotated is the latest",
          officer.get_key(name).properties.version == r.properties.version)
    check("both versions listed",
          sorted(p.version for p in
                 officer.list_properties_of_key_versions(name)) ==
          sorted([k.properties.version, r.properties.version]))
    d = digest_for("PS512", b"rotated")
    check("rotated key signs", verify_outside(
        public_key_of(r.key), "PS512", d, officer_sign(r, "PS512", d)))

    policy = KeyRotationPolicy(
        expires_in="P90D",
        lifetime_actions=[
            KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate,
                                      time_after_create="P30D"),
            KeyRotationLifetimeAction(KeyRotationPolicyAction.notify,
                                      time_before_expiry="P7D")])
    p = officer.update_key_rotation_policy(name, policy)
    check("policy id names the key",
          p.id is not None and
          p.id.lower().endswith(f"/keys/{name}/rotationpolicy"), str(p.id))
    check("policy expiry stored", p.expires_in == "P90D", str(p.expires_in))

    def actions(pol):
        return sorted((str(a.action).lower().split(".")[-1],
                       a.time_after_create, a.time_before_expiry)
                      for a in pol.lifetime_actions)

    want = [("notify", None, "P7D"), ("rotate", "P30D", None)]
    check("policy actions stored", actions(p) == want, str(actions(p)))
    g = officer.get_key_rotation_policy(name)
    check("policy read back", g.expires_in == "P90D" and actions(g) == want,
          str(actions(g)))
    check("policy has timestamps",
          g.created_on is not None and g.updated_on is not None)
    p2 = officer.update_key_rotation_policy(name, KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_before_expiry="P10D")],
        expires_in="P60D"))
    check("policy replaced", p2.expires_in == "P60D" and
          actions(p2) == [("rotate", None, "P10D")], str(actions(p2)))
    check("policy replacement read back", actions(
        officer.get_key_rotation_policy(name)) == [("rotate", None, "P10D")])
    r3 = officer.rotate_key(name)
    check("rotate with a policy: new version",
          r3.properties.version not in (k.properties.version,
                                        r.properties.version))
    check("rotation under an expiry policy sets exp ~ 60 days on",
          r3.properties.expires_on is not None and
          abs(ts(r3.properties.expires_on) - (time.time() + 60 * 86400))
          < 600, str(r3.properties.expires_on))
    refused("rotation policy on an unknown key",
            lambda: officer.get_key_rotation_policy("sdk-no-such-key"),
            (404,), codes=("KeyNotFound",))


@case
def random_bytes():
    for n in (1, 32, 128):
        b = officer.get_random_bytes(n)
        check(f"rng {n} bytes", isinstance(b, bytes) and len(b) == n)
    a, b = officer.get_random_bytes(64), officer.get_random_bytes(64)
    check("rng gives different bytes each call", a != b)
    check("rng not constant", len(set(a)) > 16)
    t = mint("officer")
    for count in (0, 129):
        refused(f"rng count {count}",
                lambda: raw("POST", f"/rng?api-version={API}",
                            {"count": count}, token=t), (400,),
                codes=("BadParameter",))


@case
def api_versions():
    k = officer.create_ec_key("sdk-apiver", curve="P-256")
    for v in ("7.0", "7.1", "7.2", "7.3"):
        c = KeyClient(VAULT, OFFICER_CRED, api_version=v, **SDK_OPTS)
        g = c.get_key("sdk-apiver")
        check(f"SDK with api-version {v}: get", g.id == k.id)
        n = c.create_ec_key(f"sdk-apiver-{v.replace('.', '')}", curve="P-256")
        check(f"SDK with api-version {v}: create",
              kid_ok(n, f"sdk-apiver-{v.replace('.', '')}"))
    t = mint("officer")
    for v in ("7.0", "7.4-preview.1", "7.5", "7.6", "2025-07-01"):
        r = raw("GET", f"/keys/sdk-apiver/?api-version={v}", token=t)
        check(f"raw api-version {v}", r.status == 200 and
              r.doc.get("key", {}).get("kid") == k.id, r.text[:200])
    r = raw("GET", "/keys/sdk-apiver/?api%2Dversion=7.6", token=t)
    check("percent-encoded query name api%2Dversion", r.status == 200 and
          r.doc["key"]["kid"] == k.id, r.text[:200])
    r = raw("GET", f"/KEYS/sdk-apiver/{k.properties.version}?api-version={API}",
            token=t)
    check("path segments case-insensitive (KEYS)", r.status == 200 and
          r.doc["key"]["kid"] == k.id, r.text[:200])
    d = b"\x07" * 32
    r = raw("POST", f"/Keys/sdk-apiver/{k.properties.version}/SIGN"
            f"?api-version={API}", {"alg": "ES256", "value": b64u(d)}, token=t)
    check("path segments case-insensitive (SIGN)", r.status == 200 and
          verify_outside(public_key_of(k.key), "ES256", d,
                         unb64u(r.doc["value"])), r.text[:200])
    rk = officer.create_rsa_key("sdk-apiver-rsa", size=2048)
    r = raw("POST", f"/keys/sdk-apiver-rsa/{rk.properties.version}/wrapKey"
            f"?api-version={API}", {"alg": "RSA-OAEP", "value": b64u(d)},
            token=t)
    check("wrapKey in camel case routes", r.status == 200 and
          local_crypto(rk).unwrap_key(KeyWrapAlgorithm.rsa_oaep,
                                      unb64u(r.doc["value"])).key == d,
          r.text[:200])


@case
def second_vault():
    other = kc("officer", OTHER_VAULT)
    k = other.create_ec_key("sdk-other-only", curve="P-256")
    check("othervault kid", k.id.startswith(OTHER_VAULT + "/keys/"
                                            "sdk-other-only/"), k.id)
    check("myvault does not see othervault's key",
          attempt(lambda: officer.get_key("sdk-other-only")).status == 404)
    d = digest_for("ES256", b"other vault")
    check("othervault key signs", verify_outside(
        public_key_of(k.key), "ES256", d,
        local_crypto(k).sign(
            SignatureAlgorithm.es256, d).signature))
    refused("user has no role on othervault",
            lambda: kc("user", OTHER_VAULT).get_key("sdk-other-only"),
            (403,), codes=("Forbidden",), inner="ForbiddenByRbac")
