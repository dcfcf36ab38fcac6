//! Policy settings: camelCase, unknown keys refused, every field defaulted so
//! that `{}` and `null` give a sensible policy.

use crate::kinds::{APPS_KINDS, Kind, WORKLOAD_KINDS};
use serde::{Deserialize, Serialize};

/// What a checking rule does with what it finds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Findings reject the request.
    #[default]
    Reject,
    /// Findings become warnings; the request is accepted.
    Warn,
    /// The rule does not run.
    Off,
}

/// What the rules that convert map values (`serviceSelectorValues`,
/// `labelMapValues`) do with non-string values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MutateMode {
    /// Rewrite the values as strings, with warnings.
    #[default]
    Mutate,
    /// Reject, with the quoting fix (for non-mutating registrations).
    Reject,
    /// Accept unchanged, with warnings.
    Warn,
    /// The rule does not run.
    Off,
}

/// What a rule that only informs does: `podLabelChange` never rejects,
/// because detaching a pod on purpose is a documented debugging technique.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WarnMode {
    /// Findings become warnings; the request is accepted.
    Warn,
    /// The rule does not run.
    #[default]
    Off,
}

/// The settings keys that belong to no rule (neither a rule's ID nor one
/// of its options): every other key is in the registry, `rules::RULES`.
pub const GENERAL: &[&str] = &["honourIgnoreAnnotations"];

#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Settings {
    /// Rule 1: fields of a sibling apps/v1 spec (a DaemonSet's `replicas`,
    /// a Deployment's `serviceName`). `daemonSetFields`, its name when it
    /// checked DaemonSets only, is still accepted.
    #[serde(alias = "daemonSetFields")]
    pub spec_fields: Mode,
    /// Rule 1 applies to these kinds.
    #[serde(deserialize_with = "crate::kinds::apps_kinds")]
    pub spec_fields_kinds: Vec<Kind>,
    /// Rule 1 also reads `kubectl.kubernetes.io/last-applied-configuration`.
    pub check_last_applied_configuration: bool,
    /// Rule 2: pod template labels must satisfy the selector.
    pub template_labels: Mode,
    /// Rule 2 applies to these kinds.
    #[serde(deserialize_with = "crate::kinds::workload_kinds")]
    pub template_labels_kinds: Vec<Kind>,
    /// Rule 3: non-string values in Service and ReplicationController selectors.
    pub service_selector_values: MutateMode,
    /// Rule 3 for every other `map[string]string` field: `metadata.labels`
    /// and `metadata.annotations`, the pod template's (and a CronJob's job
    /// template's) labels and annotations, `nodeSelector`, and
    /// `spec.selector.matchLabels`. With `mutate`, Rule 2 matches selectors
    /// against the strings these values become.
    pub label_map_values: MutateMode,
    /// A workload UPDATE that changes its immutable `spec.selector`; `off`
    /// also silences the `volatileSelectorLabels` warning.
    pub immutable_selector: Mode,
    /// Label keys whose values change with every release: a selector that
    /// uses one gets a warning (never a rejection).
    pub volatile_selector_labels: Vec<String>,
    /// Context-aware: a Service UPDATE whose new selector matches none of the
    /// live pods the old one matched. Lists the namespace's Pods. Off by
    /// default: it needs a ClusterAdmissionPolicy with context-aware grants.
    pub service_selector_change: Mode,
    /// Context-aware: a controller whose selector matches another
    /// controller's pods, or the reverse. Lists the namespace's DaemonSets,
    /// Deployments, ReplicaSets, StatefulSets and ReplicationControllers.
    pub controller_overlap: Mode,
    /// Context-aware: a Pod UPDATE whose label change detaches it from its
    /// controller or moves it in or out of a Service. Warnings only.
    pub pod_label_change: WarnMode,
    /// A Service whose selector selects no pod source (CI only).
    pub service_targets: Mode,
    /// PodDisruptionBudgets that select nothing, overlap, or can never be
    /// satisfied.
    pub disruption_budgets: Mode,
    /// A NetworkPolicy `podSelector` (or peer `podSelector`) that selects
    /// no pod source (CI only).
    pub network_policy_targets: Mode,
    /// A HorizontalPodAutoscaler whose `scaleTargetRef` names a misspelled,
    /// unscalable or missing target, or whose target sets `spec.replicas`.
    pub autoscaler_target: Mode,
    /// Two Services of a namespace with the same selector.
    pub service_selector_unique: Mode,
    /// Custom kinds that own pods through `spec.selector` and
    /// `spec.template`, as apps/v1 workloads do: pod sources for every
    /// relation rule.
    pub workload_kinds: Vec<WorkloadKindRef>,
    /// Honour an object's `selector-guard.dev/ignore` annotation (see
    /// [`crate::suppress`]): the rules it names are off for that object. Off
    /// by default: a cluster's owner decides, not the author of each object.
    /// When off, the annotations are not read.
    pub honour_ignore_annotations: bool,
}

