//! `selector-guard check`: the policy over files, folders and stdin, with
//! findings at the place in the YAML they are about.
//!
//! - Every Kubernetes object becomes the CREATE AdmissionRequest
//!   `scaffold` builds, and runs through the policy (see [`crate::inputs`]
//!   for what counts as an object).
//! - A rejection's message is one error at the object's start; each
//!   operation of the would-be patch is one error at the value it changes
//!   (what kubectl would send is what the API server would refuse); each
//!   warning is a warning at the object's start.
//! - Findings print in input order; a closing summary goes to stderr.
//! - Exit 0: no error; 1: an error; 2: unusable input (unreadable file,
//!   not YAML, a policy or settings that do not load, a trapping policy),
//!   one line each on stderr. 2 wins over 1.

use anyhow::Result;
use selector_guard_host::config::load_settings;
use selector_guard_host::host::{Policy, ValidationResponse};
use selector_guard_host::yaml11::{Node, Style};
use serde_json::Value;
use std::path::PathBuf;

use crate::evaluate::{check_settings, create_request, evaluate_all};
use crate::findings::{Finding, Format, Severity};
use crate::inputs::{self, Object, Source};
use crate::policy;

/// Flags shared by `check` and `fix`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Policy settings, from a YAML or JSON file.
    #[arg(long, value_name = "FILE", conflicts_with = "settings_json")]
    pub settings_path: Option<PathBuf>,
    /// Policy settings, as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub settings_json: Option<String>,
    /// The policy module (default: ./policy.wasm, else the repository's).
    #[arg(long, value_name = "POLICY.wasm")]
    pub policy: Option<PathBuf>,
    /// How findings are printed.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Files, folders (walked for .yaml, .yml, .json) or `-` for stdin.
    #[arg(value_name = "PATH", required = true)]
    pub paths: Vec<PathBuf>,
}

/// Exit statuses.
pub mod exit {
    /// Nothing to report.
    pub const OK: i32 = 0;
    /// Errors found (or, for `fix --check`, something would change).
    pub const FINDINGS: i32 = 1;
    /// Unusable input.
    pub const UNUSABLE: i32 = 2;
}

/// The policy, loaded, with validated settings.
pub struct Loaded {
    /// The compiled module.
    pub policy: Policy,
    /// The settings map sent with every request.
    pub settings: Value,
}

/// Loads the policy and the settings, with `adjust` applied to the
/// settings before the policy validates them. `Err` is one line for stderr.
pub fn load(args: &Args, adjust: impl FnOnce(&mut Value)) -> Result<Loaded, String> {
    let path = policy::locate(args.policy.as_deref()).ok_or(policy::HOW_TO_GET_ONE)?;
    let (_, policy) = policy::load(&path).map_err(|e| format!("{e:#}"))?;
    let mut settings = load_settings(args.settings_json.as_deref(), args.settings_path.as_deref())
        .map_err(|e| format!("{e:#}"))?;
    adjust(&mut settings);
    check_settings(&policy, &settings).map_err(|e| format!("{e:#}"))?;
    Ok(Loaded { policy, settings })
}

/// One object and the policy's answer for it.
pub struct Evaluated {
    /// The object and where it is written.
    pub object: Object,
    /// The policy's answer, or why there is none.
    pub answer: Result<ValidationResponse, String>,
}

/// One file, read and evaluated.
pub struct Report {
    /// The file's name.
    pub name: String,
    /// Its objects and answers, or why the file is unusable.
    pub evaluated: Result<Vec<Evaluated>, String>,
    /// Documents that are not Kubernetes objects.
    pub skipped: usize,
}

