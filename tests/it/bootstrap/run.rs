//! `ferry bootstrap` end to end against an uninitialised OpenBao and the real API server,
//! with the agent in-process: all five phases to Complete, a re-run after the root token
//! was revoked (generate-root from the bundle), `--plan`, missing variables, a conflicting
//! value, `ferry unseal` after a seal, and `--env-secret` (the values from a Secret that is
//! deleted once they are in Vault).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;

use crate::support::bootstrap::Fixture;
use ferry_bootstrap::BootstrapError;
use ferry_bootstrap::bundle::BundleSource;
use ferry_bootstrap::unseal::UnsealOutcome;
use ferry_config::SecretRef;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_from_uninitialised_vault_to_complete_and_rerun() {
    let fx = Fixture::new("bootstrap-e2e").await;
    // First run: no identity needed (Vault is initialised by this run).
    let mut options = fx.options();
    options.access.identity = None;
    let report = fx.run(&options).await.unwrap();
    assert!(report.complete);
    assert_eq!(
        report.unset.as_deref(),
        Some("unset GITHUB_TOKEN MYAPP_DB_PASSWORD MYAPP_API_KEY")
    );

    let state = fx.state().await;
    for phase in 1..=5 {
        assert!(
            state[&format!("phase{phase}")].contains("\"done\":true"),
            "phase {phase}"
        );
    }
    let accessor = state["rootTokenAccessor"].clone();
    assert!(!state.contains_key("bootstrapTokenAccessor"));
    let bundle = fx.dir.path().join("vault-init.age");
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(ferry_verify::is_age_ciphertext(
        &std::fs::read(&bundle).unwrap()
    ));

    let root = fx.root().await;
    let seen = ferry_verify::init_material::lookup_accessor(&root, &accessor)
        .await
        .unwrap();
    assert_eq!(seen, ferry_verify::RootToken::Revoked);
    fx.assert_kv_written_once(&root).await;
    fx.assert_app_secret().await;
    fx.assert_no_plaintext().await;
    root.revoke_self().await.unwrap();

    // Re-run: the bundled root token is revoked, so bootstrap mints one from the unseal
    // keys; phases 1-4 are done and unchanged, phase 5 revokes again.
    let report = fx.run(&fx.options()).await.unwrap();
    assert!(report.complete);
    let ran: Vec<u8> = report
        .plan
        .phases
        .iter()
        .filter(|p| p.run)
        .map(|p| p.phase)
        .collect();
    assert_eq!(ran, vec![5]);
    let state = fx.state().await;
    assert_ne!(state["rootTokenAccessor"], accessor);
    let root = fx.root().await;
    let seen = ferry_verify::init_material::lookup_accessor(&root, &state["rootTokenAccessor"])
        .await
        .unwrap();
    assert_eq!(seen, ferry_verify::RootToken::Revoked);
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();

    // With the operator's VAULT_TOKEN instead: used, never revoked.
    let token = fx.root_token().await;
    let mut operator = fx.options();
    operator.access.identity = None;
    operator.access.operator_token = Some(token.clone());
    assert!(fx.run(&operator).await.unwrap().complete);
    let own = fx.vault().with_token(token);
    own.lookup_self().await.expect("VAULT_TOKEN is not revoked");
    own.revoke_self().await.unwrap();
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_and_missing_variables_change_nothing() {
    let fx = Fixture::new("bootstrap-plan").await;
    let mut options = fx.options();
    options.plan = true;
    let report = fx.run(&options).await.unwrap();
    assert!(!report.complete);
    assert!(report.plan.phases.iter().all(|p| p.run));
    assert!(report.plan.render().contains("Vault is uninitialised"));

    let mut partial = fx.values.clone();
    partial.remove("GITHUB_TOKEN");
    partial.insert("MYAPP_DB_PASSWORD".into(), String::new());
    partial.remove("MYAPP_API_KEY");
    let err = fx.run_with(&partial, &fx.options()).await.unwrap_err();
    match &err {
        BootstrapError::CheckEnv { missing, failed } => {
            assert_eq!(missing, &["GITHUB_TOKEN", "MYAPP_API_KEY"]);
            assert!(failed.is_empty());
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(err.exit_code(), 2);
    let status = fx.vault().seal_status().await.unwrap();
    assert!(
        !status.initialized,
        "nothing may be written before the check"
    );
    fx.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_value_needs_overwrite_and_unseal_reopens_vault() {
    let fx = Fixture::new("bootstrap-conflict").await;
    fx.run(&fx.options()).await.unwrap();

    let mut changed = fx.values.clone();
    changed.insert("MYAPP_API_KEY".into(), "a-different-value-42".into());
    let mut options = fx.options();
    options.from_phase = 2;
    let err = fx.run_with(&changed, &options).await.unwrap_err();
    assert!(
        matches!(&err, BootstrapError::KvConflict { name, .. } if name == "MYAPP_API_KEY"),
        "{err}"
    );
    assert!(!err.to_string().contains("a-different-value-42"));
    options.overwrite = true;
    fx.run_with(&changed, &options).await.unwrap();
    let root = fx.root().await;
    let meta = root
        .kv_metadata("secret", "myapp/api")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(meta.current_version, 2);
    let db = root
        .kv_metadata("secret", "myapp/db")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(db.current_version, 1, "an unchanged value is not rewritten");

    // Seal, then `ferry unseal` with the identity and the bundle Secret.
    root.seal().await.unwrap();
    assert!(fx.vault().seal_status().await.unwrap().sealed);
    let mut no_identity = fx.options();
    no_identity.access.identity = None;
    let err = fx.run(&no_identity).await.unwrap_err();
    assert!(matches!(err, BootstrapError::Sealed), "{err}");
    assert_eq!(err.exit_code(), 3);
    // The real binary, as an operator runs it: the bundle from its Secret.
    let bundle_secret = fx.config.init.bundle.secret.clone().unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("unseal")
        .arg("--identity")
        .arg(&fx.identity)
        .arg("--config")
        .arg(&fx.config_path)
        .arg("--bundle-secret")
        .arg(format!(
            "{}/{}",
            bundle_secret.namespace, bundle_secret.name
        ))
        .env("KUBECONFIG", &fx.env.kubeconfig)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ferry unseal failed: {stderr}");
    assert!(stderr.contains("Vault is unsealed"), "{stderr}");
    assert!(!fx.vault().seal_status().await.unwrap().sealed);
    let outcome = ferry_bootstrap::unseal::unseal(
        None,
        &fx.config,
        &fx.identity,
        &BundleSource::File(fx.dir.path().join("vault-init.age")),
    )
    .await
    .unwrap();
    assert_eq!(outcome, UnsealOutcome::AlreadyUnsealed);
    fx.stop().await;
}

/// The values Secret of the `--env-secret` test: `values` as its keys, replacing any.
async fn put_values_secret(api: &Api<Secret>, name: &str, values: BTreeMap<String, Vec<u8>>) {
    let _ = api.delete(name, &DeleteParams::default()).await;
    for _ in 0..50 {
        if api.get_opt(name).await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut secret = Secret::default();
    secret.metadata.name = Some(name.to_owned());
    secret.data = Some(
        values
            .into_iter()
            .map(|(k, v)| (k, ByteString(v)))
            .collect(),
    );
    api.create(&PostParams::default(), &secret).await.unwrap();
}

fn as_bytes(values: &BTreeMap<String, String>) -> BTreeMap<String, Vec<u8>> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), v.clone().into_bytes()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_secret_supplies_the_values_and_is_deleted_once_they_are_in_vault() {
    let fx = Fixture::new("bootstrap-envsecret").await;
    let ns = fx.env.namespace.clone();
    let name = "bootstrap-values";
    let secrets = Api::<Secret>::namespaced(fx.env.kube.clone(), &ns);
    // No value comes from the environment in this test.
    let nothing = BTreeMap::new();
    let mut options = fx.options();
    options.access.identity = None;
    options.env_secret = Some(SecretRef {
        namespace: ns.clone(),
        name: name.into(),
    });
    let leaks = |text: &str| fx.values.values().any(|v| text.contains(v.as_str()));

    // A key missing, one not UTF-8 and one failing its check: all reported at once, by name,
    // before anything is written. Undeclared keys are ignored.
    let mut partial = as_bytes(&fx.values);
    partial.remove("MYAPP_API_KEY");
    partial.insert("MYAPP_DB_PASSWORD".into(), vec![0xff, 0xfe, 0x41]);
    partial.insert("GITHUB_TOKEN".into(), Vec::new());
    partial.insert("UNDECLARED".into(), b"whatever".to_vec());
    put_values_secret(&secrets, name, partial).await;
    let err = fx.run_with(&nothing, &options).await.unwrap_err();
    match &err {
        BootstrapError::CheckEnvSecret {
            secret,
            missing,
            failed,
        } => {
            assert_eq!(secret, &format!("{ns}/{name}"));
            assert_eq!(missing, &["MYAPP_API_KEY"]);
            assert_eq!(failed.len(), 2, "{failed:?}");
            assert!(failed.iter().any(|f| f.starts_with("GITHUB_TOKEN: ")));
            assert!(
                failed
                    .iter()
                    .any(|f| f.contains("MYAPP_DB_PASSWORD: the value is not UTF-8"))
            );
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(err.exit_code(), 2);
    assert!(!leaks(&format!("{err} {err:?}")));
    assert!(!fx.vault().seal_status().await.unwrap().initialized);

    // The whole Secret: Complete, the values in KV once, the Secret deleted, no unset line.
    put_values_secret(&secrets, name, as_bytes(&fx.values)).await;
    let report = fx.run_with(&nothing, &options).await.unwrap();
    assert!(report.complete);
    assert_eq!(report.unset, None);
    assert!(secrets.get_opt(name).await.unwrap().is_none(), "deleted");
    let root = fx.root().await;
    fx.assert_kv_written_once(&root).await;
    fx.assert_app_secret().await;
    fx.assert_no_plaintext().await;
    root.revoke_self().await.unwrap();

    // A re-run through the real binary (the chart's Job sets the flag; here its variable):
    // the Secret is gone and phase 2 is done, which is fine.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("bootstrap")
        .arg("--config")
        .arg(&fx.config_path)
        .arg("--identity")
        .arg(&fx.identity)
        .arg("--verify-namespace")
        .arg(&ns)
        .arg("--wait-timeout")
        .arg("60")
        .env("KUBECONFIG", &fx.env.kubeconfig)
        .env("FERRY_BOOTSTRAP_ENV_SECRET", format!("{ns}/{name}"))
        .env_remove("VAULT_TOKEN")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "ferry bootstrap failed: {stderr}");
    assert!(
        stderr.contains(&format!("the values Secret {ns}/{name} is gone")),
        "{stderr}"
    );
    assert!(!stdout.contains("unset"), "{stdout}");
    assert!(!leaks(&stderr) && !leaks(&stdout));

    // Phase 2 asked for again with the Secret gone: a clear input error, nothing changed.
    let mut again = fx.options();
    again.env_secret = options.env_secret.clone();
    again.from_phase = 2;
    let err = fx.run_with(&nothing, &again).await.unwrap_err();
    assert!(matches!(err, BootstrapError::EnvSecretGone { .. }), "{err}");
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(
        text.contains(&format!("Secret {ns}/{name} (--env-secret) does not exist")),
        "{text}"
    );
    assert!(text.contains("--from-phase 2"), "{text}");
    again.plan = true;
    let planned = fx.run_with(&nothing, &again).await.unwrap().plan.render();
    assert!(
        planned.contains(&format!("but the values Secret {ns}/{name} does not exist")),
        "{planned}"
    );

    // The Secret back with the same values (as after a run killed between recording phase 2
    // and the delete): phase 2 runs again, writes nothing, and the Secret goes.
    put_values_secret(&secrets, name, as_bytes(&fx.values)).await;
    let mut resume = fx.options();
    resume.env_secret = options.env_secret.clone();
    let report = fx.run_with(&nothing, &resume).await.unwrap();
    let ran: Vec<u8> = report
        .plan
        .phases
        .iter()
        .filter(|p| p.run)
        .map(|p| p.phase)
        .collect();
    assert_eq!(ran, vec![2, 5]);
    assert!(secrets.get_opt(name).await.unwrap().is_none(), "deleted");
    let root = fx.root().await;
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();

    // A different value in it: refused without --overwrite, and the Secret is kept.
    let mut changed = as_bytes(&fx.values);
    changed.insert("MYAPP_API_KEY".into(), b"a-different-value-42".to_vec());
    put_values_secret(&secrets, name, changed).await;
    let err = fx.run_with(&nothing, &resume).await.unwrap_err();
    assert!(
        matches!(&err, BootstrapError::KvConflict { name, .. } if name == "MYAPP_API_KEY"),
        "{err}"
    );
    assert!(!format!("{err} {err:?}").contains("a-different-value-42"));
    assert!(secrets.get_opt(name).await.unwrap().is_some(), "kept");
    fx.stop().await;
}
