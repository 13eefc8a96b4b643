//! The `env` section: which environment variables phase 2 reads, where each value is
//! written in KV, and the optional well-formedness check run before anything is written.
//!
//! The check is checked by [`crate::check_value`]; this module only describes it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One environment variable and its destination in KV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvEntry {
    /// The variable's name: `[A-Z_][A-Z0-9_]*`, unique in the file.
    #[schemars(regex(pattern = r"^[A-Z_][A-Z0-9_]*$"))]
    pub name: String,
    /// The KV secret path, relative to the KV mount (`flux/git`, not `secret/flux/git`).
    pub path: String,
    /// The key inside that KV secret. Each (`path`, `key`) pair appears once.
    pub key: String,
    /// A check the value must pass before anything is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<EnvCheck>,
}

/// A well-formedness check on a value. Written in YAML as a map with exactly one key:
/// `{nonEmpty: true}`, `{regexp: "^[a-z]+$"}` or `{format: github-token}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawCheck", into = "RawCheck")]
pub enum EnvCheck {
    /// The value must not be empty.
    NonEmpty,
    /// The whole value must match this regular expression (Rust `regex` syntax; the
    /// pattern is anchored at both ends, so `[a-z]+` means `^(?:[a-z]+)$`).
    Regexp(String),
    /// The value must be a well-formed token or key of this format.
    Format(TokenFormat),
}

/// The YAML form of [`EnvCheck`]: exactly one of its keys.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(
    title = "EnvCheck",
    description = "A check the value must pass before anything is written; exactly one key.",
    extend("minProperties" = 1, "maxProperties" = 1)
)]
struct RawCheck {
    /// `true`: the value must not be empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("const" = true))]
    non_empty: Option<bool>,
    /// The whole value must match this regular expression (Rust `regex` syntax, anchored
    /// at both ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    regexp: Option<String>,
    /// The value must be a well-formed token or key of this format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    format: Option<TokenFormat>,
}

impl TryFrom<RawCheck> for EnvCheck {
    type Error = String;

    fn try_from(raw: RawCheck) -> Result<Self, Self::Error> {
        match (raw.non_empty, raw.regexp, raw.format) {
            (Some(true), None, None) => Ok(Self::NonEmpty),
            (Some(false), None, None) => {
                Err("`nonEmpty: false` is not a check; remove `check` instead".to_owned())
            }
            (None, Some(pattern), None) => Ok(Self::Regexp(pattern)),
            (None, None, Some(format)) => Ok(Self::Format(format)),
            (None, None, None) => {
                Err("a check needs one of `nonEmpty`, `regexp` or `format`".to_owned())
            }
            _ => Err("a check takes exactly one of `nonEmpty`, `regexp` or `format`".to_owned()),
        }
    }
}

impl From<EnvCheck> for RawCheck {
    fn from(check: EnvCheck) -> Self {
        match check {
            EnvCheck::NonEmpty => Self {
                non_empty: Some(true),
                ..Self::default()
            },
            EnvCheck::Regexp(pattern) => Self {
                regexp: Some(pattern),
                ..Self::default()
            },
            EnvCheck::Format(format) => Self {
                format: Some(format),
                ..Self::default()
            },
        }
    }
}

impl EnvCheck {
    /// The check's YAML key: `nonEmpty`, `regexp` or `format`.
    pub fn key(&self) -> &'static str {
        match self {
            Self::NonEmpty => "nonEmpty",
            Self::Regexp(_) => "regexp",
            Self::Format(_) => "format",
        }
    }
}

/// Token and key formats that [`crate::check_value`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TokenFormat {
    /// A GitHub token: `ghp_`, `gho_`, `ghu_`, `ghs_` or `ghr_`, 30 base62 characters and
    /// a 6-character base62 CRC32 checksum (verified); or a fine-grained `github_pat_` token.
    GithubToken,
    /// A GitLab personal, project or group access token (`glpat-…`).
    GitlabToken,
    /// A Slack token (`xoxa-`, `xoxb-`, `xoxp-` or `xoxr-`).
    SlackToken,
    /// An AWS access key ID: `AKIA` or `ASIA` and 16 upper-case letters or digits.
    AwsAccessKeyId,
    /// A Vault or OpenBao token (`hvs.`, `hvb.`, `hvr.`, or legacy `s.`, `b.`, `r.`).
    VaultToken,
    /// An SSH private key in PEM form (`OPENSSH`, `RSA`, `EC`, `DSA` or PKCS#8).
    SshPrivateKey,
    /// An RSA private key in PEM form (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`),
    /// parsed and checked for consistency, at least 2048 bits: a GitHub App's key.
    RsaPrivateKey,
    /// One or more PEM blocks (`-----BEGIN …-----` … `-----END …-----`).
    Pem,
}

impl TokenFormat {
    /// The format's YAML name, e.g. `github-token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GithubToken => "github-token",
            Self::GitlabToken => "gitlab-token",
            Self::SlackToken => "slack-token",
            Self::AwsAccessKeyId => "aws-access-key-id",
            Self::VaultToken => "vault-token",
            Self::SshPrivateKey => "ssh-private-key",
            Self::RsaPrivateKey => "rsa-private-key",
            Self::Pem => "pem",
        }
    }
}

impl std::fmt::Display for TokenFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
