//! The five phases of `ferry bootstrap`, a module each, in the order they run:
//!
//! | number | [`Phase`] | module | what it does |
//! |---|---|---|---|
//! | 1 | [`Phase::Infra`] | [`infra`] | KV mount, Kubernetes auth, CRDs (Vault was opened before) |
//! | 2 | [`Phase::Secrets`] | [`secrets`] | the declared values written to KV once |
//! | 3 | [`Phase::Flux`] | [`gitops`] ([`flux`], [`argocd`]) | the GitOps engines' Git credentials Secrets made Vault-backed |
//! | 4 | [`Phase::Apps`] | [`apps`] | the apps' policies, roles, stores and ExternalSecrets |
//! | 5 | [`Phase::Finish`] | [`finish`] | verify, then revoke the tokens |
//!
//! Each module has a `run` (what the phase does) and a `planned_steps` (what `--plan` says
//! it will do). The number is what users see and what is stored: `--from-phase N`, the state
//! ConfigMap's keys `phase1` … `phase5`, `--plan` and the `phase` field of the JSON events
//! (where 0 is the session steps around the phases, see [`crate::session`]).

use ferry_config::BootstrapConfig;

pub mod apps;
pub mod argocd;
pub mod finish;
pub mod flux;
pub mod gitops;
pub mod infra;
pub mod secrets;

/// One of the five phases; [`Phase::number`] and [`Phase::from_number`] convert to and from
/// the number users see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// 1, infrastructure ([`infra`]).
    Infra = 1,
    /// 2, secret population ([`secrets`]).
    Secrets = 2,
    /// 3, the Git auth switch ([`gitops`]: Flux, Argo CD).
    Flux = 3,
    /// 4, application secrets ([`apps`]).
    Apps = 4,
    /// 5, verify and clean up ([`finish`]).
    Finish = 5,
}

impl Phase {
    /// The phases in the order they run.
    pub const ALL: [Phase; 5] = [
        Phase::Infra,
        Phase::Secrets,
        Phase::Flux,
        Phase::Apps,
        Phase::Finish,
    ];

    /// The phase's number, 1 to 5.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The phase numbered `number`, if there is one (1 to 5).
    pub fn from_number(number: u8) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.number() == number)
    }

    /// The phase's position in [`Phase::ALL`] (its number minus one).
    pub fn index(self) -> usize {
        usize::from(self.number() - 1)
    }

    /// The title shown in progress lines, events and `--plan`.
    pub fn title(self) -> &'static str {
        match self {
            Phase::Infra => "infrastructure",
            Phase::Secrets => "secret population",
            Phase::Flux => "Git auth switch",
            Phase::Apps => "application secrets",
            Phase::Finish => "verify and clean up",
        }
    }

    /// What the phase will do with `config`, for `--plan` (names and paths only).
    pub fn planned_steps(self, config: &BootstrapConfig) -> Vec<String> {
        match self {
            Phase::Infra => infra::planned_steps(config),
            Phase::Secrets => secrets::planned_steps(config),
            Phase::Flux => gitops::planned_steps(config),
            Phase::Apps => apps::planned_steps(config),
            Phase::Finish => finish::planned_steps(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Phase;

    #[test]
    fn numbers_round_trip_and_only_one_to_five_are_phases() {
        for (i, phase) in Phase::ALL.into_iter().enumerate() {
            assert_eq!(usize::from(phase.number()), i + 1);
            assert_eq!(phase.index(), i);
            assert_eq!(Phase::from_number(phase.number()), Some(phase));
        }
        assert_eq!(Phase::from_number(0), None);
        assert_eq!(Phase::from_number(6), None);
        assert!(Phase::Infra < Phase::Finish);
    }
}
