//! The Vault side of `dataFrom[].find` and of `metadataPolicy: Fetch`.
//!
//! A find lists its path recursively (KV LIST, folders end with `/`), keeps the paths its
//! name regexp matches, reads each through the shared single-flight [`Fetcher`] and, for a
//! find by tags, keeps the secrets whose KV v2 custom metadata carries every tag. The custom
//! metadata comes with the data read, so a find by tags costs one read per candidate where
//! ESO makes two (metadata, then data); the agent's policy needs `read` on the data paths
//! either way. Secret names are the paths as ESO gives them: `find.path`, a `/`, then the
//! path below it.
//!
//! [`Fetcher`]: crate::fetch::Fetcher

use std::sync::Arc;
use std::time::Duration;

use ferry_api::external_secret::ExternalSecretFind;
use ferry_api::{ExternalSecretSpec, VaultKvVersion};
use ferry_vault::{KvData, KvSecret, KvVersion, Vault, VaultError};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use crate::context::Ctx;
use crate::error::{AgentError, Result};
use crate::fetch::mount_and_path;
use crate::session::{SessionKey, StoreContext};
use crate::shape::{FindFilter, FindResults};
use crate::sources::Stores;

/// Most secrets one find may list; more is almost surely a wrong path.
pub const MAX_LISTED: usize = 10_000;
/// Reads in flight at once for one find.
const CONCURRENT_READS: usize = 8;

/// Runs every `find` of the spec, each in its entry's store. A 403 drops the session and
/// retries once with a fresh login.
pub async fn find_all(
    ctx: &Ctx,
    stores: &Stores,
    spec: &ExternalSecretSpec,
    max_age: Duration,
) -> Result<FindResults> {
    let mut out = FindResults::new();
    for (i, entry) in spec.data_from.iter().enumerate() {
        let Some(find) = &entry.find else { continue };
        let field = format!("spec.dataFrom[{i}].find");
        let store_ref = crate::shape::store_ref(entry.source_ref.as_ref());
        let store = stores.get(store_ref)?;
        let mut retried = false;
        let found = loop {
            let (session, vault) = stores.session(ctx, store_ref).await?;
            match find_one(ctx, store, &session, &vault, find, &field, max_age).await {
                Err(Failed::Vault(path, err)) if err.is_forbidden() && !retried => {
                    tracing::debug!(path, "find was forbidden; logging in again");
                    ctx.sessions.invalidate(&session, &vault).await;
                    retried = true;
                }
                Err(Failed::Vault(path, source)) => {
                    return Err(AgentError::ReadVault {
                        path,
                        source: Box::new(source),
                    });
                }
                Err(Failed::Agent(err)) => return Err(err),
                Ok(found) => break found,
            }
        };
        out.insert(i, found);
    }
    Ok(out)
}

/// Why one find failed: Vault (retried once on 403) or the spec.
enum Failed {
    Vault(String, VaultError),
    Agent(AgentError),
}

impl From<AgentError> for Failed {
    fn from(err: AgentError) -> Self {
        Failed::Agent(err)
    }
}

