//! With trace-level logging on for every crate, a full sync (success, a missing property, a
//! permission-denied path, a bad token, a template that renders and one that fails on a value,
//! a find with a rewrite, writes the API server would reject with the value quoted, and
//! templateFrom sources rendered into labels or failing, PushSecrets pushing, refused by
//! Vault and failing on values, and logins by userpass, LDAP and TLS certificate with a right
//! and a wrong credential each) leaves no secret value, nor a rendered form of one, and no
//! password or private key, in the logs, statuses or Events.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::common::*;
use base64::Engine;
use ferry_testenv::TestEnv;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, PostParams};
use serde_json::json;
use tracing::dispatcher::{self, DefaultGuard, Dispatch};
use tracing_subscriber::util::SubscriberInitExt as _;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

thread_local! {
    /// The capture's guard on a blocking-pool thread of the test's runtime.
    static CAPTURING: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
}

/// The logs are this test's alone. Its subscriber is not the global one (the other tests of the
/// binary run beside it): it is the default on the test's thread, which runs the test's
/// single-threaded runtime and so every task the agent spawns, and on each thread of that
/// runtime's blocking pool, where shaping renders templates. `set_default` also routes `log`
/// records into it, as `init` would.
#[test]
fn trace_logs_statuses_and_events_hold_no_secret_values() {
    let captured = Captured::default();
    let sink = captured.clone();
    let capture = Dispatch::new(
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || sink.clone())
            .finish(),
    );
    let for_pool = capture.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(move || {
            CAPTURING.with(|guard| *guard.borrow_mut() = Some(dispatcher::set_default(&for_pool)));
        })
        .on_thread_stop(|| CAPTURING.with(|guard| drop(guard.borrow_mut().take())))
        .build()
        .unwrap();
    let _capturing = capture.set_default();
    runtime.block_on(sync_everything_and_check(captured));
}

