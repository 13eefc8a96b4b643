//! Phase 4, application secrets: per app a read-only policy (`ferry-app-<app>`, from the
//! `app-readonly` template) and a Kubernetes auth role of the same name bound to the app's
//! ServiceAccount; a SecretStore `ferry-app-<app>` in the app's namespace that logs in with
//! that role; the ExternalSecrets with `create` applied (server-side apply) against that
//! store; then every ExternalSecret of every app awaited until Ready.

use std::time::Duration;

use ferry_config::{AppConfig, AppExternalSecret, BootstrapConfig, CreateSpec};
use ferry_policy::Template;
use ferry_vault::KubernetesRole;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::context::PhaseContext;
use crate::error::BootstrapError;
use crate::kubeutil::{FIELD_MANAGER, ensure_namespace, ensure_service_account};
use crate::poll::{self, Check, Wait};
use crate::steps;

/// TTL of the tokens the app roles issue.
const APP_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// The name of an app's policy, role and SecretStore.
pub fn app_name(app: &AppConfig) -> String {
    Template::AppReadonly.policy_name(Some(&app.name))
}

/// Runs phase 4.
pub async fn run(ctx: &PhaseContext) -> Result<(), BootstrapError> {
    for app in &ctx.config.apps {
        let name = app_name(app);
        steps::run(&ctx.progress, &format!("policy and role {name}"), || {
            policy_and_role(ctx, app)
        })
        .await?;
        if app.external_secrets.iter().any(|es| es.create.is_some()) {
            steps::run(
                &ctx.progress,
                &format!("SecretStore {}/{name}", app.namespace),
                || store(ctx, app),
            )
            .await?;
        }
        for es in &app.external_secrets {
            if let Some(spec) = &es.create {
                steps::run(
                    &ctx.progress,
                    &format!("ExternalSecret {}/{}", app.namespace, es.name),
                    || apply_external_secret(ctx, app, es, spec),
                )
                .await?;
            }
        }
    }
    for app in &ctx.config.apps {
        for es in &app.external_secrets {
            let step = ctx
                .progress
                .wait_step(&format!("await {}/{} Ready", app.namespace, es.name));
            match wait_ready(ctx, &app.namespace, &es.name).await {
                Ok(()) => step.done(),
                Err(e) => {
                    step.failed(&e);
                    return Err(e);
                }
            }
        }
    }
    Ok(())
}

/// What phase 4 will do, for `--plan`: per app, its policy and role and the ExternalSecrets
/// awaited.
pub fn planned_steps(config: &BootstrapConfig) -> Vec<String> {
    config
        .apps
        .iter()
        .map(|a| {
            let names: Vec<&str> = a.external_secrets.iter().map(|e| e.name.as_str()).collect();
            format!(
                "app {}: policy and role {}, await ExternalSecrets [{}]",
                a.name,
                app_name(a),
                names.join(", ")
            )
        })
        .collect()
}

async fn policy_and_role(ctx: &PhaseContext, app: &AppConfig) -> Result<(), BootstrapError> {
    let name = app_name(app);
    let hcl = crate::session::render_policy(&ctx.config, Template::AppReadonly, Some(&app.name))?;
    ctx.vault
        .write_policy(&name, &hcl)
        .await
        .map_err(BootstrapError::vault(format!("writing policy {name}")))?;
    let role = KubernetesRole {
        bound_service_account_names: vec![app.service_account.clone()],
        bound_service_account_namespaces: vec![app.namespace.clone()],
        policies: vec![name.clone()],
        ttl: Some(APP_TOKEN_TTL),
        // Ferry requests tokens for this audience, never the API server's.
        audience: Some(ferry_api::vault::DEFAULT_TOKEN_AUDIENCE.to_owned()),
    };
    let mount = &ctx.config.kubernetes_auth.mount;
    ctx.vault
        .write_kubernetes_role(mount, &name, &role)
        .await
        .map_err(BootstrapError::vault(format!(
            "writing role auth/{mount}/role/{name}"
        )))
}

fn resource(kind: &str) -> ApiResource {
    let plural = match kind {
        "SecretStore" => "secretstores",
        _ => "externalsecrets",
    };
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(ferry_api::GROUP, "v1", kind), plural)
}

async fn apply(
    ctx: &PhaseContext,
    namespace: &str,
    kind: &str,
    name: &str,
    body: Value,
) -> Result<(), BootstrapError> {
    let ar = resource(kind);
    let api: Api<DynamicObject> = Api::namespaced_with(ctx.kube.clone(), namespace, &ar);
    let mut body = body;
    body["apiVersion"] = json!(format!("{}/v1", ferry_api::GROUP));
    body["kind"] = json!(kind);
    body["metadata"] = json!({ "name": name, "namespace": namespace,
        "labels": { "app.kubernetes.io/managed-by": "ferry" } });
    let object: DynamicObject =
        serde_json::from_value(body).map_err(|e| BootstrapError::InvalidArgument {
            field: format!("{kind} {namespace}/{name}"),
            message: e.to_string(),
        })?;
    api.patch(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&object),
    )
    .await
    .map_err(BootstrapError::kube(format!(
        "applying {kind} {namespace}/{name}"
    )))?;
    Ok(())
}

