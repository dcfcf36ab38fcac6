//! `selector-guard check`: the policy over files, folders and stdin, with
//! findings at the place in the YAML they are about.
//!
//! - Every Kubernetes object becomes the CREATE AdmissionRequest
//!   `scaffold` builds, and runs through the policy linked into this
//!   binary (see [`crate::inputs`] for what counts as an object).
//! - Each finding is reported once, at its own field (a field at its key,
//!   a map value at the value), with the ID of the rule that made it. A
//!   value that `serviceSelectorValues` or `labelMapValues` would make a
//!   string is an error at the value: kubectl would send what the policy
//!   rewrites.
//! - With `--policy FILE.wasm` (the `wasm` feature) a module runs instead,
//!   and its findings are read from its answer's text, at the object's
//!   start, each with the rule its trailing `[ruleId]` names.
//! - Findings print in input order; a closing summary goes to stderr.
//! - A `.selector-guard.yaml` ([`crate::config`]) gives settings, excluded
//!   files, a namespace and `failOn` under the flags; inputs with
//!   different config files are separate runs ([`runs`]).
//! - Exit 0: no error; 1: an error; 2: unusable input (unreadable file,
//!   not YAML, a policy, settings or a config file that do not load, a
//!   trapping policy), one line each on stderr. 2 wins over 1.

use anyhow::Result;
use selector_guard::cluster::Host;
use selector_guard::findings::{Action, Finding as PolicyFinding, Shown, segments};
use selector_guard::relations::State;
use selector_guard::rules::{RULES, Rule, RuleMode};
use selector_guard::settings::Settings;
use selector_guard_host::config::load_settings;
use selector_guard_host::host::{ValidationResponse, admission_request};
use selector_guard_host::manifests::{self, Operation as AdmissionOperation};
use selector_guard_host::yaml11::{Node, Position, Style};
use serde_json::Value;
use std::path::PathBuf;

use crate::config::{self, Config};
use crate::findings::{Finding, Format, Severity};
use crate::inputs::{self, Object, Source};

/// Flags shared by `check` and `fix`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Policy settings, from a YAML or JSON file.
    #[arg(long, value_name = "FILE", conflicts_with = "settings_json")]
    pub settings_path: Option<PathBuf>,
    /// Policy settings, as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub settings_json: Option<String>,
    /// Run this policy module instead of the policy built into this binary
    /// (a released version, pulled with `kwctl pull`). Needs the `wasm`
    /// feature: `cargo install --locked --path cli --features wasm`.
    #[arg(long, value_name = "POLICY.wasm")]
    pub policy: Option<PathBuf>,
    /// How findings are printed.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The namespace of objects that name none (`metadata.namespace`)
    /// [default: the config file's `namespace`, else `default`].
    #[arg(long, short = 'n', value_name = "NS")]
    pub namespace: Option<String>,
    /// The live cluster, as `kubectl get ... -A -o yaml` prints it: an
    /// input that exists there is judged as an UPDATE of it, and the rules
    /// read the dump with the inputs laid over it.
    #[arg(long, value_name = "FILE")]
    pub cluster_state: Option<PathBuf>,
    /// Exit 1 on findings of this severity or worse [default: the config
    /// file's `failOn`, else `error`].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Print the findings a `selector-guard.dev/ignore` annotation
    /// suppressed too, marked with their reason (they still do not count).
    #[arg(long)]
    pub show_suppressed: bool,
    /// The config file for every input, instead of the nearest
    /// `.selector-guard.yaml` of each (see `docs/ci.md`).
    #[arg(long, value_name = "FILE", conflicts_with = "no_config")]
    pub config: Option<PathBuf>,
    /// Use no config file.
    #[arg(long)]
    pub no_config: bool,
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

/// What judges the objects: the policy linked into this binary, or a module.
pub enum Engine {
    /// The policy's own code, called natively.
    Native,
    /// A policy module in the waPC host.
    #[cfg(feature = "wasm")]
    Wasm(Box<selector_guard_host::host::Policy>),
}

/// The policy, loaded, with validated settings.
pub struct Loaded {
    /// What judges the objects.
    pub engine: Engine,
    /// The settings map sent with every request.
    pub settings: Value,
    /// The namespace of objects that name none.
    pub namespace: String,
    /// The objects of `--cluster-state`, in its order.
    pub cluster_state: Vec<Value>,
}

/// The policy's answer for one object, and its findings as data when the
/// policy ran natively.
#[derive(Debug)]
pub struct Judged {
    /// The answer, as a waPC host reads it.
    pub answer: ValidationResponse,
    /// Every finding, with its rule and paths; `None` from a module.
    pub findings: Option<Vec<PolicyFinding>>,
}

/// Host calls are refused: `check` has no cluster to read.
pub struct NoCluster;

