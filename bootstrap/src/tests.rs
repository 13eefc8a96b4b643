//! Unit tests of the pure parts: the plan's decisions, the environment check and the
//! init bundle's seal/open round trip.

use ferry_config::BootstrapConfig;

use crate::bundle::{BundleSource, InitBundle};
use crate::env::{EnvValues, unset_line};
use crate::error::BootstrapError;
use crate::phase::Phase;
use crate::plan::{fingerprints, plan};
use crate::state::State;

fn config(recipient: &str) -> BootstrapConfig {
    let yaml = format!(
        r#"vault: {{address: "http://127.0.0.1:8200"}}
init:
  recipients: ["{recipient}"]
  bundle: {{file: ./vault-init.age}}
env:
  - {{name: GITHUB_TOKEN, path: flux/git, key: password, check: {{nonEmpty: true}}}}
  - {{name: DB_PASSWORD, path: app/db, key: password}}
flux:
  auth: {{https: {{passwordEnv: GITHUB_TOKEN}}}}
"#
    );
    ferry_config::parse(&yaml, "test.yaml").unwrap()
}

fn identity() -> age::x25519::Identity {
    age::x25519::Identity::generate()
}

#[test]
fn a_fresh_cluster_runs_every_phase() {
    let cfg = config(&identity().to_public().to_string());
    let p = plan(&cfg, &State::default(), Phase::Infra, Some(true));
    assert!(p.phases.iter().all(|ph| ph.run));
    assert!(p.render().contains("not done yet"));
    let p = plan(&cfg, &State::default(), Phase::Infra, Some(false));
    assert!(
        p.phases
            .iter()
            .all(|ph| ph.reason == "Vault is uninitialised")
    );
}

#[test]
fn fingerprints_chain_and_ignore_unrelated_sections() {
    let cfg = config(&identity().to_public().to_string());
    let before = fingerprints(&cfg);
    let mut changed = cfg.clone();
    changed.env[1].path = "app/database".into();
    let after = fingerprints(&changed);
    assert_eq!(before[0], after[0], "phase 1 does not read env");
    for i in 1..5 {
        assert_ne!(before[i], after[i], "phase {} follows", i + 1);
    }
}

