//! `selector-guard fix`: the policy's mutations written back into the YAML
//! text, in the user's spelling.
//!
//! - The string rules run in `mutate` mode (`serviceSelectorValues:
//!   mutate` and `labelMapValues: mutate` are sent, whatever the settings
//!   say), and the patch says which
//!   values change. A value the patch turns into a string is quoted as it
//!   was written: `active: yes` becomes `active: "yes"`, `tier: 0x2A`
//!   becomes `tier: "0x2A"`. When that spelling is not a valid value for
//!   the field (`+1`, `.5`, `~` as a label value), the policy's string is
//!   written instead, with a note.
//! - In the maps the patch touches, and in every label map the policy
//!   checks (`selector_guard::rules::label_maps`: labels, annotations,
//!   `matchLabels`, `nodeSelector`, a Service's or ReplicationController's
//!   `spec.selector`, in the places of each kind), plain keys that YAML 1.1
//!   reads as a boolean, number or null are quoted (`on:` becomes `"on":`).
//! - Nothing else changes: edits replace exactly the scalars' text, so
//!   comments, order, indentation, other documents and line endings stay.
//! - What the patch does that is not quoting a plain scalar, and
//!   rejections (a DaemonSet's `replicas`), need a human: never edited,
//!   reported as `check` reports them. To see the patch of a rejected
//!   object, the policy is asked again with rejecting rules set to `warn`.
//! - `--check` writes nothing, prints a unified diff, and exits 1 when
//!   something would change. Otherwise files are rewritten (stdin's fixed
//!   text goes to stdout), then checked again: exit 1 when errors remain.

use selector_guard::rules;
use selector_guard_host::yaml11::{self, Limits, Node, Schema, Style};
use serde_json::Value;

use crate::check::{self, Evaluated, Loaded, Report, exit, patch};
use crate::findings::Format;
use crate::inputs::{Object, Origin, Source};

/// `fix`'s flags: `check`'s, plus `--check`.
#[derive(clap::Args, Debug, Clone)]
#[group(id = "fix_args")]
pub struct Args {
    /// Write nothing: print what would change as a unified diff, and exit
    /// 1 when something would.
    #[arg(long)]
    pub check: bool,
    /// The flags `check` takes.
    #[command(flatten)]
    pub common: check::Args,
}

/// One replacement of text, in character offsets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edit {
    /// First character replaced.
    pub start: usize,
    /// One past the last character replaced.
    pub end: usize,
    /// The new text.
    pub replacement: String,
    /// Where, as findings print it: file, line, column.
    pub place: (String, usize, usize),
    /// What was done, for the user.
    pub note: String,
}

/// Settings for computing fixes: the string rules mutate.
pub fn mutate_settings(settings: &mut Value) {
    if let Some(map) = settings.as_object_mut() {
        for key in ["serviceSelectorValues", "labelMapValues"] {
            map.insert(key.into(), "mutate".into());
        }
    }
}

/// Settings under which rejecting rules only warn, so a rejected object
/// still shows its patch.
pub fn warn_settings(settings: &Value) -> Value {
    let mut relaxed = settings.clone();
    if let Some(map) = relaxed.as_object_mut() {
        for value in map.values_mut() {
            if value == "reject" {
                *value = "warn".into();
            }
        }
        // Rules that reject by default; specFields may be given by its
        // old name, and naming both is refused.
        if !map.contains_key("daemonSetFields") {
            map.entry("specFields").or_insert_with(|| "warn".into());
        }
        for key in ["templateLabels", "immutableSelector"] {
            map.entry(key).or_insert_with(|| "warn".into());
        }
    }
    relaxed
}

