//! `selector-guard run` (and `cargo xtask run`): evaluate one request
//! against a policy, like `kwctl run`.
//!
//! Same flags and output as kwctl: settings are validated first (invalid
//! settings fail with `Provided settings are not valid: "<message>"`), then
//! one AdmissionResponse JSON line is printed on stdout. The request file is
//! a bare AdmissionRequest or an AdmissionReview. `--human` prints the
//! verdict, message, warnings and decoded patch readably instead.
//!
//! Context-aware calls, as under kwctl: without `--allow-context-aware`
//! every `kubernetes/*` call is refused (even with a session to replay);
//! with it, the module's own metadata (its `io.kubewarden.metadata`
//! section) grants its `contextAwareResources`, and an unannotated module
//! gets no grant. Answers come from a kwctl session
//! (`--replay-host-capabilities-interactions`) or from manifests
//! (`--cluster-state`); `--record-host-capabilities-interactions` writes
//! the calls made and their answers as a kwctl session.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use selector_guard_host::config::{grants, load_settings};
use selector_guard_host::host::{
    AdmissionResponse, Answers, FakeCluster, KubernetesHost, Policy, Replay, admission_request,
};

/// `run`'s flags: kwctl run's, plus `--cluster-state` and `--human`.
#[derive(clap::Args)]
pub struct Args {
    /// Policy settings, as a JSON object.
    #[arg(long, value_name = "JSON", conflicts_with = "settings_path")]
    pub settings_json: Option<String>,
    /// Policy settings, from a YAML or JSON file.
    #[arg(long, value_name = "FILE")]
    pub settings_path: Option<PathBuf>,
    /// The AdmissionRequest (or AdmissionReview) to evaluate, as JSON.
    #[arg(long, short = 'r', value_name = "FILE")]
    pub request_path: PathBuf,
    /// Grant the Kubernetes resources listed in the annotated module's
    /// contextAwareResources (an unannotated module gets no grant).
    #[arg(long)]
    pub allow_context_aware: bool,
    /// Answer the policy's Kubernetes host calls from a session recorded by kwctl.
    #[arg(long, value_name = "FILE", conflicts_with = "cluster_state")]
    pub replay_host_capabilities_interactions: Option<PathBuf>,
    /// Answer the policy's Kubernetes host calls from the objects in these
    /// manifests (multi-document YAML, read as kubectl reads it).
    #[arg(long, value_name = "FILE")]
    pub cluster_state: Option<PathBuf>,
    /// Write the Kubernetes host calls and their answers to FILE, as a kwctl session.
    #[arg(long, value_name = "FILE")]
    pub record_host_capabilities_interactions: Option<PathBuf>,
    /// Print a readable verdict instead of kwctl's AdmissionResponse JSON line.
    #[arg(long)]
    pub human: bool,
    /// The policy module: a path or a `file://` URI.
    #[arg(value_name = "POLICY.wasm")]
    pub policy: String,
}

/// Runs the command: prints the AdmissionResponse (or `--human` verdict).
pub fn main(args: Args) -> Result<()> {
    let settings = settings(&args)?;
    let input = read_json(&args.request_path)?;
    let request = admission_request(&input)
        .with_context(|| format!("request file {}", args.request_path.display()))?;

    let path = Path::new(args.policy.strip_prefix("file://").unwrap_or(&args.policy));
    let module =
        std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?;
    let grants = grants(&module, path, args.allow_context_aware)?;
    let answers = if let Some(session) = &args.replay_host_capabilities_interactions {
        Answers::Replay(Replay::load(session)?)
    } else if let Some(state) = &args.cluster_state {
        Answers::Cluster(FakeCluster::load(state)?)
    } else {
        Answers::Nothing
    };
    let mut kubernetes = KubernetesHost::new(grants, answers);
    if args.record_host_capabilities_interactions.is_some() {
        kubernetes = kubernetes.recording();
    }
    let policy = Policy::from_bytes(&module)
        .with_context(|| format!("cannot load policy {}", path.display()))?
        .with_kubernetes(kubernetes);
    // One instance for both calls, as kwctl does.
    let instance = policy.instantiate()?;
    let verdict = instance.validate_settings(&settings)?;
    if !verdict.valid {
        bail!(
            "Provided settings are not valid: {:?}",
            verdict.message.unwrap_or_default()
        );
    }
    let answer = instance.validate(&request, &settings)?;
    if let Some(out) = &args.record_host_capabilities_interactions {
        let session = instance.kubernetes().recorded().to_yaml()?;
        std::fs::write(out, session).with_context(|| format!("cannot write {}", out.display()))?;
    }
    let response = AdmissionResponse::from_validation(&request, &answer)?;
    if args.human {
        print!("{}", human(&args.request_path, &request, &response)?);
    } else {
        println!("{}", serde_json::to_string(&response)?);
    }
    Ok(())
}

fn settings(args: &Args) -> Result<Value> {
    load_settings(args.settings_json.as_deref(), args.settings_path.as_deref())
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read request file {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("request file {} is not valid JSON", path.display()))
}

/// The readable form: file, verdict, message, warnings, audit annotations
/// and the decoded patch.
pub fn human(path: &Path, request: &Value, response: &AdmissionResponse) -> Result<String> {
    let mut out = String::new();
    let verdict = match (response.allowed, response.patch.is_some()) {
        (true, true) => "ALLOWED, mutated",
        (true, false) => "ALLOWED",
        (false, _) => "REJECTED",
    };
    let code = response
        .status
        .as_ref()
        .and_then(|s| s.code)
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default();
    let object = request.get("object").unwrap_or(&Value::Null);
    let what = format!(
        "{} {}/{}",
        object
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("object"),
        request
            .get("namespace")
            .and_then(Value::as_str)
            .unwrap_or("-"),
        request.get("name").and_then(Value::as_str).unwrap_or("-"),
    );
    writeln!(out, "== {}: {what}", path.display())?;
    writeln!(out, "   {verdict}{code}")?;
    if let Some(message) = response.status.as_ref().and_then(|s| s.message.as_deref()) {
        writeln!(out, "   message: {message}")?;
    }
    match response.warnings.as_deref() {
        Some(warnings) if !warnings.is_empty() => {
            writeln!(out, "   warnings:")?;
            for warning in warnings {
                writeln!(out, "     - {warning}")?;
            }
        }
        _ => writeln!(out, "   warnings: none")?,
    }
    if let Some(annotations) = response
        .audit_annotations
        .as_ref()
        .filter(|a| !a.is_empty())
    {
        writeln!(out, "   audit annotations:")?;
        for (key, value) in annotations {
            writeln!(out, "     {key}: {value}")?;
        }
    }
    if response.patch.is_some() {
        let patch = serde_json::to_string_pretty(&response.patch_operations()?)?;
        writeln!(out, "   patch (JSONPatch):")?;
        for line in patch.lines() {
            writeln!(out, "     {line}")?;
        }
    } else {
        writeln!(out, "   patch: none")?;
    }
    Ok(out)
}
