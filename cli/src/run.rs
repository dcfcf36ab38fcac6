//! `selector-guard run` (and `cargo xtask run`): evaluate one request
//! against a policy, like `kwctl run`.
//!
//! Same flags and output as kwctl: settings are validated first (invalid
//! settings fail with `Provided settings are not valid: "<message>"`), then
//! one AdmissionResponse JSON line is printed on stdout. The request file is
//! a bare AdmissionRequest or an AdmissionReview. `--human` prints the
//! verdict, message, warnings and decoded patch readably instead.
//!
//! The policy is `POLICY.wasm`, run on the waPC host kwctl uses (this needs
//! the `wasm` feature), or, with no POLICY.wasm, the policy linked into
//! this binary, run natively with the same inputs and the same output.
//!
//! Context-aware calls, as under kwctl: without `--allow-context-aware`
//! every `kubernetes/*` call is refused (even with a session to replay);
//! with it, the module's own metadata (its `io.kubewarden.metadata`
//! section) grants its `contextAwareResources`, and an unannotated module
//! gets no grant. The built-in policy is granted those of `--metadata-path`
//! (a `policy-metadata.yml`), by default those of the `policy-metadata.yml`
//! it was built with. Answers come from a kwctl session
//! (`--replay-host-capabilities-interactions`) or from manifests
//! (`--cluster-state`); `--record-host-capabilities-interactions` writes
//! the calls made and their answers as a kwctl session.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use selector_guard_host::config::{grants, load_settings};
use selector_guard_host::host::{
    AdmissionResponse, Answers, FakeCluster, Grants, KubernetesHost, Replay, SettingsValidation,
    ValidationResponse, admission_request,
};
use selector_guard_host::metadata::Metadata;

/// The `policy-metadata.yml` the built-in policy was built with: its grants
/// under `--allow-context-aware` when no `--metadata-path` is given.
pub const BUILT_IN_METADATA: &str = include_str!("../../policy-metadata.yml");

/// What to say when a module is given to a build without the waPC host.
pub const WITHOUT_WASM: &str = "this selector-guard was built without the `wasm` feature; \
     it runs only its built-in policy (leave POLICY.wasm out), or install one with \
     `cargo install --locked --path cli --features wasm` to run a .wasm module";

/// `run`'s flags: kwctl run's, plus `--cluster-state`, `--metadata-path`
/// and `--human`.
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
    /// contextAwareResources (an unannotated module gets no grant); for
    /// the built-in policy, those of --metadata-path.
    #[arg(long)]
    pub allow_context_aware: bool,
    /// The built-in policy's metadata (a policy-metadata.yml), whose
    /// contextAwareResources --allow-context-aware grants [default: the
    /// one this binary was built with]. Not with POLICY.wasm, whose own
    /// metadata is used.
    #[arg(long, short = 'm', value_name = "FILE", conflicts_with = "policy")]
    pub metadata_path: Option<PathBuf>,
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
    /// The policy module: a path or a `file://` URI (needs the `wasm`
    /// feature). Without it, the policy built into this binary runs natively.
    #[arg(value_name = "POLICY.wasm")]
    pub policy: Option<String>,
}

