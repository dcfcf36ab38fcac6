//! The `kubewarden/kubernetes/*` host capability: one place that takes a
//! policy's call, checks it against the policy's grants, and answers it
//! from a recorded session ([`Replay`]) or from manifests ([`FakeCluster`]).
//!
//! The wasm host callback calls [`KubernetesHost::answer`]; native tests
//! can call the same function as a fake host at the guest's `host_call`
//! boundary:
//!
//! ```no_run
//! # fn main() -> anyhow::Result<()> {
//! use selector_guard_host::host::KubernetesHost;
//! use std::path::Path;
//! let host = KubernetesHost::from_files(
//!     Path::new("policy-metadata.yml"),
//!     Path::new("test_data/sessions/service-selector-swap.yml"),
//! )?;
//! let payload = br#"{"api_version":"v1","kind":"Pod","namespace":"default"}"#;
//! let list = host.answer("list_resources_by_namespace", payload);
//! host.reset(); // before the next evaluation
//! # Ok(()) }
//! ```
//!
//! Contracts, as policy-evaluator's:
//! - the grant check comes first: a call that is not granted is refused
//!   before any replayed exchange is consumed (and is never recorded);
//! - a grant is an exact, case-sensitive `{apiVersion, kind}` pair from the
//!   metadata's `contextAwareResources`, and, when the metadata declares
//!   `hostCapabilities`, the operation must be listed there too
//!   (`kubernetes/<operation>` or `kubernetes/*`);
//! - every failure is an `Err(text)` returned to the guest, never a panic;
//! - an answer that is an error (a replayed `type: Error`, an exhausted or
//!   mismatched replay, a fake cluster's refusal) reaches the guest as
//!   [`CALLBACK_FAILURE`] followed by its message, as policy-evaluator's
//!   callback channel hands it over; the recording keeps the message alone,
//!   as kwctl records it. Refusals of the grant check carry no prefix.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Result;
use serde_json::Value;

use super::cluster::FakeCluster;
use super::replay::{Exchange, Replay};
use crate::metadata::{ContextAwareResource, Metadata};

/// What kwctl and policy-server put before an answer's error when they
/// hand it to the guest (policy-evaluator, `runtimes/callback.rs`:
/// `format!("Callback evaluation failure: {e:?}")`).
pub const CALLBACK_FAILURE: &str = "Callback evaluation failure: ";

/// The Kubernetes operations a policy may call.
const OPERATIONS: [&str; 4] = [
    "list_resources_by_namespace",
    "list_resources_all",
    "get_resource",
    "can_i",
];

/// What a policy was granted: nothing (not run with `--allow-context-aware`),
/// or the kinds and host capabilities its metadata lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Grants {
    allowed: Option<Allowed>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    resources: BTreeSet<ContextAwareResource>,
    /// `None`: the metadata declares no `hostCapabilities`, so only the
    /// resources are checked (hosts before policy-server 1.35).
    capabilities: Option<BTreeSet<String>>,
}

/// Why a Kubernetes call is refused before it reaches the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The policy was not run with `--allow-context-aware`.
    #[error(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported. \
         The policy was not run with --allow-context-aware, so it may not read the cluster: \
         pass --allow-context-aware with an annotated module whose metadata lists {{apiVersion: {api_version}, kind: {kind}}} in contextAwareResources"
    )]
    NotContextAware { api_version: String, kind: String },
    /// The kind is not in the metadata's `contextAwareResources`.
    #[error(
        "Policy has not been granted access to Kubernetes {api_version}/{kind} resources. The violation has been reported. \
         To grant it, list {{apiVersion: {api_version}, kind: {kind}}} in the metadata's contextAwareResources, \
         annotate the module with it, and run it with --allow-context-aware"
    )]
    Resource { api_version: String, kind: String },
    /// The operation is not in the metadata's `hostCapabilities`.
    #[error(
        "Policy has not been granted access to the 'kubernetes/{operation}' host capability. The violation has been reported. \
         To grant it, list kubernetes/{operation} (or kubernetes/*) in the metadata's hostCapabilities"
    )]
    Capability { operation: String },
    /// Not a Kubernetes operation of the Kubewarden host.
    #[error("refused kubewarden/kubernetes/{operation}: not a host capability this host provides")]
    UnknownOperation { operation: String },
    /// The payload is not the request the operation expects.
    #[error("kubernetes/{operation}: {reason}")]
    BadPayload { operation: String, reason: String },
}

impl Grants {
    /// No grant at all: every Kubernetes call is refused
    /// ([`Refusal::NotContextAware`]). What a host gives a policy run
    /// without `--allow-context-aware`.
    pub fn none() -> Grants {
        Grants { allowed: None }
    }

