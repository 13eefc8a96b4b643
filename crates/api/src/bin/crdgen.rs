//! Prints the CRDs Ferry serves (`ferry_api::crds_yaml()`) to stdout.
//!
//! Regenerate the Helm chart's copy with
//! `cargo run -q -p ferry-api --bin crdgen > charts/ferry/crds/external-secrets.yaml`.
//! That one file is also what `charts/ferry/templates/crds.yaml` renders when `crds.upgrade`
//! is on, so both copies always match; `crates/api`'s tests fail when the file is stale, and
//! `tests/it/chart.rs` checks the templated copy.

fn main() {
    print!("{}", ferry_api::crds_yaml());
}
