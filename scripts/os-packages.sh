#!/usr/bin/env bash
# Installs the operating-system packages the tests need beyond Rust, Go and Python:
#   openssh-server  sshd, for the SSH Git server of the tests (ferry_testenv::ssh)
#   openssh-client  ssh and ssh-keygen, for its keys and for `git clone` over SSH
#   slapd           OpenLDAP's server, for the LDAP auth test (ferry_testenv::ldap)
#   ldap-utils      ldapsearch and friends, to look into that server by hand
#   openssl         the certificates of the TLS certificate auth test (ferry_testenv::pki)
# Debian or Ubuntu, with apt-get. Idempotent: skipped when every command is already there.
# Needs root (or sudo) only when something is missing.
set -euo pipefail
sshd=${FERRY_SSHD:-/usr/sbin/sshd}
missing=()
[[ -x "$sshd" ]] || missing+=(openssh-server)
command -v ssh >/dev/null && command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v git >/dev/null || missing+=(git)
[[ -x "${FERRY_SLAPD:-/usr/sbin/slapd}" ]] || missing+=(slapd)
command -v ldapsearch >/dev/null || missing+=(ldap-utils)
command -v openssl >/dev/null || missing+=(openssl)
if ((${#missing[@]})); then
  echo "os-packages: installing ${missing[*]} with apt-get"
  sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "os-packages: $("$sshd" -V 2>&1 | head -n1)"
echo "os-packages: $("${FERRY_SLAPD:-/usr/sbin/slapd}" -VV 2>&1 | head -n1)"
