//! Token formats that can be recognised with (near) certainty. The matcher finds a trigger
//! (a prefix such as `ghp_`); the functions here decide whether a real token starts there. Each
//! returns a message naming the token type, never any of its characters.
//!
//! False positives are avoided by structure: GitHub classic tokens must carry a valid CRC32
//! checksum; the other formats need a word boundary on both sides, the exact alphabet and length,
//! and enough randomness to rule out placeholders (`ghp_xxxx…`, `AKIAIOSFODNN7EXAMPLE`).
//! PEM blocks count only with a body. Passphrase-encrypted keys (`ENCRYPTED PRIVATE KEY`, and
//! legacy `Proc-Type: 4,ENCRYPTED` blocks) are reported too: they can be attacked offline, and
//! the zero-secrets rule is that no key material lives in Git. Allowlist them with a reason when
//! that is deliberate.

use ferry_config::TokenFormat;

use crate::rules;

/// What a trigger pattern announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    GithubClassic,
    GithubFineGrained,
    Gitlab,
    Slack,
    Aws,
    VaultPrefixed,
    BaoLegacy,
    Pem,
    SecretKind,
}

/// Triggers other than token prefixes: PEM headers and the `kind: Secret` forms.
const OTHER_TRIGGERS: &[(&str, Trigger)] = &[
    ("-----BEGIN ", Trigger::Pem),
    ("kind: Secret", Trigger::SecretKind),
    ("kind: \"Secret\"", Trigger::SecretKind),
    ("kind: 'Secret'", Trigger::SecretKind),
    ("\"kind\": \"Secret\"", Trigger::SecretKind),
    ("\"kind\":\"Secret\"", Trigger::SecretKind),
];

