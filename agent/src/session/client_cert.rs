//! The client certificate of TLS certificate auth: its PEM chain and private key read from
//! their Secret keys into zeroized buffers and parsed into the identity the connection to
//! Vault presents. Errors name the Secret keys, never their content.

use ferry_vault::ClientIdentity;
use kube::Client;

use super::super::plan::Method;
use super::secret_bytes;
use crate::error::{AgentError, Result};

/// The identity a [`Method::Cert`] login presents; `None` for every other method.
pub(super) async fn identity(kube: &Client, method: &Method) -> Result<Option<ClientIdentity>> {
    let Method::Cert { cert, key, .. } = method else {
        return Ok(None);
    };
    let chain = secret_bytes(kube, cert).await?;
    let private_key = secret_bytes(kube, key).await?;
    let pem = super::pem_or_base64(chain.to_vec());
    let chain = zeroize::Zeroizing::new(pem);
    ClientIdentity::from_pem(&chain, &private_key)
        .map(Some)
        .map_err(|_| AgentError::ReadCredential {
            what: format!(
                "{} with {}",
                cert.describe("Secret"),
                key.describe("Secret")
            ),
            reason: "not a PEM certificate with its PEM private key".to_owned(),
        })
}
