//! `validate_settings` on arbitrary bytes. Seeds: `make fuzz` writes a few
//! settings documents to `fuzz/corpus/validate_settings/`.
//!
//! Fails on a panic, an `Err`, an answer that is not
//! `{"valid": bool, "message": ...}`, a refusal without a message, or an
//! answer that disagrees with `Settings::from_json`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use selector_guard::settings::Settings;
use serde_json::Value;

fuzz_target!(|settings: &[u8]| {
    let answer = match selector_guard::validate_settings(settings) {
        Ok(answer) => answer,
        Err(err) => panic!("validate_settings returned an error: {err}"),
    };
    let answer: Value = match serde_json::from_slice(&answer) {
        Ok(answer) => answer,
        Err(err) => panic!("the answer is not JSON: {err}"),
    };
    let valid = answer.get("valid").and_then(Value::as_bool);
    let message = answer.get("message").and_then(Value::as_str);
    match valid {
        Some(true) => assert!(Settings::from_json(settings).is_ok(), "{answer}"),
        Some(false) => {
            assert!(message.is_some_and(|m| !m.is_empty()), "{answer}");
            assert!(Settings::from_json(settings).is_err(), "{answer}");
        }
        None => panic!("no `valid` in {answer}"),
    }
});
