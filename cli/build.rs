//! Sets `cfg(has_kubectl)` when kubectl runs here, or when `CI=true`
//! (`.ci/run` installs kubectl, so there a missing kubectl must fail the
//! tests that need it rather than skip them). Elsewhere those tests are
//! `#[ignore]`d with the reason, and `cargo test` reports them as ignored.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_kubectl)");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let kubectl = std::process::Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ci || kubectl {
        println!("cargo::rustc-cfg=has_kubectl");
    }
}
