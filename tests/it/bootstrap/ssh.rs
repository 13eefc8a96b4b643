//! Phase 3 with SSH credentials for Flux, against a real SSH Git server on loopback
//! (Debian's sshd, `ferry_testenv::ssh`): bootstrap takes the Flux Secret over with the
//! `identity` from Vault and the `known_hosts` written in bootstrap.yaml, and a real
//! `git clone` with exactly the switched Secret's two keys works, where the key the
//! plaintext Secret held before does not.
//!
//! Flux is not installed on this cluster, so the reconcile step is skipped; the clone is the
//! proof that the credentials work.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry_testenv::ssh::{self, SshGitServer};
use ferry_vault::{ExposeSecret, KvVersion};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use kube::core::ResourceExt;
use serde_json::{Value, json};

use crate::support::bootstrap::Fixture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flux_over_ssh_is_switched_and_git_clone_proves_it() {
    let server = tokio::task::spawn_blocking(SshGitServer::start)
        .await
        .unwrap()
        .unwrap();
    let mut fx = Fixture::new("bootstrap-ssh").await;
    fx.edit_config(
        "env:\n",
        "env:\n  - {name: FLUX_SSH_KEY, path: flux/ssh, key: identity, check: {format: ssh-private-key}}\n",
    );
    fx.edit_config(
        "auth: {https: {username: git, passwordEnv: GITHUB_TOKEN}}",
        &format!(
            "auth: {{ssh: {{identityEnv: FLUX_SSH_KEY, knownHosts: {:?}}}}}",
            server.known_hosts
        ),
    );
    let identity = server.identity().expose_secret().to_owned();
    fx.values.insert("FLUX_SSH_KEY".into(), identity.clone());

    // What `flux bootstrap` leaves for SSH: a deploy key of its own (here one the server
    // does not accept) and the host keys, in plaintext.
    let (stale, _) = ssh::generate_key().unwrap();
    let ns = fx.env.namespace.clone();
    let secrets = Api::<Secret>::namespaced(fx.env.kube.clone(), &ns);
    let plaintext: Secret = serde_json::from_value(json!({
        "metadata": { "name": "flux-system" },
        "stringData": { "identity": stale.expose_secret(), "known_hosts": server.known_hosts,
            "identity.pub": "ssh-ed25519 AAAA stale" },
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &plaintext)
        .await
        .unwrap();

    let report = fx.run(&fx.options()).await.unwrap();
    assert!(report.complete);

    // Controlled by the ExternalSecret; `identity` is Vault's, `known_hosts` the literal.
    let secret = secrets.get("flux-system").await.unwrap();
    let es = Api::<ferry_api::ExternalSecret>::namespaced(fx.env.kube.clone(), &ns)
        .get("flux-system")
        .await
        .unwrap();
    let owner = secret
        .owner_references()
        .iter()
        .find(|o| o.controller == Some(true));
    assert_eq!(owner.map(|o| o.uid.as_str()), es.uid().as_deref());
    let data = secret.data.clone().unwrap();
    let text = |key: &str| String::from_utf8(data[key].0.clone()).unwrap();
    let root = fx.root().await;
    let kv = root
        .kv_read("secret", "flux/ssh", KvVersion::V2, None)
        .await
        .unwrap()
        .unwrap();
    let in_vault = kv.data.get("identity").and_then(Value::as_str).unwrap();
    assert!(text("identity") == in_vault, "identity differs from Vault");
    assert_eq!(text("known_hosts"), server.known_hosts);
    fx.assert_kv_written_once(&root).await;
    root.revoke_self().await.unwrap();
    fx.assert_no_plaintext().await;

    // The proof: exactly the Secret's identity and known_hosts clone; the stale key does not.
    let switched = ferry_vault::SecretString::from(text("identity"));
    let known_hosts = text("known_hosts");
    let url = server.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let (cloned, refused) = tokio::task::spawn_blocking(move || {
        (
            ssh::clone(&url, &switched, &known_hosts, &base.join("a")),
            ssh::clone(&url, &stale, &known_hosts, &base.join("b")),
        )
    })
    .await
    .unwrap();
    assert!(
        cloned,
        "git clone with the switched Secret failed (log: {})",
        server.log().display()
    );
    assert!(!refused, "git clone with the stale key succeeded");
    fx.stop().await;
}
