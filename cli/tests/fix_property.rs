//! The invariant of `fix`, as a property over generated manifests: for
//! every file kubectl can read, `fix` never refuses; the fixed file reads
//! as the original but for the label maps, where each value that was not
//! a string is now its spelling as written or the policy's string, and
//! each key its spelling or itself; and a second fix changes nothing.
//!
//! The files mix what trips YAML readers: YAML 1.1 words as keys and
//! values, quoted and `? ` keys, empty values, tags, anchors and aliases
//! (also from outside the label maps), duplicate and colliding keys, flow
//! maps (also across lines less indented than YAML 1.2 wants) and block
//! maps, keys with no value (`{app}`, `{app:}`, `? app`), CRLF and a BOM. Readings are the project's YAML 1.1
//! reader's (`host/tests/yaml11_kubectl.rs` holds it to kubectl's on 162
//! files); with kubectl on PATH every file is also read by kubectl, which
//! must agree. proptest prints the seed and the smallest
//! failing file.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use selector_guard_cli::fix::{Fixed, fix_text};
use selector_guard_host::yaml11;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Value spellings: strings, YAML 1.1 traps, tags, empties.
const VALUES: &[&str] = &[
    "web",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "true",
    "False",
    "1",
    "1.10",
    "0x2A",
    "052",
    "+1",
    ".5",
    "~",
    "null",
    "",
    "\"yes\"",
    "'on'",
    "!!int \"3\"",
    "!!float 1.10",
    "!!bool yes",
    "!!null",
    "!!str yes",
    "1e3",
    "12:30",
    "-0",
    "99999999999999999999",
    "a-b.c",
];

/// Key spellings: strings, YAML 1.1 traps (never null: kubectl refuses a
/// null key), quoted and explicit keys.
const KEYS: &[&str] = &[
    "app", "tier", "y", "n", "on", "off", "yes", "true", "1", "0x1F", "1.0", "\"y\"", "\"on\"",
    "'true'", "? on", "? app",
];

/// What go-yaml makes of each of [`KEYS`]: the string kubectl's JSON has,
/// and the type it had. Two keys of one map with the same string and
/// different types (`'true'` and `on`, `1` and `1.0`) are two keys of a Go
/// map that collide when made strings, in random order: kubectl's reading
/// is not defined, so the generator never writes both.
const KEY_READINGS: &[(&str, &str)] = &[
    ("app", "str"),
    ("tier", "str"),
    ("true", "bool"),
    ("false", "bool"),
    ("true", "bool"),
    ("false", "bool"),
    ("true", "bool"),
    ("true", "bool"),
    ("1", "int"),
    ("31", "int"),
    ("1", "float"),
    ("y", "str"),
    ("on", "str"),
    ("true", "str"),
    ("true", "bool"),
    ("app", "str"),
];

#[derive(Clone, Debug)]
struct Entry {
    key: usize,
    value: usize,
    /// Anchor this value (`&aN`), or use the Nth anchor so far (`*aN`).
    anchor: bool,
    alias: Option<usize>,
    /// How an empty value is written: 0 `key: ` (`key:` in block), 1
    /// `key:` in flow (the key `key:` for go-yaml, when plain), 2 the key
    /// alone (`{key}`, `? key` with no `:` line); 3 and 4 are 1 and 2 with
    /// the value made empty.
    empty: usize,
}

#[derive(Clone, Debug)]
struct Manifest {
    kind: usize,
    labels: Vec<Entry>,
    selector: Vec<Entry>,
    flow: (bool, bool),
    /// Env values that alias anchors (a use outside the label maps).
    env_aliases: Vec<usize>,
    crlf: bool,
    bom: bool,
    /// Flow maps across lines, less indented than YAML 1.2 wants.
    wrap: bool,
    /// A map of string keys and any values (`x-base: &m {...}`, at the
    /// top, flow or block) merged into the labels (`<<: *m`) at an index.
    merge: Option<Merge>,
}

/// The merged map's entries (key, value), whether it is written in flow,
/// and where `<<: *m` goes among the labels.
type Merge = (Vec<(usize, usize)>, bool, usize);

