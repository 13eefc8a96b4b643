//! The in-cluster sync controller behind `ferry agent`.
//!
//! It will reconcile `external-secrets.io` ExternalSecret, SecretStore and ClusterSecretStore
//! (Vault provider) into Kubernetes Secrets. It depends on `ferry-api` (types) and
//! `ferry-vault` (I/O) and nothing depends on it but the binary. Not built yet: the `ferry agent`
//! command says so and exits 2.
