//! The context-aware section of `cargo xtask bench` (`--context-aware`
//! alone, and the end of `--suite`): what reading the cluster costs.
//!
//! - `serviceSelectorChange: warn` on the Service UPDATE
//!   `service-selector-swap.json` (selector `app=rng` to `active=yes,app=rng`)
//!   against 10, 1,000 and 10,000 Running pods labelled `app=rng`: one list
//!   call, and every pod is compared (none carries `active=yes`), so the
//!   rule warns that the new selector matches none of the N pods.
//! - `controllerOverlap: warn` on the DaemonSet CREATE
//!   `daemonset-beside-deployment.json` (selector `app=rng`) against 10,
//!   1,000 and 10,000 controllers spread over the five kinds, none
//!   overlapping it: five list calls, and every controller is compared.
//! - `podLabelChange: warn` on the Pod UPDATE `pod-active-label-removed.json`
//!   against its ReplicaSet (one get) and 10, 1,000 and 10,000 Services, none
//!   selecting the pod (one list).
//! - `disruptionBudgets: warn` on the budget CREATE `pdb-overlap.json`
//!   (`tier=front`) against 10, 1,000 and 10,000 objects, half budgets over
//!   other pods and half pods it selects: two lists, and each selected pod is
//!   looked up among the other budgets.
//! - `serviceSelectorUnique: warn` on the Service CREATE
//!   `service-duplicate-selector.json` against 10, 1,000 and 10,000 Services
//!   with other selectors: one list.
//! - The same requests with settings `{}` (the context-aware rules off,
//!   no host call): the request's plain cost.
//!
//! Method: the cluster is generated in code ([`pods`], [`controllers`]), and
//! a first `validate` call per N is answered by a [`FakeCluster`] (which
//! applies the policy's field masks) and recorded. The timed instance
//! answers from that recording ([`Answers::Replay`]): per host call the host
//! parses the small request, compares it with the recorded one and copies
//! the stored answer, so the host's own listing and serialization are not
//! timed; the waPC copy of the answer into the guest is. The cases of one
//! scenario (rules off and every N) are timed call by call in turn, the
//! order rotated every round, so drift on a busy machine reaches all alike;
//! the replay cursor is reset before each call. From the medians: the
//! marginal cost per listed object of each interval (the slope between two
//! N), the fixed cost (the intercept of the first interval, at 0 objects),
//! and the ratio of successive marginal costs, which is linear within
//! [`LINEARITY_BUDGET`].

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

use super::workload::{self, BenchRequest, Verdict};
use super::{Bench, Stats, kib, micros};
use crate::host::{Answers, FakeCluster, Grants, Instance, KubernetesHost, Replay};
use crate::metadata::Metadata;

/// Marginal cost per object of an interval against the previous
/// interval's: within this factor either way, the cost is linear.
pub const LINEARITY_BUDGET: f64 = 1.5;

/// Pods listed for the Service UPDATE.
pub const POD_COUNTS: [usize; 3] = [10, 1_000, 10_000];
/// Controllers listed for the overlap check.
pub const CONTROLLER_COUNTS: [usize; 3] = [10, 1_000, 10_000];
/// Objects listed for podLabelChange, disruptionBudgets and
/// serviceSelectorUnique.
pub const OBJECT_COUNTS: [usize; 3] = [10, 1_000, 10_000];

/// The `pod-template-hash` of the generated pods' ReplicaSet.
const POD_TEMPLATE_HASH: &str = "54f57d4d49";

/// `policy-metadata.yml`: the grants `--allow-context-aware` would give.
pub fn metadata_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policy-metadata.yml")
}

/// The grants of the policy's metadata.
pub fn grants() -> Result<Grants> {
    Ok(Grants::from_metadata(&Metadata::from_yaml_file(
        &metadata_path(),
    )?))
}

/// A deterministic UUID-shaped uid, distinct per `(kind, index)`.
fn uid(kind: u32, index: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{index:012x}")
}

/// A five-character pod name suffix, as the ReplicaSet controller makes.
fn suffix(index: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rest = index;
    (0..5)
        .map(|_| {
            let c = ALPHABET.get(rest % ALPHABET.len()).copied().unwrap_or(b'x');
            rest /= ALPHABET.len();
            char::from(c)
        })
        .collect()
}

