//! `run` without POLICY.wasm (the policy linked into the binary, run
//! natively: what `make run` and an installed `selector-guard` do) prints
//! exactly what `run POLICY.wasm` prints through the waPC host: the same
//! stdout, the same stderr, the same exit status, and the same recorded
//! session. (`xtask run` is `selector-guard run` built with the `wasm`
//! feature, so both paths run in one binary here.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    xtask::cmd::fixtures::workspace_root()
}

fn module(name: &str) -> String {
    let wasm = root().join(name);
    assert!(
        wasm.exists(),
        "{} is missing: run `make {name}` (or `make test`) first",
        wasm.display()
    );
    wasm.to_string_lossy().into_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .current_dir(root())
        .arg("run")
        .args(args)
        .output()
        .expect("xtask runs")
}

/// `run ARGS` natively and `run ARGS MODULE` through wasm agree; returns
/// the native run's stdout.
fn agree(args: &[&str], module: &str) -> String {
    let native = run(args);
    let mut with_module = args.to_vec();
    with_module.push(module);
    let wasm = run(&with_module);
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    assert_eq!(
        text(&native.stdout),
        text(&wasm.stdout),
        "{args:?}: stdout (left: built-in, right: {module})"
    );
    assert_eq!(
        text(&native.stderr),
        text(&wasm.stderr),
        "{args:?}: stderr (left: built-in, right: {module})"
    );
    assert_eq!(native.status.code(), wasm.status.code(), "{args:?}: status");
    text(&native.stdout)
}

#[test]
fn make_runs_requests_print_what_the_module_prints() {
    let policy = module("policy.wasm");
    for request in [
        "test_data/requests/daemonset-from-deployment.json",
        "test_data/requests/daemonset-valid.json",
        "test_data/requests/service-yaml11.json",
    ] {
        let human = agree(&["--human", "--request-path", request], &policy);
        assert!(human.starts_with(&format!("== {request}: ")), "{human}");
        agree(&["--request-path", request], &policy);
    }
    let refused = run(&[
        "--settings-json",
        r#"{"noSuchSetting":true}"#,
        "--request-path",
        "test_data/requests/daemonset-valid.json",
    ]);
    assert!(!refused.status.success());
    agree(
        &[
            "--settings-json",
            r#"{"noSuchSetting":true}"#,
            "--request-path",
            "test_data/requests/daemonset-valid.json",
        ],
        &policy,
    );
}

/// The built-in policy's grants are those of policy-metadata.yml (built in,
/// or given with --metadata-path), as the annotated module's are; without
/// --allow-context-aware both refuse every Kubernetes call.
#[test]
fn context_aware_runs_print_what_the_annotated_module_prints() {
    let annotated = module("annotated-policy.wasm");
    let replay = [
        "--human",
        "--settings-json",
        r#"{"serviceSelectorChange":"warn"}"#,
        "--replay-host-capabilities-interactions",
        "test_data/sessions/service-selector-swap--unlabeled.yml",
        "--request-path",
        "test_data/requests/service-selector-swap.json",
    ];
    let refused = agree(&replay, &annotated);
    let mut granted = vec!["--allow-context-aware"];
    granted.extend(replay);
    let answered = agree(&granted, &annotated);
    assert_ne!(refused, answered, "the grant changes the answer");
    let native_with_file =
        run(&[&["--metadata-path", "policy-metadata.yml"], &granted[..]].concat());
    assert_eq!(String::from_utf8_lossy(&native_with_file.stdout), answered);

    let dir = std::env::temp_dir().join(format!("xtask-built-in-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let recorded = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let cluster = |out: &str| {
        vec![
            "--allow-context-aware".to_string(),
            "--settings-json".into(),
            r#"{"serviceSelectorChange":"warn"}"#.into(),
            "--cluster-state".into(),
            "test_data/sessions/service-selector-swap--unlabeled.cluster.yaml".into(),
            "--record-host-capabilities-interactions".into(),
            out.to_string(),
            "--request-path".into(),
            "test_data/requests/service-selector-swap.json".into(),
        ]
    };
    let native = run(&cluster(&recorded("native.yml"))
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let mut args = cluster(&recorded("wasm.yml"));
    args.push(annotated);
    let wasm = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(native.status.success() && wasm.status.success());
    assert_eq!(native.stdout, wasm.stdout);
    let session = |name: &str| std::fs::read_to_string(recorded(name)).expect("recorded");
    assert!(!session("native.yml").is_empty());
    assert_eq!(
        session("native.yml"),
        session("wasm.yml"),
        "the recorded sessions"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
