//! Keyed fingerprints of a Secret's data. The agent records one on each Secret it writes
//! (the `ferry.dev/data-hmac` annotation) and writes only when the desired data's fingerprint
//! differs; bootstrap compares two under a key of its own to see that a Secret holds what
//! Vault holds. Each is an HMAC-SHA256 (the `hmac` crate) under a key only its holder has,
//! never an unkeyed hash, so a fingerprint reveals nothing about the values to whoever can
//! read it.
//!
//! The encodings are fixed: Secrets written by earlier versions must keep matching, and the
//! tests pin the outputs.

use std::collections::BTreeMap;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::SecretData;

type HmacSha256 = Hmac<Sha256>;

/// Length of a generated key, in bytes.
pub const HMAC_KEY_LEN: usize = 32;

/// Domain separation for the canonical encoding (and its version).
const DOMAIN: &[u8] = b"ferry/secret-data/v1\0";

/// Keyed HMAC-SHA256 over a canonical, unambiguous encoding of the data (length-prefixed key
/// and value, in key order), hex encoded.
pub fn data_hmac(key: &[u8], data: &SecretData) -> String {
    let mut mac = new_mac(key);
    mac.update(DOMAIN);
    mac.update(&len_prefix(data.len()));
    for (name, value) in data.iter() {
        mac.update(&len_prefix(name.len()));
        mac.update(name.as_bytes());
        mac.update(&len_prefix(value.len()));
        mac.update(value);
    }
    hex::encode(mac.finalize().into_bytes().as_slice())
}

/// Domain separation for the fingerprint of data plus template-set metadata.
const DOMAIN_RENDERED: &[u8] = b"ferry/secret-rendered/v1\0";

/// What a template sets on a Secret besides its data: its type, labels and annotations.
#[derive(Clone, Copy, Debug)]
pub struct SecretMeta<'a> {
    /// The Secret's `type`, when the template sets one.
    pub secret_type: Option<&'a str>,
    /// Labels the template sets.
    pub labels: &'a BTreeMap<String, String>,
    /// Annotations the template sets.
    pub annotations: &'a BTreeMap<String, String>,
}

/// Keyed HMAC of what a sync writes: the data and, when a template sets them, the Secret's
/// type, labels and annotations (so a template change that only touches metadata still
/// rewrites the Secret). Without template metadata it equals [`data_hmac`], so Secrets
/// written before templates existed keep their fingerprint.
pub fn rendered_hmac(key: &[u8], data: &SecretData, meta: SecretMeta<'_>) -> String {
    let data = data_hmac(key, data);
    let plain = meta.secret_type.is_none() && meta.labels.is_empty() && meta.annotations.is_empty();
    if plain {
        return data;
    }
    let mut mac = new_mac(key);
    mac.update(DOMAIN_RENDERED);
    mac.update(data.as_bytes());
    let kind = meta.secret_type.unwrap_or("");
    mac.update(&len_prefix(kind.len()));
    mac.update(kind.as_bytes());
    for map in [meta.labels, meta.annotations] {
        mac.update(&len_prefix(map.len()));
        for (k, v) in map {
            mac.update(&len_prefix(k.len()));
            mac.update(k.as_bytes());
            mac.update(&len_prefix(v.len()));
            mac.update(v.as_bytes());
        }
    }
    hex::encode(mac.finalize().into_bytes().as_slice())
}

/// Domain separation for the per-object key derived from the master key.
const DOMAIN_OBJECT_KEY: &[u8] = b"ferry/object-key/v1\0";

/// The key for one ExternalSecret's fingerprints, derived from the agent's master key and the
/// object's UID. Fingerprints of equal data differ between ExternalSecrets, so one tenant's
/// ExternalSecret cannot confirm a guess about another's values by comparing annotations.
pub fn object_key(master: &[u8], uid: &str) -> Zeroizing<Vec<u8>> {
    let mut mac = new_mac(master);
    mac.update(DOMAIN_OBJECT_KEY);
    mac.update(uid.as_bytes());
    Zeroizing::new(mac.finalize().into_bytes().to_vec())
}

/// Domain separation for the rollout-restart fingerprint.
const DOMAIN_RESTART: &[u8] = b"ferry/restart/v1\0";

/// Hex characters of a rollout-restart fingerprint.
pub const RESTART_FINGERPRINT_LEN: usize = 16;

