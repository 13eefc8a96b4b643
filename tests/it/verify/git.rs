//! `ferry verify`, Git half, against a real repository built with the `git` CLI: 10,000 clean
//! blobs of realistic text (manifests, code, docs, base64- and hex-looking strings, a fully
//! SOPS-encrypted Secret, look-alike tokens that fail their checks) plus planted secrets in the
//! places `git log -p` misses: a merge result, a deleted file, an unreachable blob, base64 inside
//! a Secret's `data:`. Every plant must be found with the right rule, path and commit; nothing
//! else may be; and no report format may contain any planted value or its base64.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use ferry_verify::{
    Allowlist, Baseline, Finding, Format, GitScanOptions, KnownValue, Location, Scanner, rules,
    scan_git, write_report,
};
use secrecy::SecretString;

use corpus::{Rng, TempDir, git, write};

/// The planted secrets and what must be found.
struct Plants {
    known: Vec<String>,
    github_token: String,
    pem_body: Vec<String>,
    sops_leaf: String,
    merge_commit: String,
    side_commit: String,
    deleted_in: String,
    unreachable_blob: String,
}

fn plant(repo: &Path, rng: &mut Rng) -> Plants {
    let known: Vec<String> = (0..6).map(|_| rng.token(24)).collect();

    // 1. A side branch commits known[0] into config/b.yaml while main changes another line of
    //    the same file: the auto-merged blob exists only in the merge commit's tree. The merge
    //    also resolves a conflict in config/a.yaml with known[1] (an "evil merge").
    let base_b = "mode: base\nreplicas: 2\na: 1\nb: 2\nc: 3\nlogLevel: info\n";
    write(repo, "config/a.yaml", "image: app:1.0\n");
    write(repo, "config/b.yaml", base_b);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "config"]);
    git(repo, &["checkout", "-qb", "side"]);
    write(repo, "config/a.yaml", "image: app:1.1-side\n");
    let side_b = base_b.replace("replicas: 2", &format!("apiPassword: {}", known[0]));
    write(repo, "config/b.yaml", &side_b);
    git(repo, &["commit", "-qam", "side: tune"]);
    let side_commit = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["checkout", "-q", "main"]);
    write(repo, "config/a.yaml", "image: app:1.1-main\n");
    write(repo, "config/b.yaml", &base_b.replace("info", "debug"));
    git(repo, &["commit", "-qam", "main: tune"]);
    let merge = Command::new("git")
        .args(["merge", "-q", "--no-ff", "side", "-m", "merge side"])
        .current_dir(repo)
        .envs(corpus::GIT_ENV.iter().copied())
        .output()
        .expect("git merge runs");
    assert!(!merge.status.success(), "config/a.yaml must conflict");
    let resolved = format!("image: app:1.1\nregistryPassword: {}\n", known[1]);
    write(repo, "config/a.yaml", &resolved);
    git(repo, &["add", "config/a.yaml", "config/b.yaml"]);
    git(repo, &["commit", "-qm", "merge side"]);
    let merge_commit = git(repo, &["rev-parse", "HEAD"]);

    // 2. A file with known[2] that a later commit deletes.
    let env = format!("DB_USER=app\nDB_PASSWORD={}\n", known[2]);
    write(repo, "old/credentials.env", &env);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "add credentials"]);
    let deleted_in = git(repo, &["rev-parse", "HEAD"]);
    git(repo, &["rm", "-q", "old/credentials.env"]);
    git(repo, &["commit", "-qm", "remove credentials"]);

    // 3. known[3] only base64-encoded in a Secret's data:.
    let b64 = STANDARD.encode(&known[3]);
    let manifest = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\ntype: Opaque\n\
         data:\n  password: {b64}\n"
    );
    write(repo, "deploy/db-secret.yaml", &manifest);
    // 4. A SOPS file with one plaintext leaf.
    let sops_leaf = rng.token(18);
    let sops = corpus::sops_secret("api", Some(&sops_leaf), rng);
    write(repo, "deploy/sops-secret.yaml", &sops);
    // 5. A GitHub token whose checksum verifies.
    let random = rng.token(30);
    let checksum = ferry_verify::github_checksum(random.as_bytes());
    let github_token = [corpus::GHP, &random, &String::from_utf8_lossy(&checksum)].concat();
    let script = format!("#!/bin/sh\nset -eu\nexport GITHUB_TOKEN={github_token}\n");
    write(repo, "scripts/ci.sh", &script);
    // 6. A private key.
    let pem_body: Vec<String> = (0..6).map(|_| rng.base64(64)).collect();
    let key = format!(
        "{} EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n",
        corpus::BEGIN,
        pem_body.join("\n")
    );
    write(repo, "certs/tls.key", &key);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-qm", "deploy"]);

    // 7. An unreachable blob holding known[4].
    let dangling = format!("token = {}\n", known[4]);
    write(repo, ".git/dangling.txt", &dangling);
    let unreachable_blob = git(repo, &["hash-object", "-w", ".git/dangling.txt"]);
    Plants {
        known,
        github_token,
        pem_body,
        sops_leaf,
        merge_commit,
        side_commit,
        deleted_in,
        unreachable_blob,
    }
}

