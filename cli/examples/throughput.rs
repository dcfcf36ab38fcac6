//! `make cli-bench`: how fast `selector-guard check` evaluates documents.
//!
//! Writes 1,000 small manifests (Services, Deployments, DaemonSets; some
//! with YAML 1.1 traps) into a temporary folder, then reports:
//! - the module's compile time without the cache, and loading it from
//!   wasmtime's cache (a second run of `check`);
//! - documents per second for reading, building the requests and running
//!   the policy, through the compiled module (on every core) and natively
//!   (the policy linked into the CLI), best of 5 each.
//!
//! Usage: `throughput [POLICY.wasm] [DOCUMENTS]`.

use anyhow::{Context, Result};
use selector_guard_cli::check::{self, Engine, Loaded};
use selector_guard_host::host::Policy;
use std::time::Instant;

fn manifest(i: usize) -> String {
    match i % 4 {
        0 => format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: team-{}\nspec:\n  selector:\n    app: app-{i}\n    active: yes\n  ports:\n  - port: 80\n",
            i % 7
        ),
        1 => format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web-{i}}}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: web-{i}}}\n  template:\n    metadata:\n      labels: {{app: web-{i}, tier: front}}\n    spec:\n      containers: [{{name: web, image: nginx}}]\n"
        ),
        2 => format!(
            "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: agent-{i}}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: agent-{i}}}\n  template:\n    metadata:\n      labels: {{app: agent-{i}}}\n    spec:\n      containers: [{{name: a, image: agent}}]\n"
        ),
        _ => format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{key: value}}\n"
        ),
    }
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let policy_path = args.next().unwrap_or_else(|| "policy.wasm".into());
    let count: usize = args.next().map_or(Ok(1000), |n| n.parse())?;
    let dir =
        std::env::temp_dir().join(format!("selector-guard-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for i in 0..count {
        std::fs::write(dir.join(format!("m{i:05}.yaml")), manifest(i))?;
    }
    let bytes =
        std::fs::read(&policy_path).with_context(|| format!("cannot read {policy_path}"))?;

    let started = Instant::now();
    let policy = Policy::from_bytes(&bytes)?;
    let compile = started.elapsed();
    let cache = dir.join("cache");
    Policy::from_bytes_cached(&bytes, Some(&cache))?; // fills the cache
    let started = Instant::now();
    Policy::from_bytes_cached(&bytes, Some(&cache))?;
    let cached = started.elapsed();
    println!(
        "compile: {:.0} ms without the cache, {:.0} ms from wasmtime's cache",
        compile.as_secs_f64() * 1e3,
        cached.as_secs_f64() * 1e3
    );

    let sources = check::read_sources(&selector_guard_cli::inputs::sources(std::slice::from_ref(
        &dir,
    )));
    let engines = [
        ("wasm, module compiled", Engine::Wasm(Box::new(policy))),
        ("native", Engine::Native),
    ];
    for (name, engine) in engines {
        let loaded = Loaded {
            engine,
            settings: serde_json::json!({}),
            namespace: "default".to_string(),
            cluster_state: Vec::new(),
        };
        let mut best = f64::MAX;
        let mut objects = 0;
        for _ in 0..5 {
            let started = Instant::now();
            let reports = check::evaluate(&loaded, &sources);
            best = best.min(started.elapsed().as_secs_f64());
            objects = reports
                .iter()
                .filter_map(|r| r.evaluated.as_ref().ok())
                .map(Vec::len)
                .sum();
        }
        println!(
            "check ({name}): {objects} documents in {:.0} ms on {} threads: {:.0} documents/s (best of 5)",
            best * 1e3,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            objects as f64 / best
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
