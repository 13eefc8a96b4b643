//! KV secrets engine operations (v1 and v2).
//!
//! All calls go through vaultrs; KV v2 reads use the raw
//! `ReadSecretRequest` endpoint so that the version metadata is kept.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vaultrs::api::kv2::requests::{
    ReadSecretRequest, SetSecretMetadataRequest, SetSecretRequest, SetSecretRequestOptions,
};
use vaultrs::api::kv2::responses::{ReadSecretMetadataResponse, SecretMetadata};

use crate::client::Vault;
use crate::data::KvData;
use crate::error::{Cause, VaultError};
use crate::util::{ClientResultExt, clean_path, non_empty_path, none_if_not_found};

/// The KV secrets engine version of a mount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvVersion {
    /// KV version 1 (unversioned).
    V1,
    /// KV version 2 (versioned, `data/` and `metadata/` sub-paths).
    #[default]
    V2,
}

/// A secret read from KV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvSecret {
    /// The secret's key/value data (redacted in `Debug`).
    pub data: KvData,
    /// The version read (KV v2 only).
    pub version: Option<u64>,
    /// Creation time of that version (KV v2 only, RFC 3339).
    pub created_time: Option<String>,
    /// Custom metadata of the secret (KV v2 only; not secret).
    pub custom_metadata: BTreeMap<String, String>,
}

/// State of one version of a KV v2 secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvVersionInfo {
    /// Creation time (RFC 3339).
    pub created_time: String,
    /// Deletion time if the version is (soft-)deleted.
    pub deletion_time: Option<String>,
    /// Whether the version is destroyed.
    pub destroyed: bool,
}

impl KvVersionInfo {
    /// Whether the data of this version can still be read.
    pub fn is_readable(&self) -> bool {
        self.deletion_time.is_none() && !self.destroyed
    }
}

impl From<SecretMetadata> for KvVersionInfo {
    fn from(m: SecretMetadata) -> Self {
        KvVersionInfo {
            created_time: m.created_time,
            deletion_time: non_empty(m.deletion_time),
            destroyed: m.destroyed,
        }
    }
}

/// Metadata of a KV v2 secret (`<mount>/metadata/<path>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMetadata {
    /// The latest version number.
    pub current_version: u64,
    /// The oldest version still kept.
    pub oldest_version: u64,
    /// Every kept version by number.
    pub versions: BTreeMap<u64, KvVersionInfo>,
    /// Custom metadata (not secret).
    pub custom_metadata: BTreeMap<String, String>,
    /// Creation time of the secret (RFC 3339).
    pub created_time: String,
    /// Time of the last update (RFC 3339).
    pub updated_time: String,
    /// Maximum number of versions kept (0 = mount default).
    pub max_versions: u64,
    /// Whether writes must carry a check-and-set version.
    pub cas_required: bool,
    /// How long a version lives before it is deleted (Vault duration, `0s` = forever).
    pub delete_version_after: String,
}

impl KvMetadata {
    /// The state of the current version, if listed.
    pub fn current(&self) -> Option<&KvVersionInfo> {
        self.versions.get(&self.current_version)
    }
}

impl TryFrom<ReadSecretMetadataResponse> for KvMetadata {
    type Error = Cause;

    fn try_from(m: ReadSecretMetadataResponse) -> Result<Self, Cause> {
        let mut versions = BTreeMap::new();
        for (number, info) in m.versions {
            let number = number
                .parse::<u64>()
                .map_err(|_| Cause::decode("a KV version number is not an integer"))?;
            versions.insert(number, KvVersionInfo::from(info));
        }
        Ok(KvMetadata {
            current_version: m.current_version,
            oldest_version: m.oldest_version,
            versions,
            custom_metadata: m.custom_metadata.unwrap_or_default().into_iter().collect(),
            created_time: m.created_time,
            updated_time: m.updated_time,
            max_versions: m.max_versions,
            cas_required: m.cas_required,
            delete_version_after: m.delete_version_after,
        })
    }
}

/// Mount and path of a KV operation, normalized.
struct Target {
    mount: String,
    path: String,
}

impl Target {
    fn new(mount: &str, path: &str, path_may_be_empty: bool) -> Result<Target, Cause> {
        let mount = non_empty_path(mount, "mount")?;
        let path = if path_may_be_empty {
            clean_path(path)?
        } else {
            non_empty_path(path, "secret path")?
        };
        Ok(Target { mount, path })
    }
}

