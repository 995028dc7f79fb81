#!/usr/bin/env python3
"""Crash-test driver for crash_test.sh.

  crash_driver.py setup STATE          create the BYOK KEK, write STATE/kek.json
  crash_driver.py load STATE ROUND     stream creates and imports from 4
                                       threads until keyferryd dies; every
                                       attempt and every acknowledgement goes
                                       to STATE/journal-ROUND.jsonl
  crash_driver.py verify STATE [LOG]   after the last restart: every
                                       acknowledged key is there and works,
                                       every unacknowledged one is absent or
                                       complete, and the vault holds nothing
                                       else; with LOG (keyferryd's audit
                                       log), every acknowledged request has
                                       its record, every acknowledged create
                                       and import with the version made, and
                                       every create or import the log says
                                       succeeded is in the vault

Keys are made four ways: create EC P-256, create oct-HSM 256, import a JWK
EC key made here, and BYOK-import an AES-256 key made here (RSA-OAEP-SHA1 +
RFC 5649 from the spec, with Python's cryptography). Environment (from
harness.sh): KF_VAULT_URL, KF_CA, KF_TOKEN (an officer token).
"""
import base64
import hashlib
import http.client
import json
import os
import random
import ssl
import sys
import threading
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers
from cryptography.hazmat.primitives.keywrap import (aes_key_unwrap,
                                                    aes_key_wrap,
                                                    aes_key_wrap_with_padding)

VAULT = os.environ["KF_VAULT_URL"]
TOKEN = os.environ["KF_TOKEN"]
U = urllib.parse.urlparse(VAULT)
CTX = ssl.create_default_context(cafile=os.environ["KF_CA"])
API = "api-version=7.4"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


class Conn:
    def __init__(self):
        self.c = http.client.HTTPSConnection(U.hostname, U.port, context=CTX,
                                             timeout=30)
        self.rid = ""     # x-ms-request-id of the last answer
        self.acked = []   # (request id, method path) of every 200 answer

    def req(self, method, path, body=None):
        sep = "&" if "?" in path else "?"
        self.c.request(method, f"{path}{sep}{API}",
                       body=None if body is None else json.dumps(body),
                       headers={"Authorization": f"Bearer {TOKEN}",
                                "Content-Type": "application/json"})
        r = self.c.getresponse()
        text = r.read().decode()
        self.rid = r.getheader("x-ms-request-id") or ""
        if r.status == 200:
            self.acked.append((self.rid, f"{method} {path}"))
        return r.status, (json.loads(text) if text else {})


def version_of(kid):
    return urllib.parse.urlparse(kid).path.split("/")[3]


def setup(state):
    c = Conn()
    st, js = c.req("POST", "/keys/crash-kek/create",
                   {"kty": "RSA-HSM", "key_size": 2048, "key_ops": ["import"]})
    assert st == 200, (st, js)
    json.dump({"kid": js["key"]["kid"], "n": js["key"]["n"],
               "e": js["key"]["e"], "rid": c.rid},
              open(f"{state}/kek.json", "w"))


def kek_public(state):
    k = json.load(open(f"{state}/kek.json"))
    n = int.from_bytes(unb64u(k["n"]), "big")
    e = int.from_bytes(unb64u(k["e"]), "big")
    return k["kid"], RSAPublicNumbers(e, n).public_key()


def make_request(kind, kek_kid, kek_pub):
    """Returns (path_suffix, body, secret): secret is what only we know."""
    if kind == "create-ec":
        return "create", {"kty": "EC", "crv": "P-256"}, None
    if kind == "create-oct":
        return "create", {"kty": "oct-HSM", "key_size": 256}, None
    if kind == "import-ec":
        priv = ec.generate_private_key(ec.SECP256R1())
        pn = priv.private_numbers()
        jwk = {"kty": "EC", "crv": "P-256", "key_ops": ["sign", "verify"],
               "x": b64u(pn.public_numbers.x.to_bytes(32, "big")),
               "y": b64u(pn.public_numbers.y.to_bytes(32, "big")),
               "d": b64u(pn.private_value.to_bytes(32, "big"))}
        return "", {"key": jwk}, None
    # byok-aes: an AES-256 key only this driver and the vault know.
    aes = os.urandom(32)
    transient = os.urandom(32)
    c1 = kek_pub.encrypt(transient, padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(),
        label=None))
    c2 = aes_key_wrap_with_padding(transient, aes)
    blob = json.dumps({"schema_version": "1.0.0",
                       "header": {"kid": kek_kid, "alg": "dir",
                                  "enc": "CKM_RSA_AES_KEY_WRAP"},
                       "ciphertext": b64u(c1 + c2),
                       "generator": "crash_driver.py"}).encode()
    return "", {"key": {"kty": "oct-HSM", "key_hsm": b64u(blob),
                        "key_ops": ["wrapKey", "unwrapKey"]}}, aes.hex()


