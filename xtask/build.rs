//! Sets `cfg(has_docker_registry)` for the tests when Debian's
//! `docker-registry` is on PATH, or when `CI=true` (`.ci/run` installs it,
//! so there a missing binary must fail the OCI tests rather than skip them).
//! Elsewhere those tests are `#[ignore]`d with the reason, so `cargo test`
//! reports them as ignored, not `ok`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_docker_registry)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    println!("cargo::rerun-if-changed=build.rs");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| dir.join("docker-registry").is_file());
    if ci || found {
        println!("cargo::rustc-cfg=has_docker_registry");
    }
}
