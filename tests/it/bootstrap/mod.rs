//! `ferry bootstrap` and `ferry unseal`, each test with an uninitialised OpenBao of its own.

mod argocd;
mod flux;
mod kill;
mod run;
mod ssh;
