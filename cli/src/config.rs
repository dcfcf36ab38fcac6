//! `.selector-guard.yaml`: the settings, exclusions, namespace and
//! `failOn` of `check` and `fix`, kept beside the manifests.
//!
//! - Each input file looks for `.selector-guard.yaml` (or
//!   `.selector-guard.yml`; both in one folder is an error) in its own
//!   folder, then upward, up to and including the repository's root (the
//!   folder holding `.git`, a folder or a worktree's file) or the
//!   filesystem's root. Stdin (`-`) looks from the current directory. The
//!   nearest file wins; files do not merge. `--config FILE` names the file
//!   for every input; `--no-config` uses none.
//! - Top-level keys: `settings` (the policy's settings map, checked by the
//!   policy as `--settings-json` is), `exclude` (globs), `namespace`,
//!   `failOn` (`error` or `warning`). Anything else is an error naming it.
//! - The file is read as `--settings-path` reads settings (as kwctl does:
//!   YAML 1.2's core schema), so `serviceTargets: off` is the string `off`.
//! - `exclude`: gitignore-like patterns, relative to the config file's
//!   folder: `*` and `?` stay within a path segment, `**` crosses them; a
//!   pattern without a `/` matches at any depth, one with a `/` (a leading
//!   `/` too) from the config's folder; a trailing `/` matches folders
//!   only; a pattern that matches a folder excludes everything under it.
//!   No `!` negation.

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use selector_guard_host::yaml11::{self, Schema};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::check::FailOn;
use crate::inputs::Listed;

/// The names looked for, in each folder.
pub const FILE_NAMES: [&str; 2] = [".selector-guard.yaml", ".selector-guard.yml"];

/// The top-level keys, as error messages list them.
pub const KEYS: [&str; 4] = ["settings", "exclude", "namespace", "failOn"];

/// One config file, read and checked (but for `settings`, which the
/// policy checks when it is loaded).
#[derive(Debug, Clone)]
pub struct Config {
    /// The file as messages name it (relative to the current directory
    /// when it is under it).
    pub name: String,
    /// The folder the `exclude` patterns are relative to (absolute).
    pub folder: PathBuf,
    /// The policy's settings map (`settings`).
    pub settings: Option<Value>,
    /// The `exclude` patterns, as written.
    pub exclude: Vec<String>,
    /// `namespace`.
    pub namespace: Option<String>,
    /// `failOn`.
    pub fail_on: Option<FailOn>,
    excluded: Exclude,
}

/// The compiled `exclude` patterns.
#[derive(Debug, Clone, Default)]
struct Exclude {
    /// Patterns that match files and folders.
    any: GlobSet,
    /// Patterns written with a trailing `/`: folders only.
    folders: GlobSet,
}

