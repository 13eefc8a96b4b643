//! `ferry policy render` and `ferry policy lint`: parameters from bootstrap.yaml, overridden by
//! flags, handed to the `ferry-policy` crate.

use anyhow::Context;
use ferry_policy::{LintConfig, PolicyParams, Template};

use crate::cli::{PolicyLintArgs, PolicyParamArgs, PolicyRenderArgs};

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
