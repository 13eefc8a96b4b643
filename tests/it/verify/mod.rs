//! `ferry verify`: Git history, the cluster, and the built binary.

mod cli;
mod cluster;
mod git;
