//! The selector-guard host library, shared by the `selector-guard` CLI and
//! the maintainers' `cargo xtask`:
//!
//! - [`host`]: a waPC host that runs `policy.wasm` as kwctl and
//!   policy-server do, with kwctl session replay and a fake cluster;
//! - [`yaml11`]: YAML read exactly as kubectl reads it (YAML 1.1), with
//!   positions and bounds on hostile input;
//! - [`manifests`]: manifests to the AdmissionRequests the API server sends;
//! - [`config`]: settings and context-aware grants, as kwctl takes them;
//! - [`metadata`] and [`wasm`]: the policy metadata and the module's
//!   custom sections.
//!
//! No OCI client or async runtime: publishing stays in `xtask`.

pub mod config;
pub mod host;
pub mod manifests;
pub mod metadata;
pub mod wasm;
pub mod yaml11;