impl Host for NoCluster {
    fn call(&self, operation: &str, _payload: &[u8]) -> Result<Vec<u8>, String> {
        Err(format!(
            "kubernetes/{operation}: selector-guard check reads no cluster"
        ))
    }
}

/// The inputs as the cluster: the relation rules read the desired state
/// through the policy's `Host` boundary ([`Host::desired`]), indexed.
struct Folder<'s, 'v> {
    state: &'s State<'v>,
}

impl Host for Folder<'_, '_> {
    /// Lists and gets answered from the desired state, as the API server
    /// would answer them from the cluster the inputs describe.
    fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request: Value = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
        let text = |key: &str| request.get(key).and_then(Value::as_str).unwrap_or("");
        let (api_version, kind, namespace) = (text("api_version"), text("kind"), text("namespace"));
        let mut found = self.state.items.iter().filter(|item| {
            item.api_version == api_version && item.kind == kind && item.namespace == namespace
        });
        let answer = match operation {
            "list_resources_by_namespace" => {
                let items: Vec<&Value> = found.map(|item| item.value).collect();
                serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
            }
            "get_resource" => match found.find(|item| item.name == text("name")) {
                Some(item) => item.value.clone(),
                None => {
                    return Err(format!(
                        "{kind}.{api_version} \"{}\" not found in namespace {namespace}",
                        text("name")
                    ));
                }
            },
            _ => return NoCluster.call(operation, payload),
        };
        serde_json::to_vec(&answer).map_err(|e| e.to_string())
    }

    fn desired(&self) -> Option<&State<'_>> {
        Some(self.state)
    }
}

/// The CI default of every rule the settings do not give (`Defaults::ci`
/// of the registry): what a folder of manifests is judged by.
pub fn ci_defaults(settings: &mut Value) {
    fill_defaults(settings, |rule| rule.default.ci);
}

/// Sets every rule key the settings do not give to `mode(rule)`.
pub fn fill_defaults(settings: &mut Value, mode: impl Fn(&Rule) -> RuleMode) {
    let Some(map) = settings.as_object_mut() else {
        return;
    };
    for rule in RULES {
        // specFields' old name is the same setting.
        let given = map.contains_key(rule.id)
            || (rule.id == "specFields" && map.contains_key("daemonSetFields"));
        if !given {
            map.insert(rule.id.into(), mode(rule).as_str().into());
        }
    }
}

impl Loaded {
    /// `settings` checked by the policy's `validate_settings`, as kwctl does.
    pub fn check_settings(&self, settings: &Value) -> Result<()> {
        let verdict = match &self.engine {
            Engine::Native => crate::native::validate_settings(settings)?,
            #[cfg(feature = "wasm")]
            Engine::Wasm(policy) => policy.validate_settings(settings)?,
        };
        if verdict.valid {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "Provided settings are not valid: {:?}",
                verdict.message.unwrap_or_default()
            ))
        }
    }

    /// The policy's answer for each of `count` requests, in order, under
    /// the loaded settings; `request_of` builds each. Natively, a request
    /// is built, judged and dropped before the next; a module judges them
    /// all at once, in parallel.
    pub fn judge_each(
        &self,
        count: usize,
        request_of: impl Fn(usize) -> Result<Value, String>,
        host: &dyn Host,
    ) -> Vec<Result<Judged, String>> {
        match &self.engine {
            Engine::Native => (0..count)
                .map(|at| {
                    let request = request_of(at)?;
                    judge_natively(&request, &self.settings, host).map_err(|e| format!("{e:#}"))
                })
                .collect(),
            #[cfg(feature = "wasm")]
            Engine::Wasm(policy) => {
                let requests: Vec<Result<Value, String>> = (0..count).map(request_of).collect();
                let valid: Vec<Value> = requests.iter().filter_map(|r| r.clone().ok()).collect();
                let mut answers =
                    crate::evaluate::evaluate_all(policy, &valid, &self.settings).into_iter();
                requests
                    .into_iter()
                    .map(|request| {
                        request?;
                        answers
                            .next()
                            .unwrap_or_else(|| Err(anyhow::anyhow!("no answer")))
                            .map(|answer| Judged {
                                answer,
                                findings: None,
                            })
                            .map_err(|e| format!("{e:#}"))
                    })
                    .collect()
            }
        }
    }
}

/// One request through the policy's code, as `validate` answers it, with
/// the findings behind the answer.
fn judge_natively(request: &Value, settings: &Value, host: &dyn Host) -> Result<Judged> {
    let payload = serde_json::to_vec(&serde_json::json!({
        "request": request,
        "settings": settings,
    }))?;
    let assessed = selector_guard::assess(&payload, host, true);
    let findings = match &assessed {
        selector_guard::Assessed::Judged { findings, .. } => Some(
            findings
                .violations
                .iter()
                .chain(&findings.warnings)
                .cloned()
                .collect(),
        ),
        selector_guard::Assessed::Answered(_) => None,
    };
    let bytes = assessed.respond().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut answer: ValidationResponse = serde_json::from_slice(&bytes)?;
    if findings.is_some() {
        // The findings say what the patch would do, at each value.
        answer.mutated_object = None;
    }
    Ok(Judged { answer, findings })
}

