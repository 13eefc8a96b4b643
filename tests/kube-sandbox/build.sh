#!/usr/bin/env bash
# Builds the kube-sandbox binary (embedded etcd + kube-apiserver + kube-controller-manager) from
# the published Go modules into target/sandbox/bin/. Go's module and build caches make re-runs
# quick; the binary itself is skipped when it is newer than its sources.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out="${CARGO_TARGET_DIR:-$root/target}/sandbox/bin/kube-sandbox"
if [[ -x "$out" && "$out" -nt "$here/main.go" && "$out" -nt "$here/go.mod" && "$out" -nt "$here/go.sum" ]]; then
  echo "kube-sandbox: up to date ($out)"
  exit 0
fi
mkdir -p "$(dirname "$out")"
cd "$here"
echo "kube-sandbox: building from k8s.io/kubernetes $(awk '$1=="k8s.io/kubernetes" {print $2}' go.mod) (first build takes several minutes)"
GOFLAGS=-mod=mod go build -trimpath -ldflags='-s -w' -o "$out.tmp" .
mv "$out.tmp" "$out"
echo "kube-sandbox: built $out"