/// Keys of the merged map: strings, so that no key of the labels reads as
/// one of them with another type.
const BASE_KEYS: &[&str] = &["app", "tier", "zone"];

fn entry() -> impl Strategy<Value = Entry> {
    (
        0..KEYS.len(),
        0..VALUES.len(),
        prop::bool::weighted(0.2),
        prop::option::weighted(0.2, 0..4usize),
        0..5usize,
    )
        .prop_map(|(key, value, anchor, alias, empty)| Entry {
            key,
            value,
            anchor,
            alias,
            empty,
        })
}

fn manifest() -> impl Strategy<Value = Manifest> {
    (
        0..2usize,
        prop::collection::vec(entry(), 0..6),
        prop::collection::vec(entry(), 1..6),
        (any::<bool>(), any::<bool>()),
        prop::collection::vec(0..4usize, 0..3),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.3),
        prop::option::weighted(
            0.3,
            (
                prop::collection::vec((0..BASE_KEYS.len(), 0..VALUES.len()), 1..4),
                any::<bool>(),
                0..7usize,
            ),
        ),
    )
        .prop_map(
            |(kind, labels, selector, flow, env_aliases, crlf, bom, wrap, merge)| Manifest {
                kind,
                labels,
                selector,
                flow,
                env_aliases,
                crlf,
                bom,
                wrap,
                merge,
            },
        )
}

/// Writes a map's entries, with `merge` (`<<: *m`) at its index among
/// them; anchors are numbered across the file.
fn map(
    entries: &[Entry],
    flow: bool,
    wrap: bool,
    indent: &str,
    anchors: &mut usize,
    merge: Option<usize>,
    out: &mut String,
) {
    let mut items = Vec::new();
    let mut types: Vec<(String, &str)> = Vec::new();
    for e in entries {
        let key = KEYS[e.key];
        let empty = e.empty >= 3 || (VALUES[e.value].is_empty() && e.alias.is_none() && !e.anchor);
        let form = if e.empty >= 3 { e.empty - 2 } else { e.empty };
        // A plain key glued to its `:` before `,` or `}` keeps the `:`.
        let glued = flow && empty && form == 1;
        let bare = empty && form == 2 && (flow || key.starts_with("? "));
        let (reading, kind) = match KEY_READINGS[e.key] {
            _ if glued && !key.contains(['"', '\'']) => {
                (format!("{}:", key.trim_start_matches("? ")), "str")
            }
            (reading, kind) => (reading.to_string(), kind),
        };
        if types.iter().any(|(r, k)| *r == reading && *k != kind) {
            continue;
        }
        types.push((reading, kind));
        if glued || bare {
            items.push(format!("{key}{}", if glued { ":" } else { "" }));
            continue;
        }
        let value = match e.alias {
            Some(n) if n < *anchors => format!("*a{n}"),
            _ if e.anchor => {
                let text = format!("&a{} {}", *anchors, VALUES[e.value]);
                *anchors += 1;
                text
            }
            _ => VALUES[e.value].to_string(),
        };
        // go-yaml takes a `,` or `}` right after a tag into it (or refuses
        // it): in flow, people write a blank after a bare tag.
        let value = match value.split_whitespace().last() {
            Some(last) if flow && last.starts_with('!') => format!("{value} "),
            _ => value,
        };
        let sep = if value.is_empty() && !flow { ":" } else { ": " };
        items.push(if flow && key.starts_with("? ") {
            format!("{key} {sep}{value}")
        } else if key.starts_with("? ") {
            format!("{key}\n{indent}{sep}{value}")
        } else {
            format!("{key}{sep}{value}")
        });
    }
    if let Some(at) = merge {
        items.insert(at.min(items.len()), "<<: *m".to_string());
    }
    if flow && wrap {
        // Lines less indented than YAML 1.2 wants, which go-yaml reads.
        out.push_str(&format!(" {{\n  {}\n}}\n", items.join(",\n  ")));
    } else if flow {
        out.push_str(&format!(" {{{}}}\n", items.join(", ")));
    } else if items.is_empty() {
        out.push_str(" {}\n");
    } else {
        out.push('\n');
        for item in items {
            out.push_str(&format!("{indent}{item}\n"));
        }
    }
}

