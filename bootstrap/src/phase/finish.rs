//! Phase 5, verify and clean up: the zero-secrets cluster check (`ferry_verify`), then the
//! bootstrap token and the root token (when bootstrap holds one) revoked, and the
//! `unset …` line for the operator's shell.
//!
//! The verify step runs before the revocations because it reads the known values from
//! Vault with the admin token. The revocations also run, best effort, when a run fails
//! ([`revoke_all`]). The root token counts as revoked only when Vault says so
//! (`confirm_revoked`); an unreachable or sealed Vault fails the phase instead.

use ferry_vault::VaultError;
use ferry_verify::{ClusterScope, Scanner, check_cluster, known_entries, read_known_values};

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::session::{Admin, AdminSource, Tokens};
use crate::steps;

/// Runs phase 5: verify, then revoke.
pub async fn run(ctx: &PhaseContext, tokens: &Tokens) -> Result<(), BootstrapError> {
    steps::run(
        &ctx.progress,
        "verify: no known value outside Vault",
        || verify(ctx),
    )
    .await?;
    if let Some(bootstrap) = &tokens.bootstrap {
        steps::run(&ctx.progress, "revoke the bootstrap token", || async {
            revoke_bootstrap(bootstrap).await
        })
        .await?;
    }
    let step = ctx.progress.step("revoke the root token");
    match tokens.admin.source {
        AdminSource::Operator => step.skipped("VAULT_TOKEN is the operator's; not revoked"),
        AdminSource::Root => match revoke_root(&tokens.admin).await {
            Ok(()) => step.done(),
            Err(e) => {
                step.failed(&e);
                return Err(e);
            }
        },
    }
    Ok(())
}

/// What phase 5 will do, for `--plan`.
pub fn planned_steps() -> Vec<String> {
    vec![
        "verify: no known value in the cluster outside Vault-backed Secrets".into(),
        "revoke the bootstrap token and the root token (if bootstrap holds it)".into(),
        "print the unset line".into(),
    ]
}

async fn verify(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    let err = |e: ferry_verify::VerifyError| BootstrapError::Verify(e.to_string());
    let config = &ctx.config;
    let known = read_known_values(
        &ctx.admin,
        &config.kv.mount,
        ferry_verify::kv_version(config.kv.version),
        &known_entries(config),
    )
    .await
    .map_err(err)?;
    let scanner = Scanner::with_labels(known.values).map_err(err)?;
    let scope = ClusterScope {
        namespaces: ctx.verify_namespaces.clone(),
        ..ClusterScope::from_config(config)
    };
    let mut findings = check_cluster(&ctx.kube, &scanner, &scope)
        .await
        .map_err(err)?;
    if let Some(file) = &config.init.bundle.file {
        findings.extend(ferry_verify::check_init_bundle_file(file).map_err(err)?);
    }
    if findings.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = findings.iter().map(ToString::to_string).collect();
    Err(BootstrapError::Verify(format!(
        "{} finding(s):\n  {}",
        findings.len(),
        list.join("\n  ")
    )))
}

async fn revoke_bootstrap(bootstrap: &Admin) -> Result<(), BootstrapError> {
    match bootstrap.vault.revoke_self().await {
        Ok(()) => Ok(()),
        // Already revoked or expired.
        Err(e) if crate::session::says_token_invalid(&e) => Ok(()),
        Err(e) => Err(BootstrapError::vault("revoking the bootstrap token")(e)),
    }
}

async fn revoke_root(admin: &Admin) -> Result<(), BootstrapError> {
    match admin.vault.revoke_self().await {
        Ok(()) => {}
        // 403 on revoke-self: the token is already invalid; the lookup below confirms it.
        Err(e) if crate::session::says_token_invalid(&e) => {}
        Err(e) => return Err(BootstrapError::vault("revoking the root token")(e)),
    }
    confirm_revoked(admin.vault.lookup_self().await.map(|_| ()))
}

/// Classifies the revoked root token's own `auth/token/lookup-self`: only Vault's definite
/// answer for an invalid token (HTTP 403 "permission denied", what OpenBao and Vault answer
/// for a revoked or expired token) counts as revoked. A valid lookup means the revocation
/// did not take; anything else (unreachable, timeout, sealed, 5xx, another 4xx) proves
/// nothing, so the phase fails and a re-run repeats it.
pub(crate) fn confirm_revoked(lookup: Result<(), VaultError>) -> Result<(), BootstrapError> {
    match lookup {
        Ok(()) => Err(BootstrapError::Verify(
            "the root token is still valid after revocation".into(),
        )),
        Err(e) if crate::session::says_token_invalid(&e) => Ok(()),
        Err(e) => Err(BootstrapError::vault(
            "confirming that the root token is revoked (lookup-self)",
        )(e)),
    }
}

/// Best-effort revocation after a failed run: the bootstrap token, and the root token when
/// bootstrap holds one (a re-run mints a new one with `--identity`).
pub async fn revoke_all(tokens: &Tokens) {
    if let Some(bootstrap) = &tokens.bootstrap {
        let _ = revoke_bootstrap(bootstrap).await;
    }
    if tokens.admin.source == AdminSource::Root {
        let _ = revoke_root(&tokens.admin).await;
    }
}

#[cfg(test)]
mod tests {
    use ferry_vault::{Cause, ErrorKind, VaultError};

    use super::confirm_revoked;
    use crate::error::BootstrapError;

    fn lookup(kind: ErrorKind, status: Option<u16>, detail: &str) -> Result<(), VaultError> {
        Err(VaultError::TokenLookup {
            cause: Cause::new(kind, status, detail),
        })
    }

    #[test]
    fn only_a_definite_answer_counts_as_revoked() {
        // OpenBao 2.x on lookup-self with a revoked token: 403 {"errors":["permission denied"]}.
        assert!(
            confirm_revoked(lookup(ErrorKind::Forbidden, Some(403), "permission denied")).is_ok()
        );
        let still = confirm_revoked(Ok(())).unwrap_err();
        assert!(matches!(still, BootstrapError::Verify(_)), "{still}");
        let inconclusive = [
            lookup(ErrorKind::Unreachable, None, "connection refused"),
            lookup(ErrorKind::Unreachable, None, "operation timed out"),
            lookup(ErrorKind::Sealed, Some(503), "Vault is sealed"),
            lookup(ErrorKind::ServerError, Some(500), "internal error"),
            lookup(ErrorKind::ServerError, Some(502), ""),
            lookup(ErrorKind::InvalidRequest, Some(400), "bad request"),
            lookup(ErrorKind::NotFound, Some(404), ""),
            lookup(ErrorKind::Forbidden, Some(401), "unauthorized"),
            lookup(ErrorKind::Tls, None, "unknown issuer"),
            lookup(ErrorKind::Decode, Some(200), "unexpected body"),
        ];
        for answer in inconclusive {
            let err = confirm_revoked(answer).unwrap_err();
            assert!(
                matches!(&err, BootstrapError::Vault { operation, .. }
                    if operation.contains("confirming that the root token is revoked")),
                "{err}"
            );
            assert_eq!(err.exit_code(), 1);
        }
    }
}
