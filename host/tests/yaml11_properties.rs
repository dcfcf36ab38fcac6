//! Properties of the YAML 1.1 reader against kubectl's own readings,
//! committed in `tests/data/kubectl-scalars.json` (91 scalar spellings,
//! each as a value and as a key, from `kubectl label --local -o json`):
//! for generated documents built from those spellings, the reader gives
//! exactly the JSON kubectl gives; and no input makes it panic.

// Tests: a panic is how a test fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use selector_guard_host::yaml11;
use serde_json::{Map, Value};

#[derive(Clone, Debug)]
struct Row {
    spelling: String,
    value: Value,
    key: Option<String>,
}

fn rows() -> Vec<Row> {
    let text = include_str!("data/kubectl-scalars.json");
    let table: Value = serde_json::from_str(text).expect("the table is JSON");
    table["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|row| Row {
            spelling: row["spelling"].as_str().expect("spelling").to_owned(),
            value: row["value"].clone(),
            key: row.get("key").and_then(Value::as_str).map(str::to_owned),
        })
        .collect()
}

/// A generated node: YAML lines (at `indent`) and kubectl's JSON for it.
#[derive(Clone, Debug)]
enum Tree {
    Scalar(usize),
    Map(Vec<(usize, Tree)>),
    List(Vec<Tree>),
}

fn tree() -> impl Strategy<Value = Tree> {
    let n = rows().len();
    let leaf = (0..n).prop_map(Tree::Scalar);
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec((0..n, inner.clone()), 1..6).prop_map(Tree::Map),
            prop::collection::vec(inner, 1..5).prop_map(Tree::List),
        ]
    })
}

/// Renders `tree` as block YAML under a parent at `indent`, and the JSON
/// kubectl reads from it. Keys whose row cannot be a key, or that collide
/// with an earlier key once read, are left out (as a writer would).
fn render(tree: &Tree, indent: usize, rows: &[Row], out: &mut String) -> Value {
    let pad = " ".repeat(indent);
    match tree {
        Tree::Scalar(i) => {
            let row = &rows[*i];
            out.push(' ');
            out.push_str(&row.spelling);
            out.push('\n');
            row.value.clone()
        }
        Tree::Map(entries) => {
            out.push('\n');
            let mut map = Map::new();
            for (k, child) in entries {
                let row = &rows[*k];
                let Some(key) = &row.key else { continue };
                if map.contains_key(key) {
                    continue;
                }
                out.push_str(&format!("{pad}{}:", row.spelling));
                let value = render(child, indent + 2, rows, out);
                map.insert(key.clone(), value);
            }
            if map.is_empty() {
                // `key:` with nothing under it: null, as kubectl reads it.
                out.push_str(&format!("{pad}# empty\n"));
                return Value::Null;
            }
            Value::Object(map)
        }
        Tree::List(items) => {
            out.push('\n');
            let mut values = Vec::new();
            for item in items {
                out.push_str(&format!("{pad}- x:"));
                let value = render(item, indent + 4, rows, out);
                let mut wrapper = Map::new();
                wrapper.insert("x".into(), value);
                values.push(Value::Object(wrapper));
            }
            Value::Array(values)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reader_agrees_with_kubectl_on_generated_documents(tree in tree()) {
        let rows = rows();
        let mut text = String::from("# generated\nroot:");
        let expected = render(&tree, 2, &rows, &mut text);
        let docs = yaml11::from_str(&text);
        prop_assert!(docs.is_ok(), "{text}\n{docs:?}");
        let docs = docs.unwrap_or_default();
        let mut root = Map::new();
        root.insert("root".into(), expected);
        prop_assert_eq!(docs, vec![Value::Object(root)], "{}", text);
    }

    #[test]
    fn reader_never_panics(text in ".{0,200}") {
        let _ = yaml11::from_str(&text);
    }

    #[test]
    fn reader_never_panics_on_yaml_like_text(
        text in prop::collection::vec(
            prop_oneof![
                Just("- "), Just(": "), Just("\n"), Just("  "), Just("&a "), Just("*a"),
                Just("<<: "), Just("{"), Just("}"), Just("["), Just("]"), Just(", "),
                Just("'"), Just("\""), Just("!!str "), Just("---\n"), Just("yes"), Just("0x2A"),
                Just("k"), Just("#c"), Just("|\n"), Just("? "),
            ],
            0..60,
        )
    ) {
        let _ = yaml11::from_str(&text.concat());
    }
}

#[test]
fn every_committed_spelling_reads_as_kubectl_reads_it() {
    for row in rows() {
        let docs = yaml11::from_str(&format!("v: {}\n", row.spelling)).expect("parses");
        assert_eq!(docs[0]["v"], row.value, "value `{}`", row.spelling);
        if let Some(key) = &row.key {
            let docs = yaml11::from_str(&format!("{}: x\n", row.spelling)).expect("parses");
            let keys: Vec<&String> = docs[0].as_object().expect("map").keys().collect();
            assert_eq!(keys, vec![key], "key `{}`", row.spelling);
        }
    }
}
