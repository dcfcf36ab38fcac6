//! The benchmark floor: the least a Kubewarden policy can do. `validate`
//! reads the whole payload into a `serde_json::Value` and accepts, so its
//! cost is the JSON parse, the response and the waPC round trip.
//! `cargo xtask bench --baseline floor.wasm` divides selector-guard's time
//! by this module's, request by request.

use kubewarden_policy_sdk::settings::SettingsValidationResponse;
use serde_json::Value;
use wapc_guest::CallResult;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    wapc_guest::register_function("validate", validate);
    wapc_guest::register_function("validate_settings", validate_settings);
    wapc_guest::register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

/// Parses `{"request": ..., "settings": ...}` into a `Value` and accepts.
/// A payload that is not JSON is a guest error, as it would be for a policy
/// that cannot decode its request.
fn validate(payload: &[u8]) -> CallResult {
    let request: Value = serde_json::from_slice(payload)?;
    drop(request);
    kubewarden_policy_sdk::accept_request()
}

/// Every setting is valid: the floor reads none.
fn validate_settings(_payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&SettingsValidationResponse {
        valid: true,
        message: None,
    })?)
}
