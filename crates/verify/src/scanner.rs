//! The pure scanner, over raw bytes. Known values: one Aho-Corasick DFA, built once, over every
//! pattern of every value, run anchored at the positions whose first four bytes could start a
//! pattern (a bitset of hashed 4-byte prefixes; exact, it only skips positions no pattern can
//! start at). Token rules: a second, small automaton over their triggers (`ghp_`, `AKIA`, …),
//! which aho-corasick runs with its SIMD prefilter; [`crate::tokens`] confirms each trigger. A
//! `kind: Secret` trigger hands the buffer to [`crate::manifest`], whose base64 `data:` values are
//! decoded and scanned again. The result is a list of [`Hit`]s: rule, line, message, no value.
//!
//! Memory: the scanner's own copies of the values' encodings are [`zeroize::Zeroizing`] and wiped
//! as soon as the automaton is built. The automaton's internal tables are derived from the
//! patterns and are freed, not wiped, when the scanner drops; a binary that wants those wiped too
//! can install a zeroing global allocator.

use aho_corasick::{AhoCorasick, AhoCorasickKind, Anchored, Input, MatchKind, StartKind};

use crate::known::{Encoding, KnownValue, derive_patterns};
use crate::tokens::{self, Trigger};
use crate::{VerifyError, manifest, rules};

/// Up to this many bytes of known-value patterns, the automaton is a DFA.
const DFA_PATTERN_BYTES: usize = 64 * 1024;

/// Bits in the prefix filter (8 KiB, stays in L1).
const FILTER_BITS: usize = 1 << 16;

/// The filter's hash of a 4-byte prefix.
fn gram_hash(gram: u32) -> usize {
    (gram.wrapping_mul(0x9E37_79B1) >> 16) as usize
}

/// One thing the scanner found in a buffer. Like a [`crate::Finding`], it never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The rule id (see [`crate::rules`]).
    pub rule: &'static str,
    /// 1-based line in the buffer.
    pub line: u32,
    /// What was found, without the value.
    pub message: String,
}

/// A hit before line numbers are known.
struct RawHit {
    offset: usize,
    rule: &'static str,
    message: String,
}

/// Known values plus token rules, compiled once. Cheap to share by reference across threads
/// (`Sync`).
pub struct Scanner {
    /// Known-value patterns, searched anchored at filtered positions. `None` without values.
    known: Option<AhoCorasick>,
    /// Per known pattern: which value and how it is encoded.
    kinds: Vec<(u32, Encoding)>,
    /// Hashed 4-byte prefixes of the known patterns.
    filter: Vec<u64>,
    /// Token and manifest triggers.
    triggers: AhoCorasick,
    /// What each trigger pattern announces, by pattern index.
    trigger_kinds: Vec<Trigger>,
    labels: Vec<Option<String>>,
}

impl std::fmt::Debug for Scanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scanner")
            .field("known_values", &self.labels.len())
            .field("patterns", &self.kinds.len())
            .finish_non_exhaustive()
    }
}

impl Scanner {
    /// A scanner for the given known values (read from Vault) plus all token rules. Values
    /// shorter than [`crate::MIN_KNOWN_VALUE_LEN`] bytes are refused with
    /// [`VerifyError::KnownValueTooShort`].
    pub fn new(values: Vec<secrecy::SecretString>) -> Result<Self, VerifyError> {
        Self::with_labels(values.into_iter().map(KnownValue::from).collect())
    }

