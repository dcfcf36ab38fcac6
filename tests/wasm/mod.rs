//! `policy.wasm`, compiled once per test binary, for the hostile-input and
//! limit tests. `make test` builds the module before `cargo test`; a missing
//! module fails the tests (never skips them), naming the command to run.

use selector_guard_host::host::Policy;
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policy.wasm")
}

/// The compiled module. Panics with instructions when it is missing.
pub fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = path();
        assert!(
            path.exists(),
            "{} is missing: run `make policy.wasm` (or `make test`) before `cargo test`",
            path.display()
        );
        Policy::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
    })
}
