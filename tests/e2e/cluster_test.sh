#!/usr/bin/env bash
# Three keyferryd nodes on one PostgreSQL database behind HAProxy
# (deploy/haproxy.cfg and deploy/keyferryd.conf, addresses and ports
# replaced): the Python SDK runs a bounded mixed load through HAProxy
# (cluster_driver.py load) while one node is killed (kill -9) and started
# again, then PostgreSQL itself restarts (pg_ctl restart -m fast).
# Afterwards (cluster_driver.py check): every acknowledged create/import is
# present and signs on every node directly; no name without a version; no
# more versions than tries; a key disabled through one node is refused by
# each other node on its next request; a due rotation happened exactly
# once; the clients saw only retryable errors (503, cut connections) and
# the SDK's retries carried them through. Also: the nodes share the
# deployment's tenant id and identity secret, a backup made on one node
# restores on another, and each node's audit chain verifies
# (`keyferry audit verify`). No fixed ports: keyferryd binds port 0 and
# HAProxy's port is picked (and picked again should it be taken).
# Needs KEYFERRYD, KEYFERRY, KF_SOURCE_DIR.
set -euo pipefail
source "$KF_SOURCE_DIR/tests/e2e/harness.sh"
: "${KEYFERRY:?KEYFERRY must name the keyferry binary}"
T0=$SECONDS

kf_hosts
KF_STATE=$(mktemp -d /tmp/kf_cluster.XXXXXX)
chmod 711 "$KF_STATE"  # the cluster's owner (nobody) reaches its dir
HA_PID=
declare -a NPORT NIDPORT NPID
cleanup() {
  local i
  for i in 1 2 3; do
    if [ -n "${NPID[$i]:-}" ]; then kill -KILL "${NPID[$i]}" 2>/dev/null || true; fi
  done
  [ -n "$HA_PID" ] && kill "$HA_PID" 2>/dev/null || true
  kf_pg_stop
  [ -z "${KF_KEEP_STATE:-}" ] && rm -rf "$KF_STATE"
}
trap cleanup EXIT
kf_pg_start "$KF_STATE/pg"
KF_STORE_ARGS=(--store postgres)
export KF_CUSTODY_FLAGS="${KF_STORE_ARGS[*]}"

# The load balancer's port comes first: the nodes' tokens name it.
KF_LB_PORT=$(kf_free_port)

# A node's configuration: deploy/keyferryd.conf with this machine's names;
# kf_launch adds the data directory, ports, vaults and grants.
sed -e "s|^domain = .*|domain = localhost|" \
    -e "s|^public-port = .*|public-port = PUBLIC_PORT|" \
    -e '/^\(listen\|vaults\|tls-cert\|tls-key\|data-dir\|audit-log\|grant\) /d' \
    "$KF_SOURCE_DIR/deploy/keyferryd.conf" >"$KF_STATE/node.conf.in"
grep -q '^store = postgres$' "$KF_STATE/node.conf.in"

# node_start I: starts node I (data directory n<I>, log n<I>.log) on its
# ports of before, or on ports keyferryd chooses the first time.
node_start() {
  local i=$1
  KF_DATA_DIR=$KF_STATE/n$i KF_LOG=$KF_STATE/n$i.log
  KF_PORT=${NPORT[$i]:-} KF_ID_PORT=${NIDPORT[$i]:-}
  sed "s|PUBLIC_PORT|$KF_LB_PORT|" "$KF_STATE/node.conf.in" >"$KF_STATE/node.conf"
  kf_launch --config "$KF_STATE/node.conf"
  NPORT[$i]=$KF_PORT NIDPORT[$i]=$KF_ID_PORT NPID[$i]=$KF_PID
  KF_PID=
}

node_start 1
# Nodes 2 and 3 get node 1's master key (the development key file, copied)
# and its TLS files (one certificate for every node behind HAProxy).
for i in 2 3; do
  mkdir -m 700 "$KF_STATE/n$i"
  cp -p "$KF_STATE/n1/master.key" "$KF_STATE/n$i/"
  cp -rp "$KF_STATE/n1/tls" "$KF_STATE/n$i/"
done
node_start 2
node_start 3
for f in tenant-id identity-header; do
  cmp -s "$KF_STATE/n1/$f" "$KF_STATE/n2/$f" && cmp -s "$KF_STATE/n1/$f" "$KF_STATE/n3/$f" &&
    ok || bad "the nodes' $f differ"
done
# A vault added through one node's data directory is the deployment's: the
# tool on another node's lists it, and node 2 serves it after its restart
# below.
"$KEYFERRYD" vault add sharedvault --data-dir "$KF_STATE/n1" --store postgres >/dev/null &&
  "$KEYFERRYD" vault list --data-dir "$KF_STATE/n3" --store postgres | grep -qx sharedvault &&
  ok || bad "vault add on node 1 is not listed on node 3"
cat /etc/ssl/certs/ca-certificates.crt "$KF_STATE/n1/tls/ca.pem" >"$KF_STATE/bundle.pem"
export REQUESTS_CA_BUNDLE="$KF_STATE/bundle.pem" SSL_CERT_FILE="$KF_STATE/bundle.pem"

