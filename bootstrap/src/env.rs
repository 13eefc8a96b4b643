//! The environment variables `bootstrap.yaml` declares, read exactly once at start into
//! [`SecretString`]s and never again.
//!
//! Ferry cannot remove them from its own environment soundly (`std::env::remove_var` is
//! `unsafe` in a multi-threaded process, and the workspace denies `unsafe`), so the values
//! are copied out once, the copies zeroize on drop, and the operator's shell gets the
//! `unset …` line at the end of the run.

use std::collections::BTreeMap;

use ferry_config::BootstrapConfig;
use secrecy::SecretString;

use crate::error::BootstrapError;

/// The declared variables that were set when the run started, by name.
#[derive(Default)]
pub struct EnvValues {
    values: BTreeMap<String, SecretString>,
}

impl std::fmt::Debug for EnvValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvValues")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl EnvValues {
    /// Reads every variable `config.env` names through `lookup` (use
    /// [`EnvValues::from_process`] for the real environment). Unset variables are left out;
    /// [`EnvValues::check`] reports them.
    pub fn read(
        config: &BootstrapConfig,
        mut lookup: impl FnMut(&str) -> Option<String>,
    ) -> EnvValues {
        let values = config
            .env
            .iter()
            .filter_map(|entry| {
                lookup(&entry.name).map(|value| (entry.name.clone(), SecretString::from(value)))
            })
            .collect();
        EnvValues { values }
    }

    /// The declared variables among `values` (from `--env-secret`); others are dropped.
    pub fn from_values(
        config: &BootstrapConfig,
        mut values: BTreeMap<String, SecretString>,
    ) -> EnvValues {
        let values = config
            .env
            .iter()
            .filter_map(|entry| values.remove_entry(&entry.name))
            .collect();
        EnvValues { values }
    }

    /// Reads the declared variables from the process environment, once.
    pub fn from_process(config: &BootstrapConfig) -> EnvValues {
        EnvValues::read(config, |name| std::env::var(name).ok())
    }

    /// The value of `name`, if it was set.
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.values.get(name)
    }

    /// Whether no declared variable was set.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Checks that every declared variable is set and passes its `check`, and that every
    /// value a credential field uses has the shape that field needs (a GitHub App's private
    /// key is a PEM RSA key, …), reporting all that are missing or fail at once, by name and
    /// field (and the check's reason, never the value).
    pub fn check(&self, config: &BootstrapConfig) -> Result<(), BootstrapError> {
        let mut missing = Vec::new();
        let mut failed = Vec::new();
        for entry in &config.env {
            match self.values.get(&entry.name) {
                None => missing.push(entry.name.clone()),
                Some(value) => {
                    if let Some(check) = &entry.check
                        && let Err(reason) = ferry_config::check_value(check, value)
                    {
                        failed.push(format!("{}: {reason}", entry.name));
                    }
                }
            }
        }
        // What a credential field needs of its value (a GitHub App's RSA key, its IDs, an
        // SSH key), whatever `check` the entry declares.
        for r in config.credential_env_refs() {
            let (Some(rule), Some(value)) = (r.rule, self.values.get(r.env)) else {
                continue;
            };
            if let Err(reason) = ferry_config::check_rule(rule, value) {
                failed.push(format!("{} ({}): {reason}", r.env, r.field));
            }
        }
        if missing.is_empty() && failed.is_empty() {
            Ok(())
        } else {
            Err(BootstrapError::CheckEnv { missing, failed })
        }
    }
}

/// The line the operator runs afterwards to drop the values from their shell.
pub fn unset_line(config: &BootstrapConfig) -> Option<String> {
    let names = config.env_names();
    (!names.is_empty()).then(|| format!("unset {}", names.join(" ")))
}
