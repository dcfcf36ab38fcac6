//! `cargo xtask annotate -m policy-metadata.yml [-u README.md] -o annotated-policy.wasm policy.wasm`:
//! `selector-guard annotate`, with the same flags and output (see
//! [`selector_guard_cli::annotate`]; the annotation is
//! [`selector_guard_host::annotate`]). Built here with the `wasm` feature,
//! so `protocolVersion` is asked from the module through the waPC host, as
//! kwctl does.

pub use selector_guard_cli::annotate::*;
