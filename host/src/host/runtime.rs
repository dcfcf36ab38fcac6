//! A waPC host for Kubewarden policies, on the stack kwctl and policy-server
//! use: `wapc::WapcHost` over `wasmtime-provider` with WASI (the `wasm`
//! feature).
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use selector_guard_host::host::{AdmissionResponse, Policy, admission_request};
//! let policy = Policy::load("policy.wasm")?; // compiles the module, once
//! assert_eq!(policy.protocol_version()?, "v1");
//! let settings = serde_json::json!({});
//! assert!(policy.validate_settings(&settings)?.valid);
//! let input = serde_json::from_str(&std::fs::read_to_string("request.json")?)?;
//! let request = admission_request(&input)?; // what kwctl would send
//! let answer = policy.validate(&request, &settings)?;
//! let response = AdmissionResponse::from_validation(&request, &answer)?;
//! println!("{}", serde_json::to_string(&response)?); // what kwctl run prints
//! # Ok(()) }
//! ```
//!
//! Contracts:
//! - [`Policy::load`] compiles the module once; every call then runs on a
//!   fresh instance of that precompiled module, as policy-server evaluates
//!   each request. [`Policy::instantiate`] gives one [`Instance`] to reuse
//!   across calls instead, as `kwctl bench` does (cheaper, state persists).
//! - A trap, a guest error or an answer that is not the expected JSON is an
//!   `Err` whose message is one line. (kwctl and policy-server turn a trap
//!   in `validate` into a rejection with code 500 instead.)
//! - Host calls: `kubewarden/tracing/log` records go to stderr with their
//!   level; `kubewarden/kubernetes/*` go to the policy's [`KubernetesHost`]
//!   (grant check, then a [`Replay`](super::Replay) or a
//!   [`FakeCluster`](super::FakeCluster)); with none
//!   given ([`Policy::with_kubernetes`]) every one is refused, as for a
//!   policy run without `--allow-context-aware`. Anything else is refused.
//!   A refusal is an error returned to the guest, and is also printed to
//!   stderr.

use super::{KubernetesHost, SettingsValidation, ValidationResponse};
use anyhow::{Context, Result, anyhow};
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use wapc::{WapcHost, WasiParams};
use wasmtime_provider::{WasmtimeEngineProviderBuilder, WasmtimeEngineProviderPre};

/// A compiled policy module, ready to be instantiated cheaply.
pub struct Policy {
    pre: WasmtimeEngineProviderPre,
    /// Forked for each instance, so instances never share a replay cursor.
    kubernetes: KubernetesHost,
}

/// One live instance of a policy (one wasm store). Not `Sync`: use one per thread.
pub struct Instance {
    host: WapcHost,
    /// This instance's Kubernetes host; reset by every `validate`.
    kubernetes: Arc<KubernetesHost>,
}