/// Every trigger string with what it announces: the token prefixes of
/// [`ferry_config::TOKEN_PREFIXES`] (but the one-letter legacy `b.` and `r.`, too common to
/// trigger on), then [`OTHER_TRIGGERS`].
pub(crate) fn triggers() -> Vec<(&'static str, Trigger)> {
    let mut out: Vec<(&'static str, Trigger)> = ferry_config::TOKEN_PREFIXES
        .iter()
        .filter_map(|&(prefix, format)| Some((prefix, token_trigger(prefix, format)?)))
        .collect();
    out.extend_from_slice(OTHER_TRIGGERS);
    out
}

/// The scan rule for a token prefix of the shared table.
fn token_trigger(prefix: &str, format: TokenFormat) -> Option<Trigger> {
    Some(match format {
        TokenFormat::GithubToken if prefix == ferry_config::GITHUB_PAT_PREFIX => {
            Trigger::GithubFineGrained
        }
        TokenFormat::GithubToken => Trigger::GithubClassic,
        TokenFormat::GitlabToken => Trigger::Gitlab,
        TokenFormat::SlackToken => Trigger::Slack,
        TokenFormat::AwsAccessKeyId => Trigger::Aws,
        TokenFormat::VaultToken if prefix == "s." => Trigger::BaoLegacy,
        TokenFormat::VaultToken if prefix.starts_with("hv") => Trigger::VaultPrefixed,
        TokenFormat::VaultToken
        | TokenFormat::SshPrivateKey
        | TokenFormat::RsaPrivateKey
        | TokenFormat::Pem => return None,
    })
}

/// A token found at a trigger: its rule and a message without the value.
pub(crate) struct TokenHit {
    pub(crate) rule: &'static str,
    pub(crate) message: &'static str,
}

/// Decides whether a token of the announced kind starts at `start` (where the trigger matched)
/// and ends the trigger at `after`. `SecretKind` is handled by the manifest check, not here.
pub(crate) fn check(trigger: Trigger, hay: &[u8], start: usize, after: usize) -> Option<TokenHit> {
    let hit = |rule, message| Some(TokenHit { rule, message });
    match trigger {
        Trigger::GithubClassic => {
            (starts_word(hay, start) && github_classic(hay, after)).then_some(())?;
            hit(rules::GITHUB_TOKEN, "GitHub token with a valid checksum")
        }
        Trigger::GithubFineGrained => {
            (starts_word(hay, start) && github_fine_grained(hay, after)).then_some(())?;
            hit(
                rules::GITHUB_FINE_GRAINED_PAT,
                "fine-grained GitHub personal access token",
            )
        }
        Trigger::Gitlab => {
            let body = run(hay, after, |b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
            });
            (starts_word(hay, start) && body.len() >= 20 && random_enough(body, 10))
                .then_some(())?;
            hit(rules::GITLAB_TOKEN, "GitLab personal access token")
        }
        Trigger::Slack => {
            (starts_word(hay, start) && slack(hay, after)).then_some(())?;
            hit(rules::SLACK_TOKEN, "Slack token")
        }
        Trigger::Aws => {
            let body = run(hay, after, |b| b.is_ascii_alphanumeric());
            let ok = starts_word(hay, start)
                && body.len() == 16
                && body
                    .iter()
                    .all(|&b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
                && !body.ends_with(b"EXAMPLE")
                && random_enough(body, 6);
            ok.then_some(())?;
            hit(rules::AWS_ACCESS_KEY_ID, "AWS access key id")
        }
        Trigger::VaultPrefixed => {
            let body = run(hay, after, |b| {
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
            });
            (starts_word(hay, start) && body.len() >= 24 && random_enough(body, 12))
                .then_some(())?;
            hit(rules::VAULT_TOKEN, "Vault/OpenBao token (hvs./hvb./hvr.)")
        }
        Trigger::BaoLegacy => {
            bao_legacy(hay, start, after).then_some(())?;
            hit(rules::VAULT_TOKEN, "Vault/OpenBao service token (s.)")
        }
        Trigger::Pem => pem(hay, after),
        Trigger::SecretKind => None,
    }
}

fn github_classic(hay: &[u8], after: usize) -> bool {
    let body = run(hay, after, |b| b.is_ascii_alphanumeric() || b == b'_');
    body.len() == 36
        && body.iter().all(u8::is_ascii_alphanumeric)
        && ferry_config::github_checksum(&body[..30]) == body[30..]
}

fn github_fine_grained(hay: &[u8], after: usize) -> bool {
    let body = run(hay, after, |b| b.is_ascii_alphanumeric() || b == b'_');
    body.len() == 82
        && body[22] == b'_'
        && body[..22]
            .iter()
            .chain(&body[23..])
            .all(u8::is_ascii_alphanumeric)
        && random_enough(body, 16)
}

fn slack(hay: &[u8], after: usize) -> bool {
    let body = run(hay, after, |b| b.is_ascii_alphanumeric() || b == b'-');
    let segments: Vec<&[u8]> = body.split(|&b| b == b'-').collect();
    let numeric = segments
        .iter()
        .any(|s| s.len() >= 8 && s.iter().all(u8::is_ascii_digit));
    let last = segments.last().copied().unwrap_or_default();
    body.len() >= 30 && segments.len() >= 3 && numeric && last.len() >= 16 && random_enough(last, 8)
}

/// A legacy-format service token (`s.` + 24 base62), as OpenBao issues: only with a clean
/// boundary before `s` and after the body, and enough mixed-case, digit-bearing randomness that
/// identifiers like `s.ReconcileExternalSecrets` never qualify.
fn bao_legacy(hay: &[u8], start: usize, after: usize) -> bool {
    if start > 0 {
        let prev = hay[start - 1];
        if prev.is_ascii_alphanumeric() || b"_.-/$@\\".contains(&prev) {
            return false;
        }
    }
    let body = run(hay, after, |b| b.is_ascii_alphanumeric());
    if body.len() != 24 {
        return false;
    }
    if let Some(&next) = hay.get(after + 24)
        && (next == b'_' || next == b'.' || next == b'-' || next == b'(')
    {
        return false;
    }
    let count = |f: fn(&u8) -> bool| body.iter().filter(|b| f(b)).count();
    count(u8::is_ascii_digit) >= 2
        && count(u8::is_ascii_uppercase) >= 2
        && count(u8::is_ascii_lowercase) >= 2
        && entropy(body) >= 3.8
}

/// A PEM private-key block: `-----BEGIN <LABEL>PRIVATE KEY[ BLOCK]-----` followed, within a few
/// header lines, by a base64 body (escaped `\n` in JSON or YAML strings allowed).
fn pem(hay: &[u8], after: usize) -> Option<TokenHit> {
    let tail = hay.get(after..)?;
    let label_len = tail
        .iter()
        .take(48)
        .position(|&b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' '))?;
    let label = &tail[..label_len];
    if !tail[label_len..].starts_with(b"-----")
        || !(label.ends_with(b"PRIVATE KEY") || label.ends_with(b"PRIVATE KEY BLOCK"))
    {
        return None;
    }
    let rest = &tail[label_len + 5..];
    let window = &rest[..rest.len().min(600)];
    if !pem_body_follows(window) {
        return None;
    }
    let encrypted = label.starts_with(b"ENCRYPTED")
        || memchr::memmem::find(window, b"Proc-Type: 4,ENCRYPTED").is_some();
    Some(TokenHit {
        rule: rules::PRIVATE_KEY,
        message: if encrypted {
            "PEM private key block (passphrase-encrypted; still key material)"
        } else {
            "PEM private key block"
        },
    })
}

