//! Native benchmarks: selector-guard's `validate` against the floor, the
//! least any policy must do with the same payload: parse it into a
//! `serde_json::Value` and serialize an accepting `ValidationResponse`.
//!
//! `cargo bench --bench validate` runs, for the seven requests and
//! the generated scaling requests (`selector_guard_host::workload`, the same
//! bytes `cargo xtask bench --suite` sends through wasm):
//! 1. criterion groups `paths/<request>` and `scaling/<family>`, each timing
//!    `selector-guard` and `floor` (criterion's own statistics and report);
//! 2. a summary measured in the same run: per request, 101 rounds of one
//!    batch of each function (about 1 ms a batch), alternating which goes
//!    first; the median time per call of each, their ratio against the
//!    budget, and µs per KiB for the scaling requests.
//!
//! Before any timing, every request must get its expected verdict (reject,
//! accept, mutate), so a changed path is reported rather than timed. Under
//! `cargo test --benches` only that check runs, and each function once.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use criterion::{BenchmarkId, Criterion, Throughput};
use kubewarden_policy_sdk::response::ValidationResponse;
use selector_guard_host::workload::{self, BenchRequest, Verdict};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The floor: parse the payload, answer "accepted".
fn floor(payload: &[u8]) -> Vec<u8> {
    let parsed: Value = serde_json::from_slice(payload).expect("the payload is JSON");
    black_box(&parsed);
    drop(parsed);
    serde_json::to_vec(&ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    })
    .expect("serializes")
}

fn policy(payload: &[u8]) -> Vec<u8> {
    selector_guard::validate(payload).expect("validate answers")
}

struct Case {
    request: BenchRequest,
    payload: Vec<u8>,
}

impl Case {
    fn new(request: BenchRequest) -> Case {
        let payload = request.payload(&json!({}));
        let answer: Value = serde_json::from_slice(&policy(&payload)).expect("answer is JSON");
        let verdict = Verdict::of(&answer);
        assert_eq!(
            verdict,
            request.verdict,
            "{}: expected {}, got {answer}",
            request.name,
            request.verdict.name()
        );
        assert_eq!(
            Verdict::of(&serde_json::from_slice(&floor(&payload)).expect("JSON")),
            Verdict::Accept
        );
        Case { request, payload }
    }

    fn kib(&self) -> f64 {
        self.payload.len() as f64 / 1024.0
    }
}

fn main() {
    let paths: Vec<Case> = workload::fixtures()
        .expect("the benchmark fixtures load")
        .into_iter()
        .map(Case::new)
        .collect();
    let families: Vec<(&str, Vec<Case>)> = workload::scaling_families()
        .into_iter()
        .map(|(family, requests)| (family, requests.into_iter().map(Case::new).collect()))
        .collect();

    // `cargo bench` passes --bench; `cargo test --benches` does not.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20)
        .configure_from_args();

    for case in &paths {
        let mut group = criterion.benchmark_group(format!("paths/{}", case.request.name));
        group.throughput(Throughput::Bytes(case.payload.len() as u64));
        group.bench_function("selector-guard", |b| {
            b.iter(|| policy(black_box(&case.payload)))
        });
        group.bench_function("floor", |b| b.iter(|| floor(black_box(&case.payload))));
        group.finish();
    }
    for (family, cases) in &families {
        let mut group = criterion.benchmark_group(format!("scaling/{family}"));
        for case in cases {
            group.throughput(Throughput::Bytes(case.payload.len() as u64));
            let id = &case.request.name;
            group.bench_with_input(
                BenchmarkId::new("selector-guard", id),
                &case.payload,
                |b, payload| b.iter(|| policy(black_box(payload))),
            );
            group.bench_with_input(
                BenchmarkId::new("floor", id),
                &case.payload,
                |b, payload| b.iter(|| floor(black_box(payload))),
            );
        }
        group.finish();
    }
    criterion.final_summary();

    if benchmarking {
        summary(&paths, &families);
    }
}

/// Median time per call of `policy` and `floor` on `payload`, measured in
/// alternating batches.
fn alternate(payload: &[u8]) -> (Duration, Duration) {
    const ROUNDS: usize = 101;
    let batch_time = |f: fn(&[u8]) -> Vec<u8>, n: u32| {
        let start = Instant::now();
        for _ in 0..n {
            black_box(f(black_box(payload)));
        }
        start.elapsed()
    };
    // Warm up, and size a batch to about a millisecond.
    let warm = Instant::now();
    let mut calls = 0u32;
    while warm.elapsed() < Duration::from_millis(100) {
        black_box(policy(black_box(payload)));
        black_box(floor(black_box(payload)));
        calls += 1;
    }
    let per_pair = warm.elapsed() / calls.max(1);
    let n =
        (Duration::from_millis(2).as_nanos() / per_pair.as_nanos().max(1)).clamp(1, 100_000) as u32;

    let (mut policy_times, mut floor_times) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        if round % 2 == 0 {
            policy_times.push(batch_time(policy, n) / n);
            floor_times.push(batch_time(floor, n) / n);
        } else {
            floor_times.push(batch_time(floor, n) / n);
            policy_times.push(batch_time(policy, n) / n);
        }
    }
    policy_times.sort_unstable();
    floor_times.sort_unstable();
    (policy_times[ROUNDS / 2], floor_times[ROUNDS / 2])
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn summary(paths: &[Case], families: &[(&str, Vec<Case>)]) {
    println!();
    println!("selector-guard vs floor, native: median µs per call over 101 alternating batches");
    println!(
        "{:<28} {:>7} {:>10} {:>10} {:>9} {:>6} {:>7}",
        "request", "verdict", "KiB", "policy µs", "floor µs", "ratio", "budget"
    );
    for case in paths {
        let (p, f) = alternate(&case.payload);
        let ratio = p.as_secs_f64() / f.as_secs_f64();
        let budget = case.request.verdict.budget();
        println!(
            "{:<28} {:>7} {:>10.1} {:>10.2} {:>9.2} {:>6.2} {:>4.2} {}",
            case.request.name,
            case.request.verdict.name(),
            case.kib(),
            micros(p),
            micros(f),
            ratio,
            budget,
            if ratio <= budget { "ok" } else { "OVER" }
        );
    }
    println!();
    println!(
        "{:<28} {:>10} {:>10} {:>9} {:>6} {:>13}",
        "scaling (accepted)", "KiB", "policy µs", "µs/KiB", "ratio", "floor µs/KiB"
    );
    for (family, cases) in families {
        let mut per_kib = Vec::new();
        for case in cases {
            let (p, f) = alternate(&case.payload);
            per_kib.push(micros(p) / case.kib());
            println!(
                "{:<28} {:>10.1} {:>10.1} {:>9.3} {:>6.2} {:>13.3}",
                case.request.name,
                case.kib(),
                micros(p),
                micros(p) / case.kib(),
                p.as_secs_f64() / f.as_secs_f64(),
                micros(f) / case.kib()
            );
        }
        let growth = per_kib[per_kib.len() - 1] / per_kib[0];
        println!(
            "{family}: µs per KiB at the largest size is {growth:.2}x the smallest's (budget 1.50) {}",
            if growth <= 1.5 { "ok" } else { "OVER" }
        );
    }
}