/// A custom workload kind of `workloadKinds`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkloadKindRef {
    pub api_version: String,
    pub kind: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            spec_fields: Mode::Reject,
            spec_fields_kinds: APPS_KINDS.to_vec(),
            check_last_applied_configuration: true,
            template_labels: Mode::Reject,
            template_labels_kinds: WORKLOAD_KINDS.to_vec(),
            service_selector_values: MutateMode::Mutate,
            label_map_values: MutateMode::Mutate,
            immutable_selector: Mode::Reject,
            volatile_selector_labels: vec![
                "app.kubernetes.io/version".to_string(),
                "helm.sh/chart".to_string(),
            ],
            service_selector_change: Mode::Off,
            controller_overlap: Mode::Off,
            pod_label_change: WarnMode::Off,
            service_targets: Mode::Reject,
            disruption_budgets: Mode::Off,
            network_policy_targets: Mode::Warn,
            autoscaler_target: Mode::Reject,
            service_selector_unique: Mode::Off,
            // Argo Rollouts: the custom workload users report most.
            workload_kinds: vec![WorkloadKindRef {
                api_version: "argoproj.io/v1alpha1".to_string(),
                kind: "Rollout".to_string(),
            }],
            honour_ignore_annotations: false,
        }
    }
}

impl Settings {
    /// Parses settings JSON. `null` (and an absent payload) means the defaults.
    /// The error names the offending key, e.g. `templateLabelsKinds[1]: unknown variant ...`.
    pub fn from_json(json: &[u8]) -> Result<Settings, String> {
        // What kwctl and policy-server send when no settings are given.
        if json == b"{}" {
            return Ok(Settings::default());
        }
        match json.iter().find(|b| !b.is_ascii_whitespace()) {
            None => return Ok(Settings::default()),
            // serde would also read a struct from a JSON list: refuse it here.
            Some(b'[') => {
                return Err(
                    "settings: invalid type: sequence, expected a map of setting names to values"
                        .to_string(),
                );
            }
            Some(_) => {}
        }
        // From text, as the request is decoded: one JSON reader in the module.
        let text =
            std::str::from_utf8(json).map_err(|err| format!("settings: not UTF-8 text: {err}"))?;
        let settings = serde_json::from_str::<Option<Settings>>(text).map_err(|err| {
            if err.to_string().starts_with("duplicate field `specFields`") {
                return "specFields and daemonSetFields are the same setting (daemonSetFields is its old name): give only specFields".to_string();
            }
            format!("{}: {err}", offending_key(text, &err))
        })?;
        Ok(settings.unwrap_or_default())
    }

    /// Whether any rule that reads the cluster is on (for some kind).
    pub fn reads_cluster(&self) -> bool {
        crate::rules::RULES.iter().any(|rule| {
            !rule.cluster_reads.is_empty()
                && rule.kinds.iter().any(|kind| (rule.enabled)(self, *kind))
        })
    }

