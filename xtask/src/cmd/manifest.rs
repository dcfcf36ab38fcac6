//! `cargo xtask manifest [-m policy-metadata.yml] [-q questions-ui.yml]`: prints
//! a ClusterAdmissionPolicy for the published policy, shaped like
//! `kwctl scaffold manifest -t ClusterAdmissionPolicy`: `module` is
//! `registry://<ociUrl>:v<version>`, `rules`, `mutating` and
//! `contextAwareResources` (sorted) come from the metadata, and `settings`
//! are the defaults of the Rancher UI questions (which a test keeps equal to
//! the policy's own defaults) with the context-aware rules turned on at
//! `warn` ([`context_aware_settings`]): the policy defaults them to `off`
//! because only a ClusterAdmissionPolicy granted those resources can run
//! them, and this command writes exactly such a policy.
//!
//! Two deliberate differences from kwctl: `backgroundAudit: true` is written
//! out (kwctl omits it when true), and so is `mode: protect`, so the README
//! can point at the line to change for `monitor`.
//!
//! It also writes what admission needs besides the policy
//! ([`match_conditions`], [`FAILURE_POLICY`], [`TIMEOUT_EVAL_SECONDS`],
//! [`TIMEOUT_SECONDS`]), each with a comment that says why. Its output is
//! `examples/cluster-admission-policy.yaml` (a test keeps the two equal).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::metadata::{ContextAwareResource, Metadata, Operation, Rule, keys};

/// The context-aware rules' settings (the rules of the registry that read
/// the cluster), which `cargo xtask manifest` turns on at `warn` (their
/// questions default to `off`).
pub fn context_aware_settings() -> impl Iterator<Item = &'static str> {
    selector_guard::rules::RULES
        .into_iter()
        // serviceSelectorUnique reads the cluster but is an organisation's
        // choice, off in CI too: it stays off.
        .filter(|rule| {
            !rule.cluster_reads.is_empty()
                && rule.default.ci != selector_guard::rules::RuleMode::Off
        })
        .map(|rule| rule.id)
}

#[derive(clap::Args)]
pub struct Args {
    /// The metadata file.
    #[arg(
        short = 'm',
        long = "metadata-path",
        default_value = "policy-metadata.yml"
    )]
    pub metadata: PathBuf,
    /// The Rancher UI questions, whose defaults become `settings`.
    #[arg(
        short = 'q',
        long = "questions-path",
        default_value = "questions-ui.yml"
    )]
    pub questions: PathBuf,
}

pub fn main(args: Args) -> anyhow::Result<()> {
    let metadata = Metadata::from_yaml_file(&args.metadata)?;
    let settings = manifest_settings(default_settings_file(&args.questions)?);
    print!("{}", render(&metadata, settings)?);
    Ok(())
}

/// The settings `cargo xtask manifest` writes: `defaults` (the questions'
/// defaults) with each of [`context_aware_settings`] set to `warn`.
pub fn manifest_settings(mut defaults: Mapping) -> Mapping {
    for key in context_aware_settings() {
        defaults.insert(Value::from(key), Value::from("warn"));
    }
    defaults
}

/// `spec.failurePolicy`: what the API server does when it gets no answer
/// from policy-server (down, unreachable, past [`TIMEOUT_SECONDS`]) or
/// cannot evaluate a match condition. Not what happens when the policy traps
/// or runs past [`TIMEOUT_EVAL_SECONDS`]: policy-server answers those itself,
/// with `allowed: false` and code 500 (policy-evaluator,
/// `src/runtimes/wapc/runtime.rs`).
pub const FAILURE_POLICY: &str = "Ignore";

/// `spec.timeoutEvalSeconds` (the CRD allows 2 to 30; policy-server's default
/// is 2). The first list of a kind in a namespace waits for policy-server's
/// initial LIST: measured with policy-server 1.36, 10,000 small pods took
/// 0.53 s on an idle machine and 2.37 s on a busy 2-core one (past the 2 s
/// default: the request was rejected); warm lists took 103 ms (10,000 pods)
/// and 9.7 ms (1,000). Real pods are several times larger.
pub const TIMEOUT_EVAL_SECONDS: u32 = 10;