#[test]
fn env_check_reports_every_problem_by_name_only() {
    let cfg = config(&identity().to_public().to_string());
    let values = EnvValues::read(&cfg, |name| (name == "GITHUB_TOKEN").then(String::new));
    let err = values.check(&cfg).unwrap_err();
    match &err {
        BootstrapError::CheckEnv { missing, failed } => {
            assert_eq!(missing, &["DB_PASSWORD"]);
            assert_eq!(failed.len(), 1);
            assert!(failed[0].starts_with("GITHUB_TOKEN: "));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(err.exit_code(), 2);
    let values = EnvValues::read(&cfg, |name| Some(format!("value-of-{name}")));
    values.check(&cfg).unwrap();
    assert!(!format!("{values:?}").contains("value-of"));
    assert_eq!(
        unset_line(&cfg).as_deref(),
        Some("unset GITHUB_TOKEN DB_PASSWORD")
    );
}

#[test]
fn the_bundle_opens_only_with_a_recipient_identity() {
    let id = identity();
    let cfg = config(&id.to_public().to_string());
    let bundle = InitBundle {
        version: 1,
        vault_address: "http://127.0.0.1:8200".into(),
        keys: vec!["k1-secret-share".into(), "k2-secret-share".into()],
        threshold: 2,
        root_token: "s.rootTokenValue".into(),
    };
    let sealed = crate::bundle::seal(&cfg, &bundle).unwrap();
    let text = String::from_utf8(sealed.clone()).unwrap();
    assert!(text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    assert!(!text.contains("secret-share") && !text.contains("rootTokenValue"));
    assert!(!format!("{bundle:?}").contains("secret-share"));

    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    std::fs::write(
        &key,
        age::secrecy::ExposeSecret::expose_secret(&id.to_string()),
    )
    .unwrap();
    let source = BundleSource::File(dir.path().join("vault-init.age"));
    crate::bundle::write_file(&dir.path().join("vault-init.age"), &sealed).unwrap();
    let opened = crate::bundle::open(&sealed, &key, &source).unwrap();
    assert_eq!(opened.keys, bundle.keys);
    assert_eq!(opened.root_token, bundle.root_token);

    let other = dir.path().join("other.txt");
    std::fs::write(
        &other,
        age::secrecy::ExposeSecret::expose_secret(&identity().to_string()),
    )
    .unwrap();
    let err = crate::bundle::open(&sealed, &other, &source).unwrap_err();
    assert!(matches!(err, BootstrapError::OpenBundle { .. }), "{err}");
}

#[cfg(unix)]
#[test]
fn the_bundle_file_write_follows_no_planted_symlink() {
    use std::os::unix::fs::{PermissionsExt, symlink};

    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let victim_tmp = elsewhere.path().join("victim-tmp");
    let victim_dest = elsewhere.path().join("victim-dest");
    std::fs::write(&victim_tmp, b"untouched-1").unwrap();
    std::fs::write(&victim_dest, b"untouched-2").unwrap();
    let dest = dir.path().join("vault-init.age");
    // The temporary name the old code used, and the destination itself, point elsewhere.
    symlink(&victim_tmp, dir.path().join(".vault-init.age.tmp")).unwrap();
    symlink(&victim_dest, &dest).unwrap();

    crate::bundle::write_file(&dest, b"sealed-bytes").unwrap();

    assert_eq!(std::fs::read(&victim_tmp).unwrap(), b"untouched-1");
    assert_eq!(std::fs::read(&victim_dest).unwrap(), b"untouched-2");
    let meta = std::fs::symlink_metadata(&dest).unwrap();
    assert!(meta.file_type().is_file(), "the symlink was replaced");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(&dest).unwrap(), b"sealed-bytes");
    // No temporary file is left behind; the planted symlink is left alone.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // A directory that does not exist: an error naming the file, nothing written.
    let err = crate::bundle::write_file(&dir.path().join("missing/x.age"), b"x").unwrap_err();
    assert!(matches!(err, BootstrapError::WriteBundle { .. }), "{err}");
    assert!(err.to_string().contains("missing/x.age"), "{err}");
}

#[test]
fn credential_values_are_checked_against_their_fields_needs_before_any_write() {
    let yaml = r#"vault: {address: "http://127.0.0.1:8200"}
init:
  recipients: ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]
  bundle: {file: ./vault-init.age}
env:
  - {name: APP_ID, path: flux/app, key: id}
  - {name: APP_OWNER, path: flux/app, key: owner}
  - {name: APP_KEY, path: flux/app, key: key, check: {nonEmpty: true}}
  - {name: DEPLOY_KEY, path: argocd/ssh, key: key}
flux:
  auth: {githubApp: {appIdEnv: APP_ID, installationOwnerEnv: APP_OWNER, privateKeyEnv: APP_KEY}}
argocd:
  repositories:
    - {name: infra, url: "git@git.example.com:org/infra.git", auth: {ssh: {privateKeyEnv: DEPLOY_KEY}}}
"#;
    let cfg = ferry_config::parse(yaml, "test.yaml").unwrap();
    let planted = "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n";
    let values = EnvValues::read(&cfg, |name| {
        Some(match name {
            "APP_ID" => "12x".to_owned(),
            "APP_OWNER" => "my org".to_owned(),
            "APP_KEY" => planted.to_owned(),
            _ => "not-a-key-Zq8rT5wK".to_owned(),
        })
    });
    let err = values.check(&cfg).unwrap_err();
    let BootstrapError::CheckEnv { missing, failed } = &err else {
        panic!("unexpected {err}");
    };
    assert!(missing.is_empty());
    let starts = [
        "APP_ID (flux.auth.githubApp.appIdEnv): the value is not a positive decimal integer",
        "APP_OWNER (flux.auth.githubApp.installationOwnerEnv): ",
        "APP_KEY (flux.auth.githubApp.privateKeyEnv): the value is not a valid rsa-private-key",
        "DEPLOY_KEY (argocd.repositories[0].auth.ssh.privateKeyEnv): the value is not a valid ssh-private-key",
    ];
    assert_eq!(failed.len(), starts.len(), "{failed:#?}");
    for (line, start) in failed.iter().zip(starts) {
        assert!(line.starts_with(start), "{line}");
    }
    let text = err.to_string();
    for value in ["12x", "my org", "bm90IGEga2V5", "Zq8rT5wK"] {
        assert!(!text.contains(value), "{text}");
    }
    assert_eq!(err.exit_code(), 2);
}
