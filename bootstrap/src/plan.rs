//! Which phases a run executes, and why: the input fingerprints, the recorded state and
//! `--from-phase`. `--plan` prints this and changes nothing.

use ferry_config::{BootstrapConfig, fingerprint_of};
use serde::Serialize;
use serde_json::json;

use crate::phase::Phase;
use crate::state::State;

/// The input fingerprint of each phase (by [`Phase::index`]). Each one covers the
/// sections the phase reads and the previous phase's fingerprint, so a changed input
/// re-runs its phase and every later one. Names and paths only: the config holds no value.
pub fn fingerprints(config: &BootstrapConfig) -> [String; 5] {
    let c = config;
    let inputs = [
        json!({"vault": c.vault, "init": c.init, "kv": c.kv,
               "kubernetesAuth": c.kubernetes_auth, "namespace": c.agent.namespace}),
        json!({"kv": c.kv, "env": c.env}),
        gitops_inputs(c),
        json!({"apps": c.apps, "agent": c.agent, "vault": c.vault.address}),
        json!({"config": c.fingerprint()}),
    ];
    let mut previous = String::new();
    inputs.map(|input| {
        previous = fingerprint_of(&json!([previous, input]));
        previous.clone()
    })
}

/// Phase 3's inputs. `argocd` is only named when it is configured, so a config without it
/// keeps the fingerprint it had before Argo CD support.
fn gitops_inputs(c: &BootstrapConfig) -> serde_json::Value {
    let mut inputs = json!({"env": c.env, "flux": c.flux, "agent": c.agent,
           "kubernetesAuth": c.kubernetes_auth.mount});
    if let Some(argocd) = &c.argocd {
        inputs["argocd"] = json!(argocd);
    }
    inputs
}

/// One phase of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedPhase {
    /// The phase number ([`Phase::number`]), as `--plan` prints it.
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
    /// The entry of `phase`.
    fn get(&self, phase: Phase) -> Option<&PlannedPhase> {
        self.phases.iter().find(|p| p.phase == phase.number())
    }

    /// Whether `phase` runs.
    pub fn runs(&self, phase: Phase) -> bool {
        self.get(phase).is_some_and(|p| p.run)
    }

    /// Makes `phase` run, for `reason`, if it does not already.
    pub fn force(&mut self, phase: Phase, reason: &str) {
        let entry = self.phases.iter_mut().find(|p| p.phase == phase.number());
        if let Some(p) = entry.filter(|p| !p.run) {
            p.run = true;
            p.reason = reason.to_owned();
        }
    }

    /// Appends `note` to the reason of `phase`.
    pub fn annotate(&mut self, phase: Phase, note: &str) {
        if let Some(p) = self.phases.iter_mut().find(|p| p.phase == phase.number()) {
            p.reason.push_str("; ");
            p.reason.push_str(note);
        }
    }

    /// Why `phase` runs or is skipped.
    pub fn reason(&self, phase: Phase) -> String {
        self.get(phase)
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
    from_phase: Phase,
    initialised: Option<bool>,
) -> Plan {
    let prints = fingerprints(config);
    let phases = Phase::ALL
        .into_iter()
        .map(|phase| {
            let (run, reason) = decide(
                state,
                phase,
                &prints[phase.index()],
                from_phase,
                initialised,
            );
            PlannedPhase {
                phase: phase.number(),
                title: phase.title(),
                run,
                reason,
                steps: phase.planned_steps(config),
            }
        })
        .collect();
    Plan { phases }
}

/// Whether `phase` runs, and why: an uninitialised Vault runs everything, phase 5 always
/// runs, `--from-phase` forces its phase and the later ones, else the state decides.
fn decide(
    state: &State,
    phase: Phase,
    fingerprint: &str,
    from_phase: Phase,
    initialised: Option<bool>,
) -> (bool, String) {
    if initialised == Some(false) {
        return (true, "Vault is uninitialised".to_owned());
    }
    if phase == Phase::Finish {
        return (true, "always runs: it revokes this run's tokens".to_owned());
    }
    if phase >= from_phase && from_phase > Phase::Infra {
        return (true, format!("--from-phase {}", from_phase.number()));
    }
    match state.phase(phase) {
        None => (true, "not done yet".to_owned()),
        Some(r) if !r.done => (true, "not done yet".to_owned()),
        Some(r) if r.fingerprint != fingerprint => (true, format!("inputs changed since {}", r.at)),
        Some(r) => (false, format!("done at {}, inputs unchanged", r.at)),
    }
}