/// Runs the command: prints the AdmissionResponse (or `--human` verdict).
pub fn main(args: Args) -> Result<()> {
    let settings = settings(&args)?;
    let input = read_json(&args.request_path)?;
    let request = admission_request(&input)
        .with_context(|| format!("request file {}", args.request_path.display()))?;

    let (answer, recorded) = match &args.policy {
        Some(policy) => run_module(policy, &args, &request, &settings)?,
        None => run_built_in(&args, &request, &settings)?,
    };
    if let Some(out) = &args.record_host_capabilities_interactions {
        let session = recorded.to_yaml()?;
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

/// The policy built into this binary, natively: `validate_settings`, then
/// `validate`. Returns the answer and the Kubernetes host calls recorded.
fn run_built_in(
    args: &Args,
    request: &Value,
    settings: &Value,
) -> Result<(ValidationResponse, Replay)> {
    let grants = built_in_grants(args.allow_context_aware, args.metadata_path.as_deref())?;
    let kubernetes = kubernetes_host(args, grants)?;
    settings_valid(crate::native::validate_settings(settings)?)?;
    let answer = crate::native::validate(request, settings, &kubernetes)?;
    Ok((answer, kubernetes.recorded()))
}

/// What `--allow-context-aware` grants the built-in policy: nothing
/// without it; with it, the contextAwareResources of `metadata` (a
/// `policy-metadata.yml`), or of [`BUILT_IN_METADATA`].
pub fn built_in_grants(allow_context_aware: bool, metadata: Option<&Path>) -> Result<Grants> {
    if !allow_context_aware {
        return Ok(Grants::none());
    }
    let metadata = match metadata {
        Some(path) => Metadata::from_yaml_file(path)?,
        None => Metadata::from_yaml_str(BUILT_IN_METADATA)
            .context("invalid metadata built into this binary")?,
    };
    Ok(Grants::from_metadata(&metadata))
}

/// A module on the waPC host: grants from its embedded metadata, one
/// instance for both calls, as kwctl does. Returns the answer and the
/// Kubernetes host calls recorded.
#[cfg(feature = "wasm")]
fn run_module(
    policy: &str,
    args: &Args,
    request: &Value,
    settings: &Value,
) -> Result<(ValidationResponse, Replay)> {
    use selector_guard_host::host::Policy;
    let path = Path::new(policy.strip_prefix("file://").unwrap_or(policy));
    let module =
        std::fs::read(path).with_context(|| format!("cannot read policy {}", path.display()))?;
    let grants = grants(&module, path, args.allow_context_aware)?;
    let kubernetes = kubernetes_host(args, grants)?;
    let policy = Policy::from_bytes(&module)
        .with_context(|| format!("cannot load policy {}", path.display()))?
        .with_kubernetes(kubernetes);
    let instance = policy.instantiate()?;
    settings_valid(instance.validate_settings(settings)?)?;
    let answer = instance.validate(request, settings)?;
    Ok((answer, instance.kubernetes().recorded()))
}

#[cfg(not(feature = "wasm"))]
fn run_module(
    policy: &str,
    _args: &Args,
    _request: &Value,
    _settings: &Value,
) -> Result<(ValidationResponse, Replay)> {
    bail!("cannot run {policy}: {WITHOUT_WASM}")
}

/// The Kubernetes host of one run: `grants`, the answers of
/// `--replay-host-capabilities-interactions` or `--cluster-state` (or
/// none), recording when `--record-host-capabilities-interactions` is given.
fn kubernetes_host(args: &Args, grants: Grants) -> Result<KubernetesHost> {
    let answers = if let Some(session) = &args.replay_host_capabilities_interactions {
        Answers::Replay(Replay::load(session)?)
    } else if let Some(state) = &args.cluster_state {
        Answers::Cluster(FakeCluster::load(state)?)
    } else {
        Answers::Nothing
    };
    let kubernetes = KubernetesHost::new(grants, answers);
    Ok(if args.record_host_capabilities_interactions.is_some() {
        kubernetes.recording()
    } else {
        kubernetes
    })
}

/// kwctl's refusal of invalid settings.
fn settings_valid(verdict: SettingsValidation) -> Result<()> {
    if !verdict.valid {
        bail!(
            "Provided settings are not valid: {:?}",
            verdict.message.unwrap_or_default()
        );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_metadata_grants_only_with_allow_context_aware() {
        let metadata = Metadata::from_yaml_str(BUILT_IN_METADATA).expect("valid metadata");
        assert!(
            !metadata.context_aware_resources.is_empty(),
            "policy-metadata.yml grants the kinds the context-aware rules read"
        );
        assert!(
            !built_in_grants(false, None)
                .expect("grants")
                .is_context_aware()
        );
        assert!(
            built_in_grants(true, None)
                .expect("grants")
                .is_context_aware()
        );
        let err = built_in_grants(true, Some(Path::new("no-such-metadata.yml")))
            .expect_err("a missing file is an error");
        assert!(
            format!("{err:#}").contains("no-such-metadata.yml"),
            "{err:#}"
        );
    }

    #[cfg(not(feature = "wasm"))]
    #[test]
    fn a_module_needs_the_wasm_feature() {
        let err = run_module("policy.wasm", &args(), &Value::Null, &Value::Null)
            .expect_err("no waPC host in this build");
        assert!(
            format!("{err:#}").contains("built without the `wasm` feature"),
            "{err:#}"
        );
    }

    #[cfg(not(feature = "wasm"))]
    fn args() -> Args {
        Args {
            settings_json: None,
            settings_path: None,
            request_path: PathBuf::from("request.json"),
            allow_context_aware: false,
            metadata_path: None,
            replay_host_capabilities_interactions: None,
            cluster_state: None,
            record_host_capabilities_interactions: None,
            human: false,
            policy: Some("policy.wasm".into()),
        }
    }
}