async fn sync_everything_and_check(captured: Captured) {
    let env = TestEnv::new("redaction").await;
    let values = [
        "s3cr3t-username-7781",
        "hunter2-password-9932",
        "nested-value-4410",
    ];
    put(
        &env,
        "app",
        json!({ "user": values[0], "pass": values[1], "deep": { "v": values[2] } }),
    )
    .await;
    let agent = start_agent(&env).await;
    let auth = crate::support::vault_auth::fixtures(&env).await;
    token_store(&env, "store").await;
    // A store whose token is wrong: Vault answers 403 on login.
    let secrets = Api::<Secret>::namespaced(env.kube.clone(), &env.namespace);
    let bad: Secret = serde_json::from_value(json!({
        "metadata": { "name": "bad-token" }, "stringData": { "token": "hvs.not-a-valid-token-5561" }
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &bad).await.unwrap();
    create(&env, "v1", "SecretStore", json!({
        "metadata": { "name": "bad" },
        "spec": { "controller": env.prefix, "provider": { "vault": { "server": env.vault_addr, "path": env.kv_mount,
            "auth": { "tokenSecretRef": { "name": "bad-token", "key": "token" } } } } }
    }))
    .await;
    let key = env.path("app");
    external_secret(
        &env,
        "good",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [
                { "secretKey": "user", "remoteRef": { "key": key, "property": "user" } },
                { "secretKey": "pass", "remoteRef": { "key": key, "property": "pass" } }
            ],
            "dataFrom": [ { "extract": { "key": key } } ]
        }),
    )
    .await;
    external_secret(
        &env,
        "missing",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "x", "remoteRef": { "key": key, "property": "deep.nope" } } ]
        }),
    )
    .await;
    external_secret(
        &env,
        "denied",
        json!({
            "secretStoreRef": { "name": "bad" },
            "data": [ { "secretKey": "x", "remoteRef": { "key": key, "property": "user" } } ]
        }),
    )
    .await;
    // The shaping paths: a template that renders, one that fails on a value (b64dec of
    // text that is not base64), and a find with a rewrite.
    external_secret(
        &env,
        "templated",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "extract": { "key": key } } ],
            "target": { "template": { "data": {
                "auth": "{{ printf \"%s:%s\" .user .pass | b64enc }}",
                "upper": "{{ .user | upper }}"
            } } }
        }),
    )
    .await;
    external_secret(
        &env,
        "template-fails",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ { "extract": { "key": key } } ],
            "target": { "template": { "data": { "bad": "{{ .user | b64dec }}" } } }
        }),
    )
    .await;
    external_secret(
        &env,
        "found",
        json!({
            "secretStoreRef": { "name": "store" },
            "dataFrom": [ {
                "find": { "path": env.prefix, "name": { "regexp": "app$" } },
                "rewrite": [ { "regexp": { "source": "^.*/(app)$", "target": "found_$1" } } ]
            } ]
        }),
    )
    .await;
    // Rejected writes: a label made of a value too long for a label, and a Secret the agent
    // reads for templateFrom turned into labels; the API server would quote both.
    let long_value = format!("long-label-value-{}", "q".repeat(60));
    put(&env, "long", json!({ "v": long_value })).await;
    let source: Secret = serde_json::from_value(json!({
        "metadata": { "name": "source" },
        "stringData": { "password": format!("template-source-{}", "w".repeat(60)) }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &source)
        .await
        .unwrap();
    // A template read from a Secret that fails on a value (b64dec of text).
    let failing: Secret = serde_json::from_value(json!({
        "metadata": { "name": "source-bad" },
        "stringData": { "password": format!("failing-source-{} {{{{ .v | b64dec }}}}", "z".repeat(60)) }
    }))
    .unwrap();
    secrets
        .create(&PostParams::default(), &failing)
        .await
        .unwrap();
    external_secret(
        &env,
        "label-rejected",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "v", "remoteRef": { "key": env.path("long"), "property": "v" } } ],
            "target": { "template": { "metadata": { "labels": { "leak": "{{ .v }}" } } } }
        }),
    )
    .await;
    external_secret(
        &env,
        "from-source",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "v", "remoteRef": { "key": env.path("long"), "property": "v" } } ],
            "target": { "template": { "templateFrom": [ { "target": "Labels",
                "secret": { "name": "source", "items": [ { "key": "password", "templateAs": "KeysAndValues" } ] } } ] } }
        }),
    )
    .await;
    external_secret(
        &env,
        "source-fails",
        json!({
            "secretStoreRef": { "name": "store" },
            "data": [ { "secretKey": "v", "remoteRef": { "key": env.path("long"), "property": "v" } } ],
            "target": { "template": { "templateFrom": [ {
                "secret": { "name": "source-bad", "items": [ { "key": "password" } ] } } ] } }
        }),
    )
    .await;
    let pushed = crate::agent::push::redaction_pushes(&env).await;
    wait_reason(&env, "label-rejected", "SecretSyncedError").await;
    wait_reason(&env, "from-source", "SecretSyncedError").await;
    wait_reason(&env, "source-fails", "SecretSyncedError").await;
    wait_reason(&env, "good", "SecretSynced").await;
    wait_reason(&env, "missing", "SecretSyncedError").await;
    wait_reason(&env, "denied", "SecretSyncedError").await;
    wait_reason(&env, "templated", "SecretSynced").await;
    wait_reason(&env, "template-fails", "SecretSyncedError").await;
    wait_reason(&env, "found", "SecretSynced").await;
    for (name, reason) in &auth.expect {
        wait_reason(&env, name, reason).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    agent.stop().await;

    let es = Api::<ferry_api::ExternalSecret>::namespaced(env.kube.clone(), &env.namespace);
    let mut statuses =
        serde_json::to_string(&es.list(&Default::default()).await.unwrap().items).unwrap();
    statuses.push_str(&crate::agent::push::push_statuses(&env).await);
    let events = Api::<Event>::namespaced(env.kube.clone(), &env.namespace);
    let events =
        serde_json::to_string(&events.list(&Default::default()).await.unwrap().items).unwrap();
    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).to_string();
    assert!(logs.contains("TRACE"), "trace logging was on");
    assert!(
        logs.len() > 10_000,
        "the run logged enough to be meaningful ({} bytes)",
        logs.len()
    );
    let mut forbidden: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    forbidden.extend(pushed);
    forbidden.push("hvs.not-a-valid-token-5561".into());
    forbidden.push(long_value.clone());
    forbidden.push(format!("template-source-{}", "w".repeat(60)));
    forbidden.push("q".repeat(40));
    forbidden.push("w".repeat(40));
    forbidden.push("z".repeat(40));
    forbidden.push(secrecy::ExposeSecret::expose_secret(&env.root_token()).to_string());
    forbidden.extend(auth.forbidden.iter().cloned());
    for v in values {
        forbidden.push(base64::engine::general_purpose::STANDARD.encode(v));
        forbidden.push(v.to_uppercase());
    }
    forbidden.push(
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", values[0], values[1])),
    );
    for value in &forbidden {
        assert!(
            !logs.contains(value.as_str()),
            "a secret value reached the logs"
        );
        assert!(
            !statuses.contains(value.as_str()),
            "a secret value reached a status"
        );
        assert!(
            !events.contains(value.as_str()),
            "a secret value reached an Event"
        );
    }
}
