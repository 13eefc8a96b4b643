#!/usr/bin/env bash
# The test command: installs the real components (sshd from the OS packages, OpenBao,
# kube-sandbox) if needed, then runs every test in the workspace against them. Extra
# arguments go to `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/os-packages.sh"
bash "$root/scripts/sandbox-tools.sh"
cd "$root"
sandbox="${CARGO_TARGET_DIR:-$root/target}/sandbox/bin"
export FERRY_BAO=${FERRY_BAO:-$sandbox/bao} FERRY_KUBE_SANDBOX=${FERRY_KUBE_SANDBOX:-$sandbox/kube-sandbox}
# The integration tests are one binary (tests/it) and mostly wait on the servers and the agent:
# four at a time finish in about 85 s on 2 cores, against about 125 s with libtest's default of
# one per core. RUST_TEST_THREADS set by the caller wins.
export RUST_TEST_THREADS=${RUST_TEST_THREADS:-4}
exec cargo test --workspace --locked "$@"
