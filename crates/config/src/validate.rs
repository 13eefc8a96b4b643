//! Semantic validation of a [`BootstrapConfig`]: every rule that the YAML's shape cannot
//! express. All problems are collected, each naming its field path; [`crate::parse`]
//! then adds the line and column of each field from the text.

use std::collections::{HashMap, HashSet};

use crate::apps::AppConfig;
use crate::check::{compile_anchored, looks_like_secret, pem_labels};
use crate::env::EnvCheck;
use crate::error::{ConfigError, Problem};
use crate::recipient::parse_recipient;
use crate::rules;
use crate::schema::BootstrapConfig;

/// The origin named by [`BootstrapConfig::validate`], which has no file name.
const UNNAMED_ORIGIN: &str = "bootstrap config";

/// Collects problems.
#[derive(Default)]
pub(crate) struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    pub(crate) fn fail(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(field, message));
    }

    pub(crate) fn rule(&mut self, field: impl Into<String>, result: Result<(), &'static str>) {
        if let Err(reason) = result {
            self.fail(field, reason);
        }
    }
}

impl BootstrapConfig {
    /// Checks every rule the YAML's shape cannot express, and reports all problems at
    /// once as [`ConfigError::Validate`], each with its field path. Locations are only
    /// known to [`crate::parse`] and [`crate::load`], which call this and add them.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Validate {
                origin: UNNAMED_ORIGIN.to_owned(),
                problems,
            })
        }
    }

    /// Every problem, in section order.
    pub(crate) fn problems(&self) -> Vec<Problem> {
        let mut c = Checker::default();
        self.check_vault(&mut c);
        self.check_init(&mut c);
        c.rule("kv.mount", rules::mount(&self.kv.mount));
        c.rule(
            "kubernetesAuth.mount",
            rules::mount(&self.kubernetes_auth.mount),
        );
        if let Some(host) = &self.kubernetes_auth.host {
            c.rule("kubernetesAuth.host", rules::http_url(host));
        }
        if let Some(file) = &self.kubernetes_auth.ca_file
            && file.as_os_str().is_empty()
        {
            c.fail("kubernetesAuth.caFile", "must not be empty");
        }
        if let Some(sa) = &self.kubernetes_auth.reviewer_service_account {
            c.rule(
                "kubernetesAuth.reviewerServiceAccount",
                rules::dns_subdomain(sa),
            );
        }
        self.check_env(&mut c);
        self.check_gitops(&mut c);
        self.check_agent(&mut c);
        self.check_apps(&mut c);
        self.check_no_secret_values(&mut c);
        c.problems
    }

    fn check_vault(&self, c: &mut Checker) {
        let vault = &self.vault;
        c.rule("vault.address", rules::http_url(&vault.address));
        if vault.ca_file.is_some() && vault.ca_pem.is_some() {
            c.fail("vault.caPem", "give at most one of `caFile` and `caPem`");
        }
        if vault
            .ca_file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            c.fail("vault.caFile", "must not be empty");
        }
        if let Some(pem) = &vault.ca_pem {
            match pem_labels(pem) {
                Ok(labels) if labels.iter().all(|l| l == "CERTIFICATE") => {}
                Ok(_) => c.fail("vault.caPem", "must hold only CERTIFICATE blocks"),
                Err(reason) => c.fail("vault.caPem", reason),
            }
        }
        if let Some(ns) = &vault.namespace {
            c.rule("vault.namespace", rules::vault_namespace(ns));
        }
    }

    fn check_init(&self, c: &mut Checker) {
        let init = &self.init;
        if init.key_shares == 0 {
            c.fail("init.keyShares", "must be at least 1");
        }
        if init.key_threshold == 0 {
            c.fail("init.keyThreshold", "must be at least 1");
        } else if init.key_threshold > init.key_shares {
            c.fail(
                "init.keyThreshold",
                format!(
                    "{} is more than keyShares ({})",
                    init.key_threshold, init.key_shares
                ),
            );
        } else if init.key_shares > 1 && init.key_threshold < 2 {
            c.fail(
                "init.keyThreshold",
                "must be at least 2 when keyShares is more than 1 (Shamir's rule in Vault)",
            );
        }
        if init.recipients.is_empty() {
            c.fail(
                "init.recipients",
                "needs at least one recipient, or nobody can open the init bundle",
            );
        }
        let mut seen = HashSet::new();
        for (i, text) in init.recipients.iter().enumerate() {
            let field = format!("init.recipients[{i}]");
            if let Err(message) = parse_recipient(text) {
                c.fail(field, message);
            } else if !seen.insert(text.trim()) {
                c.fail(field, "duplicate recipient");
            }
        }
        let bundle = &init.bundle;
        if bundle.file.is_none() && bundle.secret.is_none() {
            c.fail("init.bundle", "needs `file`, `secret` or both");
        }
        if bundle
            .file
            .as_ref()
            .is_some_and(|f| f.as_os_str().is_empty())
        {
            c.fail("init.bundle.file", "must not be empty");
        }
        if let Some(secret) = &bundle.secret {
            c.rule(
                "init.bundle.secret.namespace",
                rules::dns_label(&secret.namespace),
            );
            c.rule(
                "init.bundle.secret.name",
                rules::dns_subdomain(&secret.name),
            );
        }
    }

    fn check_env(&self, c: &mut Checker) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut targets: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, entry) in self.env.iter().enumerate() {
            let at = |field: &str| format!("env[{i}].{field}");
            match rules::env_name(&entry.name) {
                Err(reason) => c.fail(at("name"), reason),
                Ok(()) => {
                    if let Some(first) = names.insert(&entry.name, i) {
                        c.fail(at("name"), format!("duplicate name (also env[{first}])"));
                    }
                }
            }
            c.rule(at("path"), rules::kv_path(&entry.path, false));
            c.rule(at("key"), rules::kv_key(&entry.key));
            if let Some(first) = targets.insert((&entry.path, &entry.key), i) {
                c.fail(
                    at("key"),
                    format!("env[{first}] already writes this path and key"),
                );
            }
            if let Some(EnvCheck::Regexp(pattern)) = &entry.check
                && let Err(err) = compile_anchored(pattern)
            {
                c.fail(at("check.regexp"), regexp_message(&err));
            }
        }
    }

    fn check_agent(&self, c: &mut Checker) {
        let agent = &self.agent;
        c.rule("agent.namespace", rules::dns_label(&agent.namespace));
        c.rule(
            "agent.serviceAccount",
            rules::dns_subdomain(&agent.service_account),
        );
        c.rule("agent.storeName", rules::dns_subdomain(&agent.store_name));
        c.rule("agent.role", rules::vault_name(&agent.role));
        c.rule("agent.policy", rules::vault_name(&agent.policy));
        if let Some(class) = &agent.controller_class {
            c.rule("agent.controllerClass", rules::dns_subdomain(class));
        }
    }

    fn check_apps(&self, c: &mut Checker) {
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut objects: HashMap<(&str, &str), String> = HashMap::new();
        let mut secrets: HashMap<(&str, &str), String> = self.git_secrets().into_iter().collect();
        for (i, app) in self.apps.iter().enumerate() {
            let at = |field: &str| format!("apps[{i}].{field}");
            match rules::dns_label(&app.name) {
                Err(reason) => c.fail(at("name"), reason),
                Ok(()) => {
                    if let Some(first) = names.insert(&app.name, i) {
                        c.fail(at("name"), format!("duplicate name (also apps[{first}])"));
                    }
                }
            }
            c.rule(at("namespace"), rules::dns_label(&app.namespace));
            c.rule(
                at("serviceAccount"),
                rules::dns_subdomain(&app.service_account),
            );
            if app.paths.is_empty() {
                c.fail(at("paths"), "needs at least one KV path");
            }
            let mut seen = HashSet::new();
            for (j, path) in app.paths.iter().enumerate() {
                match rules::kv_path(path, true) {
                    Err(reason) => c.fail(at(&format!("paths[{j}]")), reason),
                    Ok(()) if !seen.insert(path) => {
                        c.fail(at(&format!("paths[{j}]")), "duplicate path");
                    }
                    Ok(()) => {}
                }
            }
            for (j, es) in app.external_secrets.iter().enumerate() {
                let es_at = at(&format!("externalSecrets[{j}]"));
                c.rule(format!("{es_at}.name"), rules::dns_subdomain(&es.name));
                let here = format!("{es_at}.name");
                if let Some(first) = objects.insert((&app.namespace, &es.name), here) {
                    c.fail(
                        format!("{es_at}.name"),
                        format!("ExternalSecret already declared at {first}"),
                    );
                }
                if let Some(create) = &es.create {
                    let target = create.target_name(&es.name);
                    let field = if create.target.is_some() {
                        format!("{es_at}.create.target")
                    } else {
                        format!("{es_at}.name")
                    };
                    c.rule(field.clone(), rules::dns_subdomain(target));
                    if let Some(first) = secrets.insert((&app.namespace, target), field.clone()) {
                        c.fail(
                            field,
                            format!("the target Secret is already produced by {first}"),
                        );
                    }
                    check_data(c, app, &format!("{es_at}.create"), create);
                }
            }
        }
    }

    /// Refuses string fields that look like secret values: the file is committed to Git.
    fn check_no_secret_values(&self, c: &mut Checker) {
        let Ok(tree) = serde_json::to_value(self) else {
            return;
        };
        let mut stack = vec![(String::new(), &tree)];
        while let Some((path, node)) = stack.pop() {
            match node {
                serde_json::Value::String(text) => {
                    if let Some(format) = looks_like_secret(text) {
                        c.fail(
                            path,
                            format!(
                                "looks like a secret value ({format}); bootstrap.yaml is committed \
                                 to Git and must only name environment variables"
                            ),
                        );
                    }
                }
                serde_json::Value::Array(items) => {
                    for (i, item) in items.iter().enumerate().rev() {
                        stack.push((format!("{path}[{i}]"), item));
                    }
                }
                serde_json::Value::Object(map) => {
                    for (key, item) in map.iter().rev() {
                        let child = if path.is_empty() {
                            key.clone()
                        } else {
                            format!("{path}.{key}")
                        };
                        stack.push((child, item));
                    }
                }
                _ => {}
            }
        }
    }
}

