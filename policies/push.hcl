# A push store's identity: what a PushSecret needs to write the KV paths it
# pushes to, and nothing else. Give it to the Vault role (or token) of the
# SecretStore a PushSecret pushes through, never to the agent's own role.
#
# On each path: read (the current version, to merge properties and to set the
# check-and-set version), create and update (the write; Ferry sends every KV v2
# write with check-and-set, so it never overwrites a concurrent write). The
# metadata path carries the `managed-by` marker; delete/ is the soft delete of
# one version, for deletionPolicy Delete. No list, no destroy, no metadata
# delete. Lint checks that every pushed path has all of this.

# [[ for path in push_paths ]]
# [[ if kv_v2 ]]
path "[[ mount ]]/data/[[ path ]]" {
  capabilities = ["create", "read", "update"]
}

path "[[ mount ]]/metadata/[[ path ]]" {
  capabilities = ["create", "read", "update"]
}

path "[[ mount ]]/delete/[[ path ]]" {
  capabilities = ["update"]
}
# [[ end ]]
# [[ if kv_v1 ]]
path "[[ mount ]]/[[ path ]]" {
  capabilities = ["create", "read", "update", "delete"]
}
# [[ end ]]
# [[ end ]]
