//! `validate` on arbitrary payload bytes. Seeds: the AdmissionRequests in
//! `test_data/requests/`, wrapped as `{"request": ..., "settings": {}}`
//! (`make fuzz` writes them to `fuzz/corpus/validate/`).
//!
//! Fails on a panic, an `Err` (which a waPC host reports as a guest error),
//! an answer that is not a ValidationResponse, an answer that differs
//! between two calls, or a rejection without a message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|payload: &[u8]| {
    let first = match selector_guard::validate(payload) {
        Ok(answer) => answer,
        Err(err) => panic!("validate returned an error: {err}"),
    };
    let second = selector_guard::validate(payload).ok();
    assert_eq!(
        Some(&first),
        second.as_ref(),
        "validate is not deterministic"
    );
    let answer: Value = match serde_json::from_slice(&first) {
        Ok(answer) => answer,
        Err(err) => panic!("the answer is not JSON: {err}"),
    };
    let accepted = answer.get("accepted").and_then(Value::as_bool);
    assert!(accepted.is_some(), "no `accepted` in {answer}");
    if accepted == Some(false) {
        let message = answer.get("message").and_then(Value::as_str);
        assert!(
            message.is_some_and(|m| !m.is_empty()),
            "a rejection without a message: {answer}"
        );
        assert!(
            answer.get("mutated_object").is_none_or(Value::is_null),
            "a rejection with a mutation: {answer}"
        );
    }
});
