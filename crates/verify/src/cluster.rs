//! The cluster half of `ferry verify`, against a live API server:
//!
//! - **Vault-backed Secrets.** In every namespace that has ExternalSecrets, every Secret must be
//!   owned by one (an ownerReference to an `external-secrets.io` ExternalSecret), and so must
//!   Flux's Git credentials Secret wherever it is. Not counted: service-account tokens, Helm
//!   release Secrets, the agent's HMAC key Secret [`HMAC_KEY_SECRET`], the init bundle Secret
//!   (checked for ciphertext instead), the targets of ExternalSecrets whose `creationPolicy` is
//!   `Merge` or `Orphan` (never owned by design), and [`ClusterScope::exempt_secrets`].
//! - **Ready.** Every ExternalSecret has the condition `Ready=True`.
//! - **Known values** (verbatim or base64) and token formats in ConfigMap `data`/`binaryData`,
//!   literal `env[].value`s of Pods, Deployments, StatefulSets, DaemonSets, Jobs and CronJobs,
//!   the `kubectl.kubernetes.io/last-applied-configuration` annotation of all those objects and
//!   of Secrets and ExternalSecrets, and Helm release payloads (decoded first).
//! - **Init material** (see [`crate::init_material`]): the init bundle Secret holds only age
//!   ciphertext, and no ConfigMap or unowned Secret holds a Vault/OpenBao token.
//!
//! Findings use [`crate::Location::Object`] with the field (`data.password`,
//! `spec.template.spec.containers[0].env[1]`) and never carry a value.

use std::collections::HashSet;
use std::fmt::Debug;

use globset::{Glob, GlobSet, GlobSetBuilder};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectList};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cluster_content::{self, ObjRef};
use crate::{Finding, Scanner, VerifyError, init_material, rules};

/// The Secret in which the agent keeps its HMAC key; not Vault-backed by design.
pub const HMAC_KEY_SECRET: &str = "ferry-hmac-key";

/// Objects per list page.
const PAGE: u32 = 500;

/// A namespaced object name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectName {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectName {
    /// `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

/// What the cluster check looks at.
#[derive(Debug, Clone)]
pub struct ClusterScope {
    /// Namespaces to check; empty means every namespace.
    pub namespaces: Vec<String>,
    /// The GitOps engines' Git credentials Secrets (Flux's, default `flux-system/flux-system`,
    /// and Argo CD's repository Secrets), which must be Vault-backed; checked even outside
    /// [`Self::namespaces`]. Each is skipped when absent.
    pub git_secrets: Vec<ObjectName>,
    /// The init bundle Secret (bootstrap.yaml `init.bundle.secret`), which must hold only age
    /// ciphertext. Skipped when absent.
    pub init_bundle_secret: Option<ObjectName>,
    /// Globs over `namespace/name` of Secrets that need not be Vault-backed.
    pub exempt_secrets: Vec<String>,
}

impl Default for ClusterScope {
    fn default() -> Self {
        Self {
            namespaces: Vec::new(),
            git_secrets: vec![ObjectName::new("flux-system", "flux-system")],
            init_bundle_secret: None,
            exempt_secrets: Vec::new(),
        }
    }
}

impl ClusterScope {
    /// The scope bootstrap.yaml describes: its Flux and Argo CD Secrets and init bundle
    /// Secret, every namespace.
    pub fn from_config(config: &ferry_config::BootstrapConfig) -> Self {
        let flux = config
            .flux
            .iter()
            .map(|f| ObjectName::new(&f.namespace, &f.secret_name));
        let argocd = config.argocd.iter().flat_map(|a| {
            a.secrets()
                .map(|(_, repo, _)| ObjectName::new(&a.namespace, &repo.name))
                .collect::<Vec<_>>()
        });
        Self {
            git_secrets: flux.chain(argocd).collect(),
            init_bundle_secret: config
                .init
                .bundle
                .secret
                .as_ref()
                .map(|s| ObjectName::new(&s.namespace, &s.name)),
            ..Self::default()
        }
    }
}

