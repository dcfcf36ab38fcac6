//! Many objects through one compiled policy, on every core.
//!
//! Each worker thread owns one policy instance (a wasm store), reused for
//! the objects it takes, and takes the next object from a shared counter;
//! answers come back in input order whatever order they finish in. An
//! instance whose call failed is replaced before its next object.

use anyhow::{Result, anyhow};
use selector_guard_host::host::{Instance, Policy, ValidationResponse, admission_request};
use selector_guard_host::manifests::{self, Operation};
use serde_json::Value;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The AdmissionRequest kwctl would send for a CREATE of `object`.
pub fn create_request(object: &Value) -> Result<Value> {
    admission_request(&manifests::admission_request(
        Operation::Create,
        Some(object),
        None,
    )?)
}

/// The policy's answer for each request, in order. `settings` must have
/// been validated.
pub fn evaluate_all(
    policy: &Policy,
    requests: &[Value],
    settings: &Value,
) -> Vec<Result<ValidationResponse>> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(requests.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<Result<ValidationResponse>>>> =
        Mutex::new((0..requests.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                let mut instance: Option<Instance> = None;
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(request) = requests.get(index) else {
                        break;
                    };
                    let answer = match instance.take() {
                        Some(live) => Ok(live),
                        None => policy.instantiate(),
                    }
                    .and_then(|live| {
                        let answer = live.validate(request, settings);
                        if answer.is_ok() {
                            instance = Some(live);
                        }
                        answer
                    });
                    if let Ok(mut answers) = answers.lock()
                        && let Some(slot) = answers.get_mut(index)
                    {
                        *slot = Some(answer);
                    }
                }
            });
        }
    });
    answers
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|| Err(anyhow!("the object was not evaluated"))))
        .collect()
}

/// `settings` checked by the policy's `validate_settings`, as kwctl does.
pub fn check_settings(policy: &Policy, settings: &Value) -> Result<()> {
    let verdict = policy.validate_settings(settings)?;
    if verdict.valid {
        Ok(())
    } else {
        Err(anyhow!(
            "Provided settings are not valid: {:?}",
            verdict.message.unwrap_or_default()
        ))
    }
}