impl Policy {
    /// Reads and compiles a `.wasm` module.
    pub fn load(path: impl AsRef<Path>) -> Result<Policy> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        Policy::from_bytes(&bytes).with_context(|| format!("cannot load policy {}", path.display()))
    }

    /// Compiles a module from its bytes (binary, or WAT text).
    pub fn from_bytes(bytes: &[u8]) -> Result<Policy> {
        Policy::from_bytes_cached(bytes, None)
    }

    /// Compiles a module from its bytes, or takes the compiled code from
    /// `cache` (a folder) when it holds it: wasmtime's cache, keyed by the
    /// module's hash, wasmtime's version and the compiler's settings, and
    /// written after a compile. A cache that cannot be used is skipped.
    pub fn from_bytes_cached(bytes: &[u8], cache: Option<&Path>) -> Result<Policy> {
        let mut builder = WasmtimeEngineProviderBuilder::new()
            .module_bytes(bytes)
            .wasi_params(WasiParams::default());
        if let Some(folder) = cache {
            builder = builder.enable_cache(Some(folder));
        }
        let pre = builder
            .build_pre()
            .map_err(|e| anyhow!("cannot compile the module: {}", one_line(&e.to_string())))?;
        Ok(Policy {
            pre,
            kubernetes: KubernetesHost::default(),
        })
    }

    /// Answers `kubernetes/*` host calls with `kubernetes` from now on:
    /// each instance gets its own [`KubernetesHost::fork`] of it.
    pub fn with_kubernetes(mut self, kubernetes: KubernetesHost) -> Policy {
        self.kubernetes = kubernetes;
        self
    }

    /// A fresh instance: runs the module's `wapc_init`.
    pub fn instantiate(&self) -> Result<Instance> {
        self.instantiate_with(self.kubernetes.fork())
    }

    /// A fresh instance whose `kubernetes/*` calls go to `kubernetes`
    /// instead of the policy's own (one compiled module, many clusters).
    pub fn instantiate_with(&self, kubernetes: KubernetesHost) -> Result<Instance> {
        let engine = self
            .pre
            .rehydrate(None)
            .map_err(|e| anyhow!("cannot instantiate the module: {e}"))?;
        let kubernetes = Arc::new(kubernetes);
        let callback = host_callback(kubernetes.clone());
        let host = WapcHost::new(Box::new(engine), Some(callback))
            .map_err(|e| anyhow!("cannot initialize the module: {}", one_line(&e.to_string())))?;
        Ok(Instance { host, kubernetes })
    }

    /// `protocol_version` on a fresh instance: `"v1"` for SDK policies.
    pub fn protocol_version(&self) -> Result<String> {
        self.instantiate()?.protocol_version()
    }

    /// `validate_settings` on a fresh instance.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        self.instantiate()?.validate_settings(settings)
    }

    /// `validate` on a fresh instance; `request` is sent as given (pass it
    /// through [`admission_request`](super::admission_request) to send what kwctl sends).
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<ValidationResponse> {
        self.instantiate()?.validate(request, settings)
    }
}

