//! Value checks: [`check_value`] runs an `env[].check` against a value held in a
//! [`SecretString`], and [`looks_like_secret`] spots token-shaped strings that have
//! no place in `bootstrap.yaml`. [`TOKEN_PREFIXES`] is the one table of token prefixes,
//! shared with `ferry verify`'s scan rules.
//!
//! A [`CheckFailure`] says which check failed and why, never what the value was.

use std::fmt;

use base64::Engine as _;
use regex::RegexBuilder;
use secrecy::{ExposeSecret, SecretString};

use crate::env::{EnvCheck, TokenFormat};
use crate::git_auth::ValueRule;

/// Upper bound on a compiled `regexp` check, so a config cannot make compilation explode.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a value failed its check. Carries the check, never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckFailure {
    /// The value is empty (every check rejects an empty value).
    Empty,
    /// The value does not match the `regexp` check.
    RegexpMismatch {
        /// The pattern from the config (a pattern, not a value).
        pattern: String,
    },
    /// The `regexp` check itself does not compile (validation reports this earlier).
    InvalidRegexp {
        /// The pattern from the config.
        pattern: String,
    },
    /// The value is not a well-formed token or key of the `format` check.
    Format {
        /// The expected format.
        format: TokenFormat,
        /// What is wrong with it, e.g. `checksum mismatch`.
        reason: &'static str,
    },
    /// The value does not have the shape its use needs (a [`ValueRule`] other than a format).
    Shape {
        /// What was expected, e.g. `a positive decimal integer`.
        expected: &'static str,
    },
}

impl fmt::Display for CheckFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the value is empty"),
            Self::RegexpMismatch { pattern } => {
                write!(f, "the value does not match the regexp check `{pattern}`")
            }
            Self::InvalidRegexp { pattern } => {
                write!(f, "the regexp check `{pattern}` does not compile")
            }
            Self::Format { format, reason } => {
                write!(f, "the value is not a valid {format}: {reason}")
            }
            Self::Shape { expected } => write!(f, "the value is not {expected}"),
        }
    }
}

impl std::error::Error for CheckFailure {}

/// Runs `check` against `value`. The value is only read, never copied into the result.
pub fn check_value(check: &EnvCheck, value: &SecretString) -> Result<(), CheckFailure> {
    let value = value.expose_secret();
    if value.is_empty() {
        return Err(CheckFailure::Empty);
    }
    match check {
        EnvCheck::NonEmpty => Ok(()),
        EnvCheck::Regexp(pattern) => {
            let regex = compile_anchored(pattern).map_err(|_| CheckFailure::InvalidRegexp {
                pattern: pattern.clone(),
            })?;
            if regex.is_match(value) {
                Ok(())
            } else {
                Err(CheckFailure::RegexpMismatch {
                    pattern: pattern.clone(),
                })
            }
        }
        EnvCheck::Format(format) => {
            check_format(*format, value).map_err(|reason| CheckFailure::Format {
                format: *format,
                reason,
            })
        }
    }
}

/// Runs a [`ValueRule`] (what a credential field needs of its value) against `value`.
pub fn check_rule(rule: ValueRule, value: &SecretString) -> Result<(), CheckFailure> {
    match rule {
        ValueRule::Format(format) => check_value(&EnvCheck::Format(format), value),
        ValueRule::NumericId => {
            let text = value.expose_secret();
            let ok = !text.is_empty()
                && text.len() <= 19
                && !text.starts_with('0')
                && text.bytes().all(|b| b.is_ascii_digit());
            ok.then_some(()).ok_or(CheckFailure::Shape {
                expected: "a positive decimal integer (an ID)",
            })
        }
        ValueRule::GithubOwner => {
            let text = value.expose_secret();
            let ok = !text.is_empty()
                && text.len() <= 39
                && !text.starts_with('-')
                && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            ok.then_some(()).ok_or(CheckFailure::Shape {
                expected: "a GitHub user or organisation name (1 to 39 of [A-Za-z0-9-])",
            })
        }
    }
}

