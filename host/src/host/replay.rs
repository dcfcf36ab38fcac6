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
//! fields; a missing field equals `null`; `field_masks` compare as sets,
//! so their order and duplicates do not count), else the call fails with
//! `Replay error: unexpected request`. Running past the end fails too.
//!
//! [`Replay::to_yaml`] writes a session in the same format, request fields
//! in the order of the SDK's request structs, so a session recorded here
//! (`cargo xtask run --record-host-capabilities-interactions`) reads back
//! with [`Replay::parse`] and with kwctl.

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use serde_yaml_ng::value::{Tag, TaggedValue};
use std::collections::BTreeSet;
use std::path::Path;

use crate::yaml11::{self, Schema};

/// A recorded session, parsed once.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    exchanges: Vec<Exchange>,
}

/// One host call and its answer, as a session stores it.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The `CallbackRequestType` variant, e.g. `KubernetesGetResource`.
    variant: String,
    fields: Map<String, Value>,
    response: Result<Vec<u8>, String>,
}

/// The `CallbackRequestType` variant kwctl records for a waPC
/// `kubernetes/<operation>` call.
pub fn variant_of(operation: &str) -> Option<&'static str> {
    Some(match operation {
        "list_resources_by_namespace" => "KubernetesListResourceNamespace",
        "list_resources_all" => "KubernetesListResourceAll",
        "get_resource" => "KubernetesGetResource",
        "can_i" => "KubernetesCanI",
        _ => return None,
    })
}

/// The request fields of a variant, in the order of the SDK's request
/// struct (`field_masks` last, as newer SDKs append it).
fn field_order(variant: &str) -> &'static [&'static str] {
    match variant {
        "KubernetesListResourceNamespace" => &[
            "api_version",
            "kind",
            "namespace",
            "label_selector",
            "field_selector",
            "field_masks",
        ],
        "KubernetesListResourceAll" => &[
            "api_version",
            "kind",
            "label_selector",
            "field_selector",
            "field_masks",
        ],
        "KubernetesGetResource" => &[
            "api_version",
            "kind",
            "name",
            "namespace",
            "disable_cache",
            "field_masks",
        ],
        _ => &[],
    }
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

    /// A session made of `exchanges`, in order.
    pub fn from_exchanges(exchanges: Vec<Exchange>) -> Replay {
        Replay { exchanges }
    }

    /// The session in kwctl's format (see the module doc): deterministic,
    /// and read back by [`Replay::parse`] as the same session. An empty
    /// session is `[]`.
    pub fn to_yaml(&self) -> Result<String> {
        let list: Vec<serde_yaml_ng::Value> = self
            .exchanges
            .iter()
            .map(Exchange::to_yaml_value)
            .collect::<Result<_>>()?;
        Ok(serde_yaml_ng::to_string(&list)?)
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
            return Err(format!(
                "Replay error: the list of recorded responses is empty or has been exhausted \
                 (the session holds {} exchange(s); kubernetes/{operation} is host call {} of this evaluation)",
                self.exchanges.len(),
                index + 1
            ));
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
    /// The exchange for a waPC `kubewarden/kubernetes/<operation>` call
    /// with the JSON `payload`, answered with `response` (the answer's
    /// bytes, or the error text returned to the guest).
    pub fn new(
        operation: &str,
        payload: &[u8],
        response: Result<Vec<u8>, String>,
    ) -> Result<Exchange, String> {
        let variant = variant_of(operation)
            .ok_or_else(|| format!("kubernetes/{operation} is not a Kubernetes host capability"))?;
        let fields = match serde_json::from_slice(payload) {
            Ok(Value::Object(fields)) => fields,
            Ok(other) => {
                return Err(format!(
                    "kubernetes/{operation}: the payload must be a JSON object, got {other}"
                ));
            }
            Err(e) => {
                return Err(format!(
                    "kubernetes/{operation}: the payload is not JSON: {e}"
                ));
            }
        };
        Ok(Exchange {
            variant: variant.to_owned(),
            fields,
            response,
        })
    }

    /// `{type: Exchange, request: "!Variant\n...", response: {...}}`.
    fn to_yaml_value(&self) -> Result<serde_yaml_ng::Value> {
        use serde_yaml_ng::{Mapping, Value as Yaml};
        let order = field_order(&self.variant);
        let mut request = Mapping::new();
        let known = order.iter().map(|key| (*key, self.fields.get(*key)));
        let others = self
            .fields
            .iter()
            .filter(|(key, _)| !order.contains(&key.as_str()))
            .map(|(key, value)| (key.as_str(), Some(value)));
        for (key, value) in known.chain(others) {
            let value = serde_yaml_ng::to_value(value.unwrap_or(&Value::Null))?;
            request.insert(Yaml::from(key), value);
        }
        let tagged = Yaml::Tagged(Box::new(TaggedValue {
            tag: Tag::new(self.variant.as_str()),
            value: Yaml::Mapping(request),
        }));
        let mut response = Mapping::new();
        match &self.response {
            Ok(payload) => {
                response.insert("type".into(), "Success".into());
                response.insert(
                    "payload".into(),
                    Yaml::from(String::from_utf8_lossy(payload).into_owned()),
                );
            }
            Err(message) => {
                response.insert("type".into(), "Error".into());
                response.insert("message".into(), Yaml::from(message.as_str()));
            }
        }
        let mut exchange = Mapping::new();
        exchange.insert("type".into(), "Exchange".into());
        exchange.insert(
            "request".into(),
            Yaml::from(serde_yaml_ng::to_string(&tagged)?),
        );
        exchange.insert("response".into(), Yaml::Mapping(response));
        Ok(Yaml::Mapping(exchange))
    }

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
    recorded.keys().chain(got.keys()).all(|k| {
        let (a, b) = (
            recorded.get(k).unwrap_or(&null),
            got.get(k).unwrap_or(&null),
        );
        if k == "field_masks" {
            mask_set(a) == mask_set(b)
        } else {
            a == b
        }
    })
}

/// `field_masks` as a set; `None` for null (no masks), which differs from
/// an empty list. A value that is not a list of strings compares as itself.
fn mask_set(value: &Value) -> Option<Result<BTreeSet<&str>, &Value>> {
    match value {
        Value::Null => None,
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| item.as_str().ok_or(value))
                .collect(),
        ),
        other => Some(Err(other)),
    }
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

    const LIST_PODS: &str = r#"
