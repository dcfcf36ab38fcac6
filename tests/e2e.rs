//! End-to-end: the compiled `policy.wasm` through the kwctl-compatible host.
//!
//! Every row of `tests/cases.yaml` and `tests/settings.yaml` runs in wasm,
//! through the same AdmissionRequest normalization, JSON Patch and
//! AdmissionResponse that kwctl prints. (`cargo xtask run` as a process is
//! tested in `xtask/tests/run_cli.rs`.) `make test` builds `policy.wasm` first.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)] // test code may panic

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;
use xtask::host::{AdmissionResponse, Policy, admission_request};

fn wasm_path() -> PathBuf {
    common::root().join("policy.wasm")
}

/// The module, compiled once for the whole test binary.
fn policy() -> &'static Policy {
    static POLICY: OnceLock<Policy> = OnceLock::new();
    POLICY.get_or_init(|| {
        let path = wasm_path();
        assert!(
            path.exists(),
            "{} is missing: run `make policy.wasm` (or `make test`) first",
            path.display()
        );
        warn_if_stale(&path);
        Policy::load(&path).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// `cargo test` alone does not rebuild the module: say so when a source is newer.
fn warn_if_stale(wasm: &Path) {
    let Ok(built) = std::fs::metadata(wasm).and_then(|m| m.modified()) else {
        return;
    };
    let mut stack = vec![common::root().join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t > built)
            {
                eprintln!(
                    "WARNING: {} is newer than policy.wasm: run `make policy.wasm`",
                    path.display()
                );
                return;
            }
        }
    }
}

#[test]
fn protocol_version_is_v1() {
    assert_eq!(
        policy()
            .protocol_version()
            .unwrap_or_else(|e| panic!("{e:#}")),
        "v1"
    );
}

#[test]
fn every_case_row_in_wasm() {
    let policy = policy();
    let started = Instant::now();
    let rows = common::run_table(|case, request, _payload| {
        let sent = admission_request(request).unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let answer = policy
            .validate(&sent, &case.settings)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let response = AdmissionResponse::from_validation(&sent, &answer)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let object = request.get("object").cloned().unwrap_or(Value::Null);
        let mutated = response
            .mutated(&object)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        common::Outcome {
            allowed: response.allowed,
            message: response.status.and_then(|s| s.message),
            warnings: response.warnings.unwrap_or_default(),
            mutated,
        }
    });
    eprintln!(
        "e2e: {rows} case rows through policy.wasm in {:?}",
        started.elapsed()
    );
}

#[test]
fn every_settings_row_in_wasm() {
    let policy = policy();
    let cases = common::load_settings_cases();
    assert!(!cases.is_empty(), "tests/settings.yaml has no rows");
    let mut failures = Vec::new();
    for case in &cases {
        let got = policy
            .validate_settings(&case.settings)
            .unwrap_or_else(|e| panic!("{}: {e:#}", case.name));
        let message = got.message.clone().unwrap_or_default();
        if got.valid != case.valid {
            failures.push(format!(
                "- {}: valid expected {}, got {} ({message:?})",
                case.name, case.valid, got.valid
            ));
        }
        for fragment in &case.message {
            if !message.contains(fragment.as_str()) {
                failures.push(format!(
                    "- {}: message lacks {fragment:?}: {message:?}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} settings rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
