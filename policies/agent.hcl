# Ferry agent: read-only access to the KV paths its SecretStores point at.
#
# The agent only ever fetches secret values (remoteRef) and, for
# dataFrom.find, lists and reads metadata. Token lookup, renewal and
# revocation of its own token come from Vault's built-in `default` policy,
# so nothing else is granted here. Lint treats this policy as read-only.

# [[ for path in agent_paths ]]
# [[ if kv_v2 ]]
path "[[ mount ]]/data/[[ path ]]" {
  capabilities = ["read"]
}

path "[[ mount ]]/metadata/[[ path ]]" {
  capabilities = ["read", "list"]
}
# [[ end ]]
# [[ if kv_v1 ]]
path "[[ mount ]]/[[ path ]]" {
  capabilities = ["read", "list"]
}
# [[ end ]]
# [[ end ]]