- type: Exchange
  request: |
    !KubernetesListResourceNamespace
    api_version: v1
    kind: Pod
    namespace: default
    label_selector: null
    field_selector: null
    field_masks:
    - metadata.labels
    - spec.containers.image
  response:
    type: Success
    payload: '{"items":[]}'
"#;

    #[test]
    fn field_masks_compare_as_sets_and_missing_fields_as_null() {
        let replay = Replay::parse(LIST_PODS).expect("parses");
        let reordered = br#"{"api_version":"v1","kind":"Pod","namespace":"default","field_masks":["spec.containers.image","metadata.labels","metadata.labels"]}"#;
        assert_eq!(
            replay.answer(0, "list_resources_by_namespace", reordered),
            Ok(br#"{"items":[]}"#.to_vec())
        );
        for different in [
            br#"{"api_version":"v1","kind":"Pod","namespace":"default","field_masks":["metadata.labels"]}"#.as_slice(),
            br#"{"api_version":"v1","kind":"Pod","namespace":"default","field_masks":null}"#,
            br#"{"api_version":"v1","kind":"Pod","namespace":"default","field_masks":[]}"#,
            br#"{"api_version":"v1","kind":"Pod","namespace":"default","label_selector":"app=rng","field_masks":["metadata.labels","spec.containers.image"]}"#,
        ] {
            let err = replay
                .answer(0, "list_resources_by_namespace", different)
                .expect_err("a different request");
            assert!(err.starts_with("Replay error: unexpected request"), "{err}");
        }
    }

    #[test]
    fn an_exhausted_session_says_so() {
        let replay = Replay::parse("[]").expect("an empty session");
        assert!(replay.is_empty());
        let err = replay
            .answer(0, "get_resource", b"{}")
            .expect_err("nothing to answer");
        assert!(err.contains("empty or has been exhausted"), "{err}");
        assert!(err.contains("holds 0 exchange(s)"), "{err}");
    }

    #[test]
    fn a_written_session_is_kwctls_format_and_reads_back() {
        let list = Exchange::new(
            "list_resources_by_namespace",
            br#"{"field_masks":["metadata.labels"],"kind":"Pod","api_version":"v1","namespace":"default","label_selector":null,"field_selector":null}"#,
            Ok(br#"{"apiVersion":"v1","kind":"PodList","items":[]}"#.to_vec()),
        )
        .expect("an exchange");
        let get = Exchange::new(
            "get_resource",
            br#"{"api_version":"apps/v1","kind":"ReplicaSet","name":"yes","namespace":"default","disable_cache":false}"#,
            Err("Cannot find apps/v1/ReplicaSet named 'yes' inside of namespace 'Some(\"default\")'".into()),
        )
        .expect("an exchange");
        let replay = Replay::from_exchanges(vec![list, get]);
        let text = replay.to_yaml().expect("writes");
        assert!(
            text.contains("!KubernetesListResourceNamespace\n    api_version: v1\n    kind: Pod\n    namespace: default\n    label_selector: null\n    field_selector: null\n    field_masks:\n    - metadata.labels\n"),
            "{text}"
        );
        assert!(
            text.contains("name: yes\n    namespace: default\n    disable_cache: false\n    field_masks: null\n"),
            "{text}"
        );
        let back = Replay::parse(&text).expect("reads back");
        assert_eq!(back.to_yaml().expect("writes"), text);
        assert_eq!(back.len(), 2);
        assert!(back
            .answer(1, "get_resource", br#"{"api_version":"apps/v1","kind":"ReplicaSet","name":"yes","namespace":"default","disable_cache":false}"#)
            .is_err_and(|e| e.starts_with("Cannot find")));
        assert_eq!(
            Replay::from_exchanges(Vec::new())
                .to_yaml()
                .expect("writes"),
            "[]\n"
        );
    }
}