/// Whether a base64 body line (40+ characters) comes right after a PEM header: only line
/// breaks (real or `\n`-escaped), blanks and RFC 1421 header lines (`Proc-Type: …`) between.
fn pem_body_follows(window: &[u8]) -> bool {
    let mut i = 0;
    let mut headers = 0;
    loop {
        while i < window.len() {
            if b" \t\r\n".contains(&window[i]) {
                i += 1;
            } else if window[i] == b'\\' && window.get(i + 1).is_some_and(|b| b"nrt".contains(b)) {
                i += 2;
            } else {
                break;
            }
        }
        let name = run(window, i, |b| b.is_ascii_alphanumeric() || b == b'-');
        if headers < 4 && !name.is_empty() && window.get(i + name.len()) == Some(&b':') {
            headers += 1;
            let line = run(window, i, |b| b != b'\n' && b != b'\\');
            i += line.len();
            continue;
        }
        break;
    }
    run(window, i, |b| {
        b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
    })
    .len()
        >= 40
}

/// True when nothing word-like precedes `start`, so `xghp_…` or `MYAKIA…` do not count.
fn starts_word(hay: &[u8], start: usize) -> bool {
    start == 0 || {
        let prev = hay[start - 1];
        !(prev.is_ascii_alphanumeric() || prev == b'_')
    }
}

/// The longest run of bytes from `from` satisfying `f`.
fn run(hay: &[u8], from: usize, f: impl Fn(u8) -> bool) -> &[u8] {
    let tail = hay.get(from..).unwrap_or_default();
    let len = tail.iter().position(|&b| !f(b)).unwrap_or(tail.len());
    &tail[..len]
}

/// At least `distinct` different bytes: rules out `xxxx…`, `0000…` and `abcabc…` placeholders.
fn random_enough(body: &[u8], distinct: usize) -> bool {
    let mut seen = [false; 256];
    let mut n = 0;
    for &b in body {
        if !seen[b as usize] {
            seen[b as usize] = true;
            n += 1;
        }
    }
    n >= distinct
}

