//! `cargo xtask run`: `selector-guard run`, with the same flags and output
//! (see [`selector_guard_cli::run`]), built here with the `wasm` feature so
//! that it runs a POLICY.wasm on the waPC host. Kept for the maintainers'
//! scripts and habits (`make run` calls the CLI itself).

pub use selector_guard_cli::run::*;
