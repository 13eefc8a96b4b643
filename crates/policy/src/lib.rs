//! Ferry's least-privilege Vault / OpenBao policy templates, their renderer
//! and a linter that parses the real HCL.
//!
//! # Templates
//!
//! [`Template`] names the five templates of the repository's `policies/`
//! directory (`agent`, `bootstrap`, `app-readonly`, `namespace-scoped`,
//! `push`). They are compiled in ([`Template::source`]) and can also be read
//! from a directory of edited copies ([`Template::read_from`]).
//!
//! # Parameter syntax
//!
//! Ferry's parameters use double square brackets, so Vault's own
//! `{{identity...}}` templating is never touched:
//!
//! - `[[ name ]]` is replaced by the parameter's value;
//! - a comment line holding only `# [[ for path in agent_paths ]]` repeats
//!   the lines up to its `# [[ end ]]` once per list item, binding
//!   `[[ path ]]`; `# [[ if kv_v2 ]]` keeps them only when the flag is set.
//!   Directives nest, and their lines are dropped from the output.
//!
//! Parameters come from [`PolicyParams`]. Using a missing one, iterating an
//! empty list, or substituting a value with a character that could escape its
//! HCL string is a [`PolicyError::Render`] naming the template, the line and
//! the parameter.
//!
//! # Lint
//!
//! [`lint`] parses a policy with `hcl-edit` and reports [`Finding`]s
//! (`file:line: rule: message`) for the [`Rule`]s: `parse`,
//! `invalid-policy`, `sudo`, `root-glob`, `write-in-read-only`,
//! `outside-mount`, `unknown-capability`, `push-missing-capability`,
//! `write-whole-mount`. [`LintConfig::for_params`] is the
//! configuration matching the rendered templates.
//!
//! ```
//! use ferry_policy::{LintConfig, PolicyParams, Template, lint, render};
//!
//! let params = PolicyParams {
//!     agent_paths: vec!["apps/*".into()],
//!     ..PolicyParams::default()
//! };
//! let hcl = render(Template::Agent, &params)?;
//! assert!(hcl.contains(r#"path "secret/data/apps/*""#));
//! let findings = lint(&hcl, "agent.hcl", &LintConfig::for_params(&params));
//! assert!(findings.is_empty());
//! # Ok::<(), ferry_policy::PolicyError>(())
//! ```

mod error;
mod lint;
mod lint_push;
mod params;
mod parse;
mod render;
mod template;

pub use error::PolicyError;
pub use lint::{Finding, KNOWN_CAPABILITIES, LintConfig, Rule, WRITE_CAPABILITIES, lint};
pub use params::{AppParams, KvVersion, PolicyParams};
pub use parse::{Capability, PathRule, Policy, parse};
pub use template::Template;

/// Renders the compiled-in `template` with `params`.
pub fn render(template: Template, params: &PolicyParams) -> Result<String, PolicyError> {
    render_source(template, template.source(), params)
}

/// Renders `source`, a (possibly edited) copy of `template`, with `params`.
/// Errors name the template by its file name.
pub fn render_source(
    template: Template,
    source: &str,
    params: &PolicyParams,
) -> Result<String, PolicyError> {
    render::render_source(template.file_name(), source, params)
}

/// Renders like [`render_source`], then lints the result with
/// [`LintConfig::for_params`]: a policy with any finding is a
/// [`PolicyError::Lint`] instead. What bootstrap writes goes through this.
pub fn render_checked(
    template: Template,
    source: &str,
    params: &PolicyParams,
) -> Result<String, PolicyError> {
    let hcl = render_source(template, source, params)?;
    let file = template.file_name();
    let findings = lint(&hcl, file, &LintConfig::for_params(params));
    if findings.is_empty() {
        Ok(hcl)
    } else {
        Err(PolicyError::Lint {
            file: file.to_owned(),
            findings,
        })
    }
}

#[cfg(test)]
mod tests;