/// Builds the repository: clean corpus (packed by `git gc`), then the plants (loose objects).
fn build(dir: &Path) -> (PathBuf, Plants) {
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"]);
    let mut rng = Rng::new(0x5eed_f00d);
    let clean = corpus::write_clean_corpus(&repo, &mut rng, 10_000);
    assert!(clean >= 10_000, "{clean} clean blobs");
    git(&repo, &["gc", "-q"]);
    let plants = plant(&repo, &mut rng);
    (repo, plants)
}

fn scanner(p: &Plants) -> Scanner {
    let values = p
        .known
        .iter()
        .enumerate()
        .map(|(i, v)| {
            KnownValue::labelled(format!("kv/apps/v{i}#value"), SecretString::from(v.clone()))
        })
        .collect();
    Scanner::with_labels(values).expect("scanner")
}

/// (rule, path, is-git) of each finding.
fn summary(findings: &[Finding]) -> BTreeSet<(String, String, bool)> {
    findings
        .iter()
        .map(|f| {
            let path = f.location.path().unwrap_or_default().to_string();
            let git = matches!(f.location, Location::Git { .. });
            (f.rule.clone(), path, git)
        })
        .collect()
}

fn git_commit_of<'a>(findings: &'a [Finding], rule: &str, path: &str) -> Vec<Option<&'a str>> {
    findings
        .iter()
        .filter(|f| f.rule == rule && f.location.path() == Some(path))
        .filter_map(|f| match &f.location {
            Location::Git { commit, .. } => Some(commit.as_deref()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_plant_found_nothing_else_and_no_value_in_any_report() {
    let tmp = TempDir::new("verify-git");
    let (repo, p) = build(tmp.path());
    let scan = scan_git(&repo, &scanner(&p), &GitScanOptions::default()).expect("scan");
    let f = &scan.findings;
    assert!(scan.stats.blobs >= 10_000, "{:?}", scan.stats);

    let unreachable = format!("unreachable blob {}", p.unreachable_blob);
    let s = |rule: &str, path: &str, git: bool| (rule.to_string(), path.to_string(), git);
    let mut expected = BTreeSet::new();
    for (rule, path, in_worktree) in [
        (rules::KNOWN_VALUE, "config/b.yaml", true),
        (rules::KNOWN_VALUE, "config/a.yaml", true),
        (rules::KNOWN_VALUE, "old/credentials.env", false),
        (rules::KNOWN_VALUE, "deploy/db-secret.yaml", true),
        (rules::K8S_SECRET_MANIFEST, "deploy/db-secret.yaml", true),
        (rules::SOPS_PLAINTEXT_LEAF, "deploy/sops-secret.yaml", true),
        (rules::GITHUB_TOKEN, "scripts/ci.sh", true),
        (rules::PRIVATE_KEY, "certs/tls.key", true),
        (rules::KNOWN_VALUE, unreachable.as_str(), false),
    ] {
        expected.insert(s(rule, path, true));
        if in_worktree {
            expected.insert(s(rule, path, false));
        }
    }
    assert_eq!(summary(f), expected, "findings:\n{}", display_all(f));

    // Attribution: the merge result, the side branch, the commit that added the deleted file.
    let b = git_commit_of(f, rules::KNOWN_VALUE, "config/b.yaml");
    assert!(b.contains(&Some(p.merge_commit.as_str())), "{b:?}");
    assert!(b.contains(&Some(p.side_commit.as_str())), "{b:?}");
    let a = git_commit_of(f, rules::KNOWN_VALUE, "config/a.yaml");
    assert_eq!(a, vec![Some(p.merge_commit.as_str())]);
    let old = git_commit_of(f, rules::KNOWN_VALUE, "old/credentials.env");
    assert_eq!(old, vec![Some(p.deleted_in.as_str())]);
    assert_eq!(
        git_commit_of(f, rules::KNOWN_VALUE, &unreachable),
        vec![None]
    );
    for finding in f {
        if let Location::Git {
            commit, path, line, ..
        } = &finding.location
        {
            assert!(commit.is_some() || *path == unreachable, "{finding}");
            assert!(line.is_some_and(|l| l >= 1), "{finding}");
        }
    }
    let secret_line = f
        .iter()
        .find(|x| x.rule == rules::K8S_SECRET_MANIFEST)
        .map(|x| x.location.line());
    assert_eq!(secret_line, Some(Some(8)));

    // No value, prefix-free: nothing planted (nor its base64) appears in any output.
    let mut forbidden: Vec<String> = vec![p.github_token.clone(), p.sops_leaf.clone()];
    forbidden.extend(p.pem_body.iter().cloned());
    for v in &p.known {
        forbidden.push(v.clone());
        for e in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            forbidden.push(e.encode(v));
        }
    }
    let mut outputs = vec![display_all(f)];
    for format in [Format::Table, Format::Json, Format::Sarif] {
        let mut out = Vec::new();
        write_report(f, format, &mut out).expect("report");
        outputs.push(String::from_utf8(out).expect("utf8"));
    }
    outputs.push(format!("{f:?}"));
    for out in &outputs {
        for value in &forbidden {
            assert!(
                !out.contains(value.as_str()),
                "a planted value leaked into a report"
            );
        }
    }
    assert!(outputs[0].contains("kv/apps/v0#value"), "labels are shown");

    // Allowlist: the key is a deliberate fixture.
    let allow = Allowlist::from_yaml(
        "allow:\n  - rule: private-key\n    path: \"certs/*.key\"\n    reason: test fixture\n",
    )
    .expect("allowlist");
    let (kept, suppressed) = allow.apply(f.clone());
    assert_eq!(suppressed, 2);
    assert!(kept.iter().all(|x| x.rule != rules::PRIVATE_KEY));

    // Baseline: today's report suppresses everything old; a new plant is still reported.
    let mut json = Vec::new();
    write_report(f, Format::Json, &mut json).expect("json");
    let baseline =
        Baseline::from_json(std::str::from_utf8(&json).expect("utf8")).expect("baseline");
    write(&repo, "infra/backup.env", &format!("KEY={}\n", p.known[5]));
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-qm", "backup"]);
    let again = scan_git(&repo, &scanner(&p), &GitScanOptions::default()).expect("rescan");
    let (new, old_count) = baseline.apply(again.findings);
    assert_eq!(old_count, f.len());
    assert_eq!(
        summary(&new),
        BTreeSet::from([
            s(rules::KNOWN_VALUE, "infra/backup.env", true),
            s(rules::KNOWN_VALUE, "infra/backup.env", false),
        ]),
        "{}",
        display_all(&new)
    );
}

fn display_all(f: &[Finding]) -> String {
    f.iter().map(|x| format!("{x}\n")).collect()
}

/// Repository plumbing and the clean corpus.
mod corpus {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Pieces kept apart so that no token or key header appears whole in this source file.
    pub const GHP: &str = "ghp_";
    pub const BEGIN: &str = "-----BEGIN";

    /// A hermetic git: no user or system config, no signing, no background gc.
    pub const GIT_ENV: &[(&str, &str)] = &[
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_AUTHOR_NAME", "Ferry Test"),
        ("GIT_AUTHOR_EMAIL", "test@example.com"),
        ("GIT_COMMITTER_NAME", "Ferry Test"),
        ("GIT_COMMITTER_EMAIL", "test@example.com"),
        ("GIT_CONFIG_COUNT", "2"),
        ("GIT_CONFIG_KEY_0", "gc.auto"),
        ("GIT_CONFIG_VALUE_0", "0"),
        ("GIT_CONFIG_KEY_1", "maintenance.auto"),
        ("GIT_CONFIG_VALUE_1", "false"),
    ];

    /// Runs git in `dir`, asserts success, returns trimmed stdout.
    pub fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(args)
            .current_dir(dir)
            .envs(GIT_ENV.iter().copied())
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Writes a file, creating its directories.
    pub fn write(repo: &Path, rel: &str, text: &str) {
        let path = repo.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    /// A directory removed on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new(prefix: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let dir = std::env::temp_dir().join(format!("{prefix}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("tempdir");
            Self(dir)
        }
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// xorshift64*, deterministic.
    pub struct Rng(u64);

    const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    impl Rng {
        pub fn new(seed: u64) -> Self {
            Self(seed | 1)
        }
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn from(&mut self, alphabet: &[u8], n: usize) -> String {
            (0..n)
                .map(|_| char::from(alphabet[self.below(alphabet.len())]))
                .collect()
        }
        pub fn token(&mut self, n: usize) -> String {
            self.from(B62, n)
        }
        pub fn base64(&mut self, n: usize) -> String {
            self.from(B64, n)
        }
        fn hex(&mut self, n: usize) -> String {
            self.from(b"0123456789abcdef", n)
        }
        fn word(&mut self) -> &'static str {
            const W: &str = "vault secret token sync store policy cluster flux value rollout ready \
                             status refresh namespace the of and when";
            let words: Vec<&'static str> = W.split_whitespace().collect();
            words[self.below(words.len())]
        }
        fn words(&mut self, n: usize) -> String {
            (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
        }
    }

    /// A SOPS-encrypted Secret; with `plaintext`, one stringData leaf is left unencrypted.
    pub fn sops_secret(name: &str, plaintext: Option<&str>, rng: &mut Rng) -> String {
        let enc = |rng: &mut Rng| {
            let (d, iv, tag) = (rng.base64(24), rng.base64(22), rng.base64(22));
            format!("ENC[AES256_GCM,data:{d},iv:{iv},tag:{tag},type:str]")
        };
        let (password, username, mac) = (enc(rng), enc(rng), enc(rng));
        let leaf = plaintext.map_or_else(|| enc(rng), str::to_string);
        let (recipient, armor) = (rng.hex(58), rng.base64(64));
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: apps\ntype: Opaque\n\
             data:\n  password: {password}\n  username: {username}\nstringData:\n  api-key: {leaf}\n\
             sops:\n  age:\n    - recipient: age1{recipient}\n      enc: |\n        \
             {BEGIN} AGE ENCRYPTED FILE-----\n        {armor}\n        -----END AGE ENCRYPTED FILE-----\n  \
             lastmodified: \"2026-01-01T00:00:00Z\"\n  mac: {mac}\n  \
             encrypted_regex: ^(data|stringData)$\n  version: 3.9.4\n"
        )
    }

    /// Clean file templates: realistic text with base64- and hex-looking strings and look-alikes
    /// of every token rule that must not fire. `{…}` placeholders are filled per file.
    const FILES: &str = "deploy.yaml config.yaml externalsecret.yaml lib.rs server.go guide.md \
                         job.py run.sh";
    const BODIES: [&str; 8] = [
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: svc-{n}\n  \
          annotations:\n    checksum/config: {h64}\nspec:\n  template:\n    spec:\n      containers:\n  \
          - name: app\n          image: ghcr.io/acme/app@sha256:{h64}\n          env:\n            \
          - name: VAULT_ADDR\n              value: https://vault.example.com:8200\n",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg-{n}\ndata:\n  \
          note: {words}\nbinaryData:\n  ca.crt: {b240}\n",
        "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata:\n  \
          name: es-{n}\nspec:\n  refreshInterval: 1h\n  secretStoreRef:\n    kind: SecretStore\n    \
          name: vault\n  target:\n    name: db-{n}\n  data:\n    - secretKey: password\n      remoteRef:\n  \
          key: apps/db-{n}\n        property: password\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  \
          name: sa-{n}\n  annotations:\n    kubernetes.io/service-account.name: app\n\
          type: kubernetes.io/service-account-token\n",
        "//! {words}.\nconst DIGEST: &str = \"{h40}\";\n/// Example only; the checksum is wrong.\n\
          const FAKE: &str = \"{GHP}{t36}\";\nconst DOC_KEY: &str = \"{AKIA}IOSFODNN7EXAMPLE\";\n\
          pub fn f{n}(s: &str) -> usize { s.len() + s.trim().len() }\n",
        "package svc\n\n// Reconcile {words}.\n\
          func (s *Server) Reconcile{n}(ctx context.Context) error {\n\tid := \"{uuid}\"\n\t\
          return s.client.Get(ctx, s.key, s.obj, id)\n}\n",
        "# {words}\n\nKeys look like `{BEGIN} OPENSSH PRIVATE KEY-----` and never belong \
          in Git.\nUse `xoxb-your-token-here`, `glpat-xxxxxxxxxxxxxxxxxxxx` or `hvs.EXAMPLE` as \
          placeholders; the token s.{t6} is shown truncated.\n\n```\n{BEGIN} CERTIFICATE-----\n{b64}\n\
          -----END CERTIFICATE-----\n{BEGIN} PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n```\n\n\
          {h64} {words}.\n",
        "import base64, os\n# {words}\nBLOB = \"{b88}\"\nJWT_HEADER = \"eyJ{b64}\"\n\
          DB = os.environ[\"DB_PASSWORD\"]\nprint(base64.b64decode(BLOB)[:{n}])\n",
        "#!/bin/sh\n# {words}\nset -eu\nsha256sum -c <<EOF\n{h64}  release.tar.gz\nEOF\n\
          export VAULT_TOKEN=\"$(cat /run/secrets/token)\"\ngit checkout {h40}\n",
    ];

    /// One clean file: (path, content); every 48th is a fully SOPS-encrypted Secret.
    fn clean(n: usize, rng: &mut Rng) -> (String, String) {
        let file = FILES.split_whitespace().nth(n % 8).unwrap_or("x.txt");
        let template = BODIES[n % 8];
        let path = |file: &str| format!("apps/team{}/svc{}/{n}-{file}", n % 13, n % 97);
        if n % 48 == 6 {
            return (path("sops.yaml"), sops_secret(&format!("s{n}"), None, rng));
        }
        let uuid = [8, 4, 3, 3, 12].map(|k| rng.hex(k)).join("-");
        let fills = [
            ("{n}", n.to_string()),
            ("{h64}", rng.hex(64)),
            ("{h40}", rng.hex(40)),
            ("{b64}", rng.base64(64)),
            ("{b88}", rng.base64(88)),
            ("{b240}", rng.base64(240)),
            ("{t36}", rng.token(36)),
            ("{t6}", rng.token(6)),
            ("{words}", rng.words(12)),
            ("{uuid}", uuid),
            ("{GHP}", GHP.to_string()),
            ("{AKIA}", "AKIA".to_string()),
            ("{BEGIN}", BEGIN.to_string()),
        ];
        let body = fills
            .iter()
            .fold(template.to_string(), |t, (k, v)| t.replace(k, v));
        (path(file), body)
    }

    /// Writes `n` distinct clean files over ten commits; returns the number of blobs written.
    pub fn write_clean_corpus(repo: &Path, rng: &mut Rng, n: usize) -> usize {
        for batch in 0..10 {
            for i in (batch * n / 10)..((batch + 1) * n / 10) {
                let (path, mut text) = clean(i, rng);
                text.push_str(&format!("# id {i}\n"));
                write(repo, &path, &text);
            }
            git(repo, &["add", "-A"]);
            git(repo, &["commit", "-qm", &format!("batch {batch}")]);
        }
        let listed = git(repo, &["cat-file", "--batch-all-objects", "--batch-check"]);
        listed.lines().filter(|l| l.contains(" blob ")).count()
    }
}
