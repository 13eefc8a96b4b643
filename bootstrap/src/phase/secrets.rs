//! Phase 2, secret population: every declared value written to KV exactly once.
//!
//! The values were checked before anything was written ([`crate::EnvValues::check`]). Per KV
//! path (several variables may share one), the current secret is read with the admin token
//! and compared in memory: all keys equal → the step is skipped; a key with a different
//! value → refused unless `--overwrite`; otherwise the merged secret is written with the
//! bootstrap token and `cas` = the version read, so a retried or concurrent run never adds
//! a second version.

use ferry_config::{BootstrapConfig, EnvEntry};
use ferry_vault::{ExposeSecret, KvData, KvVersion};
use serde_json::Value;

use crate::context::PhaseContext;
use crate::error::BootstrapError;

/// How many times a write is retried after a check-and-set mismatch.
const CAS_ATTEMPTS: usize = 3;

/// What happened to one KV path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The secret was written (created or updated).
    Written,
    /// Every key already held the same value.
    Unchanged,
}

/// Runs phase 2: one step per KV path, in file order.
pub async fn run(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    for (path, entries) in by_path(&ctx.config) {
        let step = ctx
            .progress
            .step(&format!("write {}/{path}", ctx.config.kv.mount));
        match write_path(ctx, path, &entries).await {
            Ok(Outcome::Written) => step.done(),
            Ok(Outcome::Unchanged) => step.skipped("same value already there"),
            Err(e) => {
                step.failed(&e);
                return Err(e);
            }
        }
    }
    Ok(())
}

/// The env entries grouped by KV path, paths in order of first appearance.
fn by_path(config: &BootstrapConfig) -> Vec<(&str, Vec<&EnvEntry>)> {
    let mut groups: Vec<(&str, Vec<&EnvEntry>)> = Vec::new();
    for entry in &config.env {
        match groups.iter_mut().find(|(p, _)| *p == entry.path) {
            Some((_, list)) => list.push(entry),
            None => groups.push((&entry.path, vec![entry])),
        }
    }
    groups
}

fn engine(config: &BootstrapConfig) -> KvVersion {
    match config.kv.version {
        ferry_config::KvVersion::V1 => KvVersion::V1,
        ferry_config::KvVersion::V2 => KvVersion::V2,
    }
}

async fn write_path(
    ctx: &PhaseContext,
    path: &str,
    entries: &[&EnvEntry],
) -> Result<Outcome, BootstrapError> {
    let mount = &ctx.config.kv.mount;
    let engine = engine(&ctx.config);
    for _ in 0..CAS_ATTEMPTS {
        let current = ctx
            .admin
            .kv_read(mount, path, engine, None)
            .await
            .map_err(BootstrapError::vault(format!("reading {mount}/{path}")))?;
        let (mut merged, version) = match &current {
            Some(secret) => (secret.data.expose().clone(), secret.version.unwrap_or(0)),
            None => (serde_json::Map::new(), 0),
        };
        let mut changed = false;
        for entry in entries {
            let value = ctx
                .values
                .get(&entry.name)
                .ok_or_else(|| BootstrapError::CheckEnv {
                    missing: vec![entry.name.clone()],
                    failed: Vec::new(),
                })?;
            match merged.get(&entry.key) {
                Some(Value::String(old)) if old == value.expose_secret() => {}
                Some(_) if !ctx.overwrite => {
                    return Err(BootstrapError::KvConflict {
                        mount: mount.clone(),
                        path: path.to_owned(),
                        key: entry.key.clone(),
                        name: entry.name.clone(),
                    });
                }
                _ => {
                    merged.insert(
                        entry.key.clone(),
                        Value::String(value.expose_secret().to_owned()),
                    );
                    changed = true;
                }
            }
        }
        let data = KvData::new(merged);
        if !changed {
            return Ok(Outcome::Unchanged);
        }
        let cas = (engine == KvVersion::V2).then_some(version);
        match ctx.vault.kv_write(mount, path, engine, &data, cas).await {
            Ok(_) => return Ok(Outcome::Written),
            Err(e) if e.is_cas_mismatch() => continue,
            Err(e) => return Err(BootstrapError::vault(format!("writing {mount}/{path}"))(e)),
        }
    }
    Err(BootstrapError::CasContention {
        path: format!("{mount}/{path}"),
        attempts: CAS_ATTEMPTS,
    })
}

/// What phase 2 will do, for `--plan`: the KV paths it writes, in order, and their keys.
pub fn planned_steps(config: &BootstrapConfig) -> Vec<String> {
    by_path(config)
        .into_iter()
        .map(|(p, e)| {
            let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
            format!(
                "write {}/{p} ({}) (check-and-set)",
                config.kv.mount,
                keys.join(", ")
            )
        })
        .collect()
}
