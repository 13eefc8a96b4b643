#!/usr/bin/env bash
# Benchmark of `ferry agent`: cold sync of N ExternalSecrets (default 10000) against a real
# OpenBao dev server and the real kube-sandbox API server, beside a floor measured in the same
# run (a plain client doing the same Vault reads, Secret applies and status patches at the same
# concurrency), and the agent's memory (VmRSS / VmHWM) after the sync.
# See examples/bench_agent.rs and docs/performance.md.
#
# Usage: scripts/bench-agent.sh [N] [extra flags of the example, e.g. --paths 100 --concurrency 16]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
n=${1:-10000}
shift || true
bash "$root/scripts/sandbox-tools.sh" >/dev/null
export FERRY_BAO="$target/sandbox/bin/bao" FERRY_KUBE_SANDBOX="$target/sandbox/bin/kube-sandbox"
(cd "$root" && cargo build --quiet --locked --release -p ferry --bin ferry --example bench_agent)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$target/release/examples/bench_agent" "$n" --ferry "$target/release/ferry" "$@" | tee "$out"

result=$(grep '^RESULT ' "$out")
get() { sed -E "s/.* $1=([^ ]+).*/\1/" <<<"$result"; }
echo
echo "summary (N=$(get n), $(get paths) Vault paths):"
echo "  cold sync: ours $(get ours_s) s, floor $(get floor_s) s, ratio $(get ratio) (target <= 1.5):" \
  "$(awk -v r="$(get ratio)" 'BEGIN { print (r <= 1.5) ? "met" : "NOT met" }')"
echo "  memory: VmRSS $(get rss_mib) MiB idle after the sync, VmHWM $(get hwm_mib) MiB peak (target <= 64 MiB):" \
  "idle $(awk -v m="$(get rss_mib)" 'BEGIN { print (m <= 64) ? "met" : "NOT met" }')," \
  "peak $(awk -v m="$(get hwm_mib)" 'BEGIN { print (m <= 64) ? "met" : "NOT met" }')"
