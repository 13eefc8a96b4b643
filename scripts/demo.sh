#!/usr/bin/env bash
# The demo: starts the local sandbox (a real OpenBao and a real kube-apiserver with etcd and
# kube-controller-manager, all on loopback), puts a value into Vault, points Vault's Kubernetes
# auth at the API server, runs `ferry agent`, applies the seed's ClusterSecretStore and
# ExternalSecret, and waits until the Secret matches Vault. It keeps everything running until
# Ctrl-C; `--no-wait` stops right away (what CI runs). It grows as bootstrap and verify land.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
wait=1
[[ "${1:-}" == "--no-wait" ]] && wait=0
target="${CARGO_TARGET_DIR:-$root/target}"
demo="$target/demo"
bash "$root/scripts/sandbox-tools.sh"
(cd "$root" && cargo build --quiet --locked --bin ferry)
rm -rf "$demo" && mkdir -p "$demo" && chmod 700 "$demo"

pids=()
# Stop in reverse order, so the agent can still revoke its Vault token on the way out.
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start=$SECONDS
"$target/sandbox/bin/kube-sandbox" --data-dir "$demo/kube" >"$demo/kube-sandbox.out" 2>&1 &
pids+=($!)
vault_port=$(free_port)
token=$(python3 -c 'import secrets; print("demo-" + secrets.token_hex(12))')
(umask 077 && printf '%s\n' "$token" >"$demo/vault-root-token")
"$target/sandbox/bin/bao" server -dev -dev-no-store-token -dev-root-token-id="$token" \
  -dev-listen-address="127.0.0.1:$vault_port" >"$demo/bao.log" 2>&1 &
pids+=($!)
unset token

until grep -q '^READY ' "$demo/kube-sandbox.out" 2>/dev/null; do
  kill -0 "${pids[0]}" 2>/dev/null || { echo "demo: kube-sandbox failed, see $demo/kube-sandbox.out and $demo/kube/*.log" >&2; exit 1; }
  sleep 0.2
done
until grep -q 'OpenBao server started' "$demo/bao.log" 2>/dev/null; do
  kill -0 "${pids[1]}" 2>/dev/null || { echo "demo: OpenBao failed, see $demo/bao.log" >&2; exit 1; }
  sleep 0.2
done

echo "demo: sandbox up in $((SECONDS - start)) s"
server=$(cat "$demo/kube/ready")
export BAO_ADDR="http://127.0.0.1:$vault_port"
export BAO_TOKEN
BAO_TOKEN=$(cat "$demo/vault-root-token")
bao() { "$target/sandbox/bin/bao" "$@"; }
# kube METHOD PATH [JSON]: a call to the API server with the sandbox's admin certificate.
kube() {
  curl -sS --fail-with-body --cacert "$demo/kube/ca.crt" --cert "$demo/kube/admin.crt" --key "$demo/kube/admin.key" \
    -X "$1" -H 'Content-Type: application/json' "$server$2" ${3:+--data "$3"}
}
until kube GET /api/v1/namespaces/default/serviceaccounts/default >/dev/null 2>&1; do sleep 0.2; done

echo "demo: Vault holds the value; the cluster gets a derived copy"
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
printf '%s' "$password" | bao kv put -mount=secret demo/app username=demo password=- >/dev/null
bao policy write demo-read - >/dev/null <<'HCL'
path "secret/data/demo/*" { capabilities = ["read"] }
HCL

# Kubernetes auth: Vault reviews the agent's ServiceAccount tokens with a reviewer of its own.
for ns in ferry-system demo; do kube POST /api/v1/namespaces "{\"metadata\":{\"name\":\"$ns\"}}" >/dev/null; done
for sa in ferry-agent vault-reviewer; do
  kube POST /api/v1/namespaces/ferry-system/serviceaccounts "{\"metadata\":{\"name\":\"$sa\"}}" >/dev/null
done
kube POST /apis/rbac.authorization.k8s.io/v1/clusterrolebindings '{"metadata":{"name":"vault-reviewer"},
  "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"system:auth-delegator"},
  "subjects":[{"kind":"ServiceAccount","name":"vault-reviewer","namespace":"ferry-system"}]}' >/dev/null
