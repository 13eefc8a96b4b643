//! Benchmark driver for `scripts/bench-verify.sh` (build with `--release`).
//!
//! - `bench_verify generate <dir> [--mib N] [--seed S]`: creates a Git repository at `<dir>/repo`
//!   whose history holds about N MiB of blob versions of realistic text (YAML manifests, code,
//!   docs, with base64- and hex-looking strings), written with `git fast-import`. It also writes
//!   `<dir>/values.txt` (the benchmark's made-up known values, one per line) and
//!   `<dir>/patterns.txt` (those values verbatim and in the four base64 forms, for
//!   `grep -F -f`).
//! - `bench_verify scan <dir>`: scans every blob of `<dir>/repo` with those known values plus all
//!   token rules, on one thread, and prints blobs, bytes, seconds, MiB/s and the finding count.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use secrecy::SecretString;

type BoxError = Box<dyn std::error::Error>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: u64| -> Result<u64, BoxError> {
        match args.iter().position(|a| a == name) {
            Some(i) => Ok(args.get(i + 1).ok_or("flag needs a value")?.parse()?),
            None => Ok(default),
        }
    };
    match (args.first().map(String::as_str), args.get(1)) {
        (Some("generate"), Some(dir)) => {
            generate(Path::new(dir), flag("--mib", 200)?, flag("--seed", 7)?)
        }
        (Some("scan"), Some(dir)) => scan(Path::new(dir)),
        (Some("scan-memory"), Some(dir)) => scan_memory(Path::new(dir)),
        _ => Err("usage: bench_verify generate <dir> [--mib N] [--seed S] | scan <dir>".into()),
    }
}

fn scan(dir: &Path) -> Result<(), BoxError> {
    let values: Vec<SecretString> = std::fs::read_to_string(dir.join("values.txt"))?
        .lines()
        .map(|l| SecretString::from(l.to_string()))
        .collect();
    let scanner = ferry_verify::Scanner::new(values)?;
    let start = Instant::now();
    let scan = ferry_verify::scan_history(&dir.join("repo"), &scanner)?;
    let secs = start.elapsed().as_secs_f64();
    let mib = scan.stats.blob_bytes as f64 / (1024.0 * 1024.0);
    println!(
        "blobs={} blob_bytes={} commits={} seconds={secs:.3} mib_per_s={:.1} findings={}",
        scan.stats.blobs,
        scan.stats.blob_bytes,
        scan.stats.commits,
        mib / secs,
        scan.findings.len()
    );
    Ok(())
}

/// The scanner alone: every blob is read into memory first (with `git cat-file`), then scanned.
fn scan_memory(dir: &Path) -> Result<(), BoxError> {
    let values: Vec<SecretString> = std::fs::read_to_string(dir.join("values.txt"))?
        .lines()
        .map(|l| SecretString::from(l.to_string()))
        .collect();
    let scanner = ferry_verify::Scanner::new(values)?;
    let out = Command::new("git")
        .args(["cat-file", "--batch-all-objects", "--batch", "--unordered"])
        .current_dir(dir.join("repo"))
        .output()?;
    let mut blobs: Vec<&[u8]> = Vec::new();
    let mut rest = &out.stdout[..];
    while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
        let header = std::str::from_utf8(&rest[..nl])?;
        let size: usize = header.rsplit(' ').next().ok_or("header")?.parse()?;
        let body = &rest[nl + 1..nl + 1 + size];
        if header.contains(" blob ") {
            blobs.push(body);
        }
        rest = &rest[nl + 2 + size..];
    }
    let bytes: usize = blobs.iter().map(|b| b.len()).sum();
    let start = Instant::now();
    let hits: usize = blobs.iter().map(|b| scanner.scan(b).len()).sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "scanner only: blobs={} bytes={bytes} seconds={secs:.3} mib_per_s={:.1} hits={hits}",
        blobs.len(),
        bytes as f64 / (1024.0 * 1024.0) / secs
    );
    Ok(())
}

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[self.below(alphabet.len() as u64) as usize]))
            .collect()
    }
}

const WORDS: &[&str] = &[
    "cluster",
    "secret",
    "vault",
    "token",
    "policy",
    "reconcile",
    "namespace",
    "deploy",
    "service",
    "config",
    "operator",
    "rollout",
    "status",
    "ready",
    "flux",
    "source",
    "kustomize",
    "helm",
    "release",
    "value",
    "store",
    "external",
    "sync",
    "refresh",
    "interval",
    "the",
    "a",
    "of",
    "and",
    "to",
    "is",
    "for",
    "with",
    "when",
    "every",
    "path",
    "data",
    "key",
    "mount",
    "role",
];
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const HEX: &[u8] = b"0123456789abcdef";