fn render(m: &Manifest) -> String {
    let mut anchors = 0;
    let mut out = String::new();
    let base = m.merge.as_ref().map(|(entries, flow, _)| {
        let items: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{}: {}", BASE_KEYS[*k], VALUES[*v]))
            .map(|item| item.trim_end().to_string())
            .collect();
        if *flow {
            format!("x-base: &m {{{}}}\n", items.join(", "))
        } else {
            format!("x-base: &m\n  {}\n", items.join("\n  "))
        }
    });
    let merge = m.merge.as_ref().map(|(_, _, at)| *at);
    let labels = |anchors: &mut usize, out: &mut String| {
        map(&m.labels, m.flow.0, m.wrap, "    ", anchors, merge, out);
    };
    let selector = |anchors: &mut usize, out: &mut String| {
        map(&m.selector, m.flow.1, m.wrap, "    ", anchors, None, out);
    };
    if m.kind == 0 {
        out.push_str("apiVersion: v1\nkind: Service\n");
        out.push_str(base.as_deref().unwrap_or(""));
        out.push_str("metadata:\n  name: s\n  labels:");
        labels(&mut anchors, &mut out);
        out.push_str("spec:\n  selector:");
        selector(&mut anchors, &mut out);
        out.push_str("  ports:\n  - port: 80\n");
    } else {
        out.push_str("apiVersion: v1\nkind: Pod\n");
        out.push_str(base.as_deref().unwrap_or(""));
        out.push_str("metadata:\n  name: p\n  labels:");
        labels(&mut anchors, &mut out);
        out.push_str("spec:\n  nodeSelector:");
        selector(&mut anchors, &mut out);
        out.push_str("  containers:\n  - name: a\n    image: a\n");
        let used: Vec<usize> = m
            .env_aliases
            .iter()
            .copied()
            .filter(|n| *n < anchors)
            .collect();
        if !used.is_empty() {
            out.push_str("    env:\n");
            for (i, n) in used.iter().enumerate() {
                out.push_str(&format!("    - name: V{i}\n      value: *a{n}\n"));
            }
        }
    }
    let mut text = if m.crlf {
        out.replace('\n', "\r\n")
    } else {
        out
    };
    if m.bom {
        text.insert(0, '\u{feff}');
    }
    text
}

/// `after` reads as `before` but for the label maps at `maps`.
fn compare(before: &Value, after: &Value, maps: &[&str]) -> Result<(), String> {
    let (mut old, mut new) = (before.clone(), after.clone());
    for pointer in maps {
        let take = |v: &mut Value| v.pointer_mut(pointer).map(Value::take);
        match (take(&mut old), take(&mut new)) {
            (Some(Value::Object(a)), Some(Value::Object(b))) => compare_map(&a, &b, pointer)?,
            (a, b) if a == b => {}
            (a, b) => return Err(format!("{pointer}: {a:?} became {b:?}")),
        }
    }
    if old != new {
        return Err(format!("outside the label maps: {old} became {new}"));
    }
    Ok(())
}

fn plain_reading(spelling: &str) -> Option<Value> {
    yaml11::from_str(&format!("v: {spelling}"))
        .ok()
        .and_then(|docs| docs.first().map(|d| d["v"].clone()))
}

fn compare_map(a: &Map<String, Value>, b: &Map<String, Value>, at: &str) -> Result<(), String> {
    if a.len() != b.len() {
        return Err(format!("{at}: {} keys became {}", a.len(), b.len()));
    }
    for (key, old) in a {
        // The same key, or a key whose plain spelling reads as it.
        let found = b.get(key).or_else(|| {
            b.iter()
                .find(|(k, _)| !a.contains_key(*k) && plain_key(k).as_deref() == Some(key))
                .map(|(_, v)| v)
        });
        let Some(new) = found else {
            return Err(format!("{at}: the key {key} is gone"));
        };
        match (old, new) {
            (Value::String(o), Value::String(n)) if o == n => {}
            (Value::String(_), _) => return Err(format!("{at}[{key}]: {old} became {new}")),
            (o, Value::String(n)) => {
                let policy = selector_guard::labels::label_string(o).map(|s| s.into_owned());
                if policy.as_deref() != Some(n.as_str()) && plain_reading(n).as_ref() != Some(o) {
                    return Err(format!("{at}[{key}]: {o} became {n:?}"));
                }
            }
            (o, n) if o.is_array() || o.is_object() => {
                if o != n {
                    return Err(format!("{at}[{key}]: {o} became {n}"));
                }
            }
            (o, n) => return Err(format!("{at}[{key}]: {o} is still {n}, not a string")),
        }
    }
    Ok(())
}

