#!/usr/bin/env bash
# The test command: installs the real components (OpenBao, kube-sandbox) if needed, then runs
# every test in the workspace against them. Extra arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/sandbox-tools.sh"
cd "$root"
sandbox="${CARGO_TARGET_DIR:-$root/target}/sandbox/bin"
export FERRY_BAO=${FERRY_BAO:-$sandbox/bao} FERRY_KUBE_SANDBOX=${FERRY_KUBE_SANDBOX:-$sandbox/kube-sandbox}
exec cargo test --workspace --locked "$@"
