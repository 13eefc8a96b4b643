//! The stable rule ids of `ferry verify` (Git, cluster and environment), with a one-line
//! description of each for reports (SARIF `tool.driver.rules`). Rule ids are part of the
//! interface: allowlists and baselines refer to them, so they never change meaning.

/// A known value (read from Vault) found verbatim or in one of its base64 encodings.
pub const KNOWN_VALUE: &str = "known-value";
/// A Kubernetes Secret manifest with a non-empty `data` or `stringData` leaf, not SOPS-encrypted.
pub const K8S_SECRET_MANIFEST: &str = "k8s-secret-manifest";
/// A SOPS-encrypted Secret manifest with a `data`/`stringData` leaf that is not `ENC[...]`.
pub const SOPS_PLAINTEXT_LEAF: &str = "sops-plaintext-leaf";
/// A classic GitHub token (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) whose CRC32 checksum verifies.
pub const GITHUB_TOKEN: &str = "github-token";
/// A fine-grained GitHub personal access token (`github_pat_`, 82 characters after the prefix).
pub const GITHUB_FINE_GRAINED_PAT: &str = "github-fine-grained-pat";
/// A GitLab personal access token (`glpat-`).
pub const GITLAB_TOKEN: &str = "gitlab-token";
/// A Slack token (`xoxa-`, `xoxb-`, `xoxp-`, `xoxr-`).
pub const SLACK_TOKEN: &str = "slack-token";
/// An AWS access key id (`AKIA`/`ASIA` + 16 base32 characters).
pub const AWS_ACCESS_KEY_ID: &str = "aws-access-key-id";
/// A Vault or OpenBao token (`hvs.`, `hvb.`, `hvr.`, or a high-entropy legacy `s.` service token).
pub const VAULT_TOKEN: &str = "vault-token";
/// A PEM private-key block, encrypted or not.
pub const PRIVATE_KEY: &str = "private-key";
/// A Secret that should be Vault-backed is not owned by an ExternalSecret.
pub const SECRET_NOT_VAULT_BACKED: &str = "secret-not-vault-backed";
/// An ExternalSecret whose Ready condition is not `True`.
pub const EXTERNAL_SECRET_NOT_READY: &str = "external-secret-not-ready";
/// The init bundle (Secret or file) holds something other than age ciphertext.
pub const INIT_MATERIAL_PLAINTEXT: &str = "init-material-plaintext";
/// The root token recorded by bootstrap is still valid in Vault.
pub const ROOT_TOKEN_NOT_REVOKED: &str = "root-token-not-revoked";
/// An environment variable that bootstrap reads is still set.
pub const BOOTSTRAP_ENV_SET: &str = "bootstrap-env-set";

/// A rule's id and a short description, for report writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleInfo {
    /// The stable rule id.
    pub id: &'static str,
    /// One sentence on what the rule flags.
    pub description: &'static str,
}

/// Every rule this crate implements.
pub const RULES: &[RuleInfo] = &[
    RuleInfo {
        id: KNOWN_VALUE,
        description: "A value held in Vault appears in Git, verbatim or base64/base64url-encoded.",
    },
    RuleInfo {
        id: K8S_SECRET_MANIFEST,
        description: "A Kubernetes Secret manifest carries data or stringData in plaintext; \
                      use an ExternalSecret backed by Vault instead.",
    },
    RuleInfo {
        id: SOPS_PLAINTEXT_LEAF,
        description: "A SOPS-encrypted Secret manifest has a data/stringData leaf that is not \
                      ENC[...].",
    },
    RuleInfo {
        id: GITHUB_TOKEN,
        description: "A GitHub token (ghp_/gho_/ghu_/ghs_/ghr_) whose CRC32 checksum verifies.",
    },
    RuleInfo {
        id: GITHUB_FINE_GRAINED_PAT,
        description: "A fine-grained GitHub personal access token (github_pat_).",
    },
    RuleInfo {
        id: GITLAB_TOKEN,
        description: "A GitLab personal access token (glpat-).",
    },
    RuleInfo {
        id: SLACK_TOKEN,
        description: "A Slack token (xoxa-/xoxb-/xoxp-/xoxr-).",
    },
    RuleInfo {
        id: AWS_ACCESS_KEY_ID,
        description: "An AWS access key id (AKIA/ASIA).",
    },
    RuleInfo {
        id: VAULT_TOKEN,
        description: "A Vault or OpenBao token (hvs./hvb./hvr., or a high-entropy s. service \
                      token).",
    },
    RuleInfo {
        id: PRIVATE_KEY,
        description: "A PEM private-key block (passphrase-encrypted keys included).",
    },
    RuleInfo {
        id: SECRET_NOT_VAULT_BACKED,
        description: "A Secret that should be Vault-backed (in a namespace with ExternalSecrets, \
                      or Flux's Git credentials) is not owned by an ExternalSecret.",
    },
    RuleInfo {
        id: EXTERNAL_SECRET_NOT_READY,
        description: "An ExternalSecret is not Ready, so its Secret may be stale or missing.",
    },
    RuleInfo {
        id: INIT_MATERIAL_PLAINTEXT,
        description: "The init bundle (unseal keys, root token) is stored as something other \
                      than age ciphertext.",
    },
    RuleInfo {
        id: ROOT_TOKEN_NOT_REVOKED,
        description: "The root token created at initialisation is still valid; revoke it.",
    },
    RuleInfo {
        id: BOOTSTRAP_ENV_SET,
        description: "An environment variable that bootstrap reads a secret from is still set.",
    },
];

/// The description of a rule id, if it is one of this crate's rules.
pub fn describe(id: &str) -> Option<&'static str> {
    RULES.iter().find(|r| r.id == id).map(|r| r.description)
}