def load(state, rnd):
    kek_kid, kek_pub = kek_public(state)
    journal = open(f"{state}/journal-{rnd}.jsonl", "a")
    lock = threading.Lock()

    def log(rec):
        with lock:
            journal.write(json.dumps(rec) + "\n")
            journal.flush()

    def worker(t):
        rng = random.Random(f"{rnd}-{t}")
        conn = Conn()
        i = 0
        while True:
            i += 1
            kind = rng.choice(["create-ec", "create-oct", "import-ec",
                               "byok-aes"])
            name = f"c{rnd}-{t}-{i}-{kind}"
            suffix, body, secret = make_request(kind, kek_kid, kek_pub)
            log({"event": "attempt", "name": name, "kind": kind,
                 "secret": secret})
            path = f"/keys/{name}/{suffix}" if suffix else f"/keys/{name}"
            method = "POST" if suffix else "PUT"
            try:
                st, js = conn.req(method, path, body)
            except Exception:  # keyferryd was killed: stop this thread
                return
            if st != 200:
                log({"event": "refused", "name": name, "status": st,
                     "body": js})
                return
            log({"event": "ack", "name": name, "kind": kind,
                 "kid": js["key"]["kid"],
                 "version": version_of(js["key"]["kid"]), "rid": conn.rid,
                 "x": js["key"].get("x"), "y": js["key"].get("y")})

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def proves(conn, kind, kid, rec, secret):
    """The key at `kid` works: EC signs verifiably under the acknowledged
    point; oct wraps and unwraps (and matches the known key for BYOK)."""
    path = urllib.parse.urlparse(kid).path
    if kind in ("create-ec", "import-ec"):
        digest = hashlib.sha256(kid.encode()).digest()
        st, js = conn.req("POST", f"{path}/sign",
                          {"alg": "ES256", "value": b64u(digest)})
        if st != 200:
            return f"sign {st} {js}"
        x = rec["x"] if rec else None
        y = rec["y"] if rec else None
        if x is None:
            st, g = conn.req("GET", path)
            x, y = g["key"]["x"], g["key"]["y"]
        pub = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64u(x), "big"), int.from_bytes(unb64u(y), "big"),
            ec.SECP256R1()).public_key()
        sig = unb64u(js["value"])
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                         int.from_bytes(sig[32:], "big"))
        try:
            pub.verify(der, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        except Exception:
            return "signature does not verify under the acknowledged key"
        return None
    data = os.urandom(32)
    st, js = conn.req("POST", f"{path}/wrapkey",
                      {"alg": "A256KW", "value": b64u(data)})
    if st != 200:
        return f"wrapkey {st} {js}"
    wrapped = unb64u(js["value"])
    if secret and wrapped != aes_key_wrap(bytes.fromhex(secret), data):
        return "BYOK key wraps differently from the key that was sent"
    st, js = conn.req("POST", f"{path}/unwrapkey",
                      {"alg": "A256KW", "value": b64u(wrapped)})
    if st != 200 or unb64u(js["value"]) != data:
        return f"unwrapkey {st}"
    return None


def check_audit(log_path, state, acks, attempts, conn):
    """The audit log against what the clients were told: every request
    answered 200 has its record (same x-ms-request-id, status 200); every
    acknowledged create or import is recorded with its key, operation and
    the version made; every create or import recorded as done is in the
    vault with that version. Returns the number of failures."""
    recs = []
    for line in open(log_path):
        try:
            recs.append(json.loads(line))
        except ValueError:
            print(f"FAIL audit log line {len(recs) + 1} is not a record",
                  file=sys.stderr)
            return 1
    by_rid = {}
    for r in recs:
        if r["request_id"]:
            by_rid.setdefault(r["request_id"], []).append(r)
    fails = 0
    kek = json.load(open(f"{state}/kek.json"))
    answered = [(kek["rid"], "POST /keys/crash-kek/create")]
    answered += [(a["rid"], f"ack {name}") for name, a in acks.items()]
    answered += conn.acked  # verify's own requests
    for rid, what in answered:
        rs = by_rid.get(rid, [])
        if not rid or len(rs) != 1 or rs[0]["status"] != 200:
            print(f"FAIL {what} was answered 200 (x-ms-request-id {rid!r}) "
                  f"but the audit log has {rs}", file=sys.stderr)
            fails += 1
    for name, a in acks.items():
        op = "create" if a["kind"].startswith("create") else "import"
        rs = by_rid.get(a["rid"], [])
        if not (len(rs) == 1 and rs[0]["operation"] == op and
                rs[0]["key"] == name and rs[0]["version"] == a["version"] and
                rs[0]["status"] == 200 and rs[0]["vault"] == "myvault"):
            print(f"FAIL acknowledged {op} of {name} version {a['version']}: "
                  f"its record is {rs}", file=sys.stderr)
            fails += 1
    done = [r for r in recs if r["operation"] in ("create", "import") and
            r["status"] == 200 and r["key"] in attempts]
    for r in done:
        st, js = conn.req("GET", f"/keys/{r['key']}/{r['version']}")
        if st != 200:
            print(f"FAIL the audit log says {r['operation']} of {r['key']} "
                  f"version {r['version']} succeeded, but GET answers {st}",
                  file=sys.stderr)
            fails += 1
    print(f"crash audit: {len(recs)} records checked against "
          f"{len(answered)} requests answered 200, {len(acks)} acknowledged "
          f"creates and imports, {len(done)} creates and imports recorded "
          f"as done; {fails} failures")
    return fails


def verify(state, log_path=None):
    attempts, acks = {}, {}
    for f in sorted(os.listdir(state)):
        if not f.startswith("journal-"):
            continue
        for line in open(f"{state}/{f}"):
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # the driver itself was mid-line: not a key fact
            if rec["event"] == "attempt":
                attempts[rec["name"]] = rec
            elif rec["event"] == "ack":
                acks[rec["name"]] = rec
            elif rec["event"] == "refused":
                print(f"FAIL request refused while running: {rec}",
                      file=sys.stderr)
                return 1
    conn = Conn()
    fails = 0
    present_unacked = 0
    for name, a in attempts.items():
        rec = acks.get(name)
        st, js = conn.req("GET", f"/keys/{name}")
        if rec is not None:
            if st != 200 or js["key"]["kid"] != rec["kid"]:
                print(f"FAIL acknowledged {name} lost: {st} {js}",
                      file=sys.stderr)
                fails += 1
                continue
            why = proves(conn, a["kind"], rec["kid"], rec, a["secret"])
        elif st == 404:
            continue
        elif st == 200:
            present_unacked += 1
            why = proves(conn, a["kind"], js["key"]["kid"], None, a["secret"])
        else:
            why = f"GET {st} {js}"
        if why:
            print(f"FAIL {name} ({a['kind']}, "
                  f"{'acked' if rec else 'not acked'}): {why}", file=sys.stderr)
            fails += 1
    # Nothing else is in the vault: list every key.
    listed = set()
    path = "/keys?maxresults=25"
    while path:
        st, js = conn.req("GET", path)
        assert st == 200, (st, js)
        listed |= {urllib.parse.urlparse(k["kid"]).path.split("/")[2]
                   for k in js["value"]}
        nxt = js.get("nextLink")
        path = None
        if nxt:
            p = urllib.parse.urlparse(nxt)
            q = [kv for kv in p.query.split("&")
                 if not kv.startswith("api-version=")]
            path = p.path + ("?" + "&".join(q) if q else "")
    expected = set(acks) | {"crash-kek"}
    extra = listed - expected - set(attempts)
    missing = expected - listed
    if extra or missing:
        print(f"FAIL listing: extra {sorted(extra)} missing {sorted(missing)}",
              file=sys.stderr)
        fails += 1
    print(f"crash verify: {len(attempts)} attempted, {len(acks)} acknowledged "
          f"(all present and working), {present_unacked} unacknowledged but "
          f"complete, {len(attempts) - len(acks) - present_unacked} absent; "
          f"{len(listed)} keys listed; {fails} failures")
    if log_path:
        fails += check_audit(log_path, state, acks, attempts, conn)
    return 1 if fails or not acks else 0


if __name__ == "__main__":
    cmd, state = sys.argv[1], sys.argv[2]
    if cmd == "setup":
        setup(state)
    elif cmd == "load":
        load(state, int(sys.argv[3]))
    else:
        sys.exit(verify(state, sys.argv[3] if len(sys.argv) > 3 else None))