/// `count` Running pods of the Deployment `rng` in namespace `default`, as
/// the API server stores them (without `managedFields`): labels `app=rng`
/// and `pod-template-hash`, owned by the ReplicaSet, one container.
pub fn pods(count: usize) -> Vec<Value> {
    let replica_set = format!("rng-{POD_TEMPLATE_HASH}");
    (0..count)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{replica_set}-{}", suffix(i)),
                    "generateName": format!("{replica_set}-"),
                    "namespace": "default",
                    "uid": uid(1, i),
                    "resourceVersion": (100_000 + i).to_string(),
                    "creationTimestamp": "2026-01-12T09:30:00Z",
                    "labels": {"app": "rng", "pod-template-hash": POD_TEMPLATE_HASH},
                    "ownerReferences": [{
                        "apiVersion": "apps/v1",
                        "kind": "ReplicaSet",
                        "name": replica_set,
                        "uid": uid(2, 0),
                        "controller": true,
                        "blockOwnerDeletion": true
                    }]
                },
                "spec": {
                    "containers": [{
                        "name": "rng",
                        "image": "dockercoins/rng:v0.1",
                        "imagePullPolicy": "IfNotPresent",
                        "ports": [{"containerPort": 80, "protocol": "TCP"}],
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"
                    }],
                    "nodeName": format!("node-{}", i % 20),
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "serviceAccountName": "default"
                },
                "status": {
                    "phase": "Running",
                    "podIP": format!("10.244.{}.{}", (i / 250) % 256, i % 250 + 2),
                    "qosClass": "BestEffort"
                }
            })
        })
        .collect()
}

/// A controller of `kind` in namespace `default`: `selector` and the
/// template `labels` as given, one container, and `owner` (a Deployment's
/// name and uid) as its controller owner.
fn controller(
    (api_version, kind): (&str, &str),
    (name, uid): (&str, &str),
    selector: Value,
    labels: Value,
    owner: Option<(&str, &str)>,
) -> Value {
    let mut metadata = json!({
        "name": name,
        "namespace": "default",
        "uid": uid,
        "resourceVersion": "4242",
        "generation": 1,
        "creationTimestamp": "2026-01-12T09:30:00Z",
        "labels": labels.clone()
    });
    if let (Some((owner, owner_uid)), Some(map)) = (owner, metadata.as_object_mut()) {
        map.insert(
            "ownerReferences".into(),
            json!([{"apiVersion": "apps/v1", "kind": "Deployment", "name": owner,
                    "uid": owner_uid, "controller": true, "blockOwnerDeletion": true}]),
        );
    }
    let image = format!("registry.example.com/team/{name}:v1.0.0");
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": {
            "replicas": 2,
            "selector": selector,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "main", "image": image,
                                         "ports": [{"containerPort": 8080}]}]}
            }
        },
        "status": {"replicas": 2, "readyReplicas": 2, "observedGeneration": 1}
    })
}

/// `count` controllers in namespace `default`, in turn a Deployment, a
/// ReplicaSet owned by that Deployment, a StatefulSet, a DaemonSet (with a
/// `matchExpressions` selector) and a ReplicationController (a map
/// selector), each group of five with its own `app` label, never `rng`.
pub fn controllers(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            let group = i / 5;
            match i % 5 {
                0 | 1 => {
                    let app = format!("web-{group}");
                    let deployment_uid = uid(10, group);
                    if i % 5 == 0 {
                        let labels = json!({"app": app});
                        controller(
                            ("apps/v1", "Deployment"),
                            (&app, &deployment_uid),
                            json!({"matchLabels": labels}),
                            labels,
                            None,
                        )
                    } else {
                        let hash = format!("{:010x}", 0x6d4c_0000 + group);
                        let labels = json!({"app": app, "pod-template-hash": hash});
                        controller(
                            ("apps/v1", "ReplicaSet"),
                            (&format!("{app}-{hash}"), &uid(11, group)),
                            json!({"matchLabels": labels}),
                            labels,
                            Some((&app, &deployment_uid)),
                        )
                    }
                }
                2 => {
                    let app = format!("db-{group}");
                    let labels = json!({"app": app});
                    controller(
                        ("apps/v1", "StatefulSet"),
                        (&app, &uid(12, group)),
                        json!({"matchLabels": labels}),
                        labels,
                        None,
                    )
                }
                3 => {
                    let app = format!("agent-{group}");
                    controller(
                        ("apps/v1", "DaemonSet"),
                        (&app, &uid(13, group)),
                        json!({"matchExpressions": [
                            {"key": "app", "operator": "In", "values": [app]}
                        ]}),
                        json!({"app": app, "tier": "node"}),
                        None,
                    )
                }
                _ => {
                    let app = format!("legacy-{group}");
                    let labels = json!({"app": app});
                    controller(
                        ("v1", "ReplicationController"),
                        (&app, &uid(14, group)),
                        labels.clone(),
                        labels,
                        None,
                    )
                }
            }
        })
        .collect()
}

