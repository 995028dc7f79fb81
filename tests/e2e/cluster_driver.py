"""The client side of tests/e2e/cluster_test.sh: the Python SDK (Debian's
python3-azure) through HAProxy, and each node directly.

  cluster_driver.py setup STATE   a key with a rotation policy that falls
                                  due 15 s later;
                                  a backup made on node 1 restores on node 2
  cluster_driver.py load STATE    a bounded mixed load (create, import,
                                  sign, update, delete + recover) from a few
                                  threads through HAProxy until STATE/stop
                                  appears; every try of every request is
                                  recorded (STATE/load.json); STATE/progress
                                  counts finished operations
  cluster_driver.py check STATE   the assertions after the failures

Environment: KEYFERRYD, KF_MINT_DIR (a node's data directory, to mint
tokens), KF_CUSTODY_FLAGS, KF_LB_PORT, KF_NODE_PORTS (comma-separated),
REQUESTS_CA_BUNDLE, KF_PG_DIR and KF_PG_PASSWORD (psql).
"""

import base64
import datetime
import hashlib
import http.client
import json
import os
import random
import shlex
import ssl
import subprocess
import sys
import threading
import time

from azure.core.credentials import AccessToken
from azure.core.pipeline.policies import HTTPPolicy
from azure.keyvault.keys import (JsonWebKey, KeyClient,
                                 KeyRotationLifetimeAction, KeyRotationPolicy,
                                 KeyRotationPolicyAction)
from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

LB = int(os.environ["KF_LB_PORT"])
NODES = [int(p) for p in os.environ["KF_NODE_PORTS"].split(",")]
ALL_METHODS = frozenset(["HEAD", "GET", "PUT", "DELETE", "OPTIONS", "TRACE",
                         "POST", "PATCH"])
# The SDK's retry policy, generous: a node killed or PostgreSQL restarting
# must be carried through by the SDK's own retries. Every method is retried
# (POST and PATCH too: on connection errors the SDK retries only the
# idempotent ones by default); the test accounts for a retried write
# having been applied already (versions <= tries, 404 on a repeated delete).
RETRY = dict(retry_total=40, retry_connect=40, retry_read=40,
             retry_status=40, retry_backoff_factor=0.1, retry_backoff_max=1.0)
OPS = dict(retry_on_methods=ALL_METHODS)
RETRYABLE_EXC = ("ServiceRequestError", "ServiceResponseError",
                 "ServiceRequestTimeoutError", "ServiceResponseTimeoutError")

fails = []


def check(name, cond, detail=""):
    if not cond:
        fails.append(name)
        print(f"FAIL {name} {detail}".rstrip(), file=sys.stderr)
    return cond


# --- tokens ----------------------------------------------------------------

_tokens = {}
_tokens_lock = threading.Lock()


def mint(resource):
    with _tokens_lock:
        if resource not in _tokens:
            out = subprocess.run(
                [os.environ["KEYFERRYD"], "token", "--data-dir",
                 os.environ["KF_MINT_DIR"], "--public-port", str(LB),
                 "--principal", "officer", "--resource", resource]
                + shlex.split(os.environ.get("KF_CUSTODY_FLAGS", "")),
                check=True, capture_output=True)
            _tokens[resource] = out.stdout.decode().strip()
        return _tokens[resource]


class Credential:
    """Tokens for the resource the challenge names (HAProxy's or a node's)."""

    def get_token(self, *scopes, **kwargs):
        resource = scopes[0][:-len("/.default")]
        return AccessToken(mint(resource), int(time.time()) + 3000)


# --- every try of a request ------------------------------------------------

LOCAL = threading.local()


class TryRecorder(HTTPPolicy):
    """Records (method, status or exception name) of each try of the
    request on this thread's current operation (LOCAL.tries)."""

    def send(self, request):
        tries = getattr(LOCAL, "tries", None)
        method = request.http_request.method
        try:
            response = self.next.send(request)
        except Exception as e:  # recorded, then the retry policy decides
            if tries is not None:
                tries.append((method, type(e).__name__))
            raise
        if tries is not None:
            status = response.http_response.status_code
            if status == 401 and "Authorization" not in request.http_request.headers:
                status = "challenge"
            tries.append((method, status))
        return response


def client(port):
    return KeyClient(f"https://myvault.localhost:{port}", Credential(),
                     per_retry_policies=[TryRecorder()], **RETRY)


def crypto_client(key_id):
    return CryptographyClient(key_id, Credential(),
                              per_retry_policies=[TryRecorder()], **RETRY)


def retryable(t):
    return t[1] == 503 or t[1] in RETRYABLE_EXC