/// Compiles a `regexp` check the way [`check_value`] applies it: anchored at both ends.
pub(crate) fn compile_anchored(pattern: &str) -> Result<regex::Regex, regex::Error> {
    RegexBuilder::new(&format!("^(?:{pattern})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
}

/// Checks `value` against `format`; the error is a static reason.
fn check_format(format: TokenFormat, value: &str) -> Result<(), &'static str> {
    let pem = matches!(
        format,
        TokenFormat::SshPrivateKey | TokenFormat::RsaPrivateKey | TokenFormat::Pem
    );
    if !pem && value.trim() != value {
        return Err("it has leading or trailing whitespace");
    }
    match format {
        TokenFormat::GithubToken => github_token(value),
        TokenFormat::GitlabToken => gitlab_token(value),
        TokenFormat::SlackToken => slack_token(value),
        TokenFormat::AwsAccessKeyId => aws_access_key_id(value),
        TokenFormat::VaultToken => vault_token(value),
        TokenFormat::SshPrivateKey => ssh_private_key(value),
        TokenFormat::RsaPrivateKey => rsa_private_key(value),
        TokenFormat::Pem => pem_blocks(value).map(|_| ()),
    }
}

/// Every prefix that announces a token format: the one table behind the whole-value checks
/// here and the scan rules of `ferry verify` (which confirm each candidate by its structure).
pub const TOKEN_PREFIXES: &[(&str, TokenFormat)] = &[
    ("ghp_", TokenFormat::GithubToken),
    ("gho_", TokenFormat::GithubToken),
    ("ghu_", TokenFormat::GithubToken),
    ("ghs_", TokenFormat::GithubToken),
    ("ghr_", TokenFormat::GithubToken),
    (GITHUB_PAT_PREFIX, TokenFormat::GithubToken),
    ("glpat-", TokenFormat::GitlabToken),
    ("xoxa-", TokenFormat::SlackToken),
    ("xoxb-", TokenFormat::SlackToken),
    ("xoxp-", TokenFormat::SlackToken),
    ("xoxr-", TokenFormat::SlackToken),
    ("AKIA", TokenFormat::AwsAccessKeyId),
    ("ASIA", TokenFormat::AwsAccessKeyId),
    ("hvs.", TokenFormat::VaultToken),
    ("hvb.", TokenFormat::VaultToken),
    ("hvr.", TokenFormat::VaultToken),
    ("s.", TokenFormat::VaultToken),
    ("b.", TokenFormat::VaultToken),
    ("r.", TokenFormat::VaultToken),
];

/// The prefix of fine-grained GitHub personal access tokens.
pub const GITHUB_PAT_PREFIX: &str = "github_pat_";

/// The prefixes of `format` in [`TOKEN_PREFIXES`].
fn prefixes(format: TokenFormat) -> impl Iterator<Item = &'static str> {
    TOKEN_PREFIXES
        .iter()
        .filter(move |(_, f)| *f == format)
        .map(|(p, _)| *p)
}

/// The classic GitHub prefixes (`ghp_` …), without `github_pat_`.
fn github_classic_prefixes() -> impl Iterator<Item = &'static str> {
    prefixes(TokenFormat::GithubToken).filter(|p| *p != GITHUB_PAT_PREFIX)
}

fn is_base62(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn github_token(value: &str) -> Result<(), &'static str> {
    if let Some(rest) = value.strip_prefix(GITHUB_PAT_PREFIX) {
        let ok = rest.len() >= 70
            && rest.len() <= 255
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return if ok {
            Ok(())
        } else {
            Err("a `github_pat_` token has the wrong length or characters")
        };
    }
    let Some(body) = github_classic_prefixes().find_map(|p| value.strip_prefix(p)) else {
        return Err("it does not start with ghp_, gho_, ghu_, ghs_, ghr_ or github_pat_");
    };
    if body.len() != 36 || !is_base62(body) {
        return Err("expected 36 base62 characters after the prefix");
    }
    let (random, checksum) = body.split_at(30);
    if github_checksum(random.as_bytes()) == checksum.as_bytes() {
        Ok(())
    } else {
        Err("checksum mismatch")
    }
}

