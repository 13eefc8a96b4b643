//! Waiting on something outside bootstrap (Vault electing itself leader, the agent syncing a
//! Secret, Flux reconciling): [`until`] looks again every interval until the answer is yes,
//! a look fails, or the deadline passes.
//!
//! Every wait of the crate goes through it; each caller keeps its own interval, deadline and
//! description, and decides which failures end the wait at once (an error) and which are
//! only "not yet" (a [`Check::NotYet`] with what was seen).

use std::time::Duration;

use tokio::time::Instant;

use crate::error::BootstrapError;

/// What one look found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check<T> {
    /// What was awaited is there.
    Done(T),
    /// Not yet. What was seen instead (never a value) goes into the timeout error; `None`
    /// keeps what an earlier look saw.
    NotYet(Option<String>),
}

/// A wait: what is awaited, for how long, how often to look.
#[derive(Debug, Clone)]
pub struct Wait {
    /// What is awaited; the timeout error says `waiting for {what}`.
    pub what: String,
    /// How long to wait, from the call to [`until`].
    pub timeout: Duration,
    /// The pause between two looks.
    pub interval: Duration,
}

/// Looks with `check` until it finds [`Check::Done`] (its value is returned) or fails (its
/// error is returned at once). After a look that finds nothing, once the deadline has
/// passed, the result is [`BootstrapError::Timeout`] with the last thing seen. There is
/// always at least one look.
pub async fn until<T>(
    wait: Wait,
    mut check: impl AsyncFnMut() -> Result<Check<T>, BootstrapError>,
) -> Result<T, BootstrapError> {
    let deadline = Instant::now() + wait.timeout;
    let mut last = None;
    loop {
        match check().await? {
            Check::Done(value) => return Ok(value),
            Check::NotYet(seen) => last = seen.or(last),
        }
        if Instant::now() >= deadline {
            return Err(BootstrapError::Timeout {
                what: wait.what,
                seconds: wait.timeout.as_secs(),
                last,
            });
        }
        tokio::time::sleep(wait.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(timeout_ms: u64) -> Wait {
        Wait {
            what: "the thing".into(),
            timeout: Duration::from_millis(timeout_ms),
            interval: Duration::from_millis(1),
        }
    }

    #[tokio::test]
    async fn returns_what_the_look_found_once_it_is_there() {
        let mut looks = 0;
        let found = until(wait(10_000), async || {
            looks += 1;
            Ok(if looks < 3 {
                Check::NotYet(Some(format!("look {looks}")))
            } else {
                Check::Done(looks)
            })
        })
        .await
        .unwrap();
        assert_eq!(found, 3);
    }

    #[tokio::test]
    async fn times_out_with_the_last_thing_seen() {
        let mut looks = 0;
        let err = until(wait(20), async || -> Result<Check<()>, _> {
            looks += 1;
            // Only the first look says something; later ones keep it.
            Ok(Check::NotYet((looks == 1).then(|| "pending".to_owned())))
        })
        .await
        .unwrap_err();
        assert!(looks > 1, "looked again before giving up");
        match err {
            BootstrapError::Timeout { what, last, .. } => {
                assert_eq!(what, "the thing");
                assert_eq!(last.as_deref(), Some("pending"));
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[tokio::test]
    async fn a_failed_look_ends_the_wait_and_there_is_always_one_look() {
        let mut looks = 0;
        let err = until(wait(0), async || -> Result<Check<()>, _> {
            looks += 1;
            Err(BootstrapError::Verify("broken".into()))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, BootstrapError::Verify(_)), "{err}");
        assert_eq!(looks, 1);
    }
}
