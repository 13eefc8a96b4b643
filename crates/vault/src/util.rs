//! Small helpers shared by the operation modules: path normalization,
//! duration formatting and vaultrs error conversion.

use std::time::Duration;

use crate::error::{Cause, ErrorKind};

/// Normalizes a Vault path: drops empty segments (leading, trailing and
/// doubled slashes) and rejects `.` / `..` segments and control characters.
pub(crate) fn clean_path(path: &str) -> Result<String, Cause> {
    let mut out = String::with_capacity(path.len());
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if seg == "." || seg == ".." {
            return Err(Cause::invalid("path must not contain '.' or '..' segments"));
        }
        if seg.chars().any(char::is_control) {
            return Err(Cause::invalid("path must not contain control characters"));
        }
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(seg);
    }
    Ok(out)
}

/// Like [`clean_path`] but the result must not be empty.
pub(crate) fn non_empty_path(path: &str, what: &str) -> Result<String, Cause> {
    let clean = clean_path(path)?;
    if clean.is_empty() {
        return Err(Cause::invalid(format!("{what} must not be empty")));
    }
    Ok(clean)
}

/// Formats a duration for Vault (`"<seconds>s"`).
pub(crate) fn vault_duration(d: Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Converts vaultrs results into [`Cause`]s.
pub(crate) trait ClientResultExt<T> {
    /// Classifies the error, if any.
    fn cause(self) -> Result<T, Cause>;
}

impl<T> ClientResultExt<T> for Result<T, vaultrs::error::ClientError> {
    fn cause(self) -> Result<T, Cause> {
        self.map_err(|e| Cause::from_client(&e))
    }
}

/// Maps a not-found answer to `Ok(None)`, except a missing route (unknown
/// mount), which stays an error so that a mistyped mount is not mistaken
/// for a missing secret.
pub(crate) fn none_if_not_found<T>(r: Result<T, Cause>) -> Result<Option<T>, Cause> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(c)
            if c.kind() == ErrorKind::NotFound && !c.detail().contains("no handler for route") =>
        {
            Ok(None)
        }
        Err(c) => Err(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized() -> Result<(), Cause> {
        assert_eq!(clean_path("/a//b/c/")?, "a/b/c");
        assert_eq!(clean_path("")?, "");
        assert!(clean_path("a/../b").is_err());
        assert!(clean_path("./a").is_err());
        assert!(clean_path("a\nb").is_err());
        assert!(non_empty_path("//", "mount").is_err());
        Ok(())
    }

    #[test]
    fn missing_routes_are_not_swallowed() {
        let missing = Cause::from_status(404, &[]);
        assert!(matches!(none_if_not_found::<()>(Err(missing)), Ok(None)));
        let no_route = Cause::from_status(
            404,
            &["no handler for route \"nomount/data/x\". route entry not found.".to_owned()],
        );
        assert!(none_if_not_found::<()>(Err(no_route)).is_err());
    }
}
