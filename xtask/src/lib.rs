//! Host-side tooling for selector-guard: the maintainers' commands
//! (fixtures, bench, annotate, publishing). The waPC host, the YAML 1.1
//! reader and the metadata live in `selector-guard-host`, shared with the
//! `selector-guard` CLI, and are re-exported here under their old paths.

pub mod cmd;
pub mod oci;

pub use selector_guard_host::{config, host, manifests, metadata, wasm, yaml11};
