//! What the CLI's process tests share: the built binary, run in a folder,
//! with an optional stdin.

#![allow(dead_code, clippy::expect_used)] // each test binary uses a part

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `cli/` crate's folder.
pub fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The workspace's root.
pub fn workspace() -> PathBuf {
    crate_dir().parent().expect("the workspace").to_path_buf()
}

/// `selector-guard ARGS` in `dir`, with `stdin` (else an empty stdin),
/// without the compiled-module cache.
pub fn selector_guard(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_selector-guard"))
        .current_dir(dir)
        .args(args)
        .env("SELECTOR_GUARD_NO_CACHE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("selector-guard runs");
    let input = child.stdin.take();
    if let (Some(mut input), Some(text)) = (input, stdin) {
        use std::io::Write as _;
        input.write_all(text.as_bytes()).expect("stdin written");
    }
    child.wait_with_output().expect("selector-guard finishes")
}
