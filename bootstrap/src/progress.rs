//! Progress reporting: a line per step on stderr for people (a spinner while a step runs
//! when stderr is a terminal, then a tick or a cross with the duration), or one JSON event
//! per line for CI (`--output json`).
//!
//! Every event names the phase and the step, never a value. Steps that wait on an external
//! controller (an ExternalSecret becoming Ready, Flux reconciling) are opened with
//! [`Progress::wait_step`]; their events carry `"wait": true` so a benchmark can subtract them.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::phase::Phase;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputMode {
    /// Human-readable lines on stderr.
    #[default]
    Human,
    /// One JSON object per line on stderr.
    Json,
    /// Nothing (library use and tests).
    Quiet,
}

struct Inner {
    mode: OutputMode,
    spinner: bool,
    started: Instant,
    lock: Mutex<()>,
}

/// The title of the session steps, reported as phase 0 (see [`crate::session`]).
const SESSION_TITLE: &str = "session";

/// A cheap-to-clone progress reporter, bound to one phase or to the session steps around
/// them (phase 0 in events).
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
    phase: Option<Phase>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("mode", &self.inner.mode)
            .field("phase", &self.number())
            .finish()
    }
}

impl Progress {
    /// A reporter writing to stderr in `mode`; the spinner only runs on a terminal.
    pub fn new(mode: OutputMode) -> Progress {
        let spinner = mode == OutputMode::Human && std::io::stderr().is_terminal();
        Progress {
            inner: Arc::new(Inner {
                mode,
                spinner,
                started: Instant::now(),
                lock: Mutex::new(()),
            }),
            phase: None,
        }
    }

    /// A reporter that prints nothing.
    pub fn quiet() -> Progress {
        Progress::new(OutputMode::Quiet)
    }

    /// The same reporter, bound to `phase`.
    pub fn for_phase(&self, phase: Phase) -> Progress {
        Progress {
            inner: Arc::clone(&self.inner),
            phase: Some(phase),
        }
    }

    /// The same reporter, bound to the session steps (phase 0).
    pub fn for_session(&self) -> Progress {
        Progress {
            inner: Arc::clone(&self.inner),
            phase: None,
        }
    }

    /// The phase number events carry: 1 to 5, or 0 for the session steps.
    fn number(&self) -> u8 {
        self.phase.map_or(0, Phase::number)
    }