/// A plain scalar is a valid label value (empty, or at most 63
/// characters of `[A-Za-z0-9._-]` starting and ending alphanumeric).
pub fn is_label_value(text: &str) -> bool {
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    text.is_empty()
        || (text.len() <= 63
            && alnum(text.chars().next())
            && alnum(text.chars().last())
            && text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// `text` as a YAML double-quoted scalar.
pub fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The edits that apply `mutated` (the policy's object) to `object` as
/// written. Operations that are not quoting a plain scalar are left out.
pub fn edits(object: &Object, mutated: Option<&Value>) -> Vec<Edit> {
    let Some(root) = &object.node else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut maps: Vec<String> = Vec::new();
    for operation in mutated.map(|m| patch(&object.value, m)).unwrap_or_default() {
        let Some(Value::String(new)) = &operation.value else {
            continue;
        };
        if operation.op != "replace" {
            continue;
        }
        let Ok(Node::Scalar {
            text,
            style: Style::Plain,
            tagged: false,
            start,
            end,
        }) = root.pointer(&operation.path)
        else {
            continue;
        };
        if start.line != end.line {
            continue;
        }
        let parent = operation
            .path
            .rsplit_once('/')
            .map_or("", |(parent, _)| parent);
        let in_annotations = parent.ends_with("/annotations");
        let (replacement, note) = if in_annotations || is_label_value(text) {
            (
                quoted(text),
                format!(
                    "{}: quoted `{text}` as {}",
                    check::dotted(&operation.path),
                    quoted(text)
                ),
            )
        } else {
            (
                quoted(new),
                format!(
                    "{}: `{text}` is not a valid label value as written, so the policy's string {} was written instead",
                    check::dotted(&operation.path),
                    quoted(new)
                ),
            )
        };
        let (line, column) = object.place(*start);
        out.push(Edit {
            start: start.index,
            end: end.index,
            replacement,
            place: (object.file.clone(), line, column),
            note,
        });
        maps.push(parent.to_owned());
    }
    label_maps(&object.value, &mut maps);
    maps.sort();
    maps.dedup();
    for pointer in maps {
        let Ok(Node::Mapping { entries, .. }) = root.pointer(&pointer) else {
            continue;
        };
        for entry in entries {
            let Node::Scalar {
                text,
                style: Style::Plain,
                tagged: false,
                start,
                end,
            } = &entry.key_node
            else {
                continue;
            };
            if yaml11::yaml11_type(text) == "string" || start.line != end.line {
                continue;
            }
            let (line, column) = object.place(*start);
            out.push(Edit {
                start: start.index,
                end: end.index,
                replacement: quoted(text),
                place: (object.file.clone(), line, column),
                note: format!(
                    "{}: quoted the key `{text}` (YAML 1.1 reads it as {})",
                    check::dotted(&pointer),
                    entry.key
                ),
            });
        }
    }
    out
}

/// JSON pointers of the label maps the policy checks in `object`: the
/// captures of its kind's shape (`selector_guard::rules::label_maps`); of
/// a kind the policy does not handle, the object's own labels and
/// annotations, which every kind has.
fn label_maps(object: &Value, out: &mut Vec<String>) {
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
    let (group, version) = match text("apiVersion").split_once('/') {
        Some((group, version)) => (group, version),
        None => ("", text("apiVersion")),
    };
    let paths = match rules::Kind::from_gvk(group, version, text("kind")) {
        Some(kind) => rules::label_maps(kind),
        None => vec!["metadata.labels", "metadata.annotations"],
    };
    for path in paths {
        out.push(
            path.split('.')
                .fold(String::new(), |pointer, key| pointer + "/" + key),
        );
    }
}

/// `text` with `edits` applied (overlapping edits after the first are dropped).
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let offsets: Vec<usize> = text
        .char_indices()
        .map(|(byte, _)| byte)
        .chain(std::iter::once(text.len()))
        .collect();
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(text.len() + 16 * edits.len());
    let mut done = 0;
    for edit in sorted {
        let (Some(&start), Some(&end)) = (offsets.get(edit.start), offsets.get(edit.end)) else {
            continue;
        };
        if start < done || end < start {
            continue;
        }
        out.push_str(text.get(done..start).unwrap_or_default());
        out.push_str(&edit.replacement);
        done = end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    out
}

/// The fixed text of each report's file, and the edits made.
fn fixed_texts(
    loaded: &Loaded,
    sources: &[(String, Result<String, String>)],
    reports: &[Report],
) -> Vec<Option<(String, Vec<Edit>)>> {
    // Objects the policy rejected: asked again with rejecting rules warning.
    let relaxed = warn_settings(&loaded.settings);
    let relaxed_ok = loaded.check_settings(&relaxed).is_ok();
    let rejected: Vec<&Object> = reports
        .iter()
        .filter_map(|r| r.evaluated.as_ref().ok())
        .flatten()
        .filter(|e| e.answer.as_ref().is_ok_and(|a| !a.answer.accepted))
        .map(|e| &e.object)
        .collect();
    let mut second: Vec<Option<Value>> = Vec::new();
    if relaxed_ok && !rejected.is_empty() {
        let requests: Vec<Value> = rejected
            .iter()
            .filter_map(|o| check::create_request(&o.value).ok())
            .collect();
        if requests.len() == rejected.len() {
            second = loaded
                .evaluate_all(&requests, &relaxed, &check::NoCluster)
                .into_iter()
                .map(|a| a.ok().and_then(|a| a.answer.mutated_object))
                .collect();
        }
    }
    let mut second = second.into_iter();
    sources
        .iter()
        .zip(reports)
        .map(|((_, text), report)| {
            let text = text.as_ref().ok()?;
            let evaluated = report.evaluated.as_ref().ok()?;
            let mut all = Vec::new();
            for Evaluated { object, answer } in evaluated {
                let mutated = match answer {
                    Ok(a) if a.answer.accepted => a.answer.mutated_object.clone(),
                    Ok(_) => second.next().flatten(),
                    Err(_) => None,
                };
                all.extend(edits(object, mutated.as_ref()));
            }
            Some((apply(text, &all), all))
        })
        .collect()
}

/// Runs `fix`; returns the exit status.
pub fn main(args: &Args) -> i32 {
    let loaded = match check::load(&args.common, mutate_settings) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("selector-guard: {e}");
            return exit::UNUSABLE;
        }
    };
    let sources_read = crate::inputs::sources(&args.common.paths);
    let sources = check::read_sources(&sources_read);
    let reports = check::evaluate(&loaded, &sources);
    let fixed = fixed_texts(&loaded, &sources, &reports);
    let mut status = exit::OK;
    let mut changed_files = 0;
    let mut new_sources = Vec::new();
    for ((source, report), fixed) in sources_read.iter().zip(&reports).zip(fixed) {
        let Some((new_text, edits)) = fixed else {
            if let Err(e) = &report.evaluated {
                eprintln!("{}: {e}", report.name);
            }
            status = exit::UNUSABLE;
            new_sources.push((source.name.clone(), source.text.clone()));
            continue;
        };
        for edit in &edits {
            let (file, line, column) = &edit.place;
            eprintln!("{file}:{line}:{column}: note: {}", edit.note);
        }
        let old_text = source.text.as_deref().unwrap_or_default();
        if source.origin == Origin::Stdin && !args.check && new_text == old_text {
            // A filter: stdin's text goes to stdout, fixed or not.
            print!("{new_text}");
        }
        if new_text != old_text {
            if let Err(e) = yaml11::parse_positioned(&new_text, Schema::Yaml11, Limits::default()) {
                eprintln!(
                    "{}: the fixed text does not read back ({e:#}); nothing written",
                    source.name
                );
                status = exit::UNUSABLE;
                new_sources.push((source.name.clone(), source.text.clone()));
                continue;
            }
            changed_files += 1;
            if args.check {
                print_diff(source, old_text, &new_text);
            } else if let Err(e) = write_back(source, &new_text) {
                eprintln!("{}: {e}", source.name);
                status = exit::UNUSABLE;
            }
        }
        new_sources.push((source.name.clone(), Ok(new_text)));
    }
    if args.check {
        eprintln!(
            "selector-guard: {changed_files} file{} would change",
            if changed_files == 1 { "" } else { "s" }
        );
        return if status == exit::UNUSABLE {
            status
        } else if changed_files > 0 {
            exit::FINDINGS
        } else {
            exit::OK
        };
    }
    // What remains, under the user's own settings.
    let user = match check::load(&args.common, |_| {}) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("selector-guard: {e}");
            return exit::UNUSABLE;
        }
    };
    let reports = check::evaluate(&user, &new_sources);
    let stdin_fixed = sources_read.iter().any(|s| s.origin == Origin::Stdin);
    let summary = if stdin_fixed {
        // stdout carries the fixed stream: findings go to stderr.
        print_to_stderr(&reports, args.common.format)
    } else {
        check::print(&reports, args.common.format)
    };
    eprintln!(
        "{}; fixed {changed_files} file{}",
        summary.line(),
        if changed_files == 1 { "" } else { "s" }
    );
    if status == exit::UNUSABLE {
        status
    } else {
        summary.exit_status()
    }
}