    /// Like [`Scanner::new`], with a non-secret label per value that findings show, so a reader
    /// knows which Vault entry leaked.
    pub fn with_labels(values: Vec<KnownValue>) -> Result<Self, VerifyError> {
        let patterns = derive_patterns(&values)?;
        let mut filter = vec![0u64; FILTER_BITS / 64];
        for p in &patterns {
            let h = gram_hash(gram(&p.bytes, 0));
            filter[h / 64] |= 1 << (h % 64);
        }
        let known = if patterns.is_empty() {
            None
        } else {
            // A DFA is fastest but grows with total pattern length times alphabet; long values
            // (PEM keys, certificates) get a contiguous NFA, which the prefilter keeps cheap.
            let total: usize = patterns.iter().map(|p| p.bytes.len()).sum();
            let kind = if total <= DFA_PATTERN_BYTES {
                AhoCorasickKind::DFA
            } else {
                AhoCorasickKind::ContiguousNFA
            };
            let automaton = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(kind))
                .start_kind(StartKind::Anchored)
                .build(patterns.iter().map(|p| &p.bytes[..]))
                .map_err(VerifyError::BuildMatcher)?;
            Some(automaton)
        };
        let kinds = patterns.iter().map(|p| (p.index, p.encoding)).collect();
        drop(patterns);
        let trigger_table = tokens::triggers();
        let triggers = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(trigger_table.iter().map(|(t, _)| t.as_bytes()))
            .map_err(VerifyError::BuildMatcher)?;
        let trigger_kinds = trigger_table.into_iter().map(|(_, k)| k).collect();
        let labels = values.into_iter().map(|v| v.label).collect();
        Ok(Self {
            known,
            kinds,
            filter,
            triggers,
            trigger_kinds,
            labels,
        })
    }

    /// How many known values the scanner looks for.
    pub fn known_value_count(&self) -> usize {
        self.labels.len()
    }

    /// Scans a buffer (a blob, a file, a ConfigMap value…) and returns its hits, ordered by line,
    /// one per rule, line and known value.
    pub fn scan(&self, hay: &[u8]) -> Vec<Hit> {
        let mut raw = Vec::new();
        let secret_kind = self.scan_raw(hay, &mut raw);
        let mut hits = with_lines(hay, raw);
        if secret_kind {
            let mut decoded_hits = Vec::new();
            for m in manifest::check(hay) {
                hits.push(Hit {
                    rule: m.rule,
                    line: m.line,
                    message: m.message,
                });
                if let Some(decoded) = &m.decoded {
                    decoded_hits.clear();
                    self.scan_raw(decoded, &mut decoded_hits);
                    hits.extend(decoded_hits.drain(..).map(|h| Hit {
                        rule: h.rule,
                        line: m.line,
                        message: format!("{} in base64-decoded {}", h.message, m.field),
                    }));
                }
            }
        }
        dedupe(hits)
    }

    /// Both passes over one buffer. Returns whether a `kind: Secret` trigger was seen.
    fn scan_raw(&self, hay: &[u8], out: &mut Vec<RawHit>) -> bool {
        self.scan_known(hay, out);
        self.scan_triggers(hay, out)
    }

    /// Known values: the anchored automaton at every position the prefix filter lets through.
    /// Equivalent to an unanchored leftmost-longest search, since positions go left to right.
    fn scan_known(&self, hay: &[u8], out: &mut Vec<RawHit>) {
        let Some(automaton) = &self.known else {
            return;
        };
        let mut i = 0;
        while let Some(b) = hay.get(i..i + 4) {
            let h = gram_hash(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if self.filter[h / 64] & (1 << (h % 64)) != 0 {
                let input = Input::new(hay).range(i..).anchored(Anchored::Yes);
                if let Some(m) = automaton.find(input) {
                    let (index, encoding) = self.kinds[m.pattern().as_usize()];
                    out.push(RawHit {
                        offset: i,
                        rule: rules::KNOWN_VALUE,
                        message: self.known_message(index, encoding),
                    });
                    i = m.end();
                    continue;
                }
            }
            i += 1;
        }
    }

    /// Token triggers, each confirmed by its rule. Returns whether a `kind: Secret` was seen.
    fn scan_triggers(&self, hay: &[u8], out: &mut Vec<RawHit>) -> bool {
        let mut secret_kind = false;
        for m in self.triggers.find_iter(hay) {
            match self.trigger_kinds[m.pattern().as_usize()] {
                Trigger::SecretKind => secret_kind = true,
                trigger => {
                    if let Some(t) = tokens::check(trigger, hay, m.start(), m.end()) {
                        out.push(RawHit {
                            offset: m.start(),
                            rule: t.rule,
                            message: t.message.to_string(),
                        });
                    }
                }
            }
        }
        secret_kind
    }

    fn known_message(&self, index: u32, encoding: Encoding) -> String {
        let label = self
            .labels
            .get(index as usize)
            .and_then(Option::as_deref)
            .map(|l| format!(" ({l})"))
            .unwrap_or_default();
        format!("known value #{index}{label} found {}", encoding.describe())
    }
}

/// The little-endian `u32` at `at`, zero-padded past the end.
fn gram(bytes: &[u8], at: usize) -> u32 {
    let mut g = [0u8; 4];
    for (slot, b) in g.iter_mut().zip(bytes.iter().skip(at)) {
        *slot = *b;
    }
    u32::from_le_bytes(g)
}

