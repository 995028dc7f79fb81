#!/usr/bin/python3
"""keyferryd against the physical limit (issue 5). Driven by bench/run.sh.

Starts a Release keyferryd on a private data directory (embedded defaults:
software custody, SQLite), makes the keys the operations need, seeds the
store for the list and scale measurements, then for several interleaved
rounds measures every operation twice on the same machine:
  * keyferryd over HTTPS with bench/kf_loadgen (keep-alive connections,
    closed loop, its own CPU use reported);
  * the raw OpenSSL rate of the same arithmetic with bench/kf_raw (one
    thread per core).
Prints one table of medians (operation, keyferryd ops/s, raw ops/s, ratio,
p50, p99, keyferryd's and the load generator's CPU in cores, and the ratio
per core keyferryd used) and writes it as JSON under bench/results/.

--store postgres runs keyferryd on a private PostgreSQL 15 cluster made for
the run (initdb in the temporary directory, unix socket only, stopped at the
end); --nodes N runs N keyferryd nodes on that one database with HAProxy in
front (deploy/haproxy.cfg, TLS passthrough, ports of this machine), and the
clients go through HAProxy. Then a second table gives the database's CPU
per request (its processes' CPU time over each run).
"""

import argparse
import base64
import datetime
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from nodes import API, HOST, VAULT, Cluster, Conn, PgCluster, Server


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def byok_blob(kek_jwk, kid, payload):
    """An Azure .byok blob: RSA-OAEP-SHA1(k) || RFC 5649 wrap of payload."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

    def num(s):
        return int.from_bytes(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)),
                              "big")
    pub = rsa.RSAPublicNumbers(num(kek_jwk["e"]), num(kek_jwk["n"])).public_key()
    k = os.urandom(32)
    c1 = pub.encrypt(k, padding.OAEP(mgf=padding.MGF1(hashes.SHA1()),
                                     algorithm=hashes.SHA1(), label=None))
    c2 = aes_key_wrap_with_padding(k, payload)
    blob = {"schema_version": "1.0.0",
            "header": {"kid": kid, "alg": "dir", "enc": "CKM_RSA_AES_KEY_WRAP"},
            "ciphertext": b64u(c1 + c2),
            "generator": "keyferry bench"}
    return b64u(json.dumps(blob).encode())


def rsa2048_pkcs8():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    k = rsa.generate_private_key(65537, 2048)
    return k.private_bytes(serialization.Encoding.DER,
                           serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())


def setup(srv, work, connections=32):
    """Makes the keys and request bodies; returns the operation table."""
    digest32 = b64u(hashlib.sha256(b"keyferry").digest())
    digest48 = b64u(hashlib.sha384(b"keyferry").digest())
    digest64 = b64u(hashlib.sha512(b"keyferry").digest())
    create = lambda name, body: srv.call("POST", "/keys/%s/create" % name, body)
    for bits in (2048, 3072, 4096):
        create("rsa%d" % bits, {"kty": "RSA", "key_size": bits})
    for crv, name in (("P-256", "ec256"), ("P-384", "ec384"),
                      ("P-521", "ec521"), ("P-256K", "ec256k")):
        create(name, {"kty": "EC", "crv": crv})
    # One P-256 key per load generator connection ("-many" operations: no
    # two requests in flight read the same key).
    for c in range(connections):
        create("ec256-c%d" % c, {"kty": "EC", "crv": "P-256"})
    create("oct256", {"kty": "oct-HSM", "key_size": 256})
    kek = create("kek4096", {"kty": "RSA-HSM", "key_size": 4096,
                             "key_ops": ["import"]})
    ops = []

    def body(name, obj):
        path = os.path.join(work, name + ".json")
        with open(path, "w") as f:
            f.write(json.dumps(obj))
        return path

    def op(name, method, target, obj, raw, goal):
        ops.append({"op": name, "method": method, "target": target,
                    "body": body(name, obj) if obj is not None else None,
                    "raw": raw, "goal": goal})

    for name, key, alg, dg in (
            ("sign-rs256-2048", "rsa2048", "RS256", digest32),
            ("sign-rs256-3072", "rsa3072", "RS256", digest32),
            ("sign-rs256-4096", "rsa4096", "RS256", digest32),
            ("sign-ps256-2048", "rsa2048", "PS256", digest32),
            ("sign-es256", "ec256", "ES256", digest32),
            ("sign-es384", "ec384", "ES384", digest48),
            ("sign-es512", "ec521", "ES512", digest64),
            ("sign-es256k", "ec256k", "ES256K", digest32)):
        goal = ("ratio", 0.85) if "rs" in name or "ps" in name else ("ratio", 0.5)
        op(name, "POST", "/keys/%s//sign?%s" % (key, API),
           {"alg": alg, "value": dg}, name, goal)
    # (raw: sign-es256's, not measured twice)
    op("sign-es256-many", "POST", "/keys/ec256-c{c}//sign?" + API,
       {"alg": "ES256", "value": digest32}, None, None)
    for name, key, alg in (("verify-rs256-2048", "rsa2048", "RS256"),
                           ("verify-es256", "ec256", "ES256")):
        sig = srv.call("POST", "/keys/%s//sign" % key,
                       {"alg": alg, "value": digest32})["value"]
        op(name, "POST", "/keys/%s//verify?%s" % (key, API),
           {"alg": alg, "digest": digest32, "value": sig}, name,
           ("rps", 20000))
    op("encrypt-oaep256-2048", "POST", "/keys/rsa2048//encrypt?" + API,
       {"alg": "RSA-OAEP-256", "value": b64u(os.urandom(32))},
       "encrypt-oaep256-2048", ("rps", 20000))
    ct = srv.call("POST", "/keys/rsa2048//encrypt",
                  {"alg": "RSA-OAEP", "value": b64u(os.urandom(32))})["value"]
    op("decrypt-oaep-2048", "POST", "/keys/rsa2048//decrypt?" + API,
       {"alg": "RSA-OAEP", "value": ct}, "decrypt-oaep-2048", ("ratio", 0.85))
    op("wrap-a256kw", "POST", "/keys/oct256//wrapkey?" + API,
       {"alg": "A256KW", "value": b64u(os.urandom(32))}, "wrap-a256kw", None)
    wrapped = srv.call("POST", "/keys/oct256//wrapkey",
                       {"alg": "A256KW", "value": b64u(os.urandom(32))})["value"]
    op("unwrap-a256kw", "POST", "/keys/oct256//unwrapkey?" + API,
       {"alg": "A256KW", "value": wrapped}, "unwrap-a256kw", None)
    op("get-key", "GET", "/keys/ec256?" + API, None, None, ("rps", 20000))
    op("get-key-many", "GET", "/keys/ec256-c{c}?" + API, None, None, None)
    op("create-rsa2048", "POST", "/keys/c-rsa-{n}/create?" + API,
       {"kty": "RSA", "key_size": 2048}, "create-rsa2048", ("ratio", 0.85))
    op("create-ec256", "POST", "/keys/c-ec-{n}/create?" + API,
       {"kty": "EC", "crv": "P-256"}, "create-ec256", ("rps", 2000))
    op("create-oct256", "POST", "/keys/c-oct-{n}/create?" + API,
       {"kty": "oct-HSM", "key_size": 256}, "create-oct256", ("rps", 2000))
    kid = kek["key"]["kid"]
    op("byok-rsa2048-kek4096", "PUT", "/keys/b-rsa-{n}?" + API,
       {"key": {"kty": "RSA-HSM", "key_ops": ["sign", "verify"],
                "key_hsm": byok_blob(kek["key"], kid, rsa2048_pkcs8())}},
       "byok-rsa2048-kek4096", ("ratio", 0.8))
    op("byok-aes256-kek4096", "PUT", "/keys/b-aes-{n}?" + API,
       {"key": {"kty": "oct-HSM", "key_ops": ["wrapKey", "unwrapKey"],
                "key_hsm": byok_blob(kek["key"], kid, os.urandom(32))}},
       "byok-aes256-kek4096", ("ratio", 0.8))
    op("list-keys", "GET", "/keys?maxresults=25&" + API, None, None, None)
    return ops


def loadgen(build, srv, o, seconds, connections):
    cmd = [os.path.join(build, "bench/kf_loadgen"), "--host", HOST,
           "--port", str(srv.port), "--ca",
           os.path.join(srv.data_dir, "tls/ca.pem"),
           "--token-file", srv.token_file, "--method", o["method"],
           "--target", o["target"], "--connections", str(connections),
           "--seconds", str(seconds)]
    if o["body"]:
        cmd += ["--body-file", o["body"]]
    db = getattr(srv, "db", None)
    lb = getattr(srv, "lb_cpu_seconds", None)
    load = os.getloadavg()[0]
    cpu0 = srv.cpu_seconds()
    cs0 = srv.context_switches()
    db0 = db.cpu_seconds() if db else 0.0
    lb0 = lb() if lb else 0.0
    r = subprocess.run(cmd, capture_output=True, text=True)
    cpu1 = srv.cpu_seconds()
    cs1 = srv.context_switches()
    db1 = db.cpu_seconds() if db else 0.0
    lb1 = lb() if lb else 0.0
    if r.returncode != 0:
        sys.exit("bench: %s: %s" % (o["op"], (r.stderr or r.stdout).strip()))
    out = json.loads(r.stdout)
    # keyferryd's own CPU over the run (warm-up included, so a slight
    # overestimate), in cores; the same for the database and HAProxy. The
    # machine's 1-minute load average when the run started.
    secs = max(out["seconds"], 1e-9)
    out["server_cores"] = (cpu1 - cpu0) / secs
    # keyferryd's context switches per request (warm-up included): each
    # wait for the database, a pool thread or the audit log is one.
    out["server_cs_per_req"] = (cs1 - cs0) / max(out["requests"], 1)
    out["load1"] = load
    if db:
        out["db_cores"] = (db1 - db0) / secs
    if lb:
        out["lb_cores"] = (lb1 - lb0) / secs
    return out


def raw(build, op, seconds):
    r = subprocess.run([os.path.join(build, "bench/kf_raw"), "--op", op,
                        "--seconds", str(seconds)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench: raw %s: %s" % (op, r.stderr.strip()))
    return json.loads(r.stdout)


def seed(build, srv, count, first=0):
    if count <= 0:
        return None
    store = ["--store", "postgres"] if getattr(srv, "db", None) else []
    r = subprocess.run([os.path.join(build, "bench/kf_seed"), "--data-dir",
                        srv.data_dir, "--vault", VAULT, "--count", str(count),
                        "--first", str(first)] + store,
                       capture_output=True, text=True,
                       env=getattr(srv, "env", None))
    if r.returncode != 0:
        sys.exit("bench: seed: " + r.stderr.strip())
    return json.loads(r.stdout)


def list_all(srv):
    """Pages through every key with nextLink; returns (count, seconds)."""
    t0 = time.monotonic()
    n = 0
    path = "/keys?maxresults=25"
    c = Conn(srv.port, srv.ctx)
    headers = {"Authorization": "Bearer " + srv.token}
    while path:
        sep = "&" if "?" in path else "?"
        c.request("GET", path + sep + API if "api-version" not in path else path,
                  headers=headers)
        r = c.getresponse()
        page = json.loads(r.read())
        if r.status != 200:
            sys.exit("bench: list: %d %s" % (r.status, page))
        n += len(page["value"])
        nxt = page.get("nextLink")
        path = None
        if nxt:
            path = nxt[nxt.index("/keys"):]
    return n, time.monotonic() - t0


def latency_probe(build, srv, ops, seconds):
    """One connection, closed loop: the latency of get-key and sign-es256."""
    out = {}
    for o in ops:
        if o["op"] in ("get-key", "sign-es256"):
            r = loadgen(build, srv, o, seconds, 1)
            out[o["op"]] = {"p50_ms": r["p50_ms"], "p99_ms": r["p99_ms"]}
    return out


def softhsm_custody(work):
    """Makes a SoftHSMv2 token in `work` for keyferryd and returns its flags."""
    d = os.path.join(work, "softhsm")
    os.makedirs(os.path.join(d, "tokens"))
    with open(os.path.join(d, "softhsm2.conf"), "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\n"
                "log.level = ERROR\nslots.removable = false\n"
                % os.path.join(d, "tokens"))
    os.environ["SOFTHSM2_CONF"] = os.path.join(d, "softhsm2.conf")
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label",
                    "bench", "--so-pin", "87654321", "--pin", "1234"],
                   check=True, stdout=subprocess.DEVNULL)
    pin = os.path.join(d, "pin")
    with open(os.open(pin, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write("1234\n")
    return ["--custody", "pkcs11", "--pkcs11-token", "bench",
            "--pkcs11-pin-file", pin]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--list-keys", type=int, default=100000,
                    help="keys in the store for list-keys")
    ap.add_argument("--scale-keys", type=int, default=0,
                    help="also measure start-up, memory and latency at 1,000 "
                         "and at this many keys (e.g. 1000000)")
    ap.add_argument("--only", default="", help="comma-separated operations")
    ap.add_argument("--out", default="")
    ap.add_argument("--compare-build", default="",
                    help="a build of another version (e.g. before a change): "
                         "both keyferryds run side by side, each operation "
                         "measured on one then the other in every round, and "
                         "a before/after table is printed")
    ap.add_argument("--custody", default="software",
                    choices=("software", "pkcs11"),
                    help="pkcs11: keyferryd keeps its keys in a private "
                         "SoftHSMv2 token made for the run")
    ap.add_argument("--store", default="sqlite",
                    choices=("sqlite", "postgres"),
                    help="postgres: keyferryd on a private PostgreSQL 15 "
                         "cluster made for the run")
    ap.add_argument("--nodes", type=int, default=1,
                    help="more than 1: that many keyferryd nodes on one "
                         "PostgreSQL database (implies --store postgres) "
                         "with HAProxy in front; clients go through HAProxy")
    ap.add_argument("--postgres-pool", type=int, default=0,
                    help="keyferryd's postgres-pool (default: its own)")
    ap.add_argument("--threads", type=int, default=0,
                    help="keyferryd's I/O threads (default: its own, one "
                         "per core)")
    args = ap.parse_args()
    if args.nodes > 1:
        args.store = "postgres"
    if args.store == "postgres" and (args.compare_build or args.scale_keys):
        sys.exit("bench: --compare-build and --scale-keys run on SQLite only")
    if args.compare_build:
        return compare(args)

    cores = os.cpu_count()
    work = tempfile.mkdtemp(prefix="kf_bench.")
    data = os.path.join(work, "data")
    log = open(os.path.join(work, "keyferryd.log"), "w")
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "host": platform.node(), "cores": cores,
              "cpu": platform.processor() or platform.machine(),
              "rounds": args.rounds, "seconds": args.seconds,
              "connections": args.connections, "custody": args.custody,
              "store": args.store, "nodes": args.nodes,
              "postgres_pool": args.postgres_pool or None,
              "threads": args.threads or None,
              "operations": [], "scale": {}}
    db = None
    srv = None
    try:
        extra = softhsm_custody(work) if args.custody == "pkcs11" else []
        if args.threads:
            extra += ["--threads", str(args.threads)]
        env = None
        if args.store == "postgres":
            db = PgCluster(work)
            db.start()
            extra += ["--store", "postgres"]
            if args.postgres_pool:
                extra += ["--postgres-pool", str(args.postgres_pool)]
            env = dict(os.environ, KEYFERRY_POSTGRES_URL=db.url)
        if args.nodes > 1:
            srv = Cluster(args.build, work, args.nodes, db, extra, env)
        else:
            srv = Server(args.build, data, log)
            srv.extra, srv.env, srv.db = extra, env, db
        srv.start()
        ops = setup(srv, work, args.connections)
        if args.only:
            keep = set(args.only.split(","))
            ops = [o for o in ops if o["op"] in keep]
        if any(o["op"] == "list-keys" for o in ops) and args.list_keys > 0:
            if db is None:
                srv.stop()  # SQLite: one process at a time
            s = seed(args.build, srv, args.list_keys)
            print("seeded %d keys in %.1f s (%.0f/s)" %
                  (s["seeded"], s["seconds"], s["rps"]), flush=True)
            if db is None:
                srv.start()
        samples = {o["op"]: {"srv": [], "raw": []} for o in ops}
        for rnd in range(args.rounds):
            for o in ops:
                r = loadgen(args.build, srv, o, args.seconds, args.connections)
                samples[o["op"]]["srv"].append(r)
                if o["raw"]:
                    samples[o["op"]]["raw"].append(
                        raw(args.build, o["raw"], args.seconds))
                print("round %d %-22s %9.0f req/s  load %.2f" %
                      (rnd + 1, o["op"], r["rps"], r["load1"]), flush=True)
        if any(o["op"] == "list-keys" for o in ops):
            n, secs = list_all(srv)
            result["list_all"] = {"keys": n, "seconds": round(secs, 2),
                                  "keys_per_s": round(n / secs)}
        if args.scale_keys > 0:
            result["scale"] = scale(args, ops)
    finally:
        if srv:
            srv.stop()
            if isinstance(srv, Cluster):
                srv.close()
        if db:
            db.stop()
        log.close()

    med = statistics.median
    rows = []
    for o in ops:
        s = samples[o["op"]]
        rps = med(x["rps"] for x in s["srv"])
        raw_rps = med(x["rps"] for x in s["raw"]) if s["raw"] else None
        row = {"op": o["op"], "keyferryd_rps": round(rps, 1),
               "raw_rps": round(raw_rps, 1) if raw_rps else None,
               "ratio": round(rps / raw_rps, 3) if raw_rps else None,
               "p50_ms": round(med(x["p50_ms"] for x in s["srv"]), 3),
               "p99_ms": round(med(x["p99_ms"] for x in s["srv"]), 3),
               "loadgen_cores": round(med(x["cpu_share"] for x in s["srv"]), 2),
               "server_cores": round(med(x["server_cores"] for x in s["srv"]), 2),
               "errors": sum(x["errors"] for x in s["srv"]),
               "rounds_rps": [round(x["rps"]) for x in s["srv"]],
               "load1": round(med(x["load1"] for x in s["srv"]), 2),
               "rounds_load1": [round(x["load1"], 2) for x in s["srv"]]}
        if db:
            row["db_cores"] = round(med(x["db_cores"] for x in s["srv"]), 3)
            # The database's CPU per request, median over the rounds.
            row["db_us_per_req"] = round(med(
                1e6 * x["db_cores"] / max(x["rps"], 1e-9)
                for x in s["srv"]), 1)
        if args.nodes > 1:
            row["lb_cores"] = round(med(x["lb_cores"] for x in s["srv"]), 3)
        row["server_cs_per_req"] = round(med(
            x["server_cs_per_req"] for x in s["srv"]), 2)
        row["server_us_per_req"] = round(med(
            1e6 * x["server_cores"] / max(x["rps"], 1e-9)
            for x in s["srv"]), 1)
        # The ratio on the CPU keyferryd actually got: its rate per core it
        # used against the raw rate per core. Shows what the per-request
        # cost (TLS, HTTP, JSON, store) takes, apart from the load
        # generator's share of the machine.
        if raw_rps and row["server_cores"] > 0:
            row["ratio_per_core"] = round(
                (rps / row["server_cores"]) / (raw_rps / cores), 3)
        if o["goal"]:
            kind, want = o["goal"]
            got = row["ratio"] if kind == "ratio" else rps
            row["goal"] = ("ratio >= %.2f" % want if kind == "ratio"
                           else ">= %d req/s" % want)
            row["goal_met"] = got is not None and got >= want
        rows.append(row)
    result["operations"] = rows

    print()
    print("%-22s %12s %12s %7s %9s %9s %8s %8s %8s  %s" %
          ("operation", "keyferryd/s", "raw/s", "ratio", "p50 ms", "p99 ms",
           "kfd cpu", "gen cpu", "r/core", "goal"))
    for r in rows:
        goal = ""
        if "goal" in r:
            goal = ("met " if r["goal_met"] else "MISSED ") + r["goal"]
        print("%-22s %12.0f %12s %7s %9.2f %9.2f %8.2f %8.2f %8s  %s" %
              (r["op"], r["keyferryd_rps"],
               "%.0f" % r["raw_rps"] if r["raw_rps"] else "-",
               "%.2f" % r["ratio"] if r["ratio"] else "-",
               r["p50_ms"], r["p99_ms"], r["server_cores"],
               r["loadgen_cores"],
               "%.2f" % r["ratio_per_core"] if "ratio_per_core" in r else "-",
               goal))
    print()
    print("store %s, %d node%s%s; CPU per request (median of rounds), "
          "1-minute load at the start of each run (median)" %
          (args.store, args.nodes, "s behind HAProxy" if args.nodes > 1 else "",
           ", postgres-pool %d" % args.postgres_pool
           if args.postgres_pool else ""))
    print("%-22s %8s %10s %10s %9s %10s %8s" %
          ("operation", "load", "kfd us/req", "kfd cs/req", "db cores",
           "db us/req", "lb cores"))
    for r in rows:
        print("%-22s %8.2f %10.1f %10.2f %9s %10s %8s" %
              (r["op"], r["load1"], r["server_us_per_req"],
               r["server_cs_per_req"],
               "%.2f" % r["db_cores"] if "db_cores" in r else "-",
               "%.1f" % r["db_us_per_req"] if "db_us_per_req" in r else "-",
               "%.2f" % r["lb_cores"] if "lb_cores" in r else "-"))
    if "list_all" in result:
        la = result["list_all"]
        print("list all: %d keys paged in %.1f s (%d keys/s)" %
              (la["keys"], la["seconds"], la["keys_per_s"]))
    if result["scale"]:
        print("scale: " + json.dumps(result["scale"]))
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "%s-%s.json" % (datetime.datetime.now().strftime("%Y%m%d-%H%M%S"),
                        platform.node()))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print("written " + out)
    shutil.rmtree(work, ignore_errors=True)
    errors = sum(r["errors"] for r in rows)
    return 1 if errors else 0


def compare(args):
    """Before/after: the same operations against two builds, interleaved.

    `--compare-build` is the "before" keyferryd (with its own kf_seed), the
    `--build` one the "after"; the load generator is the --build one for
    both. Each runs on its own data directory; in every round each operation
    is measured on both, the first of the two alternating by round, so drift
    of the machine hits both.
    """
    work = tempfile.mkdtemp(prefix="kf_compare.")
    builds = {"before": args.compare_build, "after": args.build}
    srvs, ops, logs = {}, {}, []
    result = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
              "host": platform.node(), "cores": os.cpu_count(),
              "rounds": args.rounds, "seconds": args.seconds,
              "connections": args.connections, "builds": builds,
              "operations": []}
    try:
        for name, build in builds.items():
            d = os.path.join(work, name)
            os.makedirs(d)
            log = open(os.path.join(d, "keyferryd.log"), "w")
            logs.append(log)
            srv = Server(build, os.path.join(d, "data"), log)
            if args.custody == "pkcs11":
                srv.extra = softhsm_custody(d)
            srv.start()
            o = setup(srv, d, args.connections)
            if args.only:
                keep = set(args.only.split(","))
                o = [x for x in o if x["op"] in keep]
            if any(x["op"] == "list-keys" for x in o) and args.list_keys > 0:
                srv.stop()
                seed(build, srv, args.list_keys)
                srv.start()
            srvs[name], ops[name] = srv, o
        samples = {x["op"]: {"before": [], "after": []} for x in ops["after"]}
        for rnd in range(args.rounds):
            for i, o in enumerate(ops["after"]):
                # Alternate who goes first, so a drift within a round (or
                # a cache the first run warms) does not favour one build.
                order = ("before", "after") if rnd % 2 == 0 else ("after", "before")
                for name in order:
                    r = loadgen(args.build, srvs[name], ops[name][i],
                                args.seconds, args.connections)
                    samples[o["op"]][name].append(r)
                    print("round %d %-22s %-6s %9.0f req/s" %
                          (rnd + 1, o["op"], name, r["rps"]), flush=True)
    finally:
        for srv in srvs.values():
            srv.stop()
        for log in logs:
            log.close()
    med = statistics.median
    print()
    print("%-22s %12s %12s %8s %11s %11s" %
          ("operation", "before/s", "after/s", "change", "p50 before",
           "p50 after"))
    errors = 0
    for o in ops["after"]:
        s = samples[o["op"]]
        b = med(x["rps"] for x in s["before"])
        a = med(x["rps"] for x in s["after"])
        pb = med(x["p50_ms"] for x in s["before"])
        pa = med(x["p50_ms"] for x in s["after"])
        errors += sum(x["errors"] for x in s["before"] + s["after"])
        result["operations"].append(
            {"op": o["op"], "before_rps": round(b, 1), "after_rps": round(a, 1),
             "change": round(a / b - 1, 3), "p50_before_ms": round(pb, 3),
             "p50_after_ms": round(pa, 3),
             "rounds_before": [round(x["rps"]) for x in s["before"]],
             "rounds_after": [round(x["rps"]) for x in s["after"]]})
        print("%-22s %12.0f %12.0f %+7.1f%% %11.2f %11.2f" %
              (o["op"], b, a, 100 * (a / b - 1), pb, pa))
    out = args.out or os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "results",
        "%s-compare.json" % datetime.datetime.now().strftime("%Y%m%d-%H%M%S"))
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print("written " + out)
    shutil.rmtree(work, ignore_errors=True)
    return 1 if errors else 0


def scale(args, ops):
    """Start-up, memory and latency with 1,000 keys and with scale_keys keys."""
    work = tempfile.mkdtemp(prefix="kf_scale.")
    log = open(os.path.join(work, "keyferryd.log"), "w")
    srv = Server(args.build, os.path.join(work, "data"), log)
    out = {}
    try:
        srv.start()
        probe_ops = setup(srv, work, connections=0)
        have = 0
        for n in (1000, args.scale_keys):
            srv.stop()
            s = seed(args.build, srv, n - have, first=have)
            have = n
            ready = srv.start()
            lat = latency_probe(args.build, srv, probe_ops, max(args.seconds, 2))
            out[str(n)] = {"startup_s": round(ready, 3),
                           "rss_mib": round(srv.rss_mib(), 1),
                           "latency": lat,
                           "seed_rps": s["rps"] if s else None}
            print("scale %d keys: %s" % (n, json.dumps(out[str(n)])), flush=True)
    finally:
        srv.stop()
        log.close()
        shutil.rmtree(work, ignore_errors=True)
    return out


if __name__ == "__main__":
    sys.exit(main())
