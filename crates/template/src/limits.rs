//! What bounds one render: [`RenderLimits`] (a deadline and a cancellation flag, given by
//! the caller) and the step budget every render has (see "Limits" in the crate docs).
//!
//! A step is one unit of work: a node, a `range` iteration, an operand, a function call, or
//! [`BYTES_PER_STEP`] bytes copied, built or written. Values are charged by [`measure`]
//! whenever the executor copies one, so a large value used many times costs many steps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::value::Value;

/// Most steps one render may take: the worst templates found (`tests::worst`) stop within
/// about 0.2 s of CPU, optimized; a typical ExternalSecret template takes a few hundred.
pub(crate) const MAX_STEPS: u64 = 2_000_000;
/// Bytes of copying or building that cost one step.
pub(crate) const BYTES_PER_STEP: u64 = 16;
/// Steps one value in a list or map costs to copy (an allocation, more than a step of
/// bytes).
pub(crate) const STEPS_PER_VALUE: u64 = 2;
/// Largest string a function may build (`repeat`, `indent`, `printf`, `toJson`, …).
pub(crate) const MAX_STRING: usize = 4 << 20;
/// Whether a string being built is already past [`MAX_STRING`]: builders stop there, and
/// the executor rejects the (truncated) result, so no builder runs away with memory.
pub(crate) fn past_max_string(out: &[u8]) -> bool {
    out.len() > MAX_STRING
}

/// Deepest list/map nesting a value may have (values built by `list`, `dict`, `append`,
/// `fromJson`, `fromYaml`), so that printing, encoding, cloning and dropping a value cannot
/// exhaust the stack.
pub(crate) const MAX_VALUE_DEPTH: usize = 100;
/// How often (in steps) the deadline and the cancellation flag are looked at.
const CHECK_EVERY: u64 = 256;

/// Caller-side bounds on one render, on top of the built-in step budget.
///
/// Both are checked when rendering starts and then every few hundred steps; a render that
/// passes its deadline fails with [`TemplateError::TimedOut`](crate::TemplateError::TimedOut),
/// one whose flag is set fails with
/// [`TemplateError::Cancelled`](crate::TemplateError::Cancelled).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::AtomicBool;
/// use std::time::{Duration, Instant};
/// use ferry_template::{RenderLimits, Template, Value};
///
/// let limits = RenderLimits {
///     deadline: Some(Instant::now() + Duration::from_millis(200)),
///     cancel: Some(Arc::new(AtomicBool::new(false))),
/// };
/// let t = Template::parse("t", "{{ range 3 }}{{ . }}{{ end }}").unwrap();
/// assert_eq!(t.render_with(&Value::Null, &limits).unwrap().as_str(), "012");
/// ```
#[derive(Debug, Clone, Default)]
pub struct RenderLimits {
    /// Stop with `TimedOut` once this instant has passed.
    pub deadline: Option<Instant>,
    /// Stop with `Cancelled` once this flag is set (e.g. on shutdown).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Why a render was stopped by its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The step budget ran out.
    Budget,
    /// The deadline passed.
    TimedOut,
    /// The cancellation flag was set.
    Cancelled,
}

/// The steps used so far by one render, and the caller's limits.
pub(crate) struct Budget<'a> {
    used: u64,
    limits: &'a RenderLimits,
}

impl<'a> Budget<'a> {
    pub(crate) fn new(limits: &'a RenderLimits) -> Self {
        Budget { used: 0, limits }
    }

    /// Spends `steps`; looks at the clock and the flag each time [`CHECK_EVERY`] more steps
    /// have been spent.
    pub(crate) fn charge(&mut self, steps: u64) -> Result<(), Stop> {
        let before = self.used;
        self.used = self.used.saturating_add(steps);
        if self.used > MAX_STEPS {
            return Err(Stop::Budget);
        }
        if before / CHECK_EVERY != self.used / CHECK_EVERY {
            self.check()?;
        }
        Ok(())
    }

    /// Steps still available.
    pub(crate) fn remaining(&self) -> u64 {
        MAX_STEPS.saturating_sub(self.used)
    }

    /// Whether the render was cancelled or its deadline passed.
    pub(crate) fn check(&self) -> Result<(), Stop> {
        if let Some(flag) = &self.limits.cancel
            && flag.load(Ordering::Relaxed)
        {
            return Err(Stop::Cancelled);
        }
        if let Some(deadline) = self.limits.deadline
            && Instant::now() >= deadline
        {
            return Err(Stop::TimedOut);
        }
        Ok(())
    }
}

/// The steps `bytes` bytes of copying or building cost.
pub(crate) fn bytes_cost(bytes: usize) -> u64 {
    (bytes as u64) / BYTES_PER_STEP
}

/// A value's cost and depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size {
    /// [`STEPS_PER_VALUE`] per value in it, plus its string and key bytes.
    pub weight: u64,
    /// 0 for a scalar, 1 for a list or map of scalars, and so on.
    pub depth: usize,
}

/// Walks a value without recursion (it may come from the caller and be of any depth).
pub(crate) fn measure(v: &Value) -> Size {
    let (mut nodes, mut bytes, mut depth) = (0u64, 0u64, 0usize);
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        nodes += 1;
        match v {
            Value::String(s) => bytes += s.len() as u64,
            Value::List(l) => {
                depth = depth.max(d + 1);
                stack.extend(l.iter().map(|e| (e, d + 1)));
            }
            Value::Map(m) => {
                depth = depth.max(d + 1);
                for (k, e) in m {
                    bytes += k.len() as u64;
                    stack.push((e, d + 1));
                }
            }
            Value::Null | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
        }
    }
    Size {
        weight: (nodes * STEPS_PER_VALUE).saturating_add(bytes / BYTES_PER_STEP),
        depth,
    }
}
