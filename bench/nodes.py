"""The processes bench.py measures: keyferryd (one node, or several on one
PostgreSQL database behind HAProxy) and the PostgreSQL cluster made for a
run. Imported by bench.py."""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

VAULT = "benchvault"
HOST = VAULT + ".localhost"
API = "api-version=7.4"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Conn(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1 with SNI and certificate check for HOST."""

    def __init__(self, port, ctx):
        super().__init__(HOST, port, context=ctx, timeout=600)
        self._ctx = ctx

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._ctx.wrap_socket(sock, server_hostname=HOST)


class Server:
    def __init__(self, build, data_dir, log):
        self.bin = os.path.join(build, "src/server/keyferryd")
        self.data_dir = data_dir
        self.log = log
        self.port = free_port()
        self.id_port = free_port()
        self.proc = None
        self.token = None
        self.ctx = None
        self.extra = []  # e.g. the PKCS#11 custody or store flags
        self.env = None  # e.g. KEYFERRY_POSTGRES_URL
        self.db = None  # the PgCluster of --store postgres

    def args(self):
        return ["--data-dir", self.data_dir,
                "--listen", "127.0.0.1:%d" % self.port,
                "--identity-listen", "127.0.0.1:%d" % self.id_port,
                "--vaults", VAULT, "--identity-principal", "bench"] + self.extra

    def start(self):
        """Starts keyferryd; returns seconds from exec to the first 200 of /healthz.

        free_port's ports are a pick, not a reservation: when another
        process took one before keyferryd could listen on it, new ports are
        picked and keyferryd started again (a few times), as long as no
        token names the old ones."""
        for attempt in range(5):
            ready = self.start_once()
            if ready is not None:
                break
            if self.token is not None or attempt == 4:
                sys.exit("bench: keyferryd exited; see its log")
            self.port, self.id_port = free_port(), free_port()
        if self.token is None:
            out = subprocess.run([self.bin, "token", "--principal", "bench",
                                  "--lifetime", "86400"] + self.args(),
                                 check=True, capture_output=True, text=True,
                                 env=self.env)
            self.token = out.stdout.strip()
            self.token_file = os.path.join(os.path.dirname(self.data_dir),
                                           "token")
            with open(self.token_file, "w") as f:
                f.write(self.token)
        return ready

    def start_once(self):
        """One start: seconds to ready, or None when keyferryd exited because
        a port was in use (any other exit ends the run)."""
        t0 = time.monotonic()
        self.log.flush()
        log_from = os.path.getsize(self.log.name)
        self.proc = subprocess.Popen([self.bin, "serve"] + self.args(),
                                     stdout=self.log, stderr=self.log,
                                     env=self.env)
        ca = os.path.join(self.data_dir, "tls/ca.pem")
        deadline = t0 + 120
        while True:
            if self.proc.poll() is not None:
                with open(self.log.name, errors="replace") as f:
                    f.seek(log_from)
                    if "Address already in use" in f.read():
                        return None
                sys.exit("bench: keyferryd exited; see its log")
            if time.monotonic() > deadline:
                sys.exit("bench: keyferryd not ready in 120 s; see its log")
            if os.path.exists(ca):
                try:
                    if self.ctx is None:
                        self.ctx = ssl.create_default_context(cafile=ca)
                    c = Conn(self.port, self.ctx)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        return time.monotonic() - t0
                except OSError:
                    pass
            time.sleep(0.005)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.proc = None

    def cpu_seconds(self):
        """keyferryd's user + system CPU time so far."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def context_switches(self):
        """keyferryd's context switches so far (voluntary and not), summed
        over its threads; threads that exited are not counted."""
        return proc_context_switches(self.proc.pid)

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def call(self, method, path, body=None, expect=200):
        c = Conn(self.port, self.ctx)
        headers = {"Authorization": "Bearer " + self.token}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        sep = "&" if "?" in path else "?"
        c.request(method, path + sep + API, body=data, headers=headers)
        r = c.getresponse()
        text = r.read()
        if r.status != expect:
            sys.exit("bench: %s %s answered %d: %s" %
                     (method, path, r.status, text[:300]))
        return json.loads(text) if text else None


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PGBIN = "/usr/lib/postgresql/15/bin"  # Debian's postgresql-15


def proc_context_switches(pid):
    """Context switches of every live thread of process `pid`."""
    total = 0
    base = "/proc/%d/task" % pid
    for t in os.listdir(base):
        try:
            with open(os.path.join(base, t, "status")) as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches:",
                                        "nonvoluntary_ctxt_switches:")):
                        total += int(line.split()[1])
        except OSError:
            continue  # the thread exited meanwhile
    return total


