//! A linear pre-scan of `fromYaml` input: an upper bound on the flow nesting (`[`, `{`)
//! libyaml will see.
//!
//! libyaml's scanner walks every open flow level for each token, so its time grows with
//! tokens × flow depth: 100,000 `[` take about 30 s, and serde_norway only applies its depth
//! limit after the whole document has been scanned. The executor refuses input whose bound is
//! too deep and charges the rest by size × depth before libyaml runs.
//!
//! Soundness: every `[` / `{` counts up, in any state. A `]` / `}` counts down only where
//! libyaml certainly reads a flow indicator: in flow context, outside quoted scalars, comments
//! and tags, tracked with libyaml's rules. Where the two could disagree (a quote inside a
//! plain scalar, a quote not right after `[ { , :`, an opener inside a quote or comment, a
//! tag, a NUL byte as in UTF-16 input), the scan stops counting down, so the bound only
//! grows. Outside flow context libyaml's depth is 0, which any bound covers.

use crate::error::FuncError;
use crate::limits::MAX_VALUE_DEPTH;

/// Where the scan is, as libyaml would be if the scan is in step with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Block context (the bound is 0): only openers matter.
    Block,
    /// In flow context, between tokens.
    Between,
    /// In a plain scalar in flow context.
    Plain,
    /// In a double-quoted scalar.
    Double,
    /// In a single-quoted scalar.
    Single,
    /// In a comment, up to the line break.
    Comment,
    /// In an anchor or alias name.
    Anchor,
}

/// Most input bytes × flow depth bound libyaml may be given: about 6 ns each, so 0.1 s.
const MAX_SCAN_COST: u64 = 16_000_000;

/// Whether libyaml may be given `text`, and the flow depth bound if so. Input whose bound is
/// within [`MAX_VALUE_DEPTH`] is fine; beyond it (a quote or comment holding an opener makes
/// the bound count every later opener), small input still is, as libyaml's time is bounded
/// by bytes × depth.
pub(crate) fn checked_depth(text: &[u8]) -> Result<usize, FuncError> {
    let depth = flow_depth_bound(text);
    let cost = (text.len() as u64).saturating_mul(depth as u64);
    if depth > MAX_VALUE_DEPTH && cost > MAX_SCAN_COST {
        let max = MAX_VALUE_DEPTH;
        return Err(FuncError::new(format!(
            "input may nest deeper than {max} levels"
        )));
    }
    Ok(depth)
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_opener(b: &u8) -> bool {
    matches!(b, b'[' | b'{')
}

/// An upper bound on the deepest flow nesting libyaml reaches in `text`.
pub(crate) fn flow_depth_bound(text: &[u8]) -> usize {
    // From byte `i` on, stop counting down: every remaining opener counts.
    let give_up = |depth: usize, max: usize, i: usize| {
        let rest = text.get(i..).unwrap_or_default();
        max.max(depth + rest.iter().filter(|b| is_opener(b)).count())
    };
    if text.contains(&0) {
        return give_up(0, 0, 0);
    }
    let (mut depth, mut max) = (0usize, 0usize);
    let mut at = At::Block;
    // The byte before, and the last non-blank byte outside comments (to trust a quote).
    let (mut prev, mut last) = (b'\n', b'\n');
    let mut i = 0;
    while let Some(&b) = text.get(i) {
        let next = text.get(i + 1).copied();
        match (at, b) {
            (At::Double | At::Single | At::Comment, b'[' | b'{') => return give_up(depth, max, i),
            (_, b'[' | b'{') => {
                depth += 1;
                max = max.max(depth);
                at = At::Between;
            }
            (At::Block, _) => {}
            (At::Double, b'\\') => i += 1,
            (At::Single, b'\'') if next == Some(b'\'') => i += 1,
            (At::Double, b'"') | (At::Single, b'\'') => at = At::Between,
            (At::Comment, b'\n' | b'\r') => at = At::Between,
            (At::Double | At::Single | At::Comment, _) => {}
            (At::Anchor, c) if c.is_ascii_alphanumeric() || c == b'-' || c == b'_' => {}
            (At::Anchor, _) => {
                // The name ended: this byte starts the next token.
                at = At::Between;
                continue;
            }
            (At::Between | At::Plain, b']' | b'}') => {
                depth = depth.saturating_sub(1);
                at = if depth == 0 { At::Block } else { At::Between };
            }
            (At::Plain, b',') => at = At::Between,
            (At::Plain, b':') if next.is_none_or(|n| is_blank(n) || b",?[]{}".contains(&n)) => {
                at = At::Between;
            }
            (At::Plain, b'#') if is_blank(prev) || prev >= 0x80 => at = At::Comment,
            (At::Plain, b'"' | b'\'') => return give_up(depth, max, i),
            (At::Plain, _) => {}
            (At::Between, b'#') => at = At::Comment,
            (At::Between, b'"' | b'\'') if b"[{,:".contains(&last) => {
                at = if b == b'"' { At::Double } else { At::Single };
            }
            (At::Between, b'"' | b'\'' | b'!') => return give_up(depth, max, i),
            (At::Between, b'&' | b'*') => at = At::Anchor,
            (At::Between, c) if is_blank(c) || b",:?".contains(&c) => {}
            (At::Between, _) => at = At::Plain,
        }
        if at != At::Comment && !is_blank(b) {
            last = b;
        }
        prev = text.get(i).copied().unwrap_or(b);
        i += 1;
    }
    max
}
