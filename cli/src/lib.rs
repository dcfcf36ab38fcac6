//! The `selector-guard` command line: `check` and `fix` run the policy
//! over folders of manifests read as kubectl reads them (YAML 1.1); `run`
//! and `scaffold` are kwctl's, with YAML read the same way. `cargo xtask
//! run` and `cargo xtask scaffold` are these commands.
//!
//! Built on `selector-guard-host` (the waPC host and the YAML reader); no
//! OCI client and no async runtime.

pub mod check;
pub mod evaluate;
pub mod findings;
pub mod fix;
pub mod inputs;
pub mod policy;
pub mod run;
pub mod scaffold;
