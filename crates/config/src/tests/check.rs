//! Value checks: every format accepts good values and rejects bad ones, and no
//! failure, error or Debug output ever contains the value.

use secrecy::SecretString;

use super::{MINIMAL, edit};
use crate::{CheckFailure, EnvCheck, TokenFormat, check_value, looks_like_secret, parse};

const FORMATS: [TokenFormat; 7] = [
    TokenFormat::GithubToken,
    TokenFormat::GitlabToken,
    TokenFormat::SlackToken,
    TokenFormat::AwsAccessKeyId,
    TokenFormat::VaultToken,
    TokenFormat::SshPrivateKey,
    TokenFormat::Pem,
];

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

fn check(format: TokenFormat, value: &str) -> Result<(), CheckFailure> {
    check_value(&EnvCheck::Format(format), &secret(value))
}

/// A GitHub token with a correct checksum, built at run time (none is committed).
fn github_token(prefix: &str, random: &str) -> String {
    let sum = crate::github_checksum(random.as_bytes());
    format!("{prefix}{random}{}", String::from_utf8_lossy(&sum))
}

/// A PEM block, assembled so no key-shaped text is committed.
fn pem(label: &str, body: &[u8]) -> String {
    use base64::Engine as _;
    let dashes = "-".repeat(5);
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "{dashes}BEGIN {label}{dashes}\n{}\n{dashes}END {label}{dashes}\n",
        lines.join("\n")
    )
}

fn openssh_key() -> String {
    let mut body = b"openssh-key-v1\0".to_vec();
    body.extend_from_slice(&[7u8; 40]);
    pem(&["OPENSSH", "PRIVATE", "KEY"].join(" "), &body)
}

#[test]
fn github_checksum_is_verified() {
    let random = "Xq3vN0pLk8RtY2sWz7bCd4FgHj5MaE";
    assert_eq!(random.len(), 30);
    for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"] {
        let token = github_token(prefix, random);
        assert_eq!(token.len(), 40);
        assert_eq!(check(TokenFormat::GithubToken, &token), Ok(()), "{prefix}");
    }
    let good = github_token("ghp_", random);
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = if bad[last] == b'a' { b'b' } else { b'a' };
    let bad = String::from_utf8(bad).expect("ascii");
    assert_eq!(
        check(TokenFormat::GithubToken, &bad),
        Err(CheckFailure::Format {
            format: TokenFormat::GithubToken,
            reason: "checksum mismatch"
        })
    );
    assert!(check(TokenFormat::GithubToken, &good[..39]).is_err());
    assert!(check(TokenFormat::GithubToken, &good.replacen("ghp_", "gha_", 1)).is_err());
    assert!(check(TokenFormat::GithubToken, &format!("{good}\n")).is_err());
    let fine_grained = format!(
        "github_pat_{}_{}",
        "A1".repeat(11),
        "b2c".repeat(20)[..59].to_owned()
    );
    assert_eq!(check(TokenFormat::GithubToken, &fine_grained), Ok(()));
}

#[test]
fn other_formats_accept_and_reject() {
    let cases: [(TokenFormat, String, String); 6] = [
        (
            TokenFormat::GitlabToken,
            format!("glpat-{}", "xY_z-9".repeat(4)),
            "glpat-short".to_owned(),
        ),
        (
            TokenFormat::SlackToken,
            format!("xoxb-{}", "1234-5678-abcd"),
            "xoxz-1234567890".to_owned(),
        ),
        (
            TokenFormat::AwsAccessKeyId,
            format!("AKIA{}", "ABCDEFGHIJKLMNO7"),
            format!("AKIA{}", "abcdefghijklmno7"),
        ),
        (
            TokenFormat::VaultToken,
            format!("hvs.{}", "CAESIJ".repeat(5)),
            "hvx.tooshort".to_owned(),
        ),
        (
            TokenFormat::SshPrivateKey,
            openssh_key(),
            pem("CERTIFICATE", b"cert"),
        ),
        (
            TokenFormat::Pem,
            pem("CERTIFICATE", b"cert"),
            "-----BEGIN X-----\nnot base64!\n-----END X-----".to_owned(),
        ),
    ];
    for (format, good, bad) in cases {
        assert_eq!(check(format, &good), Ok(()), "{format} should accept");
        assert!(check(format, &bad).is_err(), "{format} should reject");
    }
    assert_eq!(
        check(TokenFormat::VaultToken, &format!("s.{}", "a".repeat(24))),
        Ok(())
    );
    assert_eq!(
        check(
            TokenFormat::AwsAccessKeyId,
            &format!("ASIA{}", "Z".repeat(16))
        ),
        Ok(())
    );
}

