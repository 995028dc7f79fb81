# End-to-end harness: starts a real keyferryd for a test and points real
# clients at it. Source it, then call kf_start.
#
# Needs: KEYFERRYD (the binary) and KF_SOURCE_DIR (set by ctest).
# KF_STORE=postgres runs keyferryd with store = postgres on a private
# PostgreSQL 15 cluster the harness starts in the state directory
# (kf_pg_start) and stops with the test.
# Exports after kf_start:
#   KF_STATE KF_DATA_DIR KF_PORT KF_ID_PORT KF_VAULT_URL KF_OTHER_VAULT_URL
#   KF_RESOURCE KF_CA KF_CUSTODY_FLAGS REQUESTS_CA_BUNDLE SSL_CERT_FILE
#   NODE_EXTRA_CA_CERTS
#   IDENTITY_ENDPOINT IDENTITY_HEADER MSI_ENDPOINT
# Principals on myvault: officer (Crypto Officer, also the managed identity),
# user (Crypto User), svcenc (Crypto Service Encryption User), reader
# (Reader); officer is also Crypto Officer on othervault.
#
# Ports: keyferryd chooses them (--listen 127.0.0.1:0) on its first launch
# and kf_launch reads the ones it bound from its "ready" log line; a relaunch
# (kf_stop, kf_launch) asks for the same ones again, as clients keep their
# URLs and tokens carry the port. A port picked here and handed over would be
# a race with every test running in parallel.
#
# keyferryd names the port it bound in its tokens' issuer and audience (it
# binds the vault listener before it builds the API), so no port is ever
# picked here. A relaunch cannot change its ports (clients keep their URLs,
# tokens carry the port): if one was taken meanwhile, kf_launch tries again
# for a few seconds, then fails saying so.

: "${KEYFERRYD:?KEYFERRYD must name the keyferryd binary}"
: "${KF_SOURCE_DIR:?KF_SOURCE_DIR must name the source tree}"

