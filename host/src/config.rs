//! What one evaluation is configured with, as kwctl configures it: the
//! settings map (`--settings-json` / `--settings-path`) and the
//! Kubernetes grants (`--allow-context-aware`).

use anyhow::{Context, Result};
use serde_json::Value;
use std::path::Path;

use crate::host::{Grants, settings_map};
use crate::metadata::Metadata;
use crate::yaml11::{self, Schema};

/// What `kwctl run` grants the module: nothing without
/// `--allow-context-aware`; with it, what the module's embedded metadata
/// lists, and nothing (with one WARN line) when the module has none.
pub fn grants(module: &[u8], path: &Path, allow_context_aware: bool) -> Result<Grants> {
    if !allow_context_aware {
        return Ok(Grants::none());
    }
    match Metadata::from_module(module)
        .with_context(|| format!("cannot read the metadata of {}", path.display()))?
    {
        Some(metadata) => Ok(Grants::from_metadata(&metadata)),
        None => {
            eprintln!(
                "WARN  host: --allow-context-aware: {} is not annotated (no io.kubewarden.metadata section), \
                 so no Kubernetes resource is granted; annotate it with `make annotated-policy.wasm`",
                path.display()
            );
            Ok(Grants::context_aware_without_resources())
        }
    }
}

/// The settings map (`{}` when none is given), from `--settings-json` or
/// `--settings-path` (YAML or JSON, read by the YAML 1.2 core schema as
/// kwctl reads it). Anything but a map is an error.
pub fn load_settings(json: Option<&str>, path: Option<&Path>) -> Result<Value> {
    let settings = match (json, path) {
        (Some(json), _) => {
            serde_json::from_str(json).context("--settings-json is not valid JSON")?
        }
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read settings file {}", path.display()))?;
            let docs = yaml11::parse(&text, Schema::Core)
                .with_context(|| format!("settings file {}", path.display()))?;
            docs.into_iter().next().map_or(Value::Null, |doc| doc.value)
        }
        (None, None) => Value::Null,
    };
    let settings = if settings.is_null() {
        Value::Object(Default::default())
    } else {
        settings
    };
    settings_map(&settings)?;
    Ok(settings)
}
