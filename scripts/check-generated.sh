#!/usr/bin/env bash
# Fails when a committed generated file differs from what the code generates now. Today that is
# the kube-sandbox go.mod's staging replace directives, checked against k8s.io/kubernetes' own
# go.mod in the module cache.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
gomod="$root/tests/kube-sandbox/go.mod"
version=$(awk '$1=="k8s.io/kubernetes" {print $2; exit}' "$gomod")
staging="v0.${version#v1.}"
upstream=$(cd "$root/tests/kube-sandbox" && go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
want=$(awk '/=> \.\/staging\/src\// {print $1}' "$upstream" | sort -u)
have=$(awk -v v="$staging" '$2=="=>" && $4==v {print $1}' "$gomod" | sort -u)
if [[ "$want" != "$have" ]]; then
  echo "tests/kube-sandbox/go.mod: staging replace directives differ from k8s.io/kubernetes $version; run tests/kube-sandbox/gen-gomod.sh" >&2
  diff <(echo "$want") <(echo "$have") >&2 || true
  exit 1
fi
echo "check-generated: kube-sandbox replaces match k8s.io/kubernetes $version ($(echo "$want" | wc -l) staging modules)"