/// Shannon entropy in bits per byte.
fn entropy(body: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in body {
        counts[b as usize] += 1;
    }
    let len = body.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(hay: &str) -> Option<&'static str> {
        let hay = hay.as_bytes();
        for (pat, trig) in triggers() {
            if let Some(i) = memchr::memmem::find(hay, pat.as_bytes())
                && let Some(h) = check(trig, hay, i, i + pat.len())
            {
                return Some(h.rule);
            }
        }
        None
    }

    #[test]
    fn github_checksum_matches_reference_vectors() {
        // Independently computed with Python's zlib.crc32 and a 0-9A-Za-z base62 alphabet.
        assert_eq!(
            &ferry_config::github_checksum(b"aB7cD8eF9gH0jK1mN2pQ3rS4tU5vW6"),
            b"2M5jQM"
        );
        assert_eq!(
            &ferry_config::github_checksum(b"abcdefgh12345678903ZZZZZZZZZZZ"),
            b"0p5S0Y"
        );
    }

    /// Joins pieces so that no complete token appears literally in this source file (which
    /// `ferry verify` scans like any other).
    fn cat(parts: &[&str]) -> String {
        parts.concat()
    }

    #[test]
    fn tokens_with_structure_are_found_and_lookalikes_are_not() {
        let body = "aB7cD8eF9gH0jK1mN2pQ3rS4tU5vW6";
        let gh = |pre: &str, sum: &str| first(&cat(&[pre, "ghp", "_", body, sum, "\""]));
        assert_eq!(gh("t = \"", "2M5jQM"), Some(rules::GITHUB_TOKEN));
        assert_eq!(gh("t = \"", "2M5jQN"), None);
        assert_eq!(gh("t = x", "2M5jQM"), None);
        let fine = cat(&[
            "github",
            "_pat_",
            "11ABCDEFG0123456789xyz_",
            &"Zq".repeat(20),
        ]);
        let fine = cat(&[&fine, "0a1b2c3d4e5f6g7h8i9"]);
        assert_eq!(first(&fine), Some(rules::GITHUB_FINE_GRAINED_PAT));
        assert_eq!(
            first(&cat(&["glpat", "-Ab3dE6gH9jK2mN5pQ8sT"])),
            Some(rules::GITLAB_TOKEN)
        );
        assert_eq!(first(&cat(&["glpat", "-xxxxxxxxxxxxxxxxxxxx"])), None);
        let aws = |rest: &str| first(&cat(&["key: AK", "IA", rest]));
        assert_eq!(aws("Z7Q3M6X2K5LWP4T6"), Some(rules::AWS_ACCESS_KEY_ID));
        assert_eq!(aws("IOSFODNN7EXAMPLE"), None);
        assert_eq!(aws("Z7Q3M6X2K5LWP4T61"), None);
        let slack = cat(&["xo", "xb-1234567890-1234567890123-Ab3dE6gH9jK2mN5pQ8sT7uVw"]);
        assert_eq!(first(&slack), Some(rules::SLACK_TOKEN));
        let hvs = cat(&["VAULT_TOKEN=hv", "s.CAESIJ3kd8Fz2LmQp9Xw7Rt5Yb1Nc"]);
        assert_eq!(first(&hvs), Some(rules::VAULT_TOKEN));
        assert_eq!(
            first(&cat(&["token: s", ".Xb7Qk2LmZ9pR4tW8vN3cF6hJ"])),
            Some(rules::VAULT_TOKEN)
        );
        assert_eq!(first("return s.ReconcileExternalSecretsNow(ctx)"), None);
        assert_eq!(
            first("see docs.Example for s.abcdefghijklmnopqrstuvwx"),
            None
        );
    }

    #[test]
    fn pem_needs_a_body() {
        const BEGIN: &str = "-----BEGIN";
        let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
        let key = format!("{BEGIN} PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        assert_eq!(first(&key), Some(rules::PRIVATE_KEY));
        let escaped = format!("{{\"key\": \"{BEGIN} RSA PRIVATE KEY-----\\n{body}\\n\"}}");
        assert_eq!(first(&escaped), Some(rules::PRIVATE_KEY));
        let mention = format!("match \"{BEGIN} RSA PRIVATE KEY-----\" here");
        assert_eq!(first(&mention), None);
        let cert = format!("{BEGIN} CERTIFICATE-----\n{body}\n");
        assert_eq!(first(&cert), None);
        let prose = format!("starts with `{BEGIN} RSA PRIVATE KEY-----`, then\nsha {body}\n");
        assert_eq!(first(&prose), None);
        let legacy = format!(
            "{BEGIN} RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\n{body}\n"
        );
        let hay = legacy.as_bytes();
        let hit = check(Trigger::Pem, hay, 0, BEGIN.len() + 1).unwrap();
        assert!(hit.message.contains("encrypted"));
    }
}