fn sentence(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| rng.pick(WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One version of the file at `path`, about `target` bytes.
fn content(rng: &mut Rng, path: &str, target: usize) -> String {
    let mut s = String::with_capacity(target + 256);
    let name = format!("{}-{}", rng.pick(WORDS), rng.below(1000));
    while s.len() < target {
        if path.ends_with(".yaml") {
            s += &format!(
                "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  \
                 annotations:\n    checksum/config: {}\nspec:\n  replicas: {}\n  template:\n    \
                 spec:\n      containers:\n        - name: app\n          image: \
                 registry.example.com/{name}@sha256:{}\n          env:\n            - name: MODE\n    \
                          value: {}\n",
                rng.chars(HEX, 64),
                rng.below(5) + 1,
                rng.chars(HEX, 64),
                rng.pick(WORDS),
            );
            s += &format!(
                "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-ca\ndata:\n  \
                 note: {}\nbinaryData:\n  bundle: {}\n",
                sentence(rng, 8),
                rng.chars(B64, 120)
            );
        } else if path.ends_with(".rs") {
            s += &format!(
                "/// {}.\npub fn {}_{}(input: &str) -> Result<u64, Error> {{\n    let digest = \
                 \"{}\";\n    let s = input.trim();\n    if s.is_empty() {{ return Err(Error::Empty); }}\n    \
                 Ok(s.len() as u64 + {})\n}}\n\n",
                sentence(rng, 10),
                rng.pick(WORDS),
                rng.below(10_000),
                rng.chars(HEX, 40),
                rng.below(100)
            );
        } else {
            s += &format!(
                "## {}\n\n{}. {}.\n\n```yaml\nref: {}\nid: {}\n```\n\n",
                sentence(rng, 4),
                sentence(rng, 20),
                sentence(rng, 14),
                rng.chars(HEX, 40),
                rng.chars(B64, 44)
            );
        }
    }
    s
}

fn generate(dir: &Path, mib: u64, seed: u64) -> Result<(), BoxError> {
    let repo: PathBuf = dir.join("repo");
    std::fs::create_dir_all(&repo)?;
    run(Command::new("git")
        .args(["init", "-q", "-b", "main"])
        .arg(&repo))?;
    let mut rng = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let values: Vec<String> = (0..20).map(|_| rng.chars(&B64[..62], 24)).collect();
    std::fs::write(dir.join("values.txt"), values.join("\n") + "\n")?;
    let mut patterns = String::new();
    for v in &values {
        patterns += &format!("{v}\n");
        for e in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            patterns += &format!("{}\n", e.encode(v));
        }
    }
    std::fs::write(dir.join("patterns.txt"), patterns)?;

    // Each path gets `versions` versions, each a small edit of the one before, written
    // consecutively so fast-import stores them as deltas, as `git gc` would.
    const AVG: u64 = 2150;
    let budget = mib * 1024 * 1024;
    let path_count = (budget / (AVG * 2)).clamp(1, 5000) as usize;
    let versions = (budget / (path_count as u64 * AVG)).max(1) as usize;
    let exts = [".yaml", ".rs", ".md"];
    let paths: Vec<String> = (0..path_count)
        .map(|i| format!("apps/team{}/svc{}/file{i}{}", i % 17, i % 101, exts[i % 3]))
        .collect();
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(&repo)
        .stdin(Stdio::piped())
        .spawn()?;
    let mut stdin = std::io::BufWriter::new(child.stdin.take().ok_or("no stdin")?);
    let mut written = 0u64;
    for (p, path) in paths.iter().enumerate() {
        let size = 512 + rng.below(2560) as usize;
        let mut lines: Vec<String> = content(&mut rng, path, size)
            .lines()
            .map(str::to_string)
            .collect();
        for v in 0..versions {
            if v > 0 {
                for _ in 0..3 {
                    let at = rng.below(lines.len() as u64) as usize;
                    lines[at] = format!("# {} {}", sentence(&mut rng, 5), rng.chars(HEX, 12));
                }
            }
            if p % 997 == 1 && v == versions / 2 {
                lines.push(format!("password: {}", values[p % values.len()]));
            }
            let body = lines.join("\n") + "\n";
            written += body.len() as u64;
            let mark = p * versions + v + 1;
            write!(stdin, "blob\nmark :{mark}\ndata {}\n{body}\n", body.len())?;
        }
    }
    let mut commits = 0u64;
    for v in 0..versions {
        for group in 0..10 {
            let msg = format!("version {v} of group {group}");
            write!(
                stdin,
                "commit refs/heads/main\ncommitter Bench <bench@example.com> {} +0000\ndata {}\n{msg}\n",
                1_700_000_000 + commits * 60,
                msg.len()
            )?;
            for p in (group..path_count).step_by(10) {
                writeln!(stdin, "M 100644 :{} {}", p * versions + v + 1, paths[p])?;
            }
            commits += 1;
        }
    }
    stdin.flush()?;
    drop(stdin);
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("git fast-import failed: {status}").into());
    }
    println!(
        "generated {commits} commits, {} blobs, {} MiB of blob versions",
        path_count * versions,
        written >> 20
    );
    Ok(())
}

fn run(cmd: &mut Command) -> Result<(), BoxError> {
    let status = cmd.status()?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{cmd:?} failed: {status}").into())
    }
}
