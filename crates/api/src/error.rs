//! The crate's one error type: a duration that does not parse, or CRDs that could not be
//! installed. No variant carries a secret value (there are none in this crate).

/// Everything that can fail in `ferry-api`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The string is empty.
    #[error("empty duration")]
    DurationEmpty,
    /// The duration is negative, which makes no sense for an interval.
    #[error("negative duration {0:?}")]
    DurationNegative(String),
    /// A number is missing where one was expected.
    #[error("invalid duration {0:?}: expected a number")]
    DurationMissingNumber(String),
    /// A number has no unit (only a bare `0` may omit it).
    #[error("invalid duration {0:?}: missing unit")]
    DurationMissingUnit(String),
    /// The unit is not one of `ns`, `us`, `µs`, `ms`, `s`, `m`, `h`.
    #[error("invalid duration {input:?}: unknown unit {unit:?}")]
    DurationUnknownUnit {
        /// The whole input.
        input: String,
        /// The unrecognised unit.
        unit: String,
    },
    /// The duration does not fit in 64 bits of nanoseconds (about 292 years), Go's limit.
    #[error("invalid duration {0:?}: out of range")]
    DurationOverflow(String),
    /// Server-side applying a CRD failed.
    #[error("installing CRD {name}: {reason}")]
    ApplyCrd {
        /// The CRD's name.
        name: String,
        /// The API server's error.
        reason: String,
    },
    /// Watching a CRD for its Established condition failed.
    #[error("waiting for CRD {name}: {reason}")]
    WaitCrd {
        /// The CRD's name.
        name: String,
        /// The watch's error.
        reason: String,
    },
    /// A CRD was not Established in time.
    #[error("CRD {name} not established within {seconds} s")]
    CrdNotEstablished {
        /// The CRD's name.
        name: String,
        /// How long was waited.
        seconds: u64,
    },
}
