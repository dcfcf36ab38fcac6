//! Host-side tooling for selector-guard: a waPC host that runs `policy.wasm`
//! the way kwctl and policy-server do, plus the commands built on it.

pub mod cmd;
pub mod host;
pub mod metadata;
pub mod oci;
pub mod wasm;
pub mod yaml11;