/// Checks the `data` of a `create` block.
fn check_data(c: &mut Checker, app: &AppConfig, at: &str, create: &crate::apps::CreateSpec) {
    if create.data.is_empty() {
        c.fail(format!("{at}.data"), "needs at least one item");
    }
    let mut keys: HashMap<&str, usize> = HashMap::new();
    for (k, item) in create.data.iter().enumerate() {
        let item_at = format!("{at}.data[{k}]");
        match rules::secret_key(&item.secret_key) {
            Err(reason) => c.fail(format!("{item_at}.secretKey"), reason),
            Ok(()) => {
                if let Some(first) = keys.insert(&item.secret_key, k) {
                    c.fail(
                        format!("{item_at}.secretKey"),
                        format!("duplicate secretKey (also data[{first}])"),
                    );
                }
            }
        }
        match rules::kv_path(&item.key, false) {
            Err(reason) => c.fail(format!("{item_at}.key"), reason),
            Ok(()) if !app.covers(&item.key) => c.fail(
                format!("{item_at}.key"),
                "is not covered by the app's `paths`, so its Vault policy would deny the read",
            ),
            Ok(()) => {}
        }
        if let Some(property) = &item.property {
            c.rule(format!("{item_at}.property"), rules::kv_key(property));
        }
    }
}

/// A one-line reason for a regexp that does not compile.
fn regexp_message(err: &regex::Error) -> String {
    match err {
        regex::Error::CompiledTooBig(_) => "the regular expression is too large".to_owned(),
        other => {
            let detail = other.to_string();
            let last = detail.lines().rev().find(|l| !l.trim().is_empty());
            let last = last.unwrap_or("syntax error").trim();
            format!(
                "invalid regular expression: {}",
                last.strip_prefix("error: ").unwrap_or(last)
            )
        }
    }
}
