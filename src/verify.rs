//! `ferry verify`: the zero-secrets check over Git, the cluster and the environment, built on
//! the `ferry-verify` crate. Exit 0 clean, 1 findings, 2 error (a bad flag, an unreadable file,
//! Vault or the API server unreachable). Errors name the input; nothing printed carries a value.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use ferry_config::BootstrapConfig;
use ferry_vault::{KvVersion, Vault, VaultConfig};
use ferry_verify::{
    Allowlist, Baseline, ClusterScope, ExitStatus, Finding, Format, GitScanOptions, KnownEntry,
    KnownValue, RootToken, Scanner,
};
use secrecy::SecretString;

/// Flags of `ferry verify`. Every flag also reads the environment variable shown in `--help`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Git repository to scan (working tree and every blob in history).
    #[arg(long, env = "FERRY_VERIFY_REPO", default_value = ".")]
    pub repo: PathBuf,
    /// bootstrap.yaml: its `env` entries are the known values read from Vault and the variables
    /// that must be unset; its Flux and init bundle settings scope the cluster check.
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG")]
    pub config: Option<PathBuf>,
    /// Vault / OpenBao address (default: bootstrap.yaml `vault.address`).
    #[arg(long, env = "VAULT_ADDR")]
    pub vault_addr: Option<String>,
    /// Vault token that can read the known values (and look up the root token's accessor).
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true, value_parser = secret)]
    pub vault_token: Option<SecretString>,
    /// A known value to look for, read from Vault: `PATH#KEY` under `--kv-mount`. Repeatable.
    #[arg(
        long = "known-path",
        env = "FERRY_VERIFY_KNOWN_PATHS",
        value_delimiter = ','
    )]
    pub known_paths: Vec<String>,
    /// KV mount of `--known-path` (default: bootstrap.yaml `kv.mount`, else `secret`).
    #[arg(long, env = "FERRY_KV_MOUNT")]
    pub kv_mount: Option<String>,
    /// KV version of that mount (default: bootstrap.yaml `kv.version`, else v2).
    #[arg(long, env = "FERRY_KV_VERSION", value_enum)]
    pub kv_version: Option<KvVersionArg>,
    /// Take a known value from this environment variable (for CI). Repeatable.
    #[arg(
        long = "known-value-env",
        env = "FERRY_VERIFY_KNOWN_VALUE_ENV",
        value_delimiter = ','
    )]
    pub known_value_env: Vec<String>,
    /// Skip the Git check.
    #[arg(long, env = "FERRY_VERIFY_SKIP_GIT")]
    pub skip_git: bool,
    /// Skip the cluster check.
    #[arg(long, env = "FERRY_VERIFY_SKIP_CLUSTER")]
    pub skip_cluster: bool,
    /// Skip the environment check.
    #[arg(long, env = "FERRY_VERIFY_SKIP_ENV")]
    pub skip_env: bool,
    /// Scan the working tree only, not every blob in history.
    #[arg(long, env = "FERRY_VERIFY_NO_HISTORY")]
    pub no_history: bool,
    /// Working-tree paths to skip (glob), in addition to target/, node_modules/, .venv/ and
    /// the like. Repeatable.
    #[arg(long, env = "FERRY_VERIFY_EXCLUDE", value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// Kubeconfig file (default: the usual kubeconfig search, then in-cluster configuration).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Check only these namespaces (default: all). Repeatable.
    #[arg(
        long = "namespace",
        env = "FERRY_VERIFY_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Allowlist file (YAML, every entry with a reason).
    #[arg(long, env = "FERRY_VERIFY_ALLOWLIST")]
    pub allowlist: Option<PathBuf>,
    /// A previous JSON report whose findings are accepted.
    #[arg(long, env = "FERRY_VERIFY_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Report format.
    #[arg(long, env = "FERRY_VERIFY_FORMAT", value_enum, default_value_t = FormatArg::Table)]
    pub format: FormatArg,
    /// Write the report to this file instead of stdout.
    #[arg(long, env = "FERRY_VERIFY_OUTPUT")]
    pub output: Option<PathBuf>,
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    /// Aligned columns.
    Table,
    /// JSON, readable back with `--baseline`.
    Json,
    /// SARIF 2.1.0, for code-scanning UIs.
    Sarif,
}