/// Converts offsets to 1-based lines, counting newlines once over the buffer.
fn with_lines(hay: &[u8], mut raw: Vec<RawHit>) -> Vec<Hit> {
    raw.sort_by_key(|h| h.offset);
    let mut line = 1u32;
    let mut pos = 0usize;
    let mut out = Vec::with_capacity(raw.len());
    for h in raw {
        let upto = h.offset.min(hay.len());
        if upto > pos {
            let newlines = memchr::memchr_iter(b'\n', &hay[pos..upto]).count();
            line = line.saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
            pos = upto;
        }
        out.push(Hit {
            rule: h.rule,
            line,
            message: h.message,
        });
    }
    out
}

/// Keeps the first hit per (rule, line, message subject), ordered by line then rule.
fn dedupe(mut hits: Vec<Hit>) -> Vec<Hit> {
    hits.sort_by(|a, b| (a.line, a.rule).cmp(&(b.line, b.rule)));
    let mut out: Vec<Hit> = Vec::with_capacity(hits.len());
    for h in hits {
        let dup = out
            .iter()
            .rev()
            .take_while(|o| o.line == h.line)
            .any(|o| o.rule == h.rule && subject(&o.message) == subject(&h.message));
        if !dup {
            out.push(h);
        }
    }
    out
}

/// The part of a message that identifies what was found (for known values, which one), without
/// how it was encoded.
fn subject(message: &str) -> &str {
    message.split(" found ").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use secrecy::SecretString;

    use super::*;

    const VALUE: &str = "Zq8+tK2/pLm9xR4w";

    fn scanner() -> Scanner {
        let v = KnownValue::labelled("kv/app#db", SecretString::from(VALUE.to_string()));
        Scanner::with_labels(vec![v]).unwrap()
    }

    #[test]
    fn finds_every_form_with_lines_and_never_the_value() {
        let docker = STANDARD.encode(format!(
            "{{\"auths\":{{\"r\":{{\"auth\":\"u:{VALUE}\"}}}}}}"
        ));
        let text = format!(
            "{VALUE}\nplain line\nb64: {}\nurl: {}\ndocker: {docker}\nend {VALUE}",
            STANDARD.encode(VALUE),
            URL_SAFE_NO_PAD.encode(VALUE),
        );
        let hits = scanner().scan(text.as_bytes());
        let lines: Vec<u32> = hits.iter().map(|h| h.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5, 6], "{hits:?}");
        for h in &hits {
            assert_eq!(h.rule, rules::KNOWN_VALUE);
            assert!(
                h.message.starts_with("known value #0 (kv/app#db) found"),
                "{}",
                h.message
            );
            assert!(!h.message.contains(VALUE) && !h.message.contains(&STANDARD.encode(VALUE)));
        }
        assert!(hits[3].message.contains("inside a longer base64"));
    }

    #[test]
    fn one_hit_per_line_and_value_and_decoded_secret_data() {
        let line = format!("{VALUE} {VALUE} {}\n", STANDARD.encode(VALUE));
        assert_eq!(scanner().scan(line.as_bytes()).len(), 1);
        // Only the base64 of a longer text that contains the value: found by decoding data:.
        let wrapped = STANDARD.encode(format!("password={VALUE}\n"));
        let manifest = format!("kind: Secret\nmetadata:\n  name: s\ndata:\n  env: {wrapped}\n");
        let hits = scanner().scan(manifest.as_bytes());
        let rules: Vec<&str> = hits.iter().map(|h| h.rule).collect();
        assert_eq!(
            rules,
            vec![rules::K8S_SECRET_MANIFEST, rules::KNOWN_VALUE],
            "{hits:?}"
        );
        assert!(hits.iter().all(|h| h.line == 5));
    }

    #[test]
    fn long_values_use_the_nfa_and_are_still_found() {
        let long: String = (0..12_000)
            .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
            .collect();
        let s = Scanner::new(vec![SecretString::from(long.clone())]).unwrap();
        let text = format!("x\ny {} z\n{long}", STANDARD.encode(&long));
        let lines: Vec<u32> = s.scan(text.as_bytes()).iter().map(|h| h.line).collect();
        assert_eq!(lines, vec![2, 3]);
    }

    #[test]
    fn no_values_and_short_buffers() {
        let s = Scanner::new(Vec::new()).unwrap();
        assert_eq!(s.known_value_count(), 0);
        assert!(s.scan(b"").is_empty());
        assert!(scanner().scan(b"Zq8").is_empty());
        assert_eq!(scanner().scan(VALUE.as_bytes()).len(), 1);
    }
}
