//! `make relations-bench`: `selector-guard check` over one namespace of
//! generated documents with every relation rule on (`serviceSelectorUnique`
//! included), at 1,000 and 10,000 documents.
//!
//! The mix: about 30% workloads (Deployments, StatefulSets, DaemonSets),
//! 30% Services, 10% each PodDisruptionBudgets, NetworkPolicies and
//! HorizontalPodAutoscalers, 10% ConfigMaps; about 5% of the Services,
//! budgets, policies and autoscalers point at nothing. Reports documents per
//! second (best of 3, natively, in this process) and the time per document
//! at 10,000 over that at 1,000: matching is indexed when the ratio stays
//! near 1.
//!
//! Usage: `relations [SMALL] [LARGE]` (defaults 1000 and 10000), or
//! `relations print N` for the generated documents.

use anyhow::Result;
use selector_guard_cli::check::{self, Engine, Loaded};
use std::fmt::Write as _;
use std::time::Instant;

/// Document `i` of `n`: workload `k` is `app-k`; every other kind points at
/// a workload by that label, or (one in twenty) at one that does not exist.
fn document(i: usize) -> String {
    let k = i / 10;
    let target = if i % 20 == 7 {
        format!("missing-{k}")
    } else {
        format!("app-{k}")
    };
    match i % 10 {
        0..=2 => {
            let kind = match i % 10 {
                0 => "Deployment",
                1 => "StatefulSet",
                _ => "DaemonSet",
            };
            let replicas = if kind == "DaemonSet" {
                ""
            } else {
                "  replicas: 2\n"
            };
            let service_name = if kind == "StatefulSet" {
                "  serviceName: app\n"
            } else {
                ""
            };
            // Three workloads per ten documents: each its own label.
            let name = format!("app-{k}-{}", i % 10);
            format!(
                "apiVersion: apps/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec:\n{replicas}{service_name}  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n        tier: web\n    spec:\n      containers:\n      - name: c\n        image: nginx\n"
            )
        }
        3..=5 => {
            // One Service in twenty points at nothing.
            let selected = if i % 20 == 3 {
                format!("missing-{k}")
            } else {
                format!("app-{k}-{}", i % 10 - 3)
            };
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector:\n    app: {selected}\n    tier: web\n  ports:\n  - port: 80\n"
            )
        }
        6 => format!(
            "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: pdb-{i}\nspec:\n  maxUnavailable: 1\n  selector:\n    matchLabels:\n      app: {}\n",
            if i % 20 == 6 {
                format!("none-{k}")
            } else {
                format!("app-{k}-0")
            }
        ),
        7 => format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np-{i}\nspec:\n  podSelector:\n    matchLabels:\n      app: {}\n  ingress:\n  - from:\n    - podSelector:\n        matchLabels:\n          app: app-{k}-1\n",
            if i % 20 == 7 {
                target
            } else {
                format!("app-{k}-1")
            }
        ),
        8 => format!(
            "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: hpa-{i}\nspec:\n  scaleTargetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: {}\n  maxReplicas: 5\n",
            if i % 20 == 8 {
                format!("none-{k}")
            } else {
                format!("app-{k}-0")
            }
        ),
        _ => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  key: value\n"
        ),
    }
}

/// Seconds for the best of three runs of `check` over `n` documents.
fn measure(n: usize) -> Result<(f64, usize, usize)> {
    let mut text = String::new();
    for i in 0..n {
        writeln!(text, "---\n{}", document(i))?;
    }
    let sources = vec![("generated.yaml".to_string(), Ok(text))];
    let mut settings = serde_json::json!({"serviceSelectorUnique": "reject"});
    check::ci_defaults(&mut settings);
    let loaded = Loaded {
        engine: Engine::Native,
        settings,
        namespace: "default".to_string(),
        cluster_state: Vec::new(),
    };
    let mut best = f64::MAX;
    let mut findings = 0;
    let mut objects = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let reports = check::evaluate(&loaded, &sources);
        best = best.min(started.elapsed().as_secs_f64());
        let evaluated: Vec<_> = reports
            .iter()
            .filter_map(|r| r.evaluated.as_ref().ok())
            .flatten()
            .collect();
        objects = evaluated.len();
        findings = evaluated
            .iter()
            .filter_map(|e| {
                let judged = e.answer.as_ref().ok()?;
                Some(check::findings(&e.object, judged).len())
            })
            .sum();
    }
    Ok((best, objects, findings))
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1).peekable();
    // `relations print N`: the generated folder, as one stream, on stdout.
    if args.peek().map(String::as_str) == Some("print") {
        let n: usize = args.nth(1).map_or(Ok(1000), |n| n.parse())?;
        for i in 0..n {
            println!("---\n{}", document(i));
        }
        return Ok(());
    }
    let small: usize = args.next().map_or(Ok(1000), |n| n.parse())?;
    let large: usize = args.next().map_or(Ok(10_000), |n| n.parse())?;
    let mut per_document = Vec::new();
    for n in [small, large] {
        let (seconds, objects, findings) = measure(n)?;
        println!(
            "{objects} documents, one namespace, every relation rule on: {:.0} ms, {:.0} documents/s, {findings} findings (best of 3)",
            seconds * 1e3,
            objects as f64 / seconds
        );
        per_document.push(seconds / objects.max(1) as f64);
    }
    if let [a, b] = per_document[..] {
        println!("time per document at {large} over {small}: {:.2}", b / a);
    }
    Ok(())
}
