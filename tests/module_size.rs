//! `policy.wasm` within its size budget: policy-server and kwctl keep every
//! policy module in memory and compile it at start, and registries serve it
//! on every pull. `make test` builds the module before the tests.

#![allow(clippy::expect_used, clippy::panic)] // test code may panic

/// The module budget, in bytes (480 KiB).
const BUDGET: u64 = 480 * 1024;

#[test]
fn policy_wasm_is_within_its_budget() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy.wasm");
    let size = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `make policy.wasm` first", path.display()))
        .len();
    assert!(
        size <= BUDGET,
        "policy.wasm is {size} bytes, over its budget of {BUDGET} (480 KiB)"
    );
}