    /// The grants `--allow-context-aware` gives a module annotated with
    /// `metadata`: its `contextAwareResources` and, if it declares any,
    /// its `hostCapabilities`.
    pub fn from_metadata(metadata: &Metadata) -> Grants {
        Grants {
            allowed: Some(Allowed {
                resources: metadata.context_aware_resources.clone(),
                capabilities: (!metadata.host_capabilities.is_empty())
                    .then(|| metadata.host_capabilities.iter().cloned().collect()),
            }),
        }
    }

    /// `--allow-context-aware` for a module that lists no resource (an
    /// unannotated one): every call is refused as not granted
    /// ([`Refusal::Resource`]).
    pub fn context_aware_without_resources() -> Grants {
        Grants {
            allowed: Some(Allowed {
                resources: BTreeSet::new(),
                capabilities: None,
            }),
        }
    }

    /// Whether any call at all may be granted (`--allow-context-aware`).
    pub fn is_context_aware(&self) -> bool {
        self.allowed.is_some()
    }

    /// Checks a `kubernetes/<operation>` call with the JSON `payload`.
    pub fn check(&self, operation: &str, payload: &Value) -> Result<(), Refusal> {
        if !OPERATIONS.contains(&operation) {
            return Err(Refusal::UnknownOperation {
                operation: operation.to_owned(),
            });
        }
        let field = |name: &str| -> Result<String, Refusal> {
            payload
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| Refusal::BadPayload {
                    operation: operation.to_owned(),
                    reason: format!("the request has no string `{name}`"),
                })
        };
        // can_i names no resource type: only the capability is checked.
        let resource = if operation == "can_i" {
            None
        } else {
            Some(ContextAwareResource {
                api_version: field("api_version")?,
                kind: field("kind")?,
            })
        };
        let Some(allowed) = &self.allowed else {
            let (api_version, kind) =
                resource
                    .map(|r| (r.api_version, r.kind))
                    .unwrap_or_else(|| {
                        (
                            "authorization.k8s.io/v1".into(),
                            "SubjectAccessReview".into(),
                        )
                    });
            return Err(Refusal::NotContextAware { api_version, kind });
        };
        if let Some(capabilities) = &allowed.capabilities {
            let granted = capabilities.contains(&format!("kubernetes/{operation}"))
                || capabilities.contains("kubernetes/*");
            if !granted {
                return Err(Refusal::Capability {
                    operation: operation.to_owned(),
                });
            }
        }
        match resource {
            Some(resource) if !allowed.resources.contains(&resource) => Err(Refusal::Resource {
                api_version: resource.api_version,
                kind: resource.kind,
            }),
            _ => Ok(()),
        }
    }
}

/// Where granted calls get their answers.
#[derive(Debug, Clone, Default)]
pub enum Answers {
    /// No cluster: granted calls fail, naming the flags that provide one.
    #[default]
    Nothing,
    /// A session recorded by kwctl (or by `--record-host-capabilities-interactions`),
    /// answered strictly in order.
    Replay(Replay),
    /// Objects read from manifests, queried like an API server.
    Cluster(FakeCluster),
}

/// The Kubernetes host capability of one evaluation: grants, answers, the
/// index of the next replayed exchange, and optionally a recording of every
/// granted call with its answer.
///
/// It is `Sync`: the cursor and the recording use interior mutability, so
/// `answer` takes `&self`. Call [`KubernetesHost::reset`] before each
/// evaluation. Use [`KubernetesHost::fork`] for another instance that must
/// not share the cursor (one per wasm instance or thread).
#[derive(Debug)]
pub struct KubernetesHost {
    grants: Arc<Grants>,
    answers: Arc<Answers>,
    cursor: AtomicUsize,
    recording: Option<Mutex<Vec<Exchange>>>,
}

impl Default for KubernetesHost {
    fn default() -> Self {
        KubernetesHost::new(Grants::none(), Answers::Nothing)
    }
}

impl KubernetesHost {
    /// A host that checks calls against `grants` and answers them from `answers`.
    pub fn new(grants: Grants, answers: Answers) -> KubernetesHost {
        KubernetesHost {
            grants: Arc::new(grants),
            answers: Arc::new(answers),
            cursor: AtomicUsize::new(0),
            recording: None,
        }
    }

    /// The grants of `metadata` (a `policy-metadata.yml`, as if the module
    /// were annotated with it and run with `--allow-context-aware`), and the
    /// answers of the kwctl session file `session`.
    pub fn from_files(metadata: &Path, session: &Path) -> Result<KubernetesHost> {
        let metadata = Metadata::from_yaml_file(metadata)?;
        Ok(KubernetesHost::new(
            Grants::from_metadata(&metadata),
            Answers::Replay(Replay::load(session)?),
        ))
    }

