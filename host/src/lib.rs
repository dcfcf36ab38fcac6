//! The selector-guard host library, shared by the `selector-guard` CLI and
//! the maintainers' `cargo xtask`:
//!
//! - [`host`]: what a Kubewarden host gives a policy: the AdmissionRequest,
//!   the answer types, and the answers to its Kubernetes host calls (grant
//!   check, kwctl session replay, a fake cluster). With the `wasm` feature,
//!   also a waPC host (wasmtime) that runs `policy.wasm` as kwctl and
//!   policy-server do (`host::Policy`);
//! - [`yaml11`]: YAML read exactly as kubectl reads it (YAML 1.1), with
//!   positions and bounds on hostile input;
//! - [`manifests`]: manifests to the AdmissionRequests the API server sends;
//! - [`config`]: settings and context-aware grants, as kwctl takes them;
//! - [`metadata`] and [`wasm`]: the policy metadata and the module's
//!   custom sections; [`annotate`]: the metadata embedded in a module, like
//!   `kwctl annotate`;
//! - [`workload`]: the benchmark requests (`cargo xtask bench`, and the
//!   native benches).
//!
//! No OCI client or async runtime: publishing stays in `xtask`. Without the
//! `wasm` feature, no wasm runtime either.

pub mod annotate;
pub mod config;
pub mod host;
pub mod manifests;
pub mod metadata;
pub mod wasm;
pub mod workload;
pub mod yaml11;
