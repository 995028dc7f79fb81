# Shared steps of the az CLI tests (az_byok_test.sh, az_byok_nss_test.sh):
# the step runners, the az environment that points Debian's az 2.45 at a
# keyferryd started by harness.sh, and byte helpers. Source it after
# harness.sh's kf_start, with W (the working directory) set.
#
# Debian's azure-cli lacks the track-1 azure.keyvault modules its `keyvault
# key` commands import; tests/e2e/azcompat (test-only, not product code) fills
# them in through PYTHONPATH (shared reference akv-keys-api.md section 10).

AZ=/usr/bin/az          # Debian's azure-cli 2.45 (not a pip-installed az)
PY=/usr/bin/python3     # Debian's python, as /usr/bin/az uses
checks=0
: "${W:?set W (the working directory) before sourcing az_common.sh}"

fail() { echo "$(basename "$0" .sh): FAIL: $*" >&2; exit 1; }
pass() { checks=$((checks + 1)); }
show_out() { sed 's/^/    | /' "$W/out" "$W/err" >&2; }

# run ARGS...: a step that must succeed; stdout in $W/out, stderr in $W/err.
run() {
  if ! "$@" >"$W/out" 2>"$W/err"; then
    show_out
    fail "$* exited non-zero"
  fi
  pass
}
az() { run "$AZ" "$@"; }
keyferry() { run "$KEYFERRY" "$@"; }

# az_fails WANT ARGS...: az must fail and say WANT on stderr.
az_fails() {
  local want="$1"; shift
  if "$AZ" "$@" >"$W/out" 2>"$W/err"; then
    show_out
    fail "az $* succeeded; expected a failure mentioning '$want'"
  fi
  grep -qF -- "$want" "$W/err" || { show_out; fail "az $* failed without mentioning '$want'"; }
  pass
}

expect_eq() {  # WHAT GOT WANT
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
  pass
}
expect_out() {  # SUBSTRING: the last command's stdout contains it
  grep -qF -- "$1" "$W/out" || { show_out; fail "output lacks '$1'"; }
  pass
}
out() { tr -d '\r' <"$W/out" | sed -e 's/[[:space:]]*$//'; }

# b64url_decode TEXT > FILE
b64url_decode() {
  local s="${1//-/+}"
  s="${s//_//}"
  case $(( ${#s} % 4 )) in 2) s="$s==" ;; 3) s="$s=" ;; esac
  printf '%s' "$s" | base64 -d
}
b64url_of_file() { basenc --base64url -w0 <"$1" | tr -d '='; }
# pubder PEM: canonical DER of a public key (for byte comparisons).
pubder() { openssl pkey -pubin -in "$1" -outform DER; }

# sign_via_keyferryd KID ALG DIGEST_FILE OUT: POST {kid}/sign through az rest
# (az 2.45 has no `az keyvault key sign`); writes the raw signature bytes.
sign_via_keyferryd() {
  local kid="$1" alg="$2" digest="$3" outfile="$4" value
  az rest --method post --url "$kid/sign?api-version=7.4" --resource "$KF_RESOURCE" \
    --headers Content-Type=application/json \
    --body "{\"alg\":\"$alg\",\"value\":\"$(b64url_of_file "$digest")\"}"
  expect_eq "sign response kid ($alg)" "$($PY -c 'import json,sys; print(json.load(sys.stdin)["kid"])' <"$W/out")" "$kid"
  value=$($PY -c 'import json,sys; print(json.load(sys.stdin)["value"])' <"$W/out")
  b64url_decode "$value" >"$outfile"
}

# az_use_keyferryd: the user's environment for az against keyferryd, then
# az cloud register / set and az login --identity.
az_use_keyferryd() {
  export AZURE_CONFIG_DIR="$KF_STATE/azcfg" AZURE_CORE_COLLECT_TELEMETRY=false
  export PYTHONPATH="$KF_SOURCE_DIR/tests/e2e/azcompat"
  export PYTHONDONTWRITEBYTECODE=1   # keep the source tree free of __pycache__
  export AZURE_CORE_ONLY_SHOW_ERRORS=true AZURE_CORE_NO_COLOR=true
  # az 2.45 (msrestazure) asks MSI_ENDPOINT in the App Service 2017-09-01
  # style, GET with header "secret: $MSI_SECRET", when
  # APPSETTING_WEBSITE_SITE_NAME is set; without it, az would POST the
  # secretless legacy MSI style, which keyferryd refuses unless
  # identity-legacy-uids allows it.
  export APPSETTING_WEBSITE_SITE_NAME=keyferry MSI_SECRET="$IDENTITY_HEADER"
  # `az cloud register` with only --endpoint-resource-manager makes az fetch
  # the cloud's AD endpoints from GET <arm>/metadata/endpoints?api-version=
  # 2015-01-01 (msrestazure _populate_from_metadata_endpoint; az appends to
  # the given endpoint, so with the trailing slash the path is
  # //metadata/endpoints).
  az cloud register -n LocalKV --endpoint-resource-manager "https://localhost:$KF_PORT/" \
    --suffix-keyvault-dns ".localhost:$KF_PORT"
  az cloud set -n LocalKV
  az login --identity --allow-no-subscriptions
}