#[test]
fn non_empty_and_regexp_checks() {
    assert_eq!(
        check_value(&EnvCheck::NonEmpty, &secret("")),
        Err(CheckFailure::Empty)
    );
    assert_eq!(check_value(&EnvCheck::NonEmpty, &secret("x")), Ok(()));
    let digits = EnvCheck::Regexp("[0-9]+".to_owned());
    assert_eq!(check_value(&digits, &secret("123")), Ok(()));
    // Anchored: a partial match is not enough.
    assert!(matches!(
        check_value(&digits, &secret("a123")),
        Err(CheckFailure::RegexpMismatch { .. })
    ));
    assert!(matches!(
        check_value(&EnvCheck::Regexp("(".to_owned()), &secret("x")),
        Err(CheckFailure::InvalidRegexp { .. })
    ));
    for format in FORMATS {
        assert_eq!(check(format, ""), Err(CheckFailure::Empty));
    }
}

/// Sample values; none may appear in any failure, error or Debug output.
fn samples() -> Vec<String> {
    vec![
        "hunter2-correct-horse-battery".to_owned(),
        github_token("ghp_", "Xq3vN0pLk8RtY2sWz7bCd4FgHj5MaE"),
        github_token("ghp_", "Xq3vN0pLk8RtY2sWz7bCd4FgHj5MaE").replacen('X', "Y", 1),
        format!("AKIA{}", "QWERTYUIOP123456"),
        format!("xoxp-{}", "998877665544-secretsecret"),
        format!("hvs.{}", "S3cr3tS3cr3tS3cr3tS3cr3t"),
        openssh_key(),
        "1234567890".to_owned(),
    ]
}

#[test]
fn check_failures_never_contain_the_value() {
    let mut checks = vec![
        EnvCheck::NonEmpty,
        EnvCheck::Regexp("[a-f]{3}".to_owned()),
        EnvCheck::Regexp("(".to_owned()),
    ];
    checks.extend(FORMATS.map(EnvCheck::Format));
    for sample in samples() {
        for check in &checks {
            if let Err(failure) = check_value(check, &secret(&sample)) {
                for shown in [failure.to_string(), format!("{failure:?}")] {
                    assert!(
                        !shown.contains(sample.trim()),
                        "{check:?} leaked in {shown}"
                    );
                }
            }
        }
    }
}

#[test]
fn config_errors_never_contain_a_sample_value() {
    let slots = [
        ("init:\n", "init:\n  keyShares: {}\n"),
        ("bundle:\n", "bundle:\n    file: {}\n"),
        ("  address: http://127.0.0.1:8200\n", "  address: {}\n"),
        (
            "    key: password\n",
            "    key: password\n    check: {{format: {}}}\n",
        ),
        (
            "    key: password\n",
            "    key: password\n    check: {{nonEmpty: {}}}\n",
        ),
        ("  - name: GIT_TOKEN\n", "  - name: {}\n"),
        ("passwordEnv: GIT_TOKEN\n", "passwordEnv: {}\n"),
        (
            "      passwordEnv: GIT_TOKEN\n",
            "      passwordEnv: GIT_TOKEN\n      username: {}\n",
        ),
        (
            "    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
            "    - {}\n",
        ),
        ("flux:\n", "agent: {{role: {}}}\nflux:\n"),
        (
            "flux:\n",
            "apps: [{{name: {}, namespace: a, serviceAccount: a, paths: [a]}}]\nflux:\n",
        ),
    ];
    // A misspelt key is echoed to help fix the typo, unless it looks like a secret.
    let key_slot = ("flux:\n", "{}: 1\nflux:\n");
    for sample in samples() {
        let quoted = serde_json::to_string(&sample).expect("json string");
        let key_slot = looks_like_secret(&sample).map(|_| key_slot);
        for (from, template) in slots.into_iter().chain(key_slot) {
            let text = edit(
                MINIMAL,
                from,
                &template
                    .replace("{}", &quoted)
                    .replace("{{", "{")
                    .replace("}}", "}"),
            );
            let Err(err) = parse(&text, "bootstrap.yaml") else {
                assert!(
                    looks_like_secret(&sample).is_none(),
                    "{sample:?} accepted in {from:?}"
                );
                continue;
            };
            for shown in [err.to_string(), format!("{err:?}")] {
                assert!(
                    !shown.contains(sample.trim()),
                    "leaked via {template:?}: {shown}"
                );
            }
        }
    }
}