/// `spec.timeoutSeconds`, the API server's wait (1 to 30; the Kubewarden
/// controller refuses a [`TIMEOUT_EVAL_SECONDS`] above it): 5 s more than
/// the evaluation may take, for the network and the time a request waits in
/// policy-server before its evaluation starts, so that policy-server's own
/// answer arrives before the API server gives up.
pub const TIMEOUT_SECONDS: u32 = 15;

// What the CRD and the Kubewarden controller accept.
const _: () = assert!(
    2 <= TIMEOUT_EVAL_SECONDS
        && TIMEOUT_EVAL_SECONDS <= TIMEOUT_SECONDS
        && 1 <= TIMEOUT_SECONDS
        && TIMEOUT_SECONDS <= 30
);

/// One of `spec.matchConditions` (Kubernetes' `MatchCondition`), with the
/// comment written above it.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct MatchCondition {
    pub name: String,
    pub expression: String,
    #[serde(skip)]
    pub why: &'static str,
}

/// The apps/v1, core and batch/v1 workloads whose UPDATEs are sent only
/// when their spec (replica count aside), labels, annotations or owners
/// changed. Kinds no condition names (PodDisruptionBudgets,
/// HorizontalPodAutoscalers, custom workloads) are always sent.
pub const WORKLOADS: [(&str, &[&str]); 3] = [
    (
        "apps",
        &["daemonsets", "deployments", "replicasets", "statefulsets"],
    ),
    ("", &["replicationcontrollers"]),
    ("batch", &["jobs", "cronjobs"]),
];

/// `spec.matchConditions`: a request reaches policy-server only when every
/// one is true. Each is true for every request but an UPDATE of the
/// resources it names, and for those only when something a rule reads of
/// the object changed (what each rule reads is in its `RULE.reads`). An
/// UPDATE that changes none of it would get findings about the object as
/// stored, which the request leaves as it was: it is admitted without a
/// call. A field that is absent on one side and present on the other is a
/// change; every step of a path is guarded with `has()`, so no condition
/// fails to evaluate on an object the API server sends. The case table is
/// run through them (`xtask/tests/match_conditions.rs`).
pub fn match_conditions() -> Vec<MatchCondition> {
    let update_of = |resources: String, changes: Vec<String>| {
        let mut lines = vec![
            "request.operation != 'UPDATE'".to_string(),
            format!("!({resources})"),
        ];
        lines.extend(changes);
        lines.join("\n|| ")
    };
    let workloads = WORKLOADS
        .iter()
        .map(|(group, resources)| resource_is(group, resources))
        .collect::<Vec<_>>()
        .join("\n  || ");
    vec![
        MatchCondition {
            name: "pod-update-changes-what-rules-read".into(),
            expression: update_of(
                resource_is("", &["pods"]),
                [
                    "metadata.labels",
                    "metadata.annotations",
                    "metadata.ownerReferences",
                    "spec.nodeSelector",
                ]
                .iter()
                .map(|path| changed(path))
                .collect(),
            ),
            why: "A Pod UPDATE (Pods are registered for UPDATE only): podLabelChange \
                  reads the labels (and the owner, to find the controller), \
                  labelMapValues the labels, annotations and nodeSelector. A new \
                  image, a toleration, a scheduling gate or a finalizer is not sent.",
        },
        MatchCondition {
            name: "service-update-changes-what-rules-read".into(),
            expression: update_of(
                resource_is("", &["services"]),
                [
                    "spec.selector",
                    "spec.type",
                    "spec.clusterIP",
                    "metadata.labels",
                    "metadata.annotations",
                ]
                .iter()
                .map(|path| changed(path))
                .collect(),
            ),
            why: "A Service UPDATE: serviceSelectorValues, serviceSelectorChange and \
                  serviceSelectorUnique read the selector (and its type, or whether \
                  it is headless), labelMapValues the labels and annotations. New \
                  ports or a finalizer are not sent.",
        },
        MatchCondition {
            name: "workload-update-changes-what-rules-read".into(),
            expression: update_of(
                workloads,
                vec![
                    changed("metadata.labels"),
                    changed("metadata.annotations"),
                    changed("metadata.ownerReferences"),
                    "!has(object.spec) || !has(oldObject.spec)".into(),
                    "object.spec.exists(k, !(k in oldObject.spec)\n    \
                     || k != 'replicas' && object.spec[k] != oldObject.spec[k])"
                        .into(),
                    "oldObject.spec.exists(k, !(k in object.spec))".into(),
                ],
            ),
            why: "A workload UPDATE: the rules read its spec (specFields which \
                  fields it holds, templateLabels, immutableSelector and \
                  controllerOverlap the selector and template, labelMapValues its \
                  maps), its labels and annotations (the last-applied one too) and \
                  its owner (controllerOverlap skips what a controller owns). No \
                  rule reads the value of spec.replicas: the Deployment \
                  controller's scaling of a ReplicaSet is not sent.",
        },
    ]
}

