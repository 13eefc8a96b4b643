//! The five phases of `ferry bootstrap`, a module each, in the order they run:
//! [`infra`] (1), [`secrets`] (2), [`flux`] (3), [`apps`] (4), [`finish`] (5).

pub mod apps;
pub mod finish;
pub mod flux;
pub mod infra;
pub mod secrets;
