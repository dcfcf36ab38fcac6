//! The YAML 1.1 reader (`selector_guard_host::yaml11`) on arbitrary text:
//! the reader `scaffold`, `check` and `fix` use on files from pull
//! requests. Seeds: `make fuzz` copies the manifests of
//! `test_data/manifests/` and `cli/tests/data/manifests/` to
//! `fuzz/corpus/yaml11/`.
//!
//! Fails on a panic or an abort; libFuzzer's `-rss_limit_mb` (2 GiB by
//! default) and `-timeout` catch a reader that runs away in memory or time
//! (aliases, nesting and size are bounded, see `yaml11::Limits`). For text
//! that reads, the positions must lead back to the values: every top-level
//! key of a mapping document is found by its JSON pointer.

#![no_main]

use libfuzzer_sys::fuzz_target;
use selector_guard_host::yaml11::{self, Limits, Schema};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for schema in [Schema::Yaml11, Schema::Core] {
        let Ok(docs) = yaml11::parse_positioned(text, schema, Limits::default()) else {
            continue;
        };
        for doc in docs {
            let (Some(root), Some(map)) = (&doc.root, doc.value.as_object()) else {
                continue;
            };
            for key in map.keys() {
                let pointer = format!("/{}", key.replace('~', "~0").replace('/', "~1"));
                // Merged keys (`<<`) have no node of their own: an Err is fine.
                let _ = root.pointer(&pointer);
            }
        }
    }
});