impl Vault {
    /// Reads a secret. `Ok(None)` when it does not exist, including a KV v2
    /// version that is deleted or destroyed. `version` selects a KV v2
    /// version (rejected for KV v1).
    pub async fn kv_read(
        &self,
        mount: &str,
        path: &str,
        engine: KvVersion,
        version: Option<u64>,
    ) -> Result<Option<KvSecret>, VaultError> {
        let err = |cause| VaultError::KvRead {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        match engine {
            KvVersion::V2 => {
                let endpoint = ReadSecretRequest {
                    mount: t.mount,
                    path: t.path,
                    version,
                };
                let resp = vaultrs::api::exec_with_result(&call, endpoint)
                    .await
                    .cause();
                let Some(resp) = none_if_not_found(resp).map_err(err)? else {
                    return Ok(None);
                };
                let meta = resp.metadata;
                if resp.data.is_null() {
                    return Ok(None);
                }
                let data = KvData::from_value(resp.data)
                    .ok_or_else(|| err(Cause::decode("KV v2 data is not a JSON object")))?;
                Ok(Some(KvSecret {
                    data,
                    version: Some(meta.version),
                    created_time: non_empty(meta.created_time),
                    custom_metadata: meta
                        .custom_metadata
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                }))
            }
            KvVersion::V1 => {
                if version.is_some() {
                    return Err(err(Cause::invalid("KV v1 secrets have no versions")));
                }
                let resp = vaultrs::kv1::get_raw(&call, &t.mount, &t.path)
                    .await
                    .cause();
                let Some(resp) = none_if_not_found(resp).map_err(err)? else {
                    return Ok(None);
                };
                if resp.data.is_null() {
                    return Ok(None);
                }
                let data = KvData::from_value(resp.data)
                    .ok_or_else(|| err(Cause::decode("KV v1 data is not a JSON object")))?;
                Ok(Some(KvSecret {
                    data,
                    version: None,
                    created_time: None,
                    custom_metadata: BTreeMap::new(),
                }))
            }
        }
    }

    /// Writes a secret. For KV v2 returns the new version; `cas` makes the
    /// write conditional (`0` = only if absent) and a mismatch is an error
    /// with [`VaultError::is_cas_mismatch`]. For KV v1 returns `None` and
    /// `cas` must be `None`.
    pub async fn kv_write(
        &self,
        mount: &str,
        path: &str,
        engine: KvVersion,
        data: &KvData,
        cas: Option<u64>,
    ) -> Result<Option<u64>, VaultError> {
        let err = |cause| VaultError::KvWrite {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        match engine {
            KvVersion::V2 => {
                let options = match cas {
                    None => None,
                    Some(v) => Some(SetSecretRequestOptions {
                        cas: u32::try_from(v)
                            .map_err(|_| err(Cause::invalid("cas version is too large")))?,
                    }),
                };
                let endpoint = SetSecretRequest {
                    mount: t.mount,
                    path: t.path,
                    data: Value::Object(data.expose().clone()),
                    options,
                };
                let meta = vaultrs::api::exec_with_result(&call, endpoint)
                    .await
                    .cause()
                    .map_err(err)?;
                Ok(Some(meta.version))
            }
            KvVersion::V1 => {
                if cas.is_some() {
                    return Err(err(Cause::invalid("KV v1 does not support check-and-set")));
                }
                let body = data
                    .to_json_bytes()
                    .map_err(|e| err(Cause::from_json(&e)))?;
                let endpoint = vaultrs::api::kv1::requests::SetSecretRequest {
                    mount: t.mount,
                    path: t.path,
                    data: body.to_vec(),
                };
                vaultrs::api::exec_with_empty(&call, endpoint)
                    .await
                    .cause()
                    .map_err(err)?;
                Ok(None)
            }
        }
    }

    /// Reads the metadata of a KV v2 secret; `Ok(None)` if it does not exist.
    pub async fn kv_metadata(
        &self,
        mount: &str,
        path: &str,
    ) -> Result<Option<KvMetadata>, VaultError> {
        let err = |cause| VaultError::KvMetadata {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        let resp = vaultrs::kv2::read_metadata(&call, &t.mount, &t.path)
            .await
            .cause();
        match none_if_not_found(resp).map_err(err)? {
            None => Ok(None),
            Some(m) => KvMetadata::try_from(m).map(Some).map_err(err),
        }
    }

    /// Replaces the custom metadata of a KV v2 secret (creating its metadata if needed);
    /// other metadata settings are left as they are. Custom metadata is not secret.
    pub async fn kv_set_custom_metadata(
        &self,
        mount: &str,
        path: &str,
        custom_metadata: &BTreeMap<String, String>,
    ) -> Result<(), VaultError> {
        let err = |cause| VaultError::KvMetadata {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        let endpoint = SetSecretMetadataRequest {
            mount: t.mount,
            path: t.path,
            custom_metadata: Some(custom_metadata.clone().into_iter().collect()),
            ..SetSecretMetadataRequest::default()
        };
        vaultrs::api::exec_with_empty(&call, endpoint)
            .await
            .cause()
            .map_err(err)
    }

    /// Lists the keys under a folder (`""` = the mount's root). Folder names
    /// end with `/`. A missing folder gives an empty list.
    pub async fn kv_list(
        &self,
        mount: &str,
        path: &str,
        engine: KvVersion,
    ) -> Result<Vec<String>, VaultError> {
        let err = |cause| VaultError::KvList {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, true).map_err(err)?;
        let call = self.call().map_err(err)?;
        let keys = match engine {
            KvVersion::V2 => vaultrs::kv2::list(&call, &t.mount, &t.path).await.cause(),
            KvVersion::V1 => vaultrs::kv1::list(&call, &t.mount, &t.path)
                .await
                .cause()
                .map(|r| r.data.keys),
        };
        Ok(none_if_not_found(keys).map_err(err)?.unwrap_or_default())
    }

    /// Deletes a secret: for KV v2 soft-deletes the latest version (it can
    /// be undeleted); for KV v1 removes it. Deleting a missing secret
    /// succeeds.
    pub async fn kv_delete_latest(
        &self,
        mount: &str,
        path: &str,
        engine: KvVersion,
    ) -> Result<(), VaultError> {
        let err = |cause| VaultError::KvDelete {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        let result = match engine {
            KvVersion::V2 => vaultrs::kv2::delete_latest(&call, &t.mount, &t.path)
                .await
                .cause(),
            KvVersion::V1 => vaultrs::kv1::delete(&call, &t.mount, &t.path).await.cause(),
        };
        none_if_not_found(result).map_err(err).map(|_| ())
    }

    /// Soft-deletes one version of a KV v2 secret (it can be undeleted). A version written
    /// after `version` stays readable, so a delete decided on what was read at `version`
    /// never removes a later write. Deleting a missing secret succeeds.
    pub async fn kv_delete_version(
        &self,
        mount: &str,
        path: &str,
        version: u64,
    ) -> Result<(), VaultError> {
        let err = |cause| VaultError::KvDelete {
            mount: mount.to_owned(),
            path: path.to_owned(),
            cause,
        };
        let t = Target::new(mount, path, false).map_err(err)?;
        let call = self.call().map_err(err)?;
        let endpoint = vaultrs::api::kv2::requests::DeleteSecretVersionsRequest {
            mount: t.mount,
            path: t.path,
            versions: vec![version],
        };
        let result = vaultrs::api::exec_with_empty(&call, endpoint).await.cause();
        none_if_not_found(result).map_err(err).map(|_| ())
    }
}

/// `None` for an empty string (Vault's way of saying "unset").
fn non_empty(s: String) -> Option<String> {
    if s.is_empty() { None } else { Some(s) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_version_serde() -> Result<(), serde_json::Error> {
        assert_eq!(serde_json::to_string(&KvVersion::V1)?, "\"v1\"");
        assert_eq!(serde_json::from_str::<KvVersion>("\"v2\"")?, KvVersion::V2);
        assert_eq!(KvVersion::default(), KvVersion::V2);
        Ok(())
    }

    #[test]
    fn metadata_conversion() -> Result<(), Box<dyn std::error::Error>> {
        let raw = serde_json::json!({
            "cas_required": false,
            "created_time": "2024-01-01T00:00:00Z",
            "current_version": 2,
            "delete_version_after": "0s",
            "max_versions": 0,
            "oldest_version": 1,
            "updated_time": "2024-01-02T00:00:00Z",
            "custom_metadata": {"owner": "ferry"},
            "versions": {
                "1": {"created_time": "2024-01-01T00:00:00Z", "deletion_time": "2024-01-01T01:00:00Z", "destroyed": false},
                "2": {"created_time": "2024-01-02T00:00:00Z", "deletion_time": "", "destroyed": false}
            }
        });
        let resp: ReadSecretMetadataResponse = serde_json::from_value(raw)?;
        let m = KvMetadata::try_from(resp)?;
        assert_eq!(m.current_version, 2);
        assert_eq!(m.versions.len(), 2);
        assert!(m.current().is_some_and(KvVersionInfo::is_readable));
        assert!(m.versions.get(&1).is_some_and(|v| !v.is_readable()));
        assert_eq!(
            m.custom_metadata.get("owner").map(String::as_str),
            Some("ferry")
        );
        Ok(())
    }

    #[test]
    fn targets_are_validated() {
        assert!(Target::new("secret", "", false).is_err());
        assert!(Target::new("", "a", false).is_err());
        assert!(Target::new("secret", "", true).is_ok());
        assert!(Target::new("secret", "a/../b", false).is_err());
    }
}