def run_op(record, kind, name, fn):
    """Runs one operation, recording its tries, and whether it finished and
    saw only retryable failures (a 404 on a repeated DELETE or recover after
    a failed try means the first one was applied)."""
    LOCAL.tries = []
    error = None
    result = None
    try:
        result = fn()
    except Exception as e:
        error = f"{type(e).__name__}: {e}"[:300]
    tries, LOCAL.tries = LOCAL.tries, None
    unexpected = []
    failed_before = False
    for t in tries:
        s = t[1]
        if s == "challenge" or (isinstance(s, int) and s < 400):
            continue
        if t[0] == "GET" and s == 404:  # the SDK's pollers wait for 200
            continue
        if retryable(t):
            failed_before = True
            continue
        if s == 404 and failed_before and kind in ("delete", "recover"):
            error = None  # the earlier try was applied
            continue
        unexpected.append(t)
    record.append({"kind": kind, "name": name, "tries": tries,
                   "error": error, "unexpected": unexpected})
    return result if error is None else None


def jwk_public(pub):
    n = pub.public_numbers()
    return n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big")


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --- setup -----------------------------------------------------------------

def setup(state):
    nodes = [client(p) for p in NODES]
    # The shortest trigger is 7 days: a version expiring in 7 days and 15
    # seconds with "rotate 7 days before expiry" falls due 15 s from now,
    # by the policy's own rules (all three nodes' tickers then race for it).
    expires = datetime.datetime.now(datetime.timezone.utc) + \
        datetime.timedelta(days=7, seconds=15)
    rot = nodes[0].create_ec_key("rot", curve="P-256", expires_on=expires)
    policy = KeyRotationPolicy(expires_in="P28D", lifetime_actions=[
        KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate,
                                  time_before_expiry="P7D")])
    nodes[1].update_key_rotation_policy("rot", policy)
    check("rotation key made", rot.id is not None)
    # A backup made on node 1 restores on node 2 (the backup key derives
    # from the master key every node holds) and the key works on node 3.
    nodes[0].create_ec_key("bk", curve="P-256")
    blob = nodes[0].backup_key("bk")
    nodes[1].begin_delete_key("bk").result()
    nodes[2].purge_deleted_key("bk")
    restored = nodes[1].restore_key_backup(blob)
    check("backup from node 1 restored on node 2", restored.name == "bk")
    digest = hashlib.sha256(b"restored").digest()
    LOCAL.tries = None
    k3 = nodes[2].get_key("bk")
    sig = crypto_client(k3.id).sign(
        SignatureAlgorithm.es256, digest).signature
    pub = ec.EllipticCurvePublicNumbers(
        int.from_bytes(k3.key.x, "big"), int.from_bytes(k3.key.y, "big"),
        ec.SECP256R1()).public_key()
    r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
    try:
        pub.verify(utils.encode_dss_signature(r, s), digest,
                   ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        verified = True
    except Exception:
        verified = False
    check("the restored key signs on node 3", verified)


# --- load ------------------------------------------------------------------

def load_thread(t, state, record, acked, progress, max_ops):
    kc = client(LB)
    own_imports = []  # (name, public key)
    own = []
    rng = random.Random(t)
    for i in range(max_ops):
        if os.path.exists(os.path.join(state, "stop")):
            break
        step = i % 5
        if step == 0:
            name = f"c{t}n{i}"
            if run_op(record, "create", name, lambda: kc.create_ec_key(
                    name, curve="P-256", **OPS)) is not None:
                acked[name] = {"kind": "create"}
                own.append(name)
        elif step == 1:
            name = f"m{t}n{i}"
            priv = ec.generate_private_key(ec.SECP256R1())
            x, y = jwk_public(priv.public_key())
            d = priv.private_numbers().private_value.to_bytes(32, "big")
            jwk = JsonWebKey(kty="EC", crv="P-256", x=x, y=y, d=d,
                             key_ops=["sign", "verify"])
            if run_op(record, "import", name, lambda: kc.import_key(
                    name, jwk, **OPS)) is not None:
                acked[name] = {"kind": "import", "x": b64u(x), "y": b64u(y)}
                own_imports.append((name, priv.public_key()))
                own.append(name)
        elif step == 2 and own_imports:
            name, pub = rng.choice(own_imports)
            digest = hashlib.sha256(f"{t}/{i}".encode()).digest()
            cc = crypto_client(f"https://myvault.localhost:{LB}/keys/{name}")
            res = run_op(record, "sign", name, lambda: cc.sign(
                SignatureAlgorithm.es256, digest, **OPS))
            if res is not None:
                sig = res.signature
                r = int.from_bytes(sig[:32], "big")
                s = int.from_bytes(sig[32:], "big")
                try:
                    pub.verify(utils.encode_dss_signature(r, s), digest,
                               ec.ECDSA(utils.Prehashed(hashes.SHA256())))
                except Exception:
                    record[-1]["error"] = "the signature does not verify"
        elif step == 3 and own:
            name = rng.choice(own)
            run_op(record, "update", name, lambda: kc.update_key_properties(
                name, tags={"i": str(i)}, **OPS))
        elif step == 4:
            name = f"d{t}n{i}"
            if run_op(record, "create", name, lambda: kc.create_ec_key(
                    name, curve="P-256", **OPS)) is None:
                continue
            acked[name] = {"kind": "create"}
            if run_op(record, "delete", name, lambda: kc.begin_delete_key(
                    name, **OPS).result()) is None and record[-1]["error"]:
                continue
            acked[name] = {"kind": "deleted"}
            if run_op(record, "recover", name,
                      lambda: kc.begin_recover_deleted_key(
                          name, **OPS).result()) is not None or \
                    not record[-1]["error"]:
                acked[name] = {"kind": "recovered"}
                own.append(name)
        with progress["lock"]:
            progress["n"] += 1
            with open(os.path.join(state, "progress.tmp"), "w") as f:
                f.write(str(progress["n"]))
            os.replace(os.path.join(state, "progress.tmp"),
                       os.path.join(state, "progress"))


def load(state):
    record, acked = [], {}
    progress = {"n": 0, "lock": threading.Lock()}
    threads = [threading.Thread(target=load_thread,
                                args=(t, state, record, acked, progress, 2000))
               for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    with open(os.path.join(state, "load.json"), "w") as f:
        json.dump({"record": record, "acked": acked}, f)
    print(f"load: {len(record)} operations, {len(acked)} keys acknowledged")


# --- check -----------------------------------------------------------------

class Node:
    """Raw HTTPS to one node (a keep-alive connection) with its token."""

    def __init__(self, port):
        self.port = port
        self.token = mint(f"https://localhost:{port}")
        self.ctx = ssl.create_default_context(
            cafile=os.environ["REQUESTS_CA_BUNDLE"])
        self.conn = None

    def call(self, method, path, body=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPSConnection(
                    f"myvault.localhost:{self.port}", context=self.ctx,
                    timeout=30)
            try:
                self.conn.request(
                    method, f"{path}?api-version=7.4",
                    body=json.dumps(body) if body is not None else None,
                    headers={"Authorization": f"Bearer {self.token}",
                             "Content-Type": "application/json"})
                r = self.conn.getresponse()
                data = r.read()
                return r.status, json.loads(data) if data else {}
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise

    def sign_verifies(self, name):
        st, k = self.call("GET", f"/keys/{name}")
        if st != 200:
            return f"get {st}"
        digest = hashlib.sha256(f"{name}@{self.port}".encode()).digest()
        ver = k["key"]["kid"].rsplit("/", 1)[1]
        st, s = self.call("POST", f"/keys/{name}/{ver}/sign",
                          {"alg": "ES256", "value": b64u(digest)})
        if st != 200:
            return f"sign {st} {s}"
        sig = unb64u(s["value"])
        pub = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64u(k["key"]["x"]), "big"),
            int.from_bytes(unb64u(k["key"]["y"]), "big"),
            ec.SECP256R1()).public_key()
        try:
            pub.verify(utils.encode_dss_signature(
                int.from_bytes(sig[:32], "big"),
                int.from_bytes(sig[32:], "big")), digest,
                ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        except Exception:
            return "the signature does not verify"
        return None


def psql(sql):
    out = subprocess.run(
        ["psql", "-h", os.environ["KF_PG_DIR"], "-U", "kf", "-d", "keyferry",
         "-qAt", "-F", " ", "-c", sql], check=True, capture_output=True,
        env=dict(os.environ, PGPASSWORD=os.environ["KF_PG_PASSWORD"]))
    return [line.split(" ") for line in out.stdout.decode().splitlines()]


def check_load(state, nodes):
    with open(os.path.join(state, "load.json")) as f:
        load = json.load(f)
    record, acked = load["record"], load["acked"]
    kinds = {}
    for op in record:
        kinds[op["kind"]] = kinds.get(op["kind"], 0) + 1
    failed_tries = [t for op in record for t in op["tries"] if retryable(t)]
    print(f"check: {len(record)} operations {kinds}; {len(failed_tries)} "
          f"retryable failed tries carried through by the SDK's retries")
    check("the load ran every kind of operation",
          all(kinds.get(k, 0) >= 5 for k in
              ("create", "import", "sign", "update", "delete", "recover")),
          str(kinds))
    check("the failures made the clients retry", len(failed_tries) > 0)
    for op in record:
        check(f"{op['kind']} {op['name']} finished", op["error"] is None,
              f"{op['error']} tries {op['tries']}")
        check(f"{op['kind']} {op['name']} saw only retryable errors",
              not op["unexpected"], str(op["unexpected"]))
    # Versions: a write tried once made exactly one version; one tried n
    # times (the SDK retried after a cut connection) at most n.
    versions = {r[0]: int(r[1]) for r in psql(
        "SELECT name_lc, count(*) FROM key_versions GROUP BY name_lc")}
    write_tries = {}
    for op in record:
        if op["kind"] in ("create", "import"):
            n = sum(1 for t in op["tries"] if t[0] in ("POST", "PUT") and
                    t[1] != "challenge")
            write_tries[op["name"].lower()] = n
    for name, n in write_tries.items():
        got = versions.get(name, 0)
        if name in (a.lower() for a in acked):
            check(f"{name}: versions within tries", 1 <= got <= max(n, 1),
                  f"{got} versions, {n} tries")
            if n == 1:
                check(f"{name}: exactly one version", got == 1, str(got))
    orphans = psql("SELECT name_lc FROM key_names n WHERE NOT EXISTS (SELECT 1"
                   " FROM key_versions v WHERE v.vault = n.vault AND "
                   "v.name_lc = n.name_lc)")
    check("no name without a version (nothing half-there)", not orphans,
          str(orphans))
    known = {a.lower() for a in acked} | set(write_tries) | {"rot", "bk"}
    stray = [n for n in versions if n not in known]
    check("no key the clients did not ask for", not stray, str(stray))
    # Every acknowledged key is present and works on every node directly.
    for name, info in sorted(acked.items()):
        for node in nodes:
            why = node.sign_verifies(name)
            check(f"{name} ({info['kind']}) works on node {node.port}",
                  why is None, str(why))
        if info["kind"] == "import":
            st, k = nodes[0].call("GET", f"/keys/{name}")
            check(f"{name}: the imported public key", st == 200 and
                  (k["key"]["x"], k["key"]["y"]) == (info["x"], info["y"]))
    return acked


def check_disable(nodes, acked):
    """A key disabled through one node is refused by each other node on its
    very next request; enabled again, likewise usable at once."""
    names = [n for n, i in sorted(acked.items()) if i["kind"] == "create"]
    for i, node in enumerate(nodes):
        name = names[i % len(names)]
        for n in nodes:  # every node has it cached (if it caches)
            n.sign_verifies(name)
        st, _ = node.call("PATCH", f"/keys/{name}",
                          {"attributes": {"enabled": False}})
        check(f"disable {name} on node {node.port}", st == 200, str(st))
        for other in nodes:
            if other is node:
                continue
            why = other.sign_verifies(name)
            check(f"{name} disabled on {node.port}: refused by {other.port}",
                  why is not None, "it signed")
        st, _ = nodes[(i + 1) % 3].call("PATCH", f"/keys/{name}",
                                        {"attributes": {"enabled": True}})
        check(f"enable {name} again", st == 200, str(st))
        check(f"{name} enabled again: works on {node.port} at once",
              node.sign_verifies(name) is None)


def check_rotation(nodes):
    """The due rotation happened, exactly once across the three nodes."""
    # A node killed, or a database restarted, while it held the rotation's
    # lease delays it by the lease (60 s).
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline:
        count = int(psql("SELECT count(*) FROM key_versions "
                         "WHERE name_lc = 'rot'")[0][0])
        if count >= 2:
            break
        time.sleep(0.2)  # polling the database, with a deadline
    check("the due rotation happened exactly once", count == 2,
          f"{count} versions of rot")
    for node in nodes:
        st, page = node.call("GET", "/keys/rot/versions")
        check(f"node {node.port} lists rot's two versions",
              st == 200 and len(page.get("value", [])) == 2, str(page)[:300])


def check_all(state):
    nodes = [Node(p) for p in NODES]
    acked = check_load(state, nodes)
    check_disable(nodes, acked)
    check_rotation(nodes)


def main():
    cmd, state = sys.argv[1], sys.argv[2]
    {"setup": setup, "load": load, "check": check_all}[cmd](state)
    if fails:
        print(f"cluster_driver {cmd}: {len(fails)} failed", file=sys.stderr)
        sys.exit(1)
    print(f"cluster_driver {cmd}: passed")


if __name__ == "__main__":
    main()