    /// The title of the phase, or `session`.
    fn title(&self) -> &'static str {
        self.phase.map_or(SESSION_TITLE, Phase::title)
    }

    /// Starts a step; finish it with [`StepGuard::done`], [`StepGuard::skipped`] or
    /// [`StepGuard::failed`]. A guard dropped unfinished reports the step as failed.
    pub fn step(&self, name: &str) -> StepGuard {
        self.start_step(name, false)
    }

    /// Starts a step that waits on an external controller (its time is not Ferry's own).
    pub fn wait_step(&self, name: &str) -> StepGuard {
        self.start_step(name, true)
    }

    fn start_step(&self, name: &str, wait: bool) -> StepGuard {
        self.event(
            json!({"event": "step.started", "phase": self.number(), "step": name, "wait": wait}),
            None,
        );
        let stop = Arc::new(AtomicBool::new(false));
        if self.inner.spinner {
            spin(
                Arc::clone(&stop),
                format!("phase {}: {name}", self.number()),
            );
        }
        StepGuard {
            progress: self.clone(),
            name: name.to_owned(),
            wait,
            started: Instant::now(),
            stop,
            finished: false,
        }
    }

    /// Reports the start of this reporter's phase.
    pub fn phase_started(&self) {
        let (phase, title) = (self.number(), self.title());
        self.event(
            json!({"event": "phase.started", "phase": phase, "title": title}),
            Some(format!("▶ phase {phase}: {title}")),
        );
    }

    /// Reports that this reporter's phase finished.
    pub fn phase_done(&self, elapsed: Duration) {
        let (phase, title) = (self.number(), self.title());
        self.event(
            json!({"event": "phase.done", "phase": phase, "title": title,
                   "ms": millis(elapsed)}),
            Some(format!("✔ phase {phase}: {title} ({})", human(elapsed))),
        );
    }

    /// Reports that this reporter's phase was skipped, and why.
    pub fn phase_skipped(&self, reason: &str) {
        let (phase, title) = (self.number(), self.title());
        self.event(
            json!({"event": "phase.skipped", "phase": phase, "title": title,
                   "reason": reason}),
            Some(format!("↷ phase {phase}: {title}: skipped ({reason})")),
        );
    }

    /// Reports that this reporter's phase failed.
    pub fn phase_failed(&self, error: &dyn std::fmt::Display) {
        let (phase, title) = (self.number(), self.title());
        self.event(
            json!({"event": "phase.failed", "phase": phase, "title": title,
                   "error": error.to_string()}),
            Some(format!("✘ phase {phase}: {title}: {error}")),
        );
    }

    /// An informational line (no value may ever be passed here).
    pub fn note(&self, message: &str) {
        self.event(
            json!({"event": "note", "phase": self.number(), "message": message}),
            Some(format!("  {message}")),
        );
    }

    /// The end of the run: `complete` or `failed`, with the total duration.
    pub fn finished(&self, outcome: &str, exit_code: u8) {
        let elapsed = self.inner.started.elapsed();
        self.event(
            json!({"event": "run.finished", "outcome": outcome, "exit_code": exit_code,
                   "ms": millis(elapsed)}),
            Some(format!("{outcome} in {}", human(elapsed))),
        );
    }

    /// Writes `json` (JSON mode) or `line` (human mode) to stderr, one line, atomically.
    fn event(&self, mut json: Value, line: Option<String>) {
        let _guard = self.inner.lock.lock();
        let mut err = std::io::stderr().lock();
        match self.inner.mode {
            OutputMode::Quiet => {}
            OutputMode::Json => {
                json["t_ms"] = json!(millis(self.inner.started.elapsed()));
                let _ = writeln!(err, "{json}");
            }
            OutputMode::Human => {
                if let Some(line) = line {
                    let clear = if self.inner.spinner { "\r\x1b[2K" } else { "" };
                    let _ = writeln!(err, "{clear}{line}");
                }
            }
        }
    }
}

/// An open step; report how it ended exactly once.
#[derive(Debug)]
pub struct StepGuard {
    progress: Progress,
    name: String,
    wait: bool,
    started: Instant,
    stop: Arc<AtomicBool>,
    finished: bool,
}

impl StepGuard {
    /// The step succeeded.
    pub fn done(mut self) {
        self.finish("done", None);
    }

    /// The step had nothing to do (`reason` says why, e.g. `already set`).
    pub fn skipped(mut self, reason: &str) {
        self.finish("skipped", Some(reason.to_owned()));
    }

    /// The step failed with `error` (its Display must not contain a value).
    pub fn failed(mut self, error: &dyn std::fmt::Display) {
        self.finish("failed", Some(error.to_string()));
    }

    fn finish(&mut self, status: &str, detail: Option<String>) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.stop.store(true, Ordering::SeqCst);
        let elapsed = self.started.elapsed();
        let mut json = json!({"event": format!("step.{status}"), "phase": self.progress.number(),
                              "step": self.name, "wait": self.wait, "ms": millis(elapsed)});
        let mark = match status {
            "done" => "✔",
            "skipped" => "↷",
            _ => "✘",
        };
        let mut line = format!("  {mark} {} ({})", self.name, human(elapsed));
        if let Some(detail) = detail {
            json["detail"] = json!(detail);
            line.push_str(&format!(": {detail}"));
        }
        self.progress.event(json, Some(line));
    }
}

impl Drop for StepGuard {
    fn drop(&mut self) {
        self.finish("failed", Some("interrupted".to_owned()));
    }
}

/// Draws a spinner on stderr until `stop` is set.
fn spin(stop: Arc<AtomicBool>, label: String) {
    const FRAMES: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
    std::thread::spawn(move || {
        let mut i = 0;
        while !stop.load(Ordering::SeqCst) {
            {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K{} {label}", FRAMES[i % FRAMES.len()]);
                let _ = err.flush();
            }
            i += 1;
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
