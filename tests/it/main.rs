//! Ferry's integration tests, one binary against real components: an OpenBao dev server and a
//! kube-sandbox (etcd, kube-apiserver, kube-controller-manager), started once for the whole run
//! by `ferry-testenv` and shared by every test, each in its own namespace and Vault path
//! prefix. Tests that change what those servers look like to the others start servers of their
//! own (see `docs/testing.md`).
//!
//! One module per area, one submodule per suite; the helpers are in [`support`].

mod agent;
mod bootstrap;
mod chart;
mod environment;
mod policy;
mod support;
mod verify;
