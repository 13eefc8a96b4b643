#!/usr/bin/env bash
# The demo: the whole `ferry bootstrap` on the local sandbox, all on loopback. It starts a real
# kube-apiserver (with etcd and kube-controller-manager) and an UNINITIALISED OpenBao, generates
# an age identity for the operator and the values an operator would hold in their shell, leaves
# a plaintext Flux Secret as `flux bootstrap` does, runs `ferry agent`, then `ferry bootstrap`:
# init + unseal with the keys sealed to the age recipient, values into KV, the Flux Secret
# switched to an ExternalSecret, an app's policy, role and ExternalSecret, verify, and the root
# token revoked. It then proves the switched Flux credentials with a real `git clone` from a
# loopback Git server that requires them, syncs an ExternalSecret written for ESO (v1beta1)
# through the store bootstrap made, and runs `ferry verify`. No value is ever printed.
# It keeps everything running until Ctrl-C; `--no-wait` stops right away (what CI runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
wait=1
[[ "${1:-}" == "--no-wait" ]] && wait=0
target="${CARGO_TARGET_DIR:-$root/target}"
demo="$target/demo"
bash "$root/scripts/sandbox-tools.sh"
(cd "$root" && cargo build --quiet --locked -p ferry -p ferry-testenv --bins)
rm -rf "$demo" && mkdir -p "$demo/bao/data" && chmod 700 "$demo"

pids=()
# Stop in reverse order, so the agent can still revoke its Vault token on the way out.
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

source "$root/scripts/lib.sh"
random() { python3 -c "import secrets; print('${1:-}' + secrets.token_urlsafe(24), end='')"; }
fail() { echo "demo: $*" >&2; exit 1; }

start=$SECONDS
"$target/sandbox/bin/kube-sandbox" --data-dir "$demo/kube" >"$demo/kube-sandbox.out" 2>&1 &
pids+=($!)
vault_port=$(free_port)
cluster_port=$(free_port)
bao_raft_config "$demo/bao" ferry-demo "$vault_port" "$cluster_port"
"$target/sandbox/bin/bao" server -config="$demo/bao/bao.hcl" >"$demo/bao.log" 2>&1 &
pids+=($!)

until grep -q '^READY ' "$demo/kube-sandbox.out" 2>/dev/null; do
  kill -0 "${pids[0]}" 2>/dev/null || fail "kube-sandbox failed, see $demo/kube-sandbox.out and $demo/kube/*.log"
  sleep 0.2
done
until grep -q 'OpenBao server started' "$demo/bao.log" 2>/dev/null; do
  kill -0 "${pids[1]}" 2>/dev/null || fail "OpenBao failed, see $demo/bao.log"
  sleep 0.2
done
echo "demo: sandbox up in $((SECONDS - start)) s (OpenBao uninitialised)"

server=$(cat "$demo/kube/ready")
export KUBECONFIG="$demo/kube/kubeconfig"
# kube METHOD PATH [JSON on stdin]: a call to the API server with the sandbox's admin certificate.
kube() {
  curl -sS --fail-with-body --cacert "$demo/kube/ca.crt" --cert "$demo/kube/admin.crt" --key "$demo/kube/admin.key" \
    -X "$1" -H 'Content-Type: application/json' "$server$2" ${3:+--data-binary @-}
}
until kube GET /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; do sleep 0.2; done

# The operator: an age identity, and the values in shell variables (never printed, never on
# a command line, and handed only to the commands that need them).
recipient=$("$target/debug/age-keygen" "$demo/operator.agekey")
GITHUB_TOKEN=$(random ghp_demo_)
DEMO_DB_PASSWORD=$(random)

# The GitOps repository's bootstrap.yaml: names and paths, no values.
cat >"$demo/bootstrap.yaml" <<YAML
vault:
  address: http://127.0.0.1:$vault_port
init:
  keyShares: 3
  keyThreshold: 2
  recipients: ["$recipient"]
  bundle:
    file: $demo/vault-init.age
kubernetesAuth:
  reviewerServiceAccount: ferry-vault-reviewer   # Vault runs outside the cluster here
env:
  - {name: GITHUB_TOKEN, path: flux/git, key: password, check: {nonEmpty: true}}
  - {name: DEMO_DB_PASSWORD, path: demo/db, key: password, check: {regexp: '[[:graph:]]{16,}'}}