fn plain_key(spelling: &str) -> Option<String> {
    yaml11::from_str(&format!("{spelling}: x"))
        .ok()
        .and_then(|docs| docs.first()?.as_object()?.keys().next().cloned())
}

/// kubectl's reading, where kubectl is on PATH: every generated file of a
/// run (a call takes about 0.04 s), and the first files of a shrink.
fn kubectl_agrees(text: &str, ours: &[Value]) -> Result<(), String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    if !cfg!(has_kubectl) || RUNS.fetch_add(1, Ordering::Relaxed) >= 400 {
        return Ok(());
    }
    let dir = std::env::temp_dir().join(format!("selector-guard-fix-prop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("m.yaml");
    std::fs::write(&path, text).expect("written");
    // `kubectl annotate` leaves labels as read (bar the one it adds).
    let out = std::process::Command::new("kubectl")
        .args([
            "annotate",
            "--local",
            "-o",
            "json",
            "selector-guard-tmp=1",
            "-f",
        ])
        .arg(&path)
        .output()
        .expect("kubectl runs");
    if !out.status.success() {
        // Typed decoding refuses non-string top-level labels and values
        // kubectl's struct fields cannot hold; nothing to compare.
        return Ok(());
    }
    let theirs: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    for pointer in ["/metadata/labels", "/spec/selector", "/spec/nodeSelector"] {
        let (a, b) = (
            ours.first().and_then(|o| o.pointer(pointer)),
            theirs.pointer(pointer),
        );
        if let (Some(a), Some(b)) = (a, b)
            && a != b
        {
            return Err(format!(
                "kubectl reads {pointer} as {b}, the reader as {a}:\n{text}"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fix_changes_only_what_kubectl_would_not_read_as_strings(m in manifest()) {
        let text = render(&m);
        // Files kubectl cannot read (a duplicate explicit key it refuses,
        // an alias before its anchor) are not what this is about.
        let Ok(before) = yaml11::from_str(&text) else {
            return Ok(());
        };
        kubectl_agrees(&text, &before).map_err(TestCaseError::fail)?;
        let (fixed, fixes) = match fix_text("m.yaml", &text) {
            Fixed::Done(fixed, fixes) => (fixed, fixes),
            Fixed::Refused(why) => return Err(TestCaseError::fail(format!("refused: {why}\n{text}"))),
            Fixed::Unreadable(why) => return Err(TestCaseError::fail(format!("unreadable: {why}\n{text}"))),
        };
        let after = yaml11::from_str(&fixed)
            .map_err(|e| TestCaseError::fail(format!("{e:#}\n{fixed}")))?;
        prop_assert_eq!(before.len(), after.len());
        let maps: &[&str] = if m.kind == 0 {
            &["/metadata/labels", "/spec/selector"]
        } else {
            &["/metadata/labels", "/spec/nodeSelector"]
        };
        for (b, a) in before.iter().zip(&after) {
            compare(b, a, maps).map_err(|e| TestCaseError::fail(format!("{e}\n--- before\n{text}\n--- after\n{fixed}")))?;
        }
        // A second fix changes nothing.
        match fix_text("m.yaml", &fixed) {
            Fixed::Done(again, _) => prop_assert_eq!(&again, &fixed, "a second fix changed\n{}", fixed),
            _ => return Err(TestCaseError::fail(format!("the second fix failed\n{fixed}"))),
        }
        let _ = fixes;
    }
}
