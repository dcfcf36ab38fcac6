//! From command-line paths to the Kubernetes objects `check` and `fix` run
//! the policy on, with where each one is written.
//!
//! - A PATH is a file, a folder (walked for `.yaml`, `.yml` and `.json`,
//!   in sorted order, but for hidden folders and `.selector-guard.yaml`)
//!   or `-` for stdin (named `-`).
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
    list(paths).iter().map(read_listed).collect()
}

/// One input before it is read: what [`list`] gives.
#[derive(Debug)]
pub enum Listed {
    /// `-`: standard input.
    Stdin,
    /// A file named, or found by walking a folder (it may not exist).
    File(PathBuf),
    /// A folder that could not be walked (all of it), and why.
    Unwalkable(PathBuf, String),
}

impl Listed {
    /// The path, `None` for stdin.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Listed::Stdin => None,
            Listed::File(path) | Listed::Unwalkable(path, _) => Some(path),
        }
    }
}

/// The inputs named by `paths`, in order, without reading them: folders
/// are walked (sorted), `-` is stdin.
pub fn list(paths: &[PathBuf]) -> Vec<Listed> {
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            out.push(Listed::Stdin);
        } else if path.is_dir() {
            let mut files = Vec::new();
            if let Err(e) = walk(path, &mut files) {
                out.push(Listed::Unwalkable(path.clone(), e.to_string()));
            }
            files.sort();
            out.extend(files.into_iter().map(Listed::File));
        } else {
            out.push(Listed::File(path.clone()));
        }
    }
    out
}

/// The [`Source`] of one listed input: its text read (stdin read to its end).
pub fn read_listed(listed: &Listed) -> Source {
    match listed {
        Listed::Stdin => {
            let mut text = String::new();
            let text = std::io::stdin()
                .read_to_string(&mut text)
                .map(|_| text)
                .map_err(|e| format!("cannot read stdin: {e}"));
            Source {
                name: "-".into(),
                origin: Origin::Stdin,
                text,
            }
        }
        Listed::File(path) => read(path),
        Listed::Unwalkable(path, error) => unreadable(path, error),
    }
}

fn unreadable(path: &Path, error: &str) -> Source {
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

/// Manifest files under `folder`, recursively (hidden folders and config
/// files, `.selector-guard.yaml`, skipped).
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
            && !path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::config::FILE_NAMES.contains(&n))
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
    /// The object as written, when positions are known; `None` after
    /// [`Object::lean`] (read it again with [`Object::with_node`]).
    pub node: Option<Node>,
    /// Where its document (or list item) starts.
    pub start: Position,
    /// `Kind namespace/name`, as messages name objects.
    pub name: String,
    /// Where the node can be read again: its piece of the YAML stream,
    /// and its index in a `List`.
    written: Option<(yaml11::PieceAt, Option<usize>)>,
}

impl Object {
    /// The line and column findings print for `position`.
    pub fn place(&self, position: Position) -> (usize, usize) {
        (
            position.line.saturating_sub(self.line_offset).max(1),
            position.column.max(1),
        )
    }

    /// The object without its node when the node can be read again: a
    /// folder of objects then holds their values only.
    pub fn lean(mut self) -> Object {
        if self.written.is_some() {
            self.node = None;
        }
        self
    }

