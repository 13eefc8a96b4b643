//! `ferry agent`: in-process agents scoped to each test's namespace and controller class, and
//! the real binary as a child process (leader election, in-cluster configuration).

mod auth_methods;
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
mod source_ref;
mod sync;
mod templates;
mod tenant;