/// The AdmissionRequest kwctl would send for a CREATE of `object`.
pub fn create_request(object: &Value) -> Result<Value> {
    admission_request(&manifests::admission_request(
        AdmissionOperation::Create,
        Some(object),
        None,
    )?)
}

/// The AdmissionRequest kwctl would send for an UPDATE of `old` to `object`.
pub fn update_request(object: &Value, old: &Value) -> Result<Value> {
    admission_request(&manifests::admission_request(
        AdmissionOperation::Update,
        Some(object),
        Some(old),
    )?)
}

/// Loads the policy and the settings of the flags alone (no config file),
/// with `adjust` applied to the settings before the policy validates them.
/// `Err` is one line for stderr.
pub fn load(args: &Args, adjust: impl FnOnce(&mut Value)) -> Result<Loaded, String> {
    load_with(args, None, adjust)
}

/// [`load`], with the settings and namespace of `config` under the flags':
/// the config's settings, checked by the policy on their own, then the
/// top-level keys of `--settings-json` / `--settings-path` over them.
pub fn load_with(
    args: &Args,
    config: Option<&Config>,
    adjust: impl FnOnce(&mut Value),
) -> Result<Loaded, String> {
    let engine = engine(args)?;
    let flags = load_settings(args.settings_json.as_deref(), args.settings_path.as_deref())
        .map_err(|e| format!("{e:#}"))?;
    let namespace = args
        .namespace
        .clone()
        .or_else(|| config.and_then(|c| c.namespace.clone()))
        .unwrap_or_else(|| "default".to_owned());
    let mut loaded = Loaded {
        engine,
        settings: Value::Null,
        namespace,
        cluster_state: Vec::new(),
    };
    let mut settings = match config.and_then(|c| c.settings.as_ref().map(|s| (c, s))) {
        None => flags,
        Some((config, from_file)) => {
            if let Some(refusal) = refusal(&loaded, from_file).map_err(|e| format!("{e:#}"))? {
                return Err(config.settings_error(&refusal));
            }
            overlay(from_file, flags)
        }
    };
    // A module keeps its own defaults: a released one may not know every key.
    if matches!(loaded.engine, Engine::Native) && settings.is_object() {
        ci_defaults(&mut settings);
    }
    adjust(&mut settings);
    if let Some(path) = &args.cluster_state {
        loaded.cluster_state = read_cluster_state(path)?;
    }
    loaded.settings = settings;
    loaded
        .check_settings(&loaded.settings)
        .map_err(|e| format!("{e:#}"))?;
    Ok(loaded)
}

/// The policy's refusal of `settings`, `None` when it takes them.
fn refusal(loaded: &Loaded, settings: &Value) -> Result<Option<String>> {
    let verdict = match &loaded.engine {
        Engine::Native => crate::native::validate_settings(settings)?,
        #[cfg(feature = "wasm")]
        Engine::Wasm(policy) => policy.validate_settings(settings)?,
    };
    Ok((!verdict.valid).then(|| verdict.message.unwrap_or_default()))
}

/// The settings map `from_file` with each top-level key of `flags` over
/// it (`specFields` and its old name `daemonSetFields` are one key).
fn overlay(from_file: &Value, flags: Value) -> Value {
    let (Some(file), Value::Object(flags)) = (from_file.as_object(), flags) else {
        return from_file.clone();
    };
    let mut merged = file.clone();
    let spec_fields = ["specFields", "daemonSetFields"];
    if flags.keys().any(|key| spec_fields.contains(&key.as_str())) {
        merged.retain(|key, _| !spec_fields.contains(&key.as_str()));
    }
    merged.extend(flags);
    Value::Object(merged)
}

/// The inputs that share a config file, and what judges them: each is a
/// run of its own (its settings, its namespace, its inputs as the cluster).
pub struct Run {
    /// The config file, as messages name it; `None` when there is none.
    pub config: Option<String>,
    /// The policy and the settings.
    pub loaded: Loaded,
    /// `--fail-on`, else the config's `failOn`, else `error`.
    pub fail_on: FailOn,
    /// The inputs not excluded, read, in input order.
    pub sources: Vec<Source>,
}

/// What `check` and `fix` run: [`Run`]s in the order of their first input.
pub struct Runs {
    /// One per config file (and one for the inputs that have none).
    pub runs: Vec<Run>,
    /// Inputs left out by an `exclude` pattern (not read).
    pub excluded: usize,
}