/// Runs every cluster check with `scanner`'s known values and token rules and returns the
/// findings, sorted. Needs list access to Secrets, ConfigMaps, the workload kinds and
/// ExternalSecrets in the scope (a cluster without the ExternalSecret CRD has none).
pub async fn check_cluster(
    client: &kube::Client,
    scanner: &Scanner,
    scope: &ClusterScope,
) -> Result<Vec<Finding>, VerifyError> {
    let mut out = Vec::new();
    let es = list_dynamic(client, &scope.namespaces, &external_secret_resource(), true).await?;
    for obj in &es {
        not_ready(obj, &mut out);
        let r = ObjRef::of("ExternalSecret", &obj.metadata);
        cluster_content::scan_last_applied(scanner, &r, &obj.metadata, &mut out);
    }
    let ctx = SecretChecks {
        scanner,
        tokens: Scanner::new(Vec::new())?,
        scope,
        exempt: exempt_set(&scope.exempt_secrets)?,
        backed: vault_backed_namespaces(&es),
        unowned_targets: unowned_targets(&es),
    };
    let mut secrets: Vec<Secret> = list_typed(client, &scope.namespaces, "Secrets").await?;
    for extra in scope.git_secrets.iter().chain(&scope.init_bundle_secret) {
        if !secrets.iter().any(|s| is_named(&s.metadata, extra))
            && let Some(s) = get_secret(client, extra).await?
        {
            secrets.push(s);
        }
    }
    for secret in &secrets {
        ctx.check(secret, &mut out);
    }
    let maps: Vec<ConfigMap> = list_typed(client, &scope.namespaces, "ConfigMaps").await?;
    for cm in &maps {
        cluster_content::scan_config_map(scanner, cm, &mut out);
    }
    for (kind, ar) in cluster_content::workload_resources() {
        for obj in list_dynamic(client, &scope.namespaces, &ar, false).await? {
            cluster_content::scan_workload(scanner, kind, &obj, &mut out);
        }
    }
    crate::sort_findings(&mut out);
    out.dedup();
    Ok(out)
}

/// What the per-Secret checks need, computed once.
struct SecretChecks<'a> {
    scanner: &'a Scanner,
    /// Token rules only: unowned Secrets may hold other credentials, not Vault tokens.
    tokens: Scanner,
    scope: &'a ClusterScope,
    exempt: GlobSet,
    /// Namespaces that have ExternalSecrets.
    backed: HashSet<String>,
    unowned_targets: HashSet<ObjectName>,
}

impl SecretChecks<'_> {
    /// Last-applied copy; Helm payload; init bundle ciphertext; for unowned Secrets, Vault
    /// tokens and whether it should have been Vault-backed.
    fn check(&self, secret: &Secret, out: &mut Vec<Finding>) {
        let name = name_of(&secret.metadata);
        let r = ObjRef::of("Secret", &secret.metadata);
        cluster_content::scan_last_applied(self.scanner, &r, &secret.metadata, out);
        if secret.type_.as_deref() == Some(cluster_content::HELM_RELEASE_TYPE) {
            cluster_content::scan_helm_secret(self.scanner, &r, secret, out);
            return;
        }
        if self.scope.init_bundle_secret.as_ref() == Some(&name) {
            init_material::check_bundle_secret(&r, secret, out);
            return;
        }
        if is_owned(&secret.metadata) {
            return;
        }
        init_material::scan_unowned_secret(&self.tokens, &r, secret, out);
        let should =
            self.backed.contains(&name.namespace) || self.scope.git_secrets.contains(&name);
        if should && !exempt_from_backing(secret, &name, &self.exempt, &self.unowned_targets) {
            out.push(Finding::new(
                rules::SECRET_NOT_VAULT_BACKED,
                r.location(None),
                "Secret should be Vault-backed but no ExternalSecret owns it",
            ));
        }
    }
}

/// The ExternalSecret API (`external-secrets.io/v1`).
fn external_secret_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(ferry_api::GROUP, "v1", "ExternalSecret"),
        "externalsecrets",
    )
}

fn exempt_set(globs: &[String]) -> Result<GlobSet, VerifyError> {
    let mut b = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| VerifyError::ParseAllowlist {
            path: "<cluster scope>".into(),
            message: format!("exempt Secret glob {g:?}: {e}"),
        })?;
        b.add(glob);
    }
    b.build().map_err(|e| VerifyError::ParseAllowlist {
        path: "<cluster scope>".into(),
        message: e.to_string(),
    })
}

fn vault_backed_namespaces(es: &[DynamicObject]) -> HashSet<String> {
    es.iter()
        .filter_map(|o| o.metadata.namespace.clone())
        .collect()
}

/// Targets of ExternalSecrets that never own their Secret (`creationPolicy: Merge` / `Orphan`).
fn unowned_targets(es: &[DynamicObject]) -> HashSet<ObjectName> {
    let mut out = HashSet::new();
    for o in es {
        let target = &o.data["spec"]["target"];
        let policy = target["creationPolicy"].as_str().unwrap_or("Owner");
        if policy == "Merge" || policy == "Orphan" {
            let name = target["name"]
                .as_str()
                .or(o.metadata.name.as_deref())
                .unwrap_or_default();
            out.insert(ObjectName::new(
                o.metadata.namespace.clone().unwrap_or_default(),
                name,
            ));
        }
    }
    out
}

