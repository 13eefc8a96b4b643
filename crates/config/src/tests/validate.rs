//! Validation: each rule names its field, with the line and column of the field.

use super::{EXAMPLE, MINIMAL, at, edit, ok, problem, problems};
use crate::{BootstrapConfig, ConfigError, fingerprint_of};

#[test]
fn threshold_above_shares_is_located() {
    let text = edit(
        MINIMAL,
        "init:\n",
        "init:\n  keyShares: 3\n  keyThreshold: 4\n",
    );
    let (field, location, message) = problem(&text);
    assert_eq!(field, "init.keyThreshold");
    assert_eq!(location, at(5, 17));
    assert!(message.contains("more than keyShares"), "{message}");
}

#[test]
fn threshold_zero_and_shamir_minimum() {
    let zero = edit(MINIMAL, "init:\n", "init:\n  keyThreshold: 0\n");
    assert_eq!(problem(&zero).0, "init.keyThreshold");
    let one_of_many = edit(MINIMAL, "init:\n", "init:\n  keyThreshold: 1\n");
    assert!(problem(&one_of_many).2.contains("at least 2"));
    ok(&edit(
        MINIMAL,
        "init:\n",
        "init:\n  keyShares: 1\n  keyThreshold: 1\n",
    ));
}

#[test]
fn threshold_above_defaulted_shares_points_at_threshold() {
    let text = edit(MINIMAL, "init:\n", "init:\n  keyThreshold: 9\n");
    let (field, location, _) = problem(&text);
    assert_eq!(field, "init.keyThreshold");
    assert_eq!(location, at(4, 17));
}

#[test]
fn bad_recipients_are_named_by_index() {
    let text = edit(
        MINIMAL,
        "    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
        "    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n    - age1notbech32\n    - ecdsa-sha2-nistp256 AAAA\n    - ssh-ed25519 AAAAnotbase64\n",
    );
    let all = problems(&text);
    let fields: Vec<_> = all.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        fields,
        [
            "init.recipients[1]",
            "init.recipients[2]",
            "init.recipients[3]"
        ]
    );
    assert_eq!(all[0].1, at(6, 7));
    assert_eq!(all[2].1, at(8, 7));
    let empty = edit(
        MINIMAL,
        "  recipients:\n    - age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\n",
        "  recipients: []\n",
    );
    assert_eq!(problem(&empty).0, "init.recipients");
}

#[test]
fn ssh_recipients_parse_for_real() {
    let config = ok(EXAMPLE);
    let parsed = config.init.age_recipients().expect("recipients");
    assert!(matches!(parsed[1], crate::AgeRecipient::Ssh(_)));
    let _ = parsed[0].as_recipient();
    // Without a comment, and ssh-rsa (2048 bits).
    let ed25519 =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFp73L3026cqWTCXmj6sTiZzxPbLGkAjjU4i2lKFOZpe";
    assert!(matches!(
        crate::parse_recipient(ed25519),
        Ok(crate::AgeRecipient::Ssh(_))
    ));
    let rsa = concat!(
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCfgdLUkHzIphzfVGOj/Wq6nGUmU+6d1c8fGzCnZvzK",
        "xRozjC9Q7ZDom6hSWLSkJsiJZn/a9i+DDfI5GatREnWz/WCLo0x5pScwdMvE530oI2ykOHTwYob35sdt",
        "E7jBj8nB2dOosO+rBzqtcagz0Ql3RKJ2+Wi9ZZd9HZem/ZEAdjd4Kg2ygmQyIifZ3pKJPN3wgxk/1wKN",
        "kbfknBjzidX6tADDFHrjrl2AzXxOCex5YhjiKtNoK8GSscClq89lIuq9jdB8+grjKOa+HZPJXsyZfaE4",
        "bY5MvZuUIkKy+TXfdYe43JMezWEBFYVruR0w1AckwgLGRpqA6j3rFABS+4Yt",
    );
    assert!(matches!(
        crate::parse_recipient(rsa),
        Ok(crate::AgeRecipient::Ssh(_))
    ));
    assert!(crate::parse_recipient("AGE-SECRET-KEY-1QQQ").is_err());
    assert!(crate::parse_recipient("age1yubikey1qqqq").is_err_and(|m| m.contains("plugin")));
}

#[test]
fn bundle_needs_a_destination() {
    let text = edit(MINIMAL, "  bundle:\n    file: init.age\n", "  bundle: {}\n");
    let (field, location, _) = problem(&text);
    assert_eq!(field, "init.bundle");
    assert_eq!(location, at(6, 11));
}

#[test]
fn bad_regexp_names_the_field() {
    let text = edit(
        MINIMAL,
        "    key: password\n",
        "    key: password\n    check:\n      regexp: '(unclosed'\n",
    );
    let (field, location, message) = problem(&text);
    assert_eq!(field, "env[0].check.regexp");
    assert_eq!(location, at(13, 15));
    assert!(message.contains("invalid regular expression"), "{message}");
}

