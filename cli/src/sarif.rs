//! `check --format sarif`: the findings as one SARIF 2.1.0 log (OASIS
//! Static Analysis Results Interchange Format), for GitHub code scanning
//! (`github/codeql-action/upload-sarif`) and SARIF viewers.
//!
//! - One run. `tool.driver.rules` declares every rule of the policy
//!   (`selector_guard::rules::RULES`, each with its doc page and its CI
//!   default as the default level) and then the pseudo-rules of
//!   [`crate::findings::PSEUDO_RULES`]; a rule a policy module names that
//!   this binary does not know is declared after them.
//! - A result per finding, at its file, line and column (columns count
//!   Unicode code points: `run.columnKind`); an unusable file, or an object
//!   the policy failed on, is a result of `unusableInput`. Suppressed
//!   findings are results only with `--show-suppressed`, with an in-source
//!   suppression holding the `ignore-reason`.
//! - Results of `labelMapValues` and `serviceSelectorValues` carry the
//!   edits `selector-guard fix` would make ([`crate::fix::fix_text`]): the
//!   edit at the result's own place, and each edit at no result's place
//!   with the results that need it, so that each fix is complete on its
//!   own (`attach_fixes`); all of a file's fixes together are what
//!   `fix` writes. A helm template's findings name a file that is not the
//!   stream read: they have no fixes.
//!
//! Built with serde_json: the log is a few fixed shapes, and a typed SARIF
//! model would add a dependency for no check that the schema test
//! (`tests/sarif.rs`) does not make.

use std::collections::{HashMap, HashSet};
use std::io;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use selector_guard::rules::{RULES, RuleMode};
use serde_json::{Map, Value, json};

use crate::check::{Collected, Item};
use crate::findings::{DUPLICATE_OBJECT, Finding, PSEUDO_RULES, Severity, UNUSABLE_INPUT};
use crate::fix::{self, Edit, Fixed};

/// The SARIF 2.1.0 JSON schema, as `$schema`.
pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
/// The project, as `tool.driver.informationUri`.
pub const INFORMATION_URI: &str = "https://github.com/selector-guard/selector-guard";
/// Where the pseudo-rules are documented.
const README: &str = "https://github.com/selector-guard/selector-guard#readme";
/// The rules whose findings `fix` fixes.
pub const FIXABLE: [&str; 2] = ["labelMapValues", "serviceSelectorValues"];
/// The rule of a module's finding that names none.
const UNNAMED: &str = "policy";

/// A rule's documentation page.
pub fn help_uri(id: &str) -> String {
    format!("{INFORMATION_URI}/blob/main/docs/rules/{id}.md")
}

/// Characters left as they are in a file name made a URI reference: the
/// unreserved ones, and `/` between segments. Everything else (spaces,
/// `%`, `:`, `#`, `?`, non-ASCII) is percent-encoded, so that a name never
/// reads as a scheme, a query or a fragment.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `file` (as given: relative, absolute, or `-` for stdin) as a relative
/// URI reference.
pub fn uri(file: &str) -> String {
    utf8_percent_encode(file, PATH).to_string()
}

/// The declared rules, and the index of each.
struct Rules {
    descriptors: Vec<Value>,
    index: HashMap<String, usize>,
}