    /// Records every granted call and its answer from now on (see
    /// [`KubernetesHost::recorded`]).
    pub fn recording(mut self) -> KubernetesHost {
        self.recording = Some(Mutex::new(Vec::new()));
        self
    }

    /// The same grants and answers, with its own cursor at the first
    /// exchange and its own (empty) recording if this one records.
    pub fn fork(&self) -> KubernetesHost {
        KubernetesHost {
            grants: self.grants.clone(),
            answers: self.answers.clone(),
            cursor: AtomicUsize::new(0),
            recording: self.recording.as_ref().map(|_| Mutex::new(Vec::new())),
        }
    }

    /// The grants calls are checked against.
    pub fn grants(&self) -> &Grants {
        &self.grants
    }

    /// Starts a new evaluation: the next call is answered by the first
    /// replayed exchange. The recording is kept.
    pub fn reset(&self) {
        self.cursor.store(0, Ordering::SeqCst);
    }

    /// Answers a waPC `kubewarden/kubernetes/<operation>` call with the JSON
    /// `payload`: the grant check, then the replayed or computed answer.
    /// `Err` is the text returned to the guest.
    pub fn answer(&self, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let request: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("kubernetes/{operation}: the payload is not JSON: {e}"))?;
        self.grants
            .check(operation, &request)
            .map_err(|refusal| refusal.to_string())?;
        let response = match self.answers.as_ref() {
            Answers::Nothing => {
                return Err(format!(
                    "refused kubewarden/kubernetes/{operation}: this host has no cluster; \
                     pass --replay-host-capabilities-interactions FILE or --cluster-state FILE to answer it"
                ));
            }
            Answers::Replay(replay) => {
                let index = self.cursor.fetch_add(1, Ordering::SeqCst);
                replay.answer(index, operation, payload)
            }
            Answers::Cluster(cluster) => cluster.answer(operation, &request),
        };
        if let Some(recording) = &self.recording {
            let exchange = Exchange::new(operation, payload, response.clone())?;
            recording
                .lock()
                .map_err(|_| "the recording lock is poisoned".to_owned())?
                .push(exchange);
        }
        response.map_err(|message| format!("{CALLBACK_FAILURE}{message}"))
    }

    /// The calls recorded so far, as a session ([`Replay::to_yaml`] writes
    /// it in kwctl's format). Empty when this host does not record.
    pub fn recorded(&self) -> Replay {
        let exchanges = self
            .recording
            .as_ref()
            .and_then(|r| r.lock().ok().map(|r| r.clone()))
            .unwrap_or_default();
        Replay::from_exchanges(exchanges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const METADATA: &str = r#"
rules:
- apiGroups: [""]
  apiVersions: [v1]
  resources: [services]
  operations: [UPDATE]
mutating: false
contextAwareResources:
- {apiVersion: v1, kind: Pod}
- {apiVersion: apps/v1, kind: ReplicaSet}
annotations:
  io.kubewarden.policy.title: t
  io.kubewarden.policy.version: 0.1.0
  io.kubewarden.policy.description: d
  io.kubewarden.policy.ociUrl: ghcr.io/o/p
  io.artifacthub.displayName: T
"#;

    const PODS: &[u8] = br#"{"api_version":"v1","kind":"Pod","namespace":"default","label_selector":null,"field_selector":null}"#;

    fn metadata(extra: &str) -> Metadata {
        Metadata::from_yaml_str(&format!("{METADATA}{extra}")).expect("valid metadata")
    }

    fn session() -> Replay {
        Replay::parse(
            "- type: Exchange\n  request: \"!KubernetesListResourceNamespace\\napi_version: v1\\nkind: Pod\\nnamespace: default\\n\"\n  response:\n    type: Success\n    payload: '{\"items\":[]}'\n",
        )
        .expect("parses")
    }

    #[test]
    fn without_allow_context_aware_every_call_is_refused() {
        let host = KubernetesHost::new(Grants::none(), Answers::Replay(session()));
        let err = host
            .answer("list_resources_by_namespace", PODS)
            .expect_err("refused");
        assert!(
            err.starts_with("Policy has not been granted access to Kubernetes v1/Pod resources."),
            "{err}"
        );
        assert!(err.contains("not run with --allow-context-aware"), "{err}");
    }

    #[test]
    fn a_kind_outside_context_aware_resources_is_refused_before_the_replay_moves() {
        let host = KubernetesHost::new(
            Grants::from_metadata(&metadata("")),
            Answers::Replay(session()),
        );
        let services = br#"{"api_version":"v1","kind":"Service","namespace":"default"}"#;
        let err = host
            .answer("list_resources_by_namespace", services)
            .expect_err("refused");
        assert!(
            err.starts_with(
                "Policy has not been granted access to Kubernetes v1/Service resources. The violation has been reported."
            ),
            "{err}"
        );
        assert!(err.contains("contextAwareResources"), "{err}");
        assert!(err.contains("--allow-context-aware"), "{err}");
        // Case-sensitive: `pod` is not `Pod`.
        let lower = br#"{"api_version":"v1","kind":"pod","namespace":"default"}"#;
        assert!(host.answer("list_resources_by_namespace", lower).is_err());
        // The refused calls consumed nothing: the first exchange still answers.
        assert_eq!(
            host.answer("list_resources_by_namespace", PODS),
            Ok(br#"{"items":[]}"#.to_vec())
        );
    }

    #[test]
    fn declared_host_capabilities_are_checked_too() {
        let grants =
            Grants::from_metadata(&metadata("hostCapabilities: [kubernetes/get_resource]\n"));
        let err = grants
            .check(
                "list_resources_by_namespace",
                &serde_json::from_slice(PODS).expect("JSON"),
            )
            .expect_err("not a granted capability");
        assert_eq!(
            err,
            Refusal::Capability {
                operation: "list_resources_by_namespace".into()
            }
        );
        let get = serde_json::json!({"api_version": "apps/v1", "kind": "ReplicaSet", "name": "x", "namespace": "default", "disable_cache": false});
        assert_eq!(grants.check("get_resource", &get), Ok(()));
        let wildcard = Grants::from_metadata(&metadata("hostCapabilities: [kubernetes/*]\n"));
        assert_eq!(
            wildcard.check(
                "list_resources_by_namespace",
                &serde_json::from_slice(PODS).expect("JSON")
            ),
            Ok(())
        );
        assert!(matches!(
            wildcard.check("delete_everything", &get),
            Err(Refusal::UnknownOperation { .. })
        ));
    }

    #[test]
    fn granted_calls_are_recorded_with_their_answers_and_forks_start_over() {
        let host = KubernetesHost::new(
            Grants::from_metadata(&metadata("")),
            Answers::Replay(session()),
        )
        .recording();
        assert!(host.answer("list_resources_by_namespace", PODS).is_ok());
        let err = host
            .answer("list_resources_by_namespace", PODS)
            .expect_err("exhausted");
        assert!(err.contains("exhausted"), "{err}");
        let recorded = host.recorded();
        assert_eq!(recorded.len(), 2);
        let fork = host.fork();
        assert!(fork.recorded().is_empty());
        assert!(fork.answer("list_resources_by_namespace", PODS).is_ok());
        host.reset();
        assert!(host.answer("list_resources_by_namespace", PODS).is_ok());
    }

    #[test]
    fn an_error_answer_reaches_the_guest_as_kwctl_hands_it_and_is_recorded_alone() {
        let forbidden = "pods is forbidden: User \"system:serviceaccount:kubewarden:policy-server-default\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"";
        let session = Replay::parse(&format!(
            "- type: Exchange\n  request: \"!KubernetesListResourceNamespace\\napi_version: v1\\nkind: Pod\\nnamespace: default\\n\"\n  response:\n    type: Error\n    message: '{}'\n",
            forbidden.replace('\'', "''")
        ))
        .expect("parses");
        let host = KubernetesHost::new(
            Grants::from_metadata(&metadata("")),
            Answers::Replay(session),
        )
        .recording();
        let err = host
            .answer("list_resources_by_namespace", PODS)
            .expect_err("an error answer");
        assert_eq!(err, format!("Callback evaluation failure: {forbidden}"));
        // Past the end of the session, kwctl's replay error comes through
        // the same channel, with the same prefix.
        let err = host
            .answer("list_resources_by_namespace", PODS)
            .expect_err("exhausted");
        assert!(
            err.starts_with("Callback evaluation failure: Replay error: "),
            "{err}"
        );
        // The recording keeps the API server's words, as kwctl records them.
        let recorded = host.recorded().to_yaml().expect("writes");
        assert!(
            !recorded.contains("Callback evaluation failure"),
            "{recorded}"
        );
        assert_eq!(
            Replay::parse(&recorded).expect("reads back").answer(
                0,
                "list_resources_by_namespace",
                PODS
            ),
            Err(forbidden.to_owned())
        );
        // A refusal of the grant check is the host's own, without the prefix.
        let services = br#"{"api_version":"v1","kind":"Service","namespace":"default"}"#;
        let err = host
            .answer("list_resources_by_namespace", services)
            .expect_err("refused");
        assert!(
            err.starts_with("Policy has not been granted access"),
            "{err}"
        );
    }

    #[test]
    fn a_granted_call_without_a_cluster_names_the_flags() {
        let host = KubernetesHost::new(Grants::from_metadata(&metadata("")), Answers::Nothing);
        let err = host
            .answer("list_resources_by_namespace", PODS)
            .expect_err("no cluster");
        assert!(err.contains("--cluster-state"), "{err}");
    }
}