    /// Turns off the rule whose ID (settings key) is `id`: for one object
    /// whose `selector-guard.dev/ignore` annotation names it. Any other
    /// text changes nothing.
    pub fn silence(&mut self, id: &str) {
        match id {
            "specFields" => self.spec_fields = Mode::Off,
            "templateLabels" => self.template_labels = Mode::Off,
            "serviceSelectorValues" => self.service_selector_values = MutateMode::Off,
            "labelMapValues" => self.label_map_values = MutateMode::Off,
            "immutableSelector" => self.immutable_selector = Mode::Off,
            "serviceSelectorChange" => self.service_selector_change = Mode::Off,
            "controllerOverlap" => self.controller_overlap = Mode::Off,
            "podLabelChange" => self.pod_label_change = WarnMode::Off,
            "serviceTargets" => self.service_targets = Mode::Off,
            "disruptionBudgets" => self.disruption_budgets = Mode::Off,
            "networkPolicyTargets" => self.network_policy_targets = Mode::Off,
            "autoscalerTarget" => self.autoscaler_target = Mode::Off,
            "serviceSelectorUnique" => self.service_selector_unique = Mode::Off,
            _ => {}
        }
    }

    pub fn checks_spec_fields_of(&self, kind: Kind) -> bool {
        self.spec_fields != Mode::Off && self.spec_fields_kinds.contains(&kind)
    }

    pub fn checks_template_labels_of(&self, kind: Kind) -> bool {
        self.template_labels != Mode::Off && self.template_labels_kinds.contains(&kind)
    }
}

