//! The one table of the kinds this policy handles: what a request names,
//! what the settings' kind lists accept, what the rules read of the cluster
//! and which kinds own pods all come from [`KINDS`].
//!
//! The API coordinates are k8s-openapi's `Resource` constants, so that a
//! kind's group, version and plural are spelled as the API server spells
//! them. Everything not in the table is accepted untouched.

use k8s_openapi::Resource as ApiResource;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::{v1 as autoscaling_v1, v2 as autoscaling_v2};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use serde::de::{Error as _, Visitor};
use serde::{Deserializer, Serialize, Serializer};
use std::fmt;

/// A kind this policy handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Pod,
    Service,
    DaemonSet,
    Deployment,
    ReplicaSet,
    StatefulSet,
    ReplicationController,
    /// With `spec.manualSelector: true`, the selector against the template;
    /// without, a selector given on CREATE (the API server generates it).
    Job,
    /// `spec.jobTemplate.spec` may set neither `selector` nor
    /// `manualSelector: true`: each Job gets a generated selector.
    CronJob,
    /// policy/v1 (and v1beta1, where `{}` selected nothing).
    PodDisruptionBudget,
    NetworkPolicy,
    /// autoscaling/v2, and v2beta2, v2beta1 and v1, which charts still carry.
    HorizontalPodAutoscaler,
}

/// What a kind is to the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Roles {
    /// An apps/v1 workload, whose spec `specFields` compares with its
    /// siblings' (`specFieldsKinds`).
    pub apps: bool,
    /// Owns pods through a pod template (`templateLabelsKinds`).
    pub workload: bool,
    /// Owns pods through `spec.selector` and is listed by
    /// `controllerOverlap` (Jobs get generated selectors).
    pub controller: bool,
    /// Named by a pod's controller owner reference, and read to follow it.
    pub pod_owner: bool,
    /// Read from the cluster by some rule: `policy-metadata.yml` grants
    /// exactly these (a test checks).
    pub read: bool,
    /// Has a `/scale` subresource, so a HorizontalPodAutoscaler can target it.
    pub scalable: bool,
}

/// A row of [`KINDS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: Kind,
    /// `""` for the core group.
    pub group: &'static str,
    pub version: &'static str,
    /// `apps/v1`, `v1`.
    pub api_version: &'static str,
    /// `DaemonSet`.
    pub name: &'static str,
    /// The resource, as RBAC and webhook rules name it (`daemonsets`).
    pub plural: &'static str,
    pub roles: Roles,
}

const fn row<R: ApiResource>(kind: Kind, roles: Roles) -> Row {
    Row {
        kind,
        group: R::GROUP,
        version: R::VERSION,
        api_version: R::API_VERSION,
        name: R::KIND,
        plural: R::URL_PATH_SEGMENT,
        roles,
    }
}

const NONE: Roles = Roles {
    apps: false,
    workload: false,
    controller: false,
    pod_owner: false,
    read: false,
    scalable: false,
};

/// An apps/v1 controller: `owner` when pods name it as their controller.
const fn apps(owner: bool) -> Roles {
    Roles {
        apps: true,
        workload: true,
        controller: true,
        pod_owner: owner,
        read: true,
        scalable: true,
    }
}

/// A row for an API version k8s-openapi no longer has (its `Resource`
/// constants are for the versions the API server still serves).
const fn legacy(kind: Kind, of: &Row, version: &'static str, api_version: &'static str) -> Row {
    Row {
        kind,
        group: of.group,
        version,
        api_version,
        name: of.name,
        plural: of.plural,
        roles: of.roles,
    }
}

const HPA: Row =
    row::<autoscaling_v2::HorizontalPodAutoscaler>(Kind::HorizontalPodAutoscaler, NONE);
const PDB: Row =
    row::<PodDisruptionBudget>(Kind::PodDisruptionBudget, Roles { read: true, ..NONE });
const CRON_JOB: Row = row::<CronJob>(
    Kind::CronJob,
    Roles {
        workload: true,
        ..NONE
    },
);