/// `count` Services in namespace `default`, each selecting its own
/// `app=svc-N`: none selects the request's pods, none has its selector.
pub fn services(count: usize) -> Vec<Value> {
    (0..count)
        .map(|i| {
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": format!("svc-{i}"),
                    "namespace": "default",
                    "uid": uid(20, i),
                    "resourceVersion": "4242",
                    "creationTimestamp": "2026-01-12T09:30:00Z",
                    "labels": {"app": format!("svc-{i}")}
                },
                "spec": {
                    "type": "ClusterIP",
                    "clusterIP": format!("10.96.{}.{}", (i / 250) % 256, i % 250 + 2),
                    "selector": {"app": format!("svc-{i}")},
                    "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
                }
            })
        })
        .collect()
}

/// `count` objects for a budget CREATE: half budgets, each over its own
/// `app=web-N`, and half [`pods`] that also carry `tier=front` (so the
/// request's budget, `tier=front`, selects every one of them and looks for
/// another budget of each; none has one).
pub fn budgets_and_pods(count: usize) -> Vec<Value> {
    let budgets = (0..count / 2).map(|i| {
        json!({
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {
                "name": format!("web-{i}"),
                "namespace": "default",
                "uid": uid(30, i),
                "resourceVersion": "4242",
                "creationTimestamp": "2026-01-12T09:30:00Z"
            },
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": format!("web-{i}")}}},
            "status": {"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2}
        })
    });
    let pods = pods(count - count / 2).into_iter().map(|mut pod| {
        if let Some(labels) = pod
            .pointer_mut("/metadata/labels")
            .and_then(Value::as_object_mut)
        {
            labels.insert("tier".into(), json!("front"));
        }
        pod
    });
    budgets.chain(pods).collect()
}

/// The ReplicaSet that owns the pod of `pod-active-label-removed` (its
/// selector still matches the pod's new labels), and `count` [`services`]
/// that select neither its old labels nor its new ones.
pub fn owner_and_services(count: usize) -> Vec<Value> {
    let labels = json!({"app": "rng", "pod-template-hash": POD_TEMPLATE_HASH});
    let owner = controller(
        ("apps/v1", "ReplicaSet"),
        (
            &format!("rng-{POD_TEMPLATE_HASH}"),
            "5f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        ),
        json!({"matchLabels": labels}),
        labels,
        None,
    );
    std::iter::once(owner).chain(services(count)).collect()
}

/// A straight line `µs = intercept + slope × objects`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// µs per object.
    pub slope: f64,
    /// µs at 0 objects.
    pub intercept: f64,
}

impl Line {
    /// The line through two `(objects, µs)` points; `None` when both are
    /// at the same number of objects.
    pub fn through((x0, y0): (f64, f64), (x1, y1): (f64, f64)) -> Option<Line> {
        if x0 == x1 {
            return None;
        }
        let slope = (y1 - y0) / (x1 - x0);
        Some(Line {
            slope,
            intercept: y0 - slope * x0,
        })
    }
}

/// The ratio of a later interval's marginal cost to an earlier one's, and
/// whether it is within `budget` either way (linear). Not linear when the
/// earlier marginal cost is not positive (nothing to compare with).
pub fn linearity(earlier: f64, later: f64, budget: f64) -> (f64, bool) {
    let ratio = later / earlier;
    let linear = earlier > 0.0 && ratio.is_finite() && ratio <= budget && ratio >= 1.0 / budget;
    (ratio, linear)
}

/// `10,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What the policy must answer with the rule on.
#[derive(Clone, Copy)]
enum Expect {
    /// One warning: the new selector matches none of the N pods the old one matched.
    NoPodMatches,
    /// No warning: nothing overlaps (and every list was read).
    Quiet,
}

struct Scenario {
    title: &'static str,
    fixture: &'static str,
    rule: &'static str,
    unit: &'static str,
    counts: &'static [usize],
    cluster: fn(usize) -> Vec<Value>,
    /// Host calls per evaluation with the rule on.
    calls: usize,
    expect: Expect,
}

fn scenarios() -> [Scenario; 5] {
    [
        Scenario {
            title: "Service UPDATE, serviceSelectorChange: warn (1 list call: v1 Pods in default)",
            fixture: "service-selector-swap",
            rule: "serviceSelectorChange",
            unit: "pod",
            counts: &POD_COUNTS,
            cluster: pods,
            calls: 1,
            expect: Expect::NoPodMatches,
        },
        Scenario {
            title: "DaemonSet CREATE, controllerOverlap: warn (5 list calls: one per controller kind; none overlaps)",
            fixture: "daemonset-beside-deployment",
            rule: "controllerOverlap",
            unit: "controller",
            counts: &CONTROLLER_COUNTS,
            cluster: controllers,
            calls: 5,
            expect: Expect::Quiet,
        },
        Scenario {
            title: "Pod UPDATE, podLabelChange: warn (a get of its ReplicaSet, a list of v1 Services; none selects it)",
            fixture: "pod-active-label-removed",
            rule: "podLabelChange",
            unit: "Service",
            counts: &OBJECT_COUNTS,
            cluster: owner_and_services,
            calls: 2,
            expect: Expect::Quiet,
        },
        Scenario {
            title: "PodDisruptionBudget CREATE, disruptionBudgets: warn (2 list calls: budgets and pods; it selects every pod, no other budget does)",
            fixture: "pdb-overlap",
            rule: "disruptionBudgets",
            unit: "object",
            counts: &OBJECT_COUNTS,
            cluster: budgets_and_pods,
            calls: 2,
            expect: Expect::Quiet,
        },
        Scenario {
            title: "Service CREATE, serviceSelectorUnique: warn (1 list call: v1 Services; none has its selector)",
            fixture: "service-duplicate-selector",
            rule: "serviceSelectorUnique",
            unit: "Service",
            counts: &OBJECT_COUNTS,
            cluster: services,
            calls: 1,
            expect: Expect::Quiet,
        },
    ]
}

/// One N of a scenario, ready to time.
struct Case {
    objects: usize,
    instance: Instance,
    /// The recorded session the instance replays.
    session: String,
    /// Bytes of the host's answers per evaluation.
    answered: usize,
}

/// Runs the section; returns the number of figures over budget.
pub(super) fn run(bench: &Bench) -> Result<usize> {
    let grants = grants()?;
    println!(
        "context-aware rules through wasm: {}; {} samples per case after {:.1} s warm-up; median µs per `validate` call",
        bench.policy.name,
        bench.samples,
        bench.warm_up.as_secs_f64()
    );
    println!(
        "  Method: the cluster is generated; a first call per N is answered by a fake cluster (field masks applied) and recorded,\n  \
         then the timed instance replays that recording (the host compares the request and copies the stored answer: its own\n  \
         listing and serialization are not timed; the copy into the guest is). The cases of a scenario are timed in turn, call\n  \
         by call (order rotated each round), on one reused instance each. Fixed cost: the intercept at 0 objects of the first\n  \
         interval's line. Marginal: the slope between two N, in µs per listed object. Linear: each interval's marginal cost\n  \
         within {LINEARITY_BUDGET:.1}x (either way) of the previous one's. Peak memory: the guest's linear memory, the smallest\n  \
         cap under which a fresh instance answers the call (same replayed answers)."
    );
    let mut over = 0;
    for scenario in scenarios() {
        println!();
        over += scenario.run(bench, &grants)?;
    }
    Ok(over)
}

impl Scenario {
    fn run(&self, bench: &Bench, grants: &Grants) -> Result<usize> {
        let request = BenchRequest {
            name: self.fixture.to_string(),
            request: workload::load(self.fixture)?,
            verdict: Verdict::Accept,
        };
        let on_settings = json!({ self.rule: "warn" });
        let off_settings = json!({});
        let on = request.payload(&on_settings);
        let off = request.payload(&off_settings);

        let policy = &bench.policy;
        let plain = policy.prepare(policy.policy.instantiate()?, &off_settings)?;
        let answer = plain.call("validate", &off)?;
        expect_accept(&answer, &format!("{} with settings {{}}", self.fixture))?;

        let mut cases = Vec::with_capacity(self.counts.len());
        for &objects in self.counts {
            cases.push(self.prepare(bench, grants, &on, &on_settings, objects)?);
        }

        let mut timed: Vec<(&Instance, &[u8])> = vec![(&plain, &off)];
        timed.extend(cases.iter().map(|c| (&c.instance, on.as_slice())));
        let stats = bench.interleaved(&timed)?;
        let (plain_stats, case_stats) = stats.split_first().context("no samples")?;

        let plain_peak = bench.peak_memory(&bench.policy, &off, None)?;
        let mut peaks = Vec::with_capacity(cases.len());
        for case in &cases {
            let path = std::env::temp_dir().join(format!(
                "selector-guard-bench-{}-{}-{}.yml",
                std::process::id(),
                self.fixture,
                case.objects
            ));
            std::fs::write(&path, &case.session)
                .with_context(|| format!("cannot write {}", path.display()))?;
            let peak = bench.peak_memory(&bench.policy, &on, Some(&path));
            let _ = std::fs::remove_file(&path);
            peaks.push(peak?);
        }

        println!("{} — {}", self.title, self.fixture);
        println!(
            "  {:<22} {:>12} {:>11} {:>11} {:>11} {:>12}",
            format!("{}s listed", self.unit),
            "host answer",
            "median µs",
            "min µs",
            "mean µs",
            "peak memory"
        );
        let row = |label: &str, answered: &str, stats: &Stats, peak: u64| {
            println!(
                "  {:<22} {:>12} {:>11.1} {:>11.1} {:>11.1} {:>12}",
                label,
                answered,
                micros(stats.median),
                micros(stats.min),
                micros(stats.mean),
                kib(usize::try_from(peak).unwrap_or(usize::MAX)),
            );
        };
        row(
            "rules off (settings {})",
            "no call",
            plain_stats,
            plain_peak,
        );
        for ((case, stats), peak) in cases.iter().zip(case_stats).zip(&peaks) {
            row(&thousands(case.objects), &kib(case.answered), stats, *peak);
        }

        let points: Vec<(f64, f64)> = cases
            .iter()
            .zip(case_stats)
            .map(|(case, stats)| (case.objects as f64, micros(stats.median)))
            .collect();
        let lines: Vec<(usize, usize, Line)> = cases
            .windows(2)
            .zip(points.windows(2))
            .filter_map(|(pair, xy)| match (pair, xy) {
                ([a, b], [p, q]) => Line::through(*p, *q).map(|l| (a.objects, b.objects, l)),
                _ => None,
            })
            .collect();
        let Some((_, _, first)) = lines.first() else {
            bail!("{}: needs at least two sizes", self.fixture);
        };
        let plain_us = micros(plain_stats.median);
        println!(
            "  fixed cost {:.1} µs (intercept at 0 {}s); rules off {:.1} µs, so the rule's fixed cost is {:+.1} µs",
            first.intercept,
            self.unit,
            plain_us,
            first.intercept - plain_us
        );
        for (a, b, line) in &lines {
            println!(
                "  marginal {} → {}: {:.3} µs per {} ({:.1} ns)",
                thousands(*a),
                thousands(*b),
                line.slope,
                self.unit,
                line.slope * 1e3
            );
        }
        let mut over = 0;
        for pair in lines.windows(2) {
            if let [(a, b, earlier), (c, d, later)] = pair {
                let (ratio, linear) = linearity(earlier.slope, later.slope, LINEARITY_BUDGET);
                if !linear {
                    over += 1;
                }
                println!(
                    "  linearity: marginal {}→{} / {}→{} = {ratio:.2} (budget {:.2}..{LINEARITY_BUDGET:.2}) {}",
                    thousands(*c),
                    thousands(*d),
                    thousands(*a),
                    thousands(*b),
                    1.0 / LINEARITY_BUDGET,
                    if linear { "PASS" } else { "FAIL" }
                );
            }
        }
        Ok(over)
    }

    /// Records the host's answers for `objects` objects, checks the
    /// verdict, and returns an instance that replays them.
    fn prepare(
        &self,
        bench: &Bench,
        grants: &Grants,
        payload: &[u8],
        settings: &Value,
        objects: usize,
    ) -> Result<Case> {
        let policy = &bench.policy;
        let what = format!("{} against {} {}s", self.fixture, objects, self.unit);
        let cluster = FakeCluster::from_objects((self.cluster)(objects));
        let host = KubernetesHost::new(grants.clone(), Answers::Cluster(cluster)).recording();
        let recorder = policy.prepare(policy.policy.instantiate_with(host)?, settings)?;
        let answer = recorder.call("validate", payload)?;
        let parsed = expect_accept(&answer, &what)?;
        let warnings: Vec<&str> = parsed
            .get("warnings")
            .and_then(Value::as_array)
            .map(|w| w.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        match self.expect {
            Expect::NoPodMatches => {
                let matched = format!("matched {objects})");
                ensure!(
                    warnings.len() == 1 && warnings.iter().all(|w| w.contains(&matched)),
                    "{what}: expected one warning with `{matched}`, got {warnings:?}"
                );
            }
            Expect::Quiet => {
                ensure!(
                    warnings.is_empty(),
                    "{what}: expected no warning, got {warnings:?}"
                )
            }
        }
        let session = recorder.kubernetes().recorded();
        ensure!(
            session.len() == self.calls,
            "{what}: expected {} host call(s), the policy made {}",
            self.calls,
            session.len()
        );
        let yaml = session.to_yaml()?;
        let answered = answered_bytes(&yaml)?;
        let replay = KubernetesHost::new(grants.clone(), Answers::Replay(session));
        let instance = policy.prepare(policy.policy.instantiate_with(replay)?, settings)?;
        instance.kubernetes().reset();
        let replayed = instance.call("validate", payload)?;
        ensure!(
            replayed == answer,
            "{what}: the replayed answers give another answer than the cluster's"
        );
        Ok(Case {
            objects,
            instance,
            session: yaml,
            answered,
        })
    }
}

/// The `validate` answer as JSON; an error unless it accepts.
fn expect_accept(answer: &[u8], what: &str) -> Result<Value> {
    let parsed: Value = serde_json::from_slice(answer)
        .with_context(|| format!("{what}: `validate` answered something else than JSON"))?;
    ensure!(
        Verdict::of(&parsed) == Verdict::Accept,
        "{what}: expected accept, got {parsed}"
    );
    Ok(parsed)
}

/// The total length of the answers in a recorded session (kwctl's YAML).
fn answered_bytes(session: &str) -> Result<usize> {
    let exchanges: serde_yaml_ng::Value = serde_yaml_ng::from_str(session)?;
    let exchanges = exchanges
        .as_sequence()
        .context("a session is a list of exchanges")?;
    Ok(exchanges
        .iter()
        .filter_map(|e| e.get("response")?.get("payload")?.as_str())
        .map(str::len)
        .sum())
}

/// The Kubernetes host of the peak-memory probe: the policy's grants and
/// the session recorded at `path`.
pub fn probe_host(path: &Path) -> Result<KubernetesHost> {
    Ok(KubernetesHost::new(
        grants()?,
        Answers::Replay(Replay::load(path)?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_through_two_points() {
        let line = Line::through((10.0, 30.0), (1_000.0, 1_020.0)).expect("a line");
        assert!((line.slope - 1.0).abs() < 1e-12);
        assert!((line.intercept - 20.0).abs() < 1e-9);
        assert_eq!(Line::through((5.0, 1.0), (5.0, 2.0)), None);
    }

    #[test]
    fn linearity_is_within_the_budget_either_way() {
        assert_eq!(linearity(1.0, 1.4, 1.5), (1.4, true));
        assert!(linearity(1.0, 0.7, 1.5).1);
        assert!(!linearity(1.0, 1.6, 1.5).1);
        assert!(!linearity(1.0, 0.6, 1.5).1);
        assert!(!linearity(0.0, 1.0, 1.5).1);
        assert!(!linearity(-1.0, -1.0, 1.5).1);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(10), "10");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn generated_pods_are_distinct_and_labelled() {
        let list = pods(1_000);
        let names: std::collections::BTreeSet<_> = list
            .iter()
            .filter_map(|p| p.pointer("/metadata/name")?.as_str())
            .collect();
        assert_eq!(names.len(), 1_000);
        assert!(list.iter().all(|p| {
            p.pointer("/metadata/labels/app") == Some(&json!("rng"))
                && p.pointer("/status/phase") == Some(&json!("Running"))
        }));
    }

    #[test]
    fn generated_controllers_span_the_five_kinds() {
        let list = controllers(10);
        let kinds: Vec<&str> = list
            .iter()
            .filter_map(|c| c.get("kind")?.as_str())
            .collect();
        assert_eq!(
            kinds,
            [
                "Deployment",
                "ReplicaSet",
                "StatefulSet",
                "DaemonSet",
                "ReplicationController"
            ]
            .repeat(2)
        );
        let owner = list[1].pointer("/metadata/ownerReferences/0/uid");
        assert_eq!(owner, list[0].pointer("/metadata/uid"));
        let uids: std::collections::BTreeSet<_> = controllers(1_000)
            .iter()
            .filter_map(|c| c.pointer("/metadata/uid")?.as_str().map(str::to_owned))
            .collect();
        assert_eq!(uids.len(), 1_000);
    }
}