/// The fingerprint stamped on pod templates for a data HMAC: a keyed HMAC of it, shortened
/// to [`RESTART_FINGERPRINT_LEN`] hex characters; never a part of the data HMAC itself.
pub fn restart_fingerprint(key: &[u8], data_hmac: &str) -> String {
    let mut mac = new_mac(key);
    mac.update(DOMAIN_RESTART);
    mac.update(data_hmac.as_bytes());
    let mut tag = hex::encode(mac.finalize().into_bytes().as_slice());
    tag.truncate(RESTART_FINGERPRINT_LEN);
    tag
}

/// A fresh random key of [`HMAC_KEY_LEN`] bytes from the thread-local CSPRNG (seeded by the
/// operating system).
pub fn generate_key() -> Zeroizing<Vec<u8>> {
    let mut key = Zeroizing::new(vec![0u8; HMAC_KEY_LEN]);
    rand::fill(key.as_mut_slice());
    key
}

/// Compares two tags in time independent of where they differ (`subtle`; the length is not
/// secret).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// An HMAC instance for `key`.
fn new_mac(key: &[u8]) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    // HMAC takes keys of any length (longer ones are hashed, as RFC 2104 says): this never fails.
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// A length as 8 big-endian bytes.
fn len_prefix(len: usize) -> [u8; 8] {
    (len as u64).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        let mut d = SecretData::new();
        for (k, v) in pairs {
            d.insert((*k).to_owned(), v.as_bytes().to_vec());
        }
        d
    }

    #[test]
    fn tag_is_hex_sha256_sized_and_stable() {
        let tag = data_hmac(b"key", &data(&[("a", "1")]));
        assert_eq!(tag.len(), 64);
        assert!(tag.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(tag, data_hmac(b"key", &data(&[("a", "1")])));
    }

    #[test]
    fn different_keys_give_different_tags() {
        let d = data(&[("a", "1")]);
        assert_ne!(data_hmac(b"key-one", &d), data_hmac(b"key-two", &d));
        let (k1, k2) = (generate_key(), generate_key());
        assert_eq!(k1.len(), HMAC_KEY_LEN);
        assert_ne!(k1, k2);
        assert_ne!(data_hmac(&k1, &d), data_hmac(&k2, &d));
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let a = data(&[("x", "1"), ("y", "2"), ("z", "3")]);
        let b = data(&[("z", "3"), ("x", "1"), ("y", "2")]);
        assert_eq!(data_hmac(b"k", &a), data_hmac(b"k", &b));
    }

    #[test]
    fn length_prefixing_prevents_collisions() {
        let k = b"k";
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let pairs: &[(Pairs, Pairs)] = &[
            (&[("ab", "c")], &[("a", "bc")]),
            (&[("a", "")], &[("", "a")]),
            (&[("a", "b"), ("c", "d")], &[("a", "bcd")]),
            (&[], &[("", "")]),
        ];
        for (x, y) in pairs {
            assert_ne!(
                data_hmac(k, &data(x)),
                data_hmac(k, &data(y)),
                "{x:?} {y:?}"
            );
        }
    }

    #[test]
    fn values_change_the_tag() {
        let k = b"k";
        assert_ne!(
            data_hmac(k, &data(&[("a", "1")])),
            data_hmac(k, &data(&[("a", "2")]))
        );
    }

    #[test]
    fn keys_of_any_length_match_the_standard_constructor() {
        for len in [0, 1, 32, 63, 64, 65, 200] {
            let key = vec![0x5a; len];
            let mut standard = HmacSha256::new_from_slice(&key).expect("any length");
            standard.update(b"message");
            let mut ours = new_mac(&key);
            ours.update(b"message");
            assert_eq!(
                ours.finalize().into_bytes(),
                standard.finalize().into_bytes(),
                "{len}"
            );
        }
    }

    /// Outputs of the hand-written RFC 2104 key handling this module used before it took the
    /// `hmac` crate's `new_from_slice`: Secrets' annotations and workloads' restart stamps
    /// written then must keep matching.
    #[test]
    fn outputs_are_those_of_earlier_versions() {
        let d = data(&[("password", "hunter2"), ("user", "admin")]);
        let golden = [
            (
                0,
                "b9ed4beba5ab48cbeaa2bcf8b502ec4cf24e3a72fe21b6cb9f5df0ed9c64c386",
                "1eaaf174060678f452e2b24d7b17463d2f840f3e2ed3301073b5559f8db8dafd",
                "633b06b668059080",
            ),
            (
                16,
                "35ac2b4f2f2c55b065d705deadcf1de2c144d46484b3e28ea42a5aa80920b5a8",
                "668fce8685c4617cbb6bb8d8cb916e7bfb349f60888f7584b2d263420daca538",
                "f72afc7fcd2a2d85",
            ),
            (
                32,
                "540f308fb5848706c3fd9001e93326a41d9fc364a02f34e6f07b20dae99312a1",
                "5a7d17ac3beeb237b0639d8e95ffd037af43b5d9ca0bf66c35d8a25411829de3",
                "479da41f4432f9f2",
            ),
            (
                64,
                "7a75791ecb406f13ed071cbd0978cd9456922d57fd1ccc8bbc293749ab315b6d",
                "3d1945800a2d3ccaaf575e24ad01e9891c6d6d0e9d7306840222cf0d2cc1496c",
                "4868e65b5715caa6",
            ),
            (
                65,
                "b89edf959d0cbf7764f0ecef5cbab7189cb33c9abb63843a943a1bf4888f03ee",
                "2f1062e2af9121b5e4827c4cd3bbc17e17f6d0a11d334903dcd921f26c71f809",
                "0cf5c9b44c4db6a0",
            ),
            (
                200,
                "daaba41ab969e813a052f25b15c5f9545278f82edad489384f485180876647d1",
                "7ca89f2638d83c4c540cf72062cc00a16ebd2815ee5461840e33250cdf000c28",
                "42bb0ffb902a557c",
            ),
        ];
        for (len, tag, object, restart) in golden {
            let key: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let object_key = object_key(&key, "uid-1");
            assert_eq!(data_hmac(&key, &d), tag, "data_hmac, key of {len} bytes");
            assert_eq!(
                hex::encode(object_key.as_slice()),
                object,
                "object_key, {len} bytes"
            );
            assert_eq!(
                restart_fingerprint(&object_key, tag),
                restart,
                "restart, {len} bytes"
            );
        }
    }

    #[test]
    fn rfc4231_case_2() {
        let mut mac = new_mac(b"Jefe");
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes().as_slice()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn rendered_metadata_changes_the_tag_only_when_set() {
        let k = b"k";
        let d = data(&[("a", "1")]);
        let (mut labels, mut annotations) = (BTreeMap::new(), BTreeMap::new());
        let mut secret_type = None;
        let tag = |secret_type, labels: &_, annotations: &_| {
            let meta = SecretMeta {
                secret_type,
                labels,
                annotations,
            };
            rendered_hmac(k, &d, meta)
        };
        assert_eq!(tag(secret_type, &labels, &annotations), data_hmac(k, &d));
        labels.insert("team".into(), "a".into());
        let labelled = tag(secret_type, &labels, &annotations);
        assert_ne!(labelled, data_hmac(k, &d));
        labels.clear();
        annotations.insert("team".into(), "a".into());
        assert_ne!(
            tag(secret_type, &labels, &annotations),
            labelled,
            "labels and annotations differ"
        );
        annotations.clear();
        secret_type = Some("kubernetes.io/dockerconfigjson");
        assert_ne!(tag(secret_type, &labels, &annotations), data_hmac(k, &d));
    }

    #[test]
    fn object_keys_separate_external_secrets() {
        let d = data(&[("password", "guess")]);
        let (a, b) = (
            object_key(b"master", "uid-a"),
            object_key(b"master", "uid-b"),
        );
        assert_eq!(a.len(), 32);
        assert_ne!(data_hmac(&a, &d), data_hmac(&b, &d));
        assert_eq!(
            data_hmac(&a, &d),
            data_hmac(&object_key(b"master", "uid-a"), &d)
        );
        assert_ne!(data_hmac(&a, &d), data_hmac(b"master", &d));
    }

    #[test]
    fn restart_fingerprint_is_not_a_prefix_of_the_data_hmac() {
        let key = object_key(b"master", "uid");
        let tag = data_hmac(&key, &data(&[("a", "1")]));
        let fp = restart_fingerprint(&key, &tag);
        assert_eq!(fp.len(), RESTART_FINGERPRINT_LEN);
        assert!(!tag.starts_with(&fp));
        assert_eq!(fp, restart_fingerprint(&key, &tag));
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert!(constant_time_eq("", ""));
    }

    #[test]
    fn rfc4231_case_6_a_key_longer_than_the_block_is_hashed() {
        let mut mac = new_mac(&[0xaa; 131]);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes().as_slice()),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