impl Rules {
    /// The policy's rules, then the pseudo-rules.
    fn new() -> Rules {
        let mut rules = Rules {
            descriptors: Vec::new(),
            index: HashMap::new(),
        };
        for rule in RULES {
            let configuration = match rule.default.ci {
                RuleMode::Reject | RuleMode::Mutate => json!({"level": "error"}),
                RuleMode::Warn => json!({"level": "warning"}),
                RuleMode::Off => json!({"enabled": false}),
            };
            let summary = sentence(rule.summary);
            let uri = help_uri(rule.id);
            rules.declare(
                rule.id,
                json!({
                    "id": rule.id,
                    "name": rule.id,
                    "shortDescription": {"text": summary},
                    "fullDescription": {"text": format!(
                        "{summary} In `selector-guard check` it is `{}` unless the settings say otherwise; at admission, `{}`.",
                        rule.default.ci.as_str(),
                        rule.default.admission.as_str()
                    )},
                    "help": {
                        "text": format!("{summary} See {uri}"),
                        "markdown": format!("{summary}\n\nSee [docs/rules/{}.md]({uri}).", rule.id),
                    },
                    "helpUri": uri,
                    "defaultConfiguration": configuration,
                }),
            );
        }
        for (id, what) in PSEUDO_RULES {
            let summary = sentence(what);
            let mut descriptor = json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": summary},
                "fullDescription": {"text": format!("{summary} Reported by selector-guard itself, not by a rule of the policy.")},
                "help": {
                    "text": format!("{summary} See {README}"),
                    "markdown": format!("{summary}\n\nSee the [README]({README})."),
                },
                "helpUri": README,
            });
            let level = match *id {
                DUPLICATE_OBJECT => "warning",
                _ => "error",
            };
            if let Some(map) = descriptor.as_object_mut() {
                map.insert("defaultConfiguration".into(), json!({"level": level}));
            }
            rules.declare(id, descriptor);
        }
        rules
    }

    fn declare(&mut self, id: &str, descriptor: Value) {
        self.index.insert(id.to_string(), self.descriptors.len());
        self.descriptors.push(descriptor);
    }

    /// The ID results use for `rule`, and its index: a rule nothing
    /// declared yet (from a module) is declared now.
    fn of(&mut self, rule: &str) -> (String, usize) {
        let id = if rule.is_empty() { UNNAMED } else { rule };
        if let Some(&at) = self.index.get(id) {
            return (id.to_string(), at);
        }
        let what = if id == UNNAMED {
            "A finding of the policy module that names no rule.".to_string()
        } else {
            format!("A rule of the policy module that this selector-guard does not know: {id}.")
        };
        self.declare(
            id,
            json!({
                "id": id,
                "name": id,
                "shortDescription": {"text": what},
                "helpUri": README,
            }),
        );
        (id.to_string(), self.descriptors.len() - 1)
    }
}