impl Instance {
    /// Calls the guest's `operation` with raw payload bytes and returns the
    /// raw answer (`cargo xtask bench` times exactly this).
    pub fn call(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>> {
        self.host
            .call(operation, payload)
            .map_err(|e| anyhow!("policy `{operation}` failed: {}", one_line(&e.to_string())))
    }

    /// The policy's protocol version (`"v1"`).
    pub fn protocol_version(&self) -> Result<String> {
        let answer = self.call("protocol_version", &[])?;
        serde_json::from_slice(&answer).map_err(|e| bad_answer("protocol_version", &answer, &e))
    }

    /// Asks the policy whether `settings` are valid.
    pub fn validate_settings(&self, settings: &Value) -> Result<SettingsValidation> {
        let answer = self.call("validate_settings", &serde_json::to_vec(settings)?)?;
        serde_json::from_slice(&answer).map_err(|e| bad_answer("validate_settings", &answer, &e))
    }

    /// This instance's Kubernetes host (e.g. to read what it recorded).
    pub fn kubernetes(&self) -> &KubernetesHost {
        &self.kubernetes
    }

    /// Evaluates `request` (an AdmissionRequest) with `settings`; a replay
    /// starts over at its first exchange.
    pub fn validate(&self, request: &Value, settings: &Value) -> Result<ValidationResponse> {
        self.kubernetes.reset();
        let payload =
            serde_json::to_vec(&serde_json::json!({ "request": request, "settings": settings }))?;
        let answer = self.call("validate", &payload)?;
        serde_json::from_slice(&answer).map_err(|e| bad_answer("validate", &answer, &e))
    }
}

fn bad_answer(operation: &str, answer: &[u8], error: &serde_json::Error) -> anyhow::Error {
    let text = String::from_utf8_lossy(answer);
    let shown: String = text.chars().take(200).collect();
    anyhow!(
        "policy `{operation}` answered something unexpected ({error}): {}",
        one_line(&shown)
    )
}

/// waPC's error text as one line. A wasmtime trap ("error while executing
/// at wasm backtrace:", the frames, sometimes "Caused by: wasm trap: ...")
/// becomes `the module trapped (<cause>; innermost frame <frame>)`; other
/// multi-line text is joined with `; `.
fn one_line(text: &str) -> String {
    let text = text.strip_prefix("Guest call failure: ").unwrap_or(text);
    let lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    let trapped = lines
        .first()
        .is_some_and(|l| l.starts_with("error while executing at wasm backtrace"));
    if !trapped {
        return lines.join("; ");
    }
    let cause = lines
        .iter()
        .find(|l| l.starts_with("wasm trap:"))
        .map(|l| format!("{l}; "))
        .unwrap_or_default();
    let frame = lines
        .iter()
        .find(|l| l.starts_with("0:"))
        .map(|l| l.trim_start_matches("0:").trim())
        .unwrap_or("unknown");
    format!("the module trapped ({cause}innermost frame {frame})")
}

type Callback = Box<wapc::HostCallback>;
type CallbackResult = Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;

fn host_callback(kubernetes: Arc<KubernetesHost>) -> Callback {
    Box::new(
        move |_id: u64,
              binding: &str,
              namespace: &str,
              operation: &str,
              payload: &[u8]|
              -> CallbackResult {
            match (binding, namespace, operation) {
                ("kubewarden", "tracing", "log") => {
                    log_record(payload);
                    Ok(Vec::new())
                }
                ("kubewarden", "kubernetes", operation) => {
                    kubernetes.answer(operation, payload).or_else(refuse)
                }
                _ => refuse(format!(
                    "refused {binding}/{namespace}/{operation}: not a host capability this host provides"
                )),
            }
        },
    )
}

/// A refused host call: printed to stderr, and returned to the guest as an error.
fn refuse(message: String) -> CallbackResult {
    eprintln!("WARN  host: {message}");
    Err(message.into())
}

/// Prints a guest log record (`{"level", "message", "file", "line", ...}`)
/// as one line on stderr: `LEVEL policy file:line: message key=value...`.
fn log_record(payload: &[u8]) {
    let Ok(Value::Object(mut record)) = serde_json::from_slice::<Value>(payload) else {
        eprintln!("INFO  policy: {}", String::from_utf8_lossy(payload));
        return;
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let level = text(record.remove("level")).to_uppercase();
    let message = text(record.remove("message"));
    let file = text(record.remove("file"));
    let line = text(record.remove("line"));
    record.remove("column");
    let mut out = format!(
        "{:<5} policy",
        if level.is_empty() {
            "INFO"
        } else {
            level.as_str()
        }
    );
    if !file.is_empty() {
        out.push_str(&format!(" {file}:{line}"));
    }
    out.push_str(&format!(": {message}"));
    for (key, value) in record {
        out.push_str(&format!(" {key}={}", text(Some(value))));
    }
    eprintln!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Answers, Grants, Replay};

    /// A waPC guest in WAT: `__guest_call` with operation `NS/OP` forwards
    /// its payload to the host call `kubewarden/NS/OP` and answers with the
    /// host's response (or fails with the host's error); an operation
    /// without `/` traps.
    const FORWARDER: &str = r#"
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "kubewarden")
  (func (export "__guest_call") (param $op_len i32) (param $msg_len i32) (result i32)
    (local $i i32) (local $len i32)
    (call $guest_request (i32.const 1024) (i32.const 4096))
    (block $found
      (loop $scan
        (br_if $found (i32.eq (i32.load8_u (i32.add (i32.const 1024) (local.get $i))) (i32.const 47)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $scan (i32.lt_u (local.get $i) (local.get $op_len)))
        unreachable))
    (if (i32.eqz (call $host_call
          (i32.const 0) (i32.const 10)
          (i32.const 1024) (local.get $i)
          (i32.add (i32.const 1025) (local.get $i))
          (i32.sub (i32.sub (local.get $op_len) (local.get $i)) (i32.const 1))
          (i32.const 4096) (local.get $msg_len)))
      (then
        (local.set $len (call $host_error_len))
        (call $host_error (i32.const 65536))
        (call $guest_error (i32.const 65536) (local.get $len))
        (return (i32.const 0))))
    (local.set $len (call $host_response_len))
    (call $host_response (i32.const 65536))
    (call $guest_response (i32.const 65536) (local.get $len))
    (i32.const 1)))
"#;

