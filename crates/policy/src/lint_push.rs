//! The lint rules about writing KV: `push-missing-capability` (a push store's policy must let
//! a PushSecret read, create and update each path it pushes, and on KV v2 read and update
//! the path's metadata) and `write-whole-mount` (no policy may write every secret of a mount
//! through a glob right under it).

use crate::lint::{Rule, WRITE_CAPABILITIES};
use crate::parse::PathRule;

/// KV v2 sub-paths a write may go through (`<mount>/<sub>/<secret>`).
const KV2_SUBPATHS: [&str; 5] = ["data", "metadata", "delete", "undelete", "destroy"];

/// The findings of a push store's policy: each data path needs `create`, `read` and
/// `update`; on KV v2 the same secret's metadata path needs `read` and `update`.
pub(crate) fn push_paths(
    rules: &[PathRule],
    mounts: &[String],
    kv_v1: bool,
) -> Vec<(usize, Rule, String)> {
    let mut out = Vec::new();
    for rule in rules {
        let Some((mount, rest)) = split(&rule.path, mounts) else {
            continue;
        };
        let secret = match (kv_v1, rest.split_once('/')) {
            (true, _) => rest,
            (false, Some(("data", secret))) => secret,
            (false, _) => continue,
        };
        let missing: Vec<&str> = ["create", "read", "update"]
            .into_iter()
            .filter(|c| !has(rule, c))
            .collect();
        if !missing.is_empty() {
            out.push((
                rule.line,
                Rule::PushMissingCapability,
                format!(
                    "`{}` lacks `{}`: a push reads the secret, then creates or updates it",
                    rule.path,
                    missing.join("`, `")
                ),
            ));
        }
        if kv_v1 {
            continue;
        }
        let meta = format!("{mount}/metadata/{secret}");
        let meta_ok = rules
            .iter()
            .any(|r| r.path == meta && has(r, "read") && (has(r, "update") || has(r, "create")));
        if !meta_ok {
            out.push((
                rule.line,
                Rule::PushMissingCapability,
                format!(
                    "no `{meta}` with `read` and `update`: a push reads the check-and-set \
                     version there and sets the managed-by marker"
                ),
            ));
        }
    }
    out
}

/// Why a rule writes a whole mount, if it does: a write capability on a path whose part
/// right under the mount (after `data/`, `metadata/`, … on KV v2) is empty or a glob.
pub(crate) fn whole_mount(rule: &PathRule, mounts: &[String], kv_v1: bool) -> Option<String> {
    let write = rule
        .capabilities
        .iter()
        .find(|c| WRITE_CAPABILITIES.contains(&c.name.as_str()))?;
    let (mount, mut rest) = split(&rule.path, mounts)?;
    if !kv_v1 {
        if let Some((sub, inner)) = rest.split_once('/')
            && KV2_SUBPATHS.contains(&sub)
        {
            rest = inner;
        } else if KV2_SUBPATHS.contains(&rest) {
            rest = "";
        }
    }
    let first = rest.split('/').next().unwrap_or_default();
    let glob = first.is_empty() || first == "+" || first.contains('*');
    glob.then(|| {
        format!(
            "`{}` on `{}` writes every secret of the mount `{mount}`: grant writes on the \
             paths that are pushed, not the whole mount",
            write.name, rule.path
        )
    })
}

/// The mount a path is under, and the rest.
fn split<'a>(path: &'a str, mounts: &'a [String]) -> Option<(&'a str, &'a str)> {
    mounts.iter().find_map(|m| {
        let m = m.trim_end_matches('/');
        let rest = path.strip_prefix(m)?.strip_prefix('/')?;
        Some((m, rest))
    })
}

fn has(rule: &PathRule, capability: &str) -> bool {
    rule.capabilities.iter().any(|c| c.name == capability)
}
