//! A token or password pasted into bootstrap.yaml, as a key, a value or inside broken
//! syntax, never appears in an error (Display or Debug); the error still names the field
//! and the line and column.

use super::{MINIMAL, edit};
use crate::parse;

/// A classic GitHub token with a valid checksum, assembled so the literal never sits in source.
fn github_token() -> String {
    let random = "Pl4nTedT0kenXq3vN0pLk8RtY2sWz7";
    let sum = crate::github_checksum(random.as_bytes());
    format!("gh{}_{random}{}", "p", String::from_utf8_lossy(&sum))
}

/// The planted strings: token-shaped ones and a password-shaped one no token check knows.
fn planted() -> Vec<String> {
    vec![
        github_token(),
        format!("glpat-{}", "Zq8rT5wKpL2mN7xV4cB9"),
        "correcthorsebatterystaple".to_owned(),
        "Zq8rT5wK-pasted-password".to_owned(),
    ]
}

/// Every way of planting `t` that must fail, with the field and line expected in the error.
fn cases(t: &str) -> Vec<(String, &'static str, usize)> {
    vec![
        // As a key: top level, in a section, in a list item, in a flow mapping.
        (format!("{MINIMAL}{t}: x\n"), ".", 16),
        (
            edit(
                MINIMAL,
                "  address: http",
                &format!("  {t}: 1\n  address: http"),
            ),
            "vault",
            2,
        ),
        (
            edit(
                MINIMAL,
                "    key: password\n",
                &format!("    key: password\n    {t}: x\n"),
            ),
            "env[0]",
            12,
        ),
        (
            edit(
                MINIMAL,
                "init:\n",
                &format!("init:\n  bundle2: {{{t}: 1}}\n"),
            ),
            "init",
            4,
        ),
        (
            edit(
                MINIMAL,
                "      passwordEnv: GIT_TOKEN\n",
                &format!("      passwordEnv: GIT_TOKEN\n      {t}: x\n"),
            ),
            "flux.auth.https",
            16,
        ),
        // As a value of the wrong type or an unknown variant.
        (
            edit(MINIMAL, "init:\n", &format!("init:\n  keyShares: {t}\n")),
            "init.keyShares",
            4,
        ),
        (
            edit(
                MINIMAL,
                "init:\n",
                &format!("init:\n  keyShares: \"{t}\"\n"),
            ),
            "init.keyShares",
            4,
        ),
        (format!("{MINIMAL}kv: {{version: {t}}}\n"), "kv.version", 16),
        (
            format!("{MINIMAL}agent: {{storeKind: {t}}}\n"),
            "agent.storeKind",
            16,
        ),
        (
            edit(
                MINIMAL,
                "    key: password\n",
                &format!("    key: password\n    check: {{format: {t}}}\n"),
            ),
            "env[0].check.format",
            12,
        ),
        (
            edit(
                MINIMAL,
                "    key: password\n",
                &format!("    key: password\n    check: {{{t}: true}}\n"),
            ),
            "env[0].check",
            12,
        ),
        (format!("{MINIMAL}apps: {t}\n"), "apps", 16),
        (format!("{MINIMAL}agent: [{t}]\n"), "agent", 16),
        // With a YAML tag.
        (
            format!("{MINIMAL}agent: {{storeKind: !{t} x}}\n"),
            "agent.storeKind",
            16,
        ),
        (format!("{MINIMAL}kv: !{t} v2\n"), "kv", 16),
        // Malformed content around it.
        (
            edit(
                MINIMAL,
                "  address: http",
                &format!("  address: \"{t}\n  x: http"),
            ),
            "vault.address",
            17,
        ),
        (format!("{MINIMAL}apps: [{t}\n"), "apps[0]", 16),
        (format!("{MINIMAL}{t}\n"), "flux.auth.https", 17),
        (
            format!("{MINIMAL}agent: {{namespace: {t}, namespace: {t}}}\n"),
            "agent",
            16,
        ),
    ]
}

#[test]
fn planted_strings_never_appear_in_errors() {
    for t in planted() {
        for (text, field, line) in cases(&t) {
            let err = match parse(&text, "bootstrap.yaml") {
                Ok(_) => panic!("accepted: {text}"),
                Err(err) => err,
            };
            let shown = format!("{err} | {err:?}");
            assert!(!shown.contains(&t), "{t} echoed: {shown}");
            assert!(!shown.contains(&t[..12]), "part of {t} echoed: {shown}");
            assert!(
                shown.contains(&format!("bootstrap.yaml:{line}:")),
                "line {line} missing: {shown}"
            );
            assert!(
                shown.contains(&format!(": {field}: ")),
                "field {field} missing: {shown}"
            );
        }
    }
}

#[test]
fn planted_values_are_refused_without_being_echoed() {
    let token = github_token();
    let text = edit(
        MINIMAL,
        "      passwordEnv: GIT_TOKEN\n",
        &format!("      passwordEnv: GIT_TOKEN\n      username: {token}\n"),
    );
    let err = parse(&text, "bootstrap.yaml").expect_err("refused");
    let shown = format!("{err} | {err:?}");
    assert!(shown.contains("flux.auth.https.username"), "{shown}");
    assert!(!shown.contains(&token[..12]), "{shown}");
}