/// `request.resource` is one of `resources` of `group`.
fn resource_is(group: &str, resources: &[&str]) -> String {
    match resources {
        [one] => {
            format!("request.resource.group == '{group}' && request.resource.resource == '{one}'")
        }
        many => format!(
            "request.resource.group == '{group}' && request.resource.resource in [{}]",
            many.iter()
                .map(|r| format!("'{r}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The field at `path` (dotted, under the object) differs between `object`
/// and `oldObject`, absence included. Each step is guarded with `has()` but
/// `metadata`, which every object has.
fn changed(path: &str) -> String {
    let present = |root: &str| {
        let mut at = root.to_string();
        let mut steps = Vec::new();
        for (i, segment) in path.split('.').enumerate() {
            at = format!("{at}.{segment}");
            if i > 0 || segment != "metadata" {
                steps.push(format!("has({at})"));
            }
        }
        steps
    };
    let (new, old) = (present("object"), present("oldObject"));
    let side = |steps: &[String]| match steps {
        [one] => one.clone(),
        many => format!("({})", many.join(" && ")),
    };
    format!(
        "{} != {}\n|| {} && object.{path} != oldObject.{path}",
        side(&new),
        side(&old),
        new.join(" && ")
    )
}

/// The comments written above lines of the manifest: each key is a whole
/// line of serde's output, each value the comment's text.
fn comments() -> Vec<(String, String)> {
    let mut comments = vec![
        (
            "  matchConditions:".to_string(),
            "Only requests a rule can act on reach policy-server: every CREATE, \
             and an UPDATE of a Pod, a Service or a workload only when something a \
             rule reads of it changed. An UPDATE that changes none of it (a \
             finalizer, an image of a Pod, the ports of a Service, a replica count) \
             is admitted without a call: a finding would be about the object as \
             stored, which it leaves as it was, and policy-server is not in the \
             path of the cluster's busiest writes. Needs Kubernetes 1.28 or later \
             (match conditions) and Kubewarden 1.29 or later (timeoutEvalSeconds)."
                .to_string(),
        ),
        (
            "  rules:".to_string(),
            "The kinds and operations the policy judges (its metadata's rules), \
             and each custom workload of settings.workloadKinds on CREATE and \
             UPDATE, which templateLabels checks. A custom workload's resource \
             is the plural kubectl guesses for its kind: a CRD that names it \
             otherwise needs its rule edited."
                .to_string(),
        ),
        (
            format!("  failurePolicy: {FAILURE_POLICY}"),
            "When the API server gets no answer (policy-server down or \
             unreachable, or timeoutSeconds passed) or cannot evaluate a match \
             condition, it admits the request. It does not apply to an answer: \
             policy-server rejects a policy that traps or runs past \
             timeoutEvalSeconds itself (allowed: false, code 500). See \
             docs/reliability.md."
                .to_string(),
        ),
        (
            format!("  timeoutEvalSeconds: {TIMEOUT_EVAL_SECONDS}"),
            "policy-server's deadline for one evaluation (its default is 2 s), \
             past which it rejects the request. The first list of a kind in a \
             namespace waits for policy-server's initial LIST: 10,000 small pods \
             took 0.53 s on an idle machine and 2.37 s on a busy 2-core one, past \
             the default; warm lists took 103 ms for 10,000 pods and 9.7 ms for \
             1,000. Real pods are several times larger than those, so 10 s: about \
             four times the busy cold case."
                .to_string(),
        ),
        (
            format!("  timeoutSeconds: {TIMEOUT_SECONDS}"),
            "The API server's wait for policy-server, 1 to 30 s; the Kubewarden \
             controller refuses a timeoutEvalSeconds above it. 5 s more than an \
             evaluation may take, for the network and the time a request waits in \
             policy-server before its evaluation starts, so that policy-server's \
             own answer, with its reason, arrives first."
                .to_string(),
        ),
    ];
    for condition in match_conditions() {
        comments.push((
            format!("  - name: {}", condition.name),
            condition.why.to_string(),
        ));
    }
    comments
}

/// Wraps `text` into `# ` lines of at most 78 columns at `indent`.
fn comment_lines(text: &str, indent: usize) -> String {
    let prefix = format!("{}#", " ".repeat(indent));
    let mut out = String::new();
    let mut line = prefix.clone();
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = prefix.clone();
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// `text` with each of [`comments`] written above its line; a line that is
/// not there exactly once is an error, so a comment is never lost.
fn with_comments(text: &str) -> anyhow::Result<String> {
    let comments = comments();
    for (line, _) in &comments {
        let found = text.lines().filter(|l| l == line).count();
        if found != 1 {
            bail!("the manifest has {found} lines {line:?}, not one, to comment on");
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    for line in text.lines() {
        if let Some((_, comment)) = comments.iter().find(|(at, _)| at == line) {
            let indent = line.len() - line.trim_start().len();
            out.push_str(&comment_lines(comment, indent));
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// `rules` (the metadata's) with one more for each group and version of
/// the custom workloads of `settings.workloadKinds`, on CREATE and UPDATE,
/// so that `templateLabels` sees them at admission. Their resource is the
/// plural kubectl guesses for the kind (apimachinery's
/// `UnsafeGuessKindToResource`), as CRDs name theirs.
pub fn with_custom_workloads(
    mut rules: Vec<Rule>,
    settings: &Mapping,
) -> anyhow::Result<Vec<Rule>> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    struct Custom {
        api_version: String,
        kind: String,
    }
    let Some(list) = settings.get("workloadKinds") else {
        return Ok(rules);
    };
    let custom: Vec<Custom> =
        serde_yaml_ng::from_value(list.clone()).context("settings.workloadKinds")?;
    for item in custom {
        let (group, version) = item
            .api_version
            .split_once('/')
            .unwrap_or(("", &item.api_version));
        let resource = crate::manifests::plural(&item.kind);
        let operations = vec![Operation::Create, Operation::Update];
        let same = rules.iter_mut().find(|rule| {
            rule.api_groups == [group]
                && rule.api_versions == [version]
                && rule.operations == operations
        });
        match same {
            Some(rule) if rule.resources.contains(&resource) => {}
            Some(rule) => rule.resources.push(resource),
            None => rules.push(Rule {
                api_groups: vec![group.to_string()],
                api_versions: vec![version.to_string()],
                resources: vec![resource],
                operations,
            }),
        }
    }
    Ok(rules)
}

/// The ClusterAdmissionPolicy YAML for `metadata` with `settings`.
pub fn render(metadata: &Metadata, settings: Mapping) -> anyhow::Result<String> {
    let title = metadata
        .annotation(keys::TITLE)
        .context("missing annotation io.kubewarden.policy.title")?;
    let oci_url = metadata
        .annotation(keys::OCI_URL)
        .context("missing annotation io.kubewarden.policy.ociUrl")?;
    let annotations: Mapping = [keys::SEVERITY, keys::CATEGORY]
        .into_iter()
        .filter_map(|key| Some((Value::from(key), Value::from(metadata.annotation(key)?))))
        .collect();
    let rules = with_custom_workloads(metadata.rules.clone(), &settings)?;
    let policy = ClusterAdmissionPolicy {
        api_version: "policies.kubewarden.io/v1",
        kind: "ClusterAdmissionPolicy",
        metadata: ObjectMeta {
            name: title.to_string(),
            annotations: (!annotations.is_empty()).then_some(annotations),
        },
        spec: Spec {
            module: format!("registry://{oci_url}:v{}", metadata.version()?),
            settings,
            rules,
            context_aware_resources: metadata.context_aware_resources.iter().cloned().collect(),
            match_conditions: match_conditions(),
            mutating: metadata.mutating,
            background_audit: metadata.background_audit,
            mode: "protect",
            failure_policy: FAILURE_POLICY,
            timeout_eval_seconds: TIMEOUT_EVAL_SECONDS,
            timeout_seconds: TIMEOUT_SECONDS,
        },
    };
    let text = with_comments(&quote_yaml11_words(&serde_yaml_ng::to_string(&policy)?))?;
    // serde's YAML is 1.2: it leaves `off` or `yes` unquoted, and kubectl
    // (YAML 1.1) would read them as booleans; `quote_yaml11_words` quotes
    // the values it can see. Refuse anything left rather than mislead.
    let as_kubectl_reads = crate::yaml11::from_str(&text)?;
    if as_kubectl_reads != [serde_json::to_value(&policy)?] {
        bail!("the manifest would not read back the same with kubectl (YAML 1.1):\n{text}");
    }
    Ok(text)
}

/// Quotes each plain scalar *value* that YAML 1.2 reads as a string and
/// YAML 1.1 (kubectl) as something else (`off`, `yes`, `0x1F`, ...):
/// `mode: off` becomes `mode: "off"`. serde's YAML quotes only what YAML 1.2
/// would misread, so such a scalar is always a string meant as a string.
fn quote_yaml11_words(text: &str) -> String {
    let ambiguous = |scalar: &str| {
        let read = |schema| {
            crate::yaml11::parse(scalar, schema)
                .ok()
                .and_then(|docs| docs.into_iter().next())
                .map(|doc| doc.value)
        };
        matches!(
            read(crate::yaml11::Schema::Core),
            Some(serde_json::Value::String(_))
        ) && !matches!(
            read(crate::yaml11::Schema::Yaml11),
            Some(serde_json::Value::String(_))
        )
    };
    let mut out = String::with_capacity(text.len());
    // Lines of a block scalar (`key: |` and what is indented under it) are text.
    let mut block_indent: Option<usize> = None;
    for line in text.lines() {
        let indent = line.len() - line.trim_start().len();
        if block_indent.is_some_and(|block| indent > block || line.trim().is_empty()) {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        block_indent = None;
        let body = &line[indent..];
        let body = body.strip_prefix("- ").map_or(body, |rest| rest);
        let split = match body.split_once(": ") {
            Some((_, value)) => line.len() - value.len(),
            None if body.len() < line.len() - indent => line.len() - body.len(),
            None => line.len(),
        };
        let (head, value) = line.split_at(split);
        if value.starts_with('|') || value.starts_with('>') {
            block_indent = Some(indent);
        }
        if !value.is_empty() && ambiguous(value) {
            out.push_str(&format!("{head}{}", serde_json::Value::from(value)));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterAdmissionPolicy {
    api_version: &'static str,
    kind: &'static str,
    metadata: ObjectMeta,
    spec: Spec,
}

#[derive(Serialize)]
struct ObjectMeta {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<Mapping>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Spec {
    module: String,
    settings: Mapping,
    rules: Vec<Rule>,
    match_conditions: Vec<MatchCondition>,
    /// Sorted (the metadata's set order); omitted when empty, as kwctl does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    context_aware_resources: Vec<ContextAwareResource>,
    mutating: bool,
    background_audit: bool,
    mode: &'static str,
    failure_policy: &'static str,
    timeout_eval_seconds: u32,
    timeout_seconds: u32,
}

/// One Rancher UI question; only what settings need is read.
#[derive(Deserialize, Debug)]
pub struct Question {
    pub variable: String,
    #[serde(default)]
    pub default: Value,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub options: Vec<Value>,
    #[serde(default)]
    pub subquestions: Vec<Question>,
}

#[derive(Deserialize, Debug)]
pub struct Questions {
    pub questions: Vec<Question>,
}

/// Reads a questions file.
pub fn read_questions(path: &Path) -> anyhow::Result<Questions> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_yaml_ng::from_str(&text)
        .with_context(|| format!("invalid questions file {}", path.display()))
}

/// The settings the questions produce when nobody changes a default.
pub fn default_settings_file(path: &Path) -> anyhow::Result<Mapping> {
    default_settings(&read_questions(path)?)
}

/// Each question's `variable` (dotted paths nest) set to its `default`;
/// a question with subquestions contributes theirs instead.
pub fn default_settings(questions: &Questions) -> anyhow::Result<Mapping> {
    let mut settings = Mapping::new();
    let mut stack: Vec<&Question> = questions.questions.iter().rev().collect();
    while let Some(question) = stack.pop() {
        if !question.subquestions.is_empty() {
            stack.extend(question.subquestions.iter().rev());
            continue;
        }
        let mut map = &mut settings;
        let mut path = question.variable.split('.').peekable();
        while let Some(segment) = path.next() {
            if path.peek().is_none() {
                if map
                    .insert(segment.into(), question.default.clone())
                    .is_some()
                {
                    bail!("question variable `{}` appears twice", question.variable);
                }
                break;
            }
            let entry = map
                .entry(segment.into())
                .or_insert_with(|| Value::Mapping(Mapping::new()));
            map = entry.as_mapping_mut().with_context(|| {
                format!(
                    "question variable `{}` nests under a value",
                    question.variable
                )
            })?;
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"
rules:
- apiGroups: [""]
  apiVersions: [v1]
  resources: [pods]
  operations: [UPDATE]
mutating: true
contextAwareResources:
- {apiVersion: v1, kind: Service}
- {apiVersion: apps/v1, kind: ReplicaSet}
- {apiVersion: v1, kind: Pod}
annotations:
  io.kubewarden.policy.title: selector-guard
  io.kubewarden.policy.version: 0.1.0
  io.kubewarden.policy.description: d
  io.kubewarden.policy.ociUrl: ghcr.io/o/selector-guard
  io.artifacthub.displayName: T
"#;

    #[test]
    fn the_manifest_grants_the_context_aware_resources_and_turns_the_rules_on_at_warn() {
        let metadata = Metadata::from_yaml_str(METADATA).expect("valid");
        let questions: Questions = serde_yaml_ng::from_str(
            "questions:\n- {variable: templateLabels, default: reject}\n- {variable: serviceSelectorChange, default: \"off\"}\n",
        )
        .expect("questions");
        let settings = manifest_settings(default_settings(&questions).expect("defaults"));
        let text = render(&metadata, settings).expect("renders");
        // The admission part (comments, match conditions, timeouts) is
        // checked against the example file and the case table
        // (xtask/tests); here, what the metadata and settings make.
        // The questions' keys keep their place; the other context-aware
        // rules follow, in the registry's order.
        let others: String = context_aware_settings()
            .filter(|key| *key != "serviceSelectorChange")
            .map(|key| format!("    {key}: warn\n"))
            .collect();
        assert!(others.contains("    controllerOverlap: warn\n"), "{others}");
        assert_eq!(
            without_admission(&text),
            r#"apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata:
  name: selector-guard
spec:
  module: registry://ghcr.io/o/selector-guard:v0.1.0
  settings:
    templateLabels: reject
    serviceSelectorChange: warn
"#
            .to_string()
                + &others
                + r#"  rules:
  - apiGroups:
    - ''
    apiVersions:
    - v1
    resources:
    - pods
    operations:
    - UPDATE
  contextAwareResources:
  - apiVersion: apps/v1
    kind: ReplicaSet
  - apiVersion: v1
    kind: Pod
  - apiVersion: v1
    kind: Service
  mutating: true
  backgroundAudit: true
  mode: protect
"#
        );
    }

    /// `text` without comment lines, `matchConditions` and the keys after
    /// `mode`.
    fn without_admission(text: &str) -> String {
        let mut out = String::new();
        let mut skipping = false;
        for line in text.lines() {
            if line.trim_start().starts_with('#') {
                continue;
            }
            if line.starts_with("  ") && !line.starts_with("   ") && !line.starts_with("  -") {
                skipping = line == "  matchConditions:"
                    || [
                        "  failurePolicy:",
                        "  timeoutEvalSeconds:",
                        "  timeoutSeconds:",
                    ]
                    .iter()
                    .any(|key| line.starts_with(key));
            }
            if !skipping {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn the_admission_part_is_written_with_its_comments() {
        let metadata = Metadata::from_yaml_str(METADATA).expect("valid");
        let text = render(&metadata, Mapping::new()).expect("renders");
        for line in [
            "  rules:",
            "  matchConditions:",
            "  - name: pod-update-changes-what-rules-read",
            "  failurePolicy: Ignore",
            "  timeoutEvalSeconds: 10",
            "  timeoutSeconds: 15",
        ] {
            let at = text
                .lines()
                .position(|l| l == line)
                .unwrap_or_else(|| panic!("no line {line:?} in\n{text}"));
            let above = text.lines().nth(at - 1).expect("a line above");
            assert!(
                above.trim_start().starts_with("# "),
                "{line:?} has no comment: {above:?}"
            );
        }
    }

    #[test]
    fn custom_workloads_are_registered_once_each() {
        let settings: Mapping = serde_yaml_ng::from_str(
            "workloadKinds:\n\
             - {apiVersion: argoproj.io/v1alpha1, kind: Rollout}\n\
             - {apiVersion: argoproj.io/v1alpha1, kind: Rollout}\n\
             - {apiVersion: apps.kruise.io/v1alpha1, kind: CloneSet}\n\
             - {apiVersion: example.com/v1, kind: Proxy}\n",
        )
        .expect("settings");
        let rules = with_custom_workloads(Vec::new(), &settings).expect("rules");
        let registered: Vec<(String, String, Vec<String>)> = rules
            .iter()
            .map(|r| {
                (
                    r.api_groups[0].clone(),
                    r.api_versions[0].clone(),
                    r.resources.clone(),
                )
            })
            .collect();
        assert_eq!(
            registered,
            [
                (
                    "argoproj.io".into(),
                    "v1alpha1".into(),
                    vec!["rollouts".to_string()]
                ),
                (
                    "apps.kruise.io".into(),
                    "v1alpha1".into(),
                    vec!["clonesets".to_string()]
                ),
                (
                    "example.com".into(),
                    "v1".into(),
                    vec!["proxies".to_string()]
                ),
            ]
        );
        let bad: Mapping =
            serde_yaml_ng::from_str("workloadKinds: [{kind: Rollout}]").expect("yaml");
        let err = with_custom_workloads(Vec::new(), &bad).expect_err("no apiVersion");
        assert!(
            format!("{err:#}").contains("settings.workloadKinds"),
            "{err:#}"
        );
    }

    #[test]
    fn a_comment_without_its_line_is_an_error() {
        let err = with_comments("spec:\n  mode: protect\n").expect_err("no line to comment on");
        assert!(err.to_string().contains("matchConditions"), "{err}");
    }

    #[test]
    fn changed_guards_every_step_but_metadata() {
        assert_eq!(
            changed("metadata.labels"),
            "has(object.metadata.labels) != has(oldObject.metadata.labels)\n\
             || has(object.metadata.labels) && object.metadata.labels != oldObject.metadata.labels"
        );
        assert_eq!(
            changed("spec.type"),
            "(has(object.spec) && has(object.spec.type)) != (has(oldObject.spec) && has(oldObject.spec.type))\n\
             || has(object.spec) && has(object.spec.type) && object.spec.type != oldObject.spec.type"
        );
    }

    #[test]
    fn yaml11_words_are_quoted_for_kubectl() {
        let text = "settings:\n  a: off\n  b: 'on'\n  c:\n  - yes\n  - reject\n  d: true\n  e: 1_000\n  f: y\n  g: |-\n    on\n    mode: off\n  h: no\n";
        assert_eq!(
            quote_yaml11_words(text),
            "settings:\n  a: \"off\"\n  b: 'on'\n  c:\n  - \"yes\"\n  - reject\n  d: true\n  e: \"1_000\"\n  f: \"y\"\n  g: |-\n    on\n    mode: off\n  h: \"no\"\n"
        );
    }

    #[test]
    fn without_context_aware_resources_the_key_is_omitted() {
        let text = METADATA.replace("contextAwareResources:\n- {apiVersion: v1, kind: Service}\n- {apiVersion: apps/v1, kind: ReplicaSet}\n- {apiVersion: v1, kind: Pod}\n", "");
        let metadata = Metadata::from_yaml_str(&text).expect("valid");
        let out = render(&metadata, Mapping::new()).expect("renders");
        assert!(!out.contains("contextAwareResources"), "{out}");
    }
}
