# One policy for every namespace: a Kubernetes service account may read only
# the secrets under its own namespace's folder of the KV mount.
#
# Vault fills in the {{identity...}} expression at request time from the
# entity alias created by the Kubernetes auth mount whose accessor is
# [[ kubernetes_accessor ]]: the alias metadata holds the namespace of the
# service account that logged in. A token from any other auth mount has no
# such alias, the expression does not resolve and the path matches nothing.
# Lint treats this policy as read-only.

# [[ if kv_v2 ]]
path "[[ mount ]]/data/{{identity.entity.aliases.[[ kubernetes_accessor ]].metadata.service_account_namespace}}/*" {
  capabilities = ["read"]
}

path "[[ mount ]]/metadata/{{identity.entity.aliases.[[ kubernetes_accessor ]].metadata.service_account_namespace}}/*" {
  capabilities = ["read", "list"]
}
# [[ end ]]
# [[ if kv_v1 ]]
path "[[ mount ]]/{{identity.entity.aliases.[[ kubernetes_accessor ]].metadata.service_account_namespace}}/*" {
  capabilities = ["read", "list"]
}
# [[ end ]]