/// The one table of the kinds this policy handles. A kind's first row is
/// its preferred version; the later ones are versions charts still carry.
pub const KINDS: [Row; 17] = [
    row::<DaemonSet>(
        Kind::DaemonSet,
        Roles {
            scalable: false,
            ..apps(true)
        },
    ),
    row::<Deployment>(Kind::Deployment, apps(false)),
    row::<ReplicaSet>(Kind::ReplicaSet, apps(true)),
    row::<StatefulSet>(Kind::StatefulSet, apps(true)),
    row::<ReplicationController>(
        Kind::ReplicationController,
        Roles {
            apps: false,
            ..apps(true)
        },
    ),
    row::<Job>(
        Kind::Job,
        Roles {
            workload: true,
            pod_owner: true,
            read: true,
            ..NONE
        },
    ),
    CRON_JOB,
    legacy(Kind::CronJob, &CRON_JOB, "v1beta1", "batch/v1beta1"),
    row::<Service>(Kind::Service, Roles { read: true, ..NONE }),
    row::<Pod>(Kind::Pod, Roles { read: true, ..NONE }),
    PDB,
    legacy(Kind::PodDisruptionBudget, &PDB, "v1beta1", "policy/v1beta1"),
    row::<NetworkPolicy>(Kind::NetworkPolicy, NONE),
    HPA,
    legacy(
        Kind::HorizontalPodAutoscaler,
        &HPA,
        "v2beta2",
        "autoscaling/v2beta2",
    ),
    legacy(
        Kind::HorizontalPodAutoscaler,
        &HPA,
        "v2beta1",
        "autoscaling/v2beta1",
    ),
    row::<autoscaling_v1::HorizontalPodAutoscaler>(Kind::HorizontalPodAutoscaler, NONE),
];

/// DaemonSet, Deployment, ReplicaSet and StatefulSet: the `apps` role, in
/// table order (a test checks).
pub const APPS_KINDS: [Kind; 4] = [
    Kind::DaemonSet,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
];

/// Every kind with a pod template: the `workload` role.
pub const WORKLOAD_KINDS: [Kind; 7] = [
    Kind::DaemonSet,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::ReplicationController,
    Kind::Job,
    Kind::CronJob,
];

/// The kinds `controllerOverlap` judges and lists: the `controller` role.
pub const CONTROLLER_KINDS: [Kind; 5] = [
    Kind::DaemonSet,
    Kind::Deployment,
    Kind::ReplicaSet,
    Kind::StatefulSet,
    Kind::ReplicationController,
];

/// The names `specFieldsKinds` accepts, in table order (a test checks).
pub const APPS_NAMES: [&str; 4] = ["DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"];

/// The names `templateLabelsKinds` accepts, in table order (a test checks).
pub const WORKLOAD_NAMES: [&str; 7] = [
    "DaemonSet",
    "Deployment",
    "ReplicaSet",
    "StatefulSet",
    "ReplicationController",
    "Job",
    "CronJob",
];

impl Kind {
    /// Resolves a request's `kind` (group, version, kind).
    pub fn from_gvk(group: &str, version: &str, kind: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|k| k.group == group && k.version == version && k.name == kind)
            .map(|k| k.kind)
    }

    /// The kind an `apiVersion` and `kind` name (an owner reference's).
    pub fn from_api_version(api_version: &str, kind: &str) -> Option<Kind> {
        KINDS
            .iter()
            .find(|k| k.api_version == api_version && k.name == kind)
            .map(|k| k.kind)
    }

    /// The kind's row of [`KINDS`]: its preferred version.
    pub fn row(self) -> &'static Row {
        // Every Kind has a row (a test checks); the first is a safe default.
        let found = KINDS.iter().find(|k| k.kind == self);
        found.unwrap_or(&KINDS[0])
    }

    pub fn name(self) -> &'static str {
        self.row().name
    }

    pub fn api_version(self) -> &'static str {
        self.row().api_version
    }

    pub fn roles(self) -> Roles {
        self.row().roles
    }

    /// The kinds whose preferred row has a role, in table order.
    pub fn with(role: fn(Roles) -> bool) -> impl Iterator<Item = Kind> {
        KINDS
            .iter()
            .filter(move |row| role(row.roles) && row.kind.row() == *row)
            .map(|row| row.kind)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Kind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Reads a list of kind names, each one of `names`, as serde words an
/// unknown enum variant.
fn kinds_of<'de, D: Deserializer<'de>>(
    deserializer: D,
    names: &'static [&'static str],
) -> Result<Vec<Kind>, D::Error> {
    struct Names(&'static [&'static str]);
    impl<'de> Visitor<'de> for Names {
        type Value = Vec<Kind>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of kind names")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Kind>, A::Error> {
            let mut kinds = Vec::new();
            while let Some(name) = seq.next_element::<std::borrow::Cow<'de, str>>()? {
                let found = KINDS
                    .iter()
                    .find(|row| row.name == name && self.0.contains(&row.name));
                match found {
                    Some(row) => kinds.push(row.kind),
                    None => return Err(A::Error::unknown_variant(&name, self.0)),
                }
            }
            Ok(kinds)
        }
    }
    deserializer.deserialize_seq(Names(names))
}

/// `specFieldsKinds`: apps/v1 workload kinds.
pub fn apps_kinds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Kind>, D::Error> {
    kinds_of(deserializer, &APPS_NAMES)
}