fn print_to_stderr(reports: &[Report], format: Format) -> check::Summary {
    let mut summary = check::Summary::default();
    for report in reports {
        summary.files += 1;
        summary.skipped += report.skipped;
        let Ok(evaluated) = &report.evaluated else {
            summary.unusable += 1;
            continue;
        };
        for Evaluated { object, answer } in evaluated {
            summary.objects += 1;
            let Ok(answer) = answer else {
                summary.unusable += 1;
                continue;
            };
            for finding in check::findings(object, answer) {
                match finding.severity {
                    crate::findings::Severity::Error => summary.errors += 1,
                    crate::findings::Severity::Warning => summary.warnings += 1,
                }
                eprintln!("{}", finding.render(format));
            }
        }
    }
    summary
}

fn print_diff(source: &Source, old: &str, new: &str) {
    let diff = similar::TextDiff::from_lines(old, new);
    let (a, b) = if source.name.starts_with('/') || source.name == "-" {
        (source.name.clone(), source.name.clone())
    } else {
        (format!("a/{}", source.name), format!("b/{}", source.name))
    };
    print!("{}", diff.unified_diff().context_radius(3).header(&a, &b));
}

fn write_back(source: &Source, text: &str) -> std::io::Result<()> {
    match &source.origin {
        Origin::Stdin => {
            print!("{text}");
            Ok(())
        }
        Origin::File(path) => std::fs::write(path, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// No rule is left rejecting, and Rule 1's setting keeps the one name it
    /// was given by (the policy refuses both names together).
    #[test]
    fn warn_settings_relax_every_rejecting_rule_under_either_name() {
        for (given, rule_1) in [
            (json!({}), "specFields"),
            (json!({"specFields": "reject"}), "specFields"),
            (
                json!({"daemonSetFields": "reject", "labelMapValues": "reject"}),
                "daemonSetFields",
            ),
        ] {
            let relaxed = warn_settings(&given);
            let map = relaxed.as_object().expect("a map");
            assert_eq!(map.get(rule_1), Some(&json!("warn")), "{given}");
            let names = ["specFields", "daemonSetFields"];
            assert_eq!(names.iter().filter(|k| map.contains_key(**k)).count(), 1);
            for key in ["templateLabels", "immutableSelector"] {
                assert_eq!(map.get(key), Some(&json!("warn")), "{given}: {key}");
            }
            assert!(map.values().all(|v| v != "reject"), "{relaxed}");
        }
        let mut settings = json!({"labelMapValues": "off"});
        mutate_settings(&mut settings);
        assert_eq!(
            settings,
            json!({"labelMapValues": "mutate", "serviceSelectorValues": "mutate"})
        );
    }
}