/// The app's namespace and ServiceAccount (created when missing), and its SecretStore.
async fn store(ctx: &PhaseContext, app: &AppConfig) -> Result<(), BootstrapError> {
    ensure_namespace(&ctx.kube, &app.namespace).await?;
    ensure_service_account(&ctx.kube, &app.namespace, &app.service_account).await?;
    let name = app_name(app);
    let spec = store_spec(&ctx.config, app)?;
    apply(
        ctx,
        &app.namespace,
        "SecretStore",
        &name,
        json!({ "spec": spec }),
    )
    .await
}

/// The SecretStore spec of an app: Vault at `vault.address`, the KV mount, Kubernetes auth
/// with the app's role and ServiceAccount.
pub fn store_spec(config: &BootstrapConfig, app: &AppConfig) -> Result<Value, BootstrapError> {
    let mut vault = json!({
        "server": config.vault.address,
        "path": config.kv.mount,
        "version": match config.kv.version {
            ferry_config::KvVersion::V1 => "v1",
            ferry_config::KvVersion::V2 => "v2",
        },
        "auth": { "kubernetes": {
            "mountPath": config.kubernetes_auth.mount,
            "role": app_name(app),
            "serviceAccountRef": { "name": app.service_account },
        } },
    });
    if let Some(ns) = &config.vault.namespace {
        vault["namespace"] = json!(ns);
    }
    if let Some(pem) = vault_ca(config)? {
        use base64::Engine;
        vault["caBundle"] = json!(base64::engine::general_purpose::STANDARD.encode(pem));
    }
    let mut spec = json!({ "provider": { "vault": vault } });
    if let Some(class) = &config.agent.controller_class {
        spec["controller"] = json!(class);
    }
    Ok(spec)
}

/// The Vault CA PEM from `vault.caFile` or `vault.caPem`, if any.
pub fn vault_ca(config: &BootstrapConfig) -> Result<Option<Vec<u8>>, BootstrapError> {
    if let Some(file) = &config.vault.ca_file {
        return std::fs::read(file)
            .map(Some)
            .map_err(|e| BootstrapError::InvalidArgument {
                field: "vault.caFile".into(),
                message: format!("reading {}: {e}", file.display()),
            });
    }
    Ok(config.vault.ca_pem.as_ref().map(|p| p.as_bytes().to_vec()))
}

async fn apply_external_secret(
    ctx: &PhaseContext,
    app: &AppConfig,
    es: &AppExternalSecret,
    spec: &CreateSpec,
) -> Result<(), BootstrapError> {
    let data: Vec<Value> = spec
        .data
        .iter()
        .map(|item| {
            let mut remote = json!({ "key": item.key });
            if let Some(p) = &item.property {
                remote["property"] = json!(p);
            }
            json!({ "secretKey": item.secret_key, "remoteRef": remote })
        })
        .collect();
    let body = json!({ "spec": {
        "refreshInterval": "1h",
        "secretStoreRef": { "kind": "SecretStore", "name": app_name(app) },
        "target": { "name": spec.target_name(&es.name), "creationPolicy": "Owner" },
        "data": data,
    } });
    apply(ctx, &app.namespace, "ExternalSecret", &es.name, body).await
}

/// Polls the ExternalSecret until its Ready condition is True.
async fn wait_ready(ctx: &PhaseContext, namespace: &str, name: &str) -> Result<(), BootstrapError> {
    let api = Api::<ferry_api::ExternalSecret>::namespaced(ctx.kube.clone(), namespace);
    let wait = Wait {
        what: format!("ExternalSecret {namespace}/{name} to be Ready"),
        timeout: ctx.timeouts.ready,
        interval: ctx.timeouts.poll,
    };
    poll::until(wait, async || {
        let read = api
            .get_opt(name)
            .await
            .map_err(BootstrapError::kube(format!(
                "reading ExternalSecret {namespace}/{name}"
            )))?;
        let Some(es) = read else {
            let missing = "not found (is it committed to Git and applied by Flux?)";
            return Ok(Check::NotYet(Some(missing.into())));
        };
        Ok(match es.status.as_ref().and_then(|s| s.ready_condition()) {
            Some(c) if c.status == ferry_api::ConditionStatus::True => Check::Done(()),
            Some(c) => Check::NotYet(Some(format!(
                "{}: {}",
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default()
            ))),
            // No Ready condition yet: keep what an earlier look saw.
            None => Check::NotYet(None),
        })
    })
    .await
}
