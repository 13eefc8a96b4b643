//! Prints the CRDs Ferry serves (`ferry_api::crds_yaml()`) to stdout.
//!
//! Regenerate the Helm chart's copy with
//! `cargo run -q -p ferry-api --bin crdgen > charts/ferry/crds/external-secrets.yaml`.

fn main() {
    print!("{}", ferry_api::crds_yaml());
}
