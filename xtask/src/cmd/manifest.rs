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

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::metadata::{ContextAwareResource, Metadata, Rule, keys};

/// The context-aware rules' settings (the rules of the registry that read
/// the cluster), which `cargo xtask manifest` turns on at `warn` (their
/// questions default to `off`).
pub fn context_aware_settings() -> impl Iterator<Item = &'static str> {
    selector_guard::rules::RULES
        .into_iter()
        .filter(|rule| !rule.cluster_reads.is_empty())
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
            rules: metadata.rules.clone(),
            context_aware_resources: metadata.context_aware_resources.iter().cloned().collect(),
            mutating: metadata.mutating,
            background_audit: metadata.background_audit,
            mode: "protect",
        },
    };
    let text = quote_yaml11_words(&serde_yaml_ng::to_string(&policy)?);
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
    /// Sorted (the metadata's set order); omitted when empty, as kwctl does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    context_aware_resources: Vec<ContextAwareResource>,
    mutating: bool,
    background_audit: bool,
    mode: &'static str,
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
        assert_eq!(
            text,
            r#"apiVersion: policies.kubewarden.io/v1
kind: ClusterAdmissionPolicy
metadata:
  name: selector-guard
spec:
  module: registry://ghcr.io/o/selector-guard:v0.1.0
  settings:
    templateLabels: reject
    serviceSelectorChange: warn
    controllerOverlap: warn
    podLabelChange: warn
  rules:
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
