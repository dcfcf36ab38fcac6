//! From command-line paths to the Kubernetes objects `check` and `fix` run
//! the policy on, with where each one is written.
//!
//! - A PATH is a file, a folder (walked for `.yaml`, `.yml` and `.json`,
//!   in sorted order) or `-` for stdin (named `-`).
//! - Every document is read as kubectl reads it (YAML 1.1, or JSON when
//!   the text starts with `{`); a `kind: List` gives its items.
//! - A document without a string `apiVersion` and `kind` (a `values.yaml`,
//!   a `Chart.yaml`, a kustomization) is skipped and counted; an empty
//!   document is ignored.
//! - Under `helm template` output, a `# Source: PATH` comment before a
//!   document names its template: findings then name that file, and lines
//!   count from the line after the comment.

use anyhow::{Context, Result, anyhow};
use selector_guard_host::manifests;
use selector_guard_host::yaml11::{self, Limits, Node, Position, Schema};
use serde_json::Value;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// Where a file's text comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Standard input.
    Stdin,
    /// A file on disk.
    File(PathBuf),
}

/// One input file and its text.
#[derive(Debug)]
pub struct Source {
    /// As findings name it: the path as given or found, `-` for stdin.
    pub name: String,
    /// Where it came from (where `fix` writes back).
    pub origin: Origin,
    /// Its text, or why it could not be read.
    pub text: Result<String, String>,
}

/// The files named by `paths`, in order; folders are walked, sorted.
/// A path that does not exist gives one unreadable [`Source`].
pub fn sources(paths: &[PathBuf]) -> Vec<Source> {
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            let mut text = String::new();
            let text = std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .map_err(|e| format!("cannot read stdin: {e}"));
            out.push(Source {
                name: "-".into(),
                origin: Origin::Stdin,
                text,
            });
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(e) = walk(path, &mut files) {
                out.push(unreadable(path, e));
            }
            files.sort();
            out.extend(files.into_iter().map(|file| read(&file)));
        } else {
            out.push(read(path));
        }
    }
    out
}

fn unreadable(path: &Path, error: std::io::Error) -> Source {
    Source {
        name: path.display().to_string(),
        origin: Origin::File(path.to_path_buf()),
        text: Err(format!("cannot read: {error}")),
    }
}

fn read(path: &Path) -> Source {
    let text = std::fs::read(path)
        .map_err(|e| format!("cannot read: {e}"))
        .and_then(|bytes| {
            String::from_utf8(bytes).map_err(|_| "cannot read: not UTF-8 text".to_owned())
        });
    Source {
        name: path.display().to_string(),
        origin: Origin::File(path.to_path_buf()),
        text,
    }
}

/// Manifest files under `folder`, recursively (hidden folders skipped).
fn walk(folder: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if path.is_dir() {
            if !hidden {
                walk(&path, files)?;
            }
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            files.push(path);
        }
    }
    Ok(())
}

/// One Kubernetes object of a file, and where it is written.
#[derive(Clone, Debug)]
pub struct Object {
    /// The file findings name (a helm template under `# Source:`).
    pub file: String,
    /// Subtracted from text lines to give the lines findings print.
    pub line_offset: usize,
    /// The object as kubectl reads it.
    pub value: Value,
    /// The object as written, when positions are known.
    pub node: Option<Node>,
    /// Where its document (or list item) starts.
    pub start: Position,
    /// `Kind namespace/name`, as messages name objects.
    pub name: String,
}

impl Object {
    /// The line and column findings print for `position`.
    pub fn place(&self, position: Position) -> (usize, usize) {
        (
            position.line.saturating_sub(self.line_offset).max(1),
            position.column.max(1),
        )
    }
}

/// What a file holds: its objects, and how many documents were skipped.
#[derive(Debug, Default)]
pub struct Contents {
    /// The Kubernetes objects, in order.
    pub objects: Vec<Object>,
    /// Documents that are not Kubernetes objects.
    pub skipped: usize,
}

