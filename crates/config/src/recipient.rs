//! age recipients of the init bundle: x25519 (`age1…`) and SSH (`ssh-ed25519 …`,
//! `ssh-rsa …`) public keys, parsed with the `age` crate.

use std::str::FromStr;

use crate::error::ConfigError;
use crate::schema::InitConfig;

/// A parsed recipient of the init bundle.
#[derive(Clone)]
pub enum AgeRecipient {
    /// A native age x25519 recipient (`age1…`).
    X25519(age::x25519::Recipient),
    /// An SSH public key (`ssh-ed25519 …` or `ssh-rsa …`, RSA of at least 2048 bits).
    Ssh(age::ssh::Recipient),
}

impl std::fmt::Debug for AgeRecipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::X25519(r) => write!(f, "X25519({r})"),
            Self::Ssh(r) => write!(f, "Ssh({r})"),
        }
    }
}

impl AgeRecipient {
    /// The recipient as the trait object `age::Encryptor::with_recipients` takes.
    pub fn as_recipient(&self) -> &dyn age::Recipient {
        match self {
            Self::X25519(r) => r,
            Self::Ssh(r) => r,
        }
    }
}

/// Parses one recipient string. The error explains the problem without echoing the key.
pub fn parse_recipient(text: &str) -> Result<AgeRecipient, String> {
    let text = text.trim();
    if let Some(data) = text.strip_prefix("age1") {
        // The bech32 alphabet has no `1`, so a second `1` marks `age1<plugin>1…`.
        if data.contains('1') {
            return Err("age plugin recipients (age1<plugin>1…) are not supported; \
                        use an x25519 recipient (`age-keygen -y`) or an SSH key"
                .to_owned());
        }
        return age::x25519::Recipient::from_str(text)
            .map(AgeRecipient::X25519)
            .map_err(|reason| format!("not a valid age x25519 recipient ({reason})"));
    }
    if text.starts_with("ssh-ed25519 ") || text.starts_with("ssh-rsa ") {
        return age::ssh::Recipient::from_str(text)
            .map(AgeRecipient::Ssh)
            .map_err(|err| {
                use age::ssh::ParseRecipientKeyError as E;
                match err {
                    E::RsaModulusTooSmall => "the ssh-rsa key is shorter than 2048 bits".to_owned(),
                    E::RsaModulusTooLarge => "the ssh-rsa key is too large".to_owned(),
                    E::Unsupported(kind) => format!("unsupported SSH key type `{kind}`"),
                    E::Ignore | E::Invalid(_) => "not a valid SSH public key".to_owned(),
                }
            });
    }
    if text.starts_with("AGE-SECRET-KEY-") || text.contains("PRIVATE KEY") {
        return Err("this is a private key; give the public recipient instead".to_owned());
    }
    if text.starts_with("ssh-") || text.starts_with("ecdsa-") || text.starts_with("sk-") {
        return Err("only ssh-ed25519 and ssh-rsa SSH keys are supported by age".to_owned());
    }
    Err(
        "expected an age recipient (age1…) or an SSH public key (ssh-ed25519 …, ssh-rsa …)"
            .to_owned(),
    )
}

impl InitConfig {
    /// Parses every entry of `recipients` for `age::Encryptor::with_recipients`.
    pub fn age_recipients(&self) -> Result<Vec<AgeRecipient>, ConfigError> {
        self.recipients
            .iter()
            .enumerate()
            .map(|(i, text)| {
                parse_recipient(text).map_err(|message| ConfigError::Recipient {
                    field: format!("init.recipients[{i}]"),
                    message,
                })
            })
            .collect()
    }
}
