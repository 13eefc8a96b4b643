#!/usr/bin/env bash
# The demo: starts the local sandbox (a real OpenBao and a real kube-apiserver with etcd and
# kube-controller-manager, all on loopback), builds ferry, shows how to reach everything, and
# keeps it running until Ctrl-C. `--no-wait` stops it again right away (what CI runs).
# It grows as the bootstrap, agent and verify land.
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
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
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

cat <<MSG

Ferry sandbox is up in $((SECONDS - start)) s:
  Kubernetes  kube-apiserver $(cat "$demo/kube/ready")  (etcd, garbage-collector and namespace controllers)
  OpenBao     http://127.0.0.1:$vault_port  (dev mode, KV v2 at secret/)

Reach them from another shell:
  export KUBECONFIG=$demo/kube/kubeconfig
  export BAO_ADDR=http://127.0.0.1:$vault_port VAULT_ADDR=http://127.0.0.1:$vault_port
  export BAO_TOKEN=\$(cat $demo/vault-root-token)   # a throwaway dev token, never printed
  $target/sandbox/bin/bao kv list secret/

The ferry binary: $target/debug/ferry --help
MSG
"$target/debug/ferry" --help

if [[ $wait == 1 ]]; then
  echo; echo "Press Ctrl-C to stop the sandbox."
  wait
fi