async fn find_one(
    ctx: &Ctx,
    store: &StoreContext,
    session: &SessionKey,
    vault: &Vault,
    find: &ExternalSecretFind,
    field: &str,
    max_age: Duration,
) -> std::result::Result<std::collections::BTreeMap<String, Arc<KvSecret>>, Failed> {
    let filter = FindFilter::new(find, field)?;
    let engine = match store.provider.version {
        VaultKvVersion::V1 if filter.by_tags() => {
            return Err(AgentError::BuildSecret {
                field: format!("{field}.tags"),
                message: "a find by tags needs a KV v2 store (tags are custom metadata)".into(),
            }
            .into());
        }
        VaultKvVersion::V1 => KvVersion::V1,
        VaultKvVersion::V2 => KvVersion::V2,
    };
    let written = find.path.as_deref().unwrap_or("").trim_end_matches('/');
    let (mount, base) = mount_and_path(&store.provider, written);
    if mount.is_empty() {
        return Err(AgentError::BuildSecret {
            field: format!("{field}.path"),
            message: "without a path on the store, find.path must start with the KV mount".into(),
        }
        .into());
    }
    let listed = list_recursive(vault, &mount, &base, engine, field).await?;
    let prefix = if written.is_empty() {
        String::new()
    } else {
        format!("{written}/")
    };
    let candidates = listed
        .into_iter()
        .map(|rel| (format!("{prefix}{rel}"), join(&base, &rel)))
        .filter(|(name, _)| filter.name_matches(name));
    let reads = futures::stream::iter(candidates).map(|(name, path)| {
        let mount = mount.clone();
        async move {
            let read = ctx
                .fetcher
                .read(session, vault, &mount, &path, engine, None, max_age)
                .await
                .map_err(|e| Failed::Vault(format!("{mount}/{path}"), e))?;
            Ok::<_, Failed>(read.map(|secret| (name, secret)))
        }
    });
    let found: Vec<_> = reads
        .buffer_unordered(CONCURRENT_READS)
        .try_collect()
        .await?;
    Ok(found
        .into_iter()
        .flatten()
        .filter(|(_, secret)| filter.tags_match(&secret.custom_metadata))
        .collect())
}

/// Every secret below `base` (recursively), as paths relative to it.
async fn list_recursive(
    vault: &Vault,
    mount: &str,
    base: &str,
    engine: KvVersion,
    field: &str,
) -> std::result::Result<Vec<String>, Failed> {
    let mut secrets = Vec::new();
    let mut folders = vec![String::new()];
    while let Some(folder) = folders.pop() {
        let path = join(base, &folder);
        let keys = vault
            .kv_list(mount, &path, engine)
            .await
            .map_err(|e| Failed::Vault(format!("{mount}/{path}"), e))?;
        for key in keys {
            let rel = format!("{folder}{key}");
            if key.ends_with('/') {
                folders.push(rel);
            } else {
                secrets.push(rel);
            }
        }
        if secrets.len() + folders.len() > MAX_LISTED {
            return Err(AgentError::BuildSecret {
                field: format!("{field}.path"),
                message: format!("more than {MAX_LISTED} secrets below this path"),
            }
            .into());
        }
    }
    secrets.sort();
    Ok(secrets)
}

/// `base/rel`, without a leading or doubled `/`.
fn join(base: &str, rel: &str) -> String {
    let base = base.trim_matches('/');
    match (base.is_empty(), rel.is_empty()) {
        (true, _) => rel.trim_end_matches('/').to_owned(),
        (false, true) => base.to_owned(),
        (false, false) => format!("{base}/{}", rel.trim_end_matches('/')),
    }
}

/// `metadataPolicy: Fetch`: the secret's KV v2 metadata as ESO presents it, a flat map of
/// strings: `created_time`, `current_version`, `delete_version_after`, then every custom
/// metadata entry (which wins on a clash, as in ESO). `None` when the secret does not exist.
pub async fn read_metadata(
    vault: &Vault,
    mount: &str,
    path: &str,
) -> std::result::Result<Option<Arc<KvSecret>>, VaultError> {
    let Some(meta) = vault.kv_metadata(mount, path).await? else {
        return Ok(None);
    };
    let mut map = Map::new();
    let mut put = |k: &str, v: String| {
        map.insert(k.to_owned(), Value::String(v));
    };
    put("created_time", meta.created_time.clone());
    put("current_version", meta.current_version.to_string());
    put("delete_version_after", meta.delete_version_after.clone());
    for (k, v) in &meta.custom_metadata {
        put(k, v.clone());
    }
    Ok(Some(Arc::new(KvSecret {
        data: KvData::new(map),
        version: Some(meta.current_version),
        created_time: Some(meta.created_time),
        custom_metadata: meta.custom_metadata,
    })))
}

#[cfg(test)]
mod tests {
    use super::join;

    #[test]
    fn joins_paths() {
        assert_eq!(join("", "a/b"), "a/b");
        assert_eq!(join("", "a/"), "a");
        assert_eq!(join("team", ""), "team");
        assert_eq!(join("team/", "db/"), "team/db");
        assert_eq!(join("", ""), "");
    }
}