/// The setting `err` is about: `templateLabels`, or `templateLabelsKinds[1]`
/// for an item of a list; `settings` when it is about the whole (not a map,
/// an unknown key, bad JSON). Found by decoding each setting alone, as
/// `{"key": value}` and, for a list, `{"key": [item]}`, and keeping the
/// first whose error is `err`'s (the first that fails, if none is). Runs only
/// for refused settings; a path-tracking decoder would do it in one pass but
/// cost 21 KiB of `policy.wasm`.
fn offending_key(text: &str, err: &serde_json::Error) -> String {
    let message = |err: &serde_json::Error| {
        let text = err.to_string();
        match text.rfind(" at line ") {
            Some(at) => text.get(..at).unwrap_or(&text).to_string(),
            None => text,
        }
    };
    let wanted = message(err);
    if wanted.starts_with("unknown field") {
        return "settings".to_string();
    }
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str(text) else {
        return "settings".to_string();
    };
    let fails = |key: &str, value: &str| -> Option<String> {
        let alone = format!("{{{}:{value}}}", crate::labels::json_quoted(key));
        serde_json::from_str::<Settings>(&alone)
            .err()
            .map(|err| message(&err))
    };
    let mut first = None;
    for (key, value) in &map {
        let Some(found) = fails(key, &value.to_string()) else {
            continue;
        };
        let mut path = key.clone();
        if let serde_json::Value::Array(items) = value {
            let item = items
                .iter()
                .position(|item| fails(key, &format!("[{item}]")).is_some());
            if let Some(index) = item {
                path = format!("{key}[{index}]");
            }
        }
        if found == wanted {
            return path;
        }
        first.get_or_insert(path);
    }
    first.unwrap_or_else(|| "settings".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_null_settings_are_the_defaults() {
        for json in ["{}", "null", "", "  "] {
            assert_eq!(
                Settings::from_json(json.as_bytes()),
                Ok(Settings::default()),
                "{json:?}"
            );
        }
    }

    #[test]
    fn errors_name_the_offending_key() {
        let cases = [
            (
                r#"{"replicas": "reject"}"#,
                "settings: unknown field `replicas`",
            ),
            (
                r#"{"templateLabels": "off", "templateLabels": "warn"}"#,
                "settings: duplicate field `templateLabels`",
            ),
            (
                r#"{"controllerOverlap": "warn", "templateLabels": 3, "immutableSelector": "x"}"#,
                "templateLabels: expected value at line 1 column 49",
            ),
            (
                "{\"templateLabels\": \"off\"} trailing",
                "settings: trailing characters",
            ),
            (
                r#"{"daemonSetFields": "block"}"#,
                "daemonSetFields: unknown variant `block`",
            ),
            (
                r#"{"specFields": "warn", "daemonSetFields": "off"}"#,
                "specFields and daemonSetFields are the same setting",
            ),
            (
                r#"{"specFieldsKinds": ["Job"]}"#,
                "specFieldsKinds[0]: unknown variant `Job`",
            ),
            (
                r#"{"serviceSelectorValues": "fix"}"#,
                "serviceSelectorValues: unknown variant `fix`",
            ),
            (
                r#"{"labelMapValues": "convert"}"#,
                "labelMapValues: unknown variant `convert`",
            ),
            (
                r#"{"templateLabelsKinds": ["Deployment", "Pod"]}"#,
                "templateLabelsKinds[1]: unknown variant `Pod`",
            ),
            (
                r#"{"checkLastAppliedConfiguration": "yes"}"#,
                "checkLastAppliedConfiguration: invalid type",
            ),
            (r#"[]"#, "settings: invalid type: sequence"),
            (
                r#"{"podLabelChange": "reject"}"#,
                "podLabelChange: unknown variant `reject`, expected `warn` or `off`",
            ),
            (
                r#"{"controllerOverlap": "mutate"}"#,
                "controllerOverlap: unknown variant `mutate`",
            ),
        ];
        for (json, fragment) in cases {
            let err = Settings::from_json(json.as_bytes()).expect_err(json);
            assert!(err.contains(fragment), "{json}: {err}");
        }
    }

    #[test]
    fn modes_parse() {
        let s = Settings::from_json(
            br#"{"daemonSetFields":"warn","templateLabels":"off","serviceSelectorValues":"reject","templateLabelsKinds":["Job"],"checkLastAppliedConfiguration":false}"#,
        )
        .expect("valid");
        assert_eq!(s.spec_fields, Mode::Warn, "the old name is an alias");
        assert_eq!(s.template_labels, Mode::Off);
        assert_eq!(s.service_selector_values, MutateMode::Reject);
        assert_eq!(s.template_labels_kinds, vec![Kind::Job]);
        assert!(!s.check_last_applied_configuration);
    }

    #[test]
    fn ignore_annotations_are_honoured_only_when_asked() {
        assert!(!Settings::default().honour_ignore_annotations);
        let s = Settings::from_json(br#"{"honourIgnoreAnnotations": true}"#).expect("valid");
        assert!(s.honour_ignore_annotations);
        let err =
            Settings::from_json(br#"{"honourIgnoreAnnotations": "yes"}"#).expect_err("a bool");
        assert!(
            err.starts_with("honourIgnoreAnnotations: invalid type"),
            "{err}"
        );
    }

    /// Every rule, on in its first mode, is off for every kind once silenced.
    #[test]
    fn silence_turns_every_rule_off() {
        for rule in crate::rules::RULES {
            let on = format!(r#"{{"{}": "{}"}}"#, rule.id, rule.modes[0].as_str());
            let mut s = Settings::from_json(on.as_bytes()).expect("valid");
            assert!(
                rule.kinds.iter().any(|kind| (rule.enabled)(&s, *kind)),
                "{on}"
            );
            s.silence(rule.id);
            for kind in rule.kinds {
                assert!(!(rule.enabled)(&s, *kind), "{} on {kind:?}", rule.id);
            }
        }
        let mut s = Settings::default();
        s.silence("noSuchRule");
        assert_eq!(s, Settings::default());
    }
}