/// `templateLabelsKinds`: kinds with a pod template.
pub fn workload_kinds<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Kind>, D::Error> {
    kinds_of(deserializer, &WORKLOAD_NAMES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_row() {
        let kinds = [
            Kind::Pod,
            Kind::Service,
            Kind::DaemonSet,
            Kind::Deployment,
            Kind::ReplicaSet,
            Kind::StatefulSet,
            Kind::ReplicationController,
            Kind::Job,
            Kind::CronJob,
            Kind::PodDisruptionBudget,
            Kind::NetworkPolicy,
            Kind::HorizontalPodAutoscaler,
        ];
        for kind in kinds {
            assert!(KINDS.iter().any(|r| r.kind == kind));
            assert_eq!(kind.row().kind, kind);
            // Every row of a kind shares its name, plural and roles.
            for row in KINDS.iter().filter(|r| r.kind == kind) {
                assert_eq!(
                    (row.name, row.plural, row.roles),
                    (kind.name(), kind.row().plural, kind.roles())
                );
                assert_eq!(
                    row.api_version,
                    format!(
                        "{}{}{}",
                        row.group,
                        if row.group.is_empty() { "" } else { "/" },
                        row.version
                    )
                );
            }
        }
        let mut gvks: Vec<(&str, &str, &str)> =
            KINDS.iter().map(|r| (r.group, r.version, r.name)).collect();
        gvks.sort();
        gvks.dedup();
        assert_eq!(
            gvks.len(),
            KINDS.len(),
            "one row per group, version and kind"
        );
    }

    #[test]
    fn the_settings_names_follow_the_table() {
        let names =
            |role: fn(Roles) -> bool| -> Vec<&str> { Kind::with(role).map(Kind::name).collect() };
        assert_eq!(names(|r| r.apps), APPS_NAMES);
        assert_eq!(names(|r| r.workload), WORKLOAD_NAMES);
        let kinds = |role: fn(Roles) -> bool| -> Vec<Kind> { Kind::with(role).collect() };
        assert_eq!(kinds(|r| r.apps), APPS_KINDS);
        assert_eq!(kinds(|r| r.workload), WORKLOAD_KINDS);
        assert_eq!(kinds(|r| r.controller), CONTROLLER_KINDS);
    }

    #[test]
    fn kinds_resolve_by_group_version_kind() {
        assert_eq!(
            Kind::from_gvk("apps", "v1", "DaemonSet"),
            Some(Kind::DaemonSet)
        );
        assert_eq!(Kind::from_gvk("", "v1", "Service"), Some(Kind::Service));
        assert_eq!(Kind::from_gvk("batch", "v1", "Job"), Some(Kind::Job));
        assert_eq!(Kind::from_gvk("extensions", "v1beta1", "DaemonSet"), None);
        assert_eq!(Kind::from_gvk("", "v1", "Pod"), Some(Kind::Pod));
        assert_eq!(Kind::from_gvk("", "v1", "Namespace"), None);
        assert_eq!(Kind::DaemonSet.row().plural, "daemonsets");
        for version in ["v2", "v2beta2", "v2beta1", "v1"] {
            assert_eq!(
                Kind::from_gvk("autoscaling", version, "HorizontalPodAutoscaler"),
                Some(Kind::HorizontalPodAutoscaler),
                "{version}"
            );
        }
        assert_eq!(
            Kind::from_gvk("policy", "v1beta1", "PodDisruptionBudget"),
            Some(Kind::PodDisruptionBudget)
        );
        assert_eq!(
            Kind::from_gvk("batch", "v1beta1", "CronJob"),
            Some(Kind::CronJob)
        );
        assert_eq!(
            Kind::HorizontalPodAutoscaler.api_version(),
            "autoscaling/v2"
        );
        assert_eq!(Kind::Job.api_version(), "batch/v1");
    }

    #[test]
    fn owners_resolve_by_api_version_and_kind() {
        let owner = |v: &str, k: &str| Kind::from_api_version(v, k).filter(|k| k.roles().pod_owner);
        assert_eq!(owner("apps/v1", "ReplicaSet"), Some(Kind::ReplicaSet));
        assert_eq!(owner("batch/v1", "Job"), Some(Kind::Job));
        assert_eq!(owner("v1", "Node"), None);
        assert_eq!(owner("argoproj.io/v1alpha1", "Rollout"), None);
        assert_eq!(owner("extensions/v1beta1", "ReplicaSet"), None);
        assert_eq!(
            owner("apps/v1", "Deployment"),
            None,
            "Deployments own ReplicaSets"
        );
    }
}