/// Checks the part of `value` after one of `format`'s prefixes with `body_ok`; the messages say
/// which prefixes were expected, or what the rest should have been.
fn after_prefix(
    format: TokenFormat,
    value: &str,
    no_prefix: &'static str,
    body_ok: impl Fn(&str) -> bool,
    bad_body: &'static str,
) -> Result<(), &'static str> {
    let rest = prefixes(format)
        .find_map(|p| value.strip_prefix(p))
        .ok_or(no_prefix)?;
    if body_ok(rest) { Ok(()) } else { Err(bad_body) }
}

/// At least `min` bytes, each allowed by `allowed`.
fn at_least(rest: &str, min: usize, allowed: impl Fn(u8) -> bool) -> bool {
    rest.len() >= min && rest.bytes().all(allowed)
}

fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

fn gitlab_token(value: &str) -> Result<(), &'static str> {
    after_prefix(
        TokenFormat::GitlabToken,
        value,
        "it does not start with glpat-",
        |rest| at_least(rest, 20, token_char),
        "expected at least 20 characters of [A-Za-z0-9_.-] after glpat-",
    )
}

fn slack_token(value: &str) -> Result<(), &'static str> {
    after_prefix(
        TokenFormat::SlackToken,
        value,
        "it does not start with xoxa-, xoxb-, xoxp- or xoxr-",
        |rest| at_least(rest, 10, |b| b.is_ascii_alphanumeric() || b == b'-'),
        "expected at least 10 characters of [A-Za-z0-9-] after the prefix",
    )
}

fn aws_access_key_id(value: &str) -> Result<(), &'static str> {
    after_prefix(
        TokenFormat::AwsAccessKeyId,
        value,
        "it does not start with AKIA or ASIA",
        |rest| {
            rest.len() == 16 && at_least(rest, 16, |b| b.is_ascii_uppercase() || b.is_ascii_digit())
        },
        "expected 16 upper-case letters or digits after the prefix",
    )
}

fn vault_token(value: &str) -> Result<(), &'static str> {
    after_prefix(
        TokenFormat::VaultToken,
        value,
        "it does not start with hvs., hvb., hvr., s., b. or r.",
        |rest| at_least(rest, 20, token_char),
        "expected at least 20 characters of [A-Za-z0-9_.-] after the prefix",
    )
}

const SSH_KEY_LABELS: [&str; 5] = [
    "OPENSSH PRIVATE KEY",
    "RSA PRIVATE KEY",
    "EC PRIVATE KEY",
    "DSA PRIVATE KEY",
    "PRIVATE KEY",
];

fn ssh_private_key(value: &str) -> Result<(), &'static str> {
    let blocks = pem_blocks(value)?;
    let [(label, der)] = blocks.as_slice() else {
        return Err("expected exactly one PEM block");
    };
    if !SSH_KEY_LABELS.contains(&label.as_str()) {
        return Err("the PEM block is not a private key");
    }
    if label == "OPENSSH PRIVATE KEY" && !der.starts_with(b"openssh-key-v1\0") {
        return Err("the OPENSSH key does not start with the openssh-key-v1 magic");
    }
    Ok(())
}

/// The smallest RSA modulus accepted for a private key (GitHub issues 2048-bit App keys).
const MIN_RSA_BITS: usize = 2048;

/// One PEM block holding an RSA private key, PKCS#1 (`RSA PRIVATE KEY`, as GitHub issues
/// App keys) or unencrypted PKCS#8 (`PRIVATE KEY`), that parses and is consistent.
fn rsa_private_key(value: &str) -> Result<(), &'static str> {
    use zeroize::Zeroize;
    let mut blocks = pem_blocks(value)?;
    let result = match blocks.as_slice() {
        [(label, der)] => rsa_der(label, der),
        _ => Err("expected exactly one PEM block"),
    };
    for (_, der) in &mut blocks {
        der.zeroize();
    }
    result
}