/// The objects in `text`, the content of the file `name`.
pub fn objects(name: &str, text: &str) -> Result<Contents> {
    let json = text.trim_start().starts_with('{');
    let docs = if json {
        // kubectl decodes a stream that starts with `{` as JSON; the YAML
        // reader gives the positions (JSON is YAML) when it can.
        let values = serde_json::Deserializer::from_str(text)
            .into_iter::<Value>()
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| anyhow!("invalid JSON: {e}"))?;
        let positioned = yaml11::parse_positioned(text, Schema::Core, Limits::default())
            .ok()
            .filter(|docs| docs.len() == values.len());
        values
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                let doc = positioned.as_ref().and_then(|docs| docs.get(i));
                Doc {
                    value,
                    root: doc.and_then(|d| d.root.clone()),
                    start: doc.map_or(Position::default(), |d| d.start),
                }
            })
            .collect::<Vec<_>>()
    } else {
        yaml11::parse_positioned(text, Schema::Yaml11, Limits::default())?
            .into_iter()
            .map(|d| Doc {
                value: d.value,
                root: d.root,
                start: d.start,
            })
            .collect()
    };
    let lines: Vec<&str> = text.lines().collect();
    let mut contents = Contents::default();
    for doc in docs {
        if doc.value.is_null() {
            continue;
        }
        let root_start = doc.root.as_ref().map_or(doc.start, Node::start);
        let (file, line_offset) = helm_source(&lines, doc.start.line, root_start.line)
            .map_or((name.to_owned(), 0), |(file, line)| (file, line));
        let make = |value: Value, node: Option<Node>| {
            let start = node.as_ref().map_or(root_start, Node::start);
            Object {
                file: file.clone(),
                line_offset,
                name: object_name(&value),
                value,
                node,
                start,
            }
        };
        if is_list(&doc.value) {
            let items = doc.value.get("items").and_then(Value::as_array);
            for (i, item) in items.into_iter().flatten().enumerate() {
                let node = doc
                    .root
                    .as_ref()
                    .and_then(|r| r.pointer(&format!("/items/{i}")).ok())
                    .cloned();
                if is_object(item) {
                    contents.objects.push(make(item.clone(), node));
                } else {
                    contents.skipped += 1;
                }
            }
        } else if is_object(&doc.value) {
            contents.objects.push(make(doc.value, doc.root));
        } else {
            contents.skipped += 1;
        }
    }
    Ok(contents)
}

struct Doc {
    value: Value,
    root: Option<Node>,
    start: Position,
}

/// `# Source: PATH` on a line from `from` up to (not including) `to`
/// (1-based): the template's path and the comment's line.
fn helm_source(lines: &[&str], from: usize, to: usize) -> Option<(String, usize)> {
    (from.max(1)..to).rev().find_map(|line| {
        let text = lines.get(line - 1)?.trim_end_matches('\r');
        let path = text.strip_prefix("# Source: ")?.trim();
        (!path.is_empty()).then(|| (path.to_owned(), line))
    })
}

fn is_list(value: &Value) -> bool {
    value
        .get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array)
}

/// A Kubernetes object: non-empty string `apiVersion` and `kind`.
pub fn is_object(value: &Value) -> bool {
    let non_empty = |key| {
        value
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    non_empty("apiVersion") && non_empty("kind")
}

/// `Kind namespace/name` as the policy names objects: the namespace is
/// `default` when a namespaced object has none; `Kind name` for a
/// cluster-scoped kind.
fn object_name(value: &Value) -> String {
    object_name_in(value, "default")
}

/// [`object_name`], with `namespace` for a namespaced object that names none.
pub fn object_name_in(value: &Value, namespace: &str) -> String {
    let text = |pointer| value.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or("object");
    let name = text("/metadata/name").unwrap_or("-");
    if !manifests::is_namespaced(text("/apiVersion").unwrap_or(""), kind) {
        return format!("{kind} {name}");
    }
    let namespace = text("/metadata/namespace")
        .filter(|ns| !ns.is_empty())
        .unwrap_or(namespace);
    format!("{kind} {namespace}/{name}")
}

/// The namespace an object is judged in: its `metadata.namespace`, else
/// `namespace`; `""` for a cluster-scoped kind.
pub fn namespace_of<'v>(value: &'v Value, namespace: &'v str) -> &'v str {
    let text = |pointer| value.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or("");
    if !manifests::is_namespaced(text("/apiVersion").unwrap_or(""), kind) {
        return "";
    }
    text("/metadata/namespace")
        .filter(|ns| !ns.is_empty())
        .unwrap_or(namespace)
}

/// `Source::text` as a `Result` with the file's name in the error.
pub fn text_of(source: &Source) -> Result<&str> {
    source
        .text
        .as_deref()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| source.name.clone())
}