/// `summary` as a sentence: a capital first letter and a closing period.
fn sentence(summary: &str) -> String {
    let mut chars = summary.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

/// A result being built, and where `fix`'s edits may attach to it.
struct Pending {
    result: Map<String, Value>,
    /// For a fixable result: its file, line and column, and its item.
    fixable: Option<(String, usize, usize, usize)>,
    /// The edits of its fix.
    edits: Vec<Edit>,
}

/// A result at `file`, `line`, `column`.
fn result(
    rules: &mut Rules,
    rule: &str,
    level: Severity,
    message: &str,
    (file, line, column): (&str, usize, usize),
) -> Map<String, Value> {
    let (id, index) = rules.of(rule);
    let mut map = Map::new();
    map.insert("ruleId".into(), id.into());
    map.insert("ruleIndex".into(), index.into());
    map.insert("level".into(), level.as_str().into());
    map.insert("message".into(), json!({"text": message}));
    map.insert(
        "locations".into(),
        json!([{
            "physicalLocation": {
                "artifactLocation": {"uri": uri(file)},
                "region": {"startLine": line.max(1), "startColumn": column.max(1)},
            }
        }]),
    );
    map
}

/// The finding as a result.
fn finding_result(rules: &mut Rules, finding: &Finding, at: usize) -> Pending {
    let mut map = result(
        rules,
        &finding.rule,
        finding.severity,
        &finding.message,
        (&finding.file, finding.line, finding.column),
    );
    let mut properties = Map::new();
    properties.insert("object".into(), finding.object.clone().into());
    if !finding.path.is_empty() {
        properties.insert("path".into(), finding.path.clone().into());
    }
    map.insert("properties".into(), properties.into());
    if let Some(reason) = &finding.suppressed {
        map.insert(
            "suppressions".into(),
            json!([{"kind": "inSource", "justification": reason}]),
        );
    }
    let fixable = FIXABLE
        .contains(&finding.rule.as_str())
        .then(|| (finding.file.clone(), finding.line, finding.column, at));
    Pending {
        result: map,
        fixable,
        edits: Vec::new(),
    }
}

/// The results of `collected`, in input order.
fn results(rules: &mut Rules, collected: &Collected, show_suppressed: bool) -> Vec<Pending> {
    let mut out = Vec::new();
    for (at, item) in collected.items.iter().enumerate() {
        if let Some(failure) = &item.failure {
            let message = match item.object {
                None => format!("{}: {failure}", item.file),
                Some(_) => failure.clone(),
            };
            out.push(Pending {
                result: result(
                    rules,
                    UNUSABLE_INPUT,
                    Severity::Error,
                    &message,
                    (&item.file, item.line, item.column),
                ),
                fixable: None,
                edits: Vec::new(),
            });
        }
        let mut shown: Vec<&Finding> = item.findings.iter().collect();
        if show_suppressed {
            shown.extend(&item.suppressed);
            shown.sort_by_key(|f| (f.line, f.column));
        }
        for finding in shown {
            out.push(finding_result(rules, finding, at));
        }
    }
    out
}

/// The characters `start..end` of `text`.
fn chars(text: &str, start: usize, end: usize) -> String {
    text.chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

/// Whether `written` (a node's text, its properties first: `&v yes`,
/// `!!str &v yes`) carries the anchor `&name`.
fn anchors(written: &str, name: &str) -> bool {
    for token in written.split_whitespace() {
        if token.strip_prefix('&') == Some(name) {
            return true;
        }
        if !token.starts_with(['!', '&']) {
            return false;
        }
    }
    false
}

/// Gives each fixable result of `pending` the edits `fix` would make at
/// its place. An edit at no result's place goes to the results whose fix
/// needs it: an alias written out, to those that quote its anchored value;
/// a key quoted, to the first result of its object after it on its line
/// (its entry's value); anything else to the first result of its object
/// (or else of its file). Results at one place share their edits.
fn attach_fixes(
    pending: &mut [Pending],
    items: &[Item],
    sources: &[(String, Result<String, String>)],
) {
    let files: HashSet<String> = pending
        .iter()
        .filter_map(|p| p.fixable.as_ref().map(|f| f.0.clone()))
        .collect();
    let mut done = HashSet::new();
    for (name, text) in sources {
        let Ok(text) = text else { continue };
        if !files.contains(name) || !done.insert(name.clone()) {
            continue;
        }
        let Fixed::Done(_, fixes) = fix::fix_text(name, text) else {
            continue;
        };
        // The fixable results of the file: (index in `pending`, line,
        // column, item), in input order.
        let in_file: Vec<(usize, usize, usize, usize)> = pending
            .iter()
            .enumerate()
            .filter_map(|(at, p)| match &p.fixable {
                Some((file, line, column, item)) if file == name => {
                    Some((at, *line, *column, *item))
                }
                _ => None,
            })
            .collect();
        let give = |pending: &mut [Pending], owners: &[usize], edit: &Edit| {
            for &at in owners {
                if let Some(p) = pending.get_mut(at) {
                    p.edits.push(edit.clone());
                }
            }
        };
        // All results at the place of `first`.
        let at_place_of = |first: Option<&(usize, usize, usize, usize)>| -> Vec<usize> {
            first.map_or_else(Vec::new, |&(_, line, column, item)| {
                in_file
                    .iter()
                    .filter(|r| (r.1, r.2, r.3) == (line, column, item))
                    .map(|r| r.0)
                    .collect()
            })
        };
        let mut unmatched = Vec::new();
        for edit in fixes.edits {
            let (file, line, column) = &edit.place;
            if file != name {
                continue;
            }
            let here: Vec<usize> = in_file
                .iter()
                .filter(|r| (r.1, r.2) == (*line, *column))
                .map(|r| r.0)
                .collect();
            if here.is_empty() {
                unmatched.push(edit);
            } else {
                give(pending, &here, &edit);
            }
        }
        for edit in unmatched {
            let (_, line, column) = edit.place;
            let written = chars(text, edit.start, edit.end);
            let mut owners: Vec<usize> = Vec::new();
            if let Some(alias) = written.strip_prefix('*') {
                owners = in_file
                    .iter()
                    .map(|r| r.0)
                    .filter(|&at| {
                        pending.get(at).is_some_and(|p| {
                            p.edits
                                .iter()
                                .any(|e| anchors(&chars(text, e.start, e.end), alias.trim()))
                        })
                    })
                    .collect();
            }
            // The object the edit is in: the last one of the file that
            // starts before it.
            let object = items
                .iter()
                .enumerate()
                .rev()
                .find(|(_, item)| {
                    &item.file == name
                        && item.object.is_some()
                        && (item.line, item.column) <= (line, column)
                })
                .map(|(at, _)| at);
            if owners.is_empty() {
                owners = at_place_of(
                    in_file
                        .iter()
                        .find(|r| Some(r.3) == object && r.1 == line && r.2 >= column),
                );
            }
            if owners.is_empty() {
                owners = at_place_of(in_file.iter().find(|r| Some(r.3) == object));
            }
            if owners.is_empty() {
                owners = at_place_of(in_file.first());
            }
            give(pending, &owners, &edit);
        }
        for &(at, ..) in &in_file {
            if let Some(p) = pending.get_mut(at)
                && !p.edits.is_empty()
            {
                let fix = fix_object(name, text, &mut p.edits);
                p.result.insert("fixes".into(), json!([fix]));
            }
        }
    }
}

/// Line and column (1-based, in characters) of each character offset of a
/// text, as SARIF counts them: `\r\n`, `\n` and `\r` end lines, and a byte
/// order mark is no character.
struct Lines {
    /// Whether the text starts with a byte order mark.
    bom: bool,
    /// (line, column) of each character, and of the end.
    places: Vec<(usize, usize)>,
}

impl Lines {
    fn new(text: &str) -> Lines {
        let bom = text.starts_with('\u{FEFF}');
        let mut places = Vec::with_capacity(text.len() + 1);
        let (mut line, mut column) = (1, 1);
        let mut chars = text.chars().peekable();
        if bom {
            // Offsets index the text with its mark: it has a place, and
            // takes none.
            places.push((1, 1));
            chars.next();
        }
        while let Some(c) = chars.next() {
            places.push((line, column));
            match c {
                '\r' if chars.peek() == Some(&'\n') => column += 1,
                '\r' | '\n' => {
                    line += 1;
                    column = 1;
                }
                _ => column += 1,
            }
        }
        places.push((line, column));
        Lines { bom, places }
    }

    /// The SARIF region of characters `start..end`.
    fn region(&self, start: usize, end: usize) -> Value {
        let place = |at: usize| {
            self.places
                .get(at)
                .or(self.places.last())
                .copied()
                .unwrap_or((1, 1))
        };
        let ((start_line, start_column), (end_line, end_column)) = (place(start), place(end));
        let offset = start.saturating_sub(usize::from(self.bom && start > 0));
        json!({
            "startLine": start_line,
            "startColumn": start_column,
            "endLine": end_line,
            "endColumn": end_column,
            "charOffset": offset,
            "charLength": end.saturating_sub(start),
        })
    }
}

/// A SARIF fix: `edits` (sorted here) as replacements in `file`.
fn fix_object(file: &str, text: &str, edits: &mut Vec<Edit>) -> Value {
    edits.sort_by_key(|e| (e.start, e.end));
    edits.dedup();
    let lines = Lines::new(text);
    let replacements: Vec<Value> = edits
        .iter()
        .map(|edit| {
            json!({
                "deletedRegion": lines.region(edit.start, edit.end),
                "insertedContent": {"text": edit.replacement},
            })
        })
        .collect();
    let notes: Vec<&str> = edits.iter().map(|e| e.note.as_str()).collect();
    json!({
        "description": {"text": format!("selector-guard fix: {}", notes.join("; "))},
        "artifactChanges": [{
            "artifactLocation": {"uri": uri(file)},
            "replacements": replacements,
        }],
    })
}

/// The SARIF log of `collected`.
pub fn log(
    collected: &Collected,
    sources: &[(String, Result<String, String>)],
    show_suppressed: bool,
) -> Value {
    let mut rules = Rules::new();
    let mut pending = results(&mut rules, collected, show_suppressed);
    attach_fixes(&mut pending, &collected.items, sources);
    let results: Vec<Value> = pending.into_iter().map(|p| p.result.into()).collect();
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "selector-guard",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": rules.descriptors,
                }
            },
            "columnKind": "unicodeCodePoints",
            "defaultEncoding": "utf-8",
            "results": results,
        }],
    })
}

/// Writes the SARIF log of `collected` to `out`: one JSON document.
pub fn write(
    collected: &Collected,
    sources: &[(String, Result<String, String>)],
    show_suppressed: bool,
    out: &mut dyn io::Write,
) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &log(collected, sources, show_suppressed))?;
    writeln!(out)
}