/// KV engine versions.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KvVersionArg {
    /// KV version 1.
    V1,
    /// KV version 2.
    V2,
}

fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_owned()))
}

/// Runs the check; exit 0 clean, 1 findings, 2 error.
pub async fn run(args: VerifyArgs) -> ExitCode {
    match verify(args).await {
        Ok(status) => status.into(),
        Err(err) => {
            eprintln!("ferry verify: {err:#}");
            ExitStatus::Error.into()
        }
    }
}

async fn verify(args: VerifyArgs) -> anyhow::Result<ExitStatus> {
    let allowlist = args.allowlist.as_deref().map(Allowlist::load).transpose()?;
    let baseline = args.baseline.as_deref().map(Baseline::load).transpose()?;
    let config = match &args.config {
        Some(path) => Some(
            ferry_config::load(path)
                .with_context(|| format!("reading bootstrap config {}", path.display()))?,
        ),
        None => None,
    };
    let config = config.as_ref();
    let scans = !args.skip_git || !args.skip_cluster;
    let vault = vault(&args, config)?;
    let scanner = if scans {
        Scanner::with_labels(known_values(&args, config, vault.as_ref()).await?)?
    } else {
        Scanner::new(Vec::new())?
    };
    let mut findings = Vec::new();
    if !args.skip_git {
        findings.extend(git(&args, &scanner)?);
    }
    if !args.skip_cluster {
        findings.extend(cluster(&args, config, &scanner, vault.as_ref()).await?);
    }
    if !args.skip_env
        && let Some(config) = config
    {
        findings.extend(ferry_verify::check_env(&ferry_verify::bootstrap_env_names(
            config,
        )));
        if let Some(file) = &config.init.bundle.file {
            findings.extend(ferry_verify::check_init_bundle_file(file)?);
        }
    }
    ferry_verify::sort_findings(&mut findings);
    let (findings, allowed) = match &allowlist {
        Some(a) => a.apply(findings),
        None => (findings, 0),
    };
    let (findings, accepted) = match &baseline {
        Some(b) => b.apply(findings),
        None => (findings, 0),
    };
    write(&args, &findings)?;
    eprintln!(
        "ferry verify: {} finding(s); {allowed} allowlisted, {accepted} in the baseline",
        findings.len()
    );
    Ok(ExitStatus::from_findings(&findings))
}

/// A Vault client when an address is known; with the token when one was given.
fn vault(args: &VerifyArgs, config: Option<&BootstrapConfig>) -> anyhow::Result<Option<Vault>> {
    let addr = args
        .vault_addr
        .clone()
        .or_else(|| config.map(|c| c.vault.address.clone()));
    let Some(addr) = addr else {
        return Ok(None);
    };
    let mut cfg = VaultConfig::new(addr.clone());
    if let Some(vc) = config.map(|c| &c.vault) {
        if let Some(file) = &vc.ca_file {
            let pem = std::fs::read(file)
                .with_context(|| format!("reading vault.caFile {}", file.display()))?;
            cfg = cfg.with_ca_bundle(pem);
        }
        if let Some(pem) = &vc.ca_pem {
            cfg = cfg.with_ca_bundle(pem.as_bytes().to_vec());
        }
        if let Some(ns) = &vc.namespace {
            cfg = cfg.with_namespace(ns.clone());
        }
    }
    let vault = Vault::connect(&cfg).with_context(|| format!("connecting to Vault at {addr}"))?;
    Ok(args.vault_token.clone().map(|t| vault.with_token(t)))
}

/// Known values from bootstrap.yaml's `env` entries and `--known-path` (read from Vault) and
/// from `--known-value-env` variables.
async fn known_values(
    args: &VerifyArgs,
    config: Option<&BootstrapConfig>,
    vault: Option<&Vault>,
) -> anyhow::Result<Vec<KnownValue>> {
    let mut values = Vec::new();
    for name in &args.known_value_env {
        let value = std::env::var(name)
            .map(SecretString::from)
            .map_err(|_| anyhow::anyhow!("--known-value-env {name}: the variable is not set"))?;
        values.push(KnownValue::labelled(format!("env {name}"), value));
    }
    let (mount, version) = kv_target(args, config);
    let mut from_config = config.map(ferry_verify::known_entries).unwrap_or_default();
    for spec in &args.known_paths {
        let (path, key) = spec
            .rsplit_once('#')
            .filter(|(p, k)| !p.is_empty() && !k.is_empty())
            .with_context(|| format!("--known-path {spec:?}: expected PATH#KEY"))?;
        from_config.push(KnownEntry {
            path: path.to_owned(),
            key: key.to_owned(),
        });
    }
    if from_config.is_empty() {
        return Ok(values);
    }
    let Some(vault) = vault else {
        bail!(
            "{} known value(s) are to be read from Vault, but no Vault token was given \
             (--vault-addr / VAULT_ADDR and --vault-token / VAULT_TOKEN)",
            from_config.len()
        );
    };
    let read = ferry_verify::read_known_values(vault, &mount, version, &from_config).await?;
    for label in &read.too_short {
        eprintln!("ferry verify: {label} is too short to search for; not checked");
    }
    values.extend(read.values);
    Ok(values)
}

