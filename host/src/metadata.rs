//! Kubewarden policy metadata: the model of `policy-metadata.yml`, its
//! validation, and the `io.kubewarden.metadata` custom section that carries it
//! inside an annotated module.
//!
//! The model serializes exactly as policy-evaluator's `policy_metadata::Metadata`
//! (field names, order, enum spellings), so kwctl, policy-server and the
//! Kubewarden controller read what this module writes. One deliberate
//! difference: annotations are a `BTreeMap`, so the JSON is deterministic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// Name of the wasm custom section holding the metadata as JSON.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// Annotation keys, as policy-evaluator's `constants.rs` spells them.
pub mod keys {
    pub const TITLE: &str = "io.kubewarden.policy.title";
    pub const VERSION: &str = "io.kubewarden.policy.version";
    pub const DESCRIPTION: &str = "io.kubewarden.policy.description";
    pub const AUTHOR: &str = "io.kubewarden.policy.author";
    pub const URL: &str = "io.kubewarden.policy.url";
    pub const OCI_URL: &str = "io.kubewarden.policy.ociUrl";
    pub const SOURCE: &str = "io.kubewarden.policy.source";
    pub const LICENSE: &str = "io.kubewarden.policy.license";
    pub const USAGE: &str = "io.kubewarden.policy.usage";
    pub const SEVERITY: &str = "io.kubewarden.policy.severity";
    pub const CATEGORY: &str = "io.kubewarden.policy.category";
    pub const DISPLAY_NAME: &str = "io.artifacthub.displayName";
    pub const RESOURCES: &str = "io.artifacthub.resources";
    pub const KEYWORDS: &str = "io.artifacthub.keywords";
    pub const HIDDEN_UI: &str = "io.kubewarden.hidden-ui";
    /// The OCI annotation `push` derives from [`SOURCE`].
    pub const OCI_IMAGE_SOURCE: &str = "org.opencontainers.image.source";
}

/// Annotations `annotate` refuses to go without.
pub const REQUIRED_ANNOTATIONS: [&str; 5] = [
    keys::TITLE,
    keys::VERSION,
    keys::DESCRIPTION,
    keys::OCI_URL,
    keys::DISPLAY_NAME,
];

/// Keys accepted at the top level of `policy-metadata.yml`.
const TOP_LEVEL_KEYS: [&str; 11] = [
    "rules",
    "mutating",
    "backgroundAudit",
    "executionMode",
    "policyType",
    "contextAwareResources",
    "hostCapabilities",
    "minimumKubewardenVersion",
    "annotations",
    "protocolVersion",
    // Pre-1.10 boolean, still accepted by kwctl and ignored.
    "contextAware",
];

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    #[serde(rename = "CREATE")]
    Create,
    #[serde(rename = "UPDATE")]
    Update,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "*")]
    All,
}

/// One admission rule, as in a ValidatingWebhookConfiguration.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub api_groups: Vec<String>,
    pub api_versions: Vec<String>,
    pub resources: Vec<String>,
    pub operations: Vec<Operation>,
}

/// A kind the policy may read from the cluster: an exact, case-sensitive
/// `{apiVersion, kind}` pair (`v1`/`Pod`, `apps/v1`/`ReplicaSet`).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextAwareResource {
    pub api_version: String,
    pub kind: String,
}

/// The waPC protocol a module speaks, as the SDK's `ProtocolVersion` spells it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolVersion {
    #[serde(rename = "Unknown")]
    Unknown,
    #[serde(rename = "v1")]
    V1,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    #[default]
    #[serde(rename = "kubewarden-wapc")]
    KubewardenWapc,
    #[serde(rename = "opa")]
    Opa,
    #[serde(rename = "gatekeeper")]
    OpaGatekeeper,
    #[serde(rename = "wasi")]
    Wasi,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyType {
    #[default]
    #[serde(rename = "kubernetes")]
    Kubernetes,
    #[serde(rename = "raw")]
    Raw,
}

/// Policy metadata; field order is the serialization order kwctl writes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    #[serde(default)]
    pub protocol_version: Option<ProtocolVersion>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    pub mutating: bool,
    #[serde(default = "default_true")]
    pub background_audit: bool,
    #[serde(default)]
    pub execution_mode: ExecutionMode,
    #[serde(default)]
    pub policy_type: PolicyType,
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// Host capabilities the policy may call, `namespace/operation` or
    /// `namespace/*` (e.g. `kubernetes/get_resource`). Empty means "not
    /// declared": hosts then check only `contextAwareResources`, as before
    /// policy-server 1.35. Omitted from the JSON when empty, so metadata
    /// written before the key existed reads and writes the same.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_capabilities: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_kubewarden_version: Option<semver::Version>,
}

fn default_true() -> bool {
    true
}

