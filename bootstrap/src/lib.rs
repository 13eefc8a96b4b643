//! The five-phase bootstrap behind `ferry bootstrap` and `ferry unseal`.
//!
//! It will take a cluster from environment variables to zero secrets: init and unseal Vault
//! with the keys sealed to age recipients, write the values to KV once, switch Flux's Git
//! credentials to a Vault-backed Secret, write policies and roles, verify and revoke the root
//! and bootstrap tokens. Not built yet: the `ferry bootstrap` command says so and exits 2.
