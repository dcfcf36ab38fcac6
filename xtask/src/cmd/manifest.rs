//! `cargo xtask manifest [-m policy-metadata.yml] [-q questions-ui.yml]`: prints
//! a ClusterAdmissionPolicy for the published policy, shaped like
//! `kwctl scaffold manifest -t ClusterAdmissionPolicy`: `module` is
//! `registry://<ociUrl>:v<version>`, `rules` and `mutating` come from the
//! metadata, and `settings` are the defaults of the Rancher UI questions
//! (which a test keeps equal to the policy's own defaults).
//!
//! Two deliberate differences from kwctl: `backgroundAudit: true` is written
//! out (kwctl omits it when true), and so is `mode: protect`, so the README
//! can point at the line to change for `monitor`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::{Mapping, Value};

use crate::metadata::{Metadata, Rule, keys};

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
    let settings = default_settings_file(&args.questions)?;
    print!("{}", render(&metadata, settings)?);
    Ok(())
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
            mutating: metadata.mutating,
            background_audit: metadata.background_audit,
            mode: "protect",
        },
    };
    let text = serde_yaml_ng::to_string(&policy)?;
    // serde's YAML is 1.2: it leaves `off` or `yes` unquoted, and kubectl
    // (YAML 1.1) would read them as booleans. Refuse rather than mislead.
    let as_kubectl_reads = crate::yaml11::from_str(&text)?;
    if as_kubectl_reads != [serde_json::to_value(&policy)?] {
        bail!("the manifest would not read back the same with kubectl (YAML 1.1):\n{text}");
    }
    Ok(text)
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