/// Why metadata is refused. Every variant names the offending part.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error("unknown top-level key `{0}` in the metadata")]
    UnknownKey(String),
    #[error("missing required annotation `{0}`")]
    MissingAnnotation(&'static str),
    #[error("annotation `{0}` is empty")]
    EmptyAnnotation(&'static str),
    #[error("annotation `{key}`: {value:?} is not a semantic version: {reason}")]
    NotSemver {
        key: &'static str,
        value: String,
        reason: String,
    },
    #[error("rules[{rule}].{field}: must not be empty")]
    EmptyRuleField { rule: usize, field: &'static str },
    #[error("rules[{rule}].{field}: no other elements can be defined when '*' is used")]
    AsteriskMixed { rule: usize, field: &'static str },
    #[error("rules[{rule}].resources: {reason}")]
    BadResources { rule: usize, reason: String },
    #[error("contextAwareResources: apiVersion and kind must not be empty")]
    EmptyContextAwareResource,
    #[error(
        "hostCapabilities[{index}]: {value:?} is not `namespace/operation` or `namespace/*` (e.g. `kubernetes/get_resource`)"
    )]
    BadHostCapability { index: usize, value: String },
    #[error("protocolVersion is missing; `annotate` sets it from the module")]
    NoProtocolVersion,
    #[error("protocolVersion is Unknown, but executionMode is kubewarden-wapc")]
    UnknownProtocolVersion,
}

impl Metadata {
    /// Reads and validates `policy-metadata.yml` (without `protocolVersion`,
    /// which `annotate` adds). Unknown top-level keys are refused, so a typo
    /// such as `backgroudAudit` cannot silently fall back to a default.
    pub fn from_yaml_file(path: &Path) -> anyhow::Result<Metadata> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Metadata::from_yaml_str(&text)
            .with_context(|| format!("invalid metadata in {}", path.display()))
    }

    /// See [`Metadata::from_yaml_file`].
    pub fn from_yaml_str(text: &str) -> anyhow::Result<Metadata> {
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(text)?;
        if let serde_yaml_ng::Value::Mapping(map) = &value {
            for key in map.keys() {
                let key = key.as_str().unwrap_or_default();
                if !TOP_LEVEL_KEYS.contains(&key) {
                    return Err(MetadataError::UnknownKey(key.to_string()).into());
                }
            }
        }
        let metadata: Metadata = serde_yaml_ng::from_value(value)?;
        metadata.validate_source()?;
        Ok(metadata)
    }

    /// The annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }

    /// Sets (or replaces) one annotation.
    pub fn set_annotation(&mut self, key: &str, value: String) {
        self.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(key.to_string(), value);
    }

    /// `io.kubewarden.policy.version`, which [`Metadata::validate_source`]
    /// guarantees is present and semver.
    pub fn version(&self) -> Result<semver::Version, MetadataError> {
        let value = self
            .annotation(keys::VERSION)
            .ok_or(MetadataError::MissingAnnotation(keys::VERSION))?;
        semver::Version::parse(value).map_err(|e| MetadataError::NotSemver {
            key: keys::VERSION,
            value: value.to_string(),
            reason: e.to_string(),
        })
    }

    /// Checks what a metadata file must satisfy before annotation: the rules
    /// (the checks policy-evaluator's validator runs), the context-aware
    /// resources, the required annotations, and a semver version.
    pub fn validate_source(&self) -> Result<(), MetadataError> {
        for (i, rule) in self.rules.iter().enumerate() {
            validate_rule(i, rule)?;
        }
        if self
            .context_aware_resources
            .iter()
            .any(|r| r.api_version.is_empty() || r.kind.is_empty())
        {
            return Err(MetadataError::EmptyContextAwareResource);
        }
        for (index, capability) in self.host_capabilities.iter().enumerate() {
            let well_formed = capability
                .split_once('/')
                .is_some_and(|(namespace, operation)| {
                    !namespace.is_empty()
                        && !operation.is_empty()
                        && !capability.chars().any(char::is_whitespace)
                });
            if !well_formed {
                return Err(MetadataError::BadHostCapability {
                    index,
                    value: capability.clone(),
                });
            }
        }
        for key in REQUIRED_ANNOTATIONS {
            match self.annotation(key) {
                None => return Err(MetadataError::MissingAnnotation(key)),
                Some(value) if value.trim().is_empty() => {
                    return Err(MetadataError::EmptyAnnotation(key));
                }
                Some(_) => {}
            }
        }
        self.version()?;
        Ok(())
    }

    /// [`Metadata::validate_source`] plus [`Metadata::validate_protocol`].
    pub fn validate_annotated(&self) -> Result<(), MetadataError> {
        self.validate_source()?;
        self.validate_protocol()
    }

    /// The check policy-server makes before loading a module: a waPC policy
    /// carries a known `protocolVersion`.
    pub fn validate_protocol(&self) -> Result<(), MetadataError> {
        match (self.execution_mode, self.protocol_version) {
            (_, None) => Err(MetadataError::NoProtocolVersion),
            (ExecutionMode::KubewardenWapc, Some(ProtocolVersion::Unknown)) => {
                Err(MetadataError::UnknownProtocolVersion)
            }
            _ => Ok(()),
        }
    }

    /// The metadata embedded in `module`, if any. Like policy-evaluator, the
    /// first `io.kubewarden.metadata` section wins, and unknown fields written
    /// by newer tools are ignored.
    pub fn from_module(module: &[u8]) -> anyhow::Result<Option<Metadata>> {
        match crate::wasm::custom_section(module, METADATA_SECTION)? {
            None => Ok(None),
            Some(data) => serde_json::from_slice(data).map(Some).with_context(|| {
                format!("custom section `{METADATA_SECTION}` is not valid metadata")
            }),
        }
    }
}

