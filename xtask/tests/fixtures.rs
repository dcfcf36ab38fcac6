//! The committed fixtures are fresh: `test_data/requests/` is what
//! `cargo xtask fixtures` makes of `test_data/manifests/`, and
//! `test_data/sessions/` what `policy.wasm` asks of each recorded cluster.

use std::path::PathBuf;
use xtask::cmd::fixtures;

fn root() -> PathBuf {
    fixtures::workspace_root()
}

#[test]
fn committed_request_fixtures_are_fresh() {
    let problems = fixtures::check(&root()).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        problems.is_empty(),
        "test_data/requests is out of date with test_data/manifests (run `make fixtures`):\n{}",
        problems.join("\n")
    );
}

/// Each session recorded from `test_data/sessions/NAME.cluster.yaml` is what
/// the current `policy.wasm` asks of that cluster (`make fixtures` records
/// them again). A policy whose queries changed fails here, and in the
/// replay of every row that uses the session.
#[test]
fn committed_session_fixtures_are_fresh() {
    let policy = root().join("policy.wasm");
    assert!(
        policy.exists(),
        "{} is missing: run `make policy.wasm` (or `make test`) first",
        policy.display()
    );
    let problems = fixtures::check_sessions(&root(), &policy).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        problems.is_empty(),
        "test_data/sessions is out of date with test_data/sessions/*.cluster.yaml (run `make fixtures`):\n{}",
        problems.join("\n")
    );
}
