//! Parsing: shapes, defaults, and parse errors with field path, line and column.

use super::{EXAMPLE, MINIMAL, at, edit, ok, parse_err};
use crate::{
    ConfigError, EnvCheck, FluxAuth, KvVersion, StoreKind, TokenFormat, ValueSource, load, parse,
};

#[test]
fn example_parses_with_expected_content() {
    let config = ok(EXAMPLE);
    assert_eq!(
        config.env_names(),
        [
            "GITHUB_TOKEN",
            "CLOUDFLARED_TUNNEL_TOKEN",
            "MYAPP_DB_PASSWORD",
            "MYAPP_API_KEY"
        ]
    );
    assert_eq!(
        config.env[0].check,
        Some(EnvCheck::Format(TokenFormat::GithubToken))
    );
    assert_eq!(config.init.age_recipients().map(|r| r.len()).ok(), Some(2));
    let FluxAuth::Https(https) = &config.flux.as_ref().unwrap().auth else {
        panic!("example uses https")
    };
    assert_eq!(https.username_source(), ValueSource::Literal("git"));
    assert!(config.apps[1].covers("myapp/db"));
    assert!(config.apps[1].external_secrets[0].create.is_some());
    assert!(config.apps[0].external_secrets[0].create.is_none());
}

#[test]
fn minimal_config_takes_the_defaults() {
    let config = ok(MINIMAL);
    assert_eq!((config.init.key_shares, config.init.key_threshold), (5, 3));
    assert_eq!(config.kv.mount, "secret");
    assert_eq!(config.kv.version, KvVersion::V2);
    assert_eq!(config.kubernetes_auth.mount, "kubernetes");
    assert_eq!(config.kubernetes_auth.host, None);
    let flux = config.flux.as_ref().unwrap();
    assert_eq!(flux.namespace, "flux-system");
    assert_eq!(flux.secret_name, "flux-system");
    assert_eq!(flux.git_repository, "flux-system");
    assert!(config.argocd.is_none());
    assert_eq!(config.agent.namespace, "ferry-system");
    assert_eq!(config.agent.service_account, "ferry-agent");
    assert_eq!(config.agent.store_name, "vault-backend");
    assert_eq!(config.agent.store_kind, StoreKind::ClusterSecretStore);
    assert_eq!(
        (config.agent.role.as_str(), config.agent.policy.as_str()),
        ("ferry-agent", "ferry-agent")
    );
    assert!(config.apps.is_empty());
    let FluxAuth::Https(https) = &flux.auth else {
        panic!("https")
    };
    assert_eq!(https.username_source(), ValueSource::Literal("git"));
}

#[test]
fn unknown_key_is_a_parse_error_with_line_and_column() {
    let (field, location, message) = parse_err(&edit(MINIMAL, "  address: http", "  adress: http"));
    assert_eq!(field, "vault");
    assert_eq!(location, at(2, 3));
    assert!(
        message.starts_with("unknown field `adress` (did you mean `address`?), expected one of"),
        "{message}"
    );

    let nested = edit(
        EXAMPLE,
        "          target: myapp-secrets",
        "          targte: myapp-secrets",
    );
    let (field, location, message) = parse_err(&nested);
    assert_eq!(field, "apps[1].externalSecrets[0].create");
    assert!(location.is_some_and(|l| l.line > 100));
    assert!(
        message.contains("`targte` (did you mean `target`?)"),
        "{message}"
    );
}

#[test]
fn unknown_top_level_section_is_located_not_named() {
    let (field, location, message) = parse_err(&format!("{MINIMAL}polcy: x\n"));
    assert_eq!(field, ".");
    assert_eq!(location, at(16, 1));
    assert!(
        message.starts_with("unknown field (its name is not shown), expected one of `vault`"),
        "{message}"
    );
}

#[test]
fn missing_required_field_is_named() {
    let (field, location, message) = parse_err(&edit(
        MINIMAL,
        "  address: http://127.0.0.1:8200\n",
        "  namespace: team\n",
    ));
    assert_eq!(field, "vault.address");
    assert_eq!(location, at(2, 3));
    assert!(message.contains("missing field"), "{message}");
}