#[test]
fn duplicate_env_names_and_targets() {
    let text = format!(
        "{}  - name: GIT_TOKEN\n    path: flux/git\n    key: password\n",
        edit(
            MINIMAL,
            "flux:\n  auth:\n    https:\n      passwordEnv: GIT_TOKEN\n",
            ""
        )
    ) + "flux:\n  auth:\n    https:\n      passwordEnv: GIT_TOKEN\n";
    let all = problems(&text);
    assert_eq!(all[0].0, "env[1].name");
    assert_eq!(all[0].1, at(12, 11));
    assert!(
        all[0].2.contains("duplicate name (also env[0])"),
        "{}",
        all[0].2
    );
    assert_eq!(all[1].0, "env[1].key");
}

#[test]
fn bad_env_name_and_path() {
    let text = edit(
        MINIMAL,
        "  - name: GIT_TOKEN\n    path: flux/git\n",
        "  - name: git-token\n    path: /flux//git\n",
    );
    let fields: Vec<_> = problems(&text).into_iter().map(|p| p.0).collect();
    assert_eq!(
        fields,
        ["env[0].name", "env[0].path", "flux.auth.https.passwordEnv"]
    );
}

#[test]
fn dangling_password_env_is_located() {
    let text = edit(
        MINIMAL,
        "passwordEnv: GIT_TOKEN",
        "passwordEnv: GITHUB_TOKEN",
    );
    let (field, location, message) = problem(&text);
    assert_eq!(field, "flux.auth.https.passwordEnv");
    assert_eq!(location, at(15, 20));
    assert!(message.contains("names no entry of `env`"), "{message}");
}

#[test]
fn ssh_auth_needs_known_hosts_and_declared_envs() {
    let text = edit(
        MINIMAL,
        "    https:\n      passwordEnv: GIT_TOKEN\n",
        "    ssh:\n      identityEnv: SSH_KEY\n",
    );
    let fields: Vec<_> = problems(&text).into_iter().map(|p| p.0).collect();
    assert_eq!(fields, ["flux.auth.ssh.identityEnv", "flux.auth.ssh"]);
}

#[test]
fn bad_app_name_is_located() {
    let text = edit(EXAMPLE, "  - name: myapp\n", "  - name: My_App\n");
    let (field, location, message) = problem(&text);
    assert_eq!(field, "apps[1].name");
    assert_eq!(location.map(|l| l.column), Some(11));
    assert!(message.contains("DNS label"), "{message}");
}

#[test]
fn app_rules() {
    let dup = edit(EXAMPLE, "  - name: myapp\n", "  - name: cloudflared\n");
    assert!(
        problems(&dup)
            .iter()
            .any(|p| p.0 == "apps[1].name" && p.2.contains("duplicate"))
    );
    let uncovered = edit(
        EXAMPLE,
        "              key: myapp/api\n",
        "              key: other/api\n",
    );
    let (field, _, message) = problem(&uncovered);
    assert_eq!(field, "apps[1].externalSecrets[0].create.data[1].key");
    assert!(message.contains("not covered"), "{message}");
    let glob = edit(EXAMPLE, "      - myapp/*  ", "      - '*'  ");
    assert!(problems(&glob).iter().any(|p| p.0 == "apps[1].paths[0]"));
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = edit(
        &edit(
            &edit(EXAMPLE, "keyThreshold: 3", "keyThreshold: 9"),
            "  - name: myapp\n",
            "  - name: MyApp\n",
        ),
        "passwordEnv: GITHUB_TOKEN",
        "passwordEnv: NOPE",
    );
    let err = crate::parse(&text, "bootstrap.yaml").expect_err("invalid");
    assert_eq!(err.problems().len(), 3, "{err}");
    assert!(err.problems().iter().all(|p| p.location.is_some()));
    let shown = err.to_string();
    assert!(
        shown.starts_with("bootstrap.yaml: 3 validation problem(s):"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  bootstrap.yaml:24:17: init.keyThreshold: "),
        "{shown}"
    );
    assert_eq!(err.category(), "validate");
}

#[test]
fn validate_without_text_gives_paths_only() {
    let mut config: BootstrapConfig = ok(MINIMAL);
    config.init.key_threshold = 9;
    let err = config.validate().expect_err("invalid");
    let ConfigError::Validate { problems, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(problems[0].field, "init.keyThreshold");
    assert_eq!(problems[0].location, None);
}

#[test]
fn secret_values_pasted_into_the_file_are_refused() {
    let token = format!("glpat-{}", "a".repeat(20));
    let text = edit(
        MINIMAL,
        "      passwordEnv: GIT_TOKEN\n",
        &format!("      passwordEnv: GIT_TOKEN\n      username: {token}\n"),
    );
    let (field, location, message) = problem(&text);
    assert_eq!(field, "flux.auth.https.username");
    assert_eq!(location, at(16, 17));
    assert!(message.contains("looks like a secret"), "{message}");
    assert!(!message.contains(&token));
}

#[test]
fn fingerprint_ignores_layout_and_explicit_defaults() {
    let a = ok(MINIMAL);
    let explicit = format!(
        "kv:\n  version: v2\n  mount: secret\n{MINIMAL}agent:\n  storeKind: ClusterSecretStore\n"
    );
    let b = ok(&explicit);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
    let c = ok(&edit(MINIMAL, "path: flux/git", "path: flux/git2"));
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_ne!(fingerprint_of(&a.env), fingerprint_of(&c.env));
    assert_eq!(fingerprint_of(&a.flux), fingerprint_of(&c.flux));
}
