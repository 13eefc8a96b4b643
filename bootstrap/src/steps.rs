//! Running a step: open it on the progress reporter, run it, report how it ended.

use std::future::Future;

use crate::error::BootstrapError;
use crate::progress::Progress;

/// Runs `work` as the step `name`: done on success, failed (with the error) otherwise.
pub async fn run<T, F, Fut>(progress: &Progress, name: &str, work: F) -> Result<T, BootstrapError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, BootstrapError>>,
{
    let step = progress.step(name);
    match work().await {
        Ok(value) => {
            step.done();
            Ok(value)
        }
        Err(e) => {
            step.failed(&e);
            Err(e)
        }
    }
}
