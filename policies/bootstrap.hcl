# Ferry bootstrap token: exactly what phases 1 to 4 of `ferry bootstrap` need.
#
# Phase 5 revokes this token, so it lives for one bootstrap run. Nothing here
# uses a glob wider than one role folder, and `sudo` appears once, on the one
# path where Vault refuses the operation without it (see phase 1).

# Phase 1: mount the KV engine. Listing mounts lets a re-run see that the
# mount is already there; enabling and reading a secrets engine mount does not
# need sudo.
path "sys/mounts" {
  capabilities = ["read"]
}

path "sys/mounts/[[ mount ]]" {
  capabilities = ["create", "update", "read"]
}

# Phase 1: enable Kubernetes auth. Listing auth methods needs no sudo, but
# Vault and OpenBao mark every path under sys/auth/ as root-protected:
# enabling an auth method is denied without sudo. It is therefore granted on
# this single mount path and nowhere else.
path "sys/auth" {
  capabilities = ["read"]
}

path "sys/auth/[[ kubernetes_mount ]]" {
  capabilities = ["create", "update", "read", "sudo"]
}

# Phases 1, 3 and 4: point the Kubernetes auth mount at the API server, and
# write the roles of the agent and of the applications.
path "auth/[[ kubernetes_mount ]]/config" {
  capabilities = ["create", "update", "read"]
}

path "auth/[[ kubernetes_mount ]]/role/*" {
  capabilities = ["create", "update", "read"]
}

# Phase 2: write the declared values, never clobbering an existing one.
# [[ if kv_v2 ]]
# KV v2 writes must carry `options` (where the check-and-set version lives):
# Vault's ACLs cannot look inside it, the KV engine then enforces `cas`. The
# values are never read back; the metadata gives the current version for the
# next check-and-set.
# [[ for path in bootstrap_paths ]]
path "[[ mount ]]/data/[[ path ]]" {
  capabilities = ["create", "update"]
  required_parameters = ["options"]
}

path "[[ mount ]]/metadata/[[ path ]]" {
  capabilities = ["read"]
}
# [[ end ]]
# [[ end ]]
# [[ if kv_v1 ]]
# KV v1 has no check-and-set. `create` without `update` only allows writing a
# key that does not exist yet, which is the same guarantee; `read` lets a
# re-run tell whether a key it wrote before is already there.
# [[ for path in bootstrap_paths ]]
path "[[ mount ]]/[[ path ]]" {
  capabilities = ["create", "read"]
}
# [[ end ]]
# [[ end ]]

# Phases 3 and 4: write Ferry's own policies, by name only. Both the current
# endpoint and the legacy one (which Ferry's client uses) are listed.
# [[ for name in policy_names ]]
path "sys/policies/acl/[[ name ]]" {
  capabilities = ["create", "update", "read"]
}

path "sys/policy/[[ name ]]" {
  capabilities = ["create", "update", "read"]
}
# [[ end ]]

# Child tokens for the checks of phases 3 and 4 (a child token can only carry
# policies this token has), and revoking this token at the end.
path "auth/token/create" {
  capabilities = ["update"]
}

path "auth/token/revoke-self" {
  capabilities = ["update"]
}