/// Parses and checks the DER body of an RSA private key PEM block labelled `label`.
fn rsa_der(label: &str, der: &[u8]) -> Result<(), &'static str> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::PublicKeyParts;
    let key = match label {
        "RSA PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs1_der(der)
            .map_err(|_| "the RSA PRIVATE KEY block is not a PKCS#1 RSA key")?,
        "PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs8_der(der)
            .map_err(|_| "the PRIVATE KEY block is not a PKCS#8 RSA key")?,
        "ENCRYPTED PRIVATE KEY" => {
            return Err("the key is encrypted; give it without a passphrase");
        }
        _ => return Err("expected an RSA PRIVATE KEY or PRIVATE KEY block"),
    };
    key.validate()
        .map_err(|_| "the RSA key's parameters are inconsistent")?;
    if key.n().bits() < MIN_RSA_BITS {
        return Err("the RSA key is shorter than 2048 bits");
    }
    Ok(())
}

/// Parses one or more PEM blocks into (label, decoded body). Header lines
/// (`Proc-Type: …`) inside a block are skipped.
fn pem_blocks(value: &str) -> Result<Vec<(String, Vec<u8>)>, &'static str> {
    let mut blocks = Vec::new();
    let mut lines = value.lines().map(str::trim).filter(|l| !l.is_empty());
    while let Some(line) = lines.next() {
        let label = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
            .ok_or("expected a -----BEGIN …----- line")?;
        let end = format!("-----END {label}-----");
        let mut body = String::new();
        let mut closed = false;
        for line in lines.by_ref() {
            if line == end {
                closed = true;
                break;
            }
            if line.starts_with("-----") {
                return Err("a PEM block has a mismatched END line");
            }
            if !line.contains(':') {
                body.push_str(line);
            }
        }
        if !closed {
            return Err("a PEM block has no END line");
        }
        let der = base64::engine::general_purpose::STANDARD
            .decode(body.as_bytes())
            .map_err(|_| "a PEM block's body is not valid base64")?;
        if der.is_empty() {
            return Err("a PEM block is empty");
        }
        blocks.push((label.to_owned(), der));
    }
    if blocks.is_empty() {
        return Err("no PEM block found");
    }
    Ok(blocks)
}

/// The PEM labels in `text` if it is entirely well-formed PEM; used to check `caPem`.
pub(crate) fn pem_labels(text: &str) -> Result<Vec<String>, &'static str> {
    pem_blocks(text).map(|blocks| blocks.into_iter().map(|(label, _)| label).collect())
}

/// The GitHub classic token checksum: base62 (`0-9A-Za-z`) of the CRC32 of the 30-character
/// random part, left-padded with `0` to 6 characters. Shared with `ferry verify`'s rules.
pub fn github_checksum(random_part: &[u8]) -> [u8; 6] {
    const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = crc32fast::hash(random_part);
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// The token format `text` unmistakably has, if any: used to refuse secret values
/// pasted into `bootstrap.yaml`. Only distinctive shapes count (legacy `s.` Vault
/// tokens and public PEM blocks do not).
pub fn looks_like_secret(text: &str) -> Option<TokenFormat> {
    let text = text.trim();
    let shaped = |format: TokenFormat| check_format(format, text).is_ok();
    let github_shaped = github_classic_prefixes()
        .filter_map(|p| text.strip_prefix(p))
        .any(|body| body.len() == 36 && is_base62(body));
    if github_shaped || shaped(TokenFormat::GithubToken) {
        return Some(TokenFormat::GithubToken);
    }
    if shaped(TokenFormat::GitlabToken) {
        return Some(TokenFormat::GitlabToken);
    }
    if shaped(TokenFormat::SlackToken) {
        return Some(TokenFormat::SlackToken);
    }
    if shaped(TokenFormat::AwsAccessKeyId) {
        return Some(TokenFormat::AwsAccessKeyId);
    }
    // Only the `hv…` prefixes are distinctive; legacy `s.`/`b.`/`r.` are not.
    if prefixes(TokenFormat::VaultToken).any(|p| p.starts_with("hv") && text.starts_with(p))
        && shaped(TokenFormat::VaultToken)
    {
        return Some(TokenFormat::VaultToken);
    }
    if text.contains("PRIVATE KEY-----") {
        return Some(TokenFormat::SshPrivateKey);
    }
    None
}
