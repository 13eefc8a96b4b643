# Read-only access for one application: [[ app ]].
#
# Only the values at the application's declared paths can be read: no
# listing, no metadata, no writes. Lint treats this policy as read-only.

# [[ for path in app_paths ]]
# [[ if kv_v2 ]]
path "[[ mount ]]/data/[[ path ]]" {
  capabilities = ["read"]
}
# [[ end ]]
# [[ if kv_v1 ]]
path "[[ mount ]]/[[ path ]]" {
  capabilities = ["read"]
}
# [[ end ]]
# [[ end ]]