/// The checks of policy-evaluator's `Rule` validator, with named errors.
fn validate_rule(i: usize, rule: &Rule) -> Result<(), MetadataError> {
    let string_fields: [(&'static str, &Vec<String>); 3] = [
        ("apiGroups", &rule.api_groups),
        ("apiVersions", &rule.api_versions),
        ("resources", &rule.resources),
    ];
    for (field, values) in string_fields {
        if values.is_empty() {
            return Err(MetadataError::EmptyRuleField { rule: i, field });
        }
        if field != "resources" && values.len() > 1 && values.iter().any(|v| v == "*") {
            return Err(MetadataError::AsteriskMixed { rule: i, field });
        }
    }
    if rule.operations.is_empty() {
        return Err(MetadataError::EmptyRuleField {
            rule: i,
            field: "operations",
        });
    }
    if rule.operations.len() > 1 && rule.operations.contains(&Operation::All) {
        return Err(MetadataError::AsteriskMixed {
            rule: i,
            field: "operations",
        });
    }
    validate_resources(&rule.resources)
        .map_err(|reason| MetadataError::BadResources { rule: i, reason })
}

/// Kubernetes' `validateResources` (admissionregistration validation), as
/// policy-evaluator transposes it.
fn validate_resources(resources: &[String]) -> Result<(), String> {
    let mut with_wildcard_subresource = BTreeSet::new(); // x/*
    let mut wildcard_resource_of = BTreeSet::new(); // */x
    let mut has_double_wildcard = false;
    let mut has_single_wildcard = false;
    let mut has_resource_without_subresource = false;
    for resource in resources {
        if resource.is_empty() {
            return Err("empty resource is not allowed".into());
        }
        match resource.as_str() {
            "*/*" => has_double_wildcard = true,
            "*" => has_single_wildcard = true,
            _ => {}
        }
        let Some((res, sub)) = resource.split_once('/') else {
            has_resource_without_subresource = resource != "*";
            continue;
        };
        if with_wildcard_subresource.contains(res) {
            return Err(format!(
                "if '{res}/*' is present, must not specify {resource}"
            ));
        }
        if wildcard_resource_of.contains(sub) {
            return Err(format!(
                "if '*/{sub}' is present, must not specify {resource}"
            ));
        }
        if sub == "*" {
            with_wildcard_subresource.insert(res.to_string());
        }
        if res == "*" {
            wildcard_resource_of.insert(sub.to_string());
        }
    }
    if resources.len() > 1 && has_double_wildcard {
        return Err("if '*/*' is present, must not specify other resources".into());
    }
    if has_single_wildcard && has_resource_without_subresource {
        return Err(
            "if '*' is present, must not specify other resources without subresources".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
rules:
- apiGroups: [apps]
  apiVersions: [v1]
  resources: [daemonsets]
  operations: [CREATE, UPDATE]
mutating: true
annotations:
  io.kubewarden.policy.title: t
  io.kubewarden.policy.version: 0.1.0
  io.kubewarden.policy.description: d
  io.kubewarden.policy.ociUrl: ghcr.io/o/p
  io.artifacthub.displayName: T
"#;

    #[test]
    fn minimal_metadata_is_valid_and_serializes_like_policy_evaluator() {
        let mut m = Metadata::from_yaml_str(MINIMAL).expect("valid");
        m.protocol_version = Some(ProtocolVersion::V1);
        let json = serde_json::to_string(&m).expect("serializes");
        assert!(
            json.starts_with(r#"{"protocolVersion":"v1","rules":[{"apiGroups":["apps"],"apiVersions":["v1"],"resources":["daemonsets"],"operations":["CREATE","UPDATE"]}],"annotations":{"#),
            "{json}"
        );
        assert!(
            json.ends_with(r#""mutating":true,"backgroundAudit":true,"executionMode":"kubewarden-wapc","policyType":"kubernetes","contextAwareResources":[]}"#),
            "{json}"
        );
        assert_eq!(m.validate_annotated(), Ok(()));
    }

    #[test]
    fn each_required_annotation_is_named_when_missing() {
        for key in REQUIRED_ANNOTATIONS {
            let text: String = MINIMAL
                .lines()
                .filter(|l| !l.trim_start().starts_with(&format!("{key}:")))
                .collect::<Vec<_>>()
                .join("\n");
            let err = Metadata::from_yaml_str(&text).expect_err(key);
            assert_eq!(
                err.downcast_ref::<MetadataError>(),
                Some(&MetadataError::MissingAnnotation(key)),
                "{key}: {err:#}"
            );
        }
    }

    #[test]
    fn bad_rules_are_named() {
        let cases = [
            (
                "apiGroups: [apps]",
                "apiGroups: []",
                "rules[0].apiGroups: must not be empty",
            ),
            (
                "apiGroups: [apps]",
                "apiGroups: [apps, '*']",
                "rules[0].apiGroups: no other elements",
            ),
            (
                "operations: [CREATE, UPDATE]",
                "operations: ['*', CREATE]",
                "rules[0].operations: no other",
            ),
            (
                "operations: [CREATE, UPDATE]",
                "operations: []",
                "rules[0].operations: must not be empty",
            ),
            (
                "resources: [daemonsets]",
                "resources: ['*/*', pods]",
                "if '*/*' is present",
            ),
            (
                "resources: [daemonsets]",
                "resources: ['*', pods]",
                "if '*' is present",
            ),
            (
                "resources: [daemonsets]",
                "resources: ['']",
                "empty resource",
            ),
            (
                "resources: [daemonsets]",
                "resources: [pods/*, pods/log]",
                "if 'pods/*' is present",
            ),
        ];
        for (from, to, fragment) in cases {
            let err = Metadata::from_yaml_str(&MINIMAL.replace(from, to)).expect_err(to);
            assert!(format!("{err:#}").contains(fragment), "{to}: {err:#}");
        }
        let err = Metadata::from_yaml_str(&MINIMAL.replace("CREATE, UPDATE", "CREATE, PATCH"))
            .expect_err("PATCH");
        assert!(
            format!("{err:#}").contains("unknown variant `PATCH`"),
            "{err:#}"
        );
    }

    #[test]
    fn typos_and_bad_versions_are_refused() {
        let err = Metadata::from_yaml_str(&format!("{MINIMAL}backgroudAudit: false\n"))
            .expect_err("typo");
        assert!(
            format!("{err:#}").contains("unknown top-level key `backgroudAudit`"),
            "{err:#}"
        );
        let err = Metadata::from_yaml_str(&MINIMAL.replace("version: 0.1.0", "version: v0.1"))
            .expect_err("v0.1");
        assert!(
            format!("{err:#}").contains("not a semantic version"),
            "{err:#}"
        );
    }

    #[test]
    fn host_capabilities_are_read_checked_and_omitted_when_empty() {
        let text = format!(
            "{MINIMAL}hostCapabilities: [kubernetes/get_resource, kubernetes/*]\ncontextAwareResources:\n- {{apiVersion: v1, kind: Pod}}\n"
        );
        let m = Metadata::from_yaml_str(&text).expect("valid");
        assert_eq!(
            m.host_capabilities,
            ["kubernetes/get_resource", "kubernetes/*"]
        );
        let json = serde_json::to_string(&m).expect("serializes");
        assert!(
            json.ends_with(r#""contextAwareResources":[{"apiVersion":"v1","kind":"Pod"}],"hostCapabilities":["kubernetes/get_resource","kubernetes/*"]}"#),
            "{json}"
        );
        let plain = serde_json::to_string(&Metadata::from_yaml_str(MINIMAL).expect("valid"))
            .expect("serializes");
        assert!(!plain.contains("hostCapabilities"), "{plain}");
        for bad in [
            "kubernetes",
            "/get_resource",
            "kubernetes/",
            "kubernetes/get resource",
        ] {
            let err = Metadata::from_yaml_str(&format!("{MINIMAL}hostCapabilities: [\"{bad}\"]\n"))
                .expect_err(bad);
            assert!(
                format!("{err:#}").contains("hostCapabilities[0]"),
                "{bad}: {err:#}"
            );
        }
    }

    #[test]
    fn unannotated_metadata_is_not_publishable() {
        let m = Metadata::from_yaml_str(MINIMAL).expect("valid");
        assert_eq!(
            m.validate_annotated(),
            Err(MetadataError::NoProtocolVersion)
        );
    }
}