impl Config {
    /// Reads and checks the config file at `path`. `Err` is one line per
    /// problem, each naming the file and the key.
    pub fn read(path: &Path) -> Result<Config, Vec<String>> {
        let path = absolute(path);
        let name = shown(&path);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| vec![format!("{name}: cannot read it: {e}")])?;
        let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Config::parse(&name, folder, &text)
    }

    /// The config file `name` (in `folder`), from its text.
    pub fn parse(name: &str, folder: PathBuf, text: &str) -> Result<Config, Vec<String>> {
        let docs = yaml11::parse(text, Schema::Core).map_err(|e| vec![format!("{name}: {e:#}")])?;
        let mut docs: Vec<Value> = docs
            .into_iter()
            .map(|doc| doc.value)
            .filter(|value| !value.is_null())
            .collect();
        if docs.len() > 1 {
            return Err(vec![format!(
                "{name}: holds {} YAML documents; a config file is one map",
                docs.len()
            )]);
        }
        let mut config = Config {
            name: name.to_owned(),
            folder,
            settings: None,
            exclude: Vec::new(),
            namespace: None,
            fail_on: None,
            excluded: Exclude::default(),
        };
        let map = match docs.pop() {
            None => return Ok(config),
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(vec![format!(
                    "{name}: expected a map with the keys {}, got {}",
                    KEYS.join(", "),
                    describe(&other)
                )]);
            }
        };
        let mut errors = Vec::new();
        let at = |key: &str, message: String| format!("{name}: {key}: {message}");
        for (key, value) in map {
            match (key.as_str(), value) {
                (_, Value::Null) if KEYS.contains(&key.as_str()) => {}
                ("settings", Value::Object(settings)) => {
                    config.settings = Some(Value::Object(settings));
                }
                ("settings", other) => errors.push(at(
                    "settings",
                    format!(
                        "expected a map of setting names to values, got {}",
                        describe(&other)
                    ),
                )),
                ("exclude", Value::Array(patterns)) => {
                    for (i, pattern) in patterns.into_iter().enumerate() {
                        match pattern {
                            Value::String(pattern) => config.exclude.push(pattern),
                            other => errors.push(at(
                                &format!("exclude[{i}]"),
                                format!(
                                    "expected a glob pattern (a string), got {}",
                                    describe(&other)
                                ),
                            )),
                        }
                    }
                }
                ("exclude", other) => errors.push(at(
                    "exclude",
                    format!("expected a list of glob patterns, got {}", describe(&other)),
                )),
                ("namespace", Value::String(namespace)) if !namespace.is_empty() => {
                    config.namespace = Some(namespace);
                }
                ("namespace", other) => errors.push(at(
                    "namespace",
                    format!("expected a namespace name, got {}", describe(&other)),
                )),
                ("failOn", Value::String(level)) if level == "error" => {
                    config.fail_on = Some(FailOn::Error);
                }
                ("failOn", Value::String(level)) if level == "warning" => {
                    config.fail_on = Some(FailOn::Warning);
                }
                ("failOn", other) => errors.push(at(
                    "failOn",
                    format!(
                        "expected \"error\" or \"warning\", got {}",
                        describe(&other)
                    ),
                )),
                (unknown, _) => errors.push(format!(
                    "{name}: unknown key {} (expected one of {})",
                    Value::from(unknown),
                    KEYS.join(", ")
                )),
            }
        }
        match Exclude::new(&config.exclude) {
            Ok(excluded) => config.excluded = excluded,
            Err(problems) => errors.extend(problems.into_iter().map(|p| format!("{name}: {p}"))),
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(errors)
        }
    }

    /// Whether `path` (a file or folder, relative to the current directory
    /// or absolute) is excluded: it, or a folder above it, matches a
    /// pattern. A path outside the config's folder never is.
    pub fn excludes(&self, path: &Path) -> bool {
        let path = absolute(path);
        let Ok(relative) = path.strip_prefix(&self.folder) else {
            return false;
        };
        let segments: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        (1..=segments.len()).any(|n| {
            let prefix = segments.get(..n).unwrap_or_default().join("/");
            let folder = n < segments.len() || path.is_dir();
            self.excluded.any.is_match(&prefix)
                || (folder && self.excluded.folders.is_match(&prefix))
        })
    }

    /// A refusal of `settings` by the policy, as one line naming the file.
    pub fn settings_error(&self, message: &str) -> String {
        // The policy names the whole map `settings` itself, and where in
        // its JSON the error is: not a place in this file.
        let message = message.strip_prefix("settings: ").unwrap_or(message);
        let message = match message.rfind(" at line ") {
            Some(at)
                if message
                    .get(at + " at line ".len()..)
                    .is_some_and(|rest| rest.split(" column ").count() == 2) =>
            {
                message.get(..at).unwrap_or(message)
            }
            _ => message,
        };
        format!("{}: settings: {message}", self.name)
    }
}

