//! Which `policy.wasm` the CLI runs, and loading it once for all documents.
//!
//! The module is `--policy PATH`, else `policy.wasm` in the current
//! directory, else the `policy.wasm` of the repository this binary was
//! built from (its path is fixed at build time). Compiled code is kept
//! in `$XDG_CACHE_HOME/selector-guard` (or `~/.cache/selector-guard`),
//! keyed by the module's hash and wasmtime's version, unless
//! `SELECTOR_GUARD_NO_CACHE` is set.

use anyhow::{Context, Result};
use selector_guard_host::host::Policy;
use std::path::{Path, PathBuf};

/// What to say when no module is found.
pub const HOW_TO_GET_ONE: &str = "no policy.wasm found (in the current directory or the repository): \
     build it with `make policy.wasm` in the repository, or pull a release with \
     `kwctl pull ghcr.io/selector-guard/policies/selector-guard` or `cargo xtask pull`, \
     then pass --policy PATH";

/// The module to run: `explicit`, else `./policy.wasm`, else the
/// repository's; `None` when none of them exists.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let here = PathBuf::from("policy.wasm");
    if here.is_file() {
        return Some(here);
    }
    let repository = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policy.wasm");
    repository.is_file().then_some(repository)
}

/// The folder for compiled modules, if caching is on.
pub fn cache_folder() -> Option<PathBuf> {
    if std::env::var_os("SELECTOR_GUARD_NO_CACHE").is_some() {
        return None;
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    let folder = base.join("selector-guard");
    std::fs::create_dir_all(&folder).ok()?;
    Some(folder)
}

/// Reads and compiles (or takes from the cache) the module at `path`.
pub fn load(path: &Path) -> Result<(Vec<u8>, Policy)> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?;
    let policy = Policy::from_bytes_cached(&bytes, cache_folder().as_deref())
        .with_context(|| format!("cannot load policy {}", path.display()))?;
    Ok((bytes, policy))
}
