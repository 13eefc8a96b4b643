#!/usr/bin/env bash
# Regenerates go.mod for the sandbox: requires k8s.io/kubernetes at $K8S_VERSION and pins every
# staging module it replaces with ./staging paths to the matching v0.N.M published module.
set -euo pipefail
cd "$(dirname "$0")"
K8S_VERSION=${K8S_VERSION:-v1.35.4}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
mod=$(curl -fsSL "https://proxy.golang.org/k8s.io/kubernetes/@v/${K8S_VERSION}.mod")
{
  echo "module ferry.dev/kube-sandbox"
  echo
  echo "go 1.25.0"
  echo
  echo "require k8s.io/kubernetes ${K8S_VERSION}"
  echo
  echo "replace ("
  echo "$mod" | awk '/=> \.\/staging\/src\// {print $1}' | sort -u | while read -r m; do
    printf '\t%s => %s %s\n' "$m" "$m" "$STAGING_VERSION"
  done
  echo ")"
} > go.mod
go get "go.etcd.io/etcd/server/v3@$(echo "$mod" | awk '$1=="go.etcd.io/etcd/server/v3" {print $2}')"
go mod tidy
