//! `cargo xtask scaffold`: `selector-guard scaffold`, with the same flags
//! and output (see [`selector_guard_cli::scaffold`]).

pub use selector_guard_cli::scaffold::*;
