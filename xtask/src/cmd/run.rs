//! `cargo xtask run`: `selector-guard run`, with the same flags and output
//! (see [`selector_guard_cli::run`]). Kept for `make run`, `make fixtures`
//! and the maintainers' habits.

pub use selector_guard_cli::run::*;
