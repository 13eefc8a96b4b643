//! Rendering the Secret of one sync: the pure functions of [`crate::shape`] (data built from
//! the Vault reads, rewrites, then the target template) run off the async workers.
//!
//! They run templates written by whoever may create an ExternalSecret, so they run on the
//! blocking pool (a busy template never holds an async worker) under [`SHAPING_TIME_LIMIT`]
//! and the agent's shutdown flag, on top of the engine's own step and nesting bounds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use ferry_api::ExternalSecretSpec;
use ferry_template::RenderLimits;
use ferry_vault::KvSecret;

use crate::error::{AgentError, Result};
use crate::shape::{self, FindResults, RemoteKey, Rendered, TemplateSources};

/// Longest time the templates of one sync (rewrite transforms and the target template
/// together) may run.
pub const SHAPING_TIME_LIMIT: Duration = Duration::from_secs(2);

/// What shaping needs, moved onto the blocking pool.
pub struct Inputs {
    /// The ExternalSecret's spec.
    pub spec: ExternalSecretSpec,
    /// The KV secrets read for `data` and `dataFrom.extract`.
    pub fetched: BTreeMap<RemoteKey, KvSecret>,
    /// What each `dataFrom.find` selected.
    pub found: FindResults,
    /// The `templateFrom` sources.
    pub sources: TemplateSources,
}

/// Builds the Secret's data and renders the template on the blocking pool, stopping at
/// [`SHAPING_TIME_LIMIT`] or when `cancel` is set (shutdown).
pub async fn render(inputs: Inputs, cancel: &Arc<AtomicBool>) -> Result<Rendered> {
    let limits = RenderLimits {
        deadline: Some(Instant::now() + SHAPING_TIME_LIMIT),
        cancel: Some(cancel.clone()),
    };
    let work = move || {
        let Inputs {
            spec,
            fetched,
            found,
            sources,
        } = inputs;
        let data = shape::build_all_with(&spec, &fetched, &found, &limits)?;
        match &spec.target.template {
            Some(template) => shape::render_template_with(template, data, &sources, &limits),
            None => Ok(Rendered {
                data,
                ..Rendered::default()
            }),
        }
    };
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AgentError::BuildSecret {
            field: "spec".to_owned(),
            message: "shaping the data stopped unexpectedly".to_owned(),
        })?
}