# kf_free_port prints a port that was free a moment ago: only for processes
# that cannot choose their own (HAProxy's frontend, a deliberately closed
# port); keyferryd chooses its own (Ports above).
kf_free_port() {
  /usr/bin/python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

kf_hosts() {
  # glibc does not resolve *.localhost on Debian 12 (shared reference §9).
  local names="myvault.localhost othervault.localhost"
  if ! getent hosts myvault.localhost >/dev/null 2>&1 ||
     ! getent hosts othervault.localhost >/dev/null 2>&1; then
    if [ -w /etc/hosts ]; then
      echo "127.0.0.1 $names" >>/etc/hosts
    else
      echo "harness: add '127.0.0.1 $names' to /etc/hosts" >&2
      return 1
    fi
  fi
}

kf_stop() {
  if [ -n "${KF_PID:-}" ] && kill -0 "$KF_PID" 2>/dev/null; then
    kill -TERM "$KF_PID"
    local i
    # A generous bound: a loaded machine may take a while to drain.
    for i in $(seq 1 300); do
      kill -0 "$KF_PID" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$KF_PID" 2>/dev/null; then
      echo "harness: keyferryd did not stop on SIGTERM in 30 s" >&2
      kill -KILL "$KF_PID"
    fi
    wait "$KF_PID" 2>/dev/null || true
  fi
  KF_PID=
}

kf_cleanup() {
  kf_stop
  kf_pg_stop
  if [ -n "${KF_STATE:-}" ] && [ -z "${KF_KEEP_STATE:-}" ]; then
    rm -rf "$KF_STATE"
  fi
}

# --- a private PostgreSQL 15 cluster (store = postgres) ----------------------
# kf_pg_start DIR makes and starts a cluster in DIR: initdb, unix socket in
# DIR only (no TCP port), owner and superuser kf with a random password
# (scram-sha-256), database keyferry; run as nobody when the test runs as
# root (PostgreSQL refuses root), so DIR's parents must be searchable.
# Sets KF_PG_DIR and KF_PG_PASSWORD and exports KEYFERRY_POSTGRES_URL (the
# password only there, never on a command line). fsync is off: the tests
# kill processes, not machines.
KF_PGBIN=/usr/lib/postgresql/15/bin
KF_PG_DIR=
kf_pg_as() {  # runs a command as the cluster's owner
  if [ "$(id -u)" = 0 ]; then
    setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
  else
    "$@"
  fi
}
kf_pg_start() {
  KF_PG_DIR=$1
  KF_PG_PASSWORD=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
  mkdir -p "$KF_PG_DIR"
  printf '%s\n' "$KF_PG_PASSWORD" >"$KF_PG_DIR/pw"
  [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$KF_PG_DIR"
  (cd "$KF_PG_DIR" && kf_pg_as "$KF_PGBIN/initdb" -D "$KF_PG_DIR/data" -U kf \
    --pwfile="$KF_PG_DIR/pw" --auth=scram-sha-256 -E UTF8 --locale=C \
    --no-sync >"$KF_PG_DIR/initdb.log" 2>&1) || {
    cat "$KF_PG_DIR/initdb.log" >&2
    return 1
  }
  rm -f "$KF_PG_DIR/pw"
  kf_pg_ctl start || return 1
  kf_psql postgres 'CREATE DATABASE keyferry' >/dev/null || return 1
  export KF_PG_PASSWORD
  export KEYFERRY_POSTGRES_URL="host=$KF_PG_DIR user=kf password=$KF_PG_PASSWORD dbname=keyferry"
}
# kf_pg_ctl start|stop|restart: pg_ctl on the cluster, waiting (-w), fast
# shutdown (sessions are cut, as when a database server restarts).
kf_pg_ctl() {
  (cd "$KF_PG_DIR" && kf_pg_as "$KF_PGBIN/pg_ctl" -D "$KF_PG_DIR/data" \
    -l "$KF_PG_DIR/server.log" -w -m fast \
    -o "-k $KF_PG_DIR -c listen_addresses='' -c fsync=off" "$1" >/dev/null) || {
    echo "harness: pg_ctl $1 failed; the server log:" >&2
    tail -n 20 "$KF_PG_DIR/server.log" >&2
    return 1
  }
}
kf_pg_restart() { kf_pg_ctl restart; }
kf_pg_stop() {
  if [ -n "${KF_PG_DIR:-}" ] && [ -f "$KF_PG_DIR/data/postmaster.pid" ]; then
    kf_pg_ctl stop || true
  fi
}
# kf_psql DATABASE SQL prints the result (unaligned, tuples only).
kf_psql() {
  PGPASSWORD=$KF_PG_PASSWORD psql -h "$KF_PG_DIR" -U kf -d "$1" -qAt \
    -v ON_ERROR_STOP=1 -c "$2"
}

# KF_CUSTODY=pkcs11 runs keyferryd on a private SoftHSMv2 token
# (kf_softhsm_token); the default is the software custody.
KF_CUSTODY_ARGS=()
KF_STORE_ARGS=()
kf_softhsm_token() {
  local dir="$KF_STATE/softhsm"
  mkdir -p "$dir/tokens"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
    "$dir/tokens" >"$dir/softhsm2.conf"
  export SOFTHSM2_CONF="$dir/softhsm2.conf"
  softhsm2-util --init-token --free --label keyferryd --so-pin 87654321 \
    --pin 1234 >/dev/null
  (umask 077 && printf '1234\n' >"$dir/pin")
  KF_CUSTODY_ARGS=(--custody pkcs11 --pkcs11-token keyferryd
                   --pkcs11-pin-file "$dir/pin")
}

# KF_CUSTODY=pkcs11-nss runs keyferryd's custody pkcs11 on NSS softokn
# (libsoftokn3.so) with a private NSS database (kf_nss_token): a second,
# independent PKCS#11 implementation. The database's password is the
# token's user PIN; the module finds the database through its
# initialization string (pkcs11-module-init). Its token is a test token, not
# production custody (docs/security-model.md §3).
KF_NSS_MODULE=/usr/lib/x86_64-linux-gnu/libsoftokn3.so
kf_nss_token() {
  local dir="$KF_STATE/nssdb"
  mkdir -p "$dir"
  (umask 077 && printf '1234\n' >"$KF_STATE/nss-pin")
  certutil -N -d "sql:$dir" -f "$KF_STATE/nss-pin" >/dev/null || return 1
  KF_CUSTODY_ARGS=(--custody pkcs11 --pkcs11-module "$KF_NSS_MODULE"
                   --pkcs11-module-init
                   "configdir='sql:$dir' certPrefix='' keyPrefix='' secmod='secmod.db'"
                   --pkcs11-token "NSS Certificate DB"
                   --pkcs11-pin-file "$KF_STATE/nss-pin")
}

# kf_launch starts keyferryd on the current state (used again after a
# restart) and waits for its "ready" log line (a sealed keyferryd is ready
# too: it answers 503). It listens on KF_PORT and KF_ID_PORT, or on ports it
# chooses where they are empty (the first launch), and sets them to the ports
# it bound. The ready line is logged at level info: do not pass a higher
# --log-level. When a port that was keyferryd's before this relaunch is
# taken by another process (see Ports above), it is asked for again, 1 s
# apart.
kf_launch() {
  local attempt rc
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    rc=0
    kf_launch_once "$@" || rc=$?
    [ "$rc" = 0 ] && return 0
    [ "$rc" = 2 ] || return 1
    echo "harness: port $KF_TAKEN_PORT, keyferryd's before this relaunch," \
      "is taken by another process; asking again in 1 s" >&2
    sleep 1
  done
  echo "harness: keyferryd could not listen on its ports after 10 attempts" >&2
  return 1
}

# kf_launch_once is one attempt of kf_launch: 0 when keyferryd is ready, 2
# when it exited because a port it asked for (KF_TAKEN_PORT) is in use, 1
# on any other failure (its log is printed).
kf_launch_once() {
  local want_port=${KF_PORT:-0} want_id_port=${KF_ID_PORT:-0}
  local log=${KF_LOG:-$KF_STATE/keyferryd.log}
  touch "$log"
  # This launch's lines start after what is in the log now.
  local from=$(($(stat -c %s "$log") + 1))
  "$KEYFERRYD" serve \
    --data-dir "$KF_DATA_DIR" \
    --listen "127.0.0.1:$want_port" \
    --identity-listen "127.0.0.1:$want_id_port" \
    --vaults myvault,othervault \
    --identity-principal officer \
    --grant officer:myvault:crypto-officer \
    --grant officer:othervault:crypto-officer \
    --grant user:myvault:crypto-user \
    --grant svcenc:myvault:crypto-service-encryption-user \
    --grant reader:myvault:reader \
    --recoverable-days 7 \
    "${KF_CUSTODY_ARGS[@]}" "${KF_STORE_ARGS[@]}" "$@" 2>>"$log" &
  KF_PID=$!
  local deadline=$(($(date +%s) + 60)) ready=
  while :; do
    # (A whole line: it ends with the JSON object's closing brace.)
    ready=$(tail -c +"$from" "$log" | grep -m1 '"event":"ready".*}$' || true)
    [ -n "$ready" ] && break
    if ! kill -0 "$KF_PID" 2>/dev/null; then
      wait "$KF_PID" 2>/dev/null || true
      KF_PID=
      KF_TAKEN_PORT=$(tail -c +"$from" "$log" |
        sed -n 's/.*cannot listen on [^ ]*:\([0-9][0-9]*\): .*in use.*/\1/p' |
        head -n1)
      if [ -n "$KF_TAKEN_PORT" ] && [ "$KF_TAKEN_PORT" != 0 ]; then
        return 2
      fi
      echo "harness: keyferryd exited; its log:" >&2
      tail -c +"$from" "$log" >&2
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "harness: keyferryd did not become ready in 60 s; its log:" >&2
      tail -c +"$from" "$log" >&2
      return 1
    fi
    sleep 0.05
  done
  local ports
  ports=$(/usr/bin/python3 -c '
import json, sys, urllib.parse
r = json.loads(sys.argv[1])
print(int(r["port"]), urllib.parse.urlsplit(r["identity_endpoint"]).port)
' "$ready") || {
    echo "harness: no ports in keyferryd's ready line: $ready" >&2
    return 1
  }
  local port=${ports% *} id_port=${ports#* }
  if { [ "$want_port" != 0 ] && [ "$port" != "$want_port" ]; } ||
     { [ "$want_id_port" != 0 ] && [ "$id_port" != "$want_id_port" ]; }; then
    echo "harness: keyferryd listens on $port and $id_port, not on" \
      "$want_port and $want_id_port as asked: $ready" >&2
    return 1
  fi
  KF_PORT=$port
  KF_ID_PORT=$id_port
}

kf_start() {
  kf_hosts || return 1
  KF_STATE=$(mktemp -d /tmp/kf_e2e.XXXXXX)
  KF_DATA_DIR="$KF_STATE/data"
  KF_ID_PORT=  # keyferryd chooses both (kf_launch, Ports above)
  KF_PORT=
  trap kf_cleanup EXIT
  KF_STORE_ARGS=()
  if [ "${KF_STORE:-sqlite}" = postgres ]; then
    chmod 711 "$KF_STATE"  # the cluster's owner (nobody) reaches its dir
    kf_pg_start "$KF_STATE/pg" || return 1
    KF_STORE_ARGS=(--store postgres)
  fi
  case "${KF_CUSTODY:-software}" in
    pkcs11) kf_softhsm_token || return 1 ;;
    pkcs11-nss) kf_nss_token || return 1 ;;
    software) ;;
    *) echo "harness: unknown KF_CUSTODY '$KF_CUSTODY'" >&2; return 1 ;;
  esac
  # A test may prepare the data directory first (e.g. keyferryd init).
  if declare -F kf_pre_launch >/dev/null; then
    kf_pre_launch || return 1
  fi
  kf_launch "$@" || return 1
  KF_CA="$KF_DATA_DIR/tls/ca.pem"
  cat /etc/ssl/certs/ca-certificates.crt "$KF_CA" >"$KF_STATE/bundle.pem"
  export KF_STATE KF_DATA_DIR KF_PORT KF_ID_PORT KF_CA
  # The custody and store flags, for clients that mint tokens themselves
  # (the token key is held by the custody: `keyferryd token` opens it too).
  # Shell-quoted (the NSS token's label and initialization string hold
  # spaces): clients split it with shlex.
  KF_CUSTODY_FLAGS=
  if [ $((${#KF_CUSTODY_ARGS[@]} + ${#KF_STORE_ARGS[@]})) -gt 0 ]; then
    KF_CUSTODY_FLAGS=$(printf '%q ' "${KF_CUSTODY_ARGS[@]}" "${KF_STORE_ARGS[@]}")
  fi
  export KF_CUSTODY_FLAGS
  export KF_VAULT_URL="https://myvault.localhost:$KF_PORT"
  export KF_OTHER_VAULT_URL="https://othervault.localhost:$KF_PORT"
  export KF_RESOURCE="https://localhost:$KF_PORT"
  export REQUESTS_CA_BUNDLE="$KF_STATE/bundle.pem"
  export SSL_CERT_FILE="$KF_STATE/bundle.pem"
  export NODE_EXTRA_CA_CERTS="$KF_CA"
  export IDENTITY_ENDPOINT="https://127.0.0.1:$KF_ID_PORT/msi/token"
  export MSI_ENDPOINT="$IDENTITY_ENDPOINT"
  IDENTITY_HEADER=$(cat "$KF_DATA_DIR/identity-header")
  export IDENTITY_HEADER
}

# kf_token PRINCIPAL [LIFETIME_SECONDS [ARGS...]] prints an access token for
# the vaults. The token key is held by the custody, so minting opens it as
# keyferryd does (the token's PIN; a sealed deployment needs ARGS
# --share F ... --passphrase-file F).
kf_token() {
  local principal=$1 lifetime=${2:-3600}
  shift $(($# < 2 ? $# : 2))
  "$KEYFERRYD" token --data-dir "$KF_DATA_DIR" --listen "127.0.0.1:$KF_PORT" \
    --principal "$principal" --resource "$KF_RESOURCE" --lifetime "$lifetime" \
    "${KF_CUSTODY_ARGS[@]}" "${KF_STORE_ARGS[@]}" "$@"
}

# Tally for scripts that count their checks: each check calls ok or bad
# (bad prints "FAIL: <what>"); the script reports passes and fails at the end.
fails=0
passes=0
ok() { passes=$((passes + 1)); }
bad() { fails=$((fails + 1)); echo "FAIL: $*" >&2; }
