//! Answers to `kubewarden/kubernetes/*` host calls from a session recorded
//! by kwctl (`--record-host-capabilities-interactions`), the format
//! `--replay-host-capabilities-interactions` reads:
//!
//! ```yaml
//! - type: Exchange
//!   request: |
//!     !KubernetesListResourceNamespace
//!     api_version: v1
//!     kind: Pod
//!     namespace: default
//!     label_selector: null
//!     field_selector: null
//!   response:
//!     type: Success            # or `type: Error` with `message: ...`
//!     payload: '{"apiVersion":"v1","kind":"List","items":[]}'
//! ```
//!
//! As in kwctl, exchanges are consumed in order: the n-th host call of an
//! evaluation must equal the n-th recorded request (same variant, same
//! fields; a missing field equals `null`), else the call fails with
//! `Replay error: unexpected request`. Running past the end fails too.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use std::path::Path;

use crate::yaml11::{self, Schema};

/// A recorded session, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    exchanges: Vec<Exchange>,
}

#[derive(Debug, Clone, PartialEq)]
struct Exchange {
    /// The `CallbackRequestType` variant, e.g. `KubernetesGetResource`.
    variant: String,
    fields: Map<String, Value>,
    response: Result<Vec<u8>, String>,
}

/// The `CallbackRequestType` variant kwctl records for a waPC
/// `kubernetes/<operation>` call.
fn variant_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "list_resources_by_namespace" => "KubernetesListResourceNamespace",
        "list_resources_all" => "KubernetesListResourceAll",
        "get_resource" => "KubernetesGetResource",
        "can_i" => "KubernetesCanI",
        _ => return None,
    })
}

impl Replay {
    /// Reads a session file.
    pub fn load(path: &Path) -> Result<Replay> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read host capabilities interactions file {}",
                path.display()
            )
        })?;
        Replay::parse(&text)
            .with_context(|| format!("{}: not a host capabilities session", path.display()))
    }

    /// Parses a session (a YAML list of exchanges).
    pub fn parse(text: &str) -> Result<Replay> {
        let docs = yaml11::parse(text, Schema::Core)?;
        let list = match docs.as_slice() {
            [] => Vec::new(),
            [doc] => match &doc.value {
                Value::Array(items) => items.clone(),
                Value::Null => Vec::new(),
                _ => bail!("expected a list of exchanges"),
            },
            _ => bail!("expected one YAML document"),
        };
        let exchanges = list
            .iter()
            .enumerate()
            .map(|(i, item)| Exchange::parse(item).with_context(|| format!("exchange {}", i + 1)));
        Ok(Replay {
            exchanges: exchanges.collect::<Result<_>>()?,
        })
    }

    /// Number of recorded exchanges.
    pub fn len(&self) -> usize {
        self.exchanges.len()
    }

    /// Whether the session holds no exchange.
    pub fn is_empty(&self) -> bool {
        self.exchanges.is_empty()
    }

    /// Answers the `index`-th host call of an evaluation, a waPC
    /// `kubewarden/kubernetes/<operation>` call with a JSON `payload`.
    pub fn answer(&self, index: usize, operation: &str, payload: &[u8]) -> Result<Vec<u8>, String> {
        let Some(exchange) = self.exchanges.get(index) else {
            return Err("the list of recorded responses is empty or has been exhausted".to_owned());
        };
        let got: Value = serde_json::from_slice(payload)
            .map_err(|e| format!("kubernetes/{operation}: the payload is not JSON: {e}"))?;
        let variant = variant_of(operation).unwrap_or(operation);
        let same = variant == exchange.variant && same_fields(&exchange.fields, got.as_object());
        if !same {
            return Err(format!(
                "Replay error: unexpected request. Was expecting {} {}, got {variant} {got} instead",
                exchange.variant,
                Value::Object(exchange.fields.clone())
            ));
        }
        exchange.response.clone()
    }
}

impl Exchange {
    fn parse(item: &Value) -> Result<Exchange> {
        let text = item
            .get("request")
            .and_then(Value::as_str)
            .context("`request` must be a string")?;
        let docs = yaml11::parse(text, Schema::Core).context("`request` is not YAML")?;
        let [doc] = docs.as_slice() else {
            bail!("`request` must hold one YAML document")
        };
        let variant = doc.tag.clone().context("`request` has no `!Variant` tag")?;
        let fields = match &doc.value {
            Value::Object(map) => map.clone(),
            Value::Null => Map::new(),
            other => bail!("`request` must be a mapping, got {other}"),
        };
        let response = item.get("response").context("missing `response`")?;
        let response = match response.get("type").and_then(Value::as_str) {
            Some("Success") => {
                let payload = response
                    .get("payload")
                    .and_then(Value::as_str)
                    .context("`payload` must be a string")?;
                Ok(payload.as_bytes().to_vec())
            }
            Some("Error") => Err(response
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()),
            other => bail!("response `type` must be Success or Error, got {other:?}"),
        };
        Ok(Exchange {
            variant,
            fields,
            response,
        })
    }
}

fn same_fields(recorded: &Map<String, Value>, got: Option<&Map<String, Value>>) -> bool {
    let empty = Map::new();
    let got = got.unwrap_or(&empty);
    let null = Value::Null;
    recorded
        .keys()
        .chain(got.keys())
        .all(|k| recorded.get(k).unwrap_or(&null) == got.get(k).unwrap_or(&null))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &str = r#"
- type: Exchange
  request: "!KubernetesListResourceNamespace\napi_version: v1\nkind: Pod\nnamespace: default\nlabel_selector: app=rng\nfield_selector: null\n"
  response:
    type: Success
    payload: '{"apiVersion":"v1","kind":"List","items":[]}'
- type: Exchange
  request: |
    !KubernetesGetResource
    api_version: v1
    kind: Namespace
    name: "yes"
    namespace: null
    disable_cache: false
  response:
    type: Error
    message: not found
"#;

    #[test]
    fn answers_in_order_and_checks_each_request() {
        let replay = Replay::parse(SESSION).expect("parses");
        assert_eq!(replay.len(), 2);
        let list = br#"{"api_version":"v1","kind":"Pod","namespace":"default","label_selector":"app=rng","field_selector":null,"field_masks":null}"#;
        assert_eq!(
            replay.answer(0, "list_resources_by_namespace", list),
            Ok(br#"{"apiVersion":"v1","kind":"List","items":[]}"#.to_vec())
        );
        let get = br#"{"api_version":"v1","kind":"Namespace","name":"yes","namespace":null,"disable_cache":false}"#;
        assert_eq!(
            replay.answer(1, "get_resource", get),
            Err("not found".to_owned())
        );
        let err = replay
            .answer(0, "list_resources_all", list)
            .expect_err("wrong variant");
        assert!(err.starts_with("Replay error: unexpected request"), "{err}");
        let err = replay
            .answer(2, "get_resource", get)
            .expect_err("exhausted");
        assert!(err.contains("exhausted"), "{err}");
    }
}