    /// The object with its node, read again from `text` (the text of the
    /// file it was read from) when [`Object::lean`] dropped it.
    pub fn with_node(&self, text: &str) -> std::borrow::Cow<'_, Object> {
        use std::borrow::Cow;
        let (None, Some((piece, item))) = (&self.node, self.written) else {
            return Cow::Borrowed(self);
        };
        let root = yaml11::read_piece(text, piece, Limits::default())
            .ok()
            .and_then(|docs| docs.into_iter().next())
            .and_then(|doc| doc.root);
        let node = match (root, item) {
            (Some(root), Some(i)) => root.pointer(&format!("/items/{i}")).ok().cloned(),
            (root, _) => root,
        };
        let mut placed = self.clone();
        placed.node = node;
        Cow::Owned(placed)
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

/// The objects in `text`, the content of the file `name`, with their nodes.
pub fn objects(name: &str, text: &str) -> Result<Contents> {
    let mut all = Contents::default();
    for contents in stream(name, text) {
        let contents = contents?;
        all.objects.extend(contents.objects);
        all.skipped += contents.skipped;
    }
    Ok(all)
}

/// [`objects`] without the nodes that can be read again ([`Object::lean`]):
/// what a large folder is judged from. Peak memory is the values and one
/// document's nodes.
pub fn lean_objects(name: &str, text: &str) -> Result<Contents> {
    let mut all = Contents::default();
    for contents in stream(name, text) {
        let contents = contents?;
        all.objects
            .extend(contents.objects.into_iter().map(Object::lean));
        all.skipped += contents.skipped;
    }
    Ok(all)
}

/// The objects of `text` (the file `name`), as kubectl reads them: a piece
/// of the YAML stream at a time (one document each, as kubectl cuts it),
/// or the whole text at once for JSON. An error ends the stream.
pub fn stream<'t>(name: &'t str, text: &'t str) -> impl Iterator<Item = Result<Contents>> + 't {
    let json = text.trim_start().starts_with('{');
    let mut pieces = (!json).then(|| yaml11::pieces(text));
    let mut whole = json.then_some(());
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        let next = match (&mut pieces, whole.take()) {
            (_, Some(())) => Some(json_contents(name, text)),
            (Some(pieces), None) => pieces.next().map(|piece| {
                let piece = piece?;
                let docs = yaml11::read_piece(text, piece, Limits::default())?
                    .into_iter()
                    .map(|d| Doc {
                        value: d.value,
                        root: d.root,
                        start: d.start,
                    })
                    .collect();
                Ok(contents_of(
                    name,
                    piece.text(text),
                    piece.first_line(),
                    docs,
                    Some(piece),
                ))
            }),
            (None, None) => None,
        };
        failed = matches!(next, Some(Err(_)));
        next
    })
}

/// The objects of a JSON stream, with positions when the YAML reader
/// agrees on the documents (JSON is YAML).
fn json_contents(name: &str, text: &str) -> Result<Contents> {
    // kubectl decodes a stream that starts with `{` as JSON.
    let values = serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| anyhow!("invalid JSON: {e}"))?;
    let positioned = yaml11::parse_positioned(text, Schema::Core, Limits::default())
        .ok()
        .filter(|docs| docs.len() == values.len());
    let docs = values
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
        .collect();
    Ok(contents_of(name, text, 1, docs, None))
}

/// The objects of `docs`, read from `text` (whose first line is line
/// `first_line` of the file), from `piece` when the text is one.
fn contents_of(
    name: &str,
    text: &str,
    first_line: usize,
    docs: Vec<Doc>,
    piece: Option<yaml11::PieceAt>,
) -> Contents {
    let lines: Vec<&str> = text.lines().collect();
    let mut contents = Contents::default();
    for doc in docs {
        if doc.value.is_null() {
            continue;
        }
        let root_start = doc.root.as_ref().map_or(doc.start, Node::start);
        let (file, line_offset) = helm_source(&lines, first_line, doc.start.line, root_start.line)
            .map_or((name.to_owned(), 0), |(file, line)| (file, line));
        let make = |value: Value, node: Option<Node>, item: Option<usize>| {
            let start = node.as_ref().map_or(root_start, Node::start);
            Object {
                file: file.clone(),
                line_offset,
                name: object_name(&value),
                value,
                node,
                start,
                written: piece.map(|piece| (piece, item)),
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
                    contents.objects.push(make(item.clone(), node, Some(i)));
                } else {
                    contents.skipped += 1;
                }
            }
        } else if is_object(&doc.value) {
            contents.objects.push(make(doc.value, doc.root, None));
        } else {
            contents.skipped += 1;
        }
    }
    contents
}

struct Doc {
    value: Value,
    root: Option<Node>,
    start: Position,
}

/// `# Source: PATH` on a line from `from` up to (not including) `to`
/// (1-based lines of the file; `lines` are the file's from line
/// `first_line` on): the template's path and the comment's line.
fn helm_source(
    lines: &[&str],
    first_line: usize,
    from: usize,
    to: usize,
) -> Option<(String, usize)> {
    (from.max(first_line)..to).rev().find_map(|line| {
        let text = lines.get(line - first_line)?.trim_end_matches('\r');
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