impl Runs {
    /// `summary`'s closing line, with the excluded inputs counted.
    pub fn line(&self, summary: &Summary) -> String {
        let mut line = summary.line();
        if self.excluded > 0 {
            line.push_str(&format!(
                "; excluded {} file{}",
                self.excluded,
                if self.excluded == 1 { "" } else { "s" }
            ));
        }
        line
    }
}

/// The inputs of `args.paths` grouped by their config file (the nearest
/// `.selector-guard.yaml`, `--config`'s, or none under `--no-config`),
/// less the excluded ones, each group with its policy and settings loaded
/// as [`load_with`] loads them (`adjust` applied). Every config file is
/// checked, even one whose inputs are all excluded. `Err`: one line per
/// problem, for stderr.
pub fn runs(args: &Args, adjust: impl Fn(&mut Value)) -> Result<Runs, Vec<String>> {
    let choice = match (&args.config, args.no_config) {
        (_, true) => config::Choice::Nothing,
        (Some(path), false) => config::Choice::File(path.clone()),
        (None, false) => config::Choice::Discover,
    };
    let mut lookup = config::Lookup::new(choice);
    let mut errors: Vec<String> = Vec::new();
    let mut groups: Vec<(Option<PathBuf>, Vec<inputs::Listed>)> = Vec::new();
    for input in inputs::list(&args.paths) {
        let found = match lookup.of(&input) {
            Ok(found) => found,
            Err(e) => {
                if !errors.contains(&e) {
                    errors.push(e);
                }
                continue;
            }
        };
        match groups.iter_mut().find(|(path, _)| *path == found) {
            Some((_, group)) => group.push(input),
            None => groups.push((found, vec![input])),
        }
    }
    let mut configs = Vec::new();
    for (path, listed) in groups {
        match path.as_deref().map(Config::read).transpose() {
            Ok(config) => configs.push((config, listed)),
            Err(problems) => errors.extend(problems),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut planned = Runs {
        runs: Vec::new(),
        excluded: 0,
    };
    let mut kept = Vec::new();
    for (config, listed) in configs {
        let (out, inside): (Vec<_>, Vec<_>) = listed.into_iter().partition(
            |input| matches!((&config, input.path()), (Some(c), Some(path)) if c.excludes(path)),
        );
        planned.excluded += out.len();
        match load_with(args, config.as_ref(), &adjust) {
            Ok(loaded) => kept.push((config, loaded, inside)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    for (config, loaded, inside) in kept {
        if inside.is_empty() {
            continue;
        }
        planned.runs.push(Run {
            fail_on: args
                .fail_on
                .or_else(|| config.as_ref().and_then(|c| c.fail_on))
                .unwrap_or_default(),
            config: config.map(|c| c.name),
            loaded,
            sources: inside.iter().map(inputs::read_listed).collect(),
        });
    }
    Ok(planned)
}

/// Adds `more` to `total`: the counts of runs, summed.
pub fn add(total: &mut Summary, more: &Summary) {
    let Summary {
        files,
        objects,
        skipped,
        errors,
        warnings,
        suppressed,
        unusable,
    } = *more;
    total.files += files;
    total.objects += objects;
    total.skipped += skipped;
    total.errors += errors;
    total.warnings += warnings;
    total.suppressed += suppressed;
    total.unusable += unusable;
}

/// The objects of a `--cluster-state` file (a `List`, or any stream of
/// objects). `Err` is one line for stderr.
fn read_cluster_state(path: &std::path::Path) -> Result<Vec<Value>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--cluster-state {name}: cannot read it: {e}"))?;
    let contents =
        inputs::objects(&name, &text).map_err(|e| format!("--cluster-state {name}: {e:#}"))?;
    Ok(contents.objects.into_iter().map(|o| o.value).collect())
}

#[cfg(feature = "wasm")]
fn engine(args: &Args) -> Result<Engine, String> {
    match &args.policy {
        None => Ok(Engine::Native),
        Some(path) => {
            let (_, policy) = crate::policy::load(path).map_err(|e| format!("{e:#}"))?;
            Ok(Engine::Wasm(Box::new(policy)))
        }
    }
}

#[cfg(not(feature = "wasm"))]
fn engine(args: &Args) -> Result<Engine, String> {
    match &args.policy {
        None => Ok(Engine::Native),
        Some(_) => Err(WITHOUT_WASM.to_string()),
    }
}

/// Why `--policy` is refused by a build without the `wasm` feature.
#[cfg(not(feature = "wasm"))]
pub const WITHOUT_WASM: &str = "--policy needs a selector-guard built with the `wasm` feature \
     (cargo install --locked --path cli --features wasm); without it, the policy built into \
     this binary runs";

/// One object and the policy's answer for it.
pub struct Evaluated {
    /// The object and where it is written.
    pub object: Object,
    /// The policy's answer, or why there is none.
    pub answer: Result<Judged, String>,
}

/// One file, read and evaluated.
pub struct Report {
    /// The file's name.
    pub name: String,
    /// Its text (objects are kept without their nodes, which are read
    /// again from it for the objects that have findings).
    pub text: String,
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
            .and_then(|text| inputs::lean_objects(name, text).map_err(|e| format!("{e:#}")));
        match contents {
            Ok(contents) => {
                reports.push((name.clone(), text.clone(), Ok(()), contents.skipped));
                objects.push(contents.objects);
            }
            Err(e) => {
                reports.push((name.clone(), text.clone(), Err(e), 0));
                objects.push(Vec::new());
            }
        }
    }
    for object in objects.iter_mut().flatten() {
        object.name = inputs::object_name_in(&object.value, &loaded.namespace);
    }
    let flat: Vec<&Object> = objects.iter().flatten().collect();
    let namespaces: Vec<&str> = flat
        .iter()
        .map(|o| inputs::namespace_of(&o.value, &loaded.namespace))
        .collect();
    // Each input that the cluster state holds is an UPDATE of it.
    let identity = |value: &Value, namespace: &str| -> (String, String, String, String) {
        let text = |pointer| value.pointer(pointer).and_then(Value::as_str).unwrap_or("");
        let group = text("/apiVersion")
            .split_once('/')
            .map_or("", |(group, _)| group);
        (
            group.to_string(),
            text("/kind").to_string(),
            namespace.to_string(),
            text("/metadata/name").to_string(),
        )
    };
    let live: Vec<(&str, &Value)> = loaded
        .cluster_state
        .iter()
        .map(|value| (inputs::namespace_of(value, "default"), value))
        .collect();
    let mut live_by_identity = std::collections::BTreeMap::new();
    for (at, (namespace, value)) in live.iter().enumerate() {
        live_by_identity.insert(identity(value, namespace), at);
    }
    let olds: Vec<Option<usize>> = flat
        .iter()
        .zip(&namespaces)
        .map(|(o, namespace)| {
            live_by_identity
                .get(&identity(&o.value, namespace))
                .copied()
        })
        .collect();
    // Each request is built when it is judged (natively, one at a time):
    // a folder is held once, as its objects' values.
    let request_of = |at: usize| -> Result<Value, String> {
        let (Some(o), Some(namespace), Some(old)) =
            (flat.get(at), namespaces.get(at), olds.get(at))
        else {
            return Err("no object".to_owned());
        };
        let old = old.and_then(|at| live.get(at)).map(|(_, value)| *value);
        let mut request = match old {
            None => create_request(&o.value),
            Some(old) => update_request(&o.value, old),
        }
        .map_err(|e| format!("{e:#}"))?;
        if let (false, Some(map)) = (namespace.is_empty(), request.as_object_mut()) {
            map.insert("namespace".into(), Value::from(*namespace));
        }
        Ok(request)
    };
    let custom = Settings::from_json(loaded.settings.to_string().as_bytes())
        .map(|s| s.workload_kinds)
        .unwrap_or_default();
    // The dump with the inputs laid over it: a live object an input
    // replaces is left out.
    let replaced: std::collections::BTreeSet<usize> = olds.iter().flatten().copied().collect();
    let kept_live: Vec<(&str, &Value)> = live
        .iter()
        .enumerate()
        .filter(|(at, _)| !replaced.contains(at))
        .map(|(_, pair)| *pair)
        .collect();
    let state = State::new(
        kept_live.iter().copied().chain(
            namespaces
                .iter()
                .copied()
                .zip(flat.iter().map(|o| &o.value)),
        ),
        &custom,
    );
    let duplicates: Vec<Option<PolicyFinding>> = duplicates(&state)
        .into_iter()
        .skip(kept_live.len())
        .collect();
    let folder = Folder { state: &state };
    let answers = loaded.judge_each(flat.len(), request_of, &folder);
    let mut per_object = answers
        .into_iter()
        .zip(duplicates)
        .map(|(answer, duplicate)| {
            answer.map(|mut judged| {
                if let (Some(finding), Some(found)) = (duplicate, judged.findings.as_mut()) {
                    found.push(finding);
                }
                judged
            })
        });
    reports
        .into_iter()
        .zip(objects)
        .map(|((name, text, status, skipped), objects)| Report {
            name,
            text: text.unwrap_or_default(),
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

/// The pseudo-rule of an object given twice among the inputs.
pub const DUPLICATE: &str = crate::findings::DUPLICATE_OBJECT;

/// For each item of `state`, a warning when an earlier input has the same
/// kind, namespace and name: both are judged, and the later one is what
/// `kubectl apply` leaves.
fn duplicates(state: &State) -> Vec<Option<PolicyFinding>> {
    let mut seen = std::collections::BTreeMap::new();
    state
        .items
        .iter()
        .enumerate()
        .map(|(at, item)| {
            let key = (item.kind, item.namespace, item.name);
            match seen.get(&key) {
                None => {
                    seen.insert(key, at);
                    None
                }
                Some(_) => Some(PolicyFinding {
                    rule: DUPLICATE,
                    action: Action::Warn,
                    paths: vec!["metadata.name".to_string()],
                    message: format!(
                        "{} {} is given twice among the inputs; kubectl applies both, and the later one wins",
                        item.kind, item.name
                    ),
                    fix: None,
                    shown: Shown::Everywhere,
                }),
            }
        })
        .collect()
}

/// The findings for one answered object, in the order of their places.
pub fn findings(object: &Object, judged: &Judged) -> Vec<Finding> {
    let mut out = match &judged.findings {
        Some(found) => from_findings(object, found, &judged.answer),
        None => from_answer(object, &judged.answer),
    };
    // Input order: by place, then as the policy reported them.
    out.sort_by_key(|f| (f.line, f.column));
    out
}

/// The findings the policy returned as data, each at its field.
fn from_findings(
    object: &Object,
    found: &[PolicyFinding],
    answer: &ValidationResponse,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for finding in found {
        if finding.shown == Shown::Summary {
            continue;
        }
        let path = finding.path();
        let (line, column) = object.place(position(object, path));
        let (severity, message) = match finding.action {
            Action::Reject => (
                Severity::Error,
                format!("{}: {} [{}]", object.name, finding.message, finding.rule),
            ),
            Action::Warn => (
                Severity::Warning,
                format!("{}: {} [{}]", object.name, finding.message, finding.rule),
            ),
            // kubectl would send what the policy rewrites: an error at the
            // value, in the manifest's own spelling.
            Action::Mutate => (
                Severity::Error,
                format!(
                    "{} [{}]",
                    conversion_message(object, path, finding.fix.as_deref()),
                    finding.rule
                ),
            ),
        };
        out.push(Finding {
            file: object.file.clone(),
            line,
            column,
            severity,
            rule: finding.rule.to_string(),
            object: object.name.clone(),
            path: path.to_string(),
            message,
            suppressed: None,
        });
    }
    // An answer no finding explains (a request that could not be decoded).
    if out.is_empty() && !answer.accepted {
        out.extend(from_answer(object, answer));
    }
    out
}

/// Where the field at `path` (the API server's notation) is written: a
/// field at its key, a map entry at its value, a missing field at the
/// nearest field written; the object's start for the object.
pub(crate) fn position(object: &Object, path: &str) -> Position {
    let Some(node) = &object.node else {
        return object.start;
    };
    let keys = segments(path);
    let at_value = path.ends_with(']');
    let mut current = node;
    let mut place = object.start;
    for (i, key) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        match current {
            Node::Mapping { .. } => match current.entry(key) {
                Some(entry) => {
                    place = if last && at_value {
                        entry.value.start()
                    } else {
                        entry.key_node.start()
                    };
                    current = &entry.value;
                }
                None => return place,
            },
            Node::Sequence { items, .. } => {
                match key.parse::<usize>().ok().and_then(|i| items.get(i)) {
                    Some(item) => {
                        place = item.start();
                        current = item;
                    }
                    None => return place,
                }
            }
            _ => return place,
        }
    }
    place
}

/// `Kind ns/name: spec.selector[active]: kubectl reads `yes` as true, not
/// as a string; the policy would make it "true": quote it, "yes"`.
fn conversion_message(object: &Object, path: &str, fix: Option<&str>) -> String {
    let keys = segments(path);
    let pointer: String = keys
        .iter()
        .map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1")))
        .collect();
    let target = object.node.as_ref().and_then(|n| n.pointer(&pointer).ok());
    let old = object.value.pointer(&pointer);
    let new = fix.unwrap_or("a string");
    match (target, old) {
        (
            Some(Node::Scalar {
                text,
                style: Style::Plain,
                ..
            }),
            Some(old),
        ) => format!(
            "{}: {path}: kubectl reads `{text}` as {old}, not as a string; the policy would make it {new}: quote it, \"{}\" (`selector-guard fix` does)",
            object.name,
            text.replace('\\', "\\\\").replace('"', "\\\"")
        ),
        (_, Some(old)) => format!(
            "{}: {path}: the policy would change {old} to {new}",
            object.name
        ),
        (_, None) => format!("{}: {path}: the policy would make it {new}", object.name),
    }
}

/// The rule IDs, for reading a module's answer.
fn rule_ids() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|rule| rule.id)
}

/// The rule a text of a module's answer ends with (`... [specFields]`).
fn trailing_rule(text: &str) -> &'static str {
    rule_ids()
        .find(|id| {
            text.strip_suffix(']')
                .is_some_and(|t| t.ends_with(&format!(" [{id}")))
        })
        .unwrap_or("")
}

/// A rejection message split into its findings: each ends with ` [ruleId]`
/// and the next begins after `. `. The object's name starts each part.
fn split_message(message: &str) -> Vec<String> {
    let (prefix, rest) = match message.split_once(": ") {
        Some((who, rest)) => (format!("{who}: "), rest),
        None => (String::new(), message),
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut remaining = rest;
    while !remaining.is_empty() {
        let cut = rule_ids()
            .filter_map(|id| {
                let marker = format!(" [{id}]. ");
                remaining.find(&marker).map(|at| at + marker.len() - 2)
            })
            .min();
        match cut {
            Some(at) => {
                current.push_str(remaining.get(..at).unwrap_or(remaining));
                parts.push(format!("{prefix}{}", std::mem::take(&mut current)));
                remaining = remaining.get(at + 2..).unwrap_or("");
            }
            None => {
                current.push_str(remaining);
                remaining = "";
            }
        }
    }
    if !current.is_empty() || parts.is_empty() {
        parts.push(format!("{prefix}{current}"));
    }
    parts
}

/// The findings of a module's answer: its rejection, one error per rule,
/// and its warnings at the object's start; each value the patch changes,
/// an error at the value.
fn from_answer(object: &Object, answer: &ValidationResponse) -> Vec<Finding> {
    let at_start = |severity, message: String, path: String| {
        let (line, column) = object.place(object.start);
        Finding {
            file: object.file.clone(),
            line,
            column,
            severity,
            rule: trailing_rule(&message).to_string(),
            object: object.name.clone(),
            path,
            message,
            suppressed: None,
        }
    };
    let mut out = Vec::new();
    if !answer.accepted {
        let message = answer
            .message
            .clone()
            .unwrap_or_else(|| format!("{}: rejected by the policy", object.name));
        for part in split_message(&message) {
            out.push(at_start(Severity::Error, part, String::new()));
        }
    }
    if let Some(mutated) = &answer.mutated_object {
        for operation in patch(&object.value, mutated) {
            let target = object
                .node
                .as_ref()
                .map(|n| n.pointer(&operation.path).unwrap_or_else(|near| near));
            let (line, column) = object.place(target.map_or(object.start, Node::start));
            let field = dotted(&operation.path);
            let rule = if field.starts_with("spec.selector")
                && matches!(
                    object.value.get("kind").and_then(Value::as_str),
                    Some("Service" | "ReplicationController")
                ) {
                "serviceSelectorValues"
            } else {
                "labelMapValues"
            };
            out.push(Finding {
                file: object.file.clone(),
                line,
                column,
                severity: Severity::Error,
                rule: rule.to_string(),
                object: object.name.clone(),
                path: field,
                message: format!("{} [{rule}]", operation.message(object, target)),
                suppressed: None,
            });
        }
    }
    for warning in answer.warnings.iter().flatten() {
        out.push(at_start(Severity::Warning, warning.clone(), String::new()));
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

/// One object's findings, or one input that could not be judged, in
/// input order: what every output format is built from.
#[derive(Clone, Debug)]
pub struct Item {
    /// The file findings name.
    pub file: String,
    /// `Kind namespace/name`; `None` when the file itself is unusable.
    pub object: Option<String>,
    /// Where the object starts (1-based), or 1:1 for a file.
    pub line: usize,
    /// Its column (1-based, in characters).
    pub column: usize,
    /// The findings shown, in input order.
    pub findings: Vec<Finding>,
    /// The findings a `selector-guard.dev/ignore` annotation suppressed,
    /// each with its reason in [`Finding::suppressed`].
    pub suppressed: Vec<Finding>,
    /// Why the file could not be read, or the policy failed on the object.
    pub failure: Option<String>,
}

/// Everything a run found.
#[derive(Clone, Debug, Default)]
pub struct Collected {
    /// Per object (and per unusable file), in input order.
    pub items: Vec<Item>,
    /// The counts.
    pub summary: Summary,
}

/// The findings of `reports`, in input order, with suppressions applied.
pub fn collect(reports: &[Report]) -> Collected {
    let mut collected = Collected::default();
    let summary = &mut collected.summary;
    for report in reports {
        summary.files += 1;
        summary.skipped += report.skipped;
        let evaluated = match &report.evaluated {
            Ok(evaluated) => evaluated,
            Err(e) => {
                summary.unusable += 1;
                collected.items.push(Item {
                    file: report.name.clone(),
                    object: None,
                    line: 1,
                    column: 1,
                    findings: Vec::new(),
                    suppressed: Vec::new(),
                    failure: Some(e.clone()),
                });
                continue;
            }
        };
        for Evaluated { object, answer } in evaluated {
            summary.objects += 1;
            let (line, column) = object.place(object.start);
            let mut item = Item {
                file: object.file.clone(),
                object: Some(object.name.clone()),
                line,
                column,
                findings: Vec::new(),
                suppressed: Vec::new(),
                failure: None,
            };
            match answer {
                Ok(judged) => {
                    // The node, read again, places the findings.
                    let placed = if needs_node(object, judged) {
                        object.with_node(&report.text)
                    } else {
                        std::borrow::Cow::Borrowed(object)
                    };
                    let (shown, suppressed) =
                        crate::suppress::apply(&placed, findings(&placed, judged));
                    for finding in &shown {
                        match finding.severity {
                            Severity::Error => summary.errors += 1,
                            Severity::Warning => summary.warnings += 1,
                        }
                    }
                    summary.suppressed += suppressed.len();
                    item.findings = shown;
                    item.suppressed = suppressed;
                }
                Err(e) => {
                    summary.unusable += 1;
                    item.failure = Some(format!("the policy failed on {}: {e}", object.name));
                }
            }
            collected.items.push(item);
        }
    }
    collected
}

/// Whether placing the findings of `object` needs its node: it has
/// findings, or an annotation that may be one.
fn needs_node(object: &Object, judged: &Judged) -> bool {
    judged
        .findings
        .as_ref()
        .is_none_or(|found| !found.is_empty())
        || !judged.answer.accepted
        || judged.answer.mutated_object.is_some()
        || judged
            .answer
            .warnings
            .as_ref()
            .is_some_and(|w| !w.is_empty())
        || object
            .value
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .is_some_and(|annotations| {
                annotations
                    .keys()
                    .any(|k| k.starts_with("selector-guard.dev/"))
            })
}

/// Writes `collected` in `format`: findings (and, with `show_suppressed`,
/// the suppressed ones) to `out`, problems with the input to `err`, one
/// line each. SARIF and JUnit are one document on `out`, which also holds
/// the problems.
pub fn emit(
    collected: &Collected,
    sources: &[(String, Result<String, String>)],
    format: Format,
    show_suppressed: bool,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    for item in &collected.items {
        if let Some(failure) = &item.failure {
            match item.object {
                None => writeln!(err, "{}: {failure}", item.file)?,
                Some(_) => writeln!(
                    err,
                    "{}:{}:{}: {failure}",
                    item.file, item.line, item.column
                )?,
            }
        }
    }
    match format {
        Format::Text | Format::Json | Format::Github => {
            for item in &collected.items {
                let mut shown: Vec<&Finding> = item.findings.iter().collect();
                if show_suppressed {
                    shown.extend(&item.suppressed);
                    shown.sort_by_key(|f| (f.line, f.column));
                }
                for finding in shown {
                    writeln!(out, "{}", finding.render(format))?;
                }
            }
        }
        // `sources`: what `fix` would make of each file (SARIF's fixes).
        Format::Sarif => crate::sarif::write(collected, sources, show_suppressed, out)?,
        Format::Junit => crate::junit::write(collected, show_suppressed, out)?,
    }
    Ok(())
}

/// The lowest severity that fails a run (`--fail-on`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// Exit 1 on an error (the default).
    #[default]
    Error,
    /// Exit 1 on an error or a warning.
    Warning,
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
    /// Findings suppressed by an annotation (not counted above).
    pub suppressed: usize,
    /// Unusable files and failed evaluations.
    pub unusable: usize,
}

impl Summary {
    /// 2 on unusable input, else 1 on an error (or a warning, under
    /// `--fail-on warning`), else 0. Suppressed findings do not count.
    pub fn exit_status(&self, fail_on: FailOn) -> i32 {
        if self.unusable > 0 {
            exit::UNUSABLE
        } else if self.errors > 0 || (fail_on == FailOn::Warning && self.warnings > 0) {
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
        if self.suppressed > 0 {
            line.push_str(&format!("; {} suppressed", self.suppressed));
        }
        if self.unusable > 0 {
            line.push_str(&format!("; {} unusable", plural(self.unusable, "input")));
        }
        line
    }
}

/// Runs `check`; returns the exit status: the worst of its runs' (each
/// under its own `failOn`).
pub fn main(args: &Args) -> i32 {
    let planned = match runs(args, |_| {}) {
        Ok(planned) => planned,
        Err(errors) => {
            for e in errors {
                eprintln!("selector-guard: {e}");
            }
            return exit::UNUSABLE;
        }
    };
    let mut all = Collected::default();
    let mut all_sources = Vec::new();
    let mut status = exit::OK;
    for run in &planned.runs {
        let sources = read_sources(&run.sources);
        let reports = evaluate(&run.loaded, &sources);
        let collected = collect(&reports);
        status = status.max(collected.summary.exit_status(run.fail_on));
        add(&mut all.summary, &collected.summary);
        all.items.extend(collected.items);
        all_sources.extend(sources);
    }
    let _ = emit(
        &all,
        &all_sources,
        args.format,
        args.show_suppressed,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    eprintln!("{}", planned.line(&all.summary));
    status
}
