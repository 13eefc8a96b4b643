//! `ferry agent`: in-process agents scoped to each test's namespace and controller class, and
//! the real binary as a child process (leader election, in-cluster configuration).

mod incluster;
mod leader;
mod push;
mod readiness;
mod redaction;
mod refresh;
mod restart;
mod sessions;
mod shaping;
mod shutdown;
mod sync;
mod templates;
mod tenant;