    fn forwarder() -> Policy {
        Policy::from_bytes(FORWARDER.as_bytes()).expect("the WAT guest compiles")
    }

    #[test]
    fn a_trap_is_one_clear_line() {
        let instance = forwarder().instantiate().expect("instantiates");
        let err = instance
            .validate(&serde_json::json!({}), &serde_json::json!({}))
            .expect_err("traps");
        let text = format!("{err:#}");
        assert!(text.starts_with("policy `validate` failed:"), "{text}");
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn logs_are_accepted_and_unknown_capabilities_refused() {
        let instance = forwarder().instantiate().expect("instantiates");
        let log = br#"{"level":"info","message":"hello","file":"src/lib.rs","line":3,"column":1,"k":"v"}"#;
        assert_eq!(
            instance.call("tracing/log", log).expect("logged"),
            Vec::<u8>::new()
        );
        let err = instance
            .call("net/v1/dns_lookup_host", b"\"x\"")
            .expect_err("refused");
        assert!(
            format!("{err:#}").contains("not a host capability this host provides"),
            "{err:#}"
        );
    }

    #[test]
    fn kubernetes_calls_are_refused_without_grants_and_answered_with_them() {
        let payload = br#"{"api_version":"v1","kind":"Pod","namespace":"default","label_selector":null,"field_selector":null}"#;
        let session = "- type: Exchange\n  request: \"!KubernetesListResourceNamespace\\napi_version: v1\\nkind: Pod\\nnamespace: default\\nlabel_selector: null\\nfield_selector: null\\n\"\n  response:\n    type: Success\n    payload: '{\"items\":[]}'\n";
        let replay = || Answers::Replay(Replay::parse(session).expect("parses"));
        let err = forwarder()
            .with_kubernetes(KubernetesHost::new(Grants::none(), replay()))
            .instantiate()
            .expect("instantiates")
            .call("kubernetes/list_resources_by_namespace", payload);
        assert!(format!("{:#}", err.expect_err("refused")).contains("--allow-context-aware"));

        let mut metadata = crate::metadata::Metadata::from_yaml_str(
            "mutating: false\nannotations: {io.kubewarden.policy.title: t, io.kubewarden.policy.version: 0.1.0, io.kubewarden.policy.description: d, io.kubewarden.policy.ociUrl: o/p, io.artifacthub.displayName: T}\n",
        )
        .expect("metadata");
        metadata
            .context_aware_resources
            .insert(crate::metadata::ContextAwareResource {
                api_version: "v1".into(),
                kind: "Pod".into(),
            });
        let policy = forwarder().with_kubernetes(KubernetesHost::new(
            Grants::from_metadata(&metadata),
            replay(),
        ));
        let instance = policy.instantiate().expect("instantiates");
        let answer = instance
            .call("kubernetes/list_resources_by_namespace", payload)
            .expect("replayed");
        assert_eq!(answer, br#"{"items":[]}"#.to_vec());
        let err = instance
            .call("kubernetes/list_resources_by_namespace", payload)
            .expect_err("exhausted");
        assert!(format!("{err:#}").contains("exhausted"), "{err:#}");
    }

    #[test]
    fn one_line_names_the_trap() {
        let text = "Guest call failure: error while executing at wasm backtrace:\n    0:  0x1 - <unknown>!f\n    1:  0x2 - <unknown>!g\n\nCaused by:\n    wasm trap: wasm `unreachable` instruction executed";
        assert_eq!(
            one_line(text),
            "the module trapped (wasm trap: wasm `unreachable` instruction executed; innermost frame 0x1 - <unknown>!f)"
        );
        assert_eq!(one_line("a\n\n  b  c"), "a; b c");
    }
}
