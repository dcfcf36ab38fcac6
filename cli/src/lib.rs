//! The `selector-guard` command line: `check` and `fix` run the policy
//! over folders of manifests read as kubectl reads them (YAML 1.1); `run`,
//! `scaffold` and `annotate` are kwctl's, with YAML read the same way.
//! `cargo xtask run`, `cargo xtask scaffold` and `cargo xtask annotate` are
//! these commands.
//!
//! Built on `selector-guard-host` (the YAML reader, the manifests, the
//! metadata, the Kubernetes host) and on the policy itself, linked in and
//! called natively ([`native`]). The `wasm` feature (off by default) adds
//! the waPC host (wasmtime), to run a `.wasm` module: `run POLICY.wasm`,
//! and the `policy` and `evaluate` modules. No OCI client and no async runtime.

pub mod annotate;
pub mod check;
pub mod config;
#[cfg(feature = "wasm")]
pub mod evaluate;
pub mod findings;
pub mod fix;
pub mod inputs;
pub mod junit;
pub mod native;
#[cfg(feature = "wasm")]
pub mod policy;
pub mod run;
pub mod sarif;
pub mod scaffold;
pub mod suppress;