/// Reads every source and runs every object through the policy at once.
pub fn evaluate(loaded: &Loaded, sources: &[(String, Result<String, String>)]) -> Vec<Report> {
    let mut reports = Vec::new();
    let mut objects = Vec::new();
    for (name, text) in sources {
        let contents = text
            .as_deref()
            .map_err(|e| e.clone())
            .and_then(|text| inputs::objects(name, text).map_err(|e| format!("{e:#}")));
        match contents {
            Ok(contents) => {
                reports.push((name.clone(), Ok(()), contents.skipped));
                objects.push(contents.objects);
            }
            Err(e) => {
                reports.push((name.clone(), Err(e), 0));
                objects.push(Vec::new());
            }
        }
    }
    let flat: Vec<&Object> = objects.iter().flatten().collect();
    let requests: Vec<Result<Value, String>> = flat
        .iter()
        .map(|o| create_request(&o.value).map_err(|e| format!("{e:#}")))
        .collect();
    let valid: Vec<Value> = requests.iter().filter_map(|r| r.clone().ok()).collect();
    let mut answers = evaluate_all(&loaded.policy, &valid, &loaded.settings).into_iter();
    let mut per_object = requests.into_iter().map(|request| match request {
        Ok(_) => answers
            .next()
            .unwrap_or_else(|| Err(anyhow::anyhow!("no answer")))
            .map_err(|e| format!("{e:#}")),
        Err(e) => Err(e),
    });
    reports
        .into_iter()
        .zip(objects)
        .map(|((name, status, skipped), objects)| Report {
            name,
            evaluated: status.map(|()| {
                objects
                    .into_iter()
                    .map(|object| Evaluated {
                        object,
                        answer: per_object
                            .next()
                            .unwrap_or_else(|| Err("no answer".to_owned())),
                    })
                    .collect()
            }),
            skipped,
        })
        .collect()
}

/// The findings for one answered object.
pub fn findings(object: &Object, answer: &ValidationResponse) -> Vec<Finding> {
    let at_start = |severity, message: String| {
        let (line, column) = object.place(object.start);
        Finding {
            file: object.file.clone(),
            line,
            column,
            severity,
            object: object.name.clone(),
            message,
        }
    };
    let mut out = Vec::new();
    if !answer.accepted {
        let message = answer
            .message
            .clone()
            .unwrap_or_else(|| format!("{}: rejected by the policy", object.name));
        out.push(at_start(Severity::Error, message));
    }
    if let Some(mutated) = &answer.mutated_object {
        for operation in patch(&object.value, mutated) {
            let target = object
                .node
                .as_ref()
                .map(|n| n.pointer(&operation.path).unwrap_or_else(|near| near));
            let (line, column) = object.place(target.map_or(object.start, Node::start));
            out.push(Finding {
                file: object.file.clone(),
                line,
                column,
                severity: Severity::Error,
                object: object.name.clone(),
                message: operation.message(object, target),
            });
        }
    }
    for warning in answer.warnings.iter().flatten() {
        out.push(at_start(Severity::Warning, warning.clone()));
    }
    out
}

/// One operation of a JSON Patch.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation {
    /// `add`, `remove`, `replace`, ...
    pub op: String,
    /// JSON pointer.
    pub path: String,
    /// The new value, for `add` and `replace`.
    pub value: Option<Value>,
}

/// The RFC 6902 patch from `object` to `mutated`, as policy-evaluator
/// computes it.
pub fn patch(object: &Value, mutated: &Value) -> Vec<Operation> {
    let diff = json_patch::diff(object, mutated);
    let Ok(Value::Array(operations)) = serde_json::to_value(diff) else {
        return Vec::new();
    };
    operations
        .into_iter()
        .map(|op| Operation {
            op: op
                .get("op")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            path: op
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            value: op.get("value").cloned(),
        })
        .collect()
}

/// `spec.selector.active`, `metadata.annotations["a.b/c"]`, `items[0]`.
pub fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else if token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && !token.is_empty()
        {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&token);
        } else {
            out.push_str(&format!("[{}]", serde_json::Value::String(token)));
        }
    }
    out
}

