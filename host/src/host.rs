//! What a Kubewarden host gives a policy, as kwctl and policy-server give
//! it: the AdmissionRequest it is sent ([`admission_request`]), the answer
//! types ([`ValidationResponse`], [`SettingsValidation`], and the
//! [`AdmissionResponse`] kwctl prints), and the answers to its
//! `kubewarden/kubernetes/*` host calls ([`KubernetesHost`]: the grant
//! check, then a kwctl session [`Replay`] or a [`FakeCluster`]).
//!
//! None of this needs a wasm runtime: a policy linked natively calls
//! [`KubernetesHost::answer`] itself (its host-call boundary, e.g.
//! `selector_guard::cluster::Host`). With the `wasm` feature, `Policy`
//! and `Instance` run a `.wasm` module on the waPC host kwctl uses
//! (wasmtime), and route its host calls here.

mod admission;
mod cluster;
mod kubernetes;
mod replay;

pub use admission::{
    AdmissionResponse, AdmissionResponseStatus, MUTATED_DELETE_MESSAGE, SettingsValidation,
    ValidationResponse, admission_request, settings_map,
};
pub use cluster::FakeCluster;
pub use kubernetes::{Answers, CALLBACK_FAILURE, Grants, KubernetesHost, Refusal};
pub use replay::{Exchange, Replay};

#[cfg(feature = "wasm")]
mod runtime;
#[cfg(feature = "wasm")]
pub use runtime::{Instance, Policy};
