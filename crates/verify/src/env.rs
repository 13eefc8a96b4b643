//! The environment check: after bootstrap, none of the variables it read secrets from should
//! still be set in the operator's (or CI job's) environment. A finding names the variable, never
//! its value; a variable set to the empty string counts as set.

use ferry_config::BootstrapConfig;

use crate::{Finding, Location, rules};

/// The names of the environment variables bootstrap reads values from: every `env` entry of
/// `config` (Flux's `*Env` references point at those entries), in file order.
pub fn bootstrap_env_names(config: &BootstrapConfig) -> Vec<String> {
    config.env_names().into_iter().map(str::to_owned).collect()
}

/// A [`rules::BOOTSTRAP_ENV_SET`] finding for each of `names` set in this process's
/// environment, in the order given (duplicates reported once).
pub fn check_env<S: AsRef<str>>(names: &[S]) -> Vec<Finding> {
    check_env_with(names, |name| std::env::var_os(name).is_some())
}

/// [`check_env`] with the lookup supplied, for callers that check another process's
/// environment (or tests).
pub fn check_env_with<S: AsRef<str>>(names: &[S], is_set: impl Fn(&str) -> bool) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    for name in names.iter().map(AsRef::as_ref) {
        let seen = out
            .iter()
            .any(|f| matches!(&f.location, Location::Env { name: n } if n == name));
        if !seen && is_set(name) {
            out.push(Finding::new(
                rules::BOOTSTRAP_ENV_SET,
                Location::Env {
                    name: name.to_owned(),
                },
                "a variable bootstrap reads a secret from is still set; unset it \
                 (the value is in Vault now)",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_finding_per_set_name() {
        let names = ["A_SET", "B_UNSET", "A_SET", "C_EMPTY"];
        let found = check_env_with(&names, |n| n != "B_UNSET");
        let names: Vec<String> = found.iter().map(|f| f.location.to_string()).collect();
        assert_eq!(
            names,
            vec!["environment variable A_SET", "environment variable C_EMPTY"]
        );
        assert!(found.iter().all(|f| f.rule == rules::BOOTSTRAP_ENV_SET));
    }
}
