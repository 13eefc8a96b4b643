//! `spec.template` of a PushSecret: the Secret's data reshaped with the same engine and rules
//! as an ExternalSecret's `spec.target.template` (see [`crate::shape`]), before it is pushed.
//! Only the rendered data is pushed; the template's type, labels and annotations have no
//! place in a store.

use std::sync::Arc;
use std::time::Instant;

use ferry_api::{ExternalSecret, ExternalSecretSpec, ExternalSecretTarget, PushSecret};
use ferry_template::RenderLimits;
use kube::ResourceExt;

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::render::SHAPING_TIME_LIMIT;
use crate::shape::{self, SecretData};
use crate::template_sources;

const ES_FIELD: &str = "spec.target.template";
const FIELD: &str = "spec.template";

/// The data to push: `data` as it is without a template, else the template's rendered data.
pub async fn apply(ctx: &Ctx, ps: &PushSecret, data: SecretData) -> Result<SecretData> {
    let Some(template) = ps.spec.template.clone() else {
        return Ok(data);
    };
    refuse_hmac_key(ctx, ps)?;
    // templateFrom is read as for an ExternalSecret of the same namespace and template.
    let view = ExternalSecret {
        metadata: ps.metadata.clone(),
        spec: ExternalSecretSpec {
            target: ExternalSecretTarget {
                template: Some(template.clone()),
                ..ExternalSecretTarget::default()
            },
            ..ExternalSecretSpec::default()
        },
        status: None,
    };
    let sources = template_sources::read(ctx, &view).await.map_err(retarget)?;
    let limits = RenderLimits {
        deadline: Some(Instant::now() + SHAPING_TIME_LIMIT),
        cancel: Some(Arc::clone(&ctx.cancel)),
    };
    let work = move || shape::render_template_with(&template, data, &sources, &limits);
    let rendered = tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| AgentError::BuildSecret {
            field: FIELD.to_owned(),
            message: "rendering the template stopped unexpectedly".to_owned(),
        })?
        .map_err(retarget)?;
    Ok(rendered.data)
}

/// A templateFrom naming the agent's HMAC key Secret (possible only in the agent's own
/// namespace) is refused, as it is for an ExternalSecret.
fn refuse_hmac_key(ctx: &Ctx, ps: &PushSecret) -> Result<()> {
    if ps.namespace().as_deref() != Some(ctx.config.own_namespace.as_str()) {
        return Ok(());
    }
    let from = ps.spec.template.iter().flat_map(|t| &t.template_from);
    for (i, t) in from.enumerate() {
        if t.secret
            .as_ref()
            .is_some_and(|s| s.name == ctx.config.hmac_key_secret)
        {
            return Err(AgentError::ValidateSpec {
                field: format!("{FIELD}.templateFrom[{i}].secret.name"),
                message: "names the agent's own HMAC key Secret".into(),
            });
        }
    }
    Ok(())
}

/// The same error with the PushSecret's field path (`spec.template…`).
fn retarget(err: AgentError) -> AgentError {
    let fix = |field: String| match field.strip_prefix(ES_FIELD) {
        Some(rest) => format!("{FIELD}{rest}"),
        None => field,
    };
    match err {
        AgentError::RenderTemplate { field, source } => AgentError::RenderTemplate {
            field: fix(field),
            source,
        },
        AgentError::Unsupported { field, feature } => AgentError::Unsupported {
            field: fix(field),
            feature,
        },
        AgentError::BuildSecret { field, message } => AgentError::BuildSecret {
            field: fix(field),
            message,
        },
        AgentError::ValidateSpec { field, message } => AgentError::ValidateSpec {
            field: fix(field),
            message,
        },
        other => other,
    }
}
