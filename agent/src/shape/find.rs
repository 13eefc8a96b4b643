//! The pure half of `dataFrom[].find`: which listed secrets a find selects.
//!
//! As in ESO's Vault provider, `name.regexp` is matched (unanchored, like Go's
//! `Regexp.MatchString`) against the secret's whole path relative to the KV mount, and
//! `tags` must all equal the secret's KV v2 custom metadata. When `name` is set, ESO uses it
//! alone and ignores `tags`; so does Ferry.

use std::collections::BTreeMap;

use ferry_api::external_secret::ExternalSecretFind;
use regex::Regex;

use super::rewrite::compile;
use crate::error::Result;

/// A compiled find selector.
#[derive(Debug)]
pub struct FindFilter {
    name: Option<Regex>,
    tags: BTreeMap<String, String>,
}

impl FindFilter {
    /// Compiles `find`; `field` is its JSON path (`spec.dataFrom[i].find`). A find with
    /// neither a name regexp nor tags selects every secret under its path, as in ESO.
    pub fn new(find: &ExternalSecretFind, field: &str) -> Result<Self> {
        let pattern = find.name.as_ref().and_then(|n| n.regexp.as_deref());
        let name = match pattern {
            Some(p) => Some(compile(p, &format!("{field}.name.regexp"))?),
            None => None,
        };
        let tags = if name.is_some() {
            BTreeMap::new()
        } else {
            find.tags.clone()
        };
        Ok(Self { name, tags })
    }

    /// Whether the secret's custom metadata decides the match.
    pub fn by_tags(&self) -> bool {
        !self.tags.is_empty()
    }

    /// Whether the secret at `path` (relative to the mount) is selected by name; always true
    /// for a find by tags.
    pub fn name_matches(&self, path: &str) -> bool {
        self.name.as_ref().is_none_or(|re| re.is_match(path))
    }

    /// Whether a secret with this custom metadata is selected by tags.
    pub fn tags_match(&self, custom_metadata: &BTreeMap<String, String>) -> bool {
        self.tags
            .iter()
            .all(|(k, v)| custom_metadata.get(k) == Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AgentError;

    fn find(yaml: &str) -> ExternalSecretFind {
        serde_norway::from_str(yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn name_is_unanchored_and_wins_over_tags() {
        let f = FindFilter::new(&find("{name: {regexp: 'db-[0-9]+$'}, tags: {a: b}}"), "f")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(f.name_matches("team/app/db-12"));
        assert!(!f.name_matches("team/app/db-x"));
        assert!(!f.by_tags());
        assert!(f.tags_match(&BTreeMap::new()));
    }

    #[test]
    fn tags_must_all_match() {
        let f = FindFilter::new(&find("{tags: {env: prod, team: a}}"), "f")
            .unwrap_or_else(|e| panic!("{e}"));
        let meta = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(f.by_tags() && f.name_matches("anything"));
        assert!(f.tags_match(&meta(&[("env", "prod"), ("team", "a"), ("x", "y")])));
        assert!(!f.tags_match(&meta(&[("env", "prod")])));
        assert!(!f.tags_match(&meta(&[("env", "dev"), ("team", "a")])));
    }

    #[test]
    fn bad_regexp_names_the_field_and_empty_selects_all() {
        let e = FindFilter::new(&find("{name: {regexp: '('}}"), "spec.dataFrom[2].find").err();
        assert!(
            matches!(e, Some(AgentError::ValidateSpec { ref field, .. }) if field == "spec.dataFrom[2].find.name.regexp"),
            "{e:?}"
        );
        let all = FindFilter::new(&find("{path: a}"), "f").unwrap_or_else(|e| panic!("{e}"));
        assert!(!all.by_tags() && all.name_matches("a/b") && all.tags_match(&BTreeMap::new()));
    }
}
