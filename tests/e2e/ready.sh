# For e2e tests that start keyferryd themselves on `--listen 127.0.0.1:0`
# (rather than through harness.sh): wait for its ready lines, read the port
# it picked. Source it.

# kf_wait_ready LOG PID: returns once keyferryd (PID, stderr in LOG) printed
# its whole ready block (the identity endpoint line is its last); prints the
# log and returns 1 when keyferryd exits first or is not ready in 60 s.
kf_wait_ready() {
  local _
  for _ in $(seq 600); do
    grep -q '^  identity endpoint: ' "$1" && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      cat "$1" >&2; echo "keyferryd exited before it was ready" >&2; return 1
    fi
    sleep 0.1
  done
  cat "$1" >&2; echo "keyferryd not ready in 60 s" >&2; return 1
}

# kf_ready_port LOG [VAULT]: the port in LOG's ready line, from VAULT's URL
# (default myvault).
kf_ready_port() {
  sed -n "s|^keyferryd ready: https://${2:-myvault}\.localhost:\([0-9]*\)\( .*\)\?$|\1|p" "$1"
}
