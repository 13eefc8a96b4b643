//! Known values (the secrets Vault holds) and the byte patterns the matcher looks for: each value
//! verbatim, and the characters of its standard base64 and base64url encodings that do not depend
//! on neighbouring bytes, at each of the three alignments. The aligned core is a prefix of the
//! encoding with and without padding, so those are found; the shifted cores find the value inside
//! a longer base64 string (a `.dockerconfigjson` `auth` field, a base64-encoded config file).
//! Every copy is held in a [`Zeroizing`] buffer and wiped when dropped.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::VerifyError;

/// The shortest known value the matcher accepts, in bytes. Shorter values would match all over
/// ordinary text.
pub const MIN_KNOWN_VALUE_LEN: usize = 6;

/// Unaligned base64 cores shorter than this are not searched for: too few characters to rule out
/// chance matches in large base64 blobs.
const MIN_EMBEDDED_CORE: usize = 8;

/// A secret value to look for, with an optional label (say `kv/apps/web#db_password`) that
/// findings may show. The label must not be secret; the value never leaves this crate.
pub struct KnownValue {
    /// A non-secret name for the value, shown in findings.
    pub label: Option<String>,
    /// The value itself.
    pub value: SecretString,
}

impl KnownValue {
    /// A labelled known value.
    pub fn labelled(label: impl Into<String>, value: SecretString) -> Self {
        Self {
            label: Some(label.into()),
            value,
        }
    }
}

impl From<SecretString> for KnownValue {
    fn from(value: SecretString) -> Self {
        Self { label: None, value }
    }
}

impl std::fmt::Debug for KnownValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownValue")
            .field("label", &self.label)
            .field("value", &"[REDACTED]")
            .finish()
    }
}

/// How a known value was encoded where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Verbatim,
    Base64,
    Base64Url,
    Base64Embedded,
    Base64UrlEmbedded,
}

impl Encoding {
    /// Words for messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Verbatim => "verbatim",
            Self::Base64 => "base64-encoded",
            Self::Base64Url => "base64url-encoded",
            Self::Base64Embedded => "base64-encoded inside a longer base64 string",
            Self::Base64UrlEmbedded => "base64url-encoded inside a longer base64url string",
        }
    }
}

/// One byte pattern derived from a known value.
pub(crate) struct KnownPattern {
    pub(crate) index: u32,
    pub(crate) encoding: Encoding,
    pub(crate) bytes: Zeroizing<Vec<u8>>,
}

/// Checks the length of every value, then derives all patterns of all values. Duplicate patterns
/// (base64 and base64url agree whenever no `+`/`/` occurs) are kept once.
pub(crate) fn derive_patterns(values: &[KnownValue]) -> Result<Vec<KnownPattern>, VerifyError> {
    let mut out: Vec<KnownPattern> = Vec::with_capacity(values.len() * 9);
    for (index, known) in values.iter().enumerate() {
        let value = known.value.expose_secret().as_bytes();
        if value.len() < MIN_KNOWN_VALUE_LEN {
            return Err(VerifyError::KnownValueTooShort {
                index,
                label: known.label.clone(),
                min: MIN_KNOWN_VALUE_LEN,
            });
        }
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        let mut push = |encoding, bytes: Zeroizing<Vec<u8>>| {
            if bytes.len() >= MIN_EMBEDDED_CORE.min(value.len())
                && !out.iter().any(|p| p.bytes[..] == bytes[..])
            {
                out.push(KnownPattern {
                    index,
                    encoding,
                    bytes,
                });
            }
        };
        push(Encoding::Verbatim, Zeroizing::new(value.to_vec()));
        // The aligned core is a prefix of every standalone encoding (padded or not) and of every
        // aligned embedding; the two shifted cores cover the other alignments.
        for shift in 0..3 {
            let (std, url) = if shift == 0 {
                (Encoding::Base64, Encoding::Base64Url)
            } else {
                (Encoding::Base64Embedded, Encoding::Base64UrlEmbedded)
            };
            push(std, embedded_core(&STANDARD, value, shift));
            push(url, embedded_core(&URL_SAFE, value, shift));
        }
    }
    Ok(out)
}

/// Encodes into a buffer that is allocated once at its final size and wiped on drop.
fn encode(engine: &impl Engine, input: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut buf = Zeroizing::new(vec![0u8; input.len().div_ceil(3) * 4 + 4]);
    let n = engine.encode_slice(input, &mut buf[..]).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// The base64 characters of `value` that do not depend on its neighbours when it sits `shift`
/// bytes (0, 1 or 2) past a 3-byte boundary inside a longer encoded string. Returns an empty
/// buffer when the core is too short to be worth searching for.
fn embedded_core(engine: &impl Engine, value: &[u8], shift: usize) -> Zeroizing<Vec<u8>> {
    let mut shifted = Zeroizing::new(vec![0u8; shift + value.len()]);
    shifted[shift..].copy_from_slice(value);
    let encoded = encode(engine, &shifted);
    // Character j covers bits [6j, 6j + 6); keep those entirely inside the value's bits.
    let first = (8 * shift).div_ceil(6);
    let end = 8 * shifted.len() / 6;
    if end <= first || end - first < MIN_EMBEDDED_CORE || end > encoded.len() {
        return Zeroizing::new(Vec::new());
    }
    Zeroizing::new(encoded[first..end].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(v: &str) -> Vec<(Encoding, String)> {
        derive_patterns(&[KnownValue::from(SecretString::from(v.to_string()))])
            .unwrap()
            .into_iter()
            .map(|p| (p.encoding, String::from_utf8(p.bytes.to_vec()).unwrap()))
            .collect()
    }

    #[test]
    fn every_encoding_contains_a_pattern() {
        use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        let v = "s3cr3t-?>value~~";
        let p = patterns(v);
        let found = |enc: &str| p.iter().any(|(_, b)| enc.contains(b.as_str()));
        assert!(p.iter().any(|(e, b)| *e == Encoding::Verbatim && b == v));
        for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
            assert!(found(&engine.encode(v)));
            // Every embedding of the value in a longer base64 string contains one of the cores.
            for pre in ["", "a", "ab", "user:", "xy:"] {
                for post in ["", "!", "!!", "tail"] {
                    assert!(
                        found(&engine.encode(format!("{pre}{v}{post}"))),
                        "{pre:?} {post:?}"
                    );
                }
            }
        }
        assert!(!found(&STANDARD.encode("s3cr3t-?>valuE~~")));
    }

    #[test]
    fn refuses_short_values_without_showing_them() {
        let err = derive_patterns(&[
            KnownValue::from(SecretString::from("long-enough".to_string())),
            KnownValue::labelled("kv/app#pin", SecretString::from("12345".to_string())),
        ])
        .err()
        .unwrap();
        let msg = err.to_string();
        assert!(msg.contains("#1 (kv/app#pin)"), "{msg}");
        assert!(!msg.contains("12345"));
        assert_eq!(err.category(), "matcher");
    }
}