(umask 077 && kube POST /api/v1/namespaces/ferry-system/serviceaccounts/vault-reviewer/token '{"spec":{}}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["status"]["token"], end="")' >"$demo/reviewer.jwt")
bao auth enable kubernetes >/dev/null
bao write auth/kubernetes/config kubernetes_host="$server" kubernetes_ca_cert=@"$demo/kube/ca.crt" \
  token_reviewer_jwt=@"$demo/reviewer.jwt" disable_local_ca_jwt=true >/dev/null
rm -f "$demo/reviewer.jwt"
bao write auth/kubernetes/role/ferry bound_service_account_names=ferry-agent \
  bound_service_account_namespaces=ferry-system policies=demo-read ttl=1h >/dev/null

metrics_port=$(free_port)
"$target/debug/ferry" agent --kubeconfig "$demo/kube/kubeconfig" --install-crds --own-namespace ferry-system \
  --metrics-addr "127.0.0.1:$metrics_port" --log-format json >"$demo/agent.log" 2>&1 &
pids+=($!)
until kube GET /apis/external-secrets.io/v1/clustersecretstores >/dev/null 2>&1; do
  kill -0 "${pids[2]}" 2>/dev/null || { echo "demo: the agent failed, see $demo/agent.log" >&2; exit 1; }
  sleep 0.2
done

# The seed's manifests, unchanged in shape: a ClusterSecretStore with Kubernetes auth, and an
# ExternalSecret (v1beta1, as written for ESO).
kube POST /apis/external-secrets.io/v1beta1/clustersecretstores '{"apiVersion":"external-secrets.io/v1beta1",
  "kind":"ClusterSecretStore","metadata":{"name":"vault-backend"},"spec":{"provider":{"vault":{
  "server":"'"$BAO_ADDR"'","path":"secret","version":"v2","auth":{"kubernetes":{"mountPath":"kubernetes",
  "role":"ferry","serviceAccountRef":{"name":"ferry-agent","namespace":"ferry-system"}}}}}}}' >/dev/null
kube POST /apis/external-secrets.io/v1beta1/namespaces/demo/externalsecrets '{"apiVersion":"external-secrets.io/v1beta1",
  "kind":"ExternalSecret","metadata":{"name":"app"},"spec":{"refreshInterval":"1m",
  "secretStoreRef":{"name":"vault-backend","kind":"ClusterSecretStore"},"target":{"name":"app-credentials"},
  "data":[{"secretKey":"username","remoteRef":{"key":"demo/app","property":"username"}},
          {"secretKey":"password","remoteRef":{"key":"demo/app","property":"password"}}]}}' >/dev/null

deadline=$((SECONDS + 30))
until kube GET /apis/external-secrets.io/v1/namespaces/demo/externalsecrets/app 2>/dev/null | grep -q '"SecretSynced"'; do
  (( SECONDS < deadline )) || { echo "demo: the ExternalSecret did not become Ready, see $demo/agent.log" >&2; exit 1; }
  sleep 0.2
done
synced=$(kube GET /api/v1/namespaces/demo/secrets/app-credentials | WANT="$password" python3 -c '
import base64, json, os, sys
s = json.load(sys.stdin)
same = base64.b64decode(s["data"]["password"]).decode() == os.environ["WANT"]
print(", ".join(sorted(s["data"])), "(password matches Vault:", "yes)" if same else "NO)")')
unset password
[[ "$synced" == *"matches Vault: yes"* ]] || { echo "demo: the Secret does not match Vault" >&2; exit 1; }

cat <<MSG

Ferry demo is up in $((SECONDS - start)) s:
  Kubernetes  kube-apiserver $server  (etcd, garbage-collector and namespace controllers)
  OpenBao     $BAO_ADDR  (dev mode, KV v2 at secret/, Kubernetes auth pointed at the API server)
  ferry agent synced ExternalSecret demo/app -> Secret demo/app-credentials: $synced
              metrics at http://127.0.0.1:$metrics_port/metrics, logs in $demo/agent.log

Reach them from another shell:
  export KUBECONFIG=$demo/kube/kubeconfig
  export BAO_ADDR=$BAO_ADDR VAULT_ADDR=$BAO_ADDR
  export BAO_TOKEN=\$(cat $demo/vault-root-token)   # a throwaway dev token, never printed
  $target/sandbox/bin/bao kv get secret/demo/app

MSG
curl -s "http://127.0.0.1:$metrics_port/metrics" | grep -E '^ferry_' || true

if [[ $wait == 1 ]]; then
  echo; echo "Press Ctrl-C to stop the sandbox."
  wait
fi
