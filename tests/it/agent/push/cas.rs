//! Check-and-set, made deterministic: the store's `server` is a loopback relay to the real
//! OpenBao that, when the agent's first write to the secret arrives, first writes the secret
//! itself (another writer, in between the agent's read and its write), then passes the
//! agent's write on. OpenBao refuses it (its `cas` is one version behind); the agent reads
//! again, merges again and writes; both writes survive. Every answer is OpenBao's own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::support::common::start_agent;
use ferry_testenv::TestEnv;
use ferry_vault::KvVersion;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the relay does on the agent's first write to `path`.
#[derive(Clone)]
struct Interfere {
    vault_addr: String,
    mount: String,
    path: String,
    token: String,
    done: Arc<AtomicUsize>,
    writes: Arc<AtomicUsize>,
}

impl Interfere {
    /// The other writer: reads the secret and writes it back with one more property, with
    /// check-and-set of its own.
    async fn write_in_between(&self) {
        let vault =
            ferry_vault::Vault::connect(&ferry_vault::VaultConfig::new(self.vault_addr.clone()))
                .unwrap()
                .with_token(ferry_vault::SecretString::from(self.token.clone()));
        let current = vault
            .kv_read(&self.mount, &self.path, KvVersion::V2, None)
            .await
            .unwrap()
            .unwrap();
        let mut data = current.data.expose().clone();
        data.insert("theirs".into(), json!("written-in-between"));
        vault
            .kv_write(
                &self.mount,
                &self.path,
                KvVersion::V2,
                &KvData::new(data),
                current.version,
            )
            .await
            .unwrap();
    }
}

/// Relays HTTP/1.1 requests from the agent to OpenBao, one connection at a time per task.
async fn relay(listener: TcpListener, interfere: Interfere) {
    let http = reqwest::Client::new();
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve(conn, http.clone(), interfere.clone()));
    }
}

async fn serve(conn: TcpStream, http: reqwest::Client, interfere: Interfere) {
    let (read, mut write) = conn.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            match read.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let (method, target) = (
            first.next().unwrap_or_default().to_owned(),
            first.next().unwrap_or_default().to_owned(),
        );
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let length = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        if read.read_exact(&mut body).await.is_err() {
            return;
        }
        let data_path = format!("/v1/{}/data/{}", interfere.mount, interfere.path);
        let is_write = (method == "POST" || method == "PUT") && target == data_path;
        if is_write {
            interfere.writes.fetch_add(1, Ordering::SeqCst);
            if interfere.done.fetch_add(1, Ordering::SeqCst) == 0 {
                interfere.write_in_between().await;
            }
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = http
            .request(method, format!("{}{target}", interfere.vault_addr))
            .body(body);
        for (k, v) in &headers {
            if k.starts_with("x-vault") || k == "content-type" {
                request = request.header(k.as_str(), v.as_str());
            }
        }
        let Ok(answer) = request.send().await else {
            return;
        };
        let status = answer.status();
        let body = answer.bytes().await.unwrap_or_default();
        let reply = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("OK"),
            body.len()
        );
        if write.write_all(reply.as_bytes()).await.is_err() || write.write_all(&body).await.is_err()
        {
            return;
        }
    }
}

#[tokio::test]
async fn a_concurrent_write_is_detected_by_check_and_set_and_kept() {
    let env = TestEnv::new("push-cas").await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let relay_addr = format!("http://{}", listener.local_addr().unwrap());
    let interfere = Interfere {
        vault_addr: env.vault_addr.clone(),
        mount: env.kv_mount.clone(),
        path: env.path("raced"),
        token: secrecy::ExposeSecret::expose_secret(&env.root_token()).to_owned(),
        done: Arc::default(),
        writes: Arc::default(),
    };
    let relay_task = tokio::spawn(relay(listener, interfere.clone()));
    let agent = start_agent(&env).await;
    put_v2(&env, "raced", json!({ "first": "v1" }), true).await;
    // The push store, reaching OpenBao through the relay.
    push_store(&env, "direct", Kv::v2(&env), &["*"]).await;
    let store: Value = json!({
        "metadata": { "name": "relayed" },
        "spec": { "controller": env.prefix, "provider": { "vault": {
            "server": relay_addr, "path": env.kv_mount, "version": "v2",
            "auth": { "tokenSecretRef": { "name": "direct-token", "key": "token" } } } } }
    });
    crate::support::common::create(&env, "v1", "SecretStore", store).await;
    source(&env, "src", &[("mine", "pushed-1")]).await;
    push_secret(&env, "ps", json!({
        "secretStoreRefs": [{ "name": "relayed" }],
        "selector": { "secret": { "name": "src" } },
        "data": [ { "match": { "secretKey": "mine", "remoteRef": { "remoteKey": env.path("raced"), "property": "mine" } } } ]
    }))
    .await;
    wait_push(&env, "ps", "True").await;
    let kv = Kv::v2(&env);
    assert_eq!(
        Value::Object(vault_data(&env, kv, "raced").await.unwrap()),
        json!({ "first": "v1", "theirs": "written-in-between", "mine": "pushed-1" }),
        "neither write is lost"
    );
    // Version 2 is the other writer's, as it wrote it: the agent's first write (cas=1) was
    // refused, not applied over it; version 3 is the agent's retry on top of it.
    assert_eq!(version(&env, "raced").await.0, 3);
    let v2 = env
        .vault
        .kv_read(&env.kv_mount, &env.path("raced"), KvVersion::V2, Some(2))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Value::Object(v2.data.expose().clone()),
        json!({ "first": "v1", "theirs": "written-in-between" })
    );
    assert_eq!(
        interfere.writes.load(Ordering::SeqCst),
        2,
        "one refused write, one retry"
    );
    agent.stop().await;
    relay_task.abort();
}
