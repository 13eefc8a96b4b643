#!/usr/bin/env bash
# Benchmark of `ferry bootstrap`: all five phases against the local sandbox (a real
# kube-apiserver and an UNINITIALISED OpenBao on loopback), with `ferry agent` running, from
# the release binary's `--output json` events. It prints each phase's duration, the time spent
# waiting on external controllers (steps marked "wait": true: the agent syncing the Flux and app
# ExternalSecrets, Flux), and the total without those waits, which the target (< 15 s) is about.
#
# The floor, measured in the same run on a second fresh OpenBao: the same Vault work done by the
# `bao` CLI (operator init, unseal, KV v2 mount, Kubernetes auth enabled, one `kv put` per value).
#
# Usage: scripts/bench-bootstrap.sh        (FERRY_BENCH_DIR keeps the working directory)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
work=${FERRY_BENCH_DIR:-$(mktemp -d)}
rm -rf "$work" && mkdir -p "$work" && chmod 700 "$work"
bash "$root/scripts/sandbox-tools.sh" >/dev/null
(cd "$root" && cargo build --quiet --locked --release -p ferry --bin ferry)
ferry="$target/release/ferry"
bao="$target/sandbox/bin/bao"
[[ -x "$bao" ]] || bao="$root/target/sandbox/bin/bao"
sandbox="$(dirname "$bao")/kube-sandbox"

pids=()
cleanup() {
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    kill "${pids[i]}" 2>/dev/null || true
    wait "${pids[i]}" 2>/dev/null || true
  done
  [[ -n "${FERRY_BENCH_DIR:-}" ]] || rm -rf "$work"
}
trap cleanup EXIT INT TERM
source "$root/scripts/lib.sh"
random() { python3 -c "import secrets; print(secrets.token_urlsafe(24), end='')"; }

# start_bao NAME: an uninitialised OpenBao with raft storage; its address goes to $addr
# (not printed: a command substitution would run it in a subshell and lose its pid).
start_bao() {
  local dir="$work/$1" port cport
  port=$(free_port) && cport=$(free_port)
  bao_raft_config "$dir" "$1" "$port" "$cport"
  "$bao" server -config="$dir/bao.hcl" >"$dir/bao.log" 2>&1 &
  pids+=($!)
  until grep -q 'OpenBao server started' "$dir/bao.log" 2>/dev/null; do sleep 0.1; done
  addr="http://127.0.0.1:$port"
}

"$sandbox" --data-dir "$work/kube" >"$work/kube-sandbox.out" 2>&1 &
pids+=($!)
start_bao bench && vault=$addr
start_bao floor && floor_vault=$addr
until grep -q '^READY ' "$work/kube-sandbox.out" 2>/dev/null; do sleep 0.2; done
export KUBECONFIG="$work/kube/kubeconfig"

ssh-keygen -q -t ed25519 -N '' -C bench -f "$work/operator" >/dev/null
export GITHUB_TOKEN BENCH_DB_PASSWORD BENCH_API_KEY
GITHUB_TOKEN=$(random) BENCH_DB_PASSWORD=$(random) BENCH_API_KEY=$(random)
cat >"$work/bootstrap.yaml" <<YAML
vault: {address: "$vault"}
init:
  keyShares: 3
  keyThreshold: 2
  recipients: ["$(cat "$work/operator.pub")"]
  bundle: {file: $work/vault-init.age}
kubernetesAuth: {reviewerServiceAccount: ferry-vault-reviewer}
env:
  - {name: GITHUB_TOKEN, path: flux/git, key: password, check: {nonEmpty: true}}
  - {name: BENCH_DB_PASSWORD, path: bench/db, key: password}
  - {name: BENCH_API_KEY, path: bench/api, key: key}
flux:
  auth: {https: {username: git, passwordEnv: GITHUB_TOKEN}}
apps:
  - name: bench
    namespace: bench
    serviceAccount: bench
    paths: [bench/*]
    externalSecrets:
      - name: bench
        create:
          data:
            - {secretKey: db, key: bench/db, property: password}
            - {secretKey: api, key: bench/api, property: key}
YAML

FERRY_LOG=warn "$ferry" agent --install-crds --metrics-addr "127.0.0.1:$(free_port)" \
  >"$work/agent.log" 2>&1 &
pids+=($!)

FERRY_LOG=error,rustify=off,vaultrs=off "$ferry" bootstrap --config "$work/bootstrap.yaml" --output json \
  --identity "$work/operator" 2>"$work/events.jsonl" >/dev/null ||
  { echo "bench: bootstrap failed:" >&2; grep -v '^{' "$work/events.jsonl" >&2 || true; tail -3 "$work/events.jsonl" >&2; exit 1; }

grep '^{' "$work/events.jsonl" >"$work/events.json"
echo "ferry bootstrap (release), 5 phases, uninitialised OpenBao + kube-sandbox:"
jq -r 'select(.event == "phase.done") | "  phase \(.phase) \(.title): \(.ms) ms"' "$work/events.json"
jq -r 'select(.event == "step.done" and .ms >= 100) | "    slowest steps: phase \(.phase) \(.step): \(.ms) ms\(if .wait then " (wait)" else "" end)"' "$work/events.json"
total=$(jq -s '[.[] | select(.event == "run.finished")][0].ms' "$work/events.json")
waits=$(jq -s '[.[] | select((.event == "step.done" or .event == "step.skipped") and .wait == true) | .ms] | add // 0' "$work/events.json")
echo "  total: $total ms; waits on external controllers: $waits ms; without waits: $((total - waits)) ms (target < 15000)"

# The floor: the same Vault operations with the bao CLI.
export BAO_ADDR=$floor_vault
start=$(date +%s%N)
"$bao" operator init -key-shares=3 -key-threshold=2 -format=json >"$work/floor-init.json"
floor_init=$((($(date +%s%N) - start) / 1000000))
for i in 0 1; do
  "$bao" operator unseal "$(jq -r ".unseal_keys_b64[$i]" "$work/floor-init.json")" >/dev/null
done
BAO_TOKEN=$(jq -r .root_token "$work/floor-init.json")
export BAO_TOKEN
until "$bao" secrets enable -path=secret kv-v2 >/dev/null 2>&1; do sleep 0.05; done
"$bao" auth enable kubernetes >/dev/null
for v in GITHUB_TOKEN BENCH_DB_PASSWORD BENCH_API_KEY; do
  printf '%s' "${!v}" | "$bao" kv put -mount=secret "floor/$v" value=- >/dev/null
done
floor=$((($(date +%s%N) - start) / 1000000))
echo "floor (bao CLI: init, unseal, kv-v2 mount, kubernetes auth, 3 kv puts): $floor ms, of which operator init $floor_init ms"
ours_init=$(jq -s '[.[] | select(.event == "step.done" and (.step | startswith("initialise")))][0].ms' "$work/events.json")
echo "ours without waits and without sys/init ($ours_init ms): $((total - waits - ours_init)) ms; floor without init: $((floor - floor_init)) ms"
