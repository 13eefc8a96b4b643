//! The agent's HMAC master key (see [`crate::hmac`]): it lives in a Secret in the agent's own
//! namespace (`--hmac-key-secret`), created with a random key when absent. Losing it only
//! costs one rewrite of every Secret; the runbook is in `docs/operations.md`.

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use zeroize::Zeroizing;

use crate::context::AgentConfig;
use crate::error::{AgentError, KubeCause, Result};
use crate::hmac::generate_key;

/// Shortest key accepted from an existing Secret, in bytes.
const MIN_KEY_LEN: usize = 16;

/// Reads the key from its Secret, or creates the Secret with a fresh key.
pub async fn load_or_create(client: &Client, config: &AgentConfig) -> Result<Zeroizing<Vec<u8>>> {
    let (ns, name) = (&config.own_namespace, &config.hmac_key_secret);
    let fail = |reason: String| AgentError::LoadHmacKey {
        namespace: ns.clone(),
        name: name.clone(),
        reason,
    };
    let api = Api::<Secret>::namespaced(client.clone(), ns);
    for _ in 0..3 {
        if let Some(secret) = api
            .get_opt(name)
            .await
            .map_err(|e| fail(KubeCause::from(e).to_string()))?
        {
            let key = secret.data.and_then(|mut d| d.remove("key")).map(|b| b.0);
            return match key {
                Some(key) if key.len() >= MIN_KEY_LEN => Ok(Zeroizing::new(key)),
                _ => Err(fail("data.key is missing or shorter than 16 bytes".into())),
            };
        }
        let key = generate_key();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..Default::default()
            },
            data: Some([("key".to_string(), ByteString(key.to_vec()))].into()),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        match api.create(&PostParams::default(), &secret).await {
            Ok(_) => return Ok(key),
            Err(kube::Error::Api(s)) if s.code == 409 => continue,
            Err(e) => return Err(fail(KubeCause::from(e).to_string())),
        }
    }
    Err(fail(
        "the Secret keeps being created and deleted concurrently".into(),
    ))
}
