//! What a parse error may say about an unknown key. The key is text from the file, and the
//! file is where someone may paste a token as a key (`ghp_…: x`), so it is shown only when
//! it is plainly a misspelt field name: a short camelCase word of letters only, within two
//! edits of one of the section's field names, that none of the token checks
//! ([`looks_like_secret`], [`TOKEN_PREFIXES`]) recognise. Such a key carries nothing beyond
//! the schema's own names; anything else is described by its position alone.

use crate::check::{TOKEN_PREFIXES, looks_like_secret};

/// Longest key that is shown.
const MAX_LEN: usize = 32;

/// Most edits between a shown key and the field name it is taken for.
const MAX_EDITS: usize = 2;

/// The closest of `expected` to `key`, if `key` is a misspelling safe to show (see the
/// module docs).
pub(crate) fn misspelt<'a>(key: &str, expected: &[&'a str]) -> Option<&'a str> {
    let plausible = (2..=MAX_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphabetic())
        && key.as_bytes()[0].is_ascii_lowercase()
        && looks_like_secret(key).is_none()
        && !TOKEN_PREFIXES.iter().any(|(p, _)| key.starts_with(p));
    if !plausible {
        return None;
    }
    expected
        .iter()
        .map(|name| (edits(key, name), *name))
        .filter(|(d, name)| *d <= MAX_EDITS && *d < name.len().min(key.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, name)| name)
}

/// The field names in serde's `expected one of `a`, `b`` (or `expected `a``) tail.
pub(crate) fn expected_names(message: &str) -> Vec<&str> {
    let Some(i) = message.find(", expected ") else {
        return Vec::new();
    };
    message[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .collect()
}

/// Levenshtein distance over bytes (both are ASCII here).
fn edits(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_near_misses_of_field_names_are_shown() {
        let names = ["address", "caFile", "caPem", "namespace"];
        assert_eq!(misspelt("adress", &names), Some("address"));
        assert_eq!(misspelt("caFle", &names), Some("caFile"));
        assert_eq!(misspelt("nmespace", &names), Some("namespace"));
        for hidden in [
            "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789",
            "correcthorsebatterystaple",
            "hvsaddress",
            "Address",
            "addr3ss",
            "a",
            "policy",
        ] {
            assert_eq!(misspelt(hidden, &names), None, "{hidden}");
        }
        assert_eq!(misspelt("ab", &["cd"]), None);
        assert_eq!(edits("kitten", "sitting"), 3);
    }

    #[test]
    fn expected_names_come_from_the_tail() {
        let m = "unknown field `x`, expected one of `address`, `caFile`";
        assert_eq!(expected_names(m), ["address", "caFile"]);
        assert_eq!(
            expected_names("unknown field `x`, expected `allow`"),
            ["allow"]
        );
        assert!(expected_names("unknown field `x`, there are no fields").is_empty());
    }
}
