#!/usr/bin/env bash
# Builds Flux's source-controller and kustomize-controller from their published Go modules into
# target/sandbox/bin/ (under $CARGO_TARGET_DIR when set), and copies Flux's CRDs from the same
# modules (config/crd/bases) into target/sandbox/flux/crds/. Each controller has a wrapper module
# here (its go.mod repeats the replace directives upstream needs; see the comments there). Go's
# module and build caches make re-runs quick; a controller is skipped when its binary and CRDs are
# newer than its wrapper module.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
sandbox="${CARGO_TARGET_DIR:-$root/target}/sandbox"
crds="$sandbox/flux/crds"
mkdir -p "$sandbox/bin" "$crds"

# Whether the binary $1 and the CRD stamp $2 exist and are newer than every other argument.
fresh() {
  local out=$1 stamp=$2 src
  shift 2
  [[ -x "$out" && -f "$stamp" ]] || return 1
  for src in "$@"; do
    [[ "$out" -nt "$src" && "$stamp" -nt "$src" ]] || return 1
  done
}

build() {
  local name=$1 module=github.com/fluxcd/$1 dir=$here/$1 out=$sandbox/bin/$1
  local stamp=$crds/.$name
  if fresh "$out" "$stamp" "$dir/go.mod" "$dir/go.sum" "$here/build.sh"; then
    echo "flux: $name up to date ($out)"
    return
  fi
  local version
  version=$(cd "$dir" && go list -m -f '{{.Version}}' "$module")
  echo "flux: building $name $version from its Go module (the first build takes several minutes)"
  local start=$SECONDS
  (cd "$dir" && go build -trimpath -ldflags='-s -w' -o "$out.tmp" "$module")
  mv "$out.tmp" "$out"
  # The CRDs of the same release, from the module source the binary was built from.
  local src
  src=$(cd "$dir" && go list -m -f '{{.Dir}}' "$module")/config/crd/bases
  install -m 0644 "$src"/*.yaml "$crds/"
  echo "$version" > "$stamp"
  echo "flux: built $name $version in $((SECONDS - start)) s ($out)"
}

build source-controller
build kustomize-controller