flux:
  auth: {https: {username: git, passwordEnv: GITHUB_TOKEN}}
apps:
  - name: demo
    namespace: demo
    serviceAccount: demo
    paths: [demo/*]
    externalSecrets:
      - name: demo-db
        create:
          data:
            - {secretKey: password, key: demo/db, property: password}
YAML

# What `flux bootstrap` leaves behind: the Git token in a plaintext Secret.
for ns in flux-system ferry-system; do
  echo "{\"metadata\":{\"name\":\"$ns\"}}" | kube POST /api/v1/namespaces x >/dev/null
done
GITHUB_TOKEN="$GITHUB_TOKEN" python3 -c 'import json, os; print(json.dumps({"metadata": {"name": "flux-system"},
  "stringData": {"username": "git", "password": os.environ["GITHUB_TOKEN"]}}))' |
  kube POST /api/v1/namespaces/flux-system/secrets x >/dev/null

# The Git server Flux pulls from, requiring the token (read from the environment).
GITHUB_TOKEN="$GITHUB_TOKEN" "$target/debug/git-server" git GITHUB_TOKEN >"$demo/git-server.out" 2>&1 &
pids+=($!)
until grep -q '^READY ' "$demo/git-server.out" 2>/dev/null; do
  kill -0 "${pids[2]}" 2>/dev/null || fail "the git server failed, see $demo/git-server.out"
  sleep 0.1
done
git_url=$(sed -n 's/^READY //p' "$demo/git-server.out")

metrics_port=$(free_port)
"$target/debug/ferry" agent --kubeconfig "$KUBECONFIG" --install-crds --own-namespace ferry-system \
  --metrics-addr "127.0.0.1:$metrics_port" --log-format json >"$demo/agent.log" 2>&1 &
pids+=($!)

echo "demo: ferry bootstrap (an uninitialised Vault, a plaintext Flux Secret, the agent running)"
bootstrap_start=$SECONDS
(cd "$demo" && GITHUB_TOKEN="$GITHUB_TOKEN" DEMO_DB_PASSWORD="$DEMO_DB_PASSWORD" \
  "$target/debug/ferry" bootstrap --config bootstrap.yaml --wait-timeout 60 >"$demo/unset-line") ||
  fail "ferry bootstrap failed (agent log: $demo/agent.log)"
bootstrap_secs=$((SECONDS - bootstrap_start))
"$target/debug/ferry" verify --help >/dev/null 2>&1 && verify=1 || verify=0

# The Flux Secret is now owned by an ExternalSecret and holds Vault's value; prove the
# credentials it holds with a real clone (credentials passed in git's environment, not argv).
flux_secret=$(kube GET /api/v1/namespaces/flux-system/secrets/flux-system | WANT="$GITHUB_TOKEN" python3 -c '
import base64, json, os, sys
s = json.load(sys.stdin)
owners = [o["kind"] + "/" + o["name"] for o in s["metadata"].get("ownerReferences", []) if o.get("controller")]
same = base64.b64decode(s["data"]["password"]).decode() == os.environ["WANT"]
print("owned by", ", ".join(owners) or "NOBODY", "- password matches Vault:", "yes" if same else "NO")')
[[ "$flux_secret" == "owned by ExternalSecret/flux-system - password matches Vault: yes" ]] ||
  fail "the Flux Secret is not Vault-backed: $flux_secret"
header=$(kube GET /api/v1/namespaces/flux-system/secrets/flux-system | python3 -c '
import base64, json, sys
d = json.load(sys.stdin)["data"]
pair = base64.b64decode(d["username"]) + b":" + base64.b64decode(d["password"])
print("Authorization: Basic " + base64.b64encode(pair).decode(), end="")')
GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 GIT_CONFIG_COUNT=1 \
  GIT_CONFIG_KEY_0=http.extraHeader GIT_CONFIG_VALUE_0="$header" \
  git clone --quiet "$git_url" "$demo/checkout" 2>"$demo/git-clone.err" ||
  fail "git clone with the Flux Secret's credentials failed, see $demo/git-clone.err"
unset header
GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_TERMINAL_PROMPT=0 \
  git clone --quiet "$git_url" "$demo/anonymous" 2>/dev/null && fail "the git server let an anonymous clone through"

app_secret=$(kube GET /api/v1/namespaces/demo/secrets/demo-db | WANT="$DEMO_DB_PASSWORD" python3 -c '
import base64, json, os, sys
s = json.load(sys.stdin)
same = base64.b64decode(s["data"]["password"]).decode() == os.environ["WANT"]
print("password matches Vault:", "yes" if same else "NO")')
[[ "$app_secret" == *"yes" ]] || fail "Secret demo/demo-db does not match Vault"

# An ExternalSecret as written for ESO (v1beta1), unchanged, against the store bootstrap made.
echo '{"apiVersion":"external-secrets.io/v1beta1","kind":"ExternalSecret","metadata":{"name":"app"},
  "spec":{"refreshInterval":"1m","secretStoreRef":{"name":"vault-backend","kind":"ClusterSecretStore"},
  "target":{"name":"app-credentials"},
  "data":[{"secretKey":"db-password","remoteRef":{"key":"demo/db","property":"password"}}]}}' |
  kube POST /apis/external-secrets.io/v1beta1/namespaces/demo/externalsecrets x >/dev/null
deadline=$((SECONDS + 30))
until kube GET /apis/external-secrets.io/v1/namespaces/demo/externalsecrets/app 2>/dev/null | grep -q '"SecretSynced"'; do
  (( SECONDS < deadline )) || fail "the v1beta1 ExternalSecret did not become Ready, see $demo/agent.log"
  sleep 0.2
done

# `ferry verify` (the CI check): a GitOps repository holding bootstrap.yaml, the cluster, and
# the values themselves as known values, taken from the shell before they are unset (the root
# token is revoked, so they cannot be read back from Vault; phase 5 checked with them already).
verify_line="ferry verify not built"
if [[ $verify == 1 ]]; then
  git init --quiet "$demo/gitops" && cp "$demo/bootstrap.yaml" "$demo/gitops/"
  git -C "$demo/gitops" add bootstrap.yaml
  git -C "$demo/gitops" -c user.name=demo -c user.email=demo@ferry.invalid commit --quiet -m bootstrap
  set +e
  GITHUB_TOKEN="$GITHUB_TOKEN" DEMO_DB_PASSWORD="$DEMO_DB_PASSWORD" "$target/debug/ferry" verify --repo "$demo/gitops" \
    --known-value-env GITHUB_TOKEN,DEMO_DB_PASSWORD --skip-env \
    --namespace flux-system --namespace demo --namespace ferry-system >"$demo/verify.txt" 2>&1
  code=$?
  set -e
  case $code in
    0) verify_line="clean (report: $demo/verify.txt)" ;;
    1) fail "ferry verify found plaintext, see $demo/verify.txt" ;;
    *) verify_line="could not run (exit $code, see $demo/verify.txt)" ;;
  esac
fi
# What the operator does next, as bootstrap printed it (`unset GITHUB_TOKEN ...`).
unset_line=$(cat "$demo/unset-line")
[[ "$unset_line" == "unset "* ]] && eval "$unset_line"

cat <<MSG

Ferry demo is up in $((SECONDS - start)) s; ferry bootstrap took $bootstrap_secs s:
  Kubernetes   kube-apiserver $server
  OpenBao      http://127.0.0.1:$vault_port  (initialised by ferry: unseal keys and root token
               sealed to the demo's age key in $demo/vault-init.age; root token revoked)
  Flux Secret  flux-system/flux-system $flux_secret
  git clone    $git_url with the Flux Secret's credentials: ok (anonymous: refused)
  app Secret   demo/demo-db $app_secret (and demo/app-credentials from a v1beta1 ESO manifest)
  ferry verify $verify_line
  ferry agent  metrics at http://127.0.0.1:$metrics_port/metrics, logs in $demo/agent.log

Reach them from another shell:
  export KUBECONFIG=$KUBECONFIG
  $target/debug/ferry unseal --identity $demo/operator.agekey --config $demo/bootstrap.yaml  # after a restart

MSG

if [[ $wait == 1 ]]; then
  echo "Press Ctrl-C to stop the sandbox."
  wait
fi