fn kv_target(args: &VerifyArgs, config: Option<&BootstrapConfig>) -> (String, KvVersion) {
    let mount = args
        .kv_mount
        .clone()
        .or_else(|| config.map(|c| c.kv.mount.clone()))
        .unwrap_or_else(|| "secret".to_owned());
    let version = match (args.kv_version, config) {
        (Some(KvVersionArg::V1), _) => KvVersion::V1,
        (Some(KvVersionArg::V2), _) => KvVersion::V2,
        (None, Some(c)) => ferry_verify::kv_version(c.kv.version),
        (None, None) => KvVersion::V2,
    };
    (mount, version)
}

fn git(args: &VerifyArgs, scanner: &Scanner) -> anyhow::Result<Vec<Finding>> {
    let mut options = GitScanOptions {
        history: !args.no_history,
        ..GitScanOptions::default()
    };
    options.exclude.extend(args.exclude.iter().cloned());
    let scan = ferry_verify::scan_git(&args.repo, scanner, &options)
        .with_context(|| format!("scanning the Git repository {}", args.repo.display()))?;
    let s = scan.stats;
    eprintln!(
        "ferry verify: Git: {} blobs ({} bytes) in the object store, {} working-tree files",
        s.blobs, s.blob_bytes, s.files
    );
    Ok(scan.findings)
}

async fn cluster(
    args: &VerifyArgs,
    config: Option<&BootstrapConfig>,
    scanner: &Scanner,
    vault: Option<&Vault>,
) -> anyhow::Result<Vec<Finding>> {
    let client = crate::kube_client::client(
        args.kubeconfig.as_deref(),
        crate::kube_client::Fallback::Infer {
            hint: "give --kubeconfig, or --skip-cluster",
        },
    )
    .await?;
    let mut scope = config.map(ClusterScope::from_config).unwrap_or_default();
    scope.namespaces.clone_from(&args.namespaces);
    let mut findings = ferry_verify::check_cluster(&client, scanner, &scope).await?;
    let state_ns = config.map_or("ferry-system", |c| c.agent.namespace.as_str());
    match vault {
        Some(vault) => {
            let status = ferry_verify::check_root_token(&client, vault, state_ns).await?;
            match &status {
                RootToken::Skipped { reason } => {
                    eprintln!("ferry verify: root token check skipped: {reason}");
                }
                RootToken::NotRecorded => eprintln!(
                    "ferry verify: root token check skipped: no accessor recorded in \
                     ConfigMap {state_ns}/{}",
                    ferry_verify::BOOTSTRAP_STATE_CONFIGMAP
                ),
                RootToken::Revoked | RootToken::Live => {}
            }
            findings.extend(status.finding(state_ns));
        }
        None => eprintln!("ferry verify: root token check skipped: no Vault token given"),
    }
    Ok(findings)
}

fn write(args: &VerifyArgs, findings: &[Finding]) -> anyhow::Result<()> {
    let format = match args.format {
        FormatArg::Table => Format::Table,
        FormatArg::Json => Format::Json,
        FormatArg::Sarif => Format::Sarif,
    };
    match &args.output {
        Some(path) => {
            let mut file = std::fs::File::create(path)
                .with_context(|| format!("creating the report file {}", path.display()))?;
            ferry_verify::write_report(findings, format, &mut file)?;
            file.flush()
                .with_context(|| format!("writing the report file {}", path.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            ferry_verify::write_report(findings, format, &mut out)?;
            out.flush().context("writing the report to stdout")?;
        }
    }
    Ok(())
}