/// A finding unless the ExternalSecret's `Ready` condition is `True`.
fn not_ready(obj: &DynamicObject, out: &mut Vec<Finding>) {
    let conditions = obj.data["status"]["conditions"].as_array();
    let ready = conditions.and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let message = match ready {
        Some(c) if c["status"] == "True" => return,
        Some(c) => format!(
            "ExternalSecret is not Ready (status {}, reason {})",
            word(&c["status"]),
            word(&c["reason"])
        ),
        None => "ExternalSecret has no Ready condition yet".to_owned(),
    };
    let r = ObjRef::of("ExternalSecret", &obj.metadata);
    out.push(Finding::new(
        rules::EXTERNAL_SECRET_NOT_READY,
        r.location(Some("status.conditions[Ready]".to_owned())),
        message,
    ));
}

/// A condition word (status or reason) as a short identifier: controller messages are never
/// copied, and only letters and digits of the reason are kept.
fn word(v: &Value) -> String {
    let w: String = v
        .as_str()
        .unwrap_or("none")
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    if w.is_empty() { "none".to_owned() } else { w }
}

fn is_owned(meta: &ObjectMeta) -> bool {
    meta.owner_references.iter().flatten().any(|o| {
        o.kind == "ExternalSecret" && o.api_version.starts_with(&format!("{}/", ferry_api::GROUP))
    })
}

fn exempt_from_backing(
    secret: &Secret,
    name: &ObjectName,
    exempt: &GlobSet,
    unowned_targets: &HashSet<ObjectName>,
) -> bool {
    secret.type_.as_deref() == Some("kubernetes.io/service-account-token")
        || name.name == HMAC_KEY_SECRET
        || unowned_targets.contains(name)
        || exempt.is_match(format!("{}/{}", name.namespace, name.name))
}

fn name_of(meta: &ObjectMeta) -> ObjectName {
    ObjectName::new(
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn is_named(meta: &ObjectMeta, name: &ObjectName) -> bool {
    meta.namespace.as_deref() == Some(&name.namespace) && meta.name.as_deref() == Some(&name.name)
}

async fn get_secret(
    client: &kube::Client,
    name: &ObjectName,
) -> Result<Option<Secret>, VerifyError> {
    Api::<Secret>::namespaced(client.clone(), &name.namespace)
        .get_opt(&name.name)
        .await
        .map_err(|source| VerifyError::Kube {
            what: format!("Secret {}/{}", name.namespace, name.name),
            source: Box::new(source),
        })
}

/// Every object of a typed kind in the namespaces (all namespaces when empty), page by page.
async fn list_typed<K>(
    client: &kube::Client,
    namespaces: &[String],
    what: &str,
) -> Result<Vec<K>, VerifyError>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + Debug,
{
    let mut out = Vec::new();
    if namespaces.is_empty() {
        out = list_pages(&Api::<K>::all(client.clone()), what, false).await?;
    } else {
        for ns in namespaces {
            let api = Api::<K>::namespaced(client.clone(), ns);
            out.extend(list_pages(&api, &format!("{what} in namespace {ns}"), false).await?);
        }
    }
    Ok(out)
}

/// Like [`list_typed`] for a dynamic resource. With `absent_is_empty`, a resource the API
/// server does not serve (no CRD) lists as empty.
async fn list_dynamic(
    client: &kube::Client,
    namespaces: &[String],
    ar: &ApiResource,
    absent_is_empty: bool,
) -> Result<Vec<DynamicObject>, VerifyError> {
    let what = format!("{} objects", ar.kind);
    let mut out = Vec::new();
    if namespaces.is_empty() {
        let api = Api::<DynamicObject>::all_with(client.clone(), ar);
        out = list_pages(&api, &what, absent_is_empty).await?;
    } else {
        for ns in namespaces {
            let api = Api::<DynamicObject>::namespaced_with(client.clone(), ns, ar);
            let what = format!("{what} in namespace {ns}");
            out.extend(list_pages(&api, &what, absent_is_empty).await?);
        }
    }
    Ok(out)
}

async fn list_pages<K>(
    api: &Api<K>,
    what: &str,
    absent_is_empty: bool,
) -> Result<Vec<K>, VerifyError>
where
    K: Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page: ObjectList<K> = match api.list(&params).await {
            Ok(page) => page,
            Err(kube::Error::Api(e)) if absent_is_empty && e.code == 404 => return Ok(out),
            Err(source) => {
                return Err(VerifyError::Kube {
                    what: what.to_owned(),
                    source: Box::new(source),
                });
            }
        };
        out.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(out),
        }
    }
}