#[test]
fn wrong_type_is_located() {
    let (field, location, message) =
        parse_err(&edit(MINIMAL, "init:\n", "init:\n  keyShares: many\n"));
    assert_eq!(field, "init.keyShares");
    assert_eq!(location, at(4, 14));
    assert!(message.contains("expected u8"), "{message}");
    let (field, _, _) = parse_err(&edit(MINIMAL, "init:\n", "init:\n  keyShares: 300\n"));
    assert_eq!(field, "init.keyShares");
}

#[test]
fn check_takes_exactly_one_key() {
    let two = edit(
        MINIMAL,
        "    key: password\n",
        "    key: password\n    check:\n      nonEmpty: true\n      regexp: x\n",
    );
    let (field, location, message) = parse_err(&two);
    assert_eq!(field, "env[0].check");
    assert_eq!(location, at(13, 7));
    assert!(message.contains("exactly one"), "{message}");
    let none = edit(
        MINIMAL,
        "    key: password\n",
        "    key: password\n    check: {}\n",
    );
    assert_eq!(parse_err(&none).0, "env[0].check");
    let typo = edit(
        MINIMAL,
        "    key: password\n",
        "    key: password\n    check: {format: github}\n",
    );
    let (field, _, message) = parse_err(&typo);
    assert_eq!(field, "env[0].check.format");
    assert!(
        message.contains("expected one of `github-token`"),
        "{message}"
    );
}

#[test]
fn flux_auth_takes_exactly_one_method() {
    let both = edit(
        MINIMAL,
        "    https:\n",
        "    ssh: {identityEnv: GIT_TOKEN, knownHosts: x}\n    https:\n",
    );
    let (field, _, message) = parse_err(&both);
    assert_eq!(field, "flux.auth");
    assert!(message.contains("only one"), "{message}");
}

#[test]
fn syntax_error_is_located() {
    let broken = edit(MINIMAL, "  bundle:\n", "  bundle: [\n");
    let err = parse(&broken, "bootstrap.yaml");
    let Err(ConfigError::Parse { location, .. }) = &err else {
        panic!("expected a parse error, got {err:?}")
    };
    assert!(location.is_some(), "{err:?}");
    assert!(parse_err("").2.contains("empty"));
    ok(&format!("---\n{MINIMAL}"));
    let (field, location, _) = parse_err("vault: {address: 'x'\n");
    assert_eq!((field.as_str(), location), ("vault", at(2, 1)));
    let multi = parse_err(&format!("{MINIMAL}---\nvault: {{}}\n"));
    assert!(multi.2.contains("more than one"), "{multi:?}");
}

#[test]
fn parse_error_display_names_origin_field_and_position() {
    let err = parse(
        &edit(MINIMAL, "  address: http", "  adress: http"),
        "clusters/prod/bootstrap.yaml",
    );
    let Err(err) = err else {
        panic!("expected an error")
    };
    assert!(
        err.to_string()
            .starts_with("clusters/prod/bootstrap.yaml:2:3: vault: unknown field `adress`"),
        "{err}"
    );
    assert_eq!(err.category(), "parse");
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = std::env::temp_dir().join(format!("ferry-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bootstrap.yaml");
    std::fs::write(&path, MINIMAL).expect("write");
    assert!(load(&path).is_ok());
    let missing = dir.join("nope.yaml");
    let err = load(&missing).expect_err("missing file");
    assert!(matches!(err, ConfigError::ReadFile { .. }));
    assert!(err.to_string().contains("nope.yaml"), "{err}");
    assert_eq!(err.category(), "read");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn yaml_anchors_and_flow_style_work() {
    let text = "\
vault: {address: 'https://vault:8200'}
init: {recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p], bundle: {secret: {namespace: vault, name: init}}}
env: [{name: &tok GIT_TOKEN, path: flux/git, key: password}]
flux: {auth: {https: {passwordEnv: *tok}}}
";
    let config = ok(text);
    let refs = config.credential_env_refs();
    let refs: Vec<_> = refs.iter().map(|r| (r.field.as_str(), r.env)).collect();
    assert_eq!(refs, [("flux.auth.https.passwordEnv", "GIT_TOKEN")]);
}
