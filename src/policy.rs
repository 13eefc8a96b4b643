//! `ferry policy render` and `ferry policy lint`: parameters from bootstrap.yaml, overridden by
//! flags, handed to the `ferry-policy` crate.

use anyhow::Context;
use ferry_policy::{LintConfig, PolicyParams, Template};

use clap::{Args, Subcommand};

/// `ferry policy` subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Render a policy template with parameters from bootstrap.yaml, overridden by flags.
    Render(PolicyRenderArgs),
    /// Parse and lint HCL policies; exits 1 when there are findings.
    Lint(PolicyLintArgs),
}

/// Where policy parameters come from: bootstrap.yaml, then these flags.
#[derive(Debug, Args)]
pub struct PolicyParamArgs {
    /// bootstrap.yaml to take the parameters from.
    #[arg(long, env = "FERRY_BOOTSTRAP_CONFIG")]
    pub config: Option<std::path::PathBuf>,
    /// The KV mount (overrides bootstrap.yaml; default `secret`).
    #[arg(long, env = "FERRY_KV_MOUNT")]
    pub mount: Option<String>,
    /// The KV version, 1 or 2 (overrides bootstrap.yaml; default 2).
    #[arg(long, env = "FERRY_KV_VERSION")]
    pub kv_version: Option<String>,
    /// The Kubernetes auth mount (overrides bootstrap.yaml; default `kubernetes`).
    #[arg(long, env = "FERRY_KUBERNETES_MOUNT")]
    pub kubernetes_mount: Option<String>,
    /// The Kubernetes auth mount's accessor (for the namespace-scoped template).
    #[arg(long, env = "FERRY_KUBERNETES_ACCESSOR")]
    pub kubernetes_accessor: Option<String>,
    /// The app (from bootstrap.yaml, or named here with --path) for app-readonly.
    #[arg(long)]
    pub app: Option<String>,
    /// KV paths: the app's paths for app-readonly, the agent's for agent, the written ones for
    /// bootstrap, the pushed ones for push (replaces what bootstrap.yaml gives). Repeatable.
    #[arg(long = "path")]
    pub paths: Vec<String>,
}

/// Flags of `ferry policy render`.
#[derive(Debug, Args)]
pub struct PolicyRenderArgs {
    /// The template: agent, bootstrap, app-readonly, namespace-scoped or push.
    pub template: String,
    /// Render a template from this directory instead of the built-in copy.
    #[arg(long, env = "FERRY_POLICY_DIR")]
    pub templates_dir: Option<std::path::PathBuf>,
    /// Parameters.
    #[command(flatten)]
    pub params: PolicyParamArgs,
}

/// Flags of `ferry policy lint`.
#[derive(Debug, Args)]
pub struct PolicyLintArgs {
    /// HCL policy files to lint.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Treat these files as read-only policies too (write capabilities are findings).
    #[arg(long)]
    pub read_only: Vec<String>,
    /// Treat these files as push stores' policies too (each pushed path needs read, create
    /// and update, and on KV v2 its metadata path read and update).
    #[arg(long)]
    pub push: Vec<String>,
    /// Parameters (the declared KV mount and Kubernetes auth mount come from here).
    #[command(flatten)]
    pub params: PolicyParamArgs,
}

/// Prints the rendered template on stdout.
pub fn render(args: PolicyRenderArgs) -> anyhow::Result<()> {
    let template: Template = args.template.parse()?;
    let params = params(&args.params, Some(template))?;
    let source = template.load(args.templates_dir.as_deref())?;
    print!(
        "{}",
        ferry_policy::render_source(template, &source, &params)?
    );
    Ok(())
}

/// Prints one `file:line: rule: message` line per finding; returns whether the files are clean.
pub fn lint(args: PolicyLintArgs) -> anyhow::Result<bool> {
    let params = params(&args.params, None)?;
    let mut rules = LintConfig::for_params(&params);
    for file in &args.read_only {
        rules = rules.with_read_only(file.clone());
    }
    for file in &args.push {
        rules = rules.with_push(file.clone());
    }
    let mut clean = true;
    for path in &args.files {
        let source =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        for finding in ferry_policy::lint(&source, &name, &rules) {
            clean = false;
            println!(
                "{}:{}: {}: {}",
                path.display(),
                finding.line,
                finding.rule,
                finding.message
            );
        }
    }
    Ok(clean)
}

fn params(args: &PolicyParamArgs, template: Option<Template>) -> anyhow::Result<PolicyParams> {
    let app_from_config = args.app.as_deref().filter(|_| args.paths.is_empty());
    let mut params = match &args.config {
        Some(path) => {
            let cfg = ferry_config::load(path)?;
            PolicyParams::from_config(&cfg, app_from_config)?
        }
        None => PolicyParams::default(),
    };
    if let Some(mount) = &args.mount {
        params.mount = mount.clone();
    }
    if let Some(version) = &args.kv_version {
        params.kv_version = version.parse().map_err(anyhow::Error::msg)?;
    }
    if let Some(mount) = &args.kubernetes_mount {
        params.kubernetes_mount = mount.clone();
    }
    if let Some(accessor) = &args.kubernetes_accessor {
        params.kubernetes_accessor = Some(accessor.clone());
    }
    if !args.paths.is_empty() {
        match template {
            Some(Template::Bootstrap) => params.bootstrap_paths = args.paths.clone(),
            Some(Template::Push) => params.push_paths = args.paths.clone(),
            Some(Template::AppReadonly) => {
                let name = args
                    .app
                    .clone()
                    .context("--path for app-readonly needs --app NAME")?;
                params.app = Some(ferry_policy::AppParams {
                    name,
                    paths: args.paths.clone(),
                });
            }
            _ => params.agent_paths = args.paths.clone(),
        }
    }
    Ok(params)
}
