//! Maps a field path such as `env[2].check.regexp` to its line and column in the YAML
//! text, using serde_norway's own parser: a seeded deserializer walks down the path,
//! skipping everything else, and fails on purpose at the target node; serde_norway stamps
//! that failure with the node's position. A path missing from the text (a defaulted
//! field) falls back to its closest present ancestor.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::Location;

/// Marks the deliberate failure, so it is told apart from any other error.
const FOUND: &str = "\u{1}ferry-config: located\u{1}";

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` into segments; `None` if it is not of that form.
fn segments(path: &str) -> Option<Vec<Segment>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if key.is_empty() && out.is_empty() {
            return None;
        }
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        while let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            out.push(Segment::Index(after[..close].parse().ok()?));
            rest = &after[close + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// The location of `path` in `text`, or of its closest ancestor present in the text.
pub(crate) fn locate(text: &str, path: &str) -> Option<Location> {
    let segments = segments(path)?;
    (1..=segments.len())
        .rev()
        .find_map(|len| seek(text, &segments[..len]))
}

/// The location of `path` itself in `text`, if present.
pub(crate) fn locate_exact(text: &str, path: &str) -> Option<Location> {
    seek(text, &segments(path)?)
}

fn seek(text: &str, segments: &[Segment]) -> Option<Location> {
    let deserializer = serde_norway::Deserializer::from_str(text);
    match (Seek { segments }).deserialize(deserializer) {
        Err(err) if err.to_string().contains(FOUND) => err.location().map(|at| Location {
            line: at.line(),
            column: at.column(),
        }),
        _ => None,
    }
}

/// Walks `segments` down the document.
struct Seek<'a> {
    segments: &'a [Segment],
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.segments.split_first() {
            None => deserializer.deserialize_any(Found),
            Some((Segment::Key(key), rest)) => deserializer.deserialize_map(InMap { key, rest }),
            Some((Segment::Index(index), rest)) => deserializer.deserialize_seq(InSeq {
                index: *index,
                rest,
            }),
        }
    }
}

/// Fails on whatever node it is given; serde_norway adds the node's position.
struct Found;

impl<'de> Visitor<'de> for Found {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(FOUND)
    }
}

/// Looks for `key` in a mapping, then continues with `rest` below it.
struct InMap<'a> {
    key: &'a str,
    rest: &'a [Segment],
}

impl<'de> Visitor<'de> for InMap<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<serde_norway::Value>()? {
            if key.as_str() == Some(self.key) {
                map.next_value_seed(Seek {
                    segments: self.rest,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// Looks for element `index` in a sequence, then continues with `rest` below it.
struct InSeq<'a> {
    index: usize,
    rest: &'a [Segment],
}

impl<'de> Visitor<'de> for InSeq<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            let more = if i == self.index {
                seq.next_element_seed(Seek {
                    segments: self.rest,
                })?
            } else {
                seq.next_element::<IgnoredAny>()?.map(|_| ())
            };
            if more.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}
