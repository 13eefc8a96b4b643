//! Which phases a run executes, and why: the input fingerprints, the recorded state and
//! `--from-phase`. `--plan` prints this and changes nothing.

use ferry_config::{BootstrapConfig, fingerprint_of};
use serde::Serialize;
use serde_json::json;

use crate::state::State;

/// The phases: number and title.
pub const PHASES: [(u8, &str); 5] = [
    (1, "infrastructure"),
    (2, "secret population"),
    (3, "Git auth switch"),
    (4, "application secrets"),
    (5, "verify and clean up"),
];

/// The title of `phase`.
pub fn title(phase: u8) -> &'static str {
    PHASES
        .iter()
        .find(|(n, _)| *n == phase)
        .map_or("session", |(_, t)| t)
}

/// The input fingerprint of each phase (index 0 is phase 1). Each one covers the
/// sections the phase reads and the previous phase's fingerprint, so a changed input
/// re-runs its phase and every later one. Names and paths only: the config holds no value.
pub fn fingerprints(config: &BootstrapConfig) -> [String; 5] {
    let c = config;
    let inputs = [
        json!({"vault": c.vault, "init": c.init, "kv": c.kv,
               "kubernetesAuth": c.kubernetes_auth, "namespace": c.agent.namespace}),
        json!({"kv": c.kv, "env": c.env}),
        json!({"env": c.env, "flux": c.flux, "agent": c.agent,
               "kubernetesAuth": c.kubernetes_auth.mount}),
        json!({"apps": c.apps, "agent": c.agent, "vault": c.vault.address}),
        json!({"config": c.fingerprint()}),
    ];
    let mut previous = String::new();
    inputs.map(|input| {
        previous = fingerprint_of(&json!([previous, input]));
        previous.clone()
    })
}

/// One phase of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPhase {
    /// The phase number.
    pub phase: u8,
    /// Its title.
    pub title: &'static str,
    /// Whether it runs.
    pub run: bool,
    /// Why it runs or is skipped.
    pub reason: String,
    /// What it does (names and paths only).
    pub steps: Vec<String>,
}

/// What a run would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The five phases in order.
    pub phases: Vec<PlannedPhase>,
}

impl Plan {
    /// Whether `phase` runs.
    pub fn runs(&self, phase: u8) -> bool {
        self.phases.iter().any(|p| p.phase == phase && p.run)
    }

    /// Makes `phase` run, for `reason`, if it does not already.
    pub fn force(&mut self, phase: u8, reason: &str) {
        if let Some(p) = self.phases.iter_mut().find(|p| p.phase == phase && !p.run) {
            p.run = true;
            p.reason = reason.to_owned();
        }
    }

    /// Appends `note` to the reason of `phase`.
    pub fn annotate(&mut self, phase: u8, note: &str) {
        if let Some(p) = self.phases.iter_mut().find(|p| p.phase == phase) {
            p.reason.push_str("; ");
            p.reason.push_str(note);
        }
    }

    /// Why `phase` runs or is skipped.
    pub fn reason(&self, phase: u8) -> String {
        self.phases
            .iter()
            .find(|p| p.phase == phase)
            .map(|p| p.reason.clone())
            .unwrap_or_default()
    }

    /// The plan as text, one phase per line and its steps indented.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for p in &self.phases {
            let verb = if p.run { "run " } else { "skip" };
            out.push_str(&format!(
                "phase {} {verb} {}: {}\n",
                p.phase, p.title, p.reason
            ));
            if p.run {
                for step in &p.steps {
                    out.push_str(&format!("    - {step}\n"));
                }
            }
        }
        out
    }
}

/// Decides what runs. `initialised` is Vault's answer (`None` when it could not be asked).
pub fn plan(
    config: &BootstrapConfig,
    state: &State,
    from_phase: u8,
    initialised: Option<bool>,
) -> Plan {
    let prints = fingerprints(config);
    let phases = PHASES
        .iter()
        .map(|&(phase, title)| {
            let record = state.phase(phase);
            let index = usize::from(phase - 1);
            let (run, reason) = if initialised == Some(false) {
                (true, "Vault is uninitialised".to_owned())
            } else if phase == 5 {
                (true, "always runs: it revokes this run's tokens".to_owned())
            } else if phase >= from_phase && from_phase > 1 {
                (true, format!("--from-phase {from_phase}"))
            } else {
                match record {
                    None => (true, "not done yet".to_owned()),
                    Some(r) if !r.done => (true, "not done yet".to_owned()),
                    Some(r) if r.fingerprint != prints[index] => {
                        (true, format!("inputs changed since {}", r.at))
                    }
                    Some(r) => (false, format!("done at {}, inputs unchanged", r.at)),
                }
            };
            PlannedPhase {
                phase,
                title,
                run,
                reason,
                steps: steps(config, phase),
            }
        })
        .collect();
    Plan { phases }
}

fn steps(config: &BootstrapConfig, phase: u8) -> Vec<String> {
    match phase {
        1 => vec![
            format!("create namespace {}", config.agent.namespace),
            "initialise Vault if uninitialised; seal the init bundle; unseal".into(),
            format!("mount KV {} at {}/", kv(config), config.kv.mount),
            format!(
                "enable and configure Kubernetes auth at auth/{}",
                config.kubernetes_auth.mount
            ),
            "install the external-secrets.io CRDs".into(),
        ],
        2 => crate::phase::secrets::planned_paths(config)
            .into_iter()
            .map(|p| format!("write {p} (check-and-set)"))
            .collect(),
        3 => vec![
            format!(
                "policy and role {} for the agent; {} {}",
                config.agent.policy,
                config.agent.store_kind.as_str(),
                config.agent.store_name
            ),
            format!(
                "ExternalSecret for Secret {}/{}; await it matching Vault; reconcile GitRepository {}",
                config.flux.namespace, config.flux.secret_name, config.flux.git_repository
            ),
        ],
        4 => config
            .apps
            .iter()
            .map(|a| {
                let names: Vec<&str> = a.external_secrets.iter().map(|e| e.name.as_str()).collect();
                format!(
                    "app {}: policy and role {}, await ExternalSecrets [{}]",
                    a.name,
                    crate::phase::apps::app_name(a),
                    names.join(", ")
                )
            })
            .collect(),
        _ => vec![
            "verify: no known value in the cluster outside Vault-backed Secrets".into(),
            "revoke the bootstrap token and the root token (if bootstrap holds it)".into(),
            "print the unset line".into(),
        ],
    }
}

fn kv(config: &BootstrapConfig) -> &'static str {
    match config.kv.version {
        ferry_config::KvVersion::V1 => "v1",
        ferry_config::KvVersion::V2 => "v2",
    }
}