# HAProxy: deploy/haproxy.cfg, its nodes replaced by ours, logging to
# stderr, a shorter health interval.
ha_config() {
  sed -e "s|^    log /dev/log local0|    log stderr format short local0 notice|" \
      -e "s|^    bind :443|    bind 127.0.0.1:$KF_LB_PORT|" \
      -e "s|ca-file /etc/haproxy/keyferry-ca.pem|ca-file $KF_STATE/n1/tls/ca.pem|" \
      -e "s|check-sni keyferry.example.com|check-sni localhost|" \
      -e "s|hdr Host keyferry.example.com|hdr Host localhost|" \
      -e "s|inter 2s fall 2 rise 2|inter 500ms fall 2 rise 1|" \
      -e "s|server node1 .*|server node1 127.0.0.1:${NPORT[1]}|" \
      -e "s|server node2 .*|server node2 127.0.0.1:${NPORT[2]}|" \
      -e "s|server node3 .*|server node3 127.0.0.1:${NPORT[3]}|" \
      "$KF_SOURCE_DIR/deploy/haproxy.cfg" >"$KF_STATE/haproxy.cfg"
}
healthz() {  # healthz PORT: the status of /healthz there
  curl -s -o /dev/null -w '%{http_code}' --cacert "$KF_STATE/n1/tls/ca.pem" \
    "https://myvault.localhost:$1/healthz" || true
}
for attempt in 1 2 3 4 5; do
  ha_config
  haproxy -db -f "$KF_STATE/haproxy.cfg" 2>>"$KF_STATE/haproxy.log" &
  HA_PID=$!
  deadline=$((SECONDS + 30))
  while [ "$(healthz "$KF_LB_PORT")" != 200 ] && kill -0 "$HA_PID" 2>/dev/null &&
        [ $SECONDS -lt $deadline ]; do
    sleep 0.1
  done
  kill -0 "$HA_PID" 2>/dev/null && break
  # Its port was taken meanwhile: the nodes' tokens name it, start again.
  echo "cluster_test: haproxy could not start on $KF_LB_PORT: $(tail -n 3 "$KF_STATE/haproxy.log")" >&2
  HA_PID=
  [ "$attempt" = 5 ] && exit 1
  for i in 1 2 3; do
    kill -TERM "${NPID[$i]}"; wait "${NPID[$i]}" || true
  done
  KF_LB_PORT=$(kf_free_port)
  for i in 1 2 3; do node_start "$i"; done
done
[ "$(healthz "$KF_LB_PORT")" = 200 ] && ok || bad "HAProxy's /healthz"
echo "cluster_test: nodes on ${NPORT[*]}, HAProxy on $KF_LB_PORT ($((SECONDS - T0)) s)"

export KF_LB_PORT KF_NODE_PORTS="${NPORT[1]},${NPORT[2]},${NPORT[3]}"
export KF_MINT_DIR=$KF_STATE/n1 KF_PG_DIR KF_PG_PASSWORD
DRIVER=(/usr/bin/python3 -B "$KF_SOURCE_DIR/tests/e2e/cluster_driver.py")
"${DRIVER[@]}" setup "$KF_STATE" && ok || bad "setup"

progress() { cat "$KF_STATE/progress" 2>/dev/null || echo 0; }
# wait_ops N: waits (60 s at most) until the load finished N more operations.
wait_ops() {
  local want=$(($(progress) + $1)) deadline=$((SECONDS + 60))
  while [ "$(progress)" -lt "$want" ]; do
    if [ $SECONDS -ge $deadline ] || ! kill -0 "$LOAD_PID" 2>/dev/null; then
      bad "the load stalled at $(progress) operations (wanted $want)"
      return 0
    fi
    sleep 0.1
  done
}
"${DRIVER[@]}" load "$KF_STATE" &
LOAD_PID=$!
wait_ops 40
echo "cluster_test: kill -9 node 2 at $(progress) operations"
kill -KILL "${NPID[2]}"
wait "${NPID[2]}" 2>/dev/null || true
NPID[2]=
wait_ops 40
echo "cluster_test: node 2 starts again at $(progress) operations"
node_start 2
grep '"event":"ready"' "$KF_STATE/n2.log" | tail -n 1 | grep -q 'https://sharedvault\.' &&
  ok || bad "node 2 does not serve the vault added on node 1"
wait_ops 40
echo "cluster_test: PostgreSQL stops at $(progress) operations"
kf_pg_ctl stop
# Without its database a node says so: 503 with Azure's error envelope.
body=$(curl -s --cacert "$KF_STATE/n1/tls/ca.pem" \
  "https://myvault.localhost:${NPORT[1]}/healthz" || true)
grep -q '"store":"unreachable"' <<<"$body" &&
  grep -q '"error":{"code":"ServiceUnavailable"' <<<"$body" &&
  ok || bad "/healthz without the database: $body"
kf_pg_ctl start
echo "cluster_test: PostgreSQL started again at $(progress) operations"
wait_ops 40
for i in 1 2 3; do  # every node is healthy again, by itself
  deadline=$((SECONDS + 30))
  while [ "$(healthz "${NPORT[$i]}")" != 200 ] && [ $SECONDS -lt $deadline ]; do
    sleep 0.1
  done
  [ "$(healthz "${NPORT[$i]}")" = 200 ] && ok || bad "node $i is not healthy after the restarts"
done
touch "$KF_STATE/stop"
wait "$LOAD_PID" && ok || bad "the load"
echo "cluster_test: load done at $(progress) operations ($((SECONDS - T0)) s)"
"${DRIVER[@]}" check "$KF_STATE" && ok || bad "the checks after the failures"

# Every node's audit chain verifies: one chain per node, in its data
# directory (docs/security-model.md).
for i in 1 2 3; do
  kill -TERM "${NPID[$i]}"
  wait "${NPID[$i]}" || true
  NPID[$i]=
done
out=$("$KEYFERRY" audit verify --log "$KF_STATE"/n{1,2,3}/audit.log 2>&1) &&
  grep -q "3 audit logs, .* every chain intact" <<<"$out" &&
  ok || bad "the nodes' audit chains: $out"

echo "cluster_test: $passes passed, $fails failed in $((SECONDS - T0)) s"
[ "$fails" = 0 ]