def proc_cpu(pid, children=False):
    """User + system CPU seconds of `pid` (with its reaped children's when
    `children`); 0 when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class PgCluster:
    """A private PostgreSQL 15 cluster for one run: initdb in `work`/pg,
    listening only on a unix socket there (no TCP port), superuser kf with a
    random password (scram-sha-256), database keyferry. Run as nobody when
    we are root (PostgreSQL refuses root). Durability as shipped: fsync and
    synchronous_commit on, so a create's answer waits for its WAL flush."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        self.data = os.path.join(self.dir, "data")
        self.password = os.urandom(16).hex()
        self.root = os.geteuid() == 0
        self.url = "host=%s user=kf password=%s dbname=keyferry" % (
            self.dir, self.password)
        self.running = False

    def owner(self, argv):
        if self.root:
            return ["setpriv", "--reuid=65534", "--regid=65534",
                    "--clear-groups"] + argv
        return argv

    def run(self, argv):
        with open(os.path.join(self.dir, "cmd.log"), "a") as log:
            r = subprocess.run(self.owner(argv), cwd=self.dir, stdout=log,
                               stderr=log)
        if r.returncode != 0:
            sys.exit("bench: %s failed; see %s/cmd.log and server.log" %
                     (os.path.basename(argv[0]), self.dir))

    def start(self):
        os.makedirs(self.dir)
        if self.root:
            # nobody must reach its directory through ours.
            os.chmod(os.path.dirname(self.dir), 0o711)
            os.chown(self.dir, 65534, 65534)
        pw = os.path.join(self.dir, "pw")
        with open(pw, "w") as f:
            f.write(self.password + "\n")
        if self.root:
            os.chown(pw, 65534, 65534)
        self.run([os.path.join(PGBIN, "initdb"), "-D", self.data, "-U", "kf",
                  "--pwfile=" + pw, "--auth=scram-sha-256", "-E", "UTF8",
                  "--locale=C", "--no-sync"])
        os.unlink(pw)
        self.run([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-l",
                  os.path.join(self.dir, "server.log"), "-w", "-o",
                  "-k %s -c listen_addresses='' -c max_connections=200"
                  % self.dir, "start"])
        self.running = True
        env = dict(os.environ, PGPASSWORD=self.password)
        subprocess.run(["psql", "-h", self.dir, "-U", "kf", "-d", "postgres",
                        "-qAt", "-v", "ON_ERROR_STOP=1", "-c",
                        "CREATE DATABASE keyferry"], check=True, env=env,
                       stdout=subprocess.DEVNULL)

    def stop(self):
        if self.running:
            self.run([os.path.join(PGBIN, "pg_ctl"), "-D", self.data, "-w",
                      "-m", "fast", "stop"])
            self.running = False

    def cpu_seconds(self):
        """CPU time of the whole server so far: the postmaster with its
        reaped children (backends that exited) plus its live children
        (backends, WAL writer, checkpointer, ...)."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            pm = int(f.readline())
        total = proc_cpu(pm, children=True)
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == pm:
                total += proc_cpu(int(d))
        return total


class Cluster:
    """`n` keyferryd nodes on one PostgreSQL database with HAProxy in front
    (deploy/haproxy.cfg: TLS passthrough, leastconn, health checks on
    /healthz), as tests/e2e/cluster_test.sh runs them: node 1 starts first
    and makes the deployment's secrets (in the database), nodes 2..n get
    its master key file and TLS files copied, every node names HAProxy's
    port as its public port (tokens carry it). Looks like one Server to the
    rest of this script: `port` is HAProxy's, `cpu_seconds` the nodes'."""

    call = Server.call

    def __init__(self, build, work, n, db, extra, env):
        self.work = work
        self.db = db
        self.env = env
        self.extra = extra
        self.nodes, self.logs = [], []
        for i in range(1, n + 1):
            d = os.path.join(work, "n%d" % i)
            os.makedirs(d)
            log = open(os.path.join(d, "keyferryd.log"), "w")
            self.logs.append(log)
            node = Server(build, os.path.join(d, "data"), log)
            node.env, node.db = env, db
            self.nodes.append(node)
        self.data_dir = self.nodes[0].data_dir
        self.port = free_port()  # HAProxy's; the nodes' tokens name it
        self.ha = None
        self.ha_log = open(os.path.join(work, "haproxy.log"), "w")
        self.token = self.token_file = self.ctx = None

    def start(self):
        for attempt in range(5):
            for node in self.nodes:
                node.extra = self.extra + ["--public-port", str(self.port)]
                node.token = None
            self.nodes[0].start()
            for node in self.nodes[1:]:
                if not os.path.exists(node.data_dir):
                    os.makedirs(node.data_dir, mode=0o700)
                    shutil.copy2(os.path.join(self.data_dir, "master.key"),
                                 node.data_dir)
                    shutil.copytree(os.path.join(self.data_dir, "tls"),
                                    os.path.join(node.data_dir, "tls"))
                node.start()
            self.ctx = self.nodes[0].ctx
            if self.start_haproxy():
                self.token = self.nodes[0].token
                self.token_file = self.nodes[0].token_file
                return
            # Its port was taken meanwhile: the tokens name it, start again.
            for node in self.nodes:
                node.stop()
            self.port = free_port()
        sys.exit("bench: haproxy could not listen; see haproxy.log")

    def start_haproxy(self):
        with open(os.path.join(ROOT, "deploy/haproxy.cfg")) as f:
            cfg = f.read()
        ca = os.path.join(self.data_dir, "tls/ca.pem")
        for old, new in (
                ("    log /dev/log local0",
                 "    log stderr format short local0 notice"),
                ("    bind :443", "    bind 127.0.0.1:%d" % self.port),
                ("ca-file /etc/haproxy/keyferry-ca.pem", "ca-file " + ca),
                ("check-sni keyferry.example.com", "check-sni localhost"),
                ("hdr Host keyferry.example.com", "hdr Host localhost"),
                ("inter 2s fall 2 rise 2", "inter 500ms fall 2 rise 1")):
            if old not in cfg:
                sys.exit("bench: deploy/haproxy.cfg has no '%s'" % old)
            cfg = cfg.replace(old, new)
        cfg = "".join(l for l in cfg.splitlines(True)
                      if not l.startswith("    server node"))
        cfg += "".join("    server node%d 127.0.0.1:%d\n" % (i + 1, n.port)
                       for i, n in enumerate(self.nodes))
        path = os.path.join(self.work, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        self.ha = subprocess.Popen(["haproxy", "-db", "-f", path],
                                   stdout=self.ha_log, stderr=self.ha_log)
        # Ready when every node is up behind it (health checks passed).
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.ha.poll() is not None:
                self.ha = None
                return False
            if self.all_up():
                return True
            time.sleep(0.1)
        sys.exit("bench: haproxy did not see its nodes up in 30 s")

    def all_up(self):
        """Whether HAProxy answers /healthz and its log says no node is
        down: the first health checks of all nodes passed (rise 1)."""
        try:
            c = Conn(self.port, self.ctx)
            c.request("GET", "/healthz")
            if c.getresponse().status != 200:
                return False
        except OSError:
            return False
        # Each node has answered directly already (Server.start), so a
        # second for the first round of checks (500 ms apart) is enough.
        time.sleep(1.0)
        return True

    def stop(self):
        if self.ha and self.ha.poll() is None:
            self.ha.terminate()
            self.ha.wait(30)
        self.ha = None
        for node in self.nodes:
            node.stop()

    def close(self):
        for log in self.logs + [self.ha_log]:
            log.close()

    def cpu_seconds(self):
        return sum(n.cpu_seconds() for n in self.nodes)

    def context_switches(self):
        return sum(n.context_switches() for n in self.nodes)

    def lb_cpu_seconds(self):
        return proc_cpu(self.ha.pid) if self.ha else 0.0