impl Operation {
    /// What the operation means for the manifest as written.
    fn message(&self, object: &Object, target: Option<&Node>) -> String {
        let field = dotted(&self.path);
        let new = self
            .value
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        let old = object.value.pointer(&self.path);
        match (self.op.as_str(), target, old) {
            (
                "replace",
                Some(Node::Scalar {
                    text,
                    style: Style::Plain,
                    ..
                }),
                Some(old),
            ) if self.value.as_ref().is_some_and(Value::is_string) => format!(
                "{}: {field}: kubectl reads `{text}` as {old}, not as a string; the policy would make it {new}: quote it, \"{}\" (`selector-guard fix` does)",
                object.name,
                text.replace('\\', "\\\\").replace('"', "\\\"")
            ),
            ("replace", _, Some(old)) => format!(
                "{}: {field}: the policy would change {old} to {new}",
                object.name
            ),
            ("add", _, _) => format!("{}: {field}: the policy would add {new}", object.name),
            ("remove", _, _) => format!("{}: {field}: the policy would remove it", object.name),
            (op, _, _) => format!("{}: {field}: the policy would {op} it {new}", object.name),
        }
    }
}

/// The sources named by `args.paths`, as (name, text) pairs.
pub fn read_sources(sources: &[Source]) -> Vec<(String, Result<String, String>)> {
    sources
        .iter()
        .map(|s| (s.name.clone(), s.text.clone()))
        .collect()
}

/// Prints the findings of `reports` in order (stdout) and the problems
/// (stderr); returns the exit status and the counts for the summary.
pub fn print(reports: &[Report], format: Format) -> Summary {
    let mut summary = Summary::default();
    for report in reports {
        summary.files += 1;
        summary.skipped += report.skipped;
        let evaluated = match &report.evaluated {
            Ok(evaluated) => evaluated,
            Err(e) => {
                eprintln!("{}: {e}", report.name);
                summary.unusable += 1;
                continue;
            }
        };
        for Evaluated { object, answer } in evaluated {
            summary.objects += 1;
            match answer {
                Ok(answer) => {
                    for finding in findings(object, answer) {
                        match finding.severity {
                            Severity::Error => summary.errors += 1,
                            Severity::Warning => summary.warnings += 1,
                        }
                        println!("{}", finding.render(format));
                    }
                }
                Err(e) => {
                    let (line, column) = object.place(object.start);
                    eprintln!(
                        "{}:{line}:{column}: the policy failed on {}: {e}",
                        object.file, object.name
                    );
                    summary.unusable += 1;
                }
            }
        }
    }
    summary
}

/// What a run found, for the closing line and the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Files read (or tried).
    pub files: usize,
    /// Objects evaluated.
    pub objects: usize,
    /// Documents skipped: not Kubernetes objects.
    pub skipped: usize,
    /// Errors printed.
    pub errors: usize,
    /// Warnings printed.
    pub warnings: usize,
    /// Unusable files and failed evaluations.
    pub unusable: usize,
}

impl Summary {
    /// 2 on unusable input, else 1 on an error, else 0.
    pub fn exit_status(&self) -> i32 {
        if self.unusable > 0 {
            exit::UNUSABLE
        } else if self.errors > 0 {
            exit::FINDINGS
        } else {
            exit::OK
        }
    }

    /// The closing line.
    pub fn line(&self) -> String {
        let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
        let mut line = format!(
            "selector-guard: {}, {} in {} from {}",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.objects, "object"),
            plural(self.files, "file"),
        );
        if self.skipped > 0 {
            line.push_str(&format!(
                "; skipped {} that {}",
                plural(self.skipped, "document"),
                if self.skipped == 1 {
                    "is not a Kubernetes object"
                } else {
                    "are not Kubernetes objects"
                }
            ));
        }
        if self.unusable > 0 {
            line.push_str(&format!("; {} unusable", plural(self.unusable, "input")));
        }
        line
    }
}

/// Runs `check`; returns the exit status.
pub fn main(args: &Args) -> i32 {
    let loaded = match load(args, |_| {}) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("selector-guard: {e}");
            return exit::UNUSABLE;
        }
    };
    let sources = read_sources(&inputs::sources(&args.paths));
    let reports = evaluate(&loaded, &sources);
    let summary = print(&reports, args.format);
    eprintln!("{}", summary.line());
    summary.exit_status()
}