impl Exclude {
    /// `patterns` compiled, or one line per invalid one (`exclude[2]: ...`).
    fn new(patterns: &[String]) -> Result<Exclude, Vec<String>> {
        let (mut any, mut folders) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        let mut errors = Vec::new();
        for (i, written) in patterns.iter().enumerate() {
            let invalid = |why: String| {
                format!(
                    "exclude[{i}]: invalid glob {}: {why}",
                    Value::from(written.as_str())
                )
            };
            let mut pattern = written.trim();
            if pattern.starts_with('!') {
                errors.push(invalid("negation (`!`) is not supported".into()));
                continue;
            }
            while let Some(rest) = pattern.strip_prefix("./") {
                pattern = rest;
            }
            let folder_only = pattern.len() > 1 && pattern.ends_with('/');
            let pattern = pattern.trim_end_matches('/');
            let anchored = pattern.starts_with('/');
            let pattern = pattern.trim_start_matches('/');
            if pattern.is_empty() {
                errors.push(invalid(
                    "it matches nothing (or all of the config's folder)".into(),
                ));
                continue;
            }
            let pattern = if anchored || pattern.contains('/') || pattern.starts_with("**") {
                pattern.to_owned()
            } else {
                format!("**/{pattern}")
            };
            match GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
            {
                Ok(glob) => {
                    if folder_only {
                        folders.add(glob);
                    } else {
                        any.add(glob);
                    }
                }
                Err(e) => errors.push(invalid(e.kind().to_string())),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        match (any.build(), folders.build()) {
            (Ok(any), Ok(folders)) => Ok(Exclude { any, folders }),
            (Err(e), _) | (_, Err(e)) => Err(vec![format!("exclude: {e}")]),
        }
    }
}

/// Which config file the inputs use (`--config`, `--no-config`, or the
/// nearest one).
#[derive(Debug, Clone)]
pub enum Choice {
    /// Look for the nearest `.selector-guard.yaml` of each input.
    Discover,
    /// `--config FILE`: this one for every input.
    File(PathBuf),
    /// `--no-config`.
    Nothing,
}

/// Finds the config file of each input, remembering each folder's answer.
#[derive(Debug)]
pub struct Lookup {
    choice: Choice,
    found: HashMap<PathBuf, Result<Option<PathBuf>, String>>,
}

impl Lookup {
    /// A lookup as `choice` says.
    pub fn new(choice: Choice) -> Lookup {
        Lookup {
            choice,
            found: HashMap::new(),
        }
    }

    /// The config file of `input` (absolute, but for `--config`'s, as
    /// given); `None` when there is none.
    pub fn of(&mut self, input: &Listed) -> Result<Option<PathBuf>, String> {
        match &self.choice {
            Choice::Nothing => Ok(None),
            Choice::File(path) => Ok(Some(path.clone())),
            Choice::Discover => {
                let start = match input.path() {
                    None => absolute(Path::new(".")),
                    Some(path) => {
                        let path = absolute(path);
                        if path.is_dir() {
                            path
                        } else {
                            path.parent().map(Path::to_path_buf).unwrap_or(path)
                        }
                    }
                };
                self.found
                    .entry(start.clone())
                    .or_insert_with(|| find(&start))
                    .clone()
            }
        }
    }
}

/// The nearest config file in `folder` (absolute) or above it, up to the
/// folder holding `.git` or the filesystem's root.
pub fn find(folder: &Path) -> Result<Option<PathBuf>, String> {
    for dir in folder.ancestors() {
        let present: Vec<PathBuf> = FILE_NAMES
            .iter()
            .map(|name| dir.join(name))
            .filter(|path| path.is_file())
            .collect();
        match present.as_slice() {
            [] => {}
            [one] => return Ok(Some(one.clone())),
            [first, second, ..] => {
                return Err(format!(
                    "{} and {} are both there: keep one",
                    shown(first),
                    shown(second)
                ));
            }
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    Ok(None)
}

/// `path` made absolute (relative to the current directory) and
/// normalized without reading the filesystem: `.` dropped, `..` taken back.
pub fn absolute(path: &Path) -> PathBuf {
    let joined = match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// An absolute `path` as messages name it: relative to the current
/// directory when it is under it or in a folder above it (`../x`).
fn shown(path: &Path) -> String {
    let cwd = absolute(Path::new("."));
    if let Some(relative) = path
        .strip_prefix(&cwd)
        .ok()
        .filter(|relative| !relative.as_os_str().is_empty())
    {
        return relative.display().to_string();
    }
    let above = path.parent().and_then(|folder| {
        let up = cwd.strip_prefix(folder).ok()?.components().count();
        let name = path.file_name()?;
        let mut relative: PathBuf = std::iter::repeat_n("..", up).collect();
        relative.push(name);
        Some(relative)
    });
    above
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// A value as messages describe what they got: scalars as JSON, `a list`,
/// `a map`.
fn describe(value: &Value) -> String {
    match value {
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a map".into(),
        Value::Null => "nothing".into(),
        scalar => scalar.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<Config, Vec<String>> {
        Config::parse(".selector-guard.yaml", PathBuf::from("/repo"), text)
    }

    #[test]
    fn keys_are_read_and_checked() {
        let got = config(
            "settings:\n  serviceTargets: off\nexclude: [vendor/]\nnamespace: shop\nfailOn: warning\n",
        )
        .map_err(|e| e.join("\n"));
        let Ok(got) = got else {
            unreachable!("{got:?}");
        };
        assert_eq!(
            got.settings,
            Some(serde_json::json!({"serviceTargets": "off"}))
        );
        assert_eq!(got.namespace.as_deref(), Some("shop"));
        assert_eq!(got.fail_on, Some(FailOn::Warning));
        assert!(config("").is_ok_and(|c| c.settings.is_none()));
        for (text, wanted) in [
            (
                "exlude: []",
                ".selector-guard.yaml: unknown key \"exlude\" (expected one of settings, exclude, namespace, failOn)",
            ),
            (
                "failOn: all",
                ".selector-guard.yaml: failOn: expected \"error\" or \"warning\", got \"all\"",
            ),
            (
                "exclude: [a, b, \"[\"]",
                ".selector-guard.yaml: exclude[2]: invalid glob \"[\": unclosed character class; missing ']'",
            ),
            (
                "- a",
                ".selector-guard.yaml: expected a map with the keys settings, exclude, namespace, failOn, got a list",
            ),
            (
                "settings: [1]",
                ".selector-guard.yaml: settings: expected a map of setting names to values, got a list",
            ),
        ] {
            assert_eq!(
                config(text).map(|_| ()),
                Err(vec![wanted.to_owned()]),
                "{text}"
            );
        }
    }

    #[test]
    fn exclude_is_gitignore_like() {
        let Ok(got) = config(
            "exclude: ['*.generated.yaml', 'vendor/', /top.yaml, 'charts/*/tests', 'deep/**/x.yaml']",
        ) else {
            unreachable!();
        };
        let excluded = |path: &str| got.excludes(Path::new(path));
        assert!(excluded("/repo/a.generated.yaml"));
        assert!(excluded("/repo/sub/a.generated.yaml"));
        assert!(excluded("/repo/vendor/a.yaml"));
        assert!(excluded("/repo/sub/vendor/a/b.yaml"));
        assert!(excluded("/repo/top.yaml"));
        assert!(!excluded("/repo/sub/top.yaml"));
        assert!(excluded("/repo/charts/app/tests/t.yaml"));
        assert!(!excluded("/repo/charts/app/templates/t.yaml"));
        assert!(excluded("/repo/deep/x.yaml"));
        assert!(excluded("/repo/deep/a/b/x.yaml"));
        assert!(!excluded("/repo/a.yaml"));
        assert!(!excluded("/repo/vendor.yaml"));
        assert!(!excluded("/elsewhere/vendor/a.yaml"));
    }

    #[test]
    fn paths_are_normalized() {
        assert_eq!(absolute(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }
}
