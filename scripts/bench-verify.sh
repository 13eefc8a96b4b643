#!/usr/bin/env bash
# Benchmark of `ferry verify`'s Git scan (crate ferry-verify): MiB/s over every blob of a generated
# repository, beside the floor `git cat-file --batch-all-objects --batch | grep -F -f <patterns>`
# run on the same repository with the same known values (verbatim and base64). Ours runs on one
# thread and also applies every token and manifest rule; the floor's pipeline uses two processes,
# so its CPU time is printed as well.
#
# Usage: scripts/bench-verify.sh [MiB]   (default 200, or FERRY_BENCH_MIB; e.g. 20 for a smoke run)
# Builds with --release. FERRY_BENCH_DIR keeps the generated repository in that directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
mib=${1:-${FERRY_BENCH_MIB:-200}}
runs=${FERRY_BENCH_RUNS:-3}
if [[ -n "${FERRY_BENCH_DIR:-}" ]]; then
  work=$FERRY_BENCH_DIR
  rm -rf "$work/repo"
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

cd "$root"
cargo build --release --locked -q -p ferry-verify --example bench_verify
bin="${CARGO_TARGET_DIR:-$root/target}/release/examples/bench_verify"

start=$SECONDS
"$bin" generate "$work" --mib "$mib"
echo "generated in $((SECONDS - start)) s: $(du -sh "$work/repo/.git" | cut -f1) on disk"

# Ours: best of $runs (warm page cache, as for the floor).
best_ours=""
for _ in $(seq "$runs"); do
  line=$("$bin" scan "$work")
  secs=$(sed -E 's/.*seconds=([0-9.]+).*/\1/' <<<"$line")
  if [[ -z "$best_ours" ]] || awk -v a="$secs" -v b="$best_secs" 'BEGIN { exit !(a < b) }'; then
    best_ours=$line
    best_secs=$secs
  fi
done
bytes=$(sed -E 's/.*blob_bytes=([0-9]+).*/\1/' <<<"$best_ours")
echo "ours:  $best_ours"

# Floor: best of $runs, wall and CPU (user + sys) of the whole pipeline. As specified, cat-file
# lists objects in hash order; the same pipeline with --unordered (pack order) is shown too.
floor() {
  local best="" wall user sys timing
  for _ in $(seq "$runs"); do
    timing=$({ TIMEFORMAT='%R %U %S'; time (git -C "$work/repo" cat-file --batch-all-objects \
      --batch "$@" | grep -F -c -f "$work/patterns.txt" >/dev/null || true); } 2>&1)
    read -r wall user sys <<<"$timing"
    if [[ -z "$best" ]] || awk -v a="$wall" -v b="${best% *}" 'BEGIN { exit !(a < b) }'; then
      best="$wall $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')"
    fi
  done
  echo "$best"
}
read -r floor_wall floor_cpu <<<"$(floor)"
read -r unord_wall unord_cpu <<<"$(floor --unordered)"

awk -v bytes="$bytes" -v ours="$best_secs" -v fw="$floor_wall" -v fc="$floor_cpu" -v mib="$mib" \
  -v uw="$unord_wall" -v uc="$unord_cpu" 'BEGIN {
  m = bytes / 1048576
  printf "repository: %.0f MiB of blobs (requested %s MiB)\n", m, mib
  printf "ours  (1 thread, all rules):      %8.1f MiB/s  (%.3f s)\n", m / ours, ours
  printf "floor (cat-file | grep -F), wall: %8.1f MiB/s  (%.3f s)\n", m / fw, fw
  printf "floor per CPU-second:             %8.1f MiB/s  (%.3f s user+sys)\n", m / fc, fc
  printf "floor with --unordered, wall:     %8.1f MiB/s  (%.3f s; %.3f s user+sys)\n", m / uw, uw, uc
  printf "ratio ours / floor (wall):        %8.2f  (%.2f against --unordered)\n", fw / ours, uw / ours
  printf "target: >= 200 MiB/s per core for ours: %s\n", (m / ours >= 200 ? "met" : "NOT met")
}'
